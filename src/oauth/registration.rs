//! What may be registered, and registering it: a client's metadata (name,
//! type, grant types, redirect URIs, scopes, tier; RFC 6749 §2, RFC 7591 §2)
//! and new scopes for the catalogue. The CLI, the portal, the admin console
//! and the admin API all register through here, so every path checks the
//! same rules before anything is written to the registry.
use crate::db::Db;

use super::{redirect_uri, scopes};
use crate::error::{Error, Result};
use crate::registry::catalogue::{self, Scope};
use crate::registry::clients::{self, Change, Client, ClientType, Created, GrantType, NewClient};
use crate::store::TokenStore;

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
    let grants = n.grant_types.iter().map(|g| GrantType::parse_registered(g)).collect::<Result<Vec<_>, _>>().map_err(Error::Validation)?;
    let has = |g: GrantType| grants.contains(&g);
    if ct == ClientType::Public && (has(GrantType::ClientCredentials) || has(GrantType::Password)) {
        return Err(Error::validation("a public client cannot use client_credentials or password: it cannot keep a secret"));
    }
    if has(GrantType::RefreshToken) && !has(GrantType::AuthorizationCode) && !has(GrantType::DeviceCode) && !has(GrantType::Password) {
        return Err(Error::validation("refresh_token needs authorization_code or device_code (or password)"));
    }
    if has(GrantType::AuthorizationCode) && n.redirect_uris.is_empty() {
        return Err(Error::validation("authorization_code needs at least one redirect URI"));
    }
    for u in &n.redirect_uris {
        redirect_uri::validate(u, ct == ClientType::Public).map_err(Error::Validation)?;
    }
    for o in &n.allowed_origins {
        super::origins::validate(o).map_err(Error::Validation)?;
    }
    if n.scopes.is_empty() {
        return Err(Error::validation("give at least one scope"));
    }
    let parsed = scopes::parse(&n.scopes.join(" ")).map_err(|e| Error::validation(e.to_string()))?;
    if parsed.len() != n.scopes.len() {
        return Err(Error::validation("scopes must not repeat"));
    }
    // Any user could run a public app's code flow and consent: the admin
    // API's scope is for confidential clients (and admins' own tokens).
    if ct == ClientType::Public && parsed.iter().any(|s| s == scopes::ADMIN) {
        return Err(Error::validation(format!("a public client cannot hold {}: any user could obtain it", scopes::ADMIN)));
    }
    if let Some(t) = &n.tier {
        if !clients::TIERS.contains(&t.as_str()) {
            return Err(Error::validation(format!("tier must be one of {}", clients::TIERS.join(", "))));
        }
    }
    if n.pkce_optional && ct == ClientType::Public {
        return Err(Error::validation("a public client cannot skip PKCE: it is its only proof at the token endpoint"));
    }
    if n.can_introspect && ct == ClientType::Public {
        return Err(Error::validation("only a confidential client (a resource server) can introspect"));
    }
    if n.rate_limit.is_some_and(|l| l < 1) {
        return Err(Error::validation("rate limit must be at least 1 per minute"));
    }
    validate_keys(n, ct)?;
    super::fapi2::validate_registration(n, ct)?;
    for u in &n.post_logout_redirect_uris {
        redirect_uri::validate(u, ct == ClientType::Public).map_err(|e| Error::validation(format!("post-logout redirect URI: {e}")))?;
    }
    if let Some(u) = &n.backchannel_logout_uri {
        if !redirect_uri::is_web_url(u) {
            return Err(Error::validation("backchannel_logout_uri must be https (or http on loopback), without a fragment"));
        }
    }
    Ok(ct)
}

/// `private_key_jwt` (RFC 7523): a confidential client with its public keys
/// inline or at an https URL, one or the other; keys without that method are refused.
fn validate_keys(n: &NewClient, ct: ClientType) -> Result<()> {
    match (n.auth_method.as_deref(), &n.jwks, &n.jwks_uri) {
        (None, None, None) => Ok(()),
        (None, _, _) => Err(Error::validation("jwks and jwks_uri are for --auth-method private_key_jwt")),
        (Some(clients::PRIVATE_KEY_JWT), _, _) if ct == ClientType::Public => {
            Err(Error::validation("private_key_jwt is for confidential clients (a public client holds no key)"))
        }
        (Some(clients::PRIVATE_KEY_JWT), Some(jwks), None) => super::client_assertion::validate_jwks(jwks).map(|_| ()).map_err(Error::Validation),
        (Some(clients::PRIVATE_KEY_JWT), None, Some(uri)) => match redirect_uri::is_web_url(uri) {
            true => Ok(()),
            false => Err(Error::validation("jwks_uri must be an https URL (http only on loopback), without a fragment")),
        },
        (Some(clients::PRIVATE_KEY_JWT), _, _) => Err(Error::validation("private_key_jwt needs the client's public keys: jwks or jwks_uri, one of them")),
        (Some(other), _, _) => Err(Error::validation(format!("auth method {other:?} is not supported; private_key_jwt, or none for a secret"))),
    }
}

/// Check and store a new client; a confidential client's secret is in the answer, once.
pub async fn register(db: &Db, mut n: NewClient, actor: Option<&str>) -> Result<Created> {
    let ct = validate(&n)?;
    // Stored by their wire names (the device grant's short form becomes its URN).
    for g in n.grant_types.iter_mut() {
        *g = GrantType::parse_registered(g).map_err(Error::Validation)?.as_str().to_string();
    }
    clients::insert(db, &n, ct, actor).await
}

/// Change how a client proves itself and what it is held to (PAR, DPoP, the
/// FAPI 2.0 profile, a key URL), under the same rules as registration.
pub async fn secure(db: &Db, store: &dyn TokenStore, client_id: &str, s: clients::Security, actor: Option<&str>) -> Result<Client> {
    let c = clients::get(db, client_id).await?;
    if s.jwks_uri.is_some() && c.jwks.is_some() {
        return Err(Error::validation("this client registered its keys inline; a key URL would not replace them"));
    }
    let mut n = NewClient {
        name: c.name.clone(),
        client_type: c.client_type.as_str().into(),
        grant_types: c.grant_types.iter().map(|g| g.as_str().to_string()).collect(),
        scopes: c.scopes.clone(),
        redirect_uris: c.redirect_uris.clone(),
        pkce_optional: c.pkce_optional,
        auth_method: c.auth_method.clone(),
        jwks: c.jwks.clone(),
        jwks_uri: s.jwks_uri.clone().or(c.jwks_uri.clone()),
        profile: s.profile.clone(),
        ..Default::default()
    };
    n.tier = Some(c.tier.clone());
    validate(&n)?;
    clients::set_security(db, store, client_id, &s, actor).await
}

/// Change a client (redirect URIs, scopes, origins; name, description, tier
/// and rate limit when given), under the same rules as registration.
pub async fn update(db: &Db, store: &dyn TokenStore, client_id: &str, change: Change, actor: Option<&str>) -> Result<Client> {
    let c = clients::get(db, client_id).await?;
    let n = NewClient {
        name: change.name.clone().unwrap_or_else(|| c.name.clone()),
        description: change.description.clone().unwrap_or_else(|| c.description.clone()),
        client_type: c.client_type.as_str().into(),
        grant_types: c.grant_types.iter().map(|g| g.as_str().to_string()).collect(),
        scopes: change.scopes.clone(),
        redirect_uris: change.redirect_uris.clone(),
        allowed_origins: change.allowed_origins.clone(),
        owner_user_id: c.owner_user_id.clone(),
        tier: Some(change.tier.clone().unwrap_or_else(|| c.tier.clone())),
        rate_limit: change.rate_limit.or(c.rate_limit),
        can_introspect: c.can_introspect,
        pkce_optional: c.pkce_optional,
        machine_pending: c.machine_pending,
        require_par: c.require_par,
        registration_token_hash: None,
        registered_metadata: None,
        auth_method: c.auth_method.clone(),
        jwks: c.jwks.clone(),
        jwks_uri: c.jwks_uri.clone(),
        require_dpop: c.require_dpop,
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        profile: c.profile.clone(),
    };
    validate(&n)?;
    clients::update(db, store, client_id, &change, actor).await
}

/// The scopes a machine token could carry (the admin scope is never self-served).
fn machine_scopes(scopes: &[String]) -> Vec<String> {
    scopes.iter().filter(|s| !scopes::USER_ONLY.contains(&s.as_str())).cloned().collect()
}

/// Register an app through the developer portal. A machine app
/// (client_credentials) that asks for a scope not open to machines in the
/// catalogue gets no token until an admin approves it; an admin's own
/// registrations need no approval.
pub async fn register_self_service(db: &Db, mut n: NewClient, actor: Option<&str>, is_admin: bool) -> Result<Created> {
    let machine = n.grant_types.iter().any(|g| g == GrantType::ClientCredentials.as_str());
    if !is_admin && machine && !catalogue::needing_approval(db, &machine_scopes(&n.scopes)).await?.is_empty() {
        n.machine_pending = true;
    }
    register(db, n, actor).await
}

/// Change an app's redirect URIs and scopes through the developer portal: a
/// machine app that gains a scope not open to machines waits for an admin again.
pub async fn update_self_service(db: &Db, store: &dyn TokenStore, client: &Client, change: Change, actor: Option<&str>, is_admin: bool) -> Result<Client> {
    let gained: Vec<String> = machine_scopes(&change.scopes).into_iter().filter(|s| !client.scopes.contains(s)).collect();
    let updated = update(db, store, &client.client_id, change, actor).await?;
    if !is_admin && updated.allows(GrantType::ClientCredentials) && !catalogue::needing_approval(db, &gained).await?.is_empty() {
        return clients::set_machine_pending(db, store, &client.client_id, true, actor).await;
    }
    Ok(updated)
}

/// Add a scope to the catalogue: one scope token (RFC 6749 §3.3) with a
/// description users can read on the consent page; `machine_open`: any app
/// may get it through client_credentials without an admin's approval.
pub async fn add_scope(db: &Db, name: &str, description: &str, machine_open: bool) -> Result<Scope> {
    let parsed = scopes::parse(name).map_err(|e| Error::validation(e.to_string()))?;
    if parsed.len() != 1 {
        return Err(Error::validation("give exactly one scope name"));
    }
    if description.trim().is_empty() {
        return Err(Error::validation("a scope needs a description users can read"));
    }
    catalogue::add(db, name, description.trim(), machine_open).await
}

/// Whether a user may give an app `scope`: `tessera:admin` only by an admin.
pub fn may_grant_scope(is_admin: bool, scope: &str) -> bool {
    is_admin || scope != scopes::ADMIN
}

/// Refuse a change from `before` to `after` that gives an app a scope its
/// user may not grant (what it had already may stay).
pub fn may_grant_scopes(is_admin: bool, before: &[String], after: &[String]) -> Result<()> {
    match after.iter().find(|s| !may_grant_scope(is_admin, s) && !before.contains(s)) {
        Some(s) => Err(Error::AccessDenied(format!("only an admin can give an app the {s} scope"))),
        None => Ok(()),
    }
}

/// Whether a user may manage an app: its owner, or an admin.
pub fn may_manage(is_admin: bool, user_id: &str, c: &Client) -> bool {
    is_admin || c.owner_user_id.as_deref() == Some(user_id)
}

/// What a developer registers in the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalKind {
    /// Users sign in to it: the code flow with refresh.
    UserApp,
    /// The same, and it also acts for itself (client credentials).
    UserAndMachine,
    /// A machine only: client credentials, no users, no redirect URI.
    MachineOnly,
    /// A device without a browser (TV, command-line tool): RFC 8628 with refresh, no redirect URI.
    Device,
}

impl PortalKind {
    /// The portal form's `machine` field: "" / "1" / "only".
    pub fn from_form(machine: &str) -> PortalKind {
        match machine {
            "1" => PortalKind::UserAndMachine,
            "only" => PortalKind::MachineOnly,
            "device" => PortalKind::Device,
            _ => PortalKind::UserApp,
        }
    }
}

/// The grant types of an app registered in the developer portal.
pub fn portal_grant_types(kind: PortalKind) -> Vec<String> {
    let g: &[GrantType] = match kind {
        PortalKind::UserApp => &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        PortalKind::UserAndMachine => &[GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials],
        PortalKind::MachineOnly => &[GrantType::ClientCredentials],
        PortalKind::Device => &[GrantType::DeviceCode, GrantType::RefreshToken],
    };
    g.iter().map(|g| g.as_str().to_string()).collect()
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
        bad(|n| n.grant_types = vec!["implicit".into()], "RFC 9700");
        bad(|n| n.grant_types = vec!["magic".into()], "unknown grant type");
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
        bad(
            |n| {
                n.client_type = "public".into();
                n.grant_types = vec!["authorization_code".into()];
                n.redirect_uris = vec!["https://app.example.com/cb".into()];
                n.scopes = vec!["openid".into(), "tessera:admin".into()];
            },
            "public client cannot hold tessera:admin",
        );
        bad(|n| n.grant_types = vec!["refresh_token".into()], "needs authorization_code or device_code");
        bad(|n| n.auth_method = Some("private_key_jwt".into()), "jwks or jwks_uri");
        bad(|n| n.jwks_uri = Some("https://app.example.com/jwks".into()), "for --auth-method private_key_jwt");
        bad(
            |n| {
                n.auth_method = Some("private_key_jwt".into());
                n.jwks_uri = Some("http://app.example.com/jwks".into());
            },
            "https",
        );
        bad(
            |n| {
                n.auth_method = Some("private_key_jwt".into());
                n.jwks = Some(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.into());
            },
            "private or symmetric",
        );
        bad(|n| n.auth_method = Some("tls_client_auth".into()), "not supported");
        // A device (RFC 8628) needs no redirect URI, public or not, and may refresh.
        let mut tv = base();
        tv.client_type = "public".into();
        tv.grant_types = vec!["device_code".into(), "refresh_token".into()];
        assert_eq!(validate(&tv).unwrap(), ClientType::Public);
    }

    #[test]
    fn who_may_grant_and_manage() {
        let admin_scope = vec![scopes::ADMIN.to_string()];
        assert!(may_grant_scopes(true, &[], &admin_scope).is_ok());
        assert!(matches!(may_grant_scopes(false, &[], &admin_scope), Err(Error::AccessDenied(_))));
        assert!(may_grant_scopes(false, &admin_scope, &admin_scope).is_ok(), "what it had may stay");
        assert!(may_grant_scopes(false, &[], &["read:data".to_string()]).is_ok());
        let mut c = crate::registry::clients::test_client("c", ClientType::Public, None, "active");
        c.owner_user_id = Some("u1".into());
        assert!(may_manage(false, "u1", &c));
        assert!(!may_manage(false, "u2", &c));
        assert!(may_manage(true, "u2", &c));
        assert_eq!(portal_grant_types(PortalKind::from_form("")), ["authorization_code", "refresh_token"]);
        assert_eq!(portal_grant_types(PortalKind::from_form("1")), ["authorization_code", "refresh_token", "client_credentials"]);
        assert_eq!(portal_grant_types(PortalKind::from_form("only")), ["client_credentials"]);
        assert_eq!(portal_grant_types(PortalKind::from_form("device")), ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]);
    }
}
