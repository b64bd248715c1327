//! Credentials that rotate under a steady load: the database's role (as
//! Vault's dynamic credentials do it: a new role, the old one disabled and
//! its connections ended) and the Redis password. The files are rewritten
//! and the old credentials stop working; the refusal itself makes Tessera
//! read the files again (the periodic re-read is set to an hour here), so
//! the 503s last only while it reconnects.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;

use crate::support::{free_port, machine_client, random_name, required_env, start_with, Backend, RedisServer, TestDb, TestServer};

/// Token requests in a loop until stopped: when each answered, and how.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(Instant, u16)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    fn start(s: &Arc<TestServer>, id: &str, secret: &str) -> Load {
        let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(vec![])));
        let (s, id, secret, stop2, seen2) = (s.clone(), id.to_string(), secret.to_string(), stop.clone(), seen.clone());
        let task = tokio::spawn(async move {
            while !stop2.load(Ordering::Acquire) {
                let status = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials")]).await.status().as_u16();
                seen2.lock().unwrap().push((Instant::now(), status));
            }
        });
        Load { stop, seen, task }
    }

    fn ok_count(&self) -> usize {
        self.seen.lock().unwrap().iter().filter(|(_, s)| *s == 200).count()
    }

    /// Until `n` more requests than now have succeeded (the answers are the event polled for).
    async fn until_ok(&self, n: usize) {
        let (want, deadline) = (self.ok_count() + n, Instant::now() + Duration::from_secs(20));
        while self.ok_count() < want {
            assert!(Instant::now() < deadline, "the load stopped succeeding");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Succeeds again after the rotation at `since`: only 200 or 503 were
    /// answered, the 503s for under 3 s.
    async fn recovers_from(self, since: Instant) {
        self.until_ok(50).await;
        let (odd, outage) = self.finish(since).await;
        assert!(odd.is_empty(), "only 200 or 503: {odd:?}");
        assert!(outage < Duration::from_secs(3), "503 for {outage:?} after the rotation");
    }

    /// Stop; the statuses other than 200 and 503, and how long the 503s lasted from `since`.
    async fn finish(self, since: Instant) -> (Vec<u16>, Duration) {
        self.stop.store(true, Ordering::Release);
        self.task.await.unwrap();
        let seen = self.seen.lock().unwrap();
        let odd = seen.iter().map(|(_, s)| *s).filter(|s| *s != 200 && *s != 503).collect();
        let last_503 = seen.iter().filter(|(_, s)| *s == 503).map(|(t, _)| *t).max();
        assert!(seen.iter().filter(|(t, _)| *t < since).all(|(_, s)| *s == 200), "failures before the rotation");
        (odd, last_503.map_or(Duration::ZERO, |t| t.saturating_duration_since(since)))
    }
}

/// A server on `tdb` with `files` to watch, which it reads again only when
/// a store refuses it (the periodic re-read is an hour away), under load.
async fn under_load(tdb: TestDb, files: impl FnOnce(&mut tessera::config::Config)) -> (Arc<TestServer>, Load) {
    let s = Arc::new(
        start_with(tdb, |c| {
            files(c);
            c.secret_refresh = Duration::from_secs(3600);
            c.rate.free = 1_000_000;
        })
        .await,
    );
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let load = Load::start(&s, &id, &secret);
    load.until_ok(20).await;
    (s, load)
}

/// Replace a file in one step, as a secret manager does.
fn rewrite(path: &std::path::Path, value: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, value).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_role_is_picked_up_when_the_old_one_is_refused() {
    let admin_url = required_env("TESSERA_TEST_DATABASE_URL");
    let admin = tessera::db::connect(&admin_url).await.unwrap();
    let (old, new, name) = (random_name("old"), random_name("new"), random_name("rot"));
    let (p1, p2) = (tessera::crypto::random_token(12), tessera::crypto::random_token(12));
    for sql in [
        format!("CREATE ROLE {old} LOGIN PASSWORD '{p1}'"),
        format!("GRANT {old} TO CURRENT_USER"),
        format!("CREATE DATABASE {name} OWNER {old}"),
        // Vault makes a new role per lease; it acts with the owner's rights
        format!("CREATE ROLE {new} LOGIN PASSWORD '{p2}' IN ROLE {old}"),
    ] {
        admin.execute_unprepared(&sql).await.unwrap();
    }
    let hostport = admin_url.split('@').nth(1).unwrap().split('/').next().unwrap().to_string();
    let url = |user: &str, pass: &str| format!("postgres://{user}:{pass}@{hostport}/{name}");
    let mut tdb = TestDb::new(Backend::Embedded).await; // for its directory and KEK
    let file = tdb.dir.path().join("database_url");
    rewrite(&file, &url(&old, &p1));
    tdb.url = url(&old, &p1);
    let (_server, load) = under_load(tdb, |c| c.secret_files.database_url = Some(file.clone())).await;

    let rotated = Instant::now();
    rewrite(&file, &url(&new, &p2));
    admin.execute_unprepared(&format!("ALTER ROLE {old} NOLOGIN")).await.unwrap();
    admin.execute_unprepared(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{old}' AND datname = '{name}'")).await.unwrap();
    load.recovers_from(rotated).await;
    let users = admin.query_all(sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Postgres, format!("SELECT usename::text AS u FROM pg_stat_activity WHERE datname = '{name}'"))).await.unwrap();
    let users: Vec<String> = users.iter().map(|r| r.try_get("", "u").unwrap()).collect();
    assert!(users.contains(&new) && !users.contains(&old), "connected as {users:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_redis_password_is_picked_up_when_the_old_one_is_refused() {
    let port = free_port();
    let (p1, p2) = (tessera::crypto::random_token(12), tessera::crypto::random_token(12));
    let _redis = RedisServer::start(port, &["--requirepass", &p1]);
    let url = |pass: &str| format!("redis://:{pass}@127.0.0.1:{port}/");
    let mut tdb = TestDb::new(Backend::PostgresSql).await;
    let file = tdb.dir.path().join("redis_url");
    rewrite(&file, &url(&p1));
    tdb.redis_url = Some(url(&p1));
    tdb.prefix = format!("{}:", random_name("rot"));
    let (_server, load) = under_load(tdb, |c| c.secret_files.redis = Some((file.clone(), false))).await;

    let rotated = Instant::now();
    rewrite(&file, &url(&p2));
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli").args(["-p", &port.to_string(), "--no-auth-warning", "-a", &p1]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["config", "set", "requirepass", &p2]), "OK");
    // the connections made with the old password end (the server restarts, a proxy drops them …)
    let out = std::process::Command::new("redis-cli").args(["-p", &port.to_string(), "--no-auth-warning", "-a", &p2, "client", "kill", "type", "normal"]).output().unwrap();
    assert!(out.status.success());
    load.recovers_from(rotated).await;
}
