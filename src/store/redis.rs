//! The Redis token store (`REDIS_URL`), shared by every instance.
//!
//! One Redis node (`REDIS_URL`) or a Redis Cluster (`REDIS_CLUSTER_URLS`).
//! `docs/redis-keys.md` lists every key with its hash slot; in short (all
//! under the prefix `tessera:`, `{…}` is a literal hash tag):
//! * `deny:{F}.x` — a revoked access token whose id is `F.x` (issued from
//!   family `F`), or `deny:jti` for any other, expiring `DENY_MARGIN_SECS` after the token.
//! * `code:{sha256}` — hash {data, exp, used, issued}, kept a while after
//!   expiry so that a replay is still recognised.
//! * `rt:{F}.sha256` — a refresh token of family `F` (its handle is
//!   `F.sha256`, see `store::refresh_handle`): hash {family, client, user,
//!   data, exp, jti, jexp, used}.
//! * `fam:{F}` — set of the refresh-token handles of one family;
//!   `famrev:{F}` marks it revoked. Everything a family's scripts touch
//!   carries the tag `{F}`, so on a cluster each script runs on one node.
//! * `sess:{sha256}` — a signed-in browser session: `{expires_at}:{user}`, expiring with it;
//!   `usess:{user}` — the set of a user's sessions (to end them all).
//! * `par:{sha256}` — a pushed authorization request (RFC 9126): `{expires_at}:{params}`, taken once.
//! * `dev:{sha256}` — a device authorization (RFC 8628): hash {user, client,
//!   data, status, decision, last, exp}, kept a while after expiry to answer
//!   `expired_token`; `devu:{user_code}` — the device a user code stands
//!   for, while it lives (taken with NX: two live codes never collide).
//! * `sessc:{sha256}` — the clients a session signed in to (back-channel logout), expiring with it.
//! * `once:{key}` — a single-use identifier (an assertion's or a DPoP proof's `jti`), until it expires.
//! * `login:{name}` — the login lockout of a name typed at a login: hash
//!   {f: consecutive failures, u: locked until}, forgotten a day after the last failure.
//! * `uc:{user}|{client}` — set of the families of one user at one client,
//!   kept as long as the longest of them (every rotation extends it); each
//!   new family forgets a few that have ended ([`INDEX_SAMPLE`]).
//! * `rate:{key}:{window}` — a rate counter; both windows of a key share its tag.
//!
//! Every decision that reads then writes is one Lua script, so it is atomic
//! however many instances race (Keycloak's refresh-reuse race was a
//! check-then-act; this is not). Each script keeps to the keys of one hash
//! slot. What spans slots — every family of a user at a client, every
//! session of a user — is a loop here over atomic per-family or per-key
//! steps; none of those is a check-then-act.
use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncCommands, Cmd, Pipeline, RedisFuture, Script, Value};

use super::{DevicePoll, DeviceRecord, LoginAttempt, CodeRedemption, RefreshRecord, RefreshState, Rotation, StoreError, TokenStore, DENY_MARGIN_SECS, REPLAY_MEMORY_SECS};

/// The default key prefix (`TESSERA_REDIS_PREFIX`); deployments sharing one Redis pick their own.
pub const DEFAULT_PREFIX: &str = "tessera:";

/// Lua shared by the family scripts: the key names of [`RedisStore::tagged`]
/// and [`RedisStore::family_key`], and `revoke`, which marks a family
/// revoked and denylists every live access token issued from it. Every key
/// it touches carries the family's tag.
const FAMILY_FNS: &str = r#"
local function tag(id)
  local i = string.find(id, '.', 1, true)
  if i and i > 1 then return '{' .. string.sub(id, 1, i - 1) .. '}' .. string.sub(id, i) end
  return id
end
local function fk(p, kind, fam) return p .. kind .. ':{' .. fam .. '}' end
-- The family a tagged handle names, when that family still lists it: a
-- used token whose record has expired (it is kept only while the access
-- token issued beside it lives) is still known by its family's set.
local function listed(p, h)
  local i = string.find(h, '.', 1, true)
  if not i or i == 1 then return nil end
  local fam = string.sub(h, 1, i - 1)
  if redis.call('SISMEMBER', fk(p, 'fam', fam), h) == 1 then return fam end
  return nil
end
local function deny_live(p, h, now)
  local v = redis.call('HMGET', p .. 'rt:' .. tag(h), 'jti', 'jexp')
  if v[1] and tonumber(v[2]) + DENY_MARGIN > now then
    redis.call('SET', p .. 'deny:' .. tag(v[1]), '1', 'EXAT', tonumber(v[2]) + DENY_MARGIN)
    return 1
  end
  return 0
end
-- LEGACY (one node only): families begun before their keys were tagged
-- also have members under `fam:F` and may be marked under `famrev:F`.
local function revoked(p, fam)
  return redis.call('EXISTS', fk(p, 'famrev', fam)) == 1 or (LEGACY and redis.call('EXISTS', p .. 'famrev:' .. fam) == 1)
end
local function revoke(p, fam, now)
  local famkey, revkey = fk(p, 'fam', fam), fk(p, 'famrev', fam)
  if revoked(p, fam) then return 0 end
  redis.call('SET', revkey, '1')
  local members = redis.call('SMEMBERS', famkey)
  local ttl = redis.call('PTTL', famkey)
  if LEGACY then
    for _, h in ipairs(redis.call('SMEMBERS', p .. 'fam:' .. fam)) do members[#members + 1] = h end
    ttl = math.max(ttl, redis.call('PTTL', p .. 'fam:' .. fam))
  end
  if ttl > 0 then redis.call('PEXPIRE', revkey, ttl) end
  for _, h in ipairs(members) do deny_live(p, h, now) end
  return #members
end
"#;

/// A family script: [`FAMILY_FNS`] with the denylist's clock-skew margin
/// and whether to look at the untagged keys of older families, then `body`.
fn family_lua(body: &str, legacy: bool) -> String {
    format!("local DENY_MARGIN = {DENY_MARGIN_SECS}\nlocal LEGACY = {legacy}\n{FAMILY_FNS}{body}")
}

const REDEEM_CODE: &str = r#"
local used = redis.call('HGET', KEYS[1], 'used')
if not used then return {'invalid'} end
if used == '1' then return {'replayed', redis.call('HGET', KEYS[1], 'issued') or ''} end
if tonumber(redis.call('HGET', KEYS[1], 'exp')) <= tonumber(ARGV[1]) then return {'invalid'} end
redis.call('HSET', KEYS[1], 'used', '1', 'issued', ARGV[2])
return {'ok', redis.call('HGET', KEYS[1], 'data')}
"#;

const ROTATE: &str = r#"
local p, now = ARGV[1], tonumber(ARGV[2])
local used = redis.call('HGET', KEYS[1], 'used')
if not used then
  -- used long ago: only its family's set remembers it
  local fam = listed(p, ARGV[12])
  if fam ~= ARGV[3] or revoked(p, fam) then return 'invalid' end
  revoke(p, fam, now)
  return 'reused:' .. fam
end
local fam = redis.call('HGET', KEYS[1], 'family')
if fam ~= ARGV[3] then return 'invalid' end
if revoked(p, fam) then return 'invalid' end
if used == '1' then
  revoke(p, fam, now)
  return 'reused:' .. fam
end
if tonumber(redis.call('HGET', KEYS[1], 'exp')) <= now then return 'invalid' end
-- The used token keeps what reuse and revocation need (its family, client
-- and user; the access token issued beside it, to denylist) for as long as
-- that access token lives; then only the family's set remembers it.
redis.call('HSET', KEYS[1], 'used', '1')
redis.call('HDEL', KEYS[1], 'data')
redis.call('EXPIREAT', KEYS[1], tonumber(redis.call('HGET', KEYS[1], 'jexp')) + DENY_MARGIN, 'LT')
redis.call('HSET', KEYS[2], 'family', ARGV[3], 'client', ARGV[4], 'user', ARGV[5], 'data', ARGV[6],
  'exp', ARGV[7], 'jti', ARGV[8], 'jexp', ARGV[9], 'used', '0')
local keep = tonumber(ARGV[7]) + tonumber(ARGV[11])
redis.call('EXPIREAT', KEYS[2], keep)
redis.call('SADD', fk(p, 'fam', fam), ARGV[10])
redis.call('EXPIREAT', fk(p, 'fam', fam), keep)
-- written again, not only extended: a family begun by a version before
-- famof existed has none, and its used tokens would then answer no owner
redis.call('HSET', fk(p, 'famof', fam), 'client', ARGV[4], 'user', ARGV[5])
redis.call('EXPIREAT', fk(p, 'famof', fam), keep)
-- one node: the user's index of families too (KEYS[3]; a cluster keeps it
-- in another slot and extends it after the script)
if KEYS[3] then
  redis.call('SADD', KEYS[3], fam)
  redis.call('EXPIREAT', KEYS[3], keep, 'GT')
  redis.call('EXPIREAT', KEYS[3], keep, 'NX')
end
return 'rotated'
"#;

/// How many members of a user's index at a client (`uc:`) each new family
/// looks at, forgetting those whose family has ended (its set `fam:{F}` has
/// expired). Families end as fast as they begin once a user's sign-ins are
/// steady, so the sampled share of ended members settles at 1 / N: the
/// index holds at most about N / (N − 1) times the user's live families at
/// that client, where before nothing ever left it while the user stayed active.
const INDEX_SAMPLE: isize = 4;

/// One node: index a new family under its user at its client (KEYS[1]) for
/// as long as it lives (never shortened: GT; a new index gets its first
/// expiry: NX), and forget up to ARGV[4] sampled families that have ended.
/// A family begun before the hash tags is alive while its untagged set is.
const INDEX_FAMILY: &str = r#"
local p, fam, keep = ARGV[1], ARGV[2], tonumber(ARGV[3])
redis.call('SADD', KEYS[1], fam)
redis.call('EXPIREAT', KEYS[1], keep, 'GT')
redis.call('EXPIREAT', KEYS[1], keep, 'NX')
local ended = {}
for _, f in ipairs(redis.call('SRANDMEMBER', KEYS[1], tonumber(ARGV[4]))) do
  if f ~= fam and redis.call('EXISTS', fk(p, 'fam', f)) == 0 and not (LEGACY and redis.call('EXISTS', p .. 'fam:' .. f) == 1) then
    ended[#ended + 1] = f
  end
end
if #ended > 0 then redis.call('SREM', KEYS[1], unpack(ended)) end
return #ended
"#;

/// A refresh token's fields, flat, with `revoked` `1` appended when its
/// family is revoked; nothing when it is unknown. One round trip, and it can
/// ride in a pipeline (as `EVAL`: Redis caches the compiled script by hash).
const PEEK_REFRESH: &str = r#"
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then
  -- a used token known only by its family's set: `trimmed`, with the
  -- family's client and user
  local fam = listed(ARGV[1], ARGV[2])
  if fam then
    local of = redis.call('HMGET', fk(ARGV[1], 'famof', fam), 'client', 'user')
    if of[1] then h = {'family', fam, 'client', of[1], 'user', of[2], 'used', '1', 'trimmed', '1'} end
  end
end
for i = 1, #h, 2 do
  if h[i] == 'family' and revoked(ARGV[1], h[i + 1]) then
    h[#h + 1] = 'revoked'
    h[#h + 1] = '1'
  end
end
return h
"#;

/// KEYS: the family's revoked mark (it routes the script to the family's slot).
const REVOKE_FAMILY: &str = r#"
return revoke(ARGV[1], ARGV[2], tonumber(ARGV[3]))
"#;

/// Denylist the live access tokens of one family without revoking it. KEYS: the family's set.
const DENY_FAMILY_ACCESS: &str = r#"
local n = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + deny_live(ARGV[1], h, tonumber(ARGV[2]))
end
return n
"#;

/// One login attempt of a name: refused while locked; else the failure
/// count moves by one, and the attempt that reaches the limit takes the lock.
/// ARGV: now, after, first_secs, max_secs, memory_secs.
const LOGIN_ATTEMPT: &str = r#"
local now, after, first, max, memory = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local u = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if u > now then return {'locked', u} end
f = f + 1
local lock = 0
if f >= after then
  lock = first
  for _ = 1, math.min(f - after, 16) do lock = lock * 2 end
  if lock > max then lock = max end
  u = now + lock
else
  u = 0
end
redis.call('HSET', KEYS[1], 'f', f, 'u', u)
redis.call('EXPIRE', KEYS[1], memory)
return {'ok', lock}
"#;

/// Decide a pending device authorization once. ARGV: now, status, decision.
const DECIDE_DEVICE: &str = r#"
local h = redis.call('HMGET', KEYS[1], 'status', 'exp')
if h[1] ~= 'pending' or tonumber(h[2]) <= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'decision', ARGV[3])
return 1
"#;

/// A device's poll. ARGV: client, now, interval.
const POLL_DEVICE: &str = r#"
local h = redis.call('HMGET', KEYS[1], 'client', 'status', 'exp', 'last', 'decision')
if not h[1] or h[1] ~= ARGV[1] or h[2] == 'issued' then return {'invalid'} end
local now, interval = tonumber(ARGV[2]), tonumber(ARGV[3])
if tonumber(h[3]) <= now then return {'expired'} end
if h[2] == 'pending' then
  local last = tonumber(h[4])
  redis.call('HSET', KEYS[1], 'last', now)
  if last > 0 and now < last + interval then return {'slow_down'} end
  return {'pending'}
end
if h[2] == 'approved' then
  redis.call('HSET', KEYS[1], 'status', 'issued')
  return {'approved', h[5]}
end
if h[2] == 'denied' then return {'denied'} end
return {'invalid'}
"#;

/// Where the Redis token store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One node (`REDIS_URL`, `redis://` or `rediss://`).
    Node(String),
    /// A Redis Cluster, by some of its nodes (`REDIS_CLUSTER_URLS`); the
    /// client learns the others and follows slot moves and failovers.
    Cluster(Vec<String>),
    /// A primary watched by Redis Sentinel (`REDIS_SENTINEL_URLS`, the
    /// sentinels; `REDIS_SENTINEL_MASTER`, the name they monitor it by). The
    /// store asks the sentinels for the primary, and again when it is lost.
    Sentinel { urls: Vec<String>, master: String },
}

/// The shared connection: to one node (it reconnects by itself) or to a cluster.
#[derive(Clone)]
enum Con {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Con {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Con::Node(c) => c.req_packed_command(cmd),
            Con::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(&'a mut self, pipeline: &'a Pipeline, offset: usize, count: usize) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Con::Node(c) => c.req_packed_commands(pipeline, offset, count),
            Con::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Con::Node(c) => c.get_db(),
            Con::Cluster(c) => c.get_db(),
        }
    }
}

pub struct RedisStore {
    /// Shared with a Sentinel probe, which replaces it when the primary moves.
    link: std::sync::Arc<arc_swap::ArcSwap<Link>>,
    /// The CA of `TESSERA_REDIS_CA_FILE`, kept for reconnecting.
    ca_pem: Option<Vec<u8>>,
    /// Refuses commands at once while Redis is unreachable (`store::breaker`).
    breaker: std::sync::Arc<super::breaker::Breaker>,
    /// Distinguishes stores in the per-thread connection map.
    id: usize,
    prefix: String,
    /// [`PEEK_REFRESH`] as sent (`EVAL`, so that it can ride in a pipeline).
    peek_refresh: String,
    /// [`INDEX_FAMILY`] as sent (`EVAL`, inside `put_refresh`'s transaction).
    index_family: String,
    redeem_code: Script,
    rotate: Script,
    revoke_family: Script,
    deny_family_access: Script,
    login_attempt: Script,
    decide_device: Script,
    poll_device: Script,
}

/// How long a command may wait for a connection or an answer.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl RedisStore {
    /// One node at `url`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Self::open(&Target::Node(url.to_string()), prefix).await
    }

    pub async fn open(target: &Target, prefix: &str) -> Result<Self, StoreError> {
        Self::open_with_ca(target, prefix, None).await
    }

    /// `ca_pem`: the CA (PEM) that `rediss://` servers' certificates must
    /// chain to, instead of the system's roots.
    pub async fn open_with_ca(target: &Target, prefix: &str, ca_pem: Option<Vec<u8>>) -> Result<Self, StoreError> {
        if prefix.contains(['{', '}']) {
            return Err(StoreError::Setup(format!("TESSERA_REDIS_PREFIX {prefix:?} may not contain braces: they would change the hash slots")));
        }
        let (link, probe) = Link::open(target, ca_pem.as_deref(), 0).await?;
        let link = std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(link));
        let probe = probe.probe(&link);
        static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        // Families from before the tags exist only on a node that ran an older version.
        let legacy = link.load().client.is_some();
        let family_script = |body: &str| Script::new(&family_lua(body, legacy));
        Ok(RedisStore {
            peek_refresh: family_lua(PEEK_REFRESH, legacy),
            index_family: family_lua(INDEX_FAMILY, legacy),
            link,
            ca_pem,
            breaker: super::breaker::Breaker::new(super::breaker::Guards::Redis, probe),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            prefix: prefix.to_string(),
            redeem_code: Script::new(REDEEM_CODE),
            rotate: family_script(ROTATE),
            revoke_family: family_script(REVOKE_FAMILY),
            deny_family_access: family_script(DENY_FAMILY_ACCESS),
            login_attempt: Script::new(LOGIN_ATTEMPT),
            decide_device: Script::new(DECIDE_DEVICE),
            poll_device: Script::new(POLL_DEVICE),
        })
    }

    /// Whether this store speaks to a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.link.load().con, Con::Cluster(_))
    }
}

/// The shared connection and what made it: replaced whole when the
/// credentials change (`TokenStore::reconnect`) or Sentinel names a new primary.
struct Link {
    con: Con,
    /// One node: for each thread's own connection (`local`). `None` on a cluster.
    client: Option<redis::Client>,
    /// Counts the replacements: a thread's connection of an older one is dropped.
    generation: usize,
    /// The node's address (Sentinel: whether the primary moved).
    addr: String,
}

/// Sentinel: the breaker's probe asks the sentinels for the primary and,
/// when it moved, links the store to the new one before pinging it.
pub struct SentinelProbe {
    sentinel: tokio::sync::Mutex<redis::sentinel::SentinelClient>,
    link: std::sync::Arc<arc_swap::ArcSwap<Link>>,
}

#[async_trait]
impl super::breaker::Answers for SentinelProbe {
    async fn answers(&self) -> bool {
        let client = match self.sentinel.lock().await.async_get_client().await {
            Ok(c) => c,
            Err(_) => return false,
        };
        let addr = client.get_connection_info().addr().to_string();
        let current = self.link.load();
        if addr != current.addr {
            match Link::node(client, current.generation + 1).await {
                Ok(link) => {
                    log::warn!("redis sentinel names a new primary at {addr}: following it");
                    self.link.store(std::sync::Arc::new(link));
                }
                Err(_) => return false,
            }
        }
        let mut con = self.link.load().con.clone();
        redis::cmd("PING").query_async::<String>(&mut con).await.is_ok()
    }
}

/// What the breaker's probe is made of; a Sentinel probe needs the cell
/// the store keeps its link in, to replace it.
enum ProbeOf {
    Probe(super::breaker::Probe),
    Sentinel(redis::sentinel::SentinelClient),
}

impl ProbeOf {
    fn probe(self, cell: &std::sync::Arc<arc_swap::ArcSwap<Link>>) -> super::breaker::Probe {
        match self {
            ProbeOf::Probe(p) => p,
            ProbeOf::Sentinel(s) => super::breaker::Probe::Other(Box::new(SentinelProbe { sentinel: tokio::sync::Mutex::new(s), link: cell.clone() })),
        }
    }
}

/// The sentinels' client: the data nodes take the first sentinel URL's
/// password and database (a deployment gives both the same `requirepass`).
fn sentinel_client(urls: &[String], master: &str, ca_pem: Option<&[u8]>) -> Result<redis::sentinel::SentinelClient, StoreError> {
    use redis::IntoConnectionInfo;
    let first = urls.first().ok_or_else(|| StoreError::Setup("REDIS_SENTINEL_URLS names no sentinel".into()))?;
    let mut node = redis::sentinel::SentinelNodeConnectionInfo::default().set_redis_connection_info(first.as_str().into_connection_info()?.redis_settings().clone());
    if ca_pem.is_some() || first.starts_with("rediss://") {
        node = node.set_tls_mode(redis::TlsMode::Secure);
    }
    Ok(redis::sentinel::SentinelClient::build(urls.to_vec(), master, Some(node), redis::sentinel::SentinelServerType::Master)?)
}

impl Link {
    /// One node, through `client`.
    async fn node(client: redis::Client, generation: usize) -> Result<Link, StoreError> {
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let con = ConnectionManager::new_with_config(client.clone(), cfg).await?;
        let addr = client.get_connection_info().addr().to_string();
        Ok(Link { con: Con::Node(con), client: Some(client), generation, addr })
    }

    /// Connect to `target`; what the breaker's probe needs besides.
    async fn open(target: &Target, ca_pem: Option<&[u8]>, generation: usize) -> Result<(Link, ProbeOf), StoreError> {
        let certs = || redis::TlsCertificates { client_tls: None, root_cert: ca_pem.map(<[u8]>::to_vec) };
        Ok(match target {
            Target::Node(url) => {
                let client = match ca_pem {
                    Some(_) if url.starts_with("rediss://") => redis::Client::build_with_tls(url.as_str(), certs())?,
                    Some(_) => return Err(StoreError::Setup("TESSERA_REDIS_CA_FILE is set, but REDIS_URL is not rediss://".into())),
                    None => redis::Client::open(url.as_str())?,
                };
                (Link::node(client.clone(), generation).await?, ProbeOf::Probe(super::breaker::Probe::Node(client)))
            }
            Target::Sentinel { urls, master } => {
                let mut sentinel = sentinel_client(urls, master, ca_pem)?;
                let client = sentinel.async_get_client().await?;
                (Link::node(client, generation).await?, ProbeOf::Sentinel(sentinel))
            }
            Target::Cluster(urls) => {
                let mut builder = redis::cluster::ClusterClientBuilder::new(urls.iter().map(String::as_str));
                if ca_pem.is_some() {
                    builder = builder.certs(certs());
                }
                let client = builder
                    .connection_timeout(TIMEOUT)
                    .response_timeout(TIMEOUT)
                    // A failover takes the cluster a few seconds: retry a
                    // moved or refused command briefly, then answer 503 and
                    // let the breaker's probe wait for the new primary.
                    .retries(3)
                    .min_retry_wait(50)
                    .max_retry_wait(400)
                    .build()?;
                let con = client.get_async_connection().await?;
                (Link { con: Con::Cluster(con), client: None, generation, addr: String::new() }, ProbeOf::Probe(super::breaker::Probe::Cluster(client)))
            }
        })
    }
}

thread_local! {
    /// One connection per store and thread, for the per-request round: its
    /// driver runs on the calling thread's runtime (an actix worker), so a
    /// request does not hop to another thread and back for each Redis call —
    /// the profile showed those context switches at ~8 % of the token
    /// endpoint's CPU. (One node only: a cluster connection is shared.)
    static LOCAL: std::cell::RefCell<std::collections::HashMap<usize, (usize, redis::aio::MultiplexedConnection)>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The parts of a round; on a cluster each goes to its own slot's node.
enum Part<'a> {
    Rate(&'a str, i64, i64),
    Deny(&'a str),
    Refresh(&'a str),
    /// The epoch of that name: `clients` or `grants`.
    Epoch(&'static str),
}

impl RedisStore {
    /// This thread's connection (made on first use), or `None` when it cannot be made.
    async fn local(&self) -> Option<redis::aio::MultiplexedConnection> {
        let link = self.link.load();
        let client = link.client.as_ref()?;
        if let Some((generation, c)) = LOCAL.with(|m| m.borrow().get(&self.id).cloned()) {
            if generation == link.generation {
                return Some(c);
            }
        }
        let cfg = redis::AsyncConnectionConfig::new().set_connection_timeout(Some(TIMEOUT)).set_response_timeout(Some(TIMEOUT));
        let c = client.get_multiplexed_async_connection_with_config(&cfg).await.ok()?;
        LOCAL.with(|m| m.borrow_mut().insert(self.id, (link.generation, c.clone())));
        Some(c)
    }

    /// The shared connection, behind the breaker.
    fn con(&self) -> super::breaker::Guarded<Con> {
        super::breaker::Guarded { inner: self.link.load().con.clone(), breaker: self.breaker.clone() }
    }

    fn drop_local(&self) {
        LOCAL.with(|m| m.borrow_mut().remove(&self.id));
    }

    /// Both windows of a rate key share its hash tag: one slot, one atomic pipeline.
    fn rate_key(&self, key: &str, window: i64) -> String {
        format!("{}rate:{{{key}}}:{window}", self.prefix)
    }

    fn push_part(&self, pipe: &mut Pipeline, part: &Part<'_>) {
        match *part {
            // Count `cost` in `window`'s counter (kept two windows) and read
            // the previous window's: two replies, current then previous.
            Part::Rate(key, window, cost) => {
                let cur = self.rate_key(key, window);
                pipe.incr(&cur, cost).pexpire(&cur, 2 * crate::rate_limit::WINDOW_MS).ignore().get(self.rate_key(key, window - 1));
            }
            Part::Deny(jti) => {
                pipe.exists(self.tagged("deny", jti));
            }
            // A refresh token: one reply, for [`parse_refresh`].
            Part::Refresh(handle) => {
                pipe.cmd("EVAL").arg(&self.peek_refresh).arg(1).arg(self.tagged("rt", handle)).arg(&self.prefix).arg(handle);
            }
            Part::Epoch(name) => {
                pipe.get(self.key(name, "epoch"));
            }
        }
    }

    /// The replies of `parts`, in order: one pipeline on one node; on a
    /// cluster one request per part, all at once (a pipeline may not span slots).
    async fn query_parts(&self, parts: &[Part<'_>]) -> Result<Vec<Value>, StoreError> {
        if self.is_cluster() {
            let pipes: Vec<Pipeline> = parts
                .iter()
                .map(|part| {
                    let mut pipe = redis::pipe();
                    self.push_part(&mut pipe, part);
                    pipe
                })
                .collect();
            let replies = futures_util::future::try_join_all(pipes.iter().map(|pipe| async move {
                let mut con = self.con();
                pipe.query_async::<Vec<Value>>(&mut con).await
            }))
            .await?;
            return Ok(replies.into_iter().flatten().collect());
        }
        // No MULTI: each command is atomic by itself and the answer needs no snapshot.
        let mut pipe = redis::pipe();
        for part in parts {
            self.push_part(&mut pipe, part);
        }
        if self.breaker.is_open() {
            return Err(super::breaker::Breaker::refusal().into());
        }
        let Some(local) = self.local().await else {
            return Ok(pipe.query_async(&mut self.con()).await?);
        };
        match pipe.query_async(&mut super::breaker::Guarded { inner: local, breaker: self.breaker.clone() }).await {
            Ok(v) => Ok(v),
            Err(e) => {
                // A broken thread connection: forget it; the shared one reconnects by itself.
                self.drop_local();
                if !(e.is_io_error() || e.is_connection_dropped() || e.is_timeout()) {
                    return Err(e.into());
                }
                Ok(pipe.query_async(&mut self.con()).await?)
            }
        }
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// The key of an id that may belong to a family (`store::in_family`):
    /// `F.rest` is keyed `kind:{F}.rest`, in the family's slot; any other id as [`Self::key`].
    fn tagged(&self, kind: &str, id: &str) -> String {
        match super::family_of(id) {
            Some(f) => format!("{}{kind}:{{{f}}}{}", self.prefix, &id[f.len()..]),
            None => self.key(kind, id),
        }
    }

    /// `fam:{F}`, `famof:{F}` and `famrev:{F}`.
    fn family_key(&self, kind: &str, family_id: &str) -> String {
        format!("{}{kind}:{{{family_id}}}", self.prefix)
    }

    fn uc_key(&self, user_id: &str, client_id: &str) -> String {
        format!("{}uc:{user_id}|{client_id}", self.prefix)
    }

    /// Index a family under its user at its client, for as long as it lives:
    /// the index lives as long as its longest family (never shortened: GT;
    /// a new index gets its first expiry: NX), so that revoking the user's
    /// access still finds a family rotated for longer than the refresh lifetime.
    async fn index_family(&self, rec: &RefreshRecord, keep: i64) -> Result<(), StoreError> {
        let uc = self.uc_key(&rec.user_id, &rec.client_id);
        let _: () = redis::pipe()
            .atomic()
            .sadd(&uc, &rec.family_id)
            .ignore()
            .cmd("EXPIREAT")
            .arg(&uc)
            .arg(keep)
            .arg("GT")
            .ignore()
            .cmd("EXPIREAT")
            .arg(&uc)
            .arg(keep)
            .arg("NX")
            .ignore()
            .query_async(&mut self.con())
            .await?;
        Ok(())
    }

    /// A cluster: forget up to [`INDEX_SAMPLE`] sampled families of a user's
    /// index at a client whose set has expired (what [`INDEX_FAMILY`] does on
    /// one node; here each family's key is in a slot of its own). A family
    /// read as ended cannot come back: its handles are never issued again.
    async fn forget_ended_families(&self, user_id: &str, client_id: &str, new_family: &str) -> Result<(), StoreError> {
        let uc = self.uc_key(user_id, client_id);
        let sample: Vec<String> = self.con().srandmember_multiple(&uc, INDEX_SAMPLE).await?;
        let alive = futures_util::future::try_join_all(sample.iter().filter(|f| f.as_str() != new_family).map(|f| async move {
            let mut con = self.con();
            let n: i64 = con.exists(self.family_key("fam", f)).await?;
            Ok::<_, StoreError>((f, n > 0))
        }))
        .await?;
        let ended: Vec<&String> = alive.into_iter().filter(|(_, alive)| !alive).map(|(f, _)| f).collect();
        if !ended.is_empty() {
            let _: i64 = self.con().srem(&uc, ended).await?;
        }
        Ok(())
    }

    /// The epoch of that name (`{prefix}{name}:epoch`).
    async fn epoch(&self, name: &str) -> Result<Option<String>, StoreError> {
        let mut con = self.con();
        let key = self.key(name, "epoch");
        if let Some(e) = con.get::<_, Option<String>>(&key).await? {
            return Ok(Some(e));
        }
        // First use, or Redis lost its data: start a fresh random epoch (never
        // a counter that could come back to a value some cache still holds).
        let _: Option<String> = redis::cmd("SET").arg(&key).arg(crate::crypto::random_token(12)).arg("NX").query_async(&mut con).await?;
        Ok(con.get(&key).await?)
    }

    async fn bump_epoch(&self, name: &str) -> Result<(), StoreError> {
        let mut con = self.con();
        let _: () = con.set(self.key(name, "epoch"), crate::crypto::random_token(12)).await?;
        Ok(())
    }

    /// The families of a user at a client.
    async fn user_client_families(&self, user_id: &str, client_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.con().smembers(self.uc_key(user_id, client_id)).await?)
    }
}

/// What [`PEEK_REFRESH`] answered, as of `now`.
fn parse_refresh(reply: redis::Value, token_hash: &str, now: i64) -> Result<RefreshState, StoreError> {
    let h: std::collections::HashMap<String, String> =
        redis::from_redis_value(reply).map_err(|e| StoreError::Corrupt(format!("unexpected reply: {e}")))?;
    if h.is_empty() {
        return Ok(RefreshState::Invalid);
    }
    if h.contains_key("trimmed") {
        // used, and known now only by its family: enough to recognise reuse
        let rec = RefreshRecord {
            token_hash: token_hash.to_string(),
            family_id: field(&h, "family")?.to_string(),
            client_id: field(&h, "client")?.to_string(),
            user_id: field(&h, "user")?.to_string(),
            data: String::new(),
            expires_at: 0,
            access_jti: String::new(),
            access_exp: 0,
        };
        return Ok(if h.contains_key("revoked") { RefreshState::Invalid } else { RefreshState::Used(rec) });
    }
    let rec = RefreshRecord {
        token_hash: token_hash.to_string(),
        family_id: field(&h, "family")?.to_string(),
        client_id: field(&h, "client")?.to_string(),
        user_id: field(&h, "user")?.to_string(),
        // a used token's data is dropped at its rotation
        data: h.get("data").cloned().unwrap_or_default(),
        expires_at: num(&h, "exp")?,
        access_jti: field(&h, "jti")?.to_string(),
        access_exp: num(&h, "jexp")?,
    };
    Ok(if h.contains_key("revoked") || rec.expires_at <= now {
        RefreshState::Invalid
    } else if field(&h, "used")? == "1" {
        RefreshState::Used(rec)
    } else {
        RefreshState::Active(rec)
    })
}

fn field<'a>(h: &'a std::collections::HashMap<String, String>, name: &str) -> Result<&'a str, StoreError> {
    h.get(name).map(String::as_str).ok_or_else(|| StoreError::Corrupt(format!("refresh token without {name}")))
}

fn num(h: &std::collections::HashMap<String, String>, name: &str) -> Result<i64, StoreError> {
    field(h, name)?.parse().map_err(|_| StoreError::Corrupt(format!("refresh token {name} not a number")))
}

#[async_trait]
impl TokenStore for RedisStore {
    fn kind(&self) -> &'static str {
        match self.link.load().con {
            Con::Node(_) => "redis",
            Con::Cluster(_) => "redis-cluster",
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut con = self.con();
        let _: String = redis::cmd("PING").query_async(&mut con).await?;
        Ok(())
    }

    async fn deny(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut con = self.con();
        let until = expires_at + DENY_MARGIN_SECS;
        let _: () = redis::cmd("SET").arg(self.tagged("deny", jti)).arg(1).arg("EXAT").arg(until).query_async(&mut con).await?;
        Ok(())
    }

    async fn is_denied(&self, jti: &str) -> Result<bool, StoreError> {
        let mut con = self.con();
        Ok(con.exists(self.tagged("deny", jti)).await?)
    }

    async fn put_code(&self, code_hash: &str, data: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut con = self.con();
        let k = self.key("code", code_hash);
        let _: () = redis::pipe()
            .atomic()
            .hset_multiple(&k, &[("data", data), ("exp", &expires_at.to_string()), ("used", "0")])
            .expire_at(&k, expires_at + REPLAY_MEMORY_SECS)
            .query_async(&mut con)
            .await?;
        Ok(())
    }

    async fn redeem_code(&self, code_hash: &str, now: i64, issued: &str) -> Result<CodeRedemption, StoreError> {
        let mut con = self.con();
        let r: Vec<String> =
            self.redeem_code.key(self.key("code", code_hash)).arg(now).arg(issued).invoke_async(&mut con).await?;
        Ok(match r.first().map(String::as_str) {
            Some("ok") => CodeRedemption::Redeemed(r.get(1).cloned().unwrap_or_default()),
            Some("replayed") => CodeRedemption::Replayed(r.get(1).filter(|s| !s.is_empty()).cloned()),
            _ => CodeRedemption::Invalid,
        })
    }

    async fn seal_code_family(&self, _code_hash: &str, _family_id: &str, _now: i64) -> Result<(), StoreError> {
        Ok(())
    }

    async fn put_refresh(&self, rec: &RefreshRecord) -> Result<(), StoreError> {
        if super::family_of(&rec.token_hash) != Some(rec.family_id.as_str()) {
            return Err(StoreError::Corrupt("a refresh token's handle must carry its family (store::refresh_handle)".into()));
        }
        let k = self.tagged("rt", &rec.token_hash);
        let fam = self.family_key("fam", &rec.family_id);
        let famof = self.family_key("famof", &rec.family_id);
        let keep = rec.expires_at + REPLAY_MEMORY_SECS;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &k,
                &[
                    ("family", rec.family_id.as_str()),
                    ("client", &rec.client_id),
                    ("user", &rec.user_id),
                    ("data", &rec.data),
                    ("exp", &rec.expires_at.to_string()),
                    ("jti", &rec.access_jti),
                    ("jexp", &rec.access_exp.to_string()),
                    ("used", "0"),
                ],
            )
            .expire_at(&k, keep)
            .sadd(&fam, &rec.token_hash)
            .expire_at(&fam, keep)
            .hset_multiple(&famof, &[("client", rec.client_id.as_str()), ("user", &rec.user_id)])
            .expire_at(&famof, keep);
        let cluster = self.is_cluster();
        if !cluster {
            // one node: the index in the same round trip
            let uc = self.uc_key(&rec.user_id, &rec.client_id);
            pipe.cmd("EVAL").arg(&self.index_family).arg(1).arg(uc).arg(&self.prefix).arg(&rec.family_id).arg(keep).arg(INDEX_SAMPLE).ignore();
        }
        let _: () = pipe.query_async(&mut self.con()).await?;
        if !cluster {
            return Ok(());
        }
        // a cluster keeps the index in another slot
        self.index_family(rec, keep).await?;
        if let Err(e) = self.forget_ended_families(&rec.user_id, &rec.client_id, &rec.family_id).await {
            log::warn!("the index of families at client {} was not trimmed: {e}", rec.client_id);
        }
        Ok(())
    }

    async fn get_refresh(&self, token_hash: &str, now: i64) -> Result<RefreshState, StoreError> {
        let reply = self.query_parts(&[Part::Refresh(token_hash)]).await?.into_iter().next().unwrap_or(Value::Nil);
        parse_refresh(reply, token_hash, now)
    }

    async fn rotate_refresh(&self, old_hash: &str, new: &RefreshRecord, now: i64) -> Result<Rotation, StoreError> {
        if super::family_of(&new.token_hash) != Some(new.family_id.as_str()) {
            return Err(StoreError::Corrupt("a refresh token's handle must carry its family (store::refresh_handle)".into()));
        }
        match super::family_of(old_hash) {
            Some(f) if f != new.family_id => return Ok(Rotation::Invalid),
            // an untagged handle is from before the tags: never on a cluster
            None if self.is_cluster() => return Ok(Rotation::Invalid),
            _ => {}
        }
        let mut con = self.con();
        let cluster = self.is_cluster();
        let mut inv = self.rotate.key(self.tagged("rt", old_hash));
        inv.key(self.tagged("rt", &new.token_hash));
        if !cluster {
            inv.key(self.uc_key(&new.user_id, &new.client_id));
        }
        let r: String = inv
            .arg(&self.prefix)
            .arg(now)
            .arg(&new.family_id)
            .arg(&new.client_id)
            .arg(&new.user_id)
            .arg(&new.data)
            .arg(new.expires_at)
            .arg(&new.access_jti)
            .arg(new.access_exp)
            .arg(&new.token_hash)
            .arg(REPLAY_MEMORY_SECS)
            .arg(old_hash)
            .invoke_async(&mut con)
            .await?;
        Ok(match r.as_str() {
            "rotated" => {
                // On a cluster: the rotation is done and the family already
                // indexed (by `put_refresh`); this only lengthens the index's
                // life. Failing the request now would have the client retry a
                // token that is already used, which is reuse and revokes the family.
                if !cluster {
                    return Ok(Rotation::Rotated);
                }
                if let Err(e) = self.index_family(new, new.expires_at + REPLAY_MEMORY_SECS).await {
                    log::warn!("refresh family {} rotated, but its index was not extended: {e}", new.family_id);
                }
                Rotation::Rotated
            }
            s => match s.strip_prefix("reused:") {
                Some(fam) => Rotation::Reused { family_id: fam.to_string() },
                None => Rotation::Invalid,
            },
        })
    }

    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError> {
        let mut con = self.con();
        Ok(self.revoke_family.key(self.family_key("famrev", family_id)).arg(&self.prefix).arg(family_id).arg(now).invoke_async(&mut con).await?)
    }

    async fn revoke_user_client(&self, user_id: &str, client_id: &str, now: i64) -> Result<u64, StoreError> {
        // Family by family, each atomically in its own slot; the index then
        // forgets the families read (one indexed meanwhile stays, as it would
        // had it come a moment later).
        let families = self.user_client_families(user_id, client_id).await?;
        let mut n = 0;
        for f in &families {
            n += self.revoke_family(f, now).await?;
        }
        if !families.is_empty() {
            let _: i64 = self.con().srem(self.uc_key(user_id, client_id), &families).await?;
        }
        Ok(n)
    }

    async fn deny_user_client_access(&self, user_id: &str, client_id: &str, now: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        for f in self.user_client_families(user_id, client_id).await? {
            let mut con = self.con();
            let denied: u64 = self.deny_family_access.key(self.family_key("fam", &f)).arg(&self.prefix).arg(now).invoke_async(&mut con).await?;
            n += denied;
        }
        Ok(n)
    }

    async fn rate_add(&self, key: &str, window: i64, cost: i64) -> Result<(i64, i64), StoreError> {
        let mut con = self.con();
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.push_part(&mut pipe, &Part::Rate(key, window, cost));
        let (c, p): (i64, Option<i64>) = pipe.query_async(&mut con).await?;
        Ok((p.unwrap_or(0), c))
    }

    async fn rate_refund(&self, key: &str, window: i64, cost: i64) -> Result<(), StoreError> {
        let mut con = self.con();
        let _: i64 = con.decr(self.rate_key(key, window), cost).await?;
        Ok(())
    }

    async fn add_usage(&self, client_id: &str, n: i64) -> Result<(), StoreError> {
        let mut con = self.con();
        let _: i64 = con.incr(self.key("usage", client_id), n).await?;
        Ok(())
    }

    async fn usage(&self, client_id: &str) -> Result<i64, StoreError> {
        let mut con = self.con();
        let n: Option<i64> = con.get(self.key("usage", client_id)).await?;
        Ok(n.unwrap_or(0))
    }

    async fn round(&self, q: crate::store::Round<'_>) -> Result<crate::store::RoundAnswer, StoreError> {
        let mut parts = Vec::with_capacity(4);
        if let Some((key, window, cost)) = q.rate {
            parts.push(Part::Rate(key, window, cost));
        }
        if let Some(jti) = q.deny {
            parts.push(Part::Deny(jti));
        }
        if let Some((hash, _)) = q.refresh {
            parts.push(Part::Refresh(hash));
        }
        parts.push(Part::Epoch("clients"));
        if q.grants {
            parts.push(Part::Epoch("grants"));
        }
        let values = self.query_parts(&parts).await?;
        let mut it = values.into_iter();
        let parse = |e: redis::ParsingError| StoreError::Corrupt(format!("unexpected reply: {e}"));
        let next_int = |it: &mut std::vec::IntoIter<redis::Value>| -> Result<i64, StoreError> {
            Ok(redis::from_redis_value::<Option<i64>>(it.next().unwrap_or(redis::Value::Nil)).map_err(parse)?.unwrap_or(0))
        };
        let mut a = crate::store::RoundAnswer::default();
        if q.rate.is_some() {
            a.cur = next_int(&mut it)?;
            a.prev = next_int(&mut it)?;
        }
        if q.deny.is_some() {
            a.denied = next_int(&mut it)? == 1;
        }
        if let Some((hash, now)) = q.refresh {
            a.refresh = Some(parse_refresh(it.next().unwrap_or(redis::Value::Nil), hash, now)?);
        }
        let grants = q.grants.then_some(("grants", &mut a.grants_epoch));
        for (name, epoch) in std::iter::once(("clients", &mut a.epoch)).chain(grants) {
            *epoch = redis::from_redis_value::<Option<String>>(it.next().unwrap_or(redis::Value::Nil)).map_err(parse)?;
            if epoch.is_none() {
                *epoch = self.epoch(name).await?;
            }
        }
        Ok(a)
    }

    async fn clients_epoch(&self) -> Result<Option<String>, StoreError> {
        self.epoch("clients").await
    }

    async fn bump_clients_epoch(&self) -> Result<(), StoreError> {
        self.bump_epoch("clients").await
    }

    async fn bump_grants_epoch(&self) -> Result<(), StoreError> {
        self.bump_epoch("grants").await
    }

    async fn put_pushed(&self, id_hash: &str, data: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut con = self.con();
        let value = format!("{expires_at}:{data}");
        let _: () = redis::cmd("SET").arg(self.key("par", id_hash)).arg(value).arg("EXAT").arg(expires_at).query_async(&mut con).await?;
        Ok(())
    }

    async fn take_pushed(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let mut con = self.con();
        // GETDEL: one taker gets it, atomically. "{expires_at}:{data}": the
        // caller's clock decides expiry too.
        let v: Option<String> = redis::cmd("GETDEL").arg(self.key("par", id_hash)).query_async(&mut con).await?;
        Ok(v.and_then(|v| {
            let (exp, data) = v.split_once(':')?;
            (exp.parse::<i64>().ok()? > now).then(|| data.to_string())
        }))
    }

    async fn use_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        let mut con = self.con();
        let set: Option<String> = redis::cmd("SET").arg(self.key("once", key)).arg(1).arg("NX").arg("EXAT").arg(expires_at).query_async(&mut con).await?;
        Ok(set.is_some())
    }

    async fn put_device(&self, rec: &DeviceRecord) -> Result<bool, StoreError> {
        let mut con = self.con();
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.key("devu", &rec.user_code))
            .arg(&rec.device_hash)
            .arg("NX")
            .arg("EXAT")
            .arg(rec.expires_at)
            .query_async(&mut con)
            .await?;
        if taken.is_none() {
            return Ok(false);
        }
        let key = self.key("dev", &rec.device_hash);
        let _: () = redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[
                    ("user", rec.user_code.as_str()),
                    ("client", rec.client_id.as_str()),
                    ("data", rec.data.as_str()),
                    ("status", "pending"),
                    ("last", "0"),
                    ("exp", &rec.expires_at.to_string()),
                ],
            )
            .ignore()
            .cmd("EXPIREAT")
            .arg(&key)
            .arg(rec.expires_at + REPLAY_MEMORY_SECS)
            .ignore()
            .query_async(&mut con)
            .await?;
        Ok(true)
    }

    async fn pending_device(&self, user_code: &str, now: i64) -> Result<Option<DeviceRecord>, StoreError> {
        let mut con = self.con();
        let Some(device_hash) = con.get::<_, Option<String>>(self.key("devu", user_code)).await? else { return Ok(None) };
        let h: std::collections::HashMap<String, String> = con.hgetall(self.key("dev", &device_hash)).await?;
        let get = |k: &str| h.get(k).cloned().ok_or_else(|| StoreError::Corrupt(format!("device authorization without {k}")));
        if h.is_empty() || get("status")? != "pending" {
            return Ok(None);
        }
        let expires_at: i64 = get("exp")?.parse().map_err(|_| StoreError::Corrupt("device exp".into()))?;
        Ok((expires_at > now).then_some(DeviceRecord { device_hash, user_code: user_code.to_string(), client_id: get("client")?, data: get("data")?, expires_at }))
    }

    async fn decide_device(&self, device_hash: &str, approval: Option<&str>, now: i64) -> Result<bool, StoreError> {
        let mut con = self.con();
        let status = if approval.is_some() { "approved" } else { "denied" };
        let n: i64 = self.decide_device.key(self.key("dev", device_hash)).arg(now).arg(status).arg(approval.unwrap_or("")).invoke_async(&mut con).await?;
        Ok(n == 1)
    }

    async fn poll_device(&self, device_hash: &str, client_id: &str, now: i64, interval: i64) -> Result<DevicePoll, StoreError> {
        let mut con = self.con();
        let reply: Vec<String> = self.poll_device.key(self.key("dev", device_hash)).arg(client_id).arg(now).arg(interval).invoke_async(&mut con).await?;
        Ok(match reply.first().map(String::as_str) {
            Some("pending") => DevicePoll::Pending,
            Some("slow_down") => DevicePoll::SlowDown,
            Some("approved") => DevicePoll::Approved(reply.get(1).cloned().unwrap_or_default()),
            Some("denied") => DevicePoll::Denied,
            Some("expired") => DevicePoll::Expired,
            _ => DevicePoll::Invalid,
        })
    }

    async fn login_attempt(&self, name: &str, now: i64, lock: &crate::rate_limit::LoginLock) -> Result<LoginAttempt, StoreError> {
        let mut con = self.con();
        let (what, n): (String, i64) = self
            .login_attempt
            .key(self.key("login", name))
            .arg(now)
            .arg(lock.after)
            .arg(lock.first_secs)
            .arg(lock.max_secs)
            .arg(lock.memory_secs)
            .invoke_async(&mut con)
            .await?;
        Ok(match what.as_str() {
            "locked" => LoginAttempt::Locked { until: n },
            _ => LoginAttempt::Allowed { locks_for: (n > 0).then_some(n) },
        })
    }

    async fn login_succeeded(&self, name: &str) -> Result<(), StoreError> {
        let mut con = self.con();
        let _: i64 = con.del(self.key("login", name)).await?;
        Ok(())
    }

    async fn put_session(&self, id_hash: &str, user_id: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut con = self.con();
        let index = self.key("usess", user_id);
        // The index first (its own slot): a session that exists is always
        // named by it, so ending every session of the user cannot miss one.
        let _: () = redis::pipe()
            .atomic()
            .sadd(&index, id_hash)
            .ignore()
            .cmd("EXPIREAT")
            .arg(&index)
            .arg(expires_at)
            .arg("GT")
            .ignore()
            .cmd("EXPIREAT")
            .arg(&index)
            .arg(expires_at)
            .arg("NX")
            .ignore()
            .query_async(&mut con)
            .await?;
        let _: () = redis::cmd("SET").arg(self.key("sess", id_hash)).arg(format!("{expires_at}:{user_id}")).arg("EXAT").arg(expires_at).query_async(&mut con).await?;
        Ok(())
    }

    async fn session_user(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let mut con = self.con();
        let v: Option<String> = con.get(self.key("sess", id_hash)).await?;
        // "{expires_at}:{user}": the expiry is checked against the caller's clock too.
        Ok(v.and_then(|v| {
            let (exp, user) = v.split_once(':')?;
            (exp.parse::<i64>().ok()? > now).then(|| user.to_string())
        }))
    }

    async fn end_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut con = self.con();
        let _: i64 = con.del(self.key("sess", id_hash)).await?;
        Ok(())
    }

    async fn user_sessions(&self, user_id: &str, _now: i64) -> Result<Vec<String>, StoreError> {
        let mut con = self.con();
        let all: Vec<String> = con.smembers(self.key("usess", user_id)).await?;
        let mut live = Vec::with_capacity(all.len());
        for h in all {
            if con.exists::<_, bool>(self.key("sess", &h)).await? {
                live.push(h);
            }
        }
        Ok(live)
    }

    async fn add_session_client(&self, id_hash: &str, client_id: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut con = self.con();
        let key = self.key("sessc", id_hash);
        let _: () = redis::pipe().atomic().sadd(&key, client_id).ignore().cmd("EXPIREAT").arg(&key).arg(expires_at).ignore().query_async(&mut con).await?;
        Ok(())
    }

    async fn session_clients(&self, id_hash: &str, _now: i64) -> Result<Vec<String>, StoreError> {
        let mut con = self.con();
        Ok(con.smembers(self.key("sessc", id_hash)).await?)
    }

    async fn end_user_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        // Session by session (each is its own key, in its own slot); the
        // index then forgets those it named.
        let index = self.key("usess", user_id);
        let mut con = self.con();
        let all: Vec<String> = con.smembers(&index).await?;
        let mut n = 0;
        for h in &all {
            let gone: u64 = con.del(self.key("sess", h)).await?;
            n += gone;
        }
        if !all.is_empty() {
            let _: i64 = con.srem(&index, &all).await?;
        }
        Ok(n)
    }

    async fn purge_expired(&self, _now: i64) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn reconnect(&self, target: &Target) -> Result<(), StoreError> {
        if matches!(target, Target::Cluster(_)) != self.is_cluster() {
            return Err(StoreError::Setup("a running instance cannot switch between one Redis node and a cluster: restart it".into()));
        }
        let (link, probe) = Link::open(target, self.ca_pem.as_deref(), self.link.load().generation + 1).await?;
        self.link.store(std::sync::Arc::new(link));
        self.breaker.set_probe(probe.probe(&self.link));
        Ok(())
    }
}
