//! TLS to the stores: `rediss://` with `TESSERA_REDIS_CA_FILE`, and
//! PostgreSQL with `sslmode=verify-full&sslrootcert=…`, against servers
//! whose certificates come from a CA made here with openssl. A certificate
//! from another CA is refused at start, with a message naming the store.
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{free_port, machine_client, random_name, start_with, Backend, Postgres, RedisServer, TestDb};

/// A throwaway CA with a certificate for 127.0.0.1, and a second CA that
/// signed nothing here.
struct Pki {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for ca in ["ca", "other-ca"] {
            openssl(d, &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", &format!("{ca}.key"), "-out", &format!("{ca}.crt"), "-days", "2", "-subj", &format!("/CN=Tessera test {ca}")]);
        }
        openssl(d, &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
        std::fs::write(d.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
        openssl(d, &["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"]);
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A Redis that speaks TLS only, with the CA's certificate.
fn tls_redis(pki: &Pki) -> RedisServer {
    let port = free_port();
    let p = |n: &str| pki.path(n).display().to_string();
    let tls_port = port.to_string();
    RedisServer::start(
        port,
        &["--port", "0", "--tls-port", &tls_port, "--tls-cert-file", &p("server.crt"), "--tls-key-file", &p("server.key"), "--tls-ca-cert-file", &p("ca.crt"), "--tls-auth-clients", "no"],
    )
}

/// What `Tessera::open` says about `cfg`, which must fail.
async fn refusal(cfg: tessera::config::Config) -> String {
    match tessera::app::Tessera::open(cfg).await {
        Ok(_) => panic!("started against a store whose certificate it cannot verify"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls_checks_the_servers_certificate() {
    let pki = Pki::new();
    let redis = tls_redis(&pki);
    let url = format!("rediss://127.0.0.1:{}/", redis.port);
    let db_for = |tdb: &mut TestDb| {
        tdb.redis_url = Some(url.clone());
        tdb.prefix = format!("{}:", random_name("tls"));
    };

    let mut tdb = TestDb::new(Backend::PostgresSql).await;
    db_for(&mut tdb);
    let ca = pki.path("ca.crt");
    let s = start_with(tdb, |c| c.redis_ca_file = Some(ca)).await;
    let ready: serde_json::Value = s.http.get(s.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["store_kind"], "redis");
    assert_eq!(ready["token_store"], true);
    let (id, secret) = machine_client(&s.db, "read:data tessera:admin").await;
    let token = s.client_credentials(&id, &secret, None).await;
    assert_eq!(s.post_basic("/revoke", &id, &secret, &[("token", &token)]).await.status(), 200);
    assert_eq!(s.introspect(&id, &secret, &token).await["active"], false, "the denylist lives in the TLS Redis");

    // a certificate from another CA, or none given (the system's roots): refused, naming the store
    for ca in [Some(pki.path("other-ca.crt")), None] {
        let mut tdb = TestDb::new(Backend::PostgresSql).await;
        db_for(&mut tdb);
        let mut cfg = tdb.config(free_port());
        cfg.redis_ca_file = ca.clone();
        let e = refusal(cfg).await;
        assert!(e.contains("token store") && e.contains("redis"), "{e}");
        assert!(e.to_lowercase().contains("certificate"), "{e}");
    }
    // a CA file that is not there is named too
    let mut cfg = TestDb::new(Backend::PostgresSql).await.config(free_port());
    cfg.redis = Some(tessera::store::redis::Target::Node(url.clone()));
    cfg.redis_ca_file = Some(pki.path("missing.crt"));
    assert!(refusal(cfg).await.contains("TESSERA_REDIS_CA_FILE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_checks_the_servers_certificate() {
    let pki = Pki::new();
    let pg = Postgres::start_with("-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key", |data| {
        for f in ["server.crt", "server.key"] {
            std::fs::copy(pki.path(f), data.join(f)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        crate::support::give_to_postgres(data);
    });
    let url = |ca: &str| format!("{}?sslmode=verify-full&sslrootcert={}", pg.url(), pki.path(ca).display());

    let mut tdb = TestDb::new(Backend::Embedded).await; // for its directory and KEK
    tdb.url = url("ca.crt");
    let s = start_with(tdb, |_| {}).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    s.client_credentials(&id, &secret, None).await;
    let ssl: String = sea_orm::ConnectionTrait::query_one(&s.db, sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Postgres, "SELECT ssl::text AS s FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "s")
        .unwrap();
    assert_eq!(ssl, "true", "the connection is encrypted");

    let mut tdb = TestDb::new(Backend::Embedded).await;
    tdb.url = url("other-ca.crt");
    let e = refusal(tdb.config(free_port())).await;
    assert!(e.contains("database"), "{e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}
