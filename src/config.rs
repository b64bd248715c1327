//! Configuration from the environment, read and validated once at start.
//!
//! Every secret setting also has a `*_FILE` form (Vault Agent, Docker and
//! Kubernetes secrets): `DATABASE_URL_FILE=/run/secrets/db` reads the value
//! from that file, trailing newline removed. Setting both is an error.
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct Config {
    /// Address the HTTP server binds to (`TESSERA_BIND`, default `127.0.0.1:8080`).
    pub bind: String,
    /// A separate address for `/metrics` (`TESSERA_METRICS_BIND`): when set,
    /// `/metrics` is served there only, beside `/healthz` and `/readyz`, and
    /// the main listener answers 404 for it.
    pub metrics_bind: Option<String>,
    /// The issuer identifier (`TESSERA_ISSUER`); https unless loopback.
    pub issuer: String,
    /// `DATABASE_URL` (default: a SQLite file `tessera.db` in the working directory).
    pub database_url: String,
    /// The most PostgreSQL connections a server has, all opened at start
    /// (`TESSERA_DB_POOL_SIZE`, default [`crate::db::POOL_SIZE`]). `None`:
    /// opened as queries need them (commands and in-process tests).
    pub db_pool: Option<u32>,
    /// `REDIS_URL` (one node), `REDIS_CLUSTER_URLS` (a cluster) or
    /// `REDIS_SENTINEL_URLS` + `REDIS_SENTINEL_MASTER` (a primary watched by
    /// Sentinel); without any the token store lives in the SQL database.
    pub redis: Option<crate::store::redis::Target>,
    /// The CA that `rediss://` certificates chain to (`TESSERA_REDIS_CA_FILE`;
    /// default: the system's roots).
    pub redis_ca_file: Option<PathBuf>,
    /// The store settings given as files, and how often they are read again
    /// (`TESSERA_SECRET_REFRESH_SECS`, default 10).
    pub secret_files: SecretFiles,
    pub secret_refresh: Duration,
    /// Prefix of every Redis key (`TESSERA_REDIS_PREFIX`, default `tessera:`).
    pub redis_prefix: String,
    /// Key-encryption key file (`TESSERA_KEK_FILE`, default `keys/kek`).
    pub kek_file: PathBuf,
    /// Whether a missing KEK file may be created (only for the default path).
    pub create_kek: bool,
    /// During a KEK change, the previous KEK (`TESSERA_KEK_PREVIOUS_FILE`).
    pub kek_previous_file: Option<PathBuf>,
    /// Bootstrap admin, created at start if missing (`TESSERA_ADMIN_USERNAME`,
    /// `TESSERA_ADMIN_EMAIL`, `TESSERA_ADMIN_PASSWORD` or `_FILE`).
    pub admin: Option<(String, String, String)>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub code_ttl: Duration,
    /// How long a device authorization waits for its user (`TESSERA_DEVICE_CODE_TTL`, RFC 8628 `expires_in`).
    pub device_code_ttl: Duration,
    /// The `aud` of access tokens when no `resource`/`audience` is requested.
    pub default_audience: String,
    /// Audiences a client may ask for with `resource` or `audience`.
    pub audiences: Vec<String>,
    /// `Cache-Control: max-age` of the JWKS and discovery documents.
    pub jwks_max_age: Duration,
    /// How often every instance re-reads the signing keys from the database.
    pub key_refresh_interval: Duration,
    /// Automatic key rotation period (`TESSERA_KEY_ROTATION_DAYS`, default 30; 0 disables).
    pub key_rotation: Option<Duration>,
    /// Safety margin on every key wait (`TESSERA_KEY_MARGIN_SECS`, default 60).
    pub key_margin: Duration,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Per-client rate limits.
    pub rate: crate::rate_limit::Policy,
    /// Algorithm of access tokens (`TESSERA_SIGNING_ALG`: RS256, ES256 or EdDSA).
    pub signing_alg: crate::keys::Alg,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` say who the client is
    /// (`TESSERA_TRUSTED_PROXIES`, CIDR list; empty: the TCP peer is the client).
    pub trusted_proxies: Vec<crate::net::Cidr>,
    /// Every client's authorization requests must be pushed first (`TESSERA_REQUIRE_PAR`, RFC 9126).
    pub require_par: bool,
    /// Who may register clients at `/register` (`TESSERA_REGISTRATION`, RFC 7591).
    pub registration: RegistrationMode,
    /// Whether people may sign up as developers (`TESSERA_DEVELOPER_SIGNUP`).
    pub developer_signup: SignupMode,
    /// Requests to client-registered URLs may reach private and loopback
    /// addresses (`TESSERA_OUTBOUND_ALLOW_PRIVATE`; off: SSRF protection).
    pub outbound_allow_private: bool,
    /// DPoP proofs must carry a server nonce (`TESSERA_DPOP_NONCE=required`, the default; `off`).
    pub dpop_nonce_required: bool,
}

/// Developer sign-up (`TESSERA_DEVELOPER_SIGNUP`): no page (`closed`), an
/// account that waits for an admin's approval (`approval`, the default), or
/// a developer at once (`open`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignupMode {
    Closed,
    Approval,
    Open,
}

impl SignupMode {
    pub fn parse(s: &str) -> Result<SignupMode, String> {
        match s {
            "closed" => Ok(SignupMode::Closed),
            "approval" => Ok(SignupMode::Approval),
            "open" => Ok(SignupMode::Open),
            other => Err(format!("must be closed, approval or open, not {other:?}")),
        }
    }
}

/// Who may register (`TESSERA_REGISTRATION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationMode {
    Off,
    Token,
    Open,
}

impl RegistrationMode {
    pub fn parse(s: &str) -> Result<RegistrationMode, String> {
        match s {
            "off" => Ok(RegistrationMode::Off),
            "token" => Ok(RegistrationMode::Token),
            "open" => Ok(RegistrationMode::Open),
            other => Err(format!("must be off, token or open, not {other:?}")),
        }
    }
}

/// Read a setting, or its `_FILE` twin.
pub fn secret_var(name: &str) -> Result<Option<String>> {
    let direct = std::env::var(name).ok().filter(|v| !v.is_empty());
    let file_var = format!("{name}_FILE");
    let file = std::env::var(&file_var).ok().filter(|v| !v.is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => Err(Error::Config(format!("set {name} or {file_var}, not both"))),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(path)) => read_secret_file(&file_var, Path::new(&path)).map(Some),
        (None, None) => Ok(None),
    }
}

/// The value a `_FILE` setting (`var`) points to, without its final newline.
pub fn read_secret_file(var: &str, path: &Path) -> Result<String> {
    let v = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("{var}: cannot read {}: {e}", path.display())))?;
    Ok(v.trim_end_matches(['\n', '\r']).to_string())
}

/// The store settings given as files, read again while running
/// (`store::credentials`): Vault Agent and the like rewrite them when the
/// credentials rotate.
#[derive(Clone, Debug, Default)]
pub struct SecretFiles {
    /// `DATABASE_URL_FILE`.
    pub database_url: Option<PathBuf>,
    /// `REDIS_URL_FILE` or `REDIS_CLUSTER_URLS_FILE`, and which of the two.
    pub redis: Option<(PathBuf, bool)>,
}

impl SecretFiles {
    fn from_env() -> SecretFiles {
        let file = |name: &str| var(&format!("{name}_FILE")).map(PathBuf::from);
        SecretFiles {
            database_url: file("DATABASE_URL"),
            redis: file("REDIS_URL").map(|p| (p, false)).or_else(|| file("REDIS_CLUSTER_URLS").map(|p| (p, true))),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.database_url.is_none() && self.redis.is_none()
    }
}

/// `REDIS_CLUSTER_URLS`, `REDIS_SENTINEL_URLS`: nodes separated by commas or spaces.
pub fn cluster_urls(v: &str) -> Result<Vec<String>> {
    let urls: Vec<String> = v.split([',', ' ']).filter(|u| !u.is_empty()).map(str::to_string).collect();
    if urls.is_empty() {
        return Err(Error::Config("REDIS_CLUSTER_URLS and REDIS_SENTINEL_URLS name nodes: give redis://host:port,redis://host:port,…".into()));
    }
    Ok(urls)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn seconds(name: &str, default: u64, max: u64) -> Result<Duration> {
    let v = match var(name) {
        None => default,
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| Error::Config(format!("{name} must be a whole number of seconds, got {s:?}")))?,
    };
    if v == 0 || v > max {
        return Err(Error::Config(format!("{name} must be between 1 and {max} seconds")));
    }
    Ok(Duration::from_secs(v))
}

/// True for `localhost`, `127.0.0.0/8` and `[::1]` hosts.
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// The issuer when `TESSERA_ISSUER` is unset: `http://` + the bind address,
/// which only makes sense on loopback (a newcomer's `serve`). Bound anywhere
/// else, clients reach Tessera by a name only the operator knows, so start
/// is refused with a message rather than advertising `http://127.0.0.1`.
pub fn default_issuer(bind: &str) -> Result<String> {
    let host = match bind.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
        None => bind,
    };
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match loopback {
        true => Ok(format!("http://{bind}")),
        false => Err(Error::Config(format!(
            "TESSERA_ISSUER is required when TESSERA_BIND ({bind}) is not a loopback address: set it to the https URL clients use, e.g. https://auth.example.com"
        ))),
    }
}

impl Config {
    pub fn from_env() -> Result<Config> {
        let bind = var("TESSERA_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let issuer = match var("TESSERA_ISSUER") {
            Some(i) => i,
            None => default_issuer(&bind)?,
        };
        let database_url = secret_var("DATABASE_URL")?.unwrap_or_else(|| "sqlite://tessera.db?mode=rwc".into());
        let redis = match (secret_var("REDIS_URL")?, secret_var("REDIS_CLUSTER_URLS")?, secret_var("REDIS_SENTINEL_URLS")?) {
            (Some(url), None, None) => Some(crate::store::redis::Target::Node(url)),
            (None, Some(urls), None) => Some(crate::store::redis::Target::Cluster(cluster_urls(&urls)?)),
            (None, None, Some(urls)) => Some(crate::store::redis::Target::Sentinel {
                urls: cluster_urls(&urls)?,
                master: var("REDIS_SENTINEL_MASTER")
                    .ok_or_else(|| Error::Config("REDIS_SENTINEL_URLS needs REDIS_SENTINEL_MASTER: the name the sentinels monitor the primary by".into()))?,
            }),
            (None, None, None) => None,
            _ => return Err(Error::Config("set one of REDIS_URL (one node), REDIS_CLUSTER_URLS (a cluster) and REDIS_SENTINEL_URLS (Sentinel)".into())),
        };
        let (kek_file, create_kek) = match var("TESSERA_KEK_FILE") {
            Some(p) => (PathBuf::from(p), false),
            None => (PathBuf::from("keys/kek"), true),
        };
        let default_audience = var("TESSERA_DEFAULT_AUDIENCE").unwrap_or_else(|| issuer.trim_end_matches('/').to_string());
        let mut audiences: Vec<String> = var("TESSERA_AUDIENCES")
            .map(|s| s.split([',', ' ']).filter(|a| !a.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        if !audiences.contains(&default_audience) {
            audiences.insert(0, default_audience.clone());
        }
        let db_pool = match var("TESSERA_DB_POOL_SIZE") {
            None => crate::db::POOL_SIZE,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| Error::Config(format!("TESSERA_DB_POOL_SIZE must be a number of connections from 1 to 1000, got {s:?}")))?,
        };
        let max_body_bytes = match var("TESSERA_MAX_BODY_BYTES") {
            None => 16 * 1024,
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1024..=1024 * 1024).contains(n))
                .ok_or_else(|| Error::Config("TESSERA_MAX_BODY_BYTES must be between 1024 and 1048576".into()))?,
        };
        let cfg = Config {
            bind,
            metrics_bind: var("TESSERA_METRICS_BIND"),
            issuer,
            database_url,
            db_pool: Some(db_pool),
            redis,
            redis_ca_file: var("TESSERA_REDIS_CA_FILE").map(PathBuf::from),
            secret_files: SecretFiles::from_env(),
            secret_refresh: seconds("TESSERA_SECRET_REFRESH_SECS", 10, 3_600)?,
            redis_prefix: var("TESSERA_REDIS_PREFIX").unwrap_or_else(|| crate::store::redis::DEFAULT_PREFIX.into()),
            kek_file,
            create_kek,
            kek_previous_file: var("TESSERA_KEK_PREVIOUS_FILE").map(PathBuf::from),
            admin: match (var("TESSERA_ADMIN_USERNAME"), secret_var("TESSERA_ADMIN_PASSWORD")?) {
                (Some(u), Some(p)) => {
                    let email = var("TESSERA_ADMIN_EMAIL").unwrap_or_else(|| format!("{u}@localhost.invalid"));
                    Some((u, email, p))
                }
                (None, None) => None,
                _ => return Err(Error::Config("set TESSERA_ADMIN_USERNAME and TESSERA_ADMIN_PASSWORD (or _FILE) together".into())),
            },
            access_token_ttl: seconds("TESSERA_ACCESS_TOKEN_TTL", 900, 86_400)?,
            refresh_token_ttl: seconds("TESSERA_REFRESH_TOKEN_TTL", 30 * 86_400, 365 * 86_400)?,
            code_ttl: seconds("TESSERA_CODE_TTL", 60, 600)?,
            device_code_ttl: seconds("TESSERA_DEVICE_CODE_TTL", 600, 3_600)?,
            default_audience,
            audiences,
            jwks_max_age: seconds("TESSERA_JWKS_MAX_AGE", 300, 86_400)?,
            key_refresh_interval: seconds("TESSERA_KEY_REFRESH_SECS", 10, 3_600)?,
            key_rotation: match var("TESSERA_KEY_ROTATION_DAYS") {
                None => Some(Duration::from_secs(30 * 86_400)),
                Some(d) => match d.parse::<u64>() {
                    Ok(0) => None,
                    Ok(n) if n <= 3650 => Some(Duration::from_secs(n * 86_400)),
                    _ => return Err(Error::Config("TESSERA_KEY_ROTATION_DAYS must be 0 to 3650".into())),
                },
            },
            key_margin: match var("TESSERA_KEY_MARGIN_SECS") {
                None => Duration::from_secs(60),
                Some(v) => Duration::from_secs(
                    v.parse::<u64>().map_err(|_| Error::Config("TESSERA_KEY_MARGIN_SECS must be a number of seconds".into()))?,
                ),
            },
            max_body_bytes,
            rate: {
                let mut p = crate::rate_limit::Policy::default();
                for name in ["TESSERA_RATE_TIERS", "TESSERA_RATE_COSTS"] {
                    if let Some(spec) = var(name) {
                        p.apply(&spec).map_err(|e| Error::Config(format!("{name}: {e}")))?;
                    }
                }
                p.fail_open = match var("TESSERA_RATE_LIMIT_FAIL_OPEN").as_deref() {
                    None | Some("false") | Some("0") => false,
                    Some("true") | Some("1") => true,
                    Some(other) => return Err(Error::Config(format!("TESSERA_RATE_LIMIT_FAIL_OPEN must be true or false, not {other:?}"))),
                };
                p
            },
            signing_alg: match var("TESSERA_SIGNING_ALG") {
                None => crate::keys::Alg::RS256,
                Some(a) => crate::keys::Alg::parse(&a)
                    .ok_or_else(|| Error::Config(format!("TESSERA_SIGNING_ALG must be RS256, ES256 or EdDSA, not {a:?}")))?,
            },
            require_par: match var("TESSERA_REQUIRE_PAR").as_deref() {
                None | Some("false") | Some("0") => false,
                Some("true") | Some("1") => true,
                Some(other) => return Err(Error::Config(format!("TESSERA_REQUIRE_PAR must be true or false, not {other:?}"))),
            },
            registration: match var("TESSERA_REGISTRATION") {
                None => RegistrationMode::Token,
                Some(v) => RegistrationMode::parse(&v).map_err(|e| Error::Config(format!("TESSERA_REGISTRATION {e}")))?,
            },
            developer_signup: match var("TESSERA_DEVELOPER_SIGNUP") {
                None => SignupMode::Approval,
                Some(v) => SignupMode::parse(&v).map_err(|e| Error::Config(format!("TESSERA_DEVELOPER_SIGNUP {e}")))?,
            },
            outbound_allow_private: match var("TESSERA_OUTBOUND_ALLOW_PRIVATE").as_deref() {
                None | Some("false") | Some("0") => false,
                Some("true") | Some("1") => true,
                Some(other) => return Err(Error::Config(format!("TESSERA_OUTBOUND_ALLOW_PRIVATE must be true or false, not {other:?}"))),
            },
            dpop_nonce_required: match var("TESSERA_DPOP_NONCE").as_deref() {
                None | Some("required") => true,
                Some("off") => false,
                Some(other) => return Err(Error::Config(format!("TESSERA_DPOP_NONCE must be required or off, not {other:?}"))),
            },
            trusted_proxies: match var("TESSERA_TRUSTED_PROXIES") {
                None => Vec::new(),
                Some(list) => crate::net::Cidr::parse_list(&list).map_err(|e| Error::Config(format!("TESSERA_TRUSTED_PROXIES: {e}")))?,
            },
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Configuration for tests and embedding: loopback issuer, given database.
    pub fn for_tests(database_url: &str, redis_url: Option<&str>, kek_file: PathBuf) -> Config {
        Config {
            bind: "127.0.0.1:0".into(),
            metrics_bind: None,
            issuer: "http://127.0.0.1".into(),
            database_url: database_url.into(),
            db_pool: None,
            redis: redis_url.map(|u| crate::store::redis::Target::Node(u.to_string())),
            redis_ca_file: None,
            secret_files: SecretFiles::default(),
            secret_refresh: Duration::from_secs(10),
            redis_prefix: format!("t{}:", crate::crypto::random_token(6)),
            kek_file,
            create_kek: true,
            kek_previous_file: None,
            admin: None,
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(86_400),
            code_ttl: Duration::from_secs(60),
            device_code_ttl: Duration::from_secs(600),
            default_audience: "https://api.example.com".into(),
            audiences: vec!["https://api.example.com".into(), "https://billing.example.com".into()],
            jwks_max_age: Duration::from_secs(300),
            key_refresh_interval: Duration::from_secs(10),
            key_rotation: None,
            key_margin: Duration::from_secs(60),
            max_body_bytes: 16 * 1024,
            rate: crate::rate_limit::Policy::default(),
            signing_alg: crate::keys::Alg::RS256,
            trusted_proxies: Vec::new(),
            require_par: false,
            registration: RegistrationMode::Token,
            developer_signup: SignupMode::Approval,
            outbound_allow_private: true,
            dpop_nonce_required: true,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let url = url::Url::parse(&self.issuer)
            .map_err(|e| Error::Config(format!("TESSERA_ISSUER {:?} is not a URL: {e}", self.issuer)))?;
        let loopback = url.host().map(|h| is_loopback_host(&h)).unwrap_or(false);
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(Error::Config("TESSERA_ISSUER must be https:// unless its host is loopback".into()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Config("TESSERA_ISSUER must not have a query or fragment (RFC 8414 §2)".into()));
        }
        Ok(())
    }

    pub fn key_policy(&self) -> crate::keys::KeyPolicy {
        crate::keys::KeyPolicy {
            token_ttl: self.access_token_ttl,
            jwks_max_age: self.jwks_max_age,
            margin: self.key_margin.max(self.key_refresh_interval),
            rotation_period: self.key_rotation,
            access_alg: self.signing_alg,
        }
    }

    /// The issuer without a trailing slash, for building endpoint URLs.
    pub fn base(&self) -> &str {
        self.issuer.trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_must_be_https_unless_loopback() {
        let mut c = Config::for_tests("sqlite::memory:", None, "k".into());
        for ok in ["https://auth.example.com", "http://127.0.0.1:8080", "http://localhost", "http://[::1]:9"] {
            c.issuer = ok.into();
            assert!(c.validate().is_ok(), "{ok}");
        }
        for bad in ["http://auth.example.com", "ftp://x", "not a url", "https://a.example.com?x=1", "https://a.example.com#f"] {
            c.issuer = bad.into();
            assert!(c.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_issuer_is_for_loopback_only() {
        assert_eq!(default_issuer("127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(default_issuer("localhost:9000").unwrap(), "http://localhost:9000");
        assert_eq!(default_issuer("[::1]:8080").unwrap(), "http://[::1]:8080");
        let e = default_issuer("0.0.0.0:8080").unwrap_err().to_string();
        assert!(e.contains("TESSERA_ISSUER is required"), "{e}");
        assert!(default_issuer("10.0.0.5:8080").is_err());
    }

    #[test]
    fn file_form_of_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "postgres://u:pw@db/x\n").unwrap();
        // Unique names: tests run in parallel in one process.
        std::env::set_var("TESSERA_T1_URL_FILE", &f);
        assert_eq!(secret_var("TESSERA_T1_URL").unwrap().as_deref(), Some("postgres://u:pw@db/x"));
        std::env::set_var("TESSERA_T1_URL", "x");
        assert!(secret_var("TESSERA_T1_URL").is_err(), "both forms set");
        std::env::set_var("TESSERA_T2_URL_FILE", dir.path().join("missing"));
        assert!(secret_var("TESSERA_T2_URL").is_err());
        assert_eq!(secret_var("TESSERA_T3_URL").unwrap(), None);
    }
}
