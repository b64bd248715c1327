//! Prometheus metrics at `/metrics`: tokens issued by grant type, errors by
//! OAuth error code, request latency histograms by endpoint, token-store
//! errors. Plain atomics: recording costs a few nanoseconds and no lock on
//! the hot path (the error map is only touched on errors).
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use crate::histogram::Histogram;
use crate::registry::grant_types::GrantType;

/// The token stores' kinds (`TokenStore::kind`), a histogram each: no lock on the hot path.
const STORE_KINDS: [&str; 3] = ["sql", "redis", "redis-cluster"];

/// The in-process caches (`epoch_cache`: clients in `oauth::gate`, grants in
/// `registry::consents`), a hit and a miss counter each.
pub const CACHES: [&str; 2] = ["clients", "grants"];

pub const ENDPOINTS: [&str; 10] = ["token", "introspect", "revoke", "userinfo", "authorize", "device_authorization", "jwks", "discovery", "pages", "other"];

pub struct Metrics {
    tokens: [AtomicU64; GrantType::ALL.len()],
    latency: [Histogram; ENDPOINTS.len()],
    /// The per-request round trip to the token store (rate count, denylist,
    /// refresh token, clients epoch), by the store's kind.
    store_round: [Histogram; STORE_KINDS.len()],
    store_errors: AtomicU64,
    /// Lookups in each of [`CACHES`]: misses, then hits.
    cache: [[AtomicU64; 2]; CACHES.len()],
    errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Security events: login failures and lockouts, refresh-token reuse.
    events: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests refused by a rate limit, by the client's tier (a fixed set).
    limited: Mutex<BTreeMap<String, u64>>,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Gauges of a database pool: connections open, idle, and the most it opens.
pub fn render_pool(open: u32, idle: u32, max: u32) -> String {
    let mut s = String::from("# HELP tessera_db_pool_connections Database connections by state (in_use near max: the pool is saturated).\n# TYPE tessera_db_pool_connections gauge\n");
    let _ = writeln!(s, "tessera_db_pool_connections{{state=\"in_use\"}} {}", open.saturating_sub(idle));
    let _ = writeln!(s, "tessera_db_pool_connections{{state=\"idle\"}} {idle}");
    s.push_str("# HELP tessera_db_pool_max_connections The most connections the pool opens.\n# TYPE tessera_db_pool_max_connections gauge\n");
    let _ = writeln!(s, "tessera_db_pool_max_connections {max}");
    s
}

/// Gauges of the signing keys: the current key's age, and the seconds to
/// the next scheduled rotation (none without a schedule).
pub fn render_keys(age_secs: i64, next_rotation_secs: Option<i64>) -> String {
    let mut s = String::from("# HELP tessera_signing_key_age_seconds Age of the current signing key.\n# TYPE tessera_signing_key_age_seconds gauge\n");
    let _ = writeln!(s, "tessera_signing_key_age_seconds {age_secs}");
    if let Some(n) = next_rotation_secs {
        s.push_str("# HELP tessera_signing_key_next_rotation_seconds Seconds until the next scheduled key rotation.\n# TYPE tessera_signing_key_next_rotation_seconds gauge\n");
        let _ = writeln!(s, "tessera_signing_key_next_rotation_seconds {n}");
    }
    s
}

/// Security events counted in `tessera_security_events_total`.
pub mod event {
    pub const LOGIN_FAILED: &str = "login_failed";
    pub const LOGIN_LOCKED: &str = "login_locked";
    pub const REFRESH_REUSE: &str = "refresh_reuse";
}

/// The endpoint label of a request path (a fixed set: no unbounded labels).
pub fn endpoint_of(path: &str) -> usize {
    let name = match path {
        "/token" => "token",
        "/introspect" => "introspect",
        "/revoke" => "revoke",
        "/userinfo" => "userinfo",
        "/authorize" | "/login" | "/authorize/consent" | "/device" => "authorize",
        "/device_authorization" => "device_authorization",
        "/.well-known/jwks.json" => "jwks",
        "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" => "discovery",
        p if p.starts_with("/portal") || p.starts_with("/admin") || p.starts_with("/account") => "pages",
        _ => "other",
    };
    ENDPOINTS.iter().position(|e| *e == name).unwrap_or(ENDPOINTS.len() - 1)
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            tokens: Default::default(),
            latency: Default::default(),
            store_round: Default::default(),
            store_errors: AtomicU64::new(0),
            cache: Default::default(),
            errors: Mutex::new(BTreeMap::new()),
            events: Mutex::new(BTreeMap::new()),
            limited: Mutex::new(BTreeMap::new()),
        }
    }

    /// A security event (one of [`event`]).
    pub fn event(&self, name: &'static str) {
        if let Ok(mut m) = self.events.lock() {
            *m.entry(name).or_insert(0) += 1;
        }
    }

    /// A request refused by the rate limit of a client of `tier`.
    pub fn rate_limited(&self, tier: &str) {
        let tier = if crate::registry::clients::TIERS.contains(&tier) { tier } else { "other" };
        if let Ok(mut m) = self.limited.lock() {
            *m.entry(tier.to_string()).or_insert(0) += 1;
        }
    }

    pub fn observe(&self, endpoint: usize, took: Duration) {
        self.latency[endpoint.min(ENDPOINTS.len() - 1)].observe(took);
    }

    /// One round trip to the token store of kind `kind` took `took`.
    pub fn store_round(&self, kind: &str, took: Duration) {
        if let Some(i) = STORE_KINDS.iter().position(|k| *k == kind) {
            self.store_round[i].observe(took);
        }
    }

    /// A lookup in the cache `name` (one of [`CACHES`]) found its entry, or not.
    pub fn cache_lookup(&self, name: &str, hit: bool) {
        if let Some(i) = CACHES.iter().position(|c| *c == name) {
            self.cache[i][hit as usize].fetch_add(1, Relaxed);
        }
    }

    pub fn token_issued(&self, grant_type: GrantType) {
        self.tokens[grant_type.index()].fetch_add(1, Relaxed);
    }

    pub fn error(&self, code: &'static str) {
        if let Ok(mut m) = self.errors.lock() {
            *m.entry(code).or_insert(0) += 1;
        }
    }

    pub fn store_error(&self) {
        self.store_errors.fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(4096);
        s.push_str("# HELP tessera_tokens_issued_total Access tokens issued, by grant type.\n# TYPE tessera_tokens_issued_total counter\n");
        for g in GrantType::ALL {
            let _ = writeln!(s, "tessera_tokens_issued_total{{grant_type=\"{}\"}} {}", g.label(), self.tokens[g.index()].load(Relaxed));
        }
        s.push_str("# HELP tessera_errors_total Error responses, by OAuth error code.\n# TYPE tessera_errors_total counter\n");
        if let Ok(m) = self.errors.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(s, "tessera_errors_total{{code=\"{code}\"}} {n}");
            }
        }
        s.push_str("# HELP tessera_security_events_total Login failures and lockouts, refresh-token reuse.\n# TYPE tessera_security_events_total counter\n");
        if let Ok(m) = self.events.lock() {
            for (name, n) in m.iter() {
                let _ = writeln!(s, "tessera_security_events_total{{event=\"{name}\"}} {n}");
            }
        }
        s.push_str("# HELP tessera_rate_limited_total Requests refused by a client's rate limit (429), by tier.\n# TYPE tessera_rate_limited_total counter\n");
        if let Ok(m) = self.limited.lock() {
            for (tier, n) in m.iter() {
                let _ = writeln!(s, "tessera_rate_limited_total{{tier=\"{tier}\"}} {n}");
            }
        }
        s.push_str("# HELP tessera_store_circuit_open 1 while the store is unreachable and its commands are refused at once.\n# TYPE tessera_store_circuit_open gauge\n");
        for store in crate::store::breaker::Guards::ALL {
            let _ = writeln!(s, "tessera_store_circuit_open{{store=\"{}\"}} {}", store.name(), crate::store::breaker::open_for(store) as u8);
        }
        s.push_str("# HELP tessera_store_errors_total Failed database or token-store operations.\n# TYPE tessera_store_errors_total counter\n");
        let _ = writeln!(s, "tessera_store_errors_total {}", self.store_errors.load(Relaxed));
        s.push_str("# HELP tessera_cache_lookups_total Lookups in the in-process caches of clients and grants, by result (a miss reads the database).\n# TYPE tessera_cache_lookups_total counter\n");
        for (name, counts) in CACHES.iter().zip(&self.cache) {
            for (result, n) in ["miss", "hit"].iter().zip(counts) {
                let _ = writeln!(s, "tessera_cache_lookups_total{{cache=\"{name}\",result=\"{result}\"}} {}", n.load(Relaxed));
            }
        }
        s.push_str("# HELP tessera_request_duration_seconds Request latency, by endpoint.\n# TYPE tessera_request_duration_seconds histogram\n");
        for (e, name) in ENDPOINTS.iter().enumerate() {
            self.latency[e].render(&mut s, "tessera_request_duration_seconds", &format!("endpoint=\"{name}\""));
        }
        s.push_str("# HELP tessera_store_round_seconds The per-request round trip to the token store, by its kind.\n# TYPE tessera_store_round_seconds histogram\n");
        for (kind, h) in STORE_KINDS.iter().zip(&self.store_round) {
            h.render(&mut s, "tessera_store_round_seconds", &format!("store=\"{kind}\""));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::new();
        m.event(event::REFRESH_REUSE);
        m.rate_limited("pro");
        m.rate_limited("gold");
        m.token_issued(GrantType::ClientCredentials);
        m.token_issued(GrantType::ClientCredentials);
        m.error("invalid_client");
        m.cache_lookup("grants", true);
        m.cache_lookup("grants", false);
        m.cache_lookup("grants", true);
        m.observe(endpoint_of("/token"), Duration::from_micros(800));
        let text = m.render();
        assert!(text.contains("tessera_tokens_issued_total{grant_type=\"client_credentials\"} 2"));
        assert!(text.contains("tessera_errors_total{code=\"invalid_client\"} 1"));
        assert!(text.contains("tessera_cache_lookups_total{cache=\"grants\",result=\"hit\"} 2"));
        assert!(text.contains("tessera_cache_lookups_total{cache=\"grants\",result=\"miss\"} 1"));
        assert!(text.contains("tessera_cache_lookups_total{cache=\"clients\",result=\"hit\"} 0"));
        assert!(text.contains("tessera_security_events_total{event=\"refresh_reuse\"} 1"));
        assert!(text.contains("tessera_rate_limited_total{tier=\"pro\"} 1") && text.contains("tessera_rate_limited_total{tier=\"other\"} 1"));
        assert!(text.contains("tessera_request_duration_seconds_bucket{endpoint=\"token\",le=\"0.0005\"} 0"));
        assert!(text.contains("tessera_request_duration_seconds_bucket{endpoint=\"token\",le=\"0.001\"} 1"));
        assert!(text.contains("tessera_request_duration_seconds_bucket{endpoint=\"token\",le=\"+Inf\"} 1"));
        assert_eq!(endpoint_of("/portal/apps/x"), endpoint_of("/admin"));
        assert_eq!(ENDPOINTS[endpoint_of("/nope")], "other");
    }
}
