//! RFC 6749 §4.4: a confidential client gets a token for itself.
use crate::error::{Error, Result};
use crate::oauth::issuer::{AccessGrant, Issuer};
use crate::oauth::params::Params;
use crate::oauth::scopes;
use crate::oauth::tokens::{select_audience, TokenResponse};
use crate::registry::clients::{Client, ClientType};

/// The scopes a client_credentials request gets (pure rule). The admin
/// scope is never part of the default and is asked for alone: its tokens
/// are for Tessera's own API, not for resource servers.
pub fn grant_scopes(requested: Option<&str>, client: &Client) -> Result<Vec<String>> {
    let allowed: Vec<String> = client.scopes.iter().filter(|s| !scopes::USER_ONLY.contains(&s.as_str())).cloned().collect();
    let Some(req) = requested else {
        let by_default: Vec<String> = allowed.into_iter().filter(|s| s != scopes::ADMIN).collect();
        return scopes::resolve(None, &by_default);
    };
    let asked = scopes::parse(req)?;
    if let Some(s) = asked.iter().find(|s| scopes::USER_ONLY.contains(&s.as_str())) {
        return Err(Error::invalid_scope(format!("scope {s} needs a user; client_credentials has none")));
    }
    if asked.len() > 1 && asked.iter().any(|s| s == scopes::ADMIN) {
        return Err(Error::invalid_scope(format!("ask for {} alone: its tokens are for Tessera's own API", scopes::ADMIN)));
    }
    scopes::resolve(Some(req), &allowed)
}

pub fn exchange(issuer: &Issuer, client: &Client, params: &Params, jkt: Option<&str>) -> Result<TokenResponse> {
    if client.client_type != ClientType::Confidential {
        return Err(Error::UnauthorizedClient("client_credentials needs a confidential client".into()));
    }
    if client.machine_pending {
        return Err(Error::UnauthorizedClient("an admin has not yet approved this app's machine access (client_credentials)".into()));
    }
    let granted = grant_scopes(params.get("scope"), client)?;
    let (resource, audience) = (params.get("resource"), params.get("audience"));
    let aud = match granted.iter().any(|s| s == scopes::ADMIN) {
        // Tessera's own API: the issuer is the only audience.
        true => select_audience(resource, audience, &[issuer.issuer().to_string()], issuer.issuer())?,
        false => select_audience(resource, audience, issuer.audiences(), issuer.default_audience())?,
    };
    let scope = scopes::join(&granted);
    let id = client.client_id.as_str();
    let (access_token, claims) = issuer.access_token(AccessGrant { sub: id, client_id: id, aud: &aud, scope: &scope, auth_time: None, jkt }, None)?;
    Ok(TokenResponse {
        access_token,
        token_type: claims.token_type().into(),
        expires_in: claims.exp - claims.iat,
        scope,
        refresh_token: None,
        id_token: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::clients::test_client;

    #[test]
    fn the_admin_scope_is_asked_for_alone_and_never_by_default() {
        let mut c = test_client("c1", ClientType::Confidential, None, "active");
        c.scopes = vec!["read:data".into(), "openid".into(), scopes::ADMIN.into()];
        assert_eq!(grant_scopes(None, &c).unwrap(), ["read:data"]);
        assert_eq!(grant_scopes(Some(scopes::ADMIN), &c).unwrap(), [scopes::ADMIN]);
        assert!(matches!(grant_scopes(Some("read:data tessera:admin"), &c), Err(Error::InvalidScope(_))));
        assert!(matches!(grant_scopes(Some("openid"), &c), Err(Error::InvalidScope(m)) if m.contains("needs a user")));
    }
}
