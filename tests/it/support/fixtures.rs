//! What tests need in the registry and the token endpoint: clients, users,
//! tokens, made through the same functions as the CLI and the portal.
use sea_orm::ConnectionTrait;
use tessera::db::Db;
use tessera::registry::clients::NewClient;

use super::server::TestServer;

pub const PASSWORD: &str = "correct horse battery";
pub const REDIRECT: &str = "http://127.0.0.1:9/cb";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A confidential client_credentials client: (client_id, secret).
pub async fn machine_client(db: &Db, scopes: &str) -> (String, String) {
    limited_client(db, scopes, None).await
}

/// A resource server: a confidential client that may introspect tokens
/// issued to other clients (`--can-introspect`): (client_id, secret).
pub async fn resource_server(db: &Db) -> (String, String) {
    let c = tessera::oauth::registration::register(
        db,
        NewClient {
            name: "Resource server".into(),
            client_type: "confidential".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["read:data".into()],
            can_introspect: true,
            ..Default::default()
        },
        Some("test"),
    )
    .await
    .expect("create resource server");
    (c.client.client_id, c.client_secret.expect("secret"))
}

/// The same with an explicit rate limit (cost units per minute).
pub async fn limited_client(db: &Db, scopes: &str, rate_limit: Option<i64>) -> (String, String) {
    let c = tessera::oauth::registration::register(
        db,
        NewClient {
            name: "Machine".into(),
            client_type: "confidential".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: scopes.split(' ').map(str::to_string).collect(),
            rate_limit,
            ..Default::default()
        },
        Some("test"),
    )
    .await
    .expect("create client");
    (c.client.client_id, c.client_secret.expect("secret"))
}

/// A user with `PASSWORD`; returns the user id.
pub async fn user(db: &Db, username: &str, role: &str) -> String {
    tessera::registry::users::create(db, username, &format!("{username}@example.com"), PASSWORD, role, Some("test")).await.expect("create user").user_id
}

/// A confidential client registered for the legacy password grant (with
/// refresh): (client_id, secret).
pub async fn legacy_client(db: &Db) -> (String, String) {
    let c = tessera::oauth::registration::register(
        db,
        NewClient {
            name: "Legacy".into(),
            client_type: "confidential".into(),
            grant_types: vec!["password".into(), "refresh_token".into()],
            scopes: vec!["read:data".into()],
            ..Default::default()
        },
        Some("test"),
    )
    .await
    .expect("create legacy client");
    (c.client.client_id, c.client_secret.expect("secret"))
}

/// An app using the authorization code grant: (client_id, secret if confidential).
pub async fn app(db: &Db, client_type: &str, scopes: &str) -> (String, Option<String>) {
    let c = tessera::oauth::registration::register(
        db,
        NewClient {
            name: "Acme Sync".into(),
            description: "Syncs your data".into(),
            client_type: client_type.into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: scopes.split(' ').map(str::to_string).collect(),
            redirect_uris: vec![REDIRECT.into()],
            ..Default::default()
        },
        Some("test"),
    )
    .await
    .expect("create app");
    (c.client.client_id, c.client_secret)
}

/// A public app of a device without a browser (RFC 8628), "Living-room TV",
/// registered with `grants` (the short form `device_code` among them).
pub async fn device_app(db: &Db, grants: &[&str]) -> String {
    let n = NewClient {
        name: "Living-room TV".into(),
        client_type: "public".into(),
        grant_types: grants.iter().map(|g| g.to_string()).collect(),
        scopes: vec!["openid".into(), "read:data".into()],
        ..Default::default()
    };
    tessera::oauth::registration::register(db, n, None).await.expect("create device app").client.client_id
}

/// Verify an access token as a resource server would: fetch the JWKS over
/// HTTP, pick the key by `kid`, check signature, `typ`, `iss`, `aud`, `exp`.
pub async fn verify_offline(s: &TestServer, token: &str, audience: &str) -> Result<serde_json::Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(format!("typ is {:?}", header.typ));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwks: jsonwebtoken::jwk::JwkSet =
        s.http.get(s.url("/.well-known/jwks.json")).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
    let jwk = jwks.find(&kid).ok_or_else(|| format!("kid {kid} not in the JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[&s.base]);
    v.set_audience(&[audience]);
    v.leeway = 5;
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &v).map(|d| d.claims).map_err(|e| e.to_string())
}

pub async fn count_rows(db: &Db, table: &str) -> i64 {
    use sea_orm::{FromQueryResult, Statement};
    #[derive(FromQueryResult)]
    struct N {
        n: i64,
    }
    let stmt = Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table}"));
    N::find_by_statement(stmt).one(db).await.expect("count").expect("row").n
}

pub async fn count_where(db: &Db, table: &str, condition: &str) -> i64 {
    use sea_orm::{FromQueryResult, Statement};
    #[derive(FromQueryResult)]
    struct N {
        n: i64,
    }
    let stmt = Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}"));
    N::find_by_statement(stmt).one(db).await.expect("count").expect("row").n
}

