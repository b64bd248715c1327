//! What every user-facing grant ends with: an access token, a tracked
//! refresh record (so that revoking the consent can denylist the access
//! token), the refresh token itself when the client may refresh, and an ID
//! token when `openid` was granted.
use serde::{Deserialize, Serialize};

use super::Stores;
use crate::error::{Error, Result};
use crate::oauth::issuer::{AccessGrant, Issuer};
use crate::oauth::tokens::TokenResponse;
use crate::registry::clients::Client;
use crate::registry::consents;
use crate::registry::grant_types::GrantType;
use crate::store::{RefreshRecord, Rotation};

/// What a refresh-token family remembers (opaque JSON to the store).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FamilyData {
    /// The scopes originally granted: a refresh may narrow, never widen.
    pub scope: String,
    pub auth_time: i64,
    /// The consent the family came from: a refresh is refused once that
    /// consent is gone, even if the user consents again later (a new
    /// consent has a new id). Absent from families written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The DPoP key a public client's refresh tokens are bound to (RFC 9449 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// The browser session the family started in: refreshed ID tokens keep its `sid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Tokens to issue for a user.
pub struct Issue<'a> {
    pub client: &'a Client,
    pub user_id: &'a str,
    /// Scopes of this access token.
    pub scopes: &'a [String],
    /// Scopes of the family (the original grant).
    pub family_scope: String,
    /// The consent it comes from (`None` only for families written before consents were bound).
    pub grant_id: Option<&'a str>,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    /// `Some` when rotating: the family and the token being replaced.
    pub rotate_from: Option<(&'a str, &'a str)>,
    /// Ids fixed before issuing, for a new family.
    pub preset: Option<&'a Preset>,
    /// The DPoP proof's key: the access token is bound to it, and so are a
    /// public client's refresh tokens.
    pub jkt: Option<&'a str>,
    /// The session of the sign-in (the ID token's `sid`).
    pub sid: Option<&'a str>,
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
    pub fn new(issuer: &Issuer, now: i64) -> Preset {
        let family_id = crate::crypto::new_jti();
        let jti = crate::store::in_family(&family_id, &crate::crypto::new_jti());
        Preset { family_id, jti, iat: now, exp: issuer.access_expiry(now) }
    }
}

pub enum Issued {
    Tokens(TokenResponse),
    /// The rotation lost: the old refresh token had been used already.
    Reused(String),
    Invalid,
}

pub async fn issue(s: Stores<'_>, issuer: &Issuer, i: Issue<'_>) -> Result<Issued> {
    let scope = crate::oauth::scopes::join(i.scopes);
    let aud = crate::oauth::admin::audience_of(i.scopes, issuer.issuer(), issuer.default_audience());
    let grant = AccessGrant { sub: i.user_id, client_id: &i.client.client_id, aud, scope: &scope, auth_time: Some(i.auth_time), jkt: i.jkt };
    let family_id = match (i.rotate_from, i.preset) {
        (Some((family, _)), _) => family.to_string(),
        (None, Some(p)) => p.family_id.clone(),
        (None, None) => crate::crypto::new_jti(),
    };
    let now = crate::db::now();
    // Every id of the family carries its prefix (`store::in_family`).
    let jti = match i.preset {
        Some(p) => p.jti.clone(),
        None => crate::store::in_family(&family_id, &crate::crypto::new_jti()),
    };
    let (access_token, claims) = issuer.access_token(grant, Some((&jti, i.preset.map_or(now, |p| p.iat))))?;
    let refresh_value = crate::store::in_family(&family_id, &crate::crypto::random_token(32));
    let bound = (i.client.client_type == crate::registry::clients::ClientType::Public).then_some(i.jkt).flatten();
    let family = FamilyData { scope: i.family_scope.clone(), auth_time: i.auth_time, grant_id: i.grant_id.map(str::to_string), jkt: bound.map(str::to_string), sid: i.sid.map(str::to_string) };
    let data = serde_json::to_string(&family)
        .map_err(|e| Error::invalid_request(e.to_string()))?;
    let rec = RefreshRecord {
        token_hash: crate::store::refresh_handle(&refresh_value),
        family_id,
        client_id: i.client.client_id.clone(),
        user_id: i.user_id.to_string(),
        data,
        expires_at: issuer.refresh_expiry(now),
        access_jti: claims.jti.clone(),
        access_exp: claims.exp,
    };
    match i.rotate_from {
        None => s.store.put_refresh(&rec).await?,
        Some((_, old_hash)) => match s.store.rotate_refresh(old_hash, &rec, now).await? {
            Rotation::Rotated => {}
            Rotation::Reused { family_id } => return Ok(Issued::Reused(family_id)),
            Rotation::Invalid => return Ok(Issued::Invalid),
        },
    }
    let id_token = match i.scopes.iter().any(|s| s == "openid") {
        true => Some(issuer.id_token(&claims, &access_token, i.auth_time, i.nonce, i.sid)?),
        false => None,
    };
    consents::touch(s.db, i.user_id, &i.client.client_id).await?;
    let refresh_token = i.client.allows(GrantType::RefreshToken).then_some(refresh_value);
    Ok(Issued::Tokens(TokenResponse {
        access_token,
        token_type: claims.token_type().into(),
        expires_in: claims.exp - claims.iat,
        scope,
        refresh_token,
        id_token,
    }))
}
