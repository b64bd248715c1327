//! The token endpoint's grants, one file each. [`token`] authenticates the
//! client, checks it may use the grant, and dispatches; [`issue_for_user`]
//! is what every user-facing grant ends with.
pub mod authorization_code;
pub mod client_credentials;
pub mod password;
pub mod refresh_token;

use serde::{Deserialize, Serialize};

use crate::app::Tessera;
use crate::clients::Client;
use crate::error::{Error, Result};
use crate::keys::TokenType;
use crate::oauth::params::Params;
use crate::oauth::tokens::{self, TokenResponse};
use crate::store::{RefreshRecord, RefreshState};

pub const SUPPORTED: &[&str] = &["authorization_code", "refresh_token", "client_credentials", "password"];

/// The request's grant type, if this server supports it.
pub fn grant_type(params: &Params) -> Result<&str> {
    let grant_type = params.require("grant_type")?;
    if !SUPPORTED.contains(&grant_type) {
        return Err(Error::UnsupportedGrantType(grant_type.to_string()));
    }
    Ok(grant_type)
}

/// Run the grant for an authenticated client. `refresh`: the presented
/// refresh token as already read from the store, if it was.
pub async fn token(t: &Tessera, client: &Client, grant_type: &str, params: &Params, refresh: Option<RefreshState>) -> Result<TokenResponse> {
    if !client.allows_grant(grant_type) {
        return Err(Error::UnauthorizedClient(format!("this client may not use {grant_type}")));
    }
    let resp = match grant_type {
        "client_credentials" => client_credentials::exchange(t, client, params).await,
        "authorization_code" => authorization_code::exchange(t, client, params).await,
        "refresh_token" => refresh_token::exchange(t, client, params, refresh).await,
        "password" => password::exchange(t, client, params).await,
        other => Err(Error::UnsupportedGrantType(other.to_string())),
    }?;
    crate::metrics::METRICS.token_issued(grant_type);
    Ok(resp)
}

/// What a refresh-token family remembers (opaque JSON to the store).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FamilyData {
    /// The scopes originally granted: a refresh may narrow, never widen.
    pub scope: String,
    pub auth_time: i64,
}

/// OpenID Connect ID token claims (Core §2, §3.1.3.6).
#[derive(Debug, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub at_hash: String,
}

/// `at_hash`: base64url of the left half of SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let d = sha2::Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d[..16])
}

/// Tokens for a user: an access token, always a tracked refresh record (so
/// that revoking the grant can denylist the access token), the refresh
/// token itself when the client may refresh, and an ID token with `openid`.
pub struct Issue<'a> {
    pub client: &'a Client,
    pub user_id: &'a str,
    /// Scopes of this access token.
    pub scopes: &'a [String],
    /// Scopes of the family (the original grant).
    pub family_scope: String,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    /// `Some` when rotating: the family and the token being replaced.
    pub rotate_from: Option<(&'a str, &'a str)>,
    /// Ids fixed before issuing, for a new family.
    pub preset: Option<&'a Preset>,
}

/// The ids of what a code exchange will issue, fixed before the code is
/// redeemed and recorded with the redemption, so that a replay racing the
/// first exchange still finds the family and the access token to revoke.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Preset {
    pub family_id: String,
    pub jti: String,
    /// Absent from records written before it existed.
    #[serde(default)]
    pub iat: i64,
    /// The access token's `exp` (how long its `jti` stays denylisted).
    pub exp: i64,
}

impl Preset {
    pub fn new(t: &Tessera, now: i64) -> Preset {
        Preset { family_id: tokens::new_jti(), jti: tokens::new_jti(), iat: now, exp: t.access_expiry(now) }
    }
}

pub enum Issued {
    Tokens(TokenResponse),
    /// The rotation lost: the old refresh token had been used already.
    Reused(String),
    Invalid,
}

pub async fn issue_for_user(t: &Tessera, i: Issue<'_>) -> Result<Issued> {
    let scope = i.scopes.join(" ");
    let aud = t.cfg.default_audience.clone();
    let preset = i.preset.map(|p| (p.jti.as_str(), p.iat));
    let (access_token, claims) = t.issue_access_token(i.user_id, &i.client.client_id, &aud, &scope, Some(i.auth_time), preset)?;
    let refresh_value = tokens::random_token(32);
    let now = crate::db::now();
    let data = serde_json::to_string(&FamilyData { scope: i.family_scope.clone(), auth_time: i.auth_time })
        .map_err(|e| Error::invalid_request(e.to_string()))?;
    let rec = RefreshRecord {
        token_hash: tokens::digest(&refresh_value),
        family_id: match (i.rotate_from, i.preset) {
            (Some((family, _)), _) => family.to_string(),
            (None, Some(p)) => p.family_id.clone(),
            (None, None) => tokens::new_jti(),
        },
        client_id: i.client.client_id.clone(),
        user_id: i.user_id.to_string(),
        data,
        expires_at: now + t.cfg.refresh_token_ttl.as_secs() as i64,
        access_jti: claims.jti.clone(),
        access_exp: claims.exp,
    };
    match i.rotate_from {
        None => t.store.put_refresh(&rec).await?,
        Some((_, old_hash)) => match t.store.rotate_refresh(old_hash, &rec, now).await? {
            crate::store::Rotation::Rotated => {}
            crate::store::Rotation::Reused { family_id } => return Ok(Issued::Reused(family_id)),
            crate::store::Rotation::Invalid => return Ok(Issued::Invalid),
        },
    }
    let id_token = if i.scopes.iter().any(|s| s == "openid") {
        let idc = IdClaims {
            iss: t.cfg.issuer.clone(),
            sub: i.user_id.to_string(),
            aud: i.client.client_id.clone(),
            exp: claims.exp,
            iat: claims.iat,
            auth_time: i.auth_time,
            nonce: i.nonce.map(str::to_string),
            at_hash: at_hash(&access_token),
        };
        Some(t.keys.ring().id_signer.sign(TokenType::IdToken, &idc)?)
    } else {
        None
    };
    crate::grants::touch(&t.db, i.user_id, &i.client.client_id).await?;
    let refresh_token = i.client.allows_grant("refresh_token").then_some(refresh_value);
    Ok(Issued::Tokens(
        TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: claims.exp - claims.iat,
            scope,
            refresh_token,
            id_token,
        },
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn at_hash_is_left_half_base64url() {
        // OpenID Connect Core example value for "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        assert_eq!(super::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
