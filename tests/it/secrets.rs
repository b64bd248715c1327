//! Secrets come from files (Vault Agent, Docker/Kubernetes secrets), and the
//! key-encryption key can be changed without downtime.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tessera::app::Tessera;
use tessera::keys::Kek;

use crate::both_backends;
use crate::support::{
    browser, free_port, machine_client, serve_process, start_with, verify_offline, wait_ready, Backend, TestDb,
};

both_backends!(rewrap_keeps_old_tokens_verifiable_and_new_ones_signed);

struct Redis(Child);
impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_secret_can_come_from_a_file() {
    // A Redis that wants a password, so the password in REDIS_URL matters.
    let rport = free_port();
    let redis = Redis(
        Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &rport.to_string(), "--save", "", "--requirepass", "r3dis-pass"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", rport)).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let tdb = TestDb::new(Backend::PostgresRedis).await;
    let dir = tdb.dir.path();
    let write = |name: &str, v: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("{v}\n")).unwrap();
        p.display().to_string()
    };
    let db_file = write("database_url", &tdb.url);
    let redis_file = write("redis_url", &format!("redis://:r3dis-pass@127.0.0.1:{rport}/"));
    let admin_file = write("admin_password", "Adm1n-from-file");
    Kek::load_or_create(&tdb.kek_file(), true).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let proc_ = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .env("DATABASE_URL_FILE", &db_file)
        .env("REDIS_URL_FILE", &redis_file)
        .env("TESSERA_KEK_FILE", tdb.kek_file())
        .env("TESSERA_ADMIN_USERNAME", "root")
        .env("TESSERA_ADMIN_PASSWORD_FILE", &admin_file)
        .env("TESSERA_BIND", format!("127.0.0.1:{port}"))
        .env("TESSERA_REDIS_PREFIX", &tdb.prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _p = crate::support::Proc(proc_);
    let http = browser();
    wait_ready(&http, &base).await;
    let ready: serde_json::Value = http.get(format!("{base}/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["store_kind"], "redis");
    // the bootstrap admin signs in with the password from the file
    let html = http.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
    let r = http
        .post(format!("{base}/login"))
        .form(&[("csrf", crate::support::hidden(&html, "csrf")), ("authz", String::new()), ("username", "root".into()), ("password", "Adm1n-from-file".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "admin login with the file's password");
    let db = tessera::db::connect(&tdb.url).await.unwrap();
    let admin = tessera::registry::users::find_by_username(&db, "root").await.unwrap().unwrap();
    assert_eq!(admin.role, "admin");
    let f = tessera::registry::audit::Filter { limit: 100, ..Default::default() };
    let created = tessera::registry::audit::list(&db, &f).await.unwrap().into_iter().find(|r| r.event == "user.created").unwrap();
    assert_eq!(created.user_id.as_deref(), Some(admin.user_id.as_str()));
    assert_eq!(created.actor.as_deref(), Some("bootstrap"), "the bootstrap admin is not attributed to the CLI");
    // a value and its _FILE twin together are refused at start
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["client", "list"])
        .env("DATABASE_URL", &tdb.url)
        .env("DATABASE_URL_FILE", &db_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not both"));
    drop(redis);
}

async fn rewrap_keeps_old_tokens_verifiable_and_new_ones_signed(b: Backend) {
    let s = start_with(TestDb::new(b).await, |_| {}).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;
    let old_token = s.client_credentials(&id, &secret, None).await;

    // rewrap through the CLI
    let new_kek = s.tdb.dir.path().join("kek-2");
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["keys", "rewrap", "--new-kek-file", &new_kek.display().to_string(), "--json"])
        .envs(s.tdb.env())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rewrapped"], 2);

    // the running server keeps signing from memory: no downtime
    s.client_credentials(&id, &secret, None).await;
    // the old KEK alone no longer opens the keys; the new one does, and both during the change
    let mut cfg = s.tdb.config(s.port);
    assert!(Tessera::open(cfg.clone()).await.is_err(), "old KEK alone");
    cfg.kek_file = new_kek.clone();
    cfg.create_kek = false;
    assert!(Tessera::open(cfg.clone()).await.is_ok(), "new KEK");
    let mut during = cfg.clone();
    during.kek_previous_file = Some(s.tdb.kek_file());
    assert!(Tessera::open(during).await.is_ok(), "new + previous");

    // an instance started with the new KEK serves old and new tokens alike
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let kek = new_kek.display().to_string();
    let _p = serve_process(&s.tdb, port, &s.base, &[("TESSERA_KEK_FILE", kek.as_str())], Stdio::null());
    let http = browser();
    wait_ready(&http, &base).await;
    let r = http.post(format!("{base}/introspect")).basic_auth(&rs, Some(&rs_secret)).form(&[("token", old_token.as_str())]).send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["active"], true);
    let r = http.post(format!("{base}/token")).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let new_token = r.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    for t in [&old_token, &new_token] {
        verify_offline(&s, t, "https://api.example.com").await.expect("verifies through the JWKS");
    }
}
