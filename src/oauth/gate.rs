//! The gate every metered request passes: one store round trip (rate count,
//! clients epoch, denylist, the presented refresh token), then the checks of
//! the caller (client authentication, or a bearer token's validity), then
//! the rate decision. Whatever fails after the count gives the count back,
//! so a client that cannot authenticate, or a revoked token, spends nobody's
//! budget; a client over its limit is refused with the decision that says
//! when to retry (and one audit row per client and window).
//!
//! Counting happens before the checks (and is refunded when they fail) so
//! that one round trip suffices on the hot path.
//!
//! Clients are cached per instance and re-read when the store's clients
//! epoch moves (every management change bumps it) or after 30 s.
use std::sync::Arc;
use std::time::Duration;

use crate::db::Db;
use crate::epoch_cache::EpochCache;

use super::client_auth::{self, Presented};
use crate::error::{Error, Result};
use crate::rate_limit::{self, Decision, Endpoint, Policy};
use crate::registry::audit;
use crate::registry::clients::{self, Client, ClientType};
use crate::store::{Round, RoundAnswer, TokenStore};

/// A cached client is re-read at least this often, whatever the epoch says.
const CLIENT_CACHE_TTL: Duration = Duration::from_secs(30);
const CLIENT_CACHE_MAX: usize = 100_000;

pub struct Gate {
    db: Db,
    store: Arc<dyn TokenStore>,
    policy: Policy,
    /// Clients by id, each with the store's clients epoch it was read at
    /// (only with a store that has one: Redis, or the embedded default's file).
    cache: EpochCache<String, Arc<Client>, String>,
    /// Counts refusals per client for the charts.
    tally: Arc<crate::registry::usage::Tally>,
    /// Public keys of `private_key_jwt` clients, and where assertions may be addressed.
    assertions: Assertions,
}

/// What checking a client assertion needs beside the client.
pub struct Assertions {
    pub keys: super::client_assertion::ClientKeys,
    pub issuer: String,
    pub base: String,
}

/// What the store asks besides the rate count.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ask<'a> {
    /// Is this access-token id denylisted?
    pub jti: Option<&'a str>,
    /// Read this refresh token (by hash).
    pub refresh: Option<&'a str>,
    /// Read the grants epoch: the request checks a user's consent
    /// (`registry::consents::GrantCache`).
    pub grants: bool,
}

/// A request counted (or not, for unmetered endpoints) and waiting for its checks.
pub struct Counted {
    pub answer: RoundAnswer,
    key: Option<RateKey>,
}

struct RateKey {
    key: String,
    window: i64,
    elapsed: i64,
    cost: i64,
    endpoint: Endpoint,
}

/// A request that passed: its client and the rate decision to report.
#[derive(Debug)]
pub struct Passed {
    pub client: Arc<Client>,
    pub rate: Option<Decision>,
    pub answer: RoundAnswer,
}

impl Gate {
    pub fn new(db: Db, store: Arc<dyn TokenStore>, policy: Policy, tally: Arc<crate::registry::usage::Tally>, assertions: Assertions) -> Gate {
        Gate { db, store, policy, cache: EpochCache::new(CLIENT_CACHE_TTL, CLIENT_CACHE_MAX, |hit| crate::metrics::METRICS.cache_lookup("clients", hit)), tally, assertions }
    }

    /// Count a request against `client_id` on `endpoint` (none: count
    /// nothing) and ask the store what `ask` names, in one round trip. When
    /// the store is down, limits fail open if configured so (and only when
    /// no denylist answer is needed), else the error is the caller's 503.
    pub async fn count(&self, client_id: &str, endpoint: Option<Endpoint>, ask: Ask<'_>) -> Result<Counted> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let (window, elapsed) = rate_limit::window_of(now_ms);
        let key = endpoint.map(|endpoint| RateKey {
            key: format!("client:{client_id}"),
            window,
            elapsed,
            cost: self.policy.cost(endpoint),
            endpoint,
        });
        let q = Round {
            rate: key.as_ref().map(|k| (k.key.as_str(), k.window, k.cost)),
            deny: ask.jti,
            refresh: ask.refresh.map(|h| (h, now_ms.div_euclid(1000))),
            grants: ask.grants,
        };
        let started = std::time::Instant::now();
        let answer = self.store.round(q).await;
        crate::metrics::METRICS.store_round(self.store.kind(), started.elapsed());
        match answer {
            Ok(answer) => Ok(Counted { answer, key }),
            Err(e) if self.policy.fail_open && key.is_some() && ask.jti.is_none() => {
                log::warn!("token store unavailable, rate limits failing open: {e}");
                self.forget_clients();
                Ok(Counted { answer: RoundAnswer::default(), key: None })
            }
            Err(e) => {
                self.forget_clients();
                Err(e.into())
            }
        }
    }

    /// Settle a counted request with the outcome of its checks: a failed
    /// check gives the count back; a passed one is decided against the
    /// client's limit (refunded and refused when over it).
    pub async fn settle(&self, counted: Counted, checked: Result<Arc<Client>>) -> Result<Passed> {
        let client = match checked {
            Ok(c) => c,
            Err(e) => {
                self.refund(counted.key.as_ref()).await;
                return Err(e);
            }
        };
        crate::logctx::set_client(&client.client_id);
        let Some(key) = counted.key else { return Ok(Passed { client, rate: None, answer: counted.answer }) };
        let limit = self.policy.limit_for(&client.tier, client.rate_limit);
        let d = rate_limit::decide(counted.answer.prev, counted.answer.cur, key.elapsed, limit, key.cost);
        if !d.allowed {
            self.refund(Some(&key)).await;
            self.rate_refused(&client, key.window, limit, key.endpoint).await;
            return Err(Error::RateLimited(d));
        }
        Ok(Passed { client, rate: Some(d), answer: counted.answer })
    }

    /// The whole gate of a client-authenticated endpoint: count, authenticate
    /// `presented` (a confidential client only, when `confidential_only`), decide.
    pub async fn admit(&self, presented: &Presented, endpoint: Endpoint, ask: Ask<'_>, confidential_only: bool) -> Result<Passed> {
        let counted = self.count(&presented.client_id, Some(endpoint), ask).await?;
        let found = self.client_at(&presented.client_id, counted.answer.epoch.clone()).await;
        let found = match (found, presented.method) {
            (Ok(c), client_auth::AuthMethod::PrivateKeyJwt) => self.check_assertion(c, presented, endpoint).await,
            (Ok(c), _) => client_auth::authenticate(c, presented, crate::db::now()),
            (Err(e), _) => Err(e),
        };
        let checked = match found {
            Ok(c) => Ok(c).and_then(|c: Arc<Client>| {
                if confidential_only && c.client_type != ClientType::Confidential {
                    let basic = presented.method == client_auth::AuthMethod::Basic;
                    return Err(Error::InvalidClient { basic, reason: "this endpoint needs a confidential client" });
                }
                Ok(c)
            }),
            Err(e) => Err(e),
        };
        self.settle(counted, checked).await
    }

    /// A `private_key_jwt` client's assertion: verified with its keys, its
    /// `jti` spent in the token store (a replay on any instance is refused).
    async fn check_assertion(&self, client: Option<Arc<Client>>, presented: &Presented, endpoint: Endpoint) -> Result<Arc<Client>> {
        let fail = Error::InvalidClient { basic: false, reason: "client authentication failed" };
        let (Some(client), Some(assertion)) = (client, presented.assertion.as_deref()) else { return Err(fail) };
        if client.auth_method.as_deref() != Some(clients::PRIVATE_KEY_JWT) {
            return Err(fail);
        }
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| Error::InvalidClient { basic: false, reason: "client authentication failed" })?;
        if !super::fapi2::alg_allowed(&client, &format!("{:?}", header.alg)) {
            return Err(Error::InvalidClient { basic: false, reason: "FAPI 2.0 profile: sign client assertions with RS256, PS256 or ES256" });
        }
        let kid = header.kid;
        let a = &self.assertions;
        let keys = a.keys.keys_for(&client, kid.as_deref()).await.map_err(|e| {
            log::warn!("keys of client {}: {e}", client.client_id);
            Error::InvalidClient { basic: false, reason: "client authentication failed" }
        })?;
        let audiences = super::client_assertion::audiences(&a.issuer, &a.base, endpoint);
        let verified = super::client_assertion::verify(&client.client_id, assertion, &keys, &audiences, crate::db::now()).map_err(|e| {
            log::info!("assertion of client {} refused: {e}", client.client_id);
            Error::InvalidClient { basic: false, reason: "client authentication failed" }
        })?;
        if !self.store.use_once(&format!("ca:{}:{}", client.client_id, verified.jti), verified.exp + super::client_assertion::LEEWAY_SECS).await? {
            return Err(Error::InvalidClient { basic: false, reason: "the client assertion was already used (jti replayed)" });
        }
        if !client.is_active() {
            return Err(Error::InvalidClient { basic: false, reason: "client is suspended" });
        }
        Ok(client)
    }

    async fn refund(&self, key: Option<&RateKey>) {
        let Some(k) = key else { return };
        if let Err(e) = self.store.rate_refund(&k.key, k.window, k.cost).await {
            log::warn!("rate refund failed: {e}");
        }
    }

    async fn rate_refused(&self, client: &Client, window: i64, limit: i64, endpoint: Endpoint) {
        self.tally.limited(&client.client_id);
        crate::metrics::METRICS.rate_limited(&client.tier);
        // One audit row per client and window, however hard it hammers.
        let first = self.store.rate_add(&format!("audit:{}", client.client_id), window, 1).await.map(|(_, c)| c == 1);
        if first.unwrap_or(false) {
            audit::record(
                &self.db,
                audit::Event {
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

    /// The store may have missed a change: forget every cached client.
    fn forget_clients(&self) {
        self.cache.clear();
    }

    /// A client by id for a request that has no store round of its own
    /// (`/authorize`): the clients epoch is asked for, then as [`Gate::client_at`].
    pub async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>> {
        let epoch = self.store.clients_epoch().await?;
        self.client_at(client_id, epoch).await
    }

    /// A client by id with the clients epoch of this request's store round:
    /// from memory when nothing changed since it was read (no database
    /// query), else from the database. Cached clients are shared (`Arc`),
    /// not copied per request.
    pub async fn client_at(&self, client_id: &str, epoch: Option<String>) -> Result<Option<Arc<Client>>> {
        let Some(epoch) = epoch else { return Ok(clients::find(&self.db, client_id).await?.map(Arc::new)) };
        if let Some(c) = self.cache.get(client_id, &epoch) {
            return Ok(Some(c));
        }
        let found = clients::find(&self.db, client_id).await?.map(Arc::new);
        if let Some(c) = &found {
            self.cache.put(client_id.to_string(), c.clone(), epoch);
        }
        Ok(found)
    }
}
