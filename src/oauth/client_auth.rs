//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`,
//! `private_key_jwt` (RFC 7523, checked in `client_assertion`), and `none`
//! for public clients (identified, not authenticated).
//!
//! Client secrets are 256 random bits, so one SHA-256 is as good as any
//! password hash for storing them and costs microseconds, not the
//! milliseconds of BCrypt that make ORY Hydra's client_credentials slow.
//! Comparison is constant-time.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode_str;
use std::sync::Arc;

use super::params::Params;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    Post,
    /// A signed client assertion (RFC 7523 §2.2).
    PrivateKeyJwt,
    None,
}

/// What the request says about who the client is.
#[derive(Clone, Debug)]
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    pub method: AuthMethod,
    /// The client assertion, with [`AuthMethod::PrivateKeyJwt`].
    pub assertion: Option<String>,
}

/// Read client credentials from the `Authorization` header or the body.
/// Using two methods at once is refused (RFC 6749 §2.3).
pub fn extract(authorization: Option<&str>, params: &Params) -> Result<Option<Presented>> {
    let presented = extract_any(authorization, params)?;
    // Client ids are 32 hex characters; anything far longer is not one (and
    // must not become a key in the rate-limit store).
    if presented.as_ref().is_some_and(|p| p.client_id.len() > MAX_CLIENT_ID) {
        return Err(Error::InvalidClient { basic: authorization.is_some(), reason: "client authentication failed" });
    }
    Ok(presented)
}

pub const MAX_CLIENT_ID: usize = 128;

/// Like [`extract`], for endpoints where the client must authenticate.
pub fn require(authorization: Option<&str>, params: &Params) -> Result<Presented> {
    extract(authorization, params)?.ok_or(Error::InvalidClient { basic: false, reason: "client authentication required" })
}

fn extract_any(authorization: Option<&str>, params: &Params) -> Result<Option<Presented>> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if let Some(kind) = params.get("client_assertion_type") {
        if kind != super::client_assertion::ASSERTION_TYPE {
            return Err(Error::invalid_request(format!("client_assertion_type must be {}", super::client_assertion::ASSERTION_TYPE)));
        }
        if authorization.is_some() || body_secret.is_some() {
            return Err(Error::invalid_request("use one client authentication method, not two"));
        }
        let assertion = params.require("client_assertion")?;
        let claimed = super::client_assertion::claimed_client(assertion);
        let client_id = match (body_id, claimed) {
            (Some(b), Some(c)) if b != c => return Err(Error::InvalidClient { basic: false, reason: "client_id differs from the assertion's subject" }),
            (Some(id), _) => id.to_string(),
            (None, Some(c)) => c,
            (None, None) => return Err(Error::InvalidClient { basic: false, reason: "the client assertion names no client" }),
        };
        return Ok(Some(Presented { client_id, secret: None, method: AuthMethod::PrivateKeyJwt, assertion: Some(assertion.to_string()) }));
    }
    if params.get("client_assertion").is_some() {
        return Err(Error::invalid_request("client_assertion needs client_assertion_type"));
    }
    if let Some(h) = authorization {
        let (id, secret) = parse_basic(h).ok_or(Error::InvalidClient { basic: true, reason: "malformed Authorization header" })?;
        if body_secret.is_some() {
            return Err(Error::invalid_request("use one client authentication method, not two"));
        }
        if body_id.is_some_and(|b| b != id) {
            return Err(Error::invalid_request("client_id in the body differs from the Authorization header"));
        }
        return Ok(Some(Presented { client_id: id, secret: Some(secret), method: AuthMethod::Basic, assertion: None }));
    }
    match (body_id, body_secret) {
        (Some(id), Some(s)) => Ok(Some(Presented { client_id: id.into(), secret: Some(s.into()), method: AuthMethod::Post, assertion: None })),
        (Some(id), None) => Ok(Some(Presented { client_id: id.into(), secret: None, method: AuthMethod::None, assertion: None })),
        (None, Some(_)) => Err(Error::invalid_request("client_secret without client_id")),
        (None, None) => Ok(None),
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))`, as RFC 6749 §2.3.1 says.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| -> Option<String> {
        let plus = s.replace('+', " ");
        percent_decode_str(&plus).decode_utf8().ok().map(|c| c.into_owned())
    };
    let (id, secret) = (dec(id)?, dec(secret)?);
    if id.is_empty() || id.chars().any(char::is_control) {
        return None;
    }
    Some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x"));
        assert_eq!(parse_basic(&h), Some(("my app".into(), "s:cret x".into())));
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic(&format!("Basic {}", STANDARD.encode("nocolon"))), None);
    }

    #[test]
    fn one_method_only() {
        let h = format!("Basic {}", STANDARD.encode("a:b"));
        let p = Params::from_pairs([("client_secret", "b")]);
        assert!(matches!(extract(Some(&h), &p), Err(Error::InvalidRequest(_))));
        let p = Params::from_pairs([("client_id", "a"), ("client_secret", "b")]);
        assert_eq!(extract(None, &p).unwrap().unwrap().method, AuthMethod::Post);
        let p = Params::from_pairs([("client_id", "a")]);
        assert_eq!(extract(None, &p).unwrap().unwrap().method, AuthMethod::None);
        assert!(matches!(extract(Some("Basic %%%"), &Params::default()), Err(Error::InvalidClient { basic: true, .. })));
        let long = "x".repeat(MAX_CLIENT_ID + 1);
        let p = Params::from_pairs([("client_id", long.as_str())]);
        assert!(matches!(extract(None, &p), Err(Error::InvalidClient { .. })));
    }
}

/// Decide whether `presented` authenticates as `client` (looked up by the
/// presented id; `None` when unknown). Unknown client, wrong secret and
/// missing secret all give the same answer; a suspended client is told so
/// only after its secret was right.
pub fn authenticate(client: Option<Arc<crate::registry::clients::Client>>, presented: &Presented, now: i64) -> Result<Arc<crate::registry::clients::Client>> {
    use crate::registry::clients::ClientType;
    let basic = presented.method == AuthMethod::Basic;
    let fail = Error::InvalidClient { basic, reason: "client authentication failed" };
    let Some(client) = client else {
        // Same work as a real check, so timing does not reveal which ids exist.
        let _ = crate::crypto::verify_secret(&crate::crypto::digest("unknown"), presented.secret.as_deref().unwrap_or(""));
        return Err(fail);
    };
    match (client.client_type, &presented.secret, &client.secret_hash) {
        (ClientType::Confidential, Some(s), Some(h)) if secret_matches(&client, h, s, now) => {}
        (ClientType::Public, None, _) if presented.method == AuthMethod::None => {}
        _ => return Err(fail),
    }
    if !client.is_active() {
        return Err(Error::InvalidClient { basic, reason: "client is suspended" });
    }
    Ok(client)
}

/// The presented secret against the current one and, during a rotation's
/// grace period, the previous one: both compared in constant time, always,
/// so the timing does not say which matched.
fn secret_matches(client: &crate::registry::clients::Client, current: &str, presented: &str, now: i64) -> bool {
    let digest = crate::crypto::digest(presented);
    let eq = |stored: &str| -> bool { subtle::ConstantTimeEq::ct_eq(digest.as_bytes(), stored.as_bytes()).into() };
    let previous = match (&client.previous_secret_hash, client.previous_secret_expires_at) {
        (Some(h), Some(until)) if until > now => eq(h),
        _ => false,
    };
    eq(current) | previous
}

#[cfg(test)]
mod auth_tests {
    use super::*;
    use crate::registry::clients::{Client, ClientType};

    fn client(ct: ClientType, secret: Option<&str>, status: &str) -> Arc<Client> {
        Arc::new(crate::registry::clients::test_client("c1", ct, secret.map(crate::crypto::digest), status))
    }

    fn p(secret: Option<&str>, method: AuthMethod) -> Presented {
        Presented { client_id: "c1".into(), secret: secret.map(str::to_string), method, assertion: None }
    }

    #[test]
    fn decisions() {
        let conf = || Some(client(ClientType::Confidential, Some("s3cret"), "active"));
        assert!(authenticate(conf(), &p(Some("s3cret"), AuthMethod::Basic), 0).is_ok());
        assert!(matches!(
            authenticate(conf(), &p(Some("wrong"), AuthMethod::Basic), 0),
            Err(Error::InvalidClient { basic: true, .. })
        ));
        assert!(matches!(authenticate(conf(), &p(None, AuthMethod::None), 0), Err(Error::InvalidClient { basic: false, .. })));
        assert!(authenticate(None, &p(Some("s3cret"), AuthMethod::Post), 0).is_err());
        let suspended = Some(client(ClientType::Confidential, Some("s3cret"), "suspended"));
        assert!(matches!(
            authenticate(suspended, &p(Some("s3cret"), AuthMethod::Post), 0),
            Err(Error::InvalidClient { reason: "client is suspended", .. })
        ));
        let public = || Some(client(ClientType::Public, None, "active"));
        assert!(authenticate(public(), &p(None, AuthMethod::None), 0).is_ok());
        assert!(authenticate(public(), &p(Some("x"), AuthMethod::Post), 0).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn basic_header_never_panics(h in "\\PC{0,120}") {
            let _ = parse_basic(&h);
        }

        #[test]
        fn basic_header_roundtrip(id in "[A-Za-z0-9 :%+&=é-]{1,20}", secret in "[A-Za-z0-9 :%+&=é-]{0,40}") {
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let h = format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(&id), enc(&secret))));
            prop_assert_eq!(parse_basic(&h), Some((id.clone(), secret.clone())));
        }
    }

    #[test]
    fn a_rotated_secret_works_through_its_grace_period_only() {
        use crate::registry::clients::ClientType;
        let p = |s: Option<&str>, method| Presented { client_id: "c1".into(), secret: s.map(str::to_string), method, assertion: None };
        let mut c = crate::registry::clients::test_client("c1", ClientType::Confidential, Some(crate::crypto::digest("new")), "active");
        c.previous_secret_hash = Some(crate::crypto::digest("old"));
        c.previous_secret_expires_at = Some(100);
        let c = Arc::new(c);
        assert!(authenticate(Some(c.clone()), &p(Some("new"), AuthMethod::Basic), 50).is_ok());
        assert!(authenticate(Some(c.clone()), &p(Some("old"), AuthMethod::Basic), 50).is_ok(), "within the grace period");
        assert!(authenticate(Some(c.clone()), &p(Some("old"), AuthMethod::Basic), 100).is_err(), "after it");
        assert!(authenticate(Some(c), &p(Some("neither"), AuthMethod::Basic), 50).is_err());
    }
}
