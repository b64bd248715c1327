//! The test harness: start a real Tessera on a free loopback port against a
//! fresh database, and talk to it over HTTP.
use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use tessera::app::Tessera;
use tessera::registry::clients::NewClient;
use tessera::config::Config;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + the SQL token store: the default of `tessera serve`.
    Embedded,
    /// PostgreSQL + Redis, as started by `scripts/test.sh`.
    Shared,
}

/// Generate one test per backend from an `async fn name(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name($crate::support::Backend::Embedded).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                super::$name($crate::support::Backend::Shared).await
            }
        }
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
                TestDb { url, redis_url: None, prefix: String::new(), dir }
            }
            Backend::Shared => {
                let admin_url = required_env("TESSERA_TEST_DATABASE_URL");
                let name = random_name("t");
                let admin = tessera::db::connect(&admin_url).await.expect("connect to the test PostgreSQL");
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
                admin.close().await.ok();
                let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
                TestDb {
                    url: format!("{base}/{name}"),
                    redis_url: Some(required_env("TESSERA_TEST_REDIS_URL")),
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
        let mut cfg = Config::for_tests(&self.url, self.redis_url.as_deref(), self.kek_file());
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
        if let Some(r) = &self.redis_url {
            v.push(("REDIS_URL".into(), r.clone()));
            v.push(("TESSERA_REDIS_PREFIX".into(), self.prefix.clone()));
        }
        v
    }
}

/// A running server. Dropping it stops the server.
pub struct TestServer {
    pub base: String,
    pub port: u16,
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    pub tdb: TestDb,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let h = self.handle.clone();
        std::thread::spawn(move || futures_executor_block_on(h.stop(true)));
    }
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
            actix_web::rt::spawn(Arc::clone(&t).background());
            match tessera::http::server(t, listener, None, Some(2)) {
                Ok(server) => {
                    let _ = tx.send(Ok(server.handle()));
                    let _ = server.await;
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
    TestServer { base: format!("http://127.0.0.1:{port}"), port, db, http, tdb, handle }
}

pub async fn start(backend: Backend) -> TestServer {
    start_with(TestDb::new(backend).await, |_| {}).await
}

/// A confidential client_credentials client: (client_id, secret).
pub async fn machine_client(db: &DatabaseConnection, scopes: &str) -> (String, String) {
    limited_client(db, scopes, None).await
}

/// The same with an explicit rate limit (cost units per minute).
pub async fn limited_client(db: &DatabaseConnection, scopes: &str, rate_limit: Option<i64>) -> (String, String) {
    let c = tessera::oauth::registration::register(
        db,
        NewClient {
            name: "Machine".into(),
            client_type: "confidential".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: scopes.split(' ').map(str::to_string).collect(),
            rate_limit,
            ..Default::default()
        },
        Some("test"),
    )
    .await
    .expect("create client");
    (c.client.client_id, c.client_secret.expect("secret"))
}

impl TestDb {
    /// The deployment's token store, opened test-side (for management calls
    /// that must announce client changes, and for store-level checks).
    pub async fn store(&self) -> Arc<dyn tessera::store::TokenStore> {
        match &self.redis_url {
            Some(u) => Arc::new(tessera::store::redis::RedisStore::connect(u, &self.prefix).await.expect("redis")),
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

/// Verify an access token as a resource server would: fetch the JWKS over
/// HTTP, pick the key by `kid`, check signature, `typ`, `iss`, `aud`, `exp`.
pub async fn verify_offline(s: &TestServer, token: &str, audience: &str) -> Result<serde_json::Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(format!("typ is {:?}", header.typ));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwks: jsonwebtoken::jwk::JwkSet =
        s.http.get(s.url("/.well-known/jwks.json")).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
    let jwk = jwks.find(&kid).ok_or_else(|| format!("kid {kid} not in the JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[&s.base]);
    v.set_audience(&[audience]);
    v.leeway = 5;
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &v).map(|d| d.claims).map_err(|e| e.to_string())
}

pub async fn count_rows(db: &DatabaseConnection, table: &str) -> i64 {
    use sea_orm::{FromQueryResult, Statement};
    #[derive(FromQueryResult)]
    struct N {
        n: i64,
    }
    let stmt = Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table}"));
    N::find_by_statement(stmt).one(db).await.expect("count").expect("row").n
}

/// A cookie-keeping HTTP client that does not follow redirects (so tests see them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

pub const PASSWORD: &str = "correct horse battery";
pub const REDIRECT: &str = "http://127.0.0.1:9/cb";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A user with `PASSWORD`; returns the user id.
pub async fn user(db: &DatabaseConnection, username: &str, role: &str) -> String {
    tessera::registry::users::create(db, username, &format!("{username}@example.com"), PASSWORD, role, Some("test")).await.expect("create user").user_id
}

/// An app using the authorization code grant: (client_id, secret if confidential).
pub async fn app(db: &DatabaseConnection, client_type: &str, scopes: &str) -> (String, Option<String>) {
    let c = tessera::oauth::registration::register(
        db,
        NewClient {
            name: "Acme Sync".into(),
            description: "Syncs your data".into(),
            client_type: client_type.into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: scopes.split(' ').map(str::to_string).collect(),
            redirect_uris: vec![REDIRECT.into()],
            ..Default::default()
        },
        Some("test"),
    )
    .await
    .expect("create app");
    (c.client.client_id, c.client_secret)
}

/// The value of a hidden form field in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle).unwrap_or_else(|| panic!("no field {name} in page: {html}")) + needle.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].replace("&amp;", "&").replace("&#x2f;", "/").replace("&#x27;", "'").replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">")
}

/// Query parameters of a redirect's Location.
pub fn location_params(r: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let loc = r.headers().get("location").unwrap_or_else(|| panic!("no Location on {}", r.status())).to_str().unwrap();
    url::Url::parse(loc).expect("absolute Location").query_pairs().into_owned().collect()
}

impl TestServer {
    /// The authorize URL for `client_id` with PKCE S256 and `extra` parameters.
    pub fn authorize_url(&self, client_id: &str, scope: &str, extra: &[(&str, &str)]) -> String {
        let mut u = url::Url::parse(&self.url("/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", scope)
            .append_pair("state", "st4te")
            .append_pair("nonce", "n0nce")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            u.query_pairs_mut().append_pair(k, v);
        }
        u.to_string()
    }

    /// Log in as `username` through the login page the authorize request shows,
    /// approve the consent page if shown, and return the final redirect.
    pub async fn login_and_consent(&self, browser: &reqwest::Client, authorize_url: &str, username: &str) -> reqwest::Response {
        let r = browser.get(authorize_url).send().await.unwrap();
        assert_eq!(r.status(), 200, "login page");
        let html = r.text().await.unwrap();
        assert!(html.contains("Sign in"));
        let r = browser
            .post(self.url("/login"))
            .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("username", username.into()), ("password", PASSWORD.into())])
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            return r;
        }
        let html = r.text().await.unwrap();
        assert!(html.contains("wants access to your account"), "consent page: {html}");
        browser
            .post(self.url("/authorize/consent"))
            .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("decision", "allow".into())])
            .send()
            .await
            .unwrap()
    }

    /// Exchange a code as a public client with the test verifier.
    pub async fn exchange(&self, client_id: &str, code: &str) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client_id)])
            .send()
            .await
            .unwrap()
    }

    /// The whole flow for a user: a fresh browser, login, consent, code, tokens.
    pub async fn tokens_for(&self, client_id: &str, username: &str, scope: &str) -> serde_json::Value {
        let b = browser();
        let r = self.login_and_consent(&b, &self.authorize_url(client_id, scope, &[]), username).await;
        assert_eq!(r.status(), 303);
        let code = location_params(&r)["code"].clone();
        let r = self.exchange(client_id, &code).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

pub async fn count_where(db: &DatabaseConnection, table: &str, condition: &str) -> i64 {
    use sea_orm::{FromQueryResult, Statement};
    #[derive(FromQueryResult)]
    struct N {
        n: i64,
    }
    let stmt = Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}"));
    N::find_by_statement(stmt).one(db).await.expect("count").expect("row").n
}

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

/// Every log line the server code writes during the tests, so tests can
/// check that no secret ever reaches a log. Client-side libraries' lines
/// (reqwest, hyper, openidconnect) are not the server's and are left out.
static LOGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        !["reqwest", "hyper", "h2", "openidconnect", "oauth2", "rustls", "tokio_util"].iter().any(|p| m.target().starts_with(p))
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let line = format!("{} {} {}", r.level(), r.target(), r.args());
            if std::env::var_os("TESSERA_TEST_LOG").is_some() {
                eprintln!("{line}");
            }
            if let Ok(mut v) = LOGS.lock() {
                v.push(line);
            }
        }
    }
    fn flush(&self) {}
}

pub fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if log::set_logger(&Capture).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
}

/// All captured log lines so far.
pub fn captured_logs() -> Vec<String> {
    LOGS.lock().map(|v| v.clone()).unwrap_or_default()
}
