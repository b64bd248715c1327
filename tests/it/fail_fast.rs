//! Failing fast under load (issue 18, item 5): Redis, then PostgreSQL,
//! stopped under a running server while four clients keep calling
//! `/userinfo` (the denylist in Redis, the user in PostgreSQL). Each outage
//! must fail closed (only 200 or 503 `temporarily_unavailable`, never a
//! claim served without its checks), the circuit of that store must open,
//! the refusals must come at once rather than after connection timeouts,
//! and service must resume by itself when the store returns.
//!
//! What "at once" means is measured, not asserted as a time: once the
//! circuit is open, 400 refusals must arrive before a deadline that
//! requests waiting on timeouts could never meet (sqlx retries a refused
//! PostgreSQL connection for its 5 s acquire timeout; a Redis command
//! waited ~0.5 s), so 400 of them would take minutes. The refusal rate,
//! their p50/p99 and the recovery time are printed (`cargo test -- --nocapture
//! fail_fast`) and recorded in docs/performance.md.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{app, free_port, percentile, start_with, user, Backend, Postgres, RedisServer, TestDb, TestServer};

/// One answer: when it was sent, how long it took, its status and `error`.
#[derive(Clone)]
struct Answer {
    sent: Instant,
    took: Duration,
    status: u16,
    error: Option<String>,
}

/// `/userinfo` calls from `WORKERS` tasks until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Answer>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

const WORKERS: usize = 4;

impl Load {
    fn start(s: &Arc<TestServer>, token: &str) -> Load {
        let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let tasks = (0..WORKERS)
            .map(|_| {
                let (s, token, stop, seen) = (s.clone(), token.to_string(), stop.clone(), seen.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Acquire) {
                        let sent = Instant::now();
                        let r = s.http.get(s.url("/userinfo")).bearer_auth(&token).send().await.expect("the server answers");
                        let took = sent.elapsed();
                        let status = r.status().as_u16();
                        let error = if status == 200 { None } else { r.json::<serde_json::Value>().await.ok().and_then(|v| v["error"].as_str().map(str::to_string)) };
                        seen.lock().unwrap().push(Answer { sent, took, status, error });
                    }
                })
            })
            .collect();
        Load { stop, seen, tasks }
    }

    fn count(&self, pred: impl Fn(&Answer) -> bool) -> usize {
        self.seen.lock().unwrap().iter().filter(|a| pred(a)).count()
    }

    /// Until `n` more answers than now satisfy `pred`, or the deadline.
    async fn until(&self, n: usize, within: Duration, what: &str, pred: impl Fn(&Answer) -> bool) {
        let (want, deadline) = (self.count(&pred) + n, Instant::now() + within);
        while self.count(&pred) < want {
            assert!(Instant::now() < deadline, "{what}: {} of {want} within {within:?}", self.count(&pred));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn answers(&self) -> Vec<Answer> {
        self.seen.lock().unwrap().clone()
    }

    async fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Release);
        for t in self.tasks {
            t.await.unwrap();
        }
        let v = self.seen.lock().unwrap().clone();
        v
    }
}

async fn circuit_open(s: &TestServer, store: &str) -> bool {
    let m = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    m.contains(&format!("tessera_store_circuit_open{{store=\"{store}\"}} 1"))
}

async fn until_circuit(s: &TestServer, store: &str, open: bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(20);
    while circuit_open(s, store).await != open {
        assert!(Instant::now() < deadline, "the {store} circuit did not become open={open}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Instant::now()
}

/// Stop a store with `down`, watch the refusals, bring it back with `up`:
/// the figures of this outage, printed.
async fn outage(s: &TestServer, load: &Load, store: &str, down: impl FnOnce(), up: impl FnOnce()) {
    load.until(50, Duration::from_secs(20), "successes before the outage", |a| a.status == 200).await;
    let down_at = Instant::now();
    down();
    let opened = until_circuit(s, store, true).await;
    // the deadline no request waiting on a connection timeout could meet
    load.until(400, Duration::from_secs(20), "fast refusals while the circuit is open", |a| a.status == 503 && a.sent >= opened).await;
    let refused_until = Instant::now();
    up();
    let up_at = Instant::now();
    load.until(1, Duration::from_secs(20), "a success after the store came back", |a| a.status == 200 && a.sent >= up_at).await;
    let answers = load.answers();
    let recovered = answers.iter().filter(|a| a.status == 200 && a.sent >= up_at).map(|a| a.sent + a.took).min().unwrap();
    let refusals: Vec<&Answer> = answers.iter().filter(|a| a.sent >= opened && a.sent + a.took <= refused_until).collect();
    assert!(refusals.iter().all(|a| a.status == 503), "only 503 while the circuit is open");
    let during: Vec<&Answer> = answers.iter().filter(|a| a.sent >= down_at && a.sent < up_at).collect();
    assert!(
        during.iter().all(|a| a.status == 200 || (a.status == 503 && a.error.as_deref() == Some("temporarily_unavailable"))),
        "fail closed: only 200 (before the outage was noticed) or 503 temporarily_unavailable"
    );
    let took: Vec<Duration> = refusals.iter().map(|a| a.took).collect();
    let span = refused_until.duration_since(opened).as_secs_f64();
    eprintln!(
        "fail_fast {store}: circuit open {:?} after the stop; {} refusals at {:.0}/s, p50 {:?}, p99 {:?}; first 200 {:?} after the start",
        opened.duration_since(down_at),
        took.len(),
        took.len() as f64 / span,
        percentile(took.clone(), 0.5),
        percentile(took, 0.99),
        recovered.duration_since(up_at),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_then_postgres_down_under_load_refuse_at_once_and_recover() {
    let pg = Postgres::start();
    let port = free_port();
    let redis = Mutex::new(RedisServer::start(port, &[]));
    let mut tdb = TestDb::new(Backend::Embedded).await; // for its directory and KEK
    tdb.url = pg.url();
    tdb.redis_url = Some(format!("redis://127.0.0.1:{port}/"));
    tdb.prefix = format!("{}:", crate::support::random_name("ff"));
    let s = Arc::new(start_with(tdb, |c| c.rate.free = 1_000_000).await);
    let (client, _) = app(&s.db, "public", "openid profile").await;
    user(&s.db, "uma", "user").await;
    let token = s.tokens_for(&client, "uma", "openid profile").await["access_token"].as_str().unwrap().to_string();
    let load = Load::start(&s, &token);

    outage(&s, &load, "redis", || redis.lock().unwrap().stop(), || *redis.lock().unwrap() = RedisServer::start(port, &[])).await;
    until_circuit(&s, "redis", false).await;
    outage(&s, &load, "postgresql", || pg.down(), || pg.up()).await;
    until_circuit(&s, "postgresql", false).await;

    let answers = load.stop().await;
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 503), "nothing but 200 and 503");
    assert_eq!(s.http.get(s.url("/readyz")).send().await.unwrap().status(), 200);
    // the token still works: nothing was lost
    let r = s.http.get(s.url("/userinfo")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["preferred_username"], "uma");
}
