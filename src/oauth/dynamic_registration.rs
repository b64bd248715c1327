//! Dynamic client registration (RFC 7591) and its management protocol
//! (RFC 7592): an app registers itself at `POST /register` with its client
//! metadata as JSON, and manages its registration at
//! `/register/{client_id}` with the registration access token it got.
//!
//! * `TESSERA_REGISTRATION`: `off` (no endpoint), `token` (the default: an
//!   initial access token an admin made, `registry::registration_tokens`) or
//!   `open` (anyone; rate-limited per address like every anonymous request).
//! * The metadata passes the same rules as every other registration
//!   (`oauth::registration`): redirect URIs, grant types, scopes from the
//!   catalogue, never the admin scope; a machine app whose scopes are not
//!   open to machines waits for an admin as in the portal. Refusals are
//!   `invalid_redirect_uri` or `invalid_client_metadata` with a description,
//!   and write nothing (the initial access token is spent last).
//! * Such a client is owned by no developer, shown as dynamically registered
//!   in the console; its registration access token is stored as SHA-256.
//! * Defaults are RFC 7591 §2's: `grant_types` `["authorization_code"]`,
//!   `response_types` `["code"]`, `token_endpoint_auth_method`
//!   `client_secret_basic` (`none` makes a public client). A missing `scope`
//!   is `openid` for apps people sign in to; a machine-only app must name
//!   its scopes.
//! * RFC 7592 `PUT` may change the name, URIs, redirect URIs and scopes;
//!   grant types and the authentication method stay what they were
//!   (register a new client to change them).
use crate::db::Db;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::registration;
use crate::error::{Error, Result};
use crate::registry::catalogue;
use crate::registry::clients::{self, Change, Client, ClientType, GrantType, NewClient};
use crate::store::TokenStore;

pub use crate::config::RegistrationMode as Mode;

/// Registrations one address may make per minute (`/register`, all methods).
pub const REQUESTS_PER_MIN_ADDRESS: i64 = 20;

/// The authentication methods a registering client may choose.
pub const AUTH_METHODS: [&str; 4] = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];

/// Client metadata (RFC 7591 §2), as sent. Unknown members are ignored, as
/// §2 says a server must.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub scope: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    /// `private_key_jwt`: the client's public keys (a JWK Set) or where it publishes them.
    pub jwks: Option<Value>,
    pub jwks_uri: Option<String>,
    /// RP-Initiated Logout §3.1 and Back-Channel Logout §2.2.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// RFC 9449 §5.2: always DPoP-bound access tokens.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// RFC 7592 `PUT`: must name the client it replaces.
    pub client_id: Option<String>,
    /// RFC 7592 `PUT`: if sent, must be the client's secret.
    pub client_secret: Option<String>,
}

/// The metadata kept beside the client's columns (answered on every read).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub token_endpoint_auth_method: String,
    pub response_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
}

fn bad(m: impl Into<String>) -> Error {
    Error::InvalidClientMetadata(m.into())
}

/// Parse a JSON body into metadata: wrong types are `invalid_client_metadata`.
pub fn parse(body: Value) -> Result<Metadata> {
    if !body.is_object() {
        return Err(bad("the body must be a JSON object of client metadata"));
    }
    serde_json::from_value(body).map_err(|e| bad(format!("client metadata: {e}")))
}

/// A URL people may be sent to: https, or http on loopback.
fn check_web_uri(name: &str, v: &Option<String>) -> Result<()> {
    let Some(v) = v else { return Ok(()) };
    match super::redirect_uri::is_web_url(v) && v.len() <= 2000 {
        true => Ok(()),
        false => Err(bad(format!("{name} must be an https URL"))),
    }
}

/// What the metadata asks to register, checked by the same rules as every
/// registration (pure; the catalogue is checked by [`register`]).
pub fn to_new_client(m: &Metadata) -> Result<(NewClient, Kept)> {
    let method = m.token_endpoint_auth_method.clone().unwrap_or_else(|| "client_secret_basic".into());
    if !AUTH_METHODS.contains(&method.as_str()) {
        return Err(bad(format!("token_endpoint_auth_method {method:?} is not supported; one of {}", AUTH_METHODS.join(", "))));
    }
    let client_type = if method == "none" { ClientType::Public } else { ClientType::Confidential };
    let grants = m.grant_types.clone().unwrap_or_else(|| vec![GrantType::AuthorizationCode.as_str().into()]);
    let parsed: Vec<GrantType> = grants.iter().map(|g| GrantType::parse_registered(g)).collect::<std::result::Result<_, _>>().map_err(bad)?;
    let code_flow = parsed.contains(&GrantType::AuthorizationCode);
    // Absent, they follow the grant types; sent, they must agree (RFC 7591 §2.1).
    let response_types = m.response_types.clone().unwrap_or_else(|| if code_flow { vec!["code".into()] } else { vec![] });
    if let Some(r) = response_types.iter().find(|r| *r != "code") {
        return Err(bad(format!("response_type {r:?} is not supported; only code (RFC 9700 §2.1.2)")));
    }
    if code_flow == response_types.is_empty() {
        return Err(bad("response_types must be [\"code\"] exactly when grant_types has authorization_code (RFC 7591 §2.1)"));
    }
    for (name, v) in [("client_uri", &m.client_uri), ("logo_uri", &m.logo_uri), ("tos_uri", &m.tos_uri), ("policy_uri", &m.policy_uri)] {
        check_web_uri(name, v)?;
    }
    let for_people = code_flow || parsed.contains(&GrantType::DeviceCode);
    let scopes: Vec<String> = match m.scope.as_deref() {
        Some(s) => super::scopes::parse(s).map_err(|e| bad(e.to_string()))?,
        None if for_people => vec!["openid".into()],
        None => return Err(bad("scope is required for a client that acts for itself")),
    };
    for u in &m.redirect_uris {
        super::redirect_uri::validate(u, client_type == ClientType::Public).map_err(Error::InvalidRedirectUri)?;
    }
    if code_flow && m.redirect_uris.is_empty() {
        return Err(Error::InvalidRedirectUri("authorization_code needs at least one redirect URI".into()));
    }
    let key_auth = method == crate::registry::clients::PRIVATE_KEY_JWT;
    let n = NewClient {
        auth_method: key_auth.then(|| method.clone()),
        jwks: m.jwks.as_ref().map(|v| v.to_string()),
        jwks_uri: m.jwks_uri.clone(),
        require_dpop: m.dpop_bound_access_tokens,
        post_logout_redirect_uris: m.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: m.backchannel_logout_uri.clone(),
        name: m.client_name.clone().unwrap_or_else(|| "Unnamed app".into()),
        description: String::new(),
        client_type: client_type.as_str().into(),
        grant_types: parsed.iter().map(|g| g.as_str().to_string()).collect(),
        scopes,
        redirect_uris: m.redirect_uris.clone(),
        ..Default::default()
    };
    registration::validate(&n).map_err(|e| match e {
        Error::Validation(msg) => bad(msg),
        other => other,
    })?;
    registration::may_grant_scopes(false, &[], &n.scopes).map_err(|e| bad(e.to_string()))?;
    let kept = Kept {
        token_endpoint_auth_method: method,
        response_types,
        client_uri: m.client_uri.clone(),
        logo_uri: m.logo_uri.clone(),
        tos_uri: m.tos_uri.clone(),
        policy_uri: m.policy_uri.clone(),
        contacts: m.contacts.clone(),
        software_id: m.software_id.clone(),
        software_version: m.software_version.clone(),
    };
    Ok((n, kept))
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3).
pub fn response(c: &Client, secret: Option<&str>, registration_token: Option<&str>, base: &str) -> Value {
    let kept: Kept = c.registered_metadata.as_deref().and_then(|k| serde_json::from_str(k).ok()).unwrap_or_default();
    let mut v = json!({
        "client_id": c.client_id,
        "client_id_issued_at": c.created_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types,
        "scope": super::scopes::join(&c.scopes),
        "dpop_bound_access_tokens": c.require_dpop,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "registration_client_uri": format!("{base}/register/{}", c.client_id),
    });
    if let (Value::Object(o), Ok(Value::Object(k))) = (&mut v, serde_json::to_value(&kept)) {
        o.extend(k);
        if let Some(s) = secret {
            o.insert("client_secret".into(), json!(s));
            o.insert("client_secret_expires_at".into(), json!(0));
        }
        if let Some(t) = registration_token {
            o.insert("registration_access_token".into(), json!(t));
        }
        if let Some(u) = &c.jwks_uri {
            o.insert("jwks_uri".into(), json!(u));
        }
        if let Some(j) = c.jwks.as_deref().and_then(|j| serde_json::from_str::<Value>(j).ok()) {
            o.insert("jwks".into(), j);
        }
    }
    v
}

/// A new registration access token and what the client keeps of it.
fn new_registration_token() -> (String, String) {
    let token = format!("trm_{}", crate::crypto::random_token(32));
    let hash = crate::crypto::digest(&token);
    (token, hash)
}

/// Register a client from its metadata: checked, then (with `Mode::Token`)
/// the initial access token spent, then stored. The response, with the
/// client's secret and registration access token, shown once.
pub async fn register(db: &Db, mode: Mode, initial_token: Option<&str>, m: &Metadata, base: &str) -> Result<Value> {
    let token = match (mode, initial_token) {
        (Mode::Off, _) => return Err(Error::NotFound("dynamic client registration".into())),
        (Mode::Token, None) => return Err(Error::InvalidToken("an initial access token is required (TESSERA_REGISTRATION=token)")),
        (Mode::Token, Some(t)) if !crate::registry::registration_tokens::usable(db, t).await? => {
            return Err(Error::InvalidToken("the initial access token is unknown, expired or used up"));
        }
        (_, t) => t.filter(|_| mode == Mode::Token),
    };
    let (mut n, kept) = to_new_client(m)?;
    catalogue::require_known(db, &n.scopes).await.map_err(|e| match e {
        Error::Validation(msg) => bad(msg),
        other => other,
    })?;
    if let Some(t) = token {
        if !crate::registry::registration_tokens::spend(db, t).await? {
            return Err(Error::InvalidToken("the initial access token is unknown, expired or used up"));
        }
    }
    let (reg_token, reg_hash) = new_registration_token();
    n.registration_token_hash = Some(reg_hash);
    n.registered_metadata = serde_json::to_string(&kept).ok();
    let created = registration::register_self_service(db, n, Some("dynamic-registration"), false).await?;
    Ok(response(&created.client, created.client_secret.as_deref(), Some(&reg_token), base))
}

/// The client a registration access token manages (RFC 7592 §2); a wrong
/// token, a client that was not registered dynamically, or no such client
/// are all the same 401, so that the endpoint says nothing of other clients.
pub async fn authenticate(db: &Db, client_id: &str, token: Option<&str>) -> Result<Client> {
    let refused = Error::InvalidToken("the registration access token is not valid for this client");
    let Some(token) = token else { return Err(Error::InvalidToken("a registration access token is required")) };
    let c = clients::find(db, client_id).await?.ok_or(refused)?;
    match c.registration_token_hash.as_deref() {
        Some(h) if crate::crypto::verify_secret(h, token) => Ok(c),
        _ => Err(Error::InvalidToken("the registration access token is not valid for this client")),
    }
}

/// Replace a client's metadata (RFC 7592 §2.2): what may change, changes.
pub async fn replace(db: &Db, store: &dyn TokenStore, c: &Client, m: &Metadata, base: &str) -> Result<Value> {
    if m.client_id.as_deref() != Some(c.client_id.as_str()) {
        return Err(bad("client_id must be sent and name this client"));
    }
    if let Some(s) = &m.client_secret {
        if !c.secret_hash.as_deref().is_some_and(|h| crate::crypto::verify_secret(h, s)) {
            return Err(bad("client_secret does not match this client's"));
        }
    }
    let (n, kept) = to_new_client(m)?;
    let before: Kept = c.registered_metadata.as_deref().and_then(|k| serde_json::from_str(k).ok()).unwrap_or_default();
    let grants: Vec<String> = c.grant_types.iter().map(|g| g.as_str().to_string()).collect();
    if n.grant_types != grants || kept.token_endpoint_auth_method != before.token_endpoint_auth_method {
        return Err(bad("grant_types and token_endpoint_auth_method cannot change; register a new client instead"));
    }
    let change = Change { redirect_uris: n.redirect_uris, scopes: n.scopes, name: Some(n.name), ..Change::keeping(c) };
    catalogue::require_known(db, &change.scopes).await.map_err(|e| match e {
        Error::Validation(msg) => bad(msg),
        other => other,
    })?;
    registration::update_self_service(db, store, c, change, Some("dynamic-registration"), false).await?;
    let kept = serde_json::to_string(&kept).map_err(|e| bad(e.to_string()))?;
    let updated = clients::set_registered_metadata(db, store, &c.client_id, &kept).await?;
    Ok(response(&updated, None, None, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(v: Value) -> Metadata {
        parse(v).unwrap()
    }

    fn refused(v: Value) -> (String, String) {
        let e = to_new_client(&meta(v)).unwrap_err();
        let code = match &e {
            Error::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Error::InvalidClientMetadata(_) => "invalid_client_metadata",
            _ => "other",
        };
        (code.to_string(), e.to_string())
    }

    #[test]
    fn defaults_are_rfc_7591s() {
        let (n, kept) = to_new_client(&meta(json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "App"}))).unwrap();
        assert_eq!(n.grant_types, ["authorization_code"]);
        assert_eq!(n.client_type, "confidential");
        assert_eq!(n.scopes, ["openid"]);
        assert_eq!(kept.token_endpoint_auth_method, "client_secret_basic");
        assert_eq!(kept.response_types, ["code"]);
        let (n, _) = to_new_client(&meta(json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}))).unwrap();
        assert_eq!(n.client_type, "public");
        assert_eq!(n.name, "Unnamed app");
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let cb = json!(["https://app.example.com/cb"]);
        assert_eq!(refused(json!({"redirect_uris": ["javascript:alert(1)"]})).0, "invalid_redirect_uri");
        assert_eq!(refused(json!({})).0, "invalid_redirect_uri", "the code flow needs a redirect URI");
        let (code, msg) = refused(json!({"redirect_uris": cb, "grant_types": ["implicit"], "response_types": []}));
        assert_eq!(code, "invalid_client_metadata");
        assert!(msg.contains("RFC 9700"), "{msg}");
        assert!(refused(json!({"redirect_uris": cb, "response_types": ["token"]})).1.contains("only code"));
        assert!(refused(json!({"redirect_uris": cb, "token_endpoint_auth_method": "tls_client_auth"})).1.contains("not supported"));
        assert!(refused(json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt"})).1.contains("jwks or jwks_uri"));
        assert!(refused(json!({"grant_types": ["client_credentials"]})).1.contains("scope is required"));
        assert!(refused(json!({"grant_types": ["client_credentials"], "response_types": ["code"], "scope": "read:data"})).1.contains("exactly when"));
        assert!(refused(json!({"redirect_uris": cb, "client_uri": "http://evil.example.com"})).1.contains("client_uri"));
        assert!(refused(json!({"redirect_uris": cb, "scope": "openid tessera:admin"})).1.contains("admin"));
        let (code, msg) = refused(json!({"redirect_uris": cb, "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "client_credentials"]}));
        assert_eq!(code, "invalid_client_metadata");
        assert!(msg.contains("public client"), "{msg}");
        assert!(matches!(parse(json!({"redirect_uris": "https://one"})), Err(Error::InvalidClientMetadata(_))));
        assert!(matches!(parse(json!([1])), Err(Error::InvalidClientMetadata(_))));
    }

    #[test]
    fn machine_and_device_clients_need_no_redirect_uri() {
        let (n, kept) = to_new_client(&meta(json!({"grant_types": ["client_credentials"], "scope": "read:data"}))).unwrap();
        assert_eq!(n.grant_types, ["client_credentials"]);
        assert!(kept.response_types.is_empty());
        let (n, _) = to_new_client(&meta(json!({"grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"], "response_types": [], "token_endpoint_auth_method": "none"}))).unwrap();
        assert_eq!(n.scopes, ["openid"]);
        // private_key_jwt with the keys by URL: no secret will be made
        let (n, kept) = to_new_client(&meta(json!({"grant_types": ["client_credentials"], "scope": "read:data", "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://app.example.com/jwks"}))).unwrap();
        assert_eq!((n.auth_method.as_deref(), n.jwks_uri.as_deref()), (Some("private_key_jwt"), Some("https://app.example.com/jwks")));
        assert_eq!(kept.token_endpoint_auth_method, "private_key_jwt");
    }
}
