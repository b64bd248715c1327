//! `Tessera`: the running provider's state, shared by every handler — its
//! configuration, database, token store and signing keys — and what needs
//! all of them at once (issuing a token, authenticating a client).
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::clients::{self, Client};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::keys::{Kek, KeyManager, TokenType};
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::rate_limit::{self, Decision, Endpoint};
use crate::oauth::tokens::{self, AccessClaims};
use crate::store::{Round, RoundAnswer, TokenStore};

pub struct Tessera {
    pub cfg: Config,
    pub db: DatabaseConnection,
    pub store: Arc<dyn TokenStore>,
    pub keys: Arc<KeyManager>,
    /// HMAC key of browser session cookies, derived from the KEK.
    pub session_key: ring::hmac::Key,
    /// Tokens issued per client since the last flush to the store: counting
    /// in memory keeps a store write off the token endpoint's hot path.
    pending_usage: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// The discovery document, served from memory and rebuilt on every
    /// background tick (the scope catalogue is its only changing part).
    discovery: std::sync::RwLock<Arc<str>>,
    /// Clients by id, each with the store's clients epoch it was read at
    /// (only with a store that coordinates caches: Redis).
    client_cache: std::sync::RwLock<std::collections::HashMap<String, CachedClient>>,
}

struct CachedClient {
    client: Arc<Client>,
    epoch: String,
    read_at: std::time::Instant,
}

/// A cached client is re-read at least this often, whatever the epoch says.
const CLIENT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const CLIENT_CACHE_MAX: usize = 100_000;

/// A request counted by [`Tessera::round`], to be decided or refunded.
pub struct RateKey {
    key: String,
    window: i64,
    elapsed: i64,
    cost: i64,
    endpoint: Endpoint,
    /// False when the store was down and limits fail open.
    counted: bool,
}

impl Tessera {
    /// Connect, migrate, load (or create) the signing keys, open the token store.
    pub async fn open(cfg: Config) -> Result<Arc<Tessera>> {
        let db = crate::db::connect(&cfg.database_url).await?;
        crate::db::migrate(&db).await?;
        let mut kek = Kek::load_or_create(&cfg.kek_file, cfg.create_kek)?;
        if let Some(prev) = &cfg.kek_previous_file {
            kek = kek.with_previous(Kek::load_or_create(prev, false)?);
        }
        if let Some((username, email, password)) = &cfg.admin {
            if crate::users::find_by_username(&db, username).await?.is_none() {
                crate::users::create(&db, username, email, password, "admin", Some("bootstrap")).await?;
                log::info!("bootstrap admin {username} created");
            }
        }
        let session_key = kek.derive_mac_key("session");
        let policy = cfg.key_policy();
        let keys = KeyManager::start(db.clone(), kek, policy).await?;
        let store: Arc<dyn TokenStore> = crate::store::open(&cfg, &db).await?;
        log::info!("token store: {}", store.kind());
        let t = Tessera { cfg, db, store, keys, session_key, pending_usage: Default::default(), discovery: std::sync::RwLock::new(Arc::from("{}")), client_cache: Default::default() };
        t.refresh_discovery().await?;
        Ok(Arc::new(t))
    }

    /// Periodic work: pick up key changes made by other instances, drop
    /// expired store entries. Runs until the process ends.
    pub async fn background(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.cfg.key_refresh_interval);
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            if let Err(e) = self.keys.reload().await {
                log::warn!("reloading signing keys failed: {e}");
            }
            if let Err(e) = self.keys.rotate_if_due().await {
                log::warn!("scheduled key rotation failed: {e}");
            }
            self.flush_usage().await;
            if let Err(e) = self.refresh_discovery().await {
                log::warn!("rebuilding the discovery document failed: {e}");
            }
            n += 1;
            if n % 30 == 0 {
                match self.store.purge_expired(crate::db::now()).await {
                    Ok(k) if k > 0 => log::debug!("purged {k} expired store entries"),
                    Ok(_) => {}
                    Err(e) => log::warn!("purging the token store failed: {e}"),
                }
            }
        }
    }

    /// Rebuild the discovery document (RFC 8414 / OpenID Connect Discovery).
    pub async fn refresh_discovery(&self) -> Result<()> {
        let scopes: Vec<String> = crate::catalogue::list(&self.db).await?.into_iter().map(|s| s.name).collect();
        let doc: Arc<str> = Arc::from(crate::http::discovery::metadata(&self.cfg, &scopes).to_string());
        if let Ok(mut d) = self.discovery.write() {
            *d = doc;
        }
        Ok(())
    }

    pub fn discovery(&self) -> Arc<str> {
        self.discovery.read().map(|d| d.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    fn note_issued(&self, client_id: &str) {
        if let Ok(mut m) = self.pending_usage.lock() {
            *m.entry(client_id.to_string()).or_insert(0) += 1;
        }
    }

    /// Write the in-memory usage counts to the store.
    pub async fn flush_usage(&self) {
        let pending: Vec<(String, i64)> = match self.pending_usage.lock() {
            Ok(mut m) => m.drain().collect(),
            Err(_) => return,
        };
        for (client, n) in pending {
            if let Err(e) = self.store.add_usage(&client, n).await {
                log::warn!("usage of client {client} not recorded: {e}");
                if let Ok(mut m) = self.pending_usage.lock() {
                    *m.entry(client).or_insert(0) += n;
                }
            }
        }
    }

    /// Tokens issued to a client: the store's count plus this instance's unflushed ones.
    pub async fn usage(&self, client_id: &str) -> Result<i64> {
        let local = self.pending_usage.lock().map(|m| m.get(client_id).copied().unwrap_or(0)).unwrap_or(0);
        Ok(self.store.usage(client_id).await? + local)
    }

    /// The store may have missed a change: forget every cached client.
    fn forget_clients(&self) {
        if let Ok(mut c) = self.client_cache.write() {
            c.clear();
        }
    }

    /// Ask the store, in one round trip, what a hot endpoint needs: count the
    /// request against `client_id`'s rate limit, the clients epoch, whether
    /// `jti` is denylisted and the refresh token whose hash is `refresh`.
    /// Counting happens before authentication (and is refunded when it
    /// fails) so that one round trip suffices.
    pub async fn round(&self, client_id: &str, endpoint: Endpoint, jti: Option<&str>, refresh: Option<&str>) -> Result<(RoundAnswer, RateKey)> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let (window, elapsed) = rate_limit::window_of(now_ms);
        let key = RateKey { key: format!("client:{client_id}"), window, elapsed, cost: self.cfg.rate.cost(endpoint), endpoint, counted: true };
        let q = Round { rate: Some((&key.key, window, key.cost)), deny: jti, refresh: refresh.map(|h| (h, now_ms.div_euclid(1000))) };
        match self.store.round(q).await {
            Ok(a) => Ok((a, key)),
            Err(e) if self.cfg.rate.fail_open && jti.is_none() => {
                log::warn!("token store unavailable, rate limits failing open: {e}");
                self.forget_clients();
                Ok((RoundAnswer::default(), RateKey { counted: false, ..key }))
            }
            Err(e) => {
                self.forget_clients();
                Err(e.into())
            }
        }
    }

    /// The denylist and the clients epoch in one round trip, counting nothing
    /// (endpoints without a rate limit, such as the admin API).
    pub async fn denylist_round(&self, jti: &str) -> Result<RoundAnswer> {
        self.store.round(Round { rate: None, deny: Some(jti), refresh: None }).await.map_err(|e| {
            self.forget_clients();
            e.into()
        })
    }

    /// Give back a counted request (its client failed to authenticate).
    pub async fn refund(&self, key: &RateKey) {
        if key.counted {
            if let Err(e) = self.store.rate_refund(&key.key, key.window, key.cost).await {
                log::warn!("rate refund failed: {e}");
            }
        }
    }

    /// Decide on a request counted by [`Tessera::round`] for an authenticated client.
    pub async fn rate_decide(&self, client: &Client, a: &RoundAnswer, key: &RateKey) -> Result<Option<Decision>> {
        if !key.counted {
            return Ok(None);
        }
        let limit = self.cfg.rate.limit_for(&client.tier, client.rate_limit);
        let d = rate_limit::decide(a.prev, a.cur, key.elapsed, limit, key.cost);
        if d.allowed {
            return Ok(Some(d));
        }
        self.refund(key).await;
        self.rate_refused(client, key.window, limit, key.endpoint).await;
        Err(Error::RateLimited(d))
    }

    async fn rate_refused(&self, client: &Client, window: i64, limit: i64, endpoint: Endpoint) {
        // One audit row per client and window, however hard it hammers.
        let first = self.store.rate_add(&format!("audit:{}", client.client_id), window, 1).await.map(|(_, c)| c == 1);
        if first.unwrap_or(false) {
            crate::audit::record(
                &self.db,
                crate::audit::Event {
                    event: "rate_limit.hit",
                    client_id: Some(&client.client_id),
                    detail: Some(serde_json::json!({"limit": limit, "endpoint": format!("{endpoint:?}")})),
                    ..Default::default()
                },
            )
            .await;
        }
        log::warn!("client {} over its rate limit ({limit}/min) at {endpoint:?}", client.client_id);
    }

    /// Authenticate a client with the epoch of a round (no further store trip).
    pub async fn authenticate_at(&self, presented: &Presented, epoch: Option<String>, key: &RateKey) -> Result<Arc<Client>> {
        let client = self.client_at(&presented.client_id, epoch).await?;
        match client_auth::authenticate(client, presented) {
            Ok(c) => Ok(c),
            Err(e) => {
                self.refund(key).await;
                Err(e)
            }
        }
    }

    /// A client by id with the clients epoch of this request's store round:
    /// from memory when nothing changed since it was read (no database
    /// query), else from the database. Cached clients are shared (`Arc`),
    /// not copied per request.
    pub async fn client_at(&self, client_id: &str, epoch: Option<String>) -> Result<Option<Arc<Client>>> {
        let Some(epoch) = epoch else { return Ok(clients::find(&self.db, client_id).await?.map(Arc::new)) };
        if let Ok(cache) = self.client_cache.read() {
            if let Some(c) = cache.get(client_id).filter(|c| c.epoch == epoch && c.read_at.elapsed() < CLIENT_CACHE_TTL) {
                return Ok(Some(Arc::clone(&c.client)));
            }
        }
        let found = clients::find(&self.db, client_id).await?.map(Arc::new);
        if let (Some(c), Ok(mut cache)) = (&found, self.client_cache.write()) {
            if cache.len() >= CLIENT_CACHE_MAX {
                cache.clear();
            }
            cache.insert(client_id.to_string(), CachedClient { client: c.clone(), epoch, read_at: std::time::Instant::now() });
        }
        Ok(found)
    }

    /// When an access token issued at `iat` expires.
    pub fn access_expiry(&self, iat: i64) -> i64 {
        iat + self.cfg.access_token_ttl.as_secs() as i64
    }

    /// Sign an RFC 9068 access token with the current key; `preset`: its
    /// `jti` and `iat` when they were fixed beforehand (see [`crate::oauth::grants::Preset`]).
    pub fn issue_access_token(
        &self,
        sub: &str,
        client_id: &str,
        aud: &str,
        scope: &str,
        auth_time: Option<i64>,
        preset: Option<(&str, i64)>,
    ) -> Result<(String, AccessClaims)> {
        let (jti, now) = match preset {
            Some((jti, iat)) => (jti.to_string(), iat),
            None => (tokens::new_jti(), crate::db::now()),
        };
        let claims = AccessClaims {
            iss: self.cfg.issuer.clone(),
            sub: sub.to_string(),
            aud: aud.to_string(),
            exp: self.access_expiry(now),
            iat: now,
            jti,
            client_id: client_id.to_string(),
            scope: scope.to_string(),
            auth_time,
        };
        let jwt = self.keys.ring().signer.sign(TokenType::AccessToken, &claims)?;
        self.note_issued(client_id);
        Ok((jwt, claims))
    }
}
