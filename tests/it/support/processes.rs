//! The `tessera` binary as a separate process: `serve` and its readiness.
use super::server::TestDb;

/// A `tessera` process, killed when dropped.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Run `tessera serve` on `port` against `tdb`, with fast key settings and `extra` environment.
/// The deployment's KEK is delivered as a file, as a secret manager would
/// (`TESSERA_KEK_FILE`, which the server never creates): made here if missing.
pub fn serve_process(tdb: &TestDb, port: u16, issuer: &str, extra: &[(&str, &str)], stderr: std::process::Stdio) -> Proc {
    tessera::keys::Kek::load_or_create(&tdb.kek_file(), true).expect("the deployment's KEK file");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .arg("--workers")
        .arg("1")
        .envs(tdb.env())
        .env("TESSERA_BIND", format!("127.0.0.1:{port}"))
        .env("TESSERA_ISSUER", issuer)
        .env("TESSERA_KEY_REFRESH_SECS", "1")
        .env("TESSERA_JWKS_MAX_AGE", "1")
        .env("TESSERA_KEY_MARGIN_SECS", "1")
        .env("TESSERA_DEFAULT_AUDIENCE", "https://api.example.com")
        .env("TESSERA_AUDIENCES", "https://api.example.com,https://billing.example.com")
        .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start tessera");
    Proc(child)
}

pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(std::time::Instant::now() < deadline, "{base} did not become ready");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

