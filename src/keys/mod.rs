//! Signing keys: their lifecycle in the database and the in-memory key ring
//! every request reads.
//!
//! Lifecycle (`docs/key-rotation.md`):
//! `next` (published in the JWKS, not signing) → `current` (signing) →
//! `retired` (published until every token it signed has expired) → gone
//! from the JWKS. `revoked` leaves the JWKS at once.
//!
//! Every instance re-reads the `signing_keys` table every
//! `TESSERA_KEY_REFRESH_SECS` (default 10 s), so all instances sharing a
//! database sign with the same current key within that bound. The private
//! parts are sealed with the KEK ([`kek`]) and opened once per key, never per
//! request.
pub mod kek;
pub mod signer;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use entity::signing_keys;
use crate::db::Db;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use kek::Kek;
pub use signer::{Alg, Signer, TokenType};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key-encryption key: {0}")]
    Kek(String),
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
    #[error("a private key does not open with this key-encryption key")]
    WrongKek,
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("no current signing key")]
    NoCurrentKey,
    #[error("the next key has been published for {published_secs} s; verifiers may cache the JWKS for {needed_secs} s. Wait {wait_secs} s or use --force")]
    TooSoon { published_secs: i64, needed_secs: i64, wait_secs: i64 },
    #[error("another rotation changed the keys first; try again")]
    Conflict,
    #[error("key {0} not found")]
    NotFound(String),
}

pub const STATE_NEXT: &str = "next";
pub const STATE_CURRENT: &str = "current";
pub const STATE_RETIRED: &str = "retired";
pub const STATE_REVOKED: &str = "revoked";

#[derive(Clone, Debug)]
pub struct KeyPolicy {
    /// Longest lifetime of anything signed (access and ID tokens).
    pub token_ttl: Duration,
    /// JWKS `Cache-Control: max-age`: a new key must be published at least
    /// this long (plus `margin`) before it signs.
    pub jwks_max_age: Duration,
    /// Added to every wait: clock skew between us and verifiers, and the time
    /// instances need to see a key change (`TESSERA_KEY_REFRESH_SECS`).
    pub margin: Duration,
    /// Rotate automatically when the current key is this old (`None`: never).
    pub rotation_period: Option<Duration>,
    /// The algorithm of access tokens (`TESSERA_SIGNING_ALG`).
    pub access_alg: Alg,
}

impl KeyPolicy {
    /// Every algorithm with a key lifecycle: RS256 always (ID tokens, and
    /// every verifier supports it), plus the access-token algorithm.
    pub fn algs(&self) -> Vec<Alg> {
        let mut v = vec![Alg::RS256];
        if self.access_alg != Alg::RS256 {
            v.push(self.access_alg);
        }
        v
    }
}

impl KeyPolicy {
    /// How long a `next` key must have been published before it may sign.
    pub fn min_publish_secs(&self) -> i64 {
        (self.jwks_max_age + self.margin).as_secs() as i64
    }
    /// How long a retired key stays published: until its last token has expired.
    pub fn retire_secs(&self) -> i64 {
        (self.token_ttl + self.margin).as_secs() as i64
    }
}

/// A key that verifies signatures.
pub struct VerifyKey {
    pub kid: String,
    pub alg: Alg,
    pub state: String,
    pub key: jsonwebtoken::DecodingKey,
}

/// The keys as one instance sees them at one moment; swapped as a whole.
pub struct KeyRing {
    /// Signs access tokens (the configured algorithm).
    pub signer: Arc<Signer>,
    /// Signs ID tokens: always RS256, the OpenID Connect default.
    pub id_signer: Arc<Signer>,
    /// The current key of every algorithm.
    pub currents: HashMap<Alg, String>,
    pub verify: HashMap<String, VerifyKey>,
    /// The serialised JWKS document and its strong ETag.
    pub jwks: Arc<str>,
    pub etag: String,
    fingerprint: String,
}

#[derive(Debug, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub remove_after: Option<i64>,
    pub published: bool,
}

#[derive(Debug, Serialize)]
pub struct RotationReport {
    pub retired: Option<String>,
    pub current: String,
    pub next: String,
    pub forced: bool,
}

pub struct KeyManager {
    db: Db,
    kek: Kek,
    policy: KeyPolicy,
    ring: RwLock<Arc<KeyRing>>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn new_kid() -> String {
    // Sortable by creation: date, then randomness.
    let mut r = [0u8; 6];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut r);
    format!("{}-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"), crate::crypto::hex(&r))
}

/// Whether a key of this row belongs in the JWKS at `now`.
pub fn is_published(row: &signing_keys::Model, now: i64) -> bool {
    match row.state.as_str() {
        STATE_NEXT | STATE_CURRENT => true,
        STATE_RETIRED => row.remove_after.is_none_or(|t| t > now),
        _ => false,
    }
}

impl KeyManager {
    /// Make sure a current and a next key exist, then load the ring.
    pub async fn start(db: Db, kek: Kek, policy: KeyPolicy) -> Result<Arc<KeyManager>, KeyError> {
        ensure_keys(&db, &kek, &policy.algs()).await?;
        let ring = build_ring(&db, &kek, None, policy.access_alg).await?;
        Ok(Arc::new(KeyManager { db, kek, policy, ring: RwLock::new(Arc::new(ring)) }))
    }

    pub fn ring(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// Re-read the keys table; swap the ring if anything changed.
    pub async fn reload(&self) -> Result<bool, KeyError> {
        let old = self.ring();
        let ring = build_ring(&self.db, &self.kek, Some(&old), self.policy.access_alg).await?;
        if ring.fingerprint == old.fingerprint {
            return Ok(false);
        }
        log::info!("signing keys changed: current kid {}", ring.signer.kid);
        match self.ring.write() {
            Ok(mut g) => *g = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
        Ok(true)
    }

    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        list_keys(&self.db).await
    }

    /// Promote `next` to `current`, retire `current`, create a new `next`.
    pub async fn rotate(&self, force: bool) -> Result<RotationReport, KeyError> {
        let report = rotate(&self.db, &self.kek, &self.policy, force, None).await?;
        self.reload().await?;
        Ok(report)
    }

    /// Emergency: take `kid` out of the JWKS at once; tokens it signed stop
    /// verifying. A revoked current key is replaced by the next one at once.
    pub async fn revoke(&self, kid: &str) -> Result<RevocationReport, KeyError> {
        let report = revoke(&self.db, &self.kek, &self.policy, kid).await?;
        self.reload().await?;
        Ok(report)
    }

    /// Re-seal every private key under `new` (the KEK change of
    /// `tessera keys rewrap`), in one transaction. Instances keep signing
    /// from memory; give them `TESSERA_KEK_FILE=new` and
    /// `TESSERA_KEK_PREVIOUS_FILE=old` before, and drop the old one after.
    pub async fn rewrap(&self, new: &Kek) -> Result<usize, KeyError> {
        rewrap(&self.db, &self.kek, new).await
    }

    /// Scheduled rotation: rotate if the current key is older than the
    /// rotation period. Safe to call from every instance at once: the
    /// rotation is a compare-and-set on the current key, so exactly one wins.
    pub async fn rotate_if_due(&self) -> Result<Option<RotationReport>, KeyError> {
        let Some(period) = self.policy.rotation_period else { return Ok(None) };
        let ring = self.ring();
        let mut report = None;
        for kid in ring.currents.values() {
            let current = signing_keys::Entity::find_by_id(kid.clone()).one(&self.db).await?;
            let Some(current) = current.filter(|c| c.state == STATE_CURRENT) else { continue };
            let age = now() - current.activated_at.unwrap_or(current.created_at);
            if age < period.as_secs() as i64 {
                continue;
            }
            match rotate(&self.db, &self.kek, &self.policy, false, Some(&current.kid)).await {
                Ok(r) => {
                    log::info!("scheduled key rotation: {} → {}", current.kid, r.current);
                    report = Some(r);
                }
                // Another instance rotated first, or the next key is too young: nothing to do now.
                Err(KeyError::Conflict) | Err(KeyError::TooSoon { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.reload().await?;
        Ok(report)
    }
}

#[derive(Debug, Serialize)]
pub struct RevocationReport {
    pub revoked: String,
    /// The key that signs now, if the revoked one was signing.
    pub promoted: Option<String>,
    pub next: Option<String>,
}

pub async fn list_keys(db: &Db) -> Result<Vec<KeyInfo>, KeyError> {
    let t = now();
    let rows = signing_keys::Entity::find().order_by_asc(signing_keys::Column::CreatedAt).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| KeyInfo {
            published: is_published(&r, t),
            kid: r.kid,
            alg: r.alg,
            state: r.state,
            created_at: r.created_at,
            activated_at: r.activated_at,
            retired_at: r.retired_at,
            remove_after: r.remove_after,
        })
        .collect())
}

async fn insert_key(db: &Db, kek: &Kek, state: &str, alg: Alg) -> Result<String, KeyError> {
    let kid = new_kid();
    // RSA generation is CPU-bound (~0.2 s): keep it off the async workers.
    let kid2 = kid.clone();
    let g = tokio::task::spawn_blocking(move || signer::generate(alg, &kid2))
        .await
        .map_err(|_| KeyError::Crypto("key generation task"))??;
    let t = now();
    let am = signing_keys::ActiveModel {
        kid: Set(kid.clone()),
        alg: Set(alg.as_str().into()),
        state: Set(state.into()),
        public_jwk: Set(g.public_jwk.to_string()),
        private_enc: Set(kek.seal(&kid, &g.pkcs8)?),
        created_at: Set(t),
        activated_at: Set((state == STATE_CURRENT).then_some(t)),
        retired_at: Set(None),
        remove_after: Set(None),
    };
    signing_keys::Entity::insert(am).exec_without_returning(db).await?;
    log::info!("created signing key {kid} ({}, {state})", alg.as_str());
    Ok(kid)
}

async fn count_state(db: &Db, state: &str, alg: Alg) -> Result<usize, KeyError> {
    Ok(signing_keys::Entity::find()
        .filter(signing_keys::Column::State.eq(state))
        .filter(signing_keys::Column::Alg.eq(alg.as_str()))
        .all(db)
        .await?
        .len())
}

/// First start: a current key (signing at once, since no verifier can have
/// cached an older JWKS of a database that had no key) and a next key.
pub async fn ensure_keys(db: &Db, kek: &Kek, algs: &[Alg]) -> Result<(), KeyError> {
    for &alg in algs {
        if count_state(db, STATE_CURRENT, alg).await? == 0 {
            insert_key(db, kek, STATE_CURRENT, alg).await?;
        }
        if count_state(db, STATE_NEXT, alg).await? == 0 {
            insert_key(db, kek, STATE_NEXT, alg).await?;
        }
    }
    Ok(())
}

/// Rotate: retire the current key(s) and promote `next`, in one
/// transaction that is a compare-and-set on both rows, then create a new
/// `next`. With `expect_current`, the rotation only happens if that key is
/// still the current one (so two schedulers never rotate twice).
pub async fn rotate(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    force: bool,
    expect_current: Option<&str>,
) -> Result<RotationReport, KeyError> {
    ensure_keys(db, kek, &policy.algs()).await?;
    if let Some(kid) = expect_current {
        let row = signing_keys::Entity::find_by_id(kid.to_string()).one(db).await?.ok_or(KeyError::Conflict)?;
        let alg = Alg::parse(&row.alg).ok_or(KeyError::Crypto("unknown key algorithm"))?;
        return rotate_alg(db, kek, policy, force, Some(kid), alg).await;
    }
    let mut report = Err(KeyError::NoCurrentKey);
    for alg in policy.algs() {
        let r = rotate_alg(db, kek, policy, force, None, alg).await;
        if alg == policy.access_alg {
            report = r;
        } else {
            r?;
        }
    }
    report
}

async fn rotate_alg(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    force: bool,
    expect_current: Option<&str>,
    alg: Alg,
) -> Result<RotationReport, KeyError> {
    let t = now();
    let next = signing_keys::Entity::find()
        .filter(signing_keys::Column::Alg.eq(alg.as_str()))
        .filter(signing_keys::Column::State.eq(STATE_NEXT))
        .order_by_asc(signing_keys::Column::CreatedAt)
        .one(db)
        .await?
        .ok_or(KeyError::NoCurrentKey)?;
    let published = t - next.created_at;
    let needed = policy.min_publish_secs();
    if published < needed && !force {
        return Err(KeyError::TooSoon { published_secs: published, needed_secs: needed, wait_secs: needed - published });
    }
    if published < needed {
        log::warn!(
            "forced rotation: key {} published only {published} s; verifiers caching the JWKS up to {needed} s may reject new tokens",
            next.kid
        );
    }
    let currents: Vec<String> = signing_keys::Entity::find()
        .filter(signing_keys::Column::Alg.eq(alg.as_str()))
        .filter(signing_keys::Column::State.eq(STATE_CURRENT))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.kid)
        .collect();
    if expect_current.is_some_and(|k| !currents.iter().any(|c| c == k)) {
        return Err(KeyError::Conflict);
    }
    let remove_after = t + policy.retire_secs();
    let txn = db.begin().await?;
    let mut retire = signing_keys::Entity::update_many()
        .col_expr(signing_keys::Column::State, Expr::value(STATE_RETIRED))
        .col_expr(signing_keys::Column::RetiredAt, Expr::value(t))
        .col_expr(signing_keys::Column::RemoveAfter, Expr::value(remove_after))
        .filter(signing_keys::Column::Alg.eq(alg.as_str()))
        .filter(signing_keys::Column::State.eq(STATE_CURRENT));
    if let Some(k) = expect_current {
        retire = retire.filter(signing_keys::Column::Kid.eq(k));
    }
    let retired_n = retire.exec(&txn).await?.rows_affected;
    let promoted = signing_keys::Entity::update_many()
        .col_expr(signing_keys::Column::State, Expr::value(STATE_CURRENT))
        .col_expr(signing_keys::Column::ActivatedAt, Expr::value(t))
        .filter(signing_keys::Column::Kid.eq(next.kid.as_str()))
        .filter(signing_keys::Column::State.eq(STATE_NEXT))
        .exec(&txn)
        .await?
        .rows_affected;
    if promoted != 1 || (expect_current.is_some() && retired_n != 1) {
        txn.rollback().await?;
        return Err(KeyError::Conflict);
    }
    txn.commit().await?;
    let new_next = insert_key(db, kek, STATE_NEXT, alg).await?;
    log::info!("rotated signing keys: current {}, next {new_next}", next.kid);
    crate::registry::audit::record(
        db,
        crate::registry::audit::Event {
            event: "key.rotated",
            detail: Some(serde_json::json!({"current": next.kid, "next": new_next, "retired": currents, "forced": force && published < needed})),
            ..Default::default()
        },
    )
    .await;
    Ok(RotationReport {
        retired: currents.into_iter().next(),
        current: next.kid,
        next: new_next,
        forced: force && published < needed,
    })
}

pub async fn rewrap(db: &Db, old: &Kek, new: &Kek) -> Result<usize, KeyError> {
    let rows = signing_keys::Entity::find().all(db).await?;
    // Open everything first: a key the old KEK cannot open aborts before any write.
    let mut resealed = Vec::with_capacity(rows.len());
    for r in &rows {
        let der = old.open(&r.kid, &r.private_enc)?;
        resealed.push((r.kid.clone(), new.seal(&r.kid, &der)?));
    }
    let txn = db.begin().await?;
    for (kid, enc) in &resealed {
        signing_keys::Entity::update_many()
            .col_expr(signing_keys::Column::PrivateEnc, Expr::value(enc.as_str()))
            .filter(signing_keys::Column::Kid.eq(kid.as_str()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    crate::registry::audit::record(db, crate::registry::audit::Event { event: "key.rewrapped", actor: Some("cli"), detail: Some(serde_json::json!({"keys": resealed.len()})), ..Default::default() }).await;
    Ok(resealed.len())
}

pub async fn revoke(db: &Db, kek: &Kek, policy: &KeyPolicy, kid: &str) -> Result<RevocationReport, KeyError> {
    let row = signing_keys::Entity::find_by_id(kid.to_string()).one(db).await?.ok_or_else(|| KeyError::NotFound(kid.into()))?;
    let was = row.state.clone();
    let n = signing_keys::Entity::update_many()
        .col_expr(signing_keys::Column::State, Expr::value(STATE_REVOKED))
        .col_expr(signing_keys::Column::RetiredAt, Expr::value(now()))
        .filter(signing_keys::Column::Kid.eq(kid))
        .filter(signing_keys::Column::State.ne(STATE_REVOKED))
        .exec(db)
        .await?
        .rows_affected;
    if n == 0 {
        return Ok(RevocationReport { revoked: kid.into(), promoted: None, next: None });
    }
    log::warn!("signing key {kid} revoked (was {was})");
    crate::registry::audit::record(
        db,
        crate::registry::audit::Event { event: "key.revoked", detail: Some(serde_json::json!({"kid": kid, "was": was})), ..Default::default() },
    )
    .await;
    match was.as_str() {
        // The signing key is gone: the next one signs at once (it is already
        // published; a verifier that has not fetched it will refetch on its kid).
        STATE_CURRENT => {
            let alg = Alg::parse(&row.alg).ok_or(KeyError::Crypto("unknown key algorithm"))?;
            let r = rotate_alg(db, kek, policy, true, None, alg).await?;
            Ok(RevocationReport { revoked: kid.into(), promoted: Some(r.current), next: Some(r.next) })
        }
        STATE_NEXT => {
            let alg = Alg::parse(&row.alg).ok_or(KeyError::Crypto("unknown key algorithm"))?;
            let next = insert_key(db, kek, STATE_NEXT, alg).await?;
            Ok(RevocationReport { revoked: kid.into(), promoted: None, next: Some(next) })
        }
        _ => Ok(RevocationReport { revoked: kid.into(), promoted: None, next: None }),
    }
}

async fn build_ring(db: &Db, kek: &Kek, old: Option<&KeyRing>, access_alg: Alg) -> Result<KeyRing, KeyError> {
    let t = now();
    let rows = signing_keys::Entity::find().order_by_asc(signing_keys::Column::CreatedAt).all(db).await?;
    let published: Vec<&signing_keys::Model> = rows.iter().filter(|r| is_published(r, t)).collect();
    // Per algorithm, if two instances raced to create the first key, the newest current wins everywhere.
    let mut currents: HashMap<Alg, &signing_keys::Model> = HashMap::new();
    for r in published.iter().filter(|r| r.state == STATE_CURRENT) {
        let Some(alg) = Alg::parse(&r.alg) else { continue };
        let better = currents.get(&alg).is_none_or(|c| (r.activated_at, &r.kid) > (c.activated_at, &c.kid));
        if better {
            currents.insert(alg, r);
        }
    }
    let fingerprint: String = published
        .iter()
        .map(|r| format!("{}:{}:{};", r.kid, r.state, currents.values().any(|c| c.kid == r.kid)))
        .collect();
    let open = |alg: Alg| -> Result<Arc<Signer>, KeyError> {
        let current = currents.get(&alg).ok_or(KeyError::NoCurrentKey)?;
        if let Some(o) = old {
            for s in [&o.signer, &o.id_signer] {
                if s.kid == current.kid {
                    return Ok(s.clone());
                }
            }
        }
        let der = kek.open(&current.kid, &current.private_enc)?;
        Ok(Arc::new(Signer::from_pkcs8(alg, &current.kid, &der)?))
    };
    let id_signer = open(Alg::RS256)?;
    let signer = if access_alg == Alg::RS256 { id_signer.clone() } else { open(access_alg)? };
    let mut verify = HashMap::new();
    let mut jwks = Vec::new();
    for r in &published {
        let Some(alg) = Alg::parse(&r.alg) else { continue };
        let jwk_value: serde_json::Value =
            serde_json::from_str(&r.public_jwk).map_err(|_| KeyError::Crypto("stored public JWK"))?;
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(jwk_value.clone()).map_err(|_| KeyError::Crypto("stored public JWK"))?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::Crypto("public key"))?;
        verify.insert(r.kid.clone(), VerifyKey { kid: r.kid.clone(), alg, state: r.state.clone(), key });
        jwks.push(jwk_value);
    }
    let body = serde_json::json!({ "keys": jwks }).to_string();
    let etag = format!("\"{}\"", crate::crypto::hex(&Sha256::digest(body.as_bytes())[..16]));
    let currents = currents.into_iter().map(|(a, r)| (a, r.kid.clone())).collect();
    Ok(KeyRing { signer, id_signer, currents, verify, jwks: Arc::from(body.as_str()), etag, fingerprint })
}
