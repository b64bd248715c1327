//! Redis Sentinel: one primary, one replica and three sentinels on
//! loopback. The primary is killed under load; the sentinels promote the
//! replica and Tessera follows it without a restart.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tessera::store::redis::Target;

use crate::support::{free_port, machine_client, random_name, start_with, Backend, RedisServer, TestDb};

fn cli(port: u16, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output().expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Poll (up to 30 s) until `done`.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "waited too long for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tessera_follows_a_promotion_when_the_primary_dies() {
    let (mp, rp) = (free_port(), free_port());
    let mut primary = RedisServer::start(mp, &[]);
    let _replica = RedisServer::start(rp, &["--replicaof", "127.0.0.1", &mp.to_string()]);
    wait_for("the replica to sync", || cli(rp, &["info", "replication"]).contains("master_link_status:up"));
    let dir = tempfile::tempdir().unwrap();
    let name = "tessera-primary";
    let sentinels: Vec<(u16, RedisServer)> = (0..3)
        .map(|i| {
            let port = free_port();
            let conf = dir.path().join(format!("sentinel{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "bind 127.0.0.1\nport {port}\ndir {}\nsentinel monitor {name} 127.0.0.1 {mp} 2\nsentinel down-after-milliseconds {name} 1000\nsentinel failover-timeout {name} 3000\n",
                    dir.path().display()
                ),
            )
            .unwrap();
            (port, RedisServer::sentinel(port, &conf))
        })
        .collect();
    let first = sentinels[0].0;
    wait_for("the sentinels to find each other and the replica", || {
        cli(first, &["sentinel", "ckquorum", name]).starts_with("OK 3") && cli(first, &["sentinel", "replicas", name]).contains(&rp.to_string())
    });

    let mut tdb = TestDb::new(Backend::PostgresSql).await;
    tdb.prefix = format!("{}:", random_name("sentinel"));
    let urls: Vec<String> = sentinels.iter().map(|(p, _)| format!("redis://127.0.0.1:{p}/")).collect();
    let s = Arc::new(
        start_with(tdb, |c| {
            c.redis = Some(Target::Sentinel { urls, master: name.into() });
            c.rate.free = 1_000_000;
        })
        .await,
    );
    let (id, secret) = machine_client(&s.db, "read:data tessera:admin").await;
    let revoked = s.client_credentials(&id, &secret, None).await;
    assert_eq!(s.post_basic("/revoke", &id, &secret, &[("token", &revoked)]).await.status(), 200);

    let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::<(Instant, u16)>::new())));
    let load = {
        let (s, id, secret, stop, seen) = (s.clone(), id.clone(), secret.clone(), stop.clone(), seen.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Acquire) {
                let status = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials")]).await.status().as_u16();
                seen.lock().unwrap().push((Instant::now(), status));
            }
        })
    };
    let oks = |seen: &Arc<Mutex<Vec<(Instant, u16)>>>| seen.lock().unwrap().iter().filter(|(_, s)| *s == 200).count();
    let until = |n: usize| {
        let seen = seen.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(40);
            while oks(&seen) < n {
                assert!(Instant::now() < deadline, "the load did not come back: {} answered 200", oks(&seen));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    until(20).await;
    let killed = Instant::now();
    primary.stop();
    let before = oks(&seen);
    tokio::task::spawn_blocking(move || wait_for("the replica's promotion", || cli(rp, &["role"]).starts_with("master"))).await.unwrap();
    until(before + 30).await;
    stop.store(true, Ordering::Release);
    load.await.unwrap();

    let seen = seen.lock().unwrap();
    let odd: Vec<u16> = seen.iter().map(|(_, s)| *s).filter(|s| *s != 200 && *s != 503).collect();
    assert!(odd.is_empty(), "only 200 or 503: {odd:?}");
    let back = seen.iter().find(|(t, s)| *t > killed && *s == 200 && seen.iter().any(|(t2, s2)| *s2 == 503 && t2 < t)).map(|(t, _)| *t - killed);
    eprintln!("primary killed: 503 until {back:?} (down-after 1 s, then the sentinels' failover)");
    // the new primary holds what the old one had: the revocation survived
    assert_eq!(s.introspect(&id, &secret, &revoked).await["active"], false);
    assert_eq!(s.http.get(s.url("/readyz")).send().await.unwrap().status(), 200);
}
