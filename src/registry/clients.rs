//! Clients (registered apps): the domain model, its validation rules and
//! the management operations the CLI, the portal and the admin API share.
//! Every operation validates everything before it writes anything, and every
//! change is announced to the token store (`bump_clients_epoch`) so that
//! instances caching clients in memory see it on their next request.
use entity::clients;
use crate::db::Db;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde::Serialize;

use crate::registry::audit::{self, Event};
use crate::db::{join_list, now, split_list};
use crate::error::{Error, Result};
pub use crate::registry::grant_types::GrantType;
use crate::store::TokenStore;

pub const TIERS: &[&str] = &["free", "pro", "enterprise"];

/// The FAPI 2.0 Security Profile (`--profile fapi2`).
pub const FAPI2: &str = "fapi2";

/// The authentication method of clients that sign assertions (RFC 7523, OIDC Core §9).
pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    Confidential,
    Public,
}

impl ClientType {
    pub fn parse(s: &str) -> Result<ClientType> {
        match s {
            "confidential" => Ok(ClientType::Confidential),
            "public" => Ok(ClientType::Public),
            _ => Err(Error::validation(format!("client type must be confidential or public, not {s:?}"))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Confidential => "confidential",
            ClientType::Public => "public",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub client_type: ClientType,
    #[serde(skip)]
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub status: String,
    pub owner_user_id: Option<String>,
    pub tier: String,
    pub rate_limit: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Why an admin suspended the client; while set, only an admin lifts it.
    pub admin_hold: Option<String>,
    /// May introspect tokens issued to other clients (a resource server).
    pub can_introspect: bool,
    /// A legacy confidential client that may skip PKCE.
    pub pkce_optional: bool,
    /// Waiting for an admin's approval of its machine access (client_credentials).
    pub machine_pending: bool,
    /// The secret before the last rotation, still accepted until `previous_secret_expires_at`.
    #[serde(skip)]
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    /// Browser origins allowed to call the token, revocation and userinfo endpoints (CORS).
    pub allowed_origins: Vec<String>,
    /// Its authorization requests must be pushed (RFC 9126).
    pub require_par: bool,
    /// Registered dynamically (RFC 7591): the SHA-256 of its registration access token.
    #[serde(skip)]
    pub registration_token_hash: Option<String>,
    /// Registered dynamically: the metadata it registered beyond the columns (JSON).
    #[serde(skip)]
    pub registered_metadata: Option<String>,
    /// Registered dynamically (RFC 7591), owned by no developer.
    pub dynamic: bool,
    /// `private_key_jwt` (RFC 7523) when it authenticates with signed assertions.
    pub auth_method: Option<String>,
    /// Its public keys (a JWK Set), for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Where it publishes its public keys, for `private_key_jwt`.
    pub jwks_uri: Option<String>,
    /// Its access tokens are always DPoP-bound (RFC 9449 `dpop_bound_access_tokens`).
    pub require_dpop: bool,
    /// Where RP-initiated logout may send the browser back (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are POSTed (Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// A security profile it is held to (`fapi2`: `oauth::fapi2`).
    pub profile: Option<String>,
}

impl TryFrom<clients::Model> for Client {
    type Error = Error;
    fn try_from(m: clients::Model) -> Result<Client> {
        Ok(Client {
            client_type: ClientType::parse(&m.client_type)?,
            redirect_uris: split_list(&m.redirect_uris),
            grant_types: split_list(&m.grant_types).iter().map(|g| GrantType::parse(g)).collect::<Result<_, _>>().map_err(Error::Config)?,
            scopes: split_list(&m.scopes),
            client_id: m.client_id,
            name: m.name,
            description: m.description,
            secret_hash: m.secret_hash,
            status: m.status,
            owner_user_id: m.owner_user_id,
            tier: m.tier,
            rate_limit: m.rate_limit,
            created_at: m.created_at,
            updated_at: m.updated_at,
            admin_hold: m.admin_hold,
            can_introspect: m.can_introspect,
            pkce_optional: m.pkce_optional,
            machine_pending: m.machine_pending,
            previous_secret_hash: m.previous_secret_hash,
            previous_secret_expires_at: m.previous_secret_expires_at,
            allowed_origins: split_list(&m.allowed_origins),
            require_par: m.require_par,
            dynamic: m.registration_token_hash.is_some(),
            registration_token_hash: m.registration_token_hash,
            registered_metadata: m.registered_metadata,
            auth_method: m.auth_method,
            jwks: m.jwks,
            jwks_uri: m.jwks_uri,
            require_dpop: m.require_dpop,
            post_logout_redirect_uris: split_list(&m.post_logout_redirect_uris),
            backchannel_logout_uri: m.backchannel_logout_uri,
            profile: m.profile,
        })
    }
}

impl Client {
    /// Held to the FAPI 2.0 Security Profile (`--profile fapi2`).
    pub fn fapi2(&self) -> bool {
        self.profile.as_deref() == Some(FAPI2)
    }
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
    pub fn allows(&self, grant_type: GrantType) -> bool {
        self.grant_types.contains(&grant_type)
    }
}

/// What a developer or admin asks for when registering a client.
#[derive(Clone, Debug, Default)]
pub struct NewClient {
    pub name: String,
    pub description: String,
    pub client_type: String,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub owner_user_id: Option<String>,
    pub tier: Option<String>,
    pub rate_limit: Option<i64>,
    /// May introspect other clients' tokens (admins only grant it).
    pub can_introspect: bool,
    /// A legacy confidential client that cannot send PKCE.
    pub pkce_optional: bool,
    /// Its machine access waits for an admin (set by self-service registration).
    pub machine_pending: bool,
    /// Browser origins of a single-page app (CORS), `https://app.example.com`.
    pub allowed_origins: Vec<String>,
    /// Its authorization requests must be pushed (RFC 9126).
    pub require_par: bool,
    /// Registered dynamically (RFC 7591): the SHA-256 of its registration
    /// access token, and the metadata it registered beyond the columns.
    pub registration_token_hash: Option<String>,
    pub registered_metadata: Option<String>,
    /// `private_key_jwt`: the client signs assertions with the keys of
    /// `jwks` (a JWK Set) or `jwks_uri`, and gets no secret.
    pub auth_method: Option<String>,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    /// Its access tokens are always DPoP-bound (RFC 9449).
    pub require_dpop: bool,
    /// Logout: where the browser may return, and where logout tokens go.
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// A security profile to hold it to: `fapi2`.
    pub profile: Option<String>,
}

/// The one moment a secret is visible: right after creation or rotation.
#[derive(Debug, Serialize)]
pub struct Created {
    #[serde(flatten)]
    pub client: Client,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// Store a registration that `oauth::registration::register` checked
/// (`ct` is what its rules made of `n.client_type`).
pub async fn insert(db: &Db, n: &NewClient, ct: ClientType, actor: Option<&str>) -> Result<Created> {
    crate::registry::catalogue::require_known(db, &n.scopes).await?;
    let key_auth = n.auth_method.as_deref() == Some(crate::registry::clients::PRIVATE_KEY_JWT);
    let secret = (ct == ClientType::Confidential && !key_auth).then(crate::crypto::generate_secret);
    let t = now();
    let am = clients::ActiveModel {
        client_id: Set(crate::crypto::generate_client_id()),
        name: Set(n.name.trim().to_string()),
        description: Set(n.description.trim().to_string()),
        client_type: Set(ct.as_str().into()),
        secret_hash: Set(secret.as_deref().map(crate::crypto::digest)),
        redirect_uris: Set(join_list(&n.redirect_uris)),
        grant_types: Set(join_list(&n.grant_types)),
        scopes: Set(join_list(&n.scopes)),
        status: Set("active".into()),
        owner_user_id: Set(n.owner_user_id.clone()),
        tier: Set(n.tier.clone().unwrap_or_else(|| "free".into())),
        rate_limit: Set(n.rate_limit),
        created_at: Set(t),
        updated_at: Set(t),
        secret_rotated_at: Set(None),
        admin_hold: Set(None),
        can_introspect: Set(n.can_introspect),
        pkce_optional: Set(n.pkce_optional),
        machine_pending: Set(n.machine_pending),
        previous_secret_hash: Set(None),
        previous_secret_expires_at: Set(None),
        allowed_origins: Set(join_list(&n.allowed_origins)),
        require_par: Set(n.require_par),
        registration_token_hash: Set(n.registration_token_hash.clone()),
        registered_metadata: Set(n.registered_metadata.clone()),
        auth_method: Set(n.auth_method.clone()),
        jwks: Set(n.jwks.clone()),
        jwks_uri: Set(n.jwks_uri.clone()),
        require_dpop: Set(n.require_dpop),
        post_logout_redirect_uris: Set(join_list(&n.post_logout_redirect_uris)),
        backchannel_logout_uri: Set(n.backchannel_logout_uri.clone()),
        profile: Set(n.profile.clone()),
    };
    let txn = db.begin().await?;
    let model = clients::Entity::insert(am).exec_with_returning(&txn).await?;
    let client = Client::try_from(model)?;
    audit::record(
        &txn,
        Event {
            event: "client.created",
            actor,
            client_id: Some(&client.client_id),
            detail: Some(serde_json::json!({"name": client.name, "type": ct.as_str(), "scopes": client.scopes})),
            ..Default::default()
        },
    )
    .await;
    txn.commit().await?;
    Ok(Created { client, client_secret: secret })
}

pub async fn find(db: &Db, client_id: &str) -> Result<Option<Client>> {
    clients::Entity::find_by_id(client_id.to_string()).one(db).await?.map(Client::try_from).transpose()
}

pub async fn get(db: &Db, client_id: &str) -> Result<Client> {
    find(db, client_id).await?.ok_or_else(|| Error::NotFound(format!("client {client_id}")))
}

pub async fn list(db: &Db, owner: Option<&str>) -> Result<Vec<Client>> {
    let mut q = clients::Entity::find().order_by_asc(clients::Column::CreatedAt);
    if let Some(o) = owner {
        q = q.filter(clients::Column::OwnerUserId.eq(o));
    }
    q.all(db).await?.into_iter().map(Client::try_from).collect()
}

/// What the owner of a client may change after registration.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub allowed_origins: Vec<String>,
    /// `None`: left as it is (so are the two below).
    pub name: Option<String>,
    pub description: Option<String>,
    /// An admin's change: `free`, `pro` or `enterprise`.
    pub tier: Option<String>,
    /// An admin's change: requests per minute, instead of the tier's.
    pub rate_limit: Option<i64>,
}

impl Change {
    /// A change that keeps everything of `c` (to set some fields on).
    pub fn keeping(c: &Client) -> Change {
        Change { redirect_uris: c.redirect_uris.clone(), scopes: c.scopes.clone(), allowed_origins: c.allowed_origins.clone(), ..Default::default() }
    }
}

/// Store new redirect URIs, scopes and origins that `oauth::registration::update`
/// checked (the catalogue is consulted here, where it is stored).
pub async fn update(db: &Db, store: &dyn TokenStore, client_id: &str, change: &Change, actor: Option<&str>) -> Result<Client> {
    let Change { redirect_uris, scopes, allowed_origins, name, description, tier, rate_limit } = change;
    crate::registry::catalogue::require_known(db, scopes).await?;
    let txn = db.begin().await?;
    let mut q = clients::Entity::update_many();
    if let Some(v) = name {
        q = q.col_expr(clients::Column::Name, Expr::value(v.trim()));
    }
    if let Some(v) = description {
        q = q.col_expr(clients::Column::Description, Expr::value(v.trim()));
    }
    if let Some(v) = tier {
        q = q.col_expr(clients::Column::Tier, Expr::value(v.as_str()));
    }
    if let Some(v) = rate_limit {
        q = q.col_expr(clients::Column::RateLimit, Expr::value(*v));
    }
    q.col_expr(clients::Column::AllowedOrigins, Expr::value(join_list(allowed_origins)))
        .col_expr(clients::Column::RedirectUris, Expr::value(join_list(redirect_uris)))
        .col_expr(clients::Column::Scopes, Expr::value(join_list(scopes)))
        .col_expr(clients::Column::UpdatedAt, Expr::value(now()))
        .filter(clients::Column::ClientId.eq(client_id))
        .exec(&txn)
        .await?;
    // Users' consents shrink with the client: a scope it may no longer ask
    // for is no longer granted, the live access tokens that may carry it are
    // denylisted, and refreshes issue only what is still covered.
    let mut narrowed = Vec::new();
    for g in entity::grants::Entity::find().filter(entity::grants::Column::ClientId.eq(client_id)).all(&txn).await? {
        let kept: Vec<String> = split_list(&g.scopes).into_iter().filter(|s| scopes.contains(s)).collect();
        if kept.len() != split_list(&g.scopes).len() {
            narrowed.push(g.user_id.clone());
            entity::grants::Entity::update_many()
                .col_expr(entity::grants::Column::Scopes, Expr::value(join_list(&kept)))
                .filter(entity::grants::Column::GrantId.eq(g.grant_id.as_str()))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    store.bump_clients_epoch().await?;
    let mut revoked = 0;
    for user_id in &narrowed {
        revoked += store.deny_user_client_access(user_id, client_id, now()).await?;
    }
    audit::record(
        db,
        Event {
            event: "client.changed",
            actor,
            client_id: Some(client_id),
            detail: Some(serde_json::json!({
                "redirect_uris": redirect_uris, "scopes": scopes, "allowed_origins": allowed_origins,
                "name": name, "tier": tier, "rate_limit": rate_limit, "users_narrowed": narrowed.len(), "tokens_revoked": revoked,
            })),
            ..Default::default()
        },
    )
    .await;
    get(db, client_id).await
}

/// Store the metadata a dynamically registered client keeps beside its
/// columns (RFC 7592 `PUT`), checked by `oauth::dynamic_registration`.
pub async fn set_registered_metadata(db: &Db, store: &dyn TokenStore, client_id: &str, json: &str) -> Result<Client> {
    clients::Entity::update_many()
        .col_expr(clients::Column::RegisteredMetadata, Expr::value(json))
        .col_expr(clients::Column::UpdatedAt, Expr::value(now()))
        .filter(clients::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    store.bump_clients_epoch().await?;
    get(db, client_id).await
}

/// A change of a client's status, and whose it is.
#[derive(Clone, Copy, Debug)]
pub enum StatusChange<'a> {
    /// Suspended by its owner: the owner may lift it.
    Suspend,
    /// Suspended by an admin, for this reason: only an admin lifts it, and
    /// the owner sees the reason.
    Hold { reason: &'a str },
    /// Reactivated by its owner: refused while an admin's hold stands.
    Activate,
    /// Reactivated by an admin: lifts a hold too.
    Release,
}

/// Suspend or reactivate. Suspension takes effect at once: client
/// authentication reads the status on every request, and introspection
/// checks the status of the token's client. An owner's reactivation is
/// conditional on there being no admin hold in the same statement, so an
/// admin's suspension made meanwhile is never undone.
pub async fn set_status(
    db: &Db,
    store: &dyn TokenStore,
    client_id: &str,
    change: StatusChange<'_>,
    actor: Option<&str>,
) -> Result<Client> {
    let mut q = clients::Entity::update_many().col_expr(clients::Column::UpdatedAt, Expr::value(now())).filter(clients::Column::ClientId.eq(client_id));
    q = match change {
        StatusChange::Suspend => q.col_expr(clients::Column::Status, Expr::value("suspended")),
        StatusChange::Hold { reason } => {
            let reason = match reason.trim() {
                "" => "suspended by an admin".to_string(),
                r => r.chars().take(500).collect(),
            };
            q.col_expr(clients::Column::Status, Expr::value("suspended")).col_expr(clients::Column::AdminHold, Expr::value(reason))
        }
        StatusChange::Activate => q.col_expr(clients::Column::Status, Expr::value("active")).filter(clients::Column::AdminHold.is_null()),
        StatusChange::Release => {
            q.col_expr(clients::Column::Status, Expr::value("active")).col_expr(clients::Column::AdminHold, Expr::value(Option::<String>::None))
        }
    };
    if q.exec(db).await?.rows_affected == 0 {
        return Err(match get(db, client_id).await?.admin_hold {
            Some(r) => Error::AccessDenied(format!("an admin suspended this app ({r}); only an admin can reactivate it")),
            None => Error::NotFound(format!("client {client_id}")),
        });
    }
    store.bump_clients_epoch().await?;
    let (event, detail) = match change {
        StatusChange::Suspend => ("client.suspended", None),
        StatusChange::Hold { reason } => ("client.suspended", Some(serde_json::json!({"by_admin": true, "reason": reason}))),
        StatusChange::Activate | StatusChange::Release => ("client.activated", None),
    };
    audit::record(db, Event { event, actor, client_id: Some(client_id), detail, ..Default::default() }).await;
    get(db, client_id).await
}

/// Set one of an admin's flags on a client, announce it, audit it.
async fn set_flag(
    db: &Db,
    store: &dyn TokenStore,
    client_id: &str,
    (column, value): (clients::Column, bool),
    event: Event<'_>,
) -> Result<Client> {
    let res = clients::Entity::update_many()
        .col_expr(column, Expr::value(value))
        .col_expr(clients::Column::UpdatedAt, Expr::value(now()))
        .filter(clients::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound(format!("client {client_id}")));
    }
    store.bump_clients_epoch().await?;
    audit::record(db, Event { client_id: Some(client_id), ..event }).await;
    get(db, client_id).await
}

/// Approve (or put back on hold) a client's machine access: an admin's decision.
pub async fn set_machine_pending(db: &Db, store: &dyn TokenStore, client_id: &str, pending: bool, actor: Option<&str>) -> Result<Client> {
    let event = if pending { "client.machine_pending" } else { "client.machine_approved" };
    set_flag(db, store, client_id, (clients::Column::MachinePending, pending), Event { event, actor, ..Default::default() }).await
}

/// Allow or deny a client introspecting other clients' tokens (an admin's decision).
pub async fn set_introspection(db: &Db, store: &dyn TokenStore, client_id: &str, allowed: bool, actor: Option<&str>) -> Result<Client> {
    let detail = Some(serde_json::json!({"can_introspect": allowed}));
    set_flag(db, store, client_id, (clients::Column::CanIntrospect, allowed), Event { event: "client.changed", actor, detail, ..Default::default() }).await
}

/// How a client proves itself and what it is held to: the settings an admin
/// changes after registration (`oauth::registration::secure` checks them).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Security {
    #[serde(default)]
    pub require_par: bool,
    #[serde(default)]
    pub require_dpop: bool,
    /// `fapi2`, or none.
    pub profile: Option<String>,
    /// A `private_key_jwt` client's key URL (its inline keys stay as they are).
    pub jwks_uri: Option<String>,
}

/// Store security settings that `oauth::registration::secure` checked.
pub async fn set_security(db: &Db, store: &dyn TokenStore, client_id: &str, s: &Security, actor: Option<&str>) -> Result<Client> {
    let mut q = clients::Entity::update_many()
        .col_expr(clients::Column::RequirePar, Expr::value(s.require_par))
        .col_expr(clients::Column::RequireDpop, Expr::value(s.require_dpop))
        .col_expr(clients::Column::Profile, Expr::value(s.profile.clone()))
        .col_expr(clients::Column::UpdatedAt, Expr::value(now()));
    if s.jwks_uri.is_some() {
        q = q.col_expr(clients::Column::JwksUri, Expr::value(s.jwks_uri.clone()));
    }
    q.filter(clients::Column::ClientId.eq(client_id)).exec(db).await?;
    store.bump_clients_epoch().await?;
    let detail = Some(serde_json::json!({"require_par": s.require_par, "require_dpop": s.require_dpop, "profile": s.profile, "jwks_uri": s.jwks_uri}));
    audit::record(db, Event { event: "client.changed", actor, client_id: Some(client_id), detail, ..Default::default() }).await;
    get(db, client_id).await
}

/// The longest grace period a rotated secret may keep.
pub const MAX_SECRET_GRACE_SECS: i64 = 30 * 86_400;

/// Replace a confidential client's secret. With `grace_secs` > 0 the old
/// one keeps working that long, so running instances move over without an
/// outage (Keycloak's rotation with overlap); 0 ends it at once (a leak).
pub async fn rotate_secret(db: &Db, store: &dyn TokenStore, client_id: &str, grace_secs: i64, actor: Option<&str>) -> Result<Created> {
    let client = get(db, client_id).await?;
    if client.client_type != ClientType::Confidential {
        return Err(Error::validation("a public client has no secret"));
    }
    if !(0..=MAX_SECRET_GRACE_SECS).contains(&grace_secs) {
        return Err(Error::validation(format!("the grace period must be 0 to {} days", MAX_SECRET_GRACE_SECS / 86_400)));
    }
    let secret = crate::crypto::generate_secret();
    let t = now();
    let (previous, until) = match grace_secs {
        0 => (None, None),
        g => (client.secret_hash.clone(), Some(t + g)),
    };
    // Compare-and-set on the old hash: of two concurrent rotations one wins,
    // the other is told so, and no secret is shown that does not work.
    let res = clients::Entity::update_many()
        .col_expr(clients::Column::SecretHash, Expr::value(crate::crypto::digest(&secret)))
        .col_expr(clients::Column::PreviousSecretHash, Expr::value(previous))
        .col_expr(clients::Column::PreviousSecretExpiresAt, Expr::value(until))
        .col_expr(clients::Column::SecretRotatedAt, Expr::value(t))
        .col_expr(clients::Column::UpdatedAt, Expr::value(t))
        .filter(clients::Column::ClientId.eq(client_id))
        .filter(clients::Column::SecretHash.eq(client.secret_hash.clone()))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Err(Error::Conflict("the secret was rotated concurrently; try again".into()));
    }
    store.bump_clients_epoch().await?;
    let detail = Some(serde_json::json!({"grace_secs": grace_secs}));
    audit::record(db, Event { event: "client.secret_rotated", actor, client_id: Some(client_id), detail, ..Default::default() }).await;
    Ok(Created { client: get(db, client_id).await?, client_secret: Some(secret) })
}

/// Delete a client with its users' consents. Tokens first: every refresh
/// family of every user of the client is revoked and their live access
/// tokens denylisted, so that nothing issued to it outlives it (if the
/// store is down, nothing is deleted and the caller can retry).
pub async fn delete(db: &Db, store: &dyn TokenStore, client_id: &str, actor: Option<&str>) -> Result<()> {
    get(db, client_id).await?;
    let users: Vec<String> = entity::grants::Entity::find()
        .filter(entity::grants::Column::ClientId.eq(client_id))
        .all(db)
        .await?
        .into_iter()
        .map(|g| g.user_id)
        .collect();
    for user in &users {
        store.revoke_user_client(user, client_id, now()).await?;
    }
    let txn = db.begin().await?;
    let res = clients::Entity::delete_by_id(client_id.to_string()).exec(&txn).await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound(format!("client {client_id}")));
    }
    entity::grants::Entity::delete_many().filter(entity::grants::Column::ClientId.eq(client_id)).exec(&txn).await?;
    audit::record(&txn, Event { event: "client.deleted", actor, client_id: Some(client_id), ..Default::default() }).await;
    txn.commit().await?;
    store.bump_clients_epoch().await?;
    Ok(())
}

/// A client for unit tests of the protocol rules.
#[cfg(test)]
pub fn test_client(client_id: &str, client_type: ClientType, secret_hash: Option<String>, status: &str) -> Client {
    Client {
        client_id: client_id.into(),
        name: "App".into(),
        description: String::new(),
        client_type,
        secret_hash,
        redirect_uris: vec![],
        grant_types: vec![],
        scopes: vec![],
        status: status.into(),
        owner_user_id: None,
        tier: "free".into(),
        rate_limit: None,
        created_at: 0,
        updated_at: 0,
        admin_hold: None,
        can_introspect: false,
        pkce_optional: false,
        machine_pending: false,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        allowed_origins: vec![],
        require_par: false,
        registration_token_hash: None,
        registered_metadata: None,
        dynamic: false,
        auth_method: None,
        jwks: None,
        jwks_uri: None,
        require_dpop: false,
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: None,
        profile: None,
    }
}
