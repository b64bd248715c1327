//! The authorization endpoint's rules (RFC 6749 §4.1.1, RFC 7636, RFC 9207,
//! RFC 9700, OpenID Connect Core §3.1.2), as plain functions.
//!
//! Until the client and its redirect URI are known to be genuine, an error
//! is shown on a page and never redirected: redirecting to an unverified URI
//! would make Tessera an open redirector. After that, errors go back to the
//! client with `error`, `state` and `iss`.
use serde::{Deserialize, Serialize};
use url::Url;

use super::params::Params;
use super::{pkce, redirect_uri, scopes};
use crate::registry::clients::{Client, ClientType, GrantType};
use crate::store::TokenStore;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A validated authorization request.
#[derive(Clone, Debug)]
pub struct AuthorizeRequest {
    pub client: Client,
    pub redirect_uri: String,
    /// Whether `redirect_uri` was sent (then the token request must repeat it).
    pub redirect_uri_given: bool,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    /// `dpop_jkt` (RFC 9449 §10): the code is for this DPoP key only.
    pub dpop_jkt: Option<String>,
}

/// Why a request was refused, and where the answer may go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Show a page; never redirect.
    Page(String),
    /// Redirect to the (verified) client with an error.
    Redirect { redirect_uri: String, state: Option<String>, error: &'static str, description: String },
}

/// What the code carries from the authorization to the token request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeData {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub code_challenge: Option<String>,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    /// The DPoP key the code is bound to (`dpop_jkt`, RFC 9449 §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The browser session the user consented in (its store key): the ID
    /// token's `sid`, for logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Validate a request, given the client its `client_id` names (if any).
pub fn validate(client: Option<Client>, p: &Params) -> Result<AuthorizeRequest, Refusal> {
    let page = |m: &str| Refusal::Page(m.to_string());
    let client_id = p.get("client_id").ok_or_else(|| page("The request has no client_id."))?;
    let client = client.filter(|c| c.client_id == client_id).ok_or_else(|| page("This application is not registered."))?;
    if !client.is_active() {
        return Err(page("This application is suspended."));
    }
    let (redirect_uri, given) = match p.get("redirect_uri") {
        Some(u) if redirect_uri::matches(&client.redirect_uris, u) => (u.to_string(), true),
        Some(_) => return Err(page("The redirect_uri is not registered for this application.")),
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => return Err(page("The request has no redirect_uri.")),
    };
    let state = p.get("state").map(str::to_string);
    let refuse = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
        description: description.to_string(),
    };
    match p.get("response_type") {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(refuse("unsupported_response_type", "only response_type=code is supported (RFC 9700 §2.1.2)"))
        }
    }
    if p.get("request").is_some() || p.get("request_uri").is_some() {
        return Err(refuse("request_not_supported", "request objects are not supported"));
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(refuse("unauthorized_client", "this client may not use the authorization code grant"));
    }
    if let Some(m) = p.get("response_mode") {
        if m != "query" {
            return Err(refuse("invalid_request", "only response_mode=query is supported"));
        }
    }
    let requested = scopes::parse(p.get("scope").unwrap_or("")).map_err(|e| refuse("invalid_scope", &e.to_string()))?;
    if requested.is_empty() {
        return Err(refuse("invalid_scope", "scope is required"));
    }
    scopes::require_subset(&requested, &client.scopes).map_err(|e| refuse("invalid_scope", &e.to_string()))?;
    let code_challenge = pkce::check_challenge(p.get("code_challenge"), p.get("code_challenge_method"))
        .map_err(|e| refuse("invalid_request", &e.to_string()))?;
    // RFC 9700 §2.1.1: PKCE for every client, unless a legacy confidential
    // client was registered as unable to send it.
    if code_challenge.is_none() && !(client.client_type == ClientType::Confidential && client.pkce_optional) {
        return Err(refuse("invalid_request", "PKCE (code_challenge with S256) is required"));
    }
    let mut prompt = Prompt::default();
    for v in scopes::words(p.get("prompt").unwrap_or("")) {
        match v {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            other => return Err(refuse("invalid_request", &format!("unknown prompt value {other}"))),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(refuse("invalid_request", "prompt=none cannot be combined with other values"));
    }
    let max_age = match p.get("max_age") {
        None => None,
        Some(s) => Some(s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| refuse("invalid_request", "max_age must be a non-negative integer"))?),
    };
    let nonce = p.get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) || state.as_ref().is_some_and(|s| s.len() > 2048) {
        return Err(refuse("invalid_request", "state or nonce too long"));
    }
    let dpop_jkt = p.get("dpop_jkt").map(str::to_string);
    if dpop_jkt.as_ref().is_some_and(|j| j.len() != 43 || !j.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')) {
        return Err(refuse("invalid_request", "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)"));
    }
    Ok(AuthorizeRequest {
        client,
        redirect_uri,
        redirect_uri_given: given,
        state,
        scopes: requested,
        code_challenge,
        nonce,
        prompt,
        max_age,
        dpop_jkt,
    })
}

/// The next step for a valid request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Login,
    Consent,
    Issue { user_id: String, auth_time: i64 },
    /// prompt=none and the user must interact: `login_required` / `consent_required`.
    Fail(&'static str),
}

/// Decide what happens: `user` is the session's (user id, auth_time);
/// `fresh` is true right after a login; `granted` is the user's consented
/// scopes for this client, if any.
pub fn next_step(req: &AuthorizeRequest, user: Option<(&str, i64)>, fresh: bool, granted: Option<&[String]>, now: i64) -> Step {
    let must_login = match user {
        None => true,
        Some((_, auth_time)) => {
            !fresh && (req.prompt.login || req.max_age.is_some_and(|m| now - auth_time > m))
        }
    };
    if must_login {
        return if req.prompt.none { Step::Fail("login_required") } else { Step::Login };
    }
    let Some((uid, auth_time)) = user else { return Step::Login };
    let covered = granted.is_some_and(|g| req.scopes.iter().all(|s| g.contains(s)));
    if req.prompt.consent || !covered {
        return if req.prompt.none { Step::Fail("consent_required") } else { Step::Consent };
    }
    Step::Issue { user_id: uid.to_string(), auth_time }
}

/// The redirect back to the client (RFC 6749 §4.1.2 / §4.1.2.1, RFC 9207 `iss`).
pub fn redirect(redirect_uri: &str, pairs: &[(&str, &str)], state: Option<&str>, issuer: &str) -> String {
    let Ok(mut url) = Url::parse(redirect_uri) else { return redirect_uri.to_string() };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", issuer);
    }
    url.to_string()
}

/// Issue a code (valid `code_ttl` seconds) for a decided request and build
/// the redirect carrying it.
pub async fn issue_code(
    store: &dyn TokenStore,
    issuer: &str,
    code_ttl: i64,
    req: &AuthorizeRequest,
    user_id: &str,
    auth_time: i64,
    session: Option<(&str, i64)>,
) -> crate::error::Result<String> {
    let code = crate::crypto::random_token(32);
    // The session signs in to this client: logging out of it tells the client (back-channel logout).
    if let Some((sid, until)) = session {
        store.add_session_client(sid, &req.client.client_id, until).await?;
    }
    let data = CodeData {
        client_id: req.client.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_given: req.redirect_uri_given,
        code_challenge: req.code_challenge.clone(),
        user_id: user_id.to_string(),
        scopes: req.scopes.clone(),
        nonce: req.nonce.clone(),
        auth_time,
        dpop_jkt: req.dpop_jkt.clone(),
        sid: session.map(|(s, _)| s.to_string()),
    };
    let json = serde_json::to_string(&data).map_err(|e| crate::error::Error::invalid_request(e.to_string()))?;
    let exp = crate::db::now() + super::fapi2::code_ttl(&req.client, code_ttl);
    store.put_code(&crate::crypto::digest(&code), &json, exp).await?;
    Ok(redirect(&req.redirect_uri, &[("code", &code)], req.state.as_deref(), issuer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ct: ClientType) -> Client {
        Client {
            redirect_uris: vec!["https://app.example.com/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: vec!["openid".into(), "read:data".into()],
            ..crate::registry::clients::test_client("c1", ct, None, "active")
        }
    }

    const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params(extra: &[(&str, &str)]) -> Params {
        let mut v = vec![
            ("client_id", "c1"),
            ("response_type", "code"),
            ("redirect_uri", "https://app.example.com/cb"),
            ("scope", "openid read:data"),
            ("state", "xyz"),
            ("code_challenge", CH),
            ("code_challenge_method", "S256"),
        ];
        for (k, val) in extra {
            v.retain(|(kk, _)| kk != k);
            if !val.is_empty() {
                v.push((k, val));
            }
        }
        Params::from_pairs(v)
    }

    fn code_of(r: Result<AuthorizeRequest, Refusal>) -> &'static str {
        match r {
            Err(Refusal::Redirect { error, .. }) => error,
            Err(Refusal::Page(_)) => "page",
            Ok(_) => "ok",
        }
    }

    #[test]
    fn untrusted_redirects_show_a_page() {
        let c = || Some(client(ClientType::Public));
        assert_eq!(code_of(validate(c(), &params(&[]))), "ok");
        assert_eq!(code_of(validate(None, &params(&[]))), "page");
        assert_eq!(code_of(validate(c(), &params(&[("redirect_uri", "https://evil.example/cb")]))), "page");
        assert_eq!(code_of(validate(c(), &params(&[("redirect_uri", "https://app.example.com/cb/../x")]))), "page");
        let mut suspended = client(ClientType::Public);
        suspended.status = "suspended".into();
        assert_eq!(code_of(validate(Some(suspended), &params(&[]))), "page");
        // a missing redirect_uri falls back to the only registered one
        let r = validate(c(), &params(&[("redirect_uri", "")])).unwrap();
        assert!(!r.redirect_uri_given);
    }

    #[test]
    fn errors_after_the_redirect_is_trusted_go_back() {
        let c = || Some(client(ClientType::Public));
        assert_eq!(code_of(validate(c(), &params(&[("response_type", "token")]))), "unsupported_response_type");
        assert_eq!(code_of(validate(c(), &params(&[("response_type", "code id_token")]))), "unsupported_response_type");
        assert_eq!(code_of(validate(c(), &params(&[("scope", "read:billing")]))), "invalid_scope");
        assert_eq!(code_of(validate(c(), &params(&[("code_challenge_method", "plain")]))), "invalid_request");
        assert_eq!(code_of(validate(c(), &params(&[("code_challenge", ""), ("code_challenge_method", "")]))), "invalid_request");
        assert_eq!(code_of(validate(c(), &params(&[("prompt", "none login")]))), "invalid_request");
        // every client sends PKCE, unless a confidential one was registered as unable to
        let no_pkce = params(&[("code_challenge", ""), ("code_challenge_method", "")]);
        assert_eq!(code_of(validate(Some(client(ClientType::Confidential)), &no_pkce)), "invalid_request");
        let legacy = Client { pkce_optional: true, ..client(ClientType::Confidential) };
        assert_eq!(code_of(validate(Some(legacy), &no_pkce)), "ok");
    }

    #[test]
    fn steps() {
        let req = validate(Some(client(ClientType::Public)), &params(&[])).unwrap();
        let all = vec!["openid".to_string(), "read:data".to_string()];
        assert_eq!(next_step(&req, None, false, None, 100), Step::Login);
        assert_eq!(next_step(&req, Some(("u", 50)), false, None, 100), Step::Consent);
        assert_eq!(next_step(&req, Some(("u", 50)), false, Some(&all[..1]), 100), Step::Consent, "subset not covered");
        assert_eq!(next_step(&req, Some(("u", 50)), false, Some(&all), 100), Step::Issue { user_id: "u".into(), auth_time: 50 });
        let none = validate(Some(client(ClientType::Public)), &params(&[("prompt", "none")])).unwrap();
        assert_eq!(next_step(&none, None, false, None, 100), Step::Fail("login_required"));
        assert_eq!(next_step(&none, Some(("u", 50)), false, None, 100), Step::Fail("consent_required"));
        let login = validate(Some(client(ClientType::Public)), &params(&[("prompt", "login")])).unwrap();
        assert_eq!(next_step(&login, Some(("u", 50)), false, Some(&all), 100), Step::Login);
        assert_eq!(next_step(&login, Some(("u", 100)), true, Some(&all), 100), Step::Issue { user_id: "u".into(), auth_time: 100 });
        let consent = validate(Some(client(ClientType::Public)), &params(&[("prompt", "consent")])).unwrap();
        assert_eq!(next_step(&consent, Some(("u", 50)), false, Some(&all), 100), Step::Consent);
        let max_age = validate(Some(client(ClientType::Public)), &params(&[("max_age", "10")])).unwrap();
        assert_eq!(next_step(&max_age, Some(("u", 50)), false, Some(&all), 100), Step::Login);
    }

    #[test]
    fn redirect_carries_state_and_iss() {
        let u = redirect("https://app.example.com/cb?x=1", &[("code", "abc")], Some("s t"), "https://idp");
        assert_eq!(u, "https://app.example.com/cb?x=1&code=abc&state=s+t&iss=https%3A%2F%2Fidp");
    }
}
