//! Grants: a user's consent for one client — which scopes, since when, last
//! used when — and the one-click revocation that takes it all back.
use entity::grants;
use crate::db::Db;
use crate::epoch_cache::EpochCache;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::registry::audit::{self, Event};
use crate::db::now;
use crate::error::{Error, Result};
use crate::store::TokenStore;

#[derive(Clone, Debug, Serialize)]
pub struct Grant {
    pub grant_id: String,
    pub user_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<grants::Model> for Grant {
    fn from(m: grants::Model) -> Grant {
        Grant {
            scopes: crate::db::split_list(&m.scopes),
            grant_id: m.grant_id,
            user_id: m.user_id,
            client_id: m.client_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_used_at: m.last_used_at,
        }
    }
}

/// A grant with what a person needs to recognise the app.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectedApp {
    #[serde(flatten)]
    pub grant: Grant,
    pub client_name: String,
    pub client_description: String,
}

/// The epochs a request's store round read (`store::RoundAnswer`): a grant
/// cached while both were these is still the grant. Consents move the
/// grants epoch; a client's change (its scopes shrinking rewrites its
/// grants, its deletion deletes them) moves the clients epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epochs {
    pub clients: String,
    pub grants: String,
}

impl Epochs {
    /// Both epochs, from a store that has them (Redis, or the embedded
    /// default's epoch file); `None` otherwise (PostgreSQL without Redis).
    pub fn of(answer: &crate::store::RoundAnswer) -> Option<Epochs> {
        Some(Epochs { clients: answer.epoch.clone()?, grants: answer.grants_epoch.clone()? })
    }
}

/// A cached grant is read again at least this often, whatever the epochs say
/// (what a lost epoch move can cost).
const GRANT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const GRANT_CACHE_MAX: usize = 100_000;

/// Grants by user and client, kept per instance so that a refresh or a code
/// exchange need not ask the database whether the consent still stands. An
/// entry holds only while the request's epochs are the ones it was read at
/// (`epoch_cache`): every consent, revocation and client change moves one,
/// on every instance at once.
pub struct GrantCache(EpochCache<(String, String), Grant, Epochs>);

impl Default for GrantCache {
    fn default() -> Self {
        GrantCache(EpochCache::new(GRANT_CACHE_TTL, GRANT_CACHE_MAX, |hit| crate::metrics::METRICS.cache_lookup("grants", hit)))
    }
}

impl GrantCache {
    /// The grant of `user_id` to `client_id`: from memory when `epochs` are
    /// the ones it was read at, else from the database (always, without epochs).
    pub async fn find(&self, db: &Db, user_id: &str, client_id: &str, epochs: Option<&Epochs>) -> Result<Option<Grant>> {
        let Some(epochs) = epochs else { return find(db, user_id, client_id).await };
        let key = (user_id.to_string(), client_id.to_string());
        if let Some(g) = self.0.get(&key, epochs) {
            return Ok(Some(g));
        }
        let found = find(db, user_id, client_id).await?;
        if let Some(g) = &found {
            self.0.put(key, g.clone(), epochs.clone());
        }
        Ok(found)
    }
}

pub async fn find(db: &Db, user_id: &str, client_id: &str) -> Result<Option<Grant>> {
    Ok(grants::Entity::find()
        .filter(grants::Column::UserId.eq(user_id))
        .filter(grants::Column::ClientId.eq(client_id))
        .one(db)
        .await?
        .map(Grant::from))
}

/// Record consent: the union of what was granted before and `scopes`.
/// Two consents for the same user and client at once (two tabs) both
/// succeed: the loser of the insert race merges into the winner's row.
pub async fn consent(db: &Db, store: &dyn TokenStore, user_id: &str, client_id: &str, scopes: &[String], ip: Option<&str>) -> Result<Grant> {
    // a new consent row is used for the first time at its first token: write that
    if let Ok(mut m) = TOUCHED.lock() {
        m.remove(&(user_id.to_string(), client_id.to_string()));
    }
    let mut attempt = 0;
    let grant = loop {
        attempt += 1;
        match upsert(db, user_id, client_id, scopes).await {
            Ok(g) => break g,
            // The unique (user, client) index refused a second insert: merge instead.
            Err(Error::Db(e)) if attempt < 3 && find(db, user_id, client_id).await?.is_some() => {
                log::debug!("concurrent consent merged: {e}");
            }
            Err(e) => return Err(e),
        }
    };
    // Before any token comes from it: a cached grant with fewer scopes
    // would narrow the tokens of this consent.
    store.bump_grants_epoch().await?;
    audit::record(
        db,
        Event {
            event: "grant.given",
            actor: Some(user_id),
            client_id: Some(client_id),
            user_id: Some(user_id),
            ip,
            detail: Some(serde_json::json!({"scopes": scopes})),
        },
    )
    .await;
    Ok(grant)
}

async fn upsert(db: &Db, user_id: &str, client_id: &str, scopes: &[String]) -> Result<Grant> {
    let t = now();
    Ok(match find(db, user_id, client_id).await? {
        Some(g) => {
            let mut all = g.scopes.clone();
            for s in scopes {
                if !all.contains(s) {
                    all.push(s.clone());
                }
            }
            grants::Entity::update_many()
                .col_expr(grants::Column::Scopes, Expr::value(crate::db::join_list(&all)))
                .col_expr(grants::Column::UpdatedAt, Expr::value(t))
                .filter(grants::Column::GrantId.eq(g.grant_id.as_str()))
                .exec(db)
                .await?;
            Grant { scopes: all, updated_at: t, ..g }
        }
        None => {
            let am = grants::ActiveModel {
                grant_id: Set(uuid::Uuid::new_v4().to_string()),
                user_id: Set(user_id.into()),
                client_id: Set(client_id.into()),
                scopes: Set(crate::db::join_list(scopes)),
                created_at: Set(t),
                updated_at: Set(t),
                last_used_at: Set(None),
            };
            grants::Entity::insert(am).exec_with_returning(db).await?.into()
        }
    })
}

/// How fresh "last used" is kept: a pair touched this recently by this
/// process is not written again (a refresh would otherwise cost an UPDATE).
const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The pairs this process touched lately, and when.
static TOUCHED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<(String, String), std::time::Instant>>> =
    std::sync::LazyLock::new(Default::default);

/// Whether `(user_id, client_id)` is due for a write, noting it as written if so.
fn due(user_id: &str, client_id: &str) -> bool {
    let Ok(mut m) = TOUCHED.lock() else { return true };
    let now = std::time::Instant::now();
    if m.len() > 100_000 {
        m.retain(|_, at| now.duration_since(*at) < TOUCH_EVERY);
    }
    match m.get_mut(&(user_id.to_string(), client_id.to_string())) {
        Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
        Some(at) => {
            *at = now;
            true
        }
        None => {
            m.insert((user_id.to_string(), client_id.to_string()), now);
            true
        }
    }
}

/// Note that the app used its access now (token issue or refresh), to the
/// minute: a pair is written at most once a minute per instance.
pub async fn touch(db: &Db, user_id: &str, client_id: &str) -> Result<()> {
    if !due(user_id, client_id) {
        return Ok(());
    }
    grants::Entity::update_many()
        .col_expr(grants::Column::LastUsedAt, Expr::value(now()))
        .filter(grants::Column::UserId.eq(user_id))
        .filter(grants::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn list_for_user(db: &Db, user_id: &str) -> Result<Vec<ConnectedApp>> {
    let rows = grants::Entity::find()
        .filter(grants::Column::UserId.eq(user_id))
        .order_by_desc(grants::Column::CreatedAt)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for g in rows {
        let client = crate::registry::clients::find(db, &g.client_id).await?;
        let (client_name, client_description) = client.map(|c| (c.name, c.description)).unwrap_or_default();
        out.push(ConnectedApp { grant: g.into(), client_name, client_description });
    }
    Ok(out)
}

pub async fn list_for_client(db: &Db, client_id: &str) -> Result<Vec<Grant>> {
    Ok(grants::Entity::find()
        .filter(grants::Column::ClientId.eq(client_id))
        .all(db)
        .await?
        .into_iter()
        .map(Grant::from)
        .collect())
}

/// Revoke one user's access for one client: the consent goes, every refresh
/// family of the pair dies and their live access tokens are denylisted.
/// Other users of the client and other clients of the user are untouched.
pub async fn revoke(
    db: &Db,
    store: &dyn TokenStore,
    user_id: &str,
    client_id: &str,
    actor: Option<&str>,
    ip: Option<&str>,
) -> Result<u64> {
    // Tokens first: if the store is down nothing is half-revoked, the grant stays visible and the user can retry.
    let tokens = store.revoke_user_client(user_id, client_id, now()).await?;
    let deleted = grants::Entity::delete_many()
        .filter(grants::Column::UserId.eq(user_id))
        .filter(grants::Column::ClientId.eq(client_id))
        .exec(db)
        .await?
        .rows_affected;
    // The families are revoked already; what a cached grant could still
    // pass is a family begun during this revocation, for at most the cache's TTL.
    if let Err(e) = store.bump_grants_epoch().await {
        log::warn!("grant of a user to client {client_id} revoked, but other instances may pass it for {} s more: {e}", GRANT_CACHE_TTL.as_secs());
    }
    if deleted == 0 && tokens == 0 {
        return Err(Error::NotFound(format!("grant of user {user_id} to client {client_id}")));
    }
    audit::record(
        db,
        Event {
            event: "grant.revoked",
            actor,
            client_id: Some(client_id),
            user_id: Some(user_id),
            ip,
            detail: Some(serde_json::json!({"tokens_revoked": tokens})),
        },
    )
    .await;
    Ok(tokens)
}
