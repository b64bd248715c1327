//! Failing fast while a store is down: a circuit breaker in front of every
//! Redis command (one node, or a whole cluster) and every PostgreSQL
//! statement (`db::Db`). A command that fails for want of a connection
//! (refused, dropped, timed out) opens the circuit; while it is open every
//! command is refused at once (the request answers 503 in microseconds
//! instead of waiting for connection timeouts: sqlx retries a refused
//! connection until its 5 s acquire timeout), and a background probe asks
//! the store every [`PROBE_EVERY`] until it answers, then closes the
//! circuit. Nothing fails open: a refused command is an error like any
//! other store error.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

const REFUSAL: &str = "redis is unreachable (circuit open)";

/// How often the probe pings a Redis that went away.
pub const PROBE_EVERY: Duration = Duration::from_millis(200);

/// The store a breaker stands in front of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guards {
    Redis = 0,
    Postgres = 1,
}

impl Guards {
    pub const ALL: [Guards; 2] = [Guards::Redis, Guards::Postgres];

    pub fn name(self) -> &'static str {
        match self {
            Guards::Redis => "redis",
            Guards::Postgres => "postgresql",
        }
    }
}

/// Whether some circuit of this process is open, by store (for `/metrics`).
static OPEN: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// `tessera_store_circuit_open{store}`: the store is unreachable and
/// commands are refused at once.
pub fn open_for(store: Guards) -> bool {
    OPEN[store as usize].load(Ordering::Relaxed)
}

/// What the probe pings: the node, or every primary of the cluster (a
/// fresh cluster connection learns the topology after a failover).
pub enum Probe {
    Node(redis::Client),
    Cluster(redis::cluster::ClusterClient),
    /// Another way to tell (Sentinel: ask the sentinels for the primary and
    /// follow it when it moved).
    Other(Box<dyn Answers>),
}

/// A probe of its own kind.
#[async_trait::async_trait]
pub trait Answers: Send + Sync {
    async fn answers(&self) -> bool;
}

impl Probe {
    async fn answers(&self) -> bool {
        match self {
            Probe::Node(client) => {
                let cfg = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(Duration::from_millis(500)))
                    .set_response_timeout(Some(Duration::from_millis(500)));
                let answer = match client.get_multiplexed_async_connection_with_config(&cfg).await {
                    Ok(mut con) => redis::cmd("PING").query_async::<String>(&mut con).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                if answer.as_ref().is_err_and(|e| e.kind() == redis::ErrorKind::AuthenticationFailed) {
                    // back, but not for these credentials: read the file again
                    super::credentials::rejected();
                }
                answer.is_ok()
            }
            Probe::Cluster(client) => {
                let cfg = redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(Duration::from_millis(500))
                    .set_response_timeout(Duration::from_millis(500));
                let Ok(mut con) = client.get_async_connection_with_config(cfg).await else { return false };
                // PING goes to every primary; CLUSTER INFO says whether every slot is served.
                let ping = redis::cmd("PING").query_async::<String>(&mut con).await.is_ok();
                let info = redis::cmd("CLUSTER").arg("INFO").query_async::<String>(&mut con).await.unwrap_or_default();
                ping && info.contains("cluster_state:ok")
            }
            Probe::Other(p) => p.answers().await,
        }
    }
}

pub struct Breaker {
    guards: Guards,
    open: AtomicBool,
    probing: AtomicBool,
    /// Replaced when the store reconnects with new credentials.
    probe: std::sync::Mutex<Arc<Probe>>,
}

fn unreachable_kind(e: &RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        // a cluster that lost a primary and has not promoted its replica yet
        || matches!(e.kind(), ErrorKind::Server(ServerErrorKind::ClusterDown | ServerErrorKind::MasterDown) | ErrorKind::ClusterConnectionNotFound)
        // a primary demoted by Sentinel: the probe asks for the new one
        || matches!(e.kind(), ErrorKind::Server(ServerErrorKind::ReadOnly))
}

impl Breaker {
    pub fn new(guards: Guards, probe: Probe) -> Arc<Breaker> {
        Arc::new(Breaker { guards, open: AtomicBool::new(false), probing: AtomicBool::new(false), probe: std::sync::Mutex::new(Arc::new(probe)) })
    }

    /// Probe with new credentials from now on.
    pub fn set_probe(&self, probe: Probe) {
        *self.probe.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(probe);
    }

    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Look at a Redis command's outcome: a lost connection opens the circuit.
    fn observe<T>(self: &Arc<Self>, r: &RedisResult<T>) {
        if r.as_ref().is_err_and(unreachable_kind) {
            self.trip();
        }
        if r.as_ref().is_err_and(|e| e.kind() == redis::ErrorKind::AuthenticationFailed) {
            log::warn!("redis refused our credentials: reading REDIS_URL_FILE again");
            super::credentials::rejected();
        }
    }

    /// Open the circuit (the store is unreachable) and start the probe.
    pub fn trip(self: &Arc<Self>) {
        if !self.open.swap(true, Ordering::AcqRel) {
            log::error!("{} is unreachable: refusing its commands until it answers again", self.guards.name());
            OPEN[self.guards as usize].store(true, Ordering::Relaxed);
        }
        if !self.probing.swap(true, Ordering::AcqRel) && tokio::runtime::Handle::try_current().is_ok() {
            let me = Arc::clone(self);
            tokio::spawn(async move { me.probe().await });
        }
    }

    async fn probe(self: Arc<Self>) {
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            let probe = self.probe.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            if probe.answers().await {
                self.open.store(false, Ordering::Release);
                self.probing.store(false, Ordering::Release);
                OPEN[self.guards as usize].store(false, Ordering::Relaxed);
                log::warn!("{} answers again: its commands resume", self.guards.name());
                return;
            }
        }
    }

    /// The error of a command refused while the circuit is open.
    pub fn refusal() -> RedisError {
        RedisError::from(std::io::Error::new(std::io::ErrorKind::NotConnected, REFUSAL))
    }

    /// Whether `e` is [`Breaker::refusal`]: said once when the circuit
    /// opened, so not worth a log line per refused request.
    pub fn is_refusal(e: &RedisError) -> bool {
        e.is_io_error() && e.to_string().contains(REFUSAL)
    }
}

/// A connection whose commands pass the breaker.
#[derive(Clone)]
pub struct Guarded<C> {
    pub inner: C,
    pub breaker: Arc<Breaker>,
}

impl<C: ConnectionLike + Send> ConnectionLike for Guarded<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            if self.breaker.is_open() {
                return Err(Breaker::refusal());
            }
            let r = self.inner.req_packed_command(cmd).await;
            self.breaker.observe(&r);
            r
        })
    }

    fn req_packed_commands<'a>(&'a mut self, pipeline: &'a Pipeline, offset: usize, count: usize) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            if self.breaker.is_open() {
                return Err(Breaker::refusal());
            }
            let r = self.inner.req_packed_commands(pipeline, offset, count).await;
            self.breaker.observe(&r);
            r
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
