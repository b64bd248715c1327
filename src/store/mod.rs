//! The token store: short-lived, high-churn state that every instance must
//! see at once — the access-token denylist, authorization codes and refresh
//! token families. Two backends keep the same contract (`tests/it/store.rs`
//! runs one suite against both):
//!
//! * [`redis::RedisStore`] (`REDIS_URL`): every check-then-act is one Lua
//!   script, so two instances racing on the same code or refresh token
//!   cannot both win.
//! * [`sql::SqlStore`] (the embedded default): the same tables in the main
//!   database; single use is a conditional `UPDATE … WHERE used = false`
//!   whose affected-row count picks the one winner. Durable: nothing is lost
//!   on restart.
//!
//! Secrets never reach the store: codes and refresh tokens are keyed by the
//! SHA-256 of their value.
pub mod breaker;
pub mod credentials;
pub mod redis;
pub mod sql;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The store cannot be set up as configured (it names the setting).
    #[error("{0}")]
    Setup(String),
}

/// A refresh token as the store keeps it (the token itself is only hashed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    /// Opaque to the store: JSON of the grant's details (scopes, auth_time …).
    pub data: String,
    pub expires_at: i64,
    /// The access token issued together with this refresh token.
    pub access_jti: String,
    pub access_exp: i64,
}

/// What the store knows about a presented refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshState {
    /// Valid and unused.
    Active(RefreshRecord),
    /// Already rotated: presenting it again is reuse.
    Used(RefreshRecord),
    /// Unknown, expired, or its family was revoked.
    Invalid,
}

/// Outcome of an atomic rotation attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// This caller won: the old token is now used and the new one stored.
    Rotated,
    /// The old token had already been used: its whole family is now revoked
    /// and the access tokens issued from it are denylisted.
    Reused { family_id: String },
    /// Unknown, expired, or revoked: nothing changed.
    Invalid,
}

/// Outcome of redeeming an authorization code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First redemption: the code's data.
    Redeemed(String),
    /// Second redemption: what the first one issued (as recorded), if known.
    Replayed(Option<String>),
    /// Unknown or expired.
    Invalid,
}

/// A device authorization (RFC 8628 §3.2) as the store keeps it: keyed by
/// the SHA-256 of its `device_code`, found by its `user_code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    pub device_hash: String,
    /// Normalised (upper case, no dash): what the user types, looked up as is.
    pub user_code: String,
    pub client_id: String,
    /// Opaque to the store: JSON of the request (scopes).
    pub data: String,
    pub expires_at: i64,
}

/// What a device's poll of the token endpoint finds (RFC 8628 §3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DevicePoll {
    /// Not decided yet; this poll is recorded.
    Pending,
    /// Not decided yet, and polled sooner than `interval` after the last poll.
    SlowDown,
    /// Approved: the decision (opaque JSON), handed out this once.
    Approved(String),
    Denied,
    /// Past its lifetime (remembered a while, to say so).
    Expired,
    /// Unknown, another client's, or already exchanged for tokens.
    Invalid,
}

/// What the hot endpoints ask the store on every request, asked at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Round<'a> {
    /// Count `cost` on this rate key in this window.
    pub rate: Option<(&'a str, i64, i64)>,
    /// Is this access-token id denylisted?
    pub deny: Option<&'a str>,
    /// Read this refresh token (by hash) as of this time: the refresh grant
    /// needs it before anything else, so it rides in the same round trip.
    pub refresh: Option<(&'a str, i64)>,
    /// Read the grants epoch too: the request checks a user's consent.
    pub grants: bool,
}

/// What [`TokenStore::login_attempt`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginAttempt {
    /// The password may be checked; `locks_for`: this attempt took the lock, for so long.
    Allowed { locks_for: Option<i64> },
    /// Locked until this time.
    Locked { until: i64 },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundAnswer {
    pub prev: i64,
    pub cur: i64,
    pub epoch: Option<String>,
    /// The grants epoch ([`TokenStore::bump_grants_epoch`]), when asked for;
    /// `None` from a store that does not coordinate caches (PostgreSQL
    /// without Redis).
    pub grants_epoch: Option<String>,
    pub denied: bool,
    /// The refresh token asked for, as [`TokenStore::get_refresh`] answers.
    pub refresh: Option<RefreshState>,
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// A rate count, the clients epoch, a denylist check and a refresh-token
    /// read in one round trip where the backend can (Redis pipelines them);
    /// sequential here.
    async fn round(&self, q: Round<'_>) -> Result<RoundAnswer, StoreError> {
        let (prev, cur) = match q.rate {
            Some((key, window, cost)) => self.rate_add(key, window, cost).await?,
            None => (0, 0),
        };
        let denied = match q.deny {
            Some(jti) => self.is_denied(jti).await?,
            None => false,
        };
        let refresh = match q.refresh {
            Some((hash, now)) => Some(self.get_refresh(hash, now).await?),
            None => None,
        };
        // one epoch for clients and grants (see `bump_grants_epoch`)
        let epoch = self.clients_epoch().await?;
        Ok(RoundAnswer { prev, cur, grants_epoch: epoch.clone().filter(|_| q.grants), epoch, denied, refresh })
    }

    /// Which backend this is, for logs and `/readyz`.
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;

    /// Denylist an access token id until `expires_at` (Unix seconds).
    async fn deny(&self, jti: &str, expires_at: i64) -> Result<(), StoreError>;
    async fn is_denied(&self, jti: &str) -> Result<bool, StoreError>;

    /// Store a code's data until `expires_at`.
    async fn put_code(&self, code_hash: &str, data: &str, expires_at: i64) -> Result<(), StoreError>;
    /// Redeem a code exactly once, recording in the same step `issued`: what
    /// this redemption is about to issue, so that a replay — even one racing
    /// the first exchange — finds what to revoke.
    async fn redeem_code(&self, code_hash: &str, now: i64, issued: &str) -> Result<CodeRedemption, StoreError>;
    /// Called by the first exchange of a code once it has stored what it
    /// issued: a replay that came in meanwhile revoked the family, perhaps
    /// before these tokens existed, and must reach them too. Redis: nothing
    /// to do (the family's revoked mark stops tokens stored later). SQL: the
    /// replay marked the code; the family is revoked again if so.
    async fn seal_code_family(&self, code_hash: &str, family_id: &str, now: i64) -> Result<(), StoreError>;

    async fn put_refresh(&self, rec: &RefreshRecord) -> Result<(), StoreError>;
    async fn get_refresh(&self, token_hash: &str, now: i64) -> Result<RefreshState, StoreError>;
    /// Atomically mark `old_hash` used and store `new`; exactly one of many
    /// concurrent callers gets [`Rotation::Rotated`].
    async fn rotate_refresh(&self, old_hash: &str, new: &RefreshRecord, now: i64) -> Result<Rotation, StoreError>;
    /// Revoke a family: every refresh token in it stops working and every
    /// access token issued from it is denylisted. Returns the tokens revoked.
    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError>;
    /// Revoke every family of one user at one client.
    async fn revoke_user_client(&self, user_id: &str, client_id: &str, now: i64) -> Result<u64, StoreError>;
    /// Denylist the live access tokens of one user at one client, leaving
    /// the refresh families alive (their next refresh carries what the
    /// consent still covers). Returns how many were denylisted.
    async fn deny_user_client_access(&self, user_id: &str, client_id: &str, now: i64) -> Result<u64, StoreError>;

    /// Add `cost` to the rate counter of `key` in `window`; returns the
    /// previous window's count and the current one's (including `cost`).
    async fn rate_add(&self, key: &str, window: i64, cost: i64) -> Result<(i64, i64), StoreError>;
    /// Give back `cost` of a refused request.
    async fn rate_refund(&self, key: &str, window: i64, cost: i64) -> Result<(), StoreError>;

    /// Add `n` to the number of tokens issued to `client_id`.
    async fn add_usage(&self, client_id: &str, n: i64) -> Result<(), StoreError>;
    /// Tokens issued to `client_id` so far.
    async fn usage(&self, client_id: &str) -> Result<i64, StoreError>;

    /// A value that changes whenever any client is changed, so every instance
    /// can keep clients in memory and still see a suspension at once.
    /// `None`: this store does not coordinate caches (then nobody caches).
    async fn clients_epoch(&self) -> Result<Option<String>, StoreError>;
    /// Announce that a client changed (after the change is committed).
    async fn bump_clients_epoch(&self) -> Result<(), StoreError>;
    /// Announce that a user's consent changed (given, widened, revoked),
    /// after the change is committed: every instance then reads grants
    /// again (`registry::consents::GrantCache`). By default grants share the
    /// clients epoch (the embedded store's file: consents are rare, and a
    /// client read again from SQLite is cheap); Redis keeps one of each.
    async fn bump_grants_epoch(&self) -> Result<(), StoreError> {
        self.bump_clients_epoch().await
    }

    /// Keep a pushed authorization request (RFC 9126) under the SHA-256 of
    /// its `request_uri` until `expires_at`.
    async fn put_pushed(&self, id_hash: &str, data: &str, expires_at: i64) -> Result<(), StoreError>;
    /// Take a pushed request, once: its data if it exists and has not
    /// expired; it is gone afterwards either way.
    async fn take_pushed(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError>;

    /// Keep a device authorization until `expires_at` (and remember it
    /// [`REPLAY_MEMORY_SECS`] longer, to answer `expired_token`). `false`:
    /// its user code is taken (the caller draws another); nothing written.
    async fn put_device(&self, rec: &DeviceRecord) -> Result<bool, StoreError>;
    /// The undecided, unexpired device authorization a user code stands for.
    async fn pending_device(&self, user_code: &str, now: i64) -> Result<Option<DeviceRecord>, StoreError>;
    /// Decide a device authorization once: `Some(approval)` allows it (the
    /// opaque JSON the poll hands out), `None` denies it. `false`: it was
    /// not pending (decided already, expired or unknown) and nothing changed.
    async fn decide_device(&self, device_hash: &str, approval: Option<&str>, now: i64) -> Result<bool, StoreError>;
    /// A poll by `client_id`, atomically: records the poll while pending,
    /// and hands out an approval once.
    async fn poll_device(&self, device_hash: &str, client_id: &str, now: i64, interval: i64) -> Result<DevicePoll, StoreError>;

    /// Remember `key` until `expires_at`, once: `true` the first time,
    /// `false` for every later use before it expires (replay caches of
    /// client assertions and DPoP proofs, shared by every instance).
    async fn use_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError>;

    /// Spend one login attempt of `name` (any name typed, an account's or
    /// not) at `now` under `lock`, atomically: refused while the name is
    /// locked; otherwise the failure count moves by one, and the attempt
    /// that reaches the limit takes the lock as it starts.
    async fn login_attempt(&self, name: &str, now: i64, lock: &crate::rate_limit::LoginLock) -> Result<LoginAttempt, StoreError>;
    /// A login of `name` succeeded: forget its failures.
    async fn login_succeeded(&self, name: &str) -> Result<(), StoreError>;

    /// Record a signed-in browser session (by the SHA-256 of the id in its
    /// cookie) until `expires_at`.
    async fn put_session(&self, id_hash: &str, user_id: &str, expires_at: i64) -> Result<(), StoreError>;
    /// The user of a live session, if it is one.
    async fn session_user(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError>;
    /// End one session (logout).
    async fn end_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// End every session of a user, everywhere; how many there were.
    async fn end_user_sessions(&self, user_id: &str) -> Result<u64, StoreError>;
    /// The sessions of a user (by hash), to tell their clients before ending them.
    async fn user_sessions(&self, user_id: &str, now: i64) -> Result<Vec<String>, StoreError>;
    /// A session signed in to a client (an ID token was issued to it from
    /// the session), remembered as long as the session lives.
    async fn add_session_client(&self, id_hash: &str, client_id: &str, expires_at: i64) -> Result<(), StoreError>;
    /// The clients a session signed in to.
    async fn session_clients(&self, id_hash: &str, now: i64) -> Result<Vec<String>, StoreError>;

    /// Drop expired entries (the Redis backend lets keys expire by themselves).
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;

    /// Connect anew to `target` (new credentials, read from a rotated
    /// file); commands from now on use the new connection. The SQL store
    /// has nothing to do: it follows the database's pool.
    async fn reconnect(&self, _target: &redis::Target) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Open Redis (its keys under `prefix`; `ca_file`: the CA its `rediss://`
/// certificates chain to, instead of the system's), or without it the SQL
/// store in the main database.
pub async fn open(target: Option<&redis::Target>, prefix: &str, ca_file: Option<&std::path::Path>, db: &crate::db::Db) -> Result<std::sync::Arc<dyn TokenStore>, StoreError> {
    Ok(match target {
        Some(t) => {
            let ca = match ca_file {
                Some(p) => Some(std::fs::read(p).map_err(|e| StoreError::Setup(format!("TESSERA_REDIS_CA_FILE: cannot read {}: {e}", p.display())))?),
                None => None,
            };
            std::sync::Arc::new(redis::RedisStore::open_with_ca(t, prefix, ca).await?)
        }
        None => std::sync::Arc::new(sql::SqlStore::new(db.clone())),
    })
}

/// The shape of the ids of one refresh family: `FAMILY.rest`. A refresh
/// token's value and the id (`jti`) of every access token issued from a
/// family start with the family's id and a dot, and the store handle of a
/// refresh token keeps that prefix before the token's SHA-256. The Redis
/// store puts the prefix in a hash tag, so everything of one family lands in
/// one Redis Cluster slot and a family's scripts stay atomic there
/// (`docs/redis-keys.md`). Neither part is secret: the family id is random
/// and reveals nothing but which tokens belong together.
pub fn in_family(family_id: &str, rest: &str) -> String {
    format!("{family_id}.{rest}")
}

/// The family prefix of an id of the shape [`in_family`] makes, if it has one.
pub fn family_of(id: &str) -> Option<&str> {
    id.split_once('.').map(|(f, _)| f).filter(|f| !f.is_empty())
}

/// The store handle of a presented refresh token: its family prefix (when it
/// has one) and the SHA-256 of the whole value. Tokens issued before the
/// prefix existed have none; the handle is then their plain SHA-256.
pub fn refresh_handle(token: &str) -> String {
    let digest = crate::crypto::digest(token);
    match family_of(token) {
        Some(f) => in_family(f, &digest),
        None => digest,
    }
}

/// How long a used code or refresh token is remembered after it expires, so
/// that a late replay is still recognised as one.
pub const REPLAY_MEMORY_SECS: i64 = 600;

/// How long a denylisted access token stays denylisted after its `exp`: a
/// resource server or instance whose clock runs behind still takes the
/// token for unexpired for a while, and must still hear it is revoked.
pub const DENY_MARGIN_SECS: i64 = 300;
