//! A real Tessera per test: the backends, a fresh database, the server
//! started in-process on a free loopback port, and `both_backends!`.
use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::ConnectionTrait;
use tessera::db::Db;
use tessera::app::Tessera;
use tessera::config::Config;
use tessera::store::redis::Target;

use super::browser::browser;
use super::logs::capture_logs;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + the SQL token store: the default of `tessera serve`.
    Embedded,
    /// PostgreSQL + the SQL token store: a deployment without Redis.
    PostgresSql,
    /// PostgreSQL + Redis, as started by `scripts/test.sh`: production.
    PostgresRedis,
    /// PostgreSQL + a Redis Cluster of three primaries (each with a
    /// replica), as started by `scripts/test.sh`: production past one Redis.
    PostgresRedisCluster,
}

impl Backend {
    /// The token store's kind, as `/readyz` reports it.
    pub fn store_kind(self) -> &'static str {
        match self {
            Backend::Embedded | Backend::PostgresSql => "sql",
            Backend::PostgresRedis => "redis",
            Backend::PostgresRedisCluster => "redis-cluster",
        }
    }
}

/// One `#[tokio::test]` per `case => Backend` calling `super::$name(backend)`.
#[macro_export]
macro_rules! backend_cases {
    ($name:ident: $($case:ident => $backend:ident),*) => {
        mod $name {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$name($crate::support::Backend::$backend).await
                }
            )*
        }
    };
}

/// Generate one test per backend (the name says two; there are three) from an `async fn name(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        $crate::backend_cases!($name: embedded => Embedded, postgres_sql => PostgresSql, postgres_redis => PostgresRedis);
    )*};
}

/// [`both_backends!`] and the Redis Cluster: for the store contract, its
/// races and whatever must hold on every store.
#[macro_export]
macro_rules! every_store {
    ($($name:ident),* $(,)?) => {$(
        $crate::backend_cases!($name: embedded => Embedded, postgres_sql => PostgresSql, postgres_redis => PostgresRedis, postgres_redis_cluster => PostgresRedisCluster);
    )*};
}

pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `bash scripts/test.sh`, which starts PostgreSQL and Redis")
    })
}

pub fn random_name(prefix: &str) -> String {
    format!("{prefix}_{}", tessera::crypto::random_token(9).to_lowercase().replace(['-', '_'], "x"))
}

/// A fresh database for one test: a new SQLite file, or a new PostgreSQL database.
pub struct TestDb {
    pub url: String,
    pub redis_url: Option<String>,
    /// The nodes of a Redis Cluster, instead of `redis_url`.
    pub redis_cluster: Vec<String>,
    /// Redis key prefix of this test's deployment, so tests sharing one Redis never meet.
    pub prefix: String,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        match backend {
            Backend::Embedded => {
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("tessera.db").display());
                TestDb { url, redis_url: None, redis_cluster: vec![], prefix: String::new(), dir }
            }
            Backend::PostgresSql | Backend::PostgresRedis | Backend::PostgresRedisCluster => {
                let admin_url = required_env("TESSERA_TEST_DATABASE_URL");
                let name = random_name("t");
                let admin = tessera::db::connect(&admin_url).await.expect("connect to the test PostgreSQL");
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
                admin.raw().close_by_ref().await.ok();
                let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
                TestDb {
                    url: format!("{base}/{name}"),
                    redis_url: (backend == Backend::PostgresRedis).then(|| required_env("TESSERA_TEST_REDIS_URL")),
                    redis_cluster: match backend {
                        Backend::PostgresRedisCluster => required_env("TESSERA_TEST_REDIS_CLUSTER_URLS").split(',').map(str::to_string).collect(),
                        _ => vec![],
                    },
                    prefix: format!("{name}:"),
                    dir,
                }
            }
        }
    }

    pub fn kek_file(&self) -> PathBuf {
        self.dir.path().join("kek")
    }

    pub fn config(&self, port: u16) -> Config {
        let mut cfg = Config::for_tests(&self.url, None, self.kek_file());
        cfg.redis = self.redis_target();
        cfg.issuer = format!("http://127.0.0.1:{port}");
        cfg.bind = format!("127.0.0.1:{port}");
        cfg.redis_prefix = self.prefix.clone();
        cfg
    }

    /// Environment for running the `tessera` binary against this database.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("DATABASE_URL".to_string(), self.url.clone()),
            ("TESSERA_KEK_FILE".to_string(), self.kek_file().display().to_string()),
            ("RUST_LOG".to_string(), "warn".to_string()),
        ];
        match self.redis_target() {
            Some(Target::Node(r)) => v.push(("REDIS_URL".into(), r)),
            Some(Target::Cluster(urls)) => v.push(("REDIS_CLUSTER_URLS".into(), urls.join(","))),
            Some(Target::Sentinel { urls, master }) => {
                v.push(("REDIS_SENTINEL_URLS".into(), urls.join(",")));
                v.push(("REDIS_SENTINEL_MASTER".into(), master));
            }
            None => return v,
        }
        v.push(("TESSERA_REDIS_PREFIX".into(), self.prefix.clone()));
        v
    }

    /// The Redis this deployment uses, if any.
    pub fn redis_target(&self) -> Option<Target> {
        match (&self.redis_url, self.redis_cluster.is_empty()) {
            (Some(u), _) => Some(Target::Node(u.clone())),
            (None, false) => Some(Target::Cluster(self.redis_cluster.clone())),
            (None, true) => None,
        }
    }

    /// Keys of this deployment matching `pattern` (after the prefix), on
    /// the node or on every primary of the cluster.
    pub async fn redis_keys(&self, pattern: &str) -> Vec<String> {
        self.redis_query(redis::cmd("KEYS").arg(format!("{}{pattern}", self.prefix))).await
    }

    /// `cmd` on this deployment's Redis, the node or the cluster (which
    /// routes it by its key).
    pub async fn redis_query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        match self.redis_target().expect("a Redis deployment") {
            Target::Node(u) => {
                let mut con = redis::Client::open(u.as_str()).expect("redis url").get_multiplexed_async_connection().await.expect("redis");
                cmd.query_async(&mut con).await.expect("a Redis command")
            }
            Target::Cluster(urls) => {
                let mut con = redis::cluster::ClusterClient::new(urls).expect("cluster urls").get_async_connection().await.expect("cluster");
                cmd.query_async(&mut con).await.expect("a Redis command")
            }
            Target::Sentinel { .. } => panic!("a TestDb names one node or a cluster"),
        }
    }
}

/// A running server. Dropping it stops the server.
pub struct TestServer {
    pub base: String,
    pub port: u16,
    pub db: Db,
    pub http: reqwest::Client,
    pub tdb: TestDb,
    /// The server in this process; `None` for one attached to a `tessera serve` process.
    handle: Option<actix_web::dev::ServerHandle>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.clone() {
            std::thread::spawn(move || futures_executor_block_on(h.stop(true)));
        }
    }
}

/// The helpers of a [`TestServer`] for a `tessera serve` process on `port`
/// (`serve_process`), once it is ready.
pub async fn attach(tdb: TestDb, port: u16) -> TestServer {
    let base = format!("http://127.0.0.1:{port}");
    let http = browser();
    super::processes::wait_ready(&http, &base).await;
    let db = tessera::db::connect(&tdb.url).await.expect("test-side connection");
    TestServer { base, port, db, http, tdb, handle: None }
}

fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

/// Start a server on `tdb` with `tweak` applied to its configuration.
pub async fn start_with(tdb: TestDb, tweak: impl FnOnce(&mut Config)) -> TestServer {
    capture_logs();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut cfg = tdb.config(port);
    tweak(&mut cfg);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let t: Arc<Tessera> = match Tessera::open(cfg).await {
                Ok(t) => t,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            match tessera::http::server(Arc::clone(&t), listener, None, Some(2)) {
                Ok(server) => {
                    let _ = tx.send(Ok(server.handle()));
                    let _ = t.run(server).await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
    });
    let handle = rx.await.expect("server thread").expect("server started");
    let db = tessera::db::connect(&tdb.url).await.expect("test-side connection");
    let http = browser();
    TestServer { base: format!("http://127.0.0.1:{port}"), port, db, http, tdb, handle: Some(handle) }
}

pub async fn start(backend: Backend) -> TestServer {
    start_with(TestDb::new(backend).await, |_| {}).await
}

/// Kinds of entry in the token store.
#[derive(Clone, Copy, Debug)]
pub enum Stored {
    /// Authorization codes, used ones included (kept to recognise replays).
    Codes,
    RefreshTokens,
    /// Denylisted access-token ids.
    Denylisted,
    /// Device authorizations (RFC 8628).
    DeviceCodes,
}

impl TestDb {
    /// How many entries of a kind the token store holds, read where this
    /// deployment keeps them: SQL tables, or this test's Redis keys.
    pub async fn stored(&self, what: Stored) -> i64 {
        let (table, kind) = match what {
            Stored::Codes => ("auth_codes", "code"),
            Stored::RefreshTokens => ("refresh_tokens", "rt"),
            Stored::Denylisted => ("denylist", "deny"),
            Stored::DeviceCodes => ("device_codes", "dev"),
        };
        match self.redis_target() {
            None => {
                let db = tessera::db::connect(&self.url).await.expect("db");
                super::fixtures::count_rows(&db, table).await
            }
            Some(_) => self.redis_keys(&format!("{kind}:*")).await.len() as i64,
        }
    }

    /// Move the login lock of `name` into the past, as if its time had run
    /// out (instead of waiting), where this deployment keeps it.
    pub async fn expire_login_lock(&self, name: &str) {
        let past = tessera::db::now() - 1;
        match &self.redis_url {
            None => {
                use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
                let db = tessera::db::connect(&self.url).await.expect("db");
                entity::login_failures::Entity::update_many()
                    .col_expr(entity::login_failures::Column::LockedUntil, sea_orm::sea_query::Expr::value(past))
                    .filter(entity::login_failures::Column::Name.eq(name))
                    .exec(&db)
                    .await
                    .expect("expire the lock");
            }
            Some(u) => {
                let client = redis::Client::open(u.as_str()).expect("redis url");
                let mut con = client.get_multiplexed_async_connection().await.expect("redis");
                let _: i64 = redis::cmd("HSET").arg(format!("{}login:{name}", self.prefix)).arg("u").arg(past).query_async(&mut con).await.expect("HSET");
            }
        }
    }

    /// The deployment's token store, opened test-side (for management calls
    /// that must announce client changes, and for store-level checks).
    pub async fn store(&self) -> Arc<dyn tessera::store::TokenStore> {
        match self.redis_target() {
            Some(t) => Arc::new(tessera::store::redis::RedisStore::open(&t, &self.prefix).await.expect("redis")),
            None => {
                let db = tessera::db::connect(&self.url).await.expect("db");
                Arc::new(tessera::store::sql::SqlStore::new(db))
            }
        }
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POST a form with HTTP Basic client authentication.
    pub async fn post_basic(&self, path: &str, id: &str, secret: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(self.url(path)).basic_auth(id, Some(secret)).form(form).send().await.expect("request")
    }

    pub async fn client_credentials(&self, id: &str, secret: &str, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let r = self.post_basic("/token", id, secret, &form).await;
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.expect("json");
        v["access_token"].as_str().expect("access_token").to_string()
    }

    pub async fn introspect(&self, id: &str, secret: &str, token: &str) -> serde_json::Value {
        let r = self.post_basic("/introspect", id, secret, &[("token", token)]).await;
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }
}

