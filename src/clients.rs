//! Clients (registered apps): the domain model, its validation rules and
//! the management operations the CLI, the portal and the admin API share.
//! Every operation validates everything before it writes anything, and every
//! change is announced to the token store (`bump_clients_epoch`) so that
//! instances caching clients in memory see it on their next request.
use entity::clients;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde::Serialize;

use crate::audit::{self, Event};
use crate::db::now;
use crate::error::{Error, Result};
use crate::oauth::{client_auth, redirect_uri, scopes};
use crate::store::TokenStore;

pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials", "password"];
pub const TIERS: &[&str] = &["free", "pro", "enterprise"];

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
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub status: String,
    pub owner_user_id: Option<String>,
    pub tier: String,
    pub rate_limit: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn split(s: &str) -> Vec<String> {
    s.split(' ').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

impl TryFrom<clients::Model> for Client {
    type Error = Error;
    fn try_from(m: clients::Model) -> Result<Client> {
        Ok(Client {
            client_type: ClientType::parse(&m.client_type)?,
            redirect_uris: split(&m.redirect_uris),
            grant_types: split(&m.grant_types),
            scopes: split(&m.scopes),
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
        })
    }
}

impl Client {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
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
}

/// The one moment a secret is visible: right after creation or rotation.
#[derive(Debug, Serialize)]
pub struct Created {
    #[serde(flatten)]
    pub client: Client,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// Check a registration against every rule; the error names the first break.
pub fn validate(n: &NewClient) -> Result<ClientType> {
    let name = n.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::validation("name must be 1 to 100 printable characters"));
    }
    if n.description.chars().count() > 1000 {
        return Err(Error::validation("description must be at most 1000 characters"));
    }
    let ct = ClientType::parse(&n.client_type)?;
    if n.grant_types.is_empty() {
        return Err(Error::validation("give at least one grant type"));
    }
    for g in &n.grant_types {
        if !GRANT_TYPES.contains(&g.as_str()) {
            return Err(Error::validation(format!("unknown grant type {g:?}; one of {}", GRANT_TYPES.join(", "))));
        }
    }
    let has = |g: &str| n.grant_types.iter().any(|x| x == g);
    if ct == ClientType::Public && (has("client_credentials") || has("password")) {
        return Err(Error::validation("a public client cannot use client_credentials or password: it cannot keep a secret"));
    }
    if has("refresh_token") && !has("authorization_code") && !has("password") {
        return Err(Error::validation("refresh_token needs authorization_code (or password)"));
    }
    if has("authorization_code") && n.redirect_uris.is_empty() {
        return Err(Error::validation("authorization_code needs at least one redirect URI"));
    }
    for u in &n.redirect_uris {
        redirect_uri::validate(u).map_err(Error::Validation)?;
    }
    if n.scopes.is_empty() {
        return Err(Error::validation("give at least one scope"));
    }
    let parsed = scopes::parse(&n.scopes.join(" ")).map_err(|e| Error::validation(e.to_string()))?;
    if parsed.len() != n.scopes.len() {
        return Err(Error::validation("scopes must not repeat"));
    }
    if let Some(t) = &n.tier {
        if !TIERS.contains(&t.as_str()) {
            return Err(Error::validation(format!("tier must be one of {}", TIERS.join(", "))));
        }
    }
    if n.rate_limit.is_some_and(|l| l < 1) {
        return Err(Error::validation("rate limit must be at least 1 per minute"));
    }
    Ok(ct)
}

pub async fn create(db: &DatabaseConnection, n: NewClient, actor: Option<&str>) -> Result<Created> {
    let ct = validate(&n)?;
    crate::catalogue::require_known(db, &n.scopes).await?;
    let secret = (ct == ClientType::Confidential).then(client_auth::generate_secret);
    let t = now();
    let am = clients::ActiveModel {
        client_id: Set(client_auth::generate_client_id()),
        name: Set(n.name.trim().to_string()),
        description: Set(n.description.trim().to_string()),
        client_type: Set(ct.as_str().into()),
        secret_hash: Set(secret.as_deref().map(client_auth::hash_secret)),
        redirect_uris: Set(n.redirect_uris.join(" ")),
        grant_types: Set(n.grant_types.join(" ")),
        scopes: Set(n.scopes.join(" ")),
        status: Set("active".into()),
        owner_user_id: Set(n.owner_user_id.clone()),
        tier: Set(n.tier.clone().unwrap_or_else(|| "free".into())),
        rate_limit: Set(n.rate_limit),
        created_at: Set(t),
        updated_at: Set(t),
        secret_rotated_at: Set(None),
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

pub async fn find(db: &DatabaseConnection, client_id: &str) -> Result<Option<Client>> {
    clients::Entity::find_by_id(client_id.to_string()).one(db).await?.map(Client::try_from).transpose()
}

pub async fn get(db: &DatabaseConnection, client_id: &str) -> Result<Client> {
    find(db, client_id).await?.ok_or_else(|| Error::NotFound(format!("client {client_id}")))
}

pub async fn list(db: &DatabaseConnection, owner: Option<&str>) -> Result<Vec<Client>> {
    let mut q = clients::Entity::find().order_by_asc(clients::Column::CreatedAt);
    if let Some(o) = owner {
        q = q.filter(clients::Column::OwnerUserId.eq(o));
    }
    q.all(db).await?.into_iter().map(Client::try_from).collect()
}

/// Change a client's redirect URIs and scopes; the same rules as registration.
pub async fn update(
    db: &DatabaseConnection,
    store: &dyn TokenStore,
    client_id: &str,
    redirect_uris: Vec<String>,
    scopes: Vec<String>,
    actor: Option<&str>,
) -> Result<Client> {
    let c = get(db, client_id).await?;
    let n = NewClient {
        name: c.name.clone(),
        description: c.description.clone(),
        client_type: c.client_type.as_str().into(),
        grant_types: c.grant_types.clone(),
        scopes: scopes.clone(),
        redirect_uris: redirect_uris.clone(),
        owner_user_id: c.owner_user_id.clone(),
        tier: Some(c.tier.clone()),
        rate_limit: c.rate_limit,
    };
    validate(&n)?;
    crate::catalogue::require_known(db, &scopes).await?;
    clients::Entity::update_many()
        .col_expr(clients::Column::RedirectUris, Expr::value(redirect_uris.join(" ")))
        .col_expr(clients::Column::Scopes, Expr::value(scopes.join(" ")))
        .col_expr(clients::Column::UpdatedAt, Expr::value(now()))
        .filter(clients::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    store.bump_clients_epoch().await?;
    audit::record(
        db,
        Event {
            event: "client.changed",
            actor,
            client_id: Some(client_id),
            detail: Some(serde_json::json!({"redirect_uris": redirect_uris, "scopes": scopes})),
            ..Default::default()
        },
    )
    .await;
    get(db, client_id).await
}

/// Suspend or reactivate. Suspension takes effect at once: client
/// authentication reads the status on every request, and introspection
/// checks the status of the token's client.
pub async fn set_status(
    db: &DatabaseConnection,
    store: &dyn TokenStore,
    client_id: &str,
    active: bool,
    actor: Option<&str>,
) -> Result<Client> {
    let status = if active { "active" } else { "suspended" };
    let res = clients::Entity::update_many()
        .col_expr(clients::Column::Status, Expr::value(status))
        .col_expr(clients::Column::UpdatedAt, Expr::value(now()))
        .filter(clients::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound(format!("client {client_id}")));
    }
    store.bump_clients_epoch().await?;
    let event = if active { "client.activated" } else { "client.suspended" };
    audit::record(db, Event { event, actor, client_id: Some(client_id), ..Default::default() }).await;
    get(db, client_id).await
}

/// Replace a confidential client's secret; the old one stops working at once.
pub async fn rotate_secret(db: &DatabaseConnection, store: &dyn TokenStore, client_id: &str, actor: Option<&str>) -> Result<Created> {
    let client = get(db, client_id).await?;
    if client.client_type != ClientType::Confidential {
        return Err(Error::validation("a public client has no secret"));
    }
    let secret = client_auth::generate_secret();
    let t = now();
    // Compare-and-set on the old hash: of two concurrent rotations one wins,
    // the other is told so, and no secret is shown that does not work.
    let res = clients::Entity::update_many()
        .col_expr(clients::Column::SecretHash, Expr::value(client_auth::hash_secret(&secret)))
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
    audit::record(db, Event { event: "client.secret_rotated", actor, client_id: Some(client_id), ..Default::default() })
        .await;
    Ok(Created { client: get(db, client_id).await?, client_secret: Some(secret) })
}

/// Delete a client and its users' grants. Its live tokens are left to the
/// caller (`grants::revoke_client`) so that refresh families die with it.
pub async fn delete(db: &DatabaseConnection, store: &dyn TokenStore, client_id: &str, actor: Option<&str>) -> Result<()> {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> NewClient {
        NewClient {
            name: "Zapier".into(),
            client_type: "confidential".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["read:data".into()],
            ..Default::default()
        }
    }

    #[test]
    fn validation_rules() {
        assert_eq!(validate(&base()).unwrap(), ClientType::Confidential);
        let bad = |f: fn(&mut NewClient), needle: &str| {
            let mut n = base();
            f(&mut n);
            let e = validate(&n).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        };
        bad(|n| n.name = " ".into(), "name");
        bad(|n| n.client_type = "secret".into(), "client type");
        bad(|n| n.grant_types = vec!["implicit".into()], "unknown grant type");
        bad(|n| n.client_type = "public".into(), "public client");
        bad(|n| n.grant_types = vec!["authorization_code".into()], "redirect URI");
        bad(
            |n| {
                n.grant_types = vec!["authorization_code".into()];
                n.redirect_uris = vec!["http://app.example.com/cb".into()];
            },
            "https",
        );
        bad(|n| n.scopes = vec![], "scope");
        bad(|n| n.tier = Some("gold".into()), "tier");
    }
}
