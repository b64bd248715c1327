//! RFC 6749 §4.4: a confidential client gets a token for itself.
use crate::error::{Error, Result};
use crate::oauth::issuer::{AccessGrant, Issuer};
use crate::oauth::params::Params;
use crate::oauth::scopes;
use crate::oauth::tokens::{select_audience, TokenResponse};
use crate::registry::clients::{Client, ClientType};

/// Scopes that only make sense with a user, never granted to a machine.
const USER_ONLY: &[&str] = &["openid", "profile", "email", "offline_access"];

/// The scopes a client_credentials request gets (pure rule).
pub fn grant_scopes(requested: Option<&str>, client: &Client) -> Result<Vec<String>> {
    let allowed: Vec<String> = client.scopes.iter().filter(|s| !USER_ONLY.contains(&s.as_str())).cloned().collect();
    if let Some(req) = requested {
        if let Some(s) = scopes::parse(req)?.iter().find(|s| USER_ONLY.contains(&s.as_str())) {
            return Err(Error::invalid_scope(format!("scope {s} needs a user; client_credentials has none")));
        }
    }
    scopes::resolve(requested, &allowed)
}

pub fn exchange(issuer: &Issuer, client: &Client, params: &Params) -> Result<TokenResponse> {
    if client.client_type != ClientType::Confidential {
        return Err(Error::UnauthorizedClient("client_credentials needs a confidential client".into()));
    }
    let granted = grant_scopes(params.get("scope"), client)?;
    let aud = select_audience(params.get("resource"), params.get("audience"), issuer.audiences(), issuer.default_audience())?;
    let scope = scopes::join(&granted);
    let id = client.client_id.as_str();
    let (access_token, claims) = issuer.access_token(AccessGrant { sub: id, client_id: id, aud: &aud, scope: &scope, auth_time: None }, None)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: claims.exp - claims.iat,
        scope,
        refresh_token: None,
        id_token: None,
    })
}
