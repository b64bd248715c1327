//! Redis Cluster: a failover in the middle of refresh rotations. The store
//! contract, the races and two processes run on the shared cluster of
//! `scripts/test.sh` (`every_store!`, `multi_instance.rs`); this test has a
//! cluster of its own, since it moves every primary.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{app, random_name, start_with, user, Backend, RedisCluster, TestDb};

/// What the rotating client saw.
#[derive(Default)]
struct Seen {
    /// Every refresh token that was exchanged (and so is used now).
    used: Vec<String>,
    /// Statuses other than 200 and 503.
    unexpected: Vec<u16>,
    /// The longest stretch between the first 503 of a run and the next 200.
    longest_outage: Duration,
}

/// Every primary is failed over (`CLUSTER FAILOVER` on its replica) while a
/// client keeps rotating its refresh token. Requests answer 200, or 503 for
/// a short while; afterwards no token exchanged before, during or after the
/// failovers is accepted again, and presenting one still revokes the family.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failovers_mid_rotation_lose_no_rotation() {
    let cluster = RedisCluster::start();
    let mut tdb = TestDb::new(Backend::PostgresSql).await; // its database; the cluster below
    tdb.redis_cluster = cluster.urls();
    tdb.prefix = format!("{}:", random_name("failover"));
    let s = Arc::new(start_with(tdb, |c| c.rate.free = 1_000_000).await);
    assert_eq!(s.http.get(s.url("/readyz")).send().await.unwrap().json::<serde_json::Value>().await.unwrap()["store_kind"], "redis-cluster");
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let first = s.tokens_for(&client, "alice", "read:data").await["refresh_token"].as_str().unwrap().to_string();

    let (stop, rotated, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Seen::default())));
    let rotating = {
        let (s, client, stop, rotated, seen) = (s.clone(), client.clone(), stop.clone(), rotated.clone(), seen.clone());
        tokio::spawn(async move {
            let mut current = first;
            let mut down_since: Option<Instant> = None;
            while !stop.load(Ordering::Acquire) {
                let r = s.refresh(&client, &current).await;
                let status = r.status().as_u16();
                let body = r.json::<serde_json::Value>().await.unwrap();
                let mut seen = seen.lock().unwrap();
                match status {
                    200 => {
                        let next = body["refresh_token"].as_str().unwrap().to_string();
                        seen.used.push(std::mem::replace(&mut current, next));
                        if let Some(t) = down_since.take() {
                            seen.longest_outage = seen.longest_outage.max(t.elapsed());
                        }
                        rotated.fetch_add(1, Ordering::AcqRel);
                    }
                    503 => {
                        down_since.get_or_insert_with(Instant::now);
                    }
                    other => seen.unexpected.push(other),
                }
            }
            current
        })
    };
    // `n` more rotations than `from` (polling the count: the rotations are the event).
    let after = |from: usize, n: usize| {
        let rotated = rotated.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while rotated.load(Ordering::Acquire) < from + n {
                assert!(Instant::now() < deadline, "rotations stopped: {} after {from}", rotated.load(Ordering::Acquire));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };

    let replicas = cluster.replicas();
    assert_eq!(replicas.len(), 3);
    let cluster = Arc::new(cluster);
    for replica in replicas {
        after(rotated.load(Ordering::Acquire), 3).await;
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || {
            assert_eq!(c.cli(replica, &["cluster", "failover"]).trim(), "OK");
            c.wait_until(|c| c.cli(replica, &["role"]).starts_with("master"), "the replica to take over");
        })
        .await
        .unwrap();
    }
    after(rotated.load(Ordering::Acquire), 10).await;
    stop.store(true, Ordering::Release);
    let last = rotating.await.unwrap();

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.unexpected.is_empty(), "only 200 or 503 while failing over; also {:?}", seen.unexpected.iter().collect::<std::collections::BTreeSet<_>>());
    assert!(seen.longest_outage < Duration::from_secs(5), "503 for {:?}", seen.longest_outage);
    assert!(seen.used.len() >= 19);
    // every exchanged token stays used: the first replay revokes the family, and none is accepted
    for old in &seen.used {
        let r = s.refresh(&client, old).await;
        assert_eq!(r.status(), 400, "a rotated refresh token was accepted again");
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
    }
    assert_eq!(s.refresh(&client, &last).await.status(), 400, "the replay revoked the family");
}
