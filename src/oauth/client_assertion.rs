//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3; OpenID
//! Connect Core §9): instead of a secret on every request, the client signs
//! a short-lived JWT with its private key; Tessera holds only the public
//! keys (a JWK Set registered inline, or a `jwks_uri` it fetches).
//!
//! An assertion is accepted when: its `alg` is RS256, PS256, ES256 or
//! EdDSA and a registered key verifies it; `iss` = `sub` = the client id;
//! `aud` names the issuer, the token endpoint, or the endpoint it is sent
//! to; it expires within 5 minutes of its `iat` (and has not expired); and
//! its `jti` was never seen before (the token store remembers it until
//! `exp`, across instances). Anything else is `invalid_client`.
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::outbound::Outbound;
use crate::rate_limit::Endpoint;
use crate::registry::clients::Client;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The signing algorithms an assertion may use.
pub const ALGS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];
/// The longest an assertion may live (`exp` − `iat`).
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated on `iat` and `exp`.
pub const LEEWAY_SECS: i64 = 60;
/// The largest JWK Set accepted, inline or fetched.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
const MAX_KEYS: usize = 20;
/// A fetched `jwks_uri` is used this long before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// An unknown `kid` refetches the set at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(10);

/// Members that only a private or symmetric key has (also refused in DPoP proofs).
pub const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// Check a JWK Set a client registers: public RSA, EC or OKP keys only
/// (a private part is refused with a message: the client must keep it).
pub fn validate_jwks(json: &str) -> Result<JwkSet, String> {
    if json.len() > MAX_JWKS_BYTES {
        return Err(format!("the JWK Set is larger than {MAX_JWKS_BYTES} bytes"));
    }
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("the JWK Set is not JSON: {e}"))?;
    let keys = v.get("keys").and_then(|k| k.as_array()).ok_or("a JWK Set is an object with a \"keys\" array")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("a JWK Set needs 1 to {MAX_KEYS} keys"));
    }
    for k in keys {
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| k.get(**m).is_some()) {
            return Err(format!("the JWK Set holds a private or symmetric key (member \"{m}\"): register public keys only, and keep the private key with the client"));
        }
        match k.get("kty").and_then(|t| t.as_str()) {
            Some("RSA" | "EC" | "OKP") => {}
            other => return Err(format!("key type {other:?} is not supported; use RSA, EC or OKP keys")),
        }
    }
    let set: JwkSet = serde_json::from_value(v).map_err(|e| format!("the JWK Set is not valid: {e}"))?;
    for k in &set.keys {
        DecodingKey::from_jwk(k).map_err(|e| format!("a key of the JWK Set cannot verify signatures: {e}"))?;
    }
    Ok(set)
}

/// The `sub` an assertion claims (unverified: only to find the client).
pub fn claimed_client(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let v: serde_json::Value = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
    v.get("sub").or_else(|| v.get("iss")).and_then(|s| s.as_str()).map(str::to_string)
}

/// Where an assertion presented at `endpoint` may be addressed.
pub fn audiences(issuer: &str, base: &str, endpoint: Endpoint) -> Vec<String> {
    let path = match endpoint {
        Endpoint::Token => "/token",
        Endpoint::Introspect => "/introspect",
        Endpoint::Revoke => "/revoke",
        Endpoint::Par => "/par",
        Endpoint::Device => "/device_authorization",
        Endpoint::Userinfo => "/userinfo",
        Endpoint::Admin => "/admin/api",
    };
    let mut a = vec![issuer.to_string(), format!("{base}/token"), format!("{base}{path}")];
    a.dedup();
    a
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

/// A verified assertion: its `jti`, to be used once, until `exp`.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub jti: String,
    pub exp: i64,
}

/// Verify `assertion` of `client_id` against its `keys` (pure; the `jti`
/// is the caller's to spend). The error says why, for the log only.
pub fn verify(client_id: &str, assertion: &str, keys: &JwkSet, audiences: &[String], now: i64) -> Result<Verified, String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| format!("malformed assertion: {e}"))?;
    let alg = header.alg;
    if !matches!(alg, Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 | Algorithm::EdDSA) {
        return Err(format!("alg {alg:?} is not accepted"));
    }
    let candidates: Vec<_> = keys.keys.iter().filter(|k| header.kid.is_none() || k.common.key_id == header.kid).collect();
    if candidates.is_empty() {
        return Err(format!("no registered key has kid {:?}", header.kid));
    }
    let mut v = Validation::new(alg);
    v.set_audience(audiences);
    v.set_issuer(&[client_id]);
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.leeway = LEEWAY_SECS as u64;
    v.validate_nbf = true;
    let mut last = String::from("no key verified the signature");
    for k in candidates {
        let Ok(key) = DecodingKey::from_jwk(k) else { continue };
        match jsonwebtoken::decode::<Claims>(assertion, &key, &v) {
            Ok(data) => return check_claims(client_id, data.claims, now),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

fn check_claims(client_id: &str, c: Claims, now: i64) -> Result<Verified, String> {
    if c.sub != client_id || c.iss != client_id {
        return Err("iss and sub must both be the client id".into());
    }
    let issued = c.iat.unwrap_or(now);
    if issued > now + LEEWAY_SECS {
        return Err("iat is in the future".into());
    }
    if c.exp - issued > MAX_LIFETIME_SECS || c.exp - now > MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err(format!("the assertion lives longer than {MAX_LIFETIME_SECS} s"));
    }
    if c.jti.is_empty() || c.jti.len() > 200 {
        return Err("jti is required (at most 200 characters)".into());
    }
    Ok(Verified { jti: c.jti, exp: c.exp })
}

/// The public keys of clients: inline, or fetched from their `jwks_uri`
/// (cached; fetched again when an assertion names a `kid` the cached set lacks).
pub struct ClientKeys {
    outbound: Outbound,
    /// By URI: the set, when it was fetched, and when an unknown `kid` last made it fetch again.
    fetched: RwLock<HashMap<String, Fetched>>,
}

#[derive(Clone)]
struct Fetched {
    set: JwkSet,
    at: Instant,
    miss_refetch: Option<Instant>,
}

impl ClientKeys {
    pub fn new(outbound: Outbound) -> ClientKeys {
        ClientKeys { outbound, fetched: RwLock::default() }
    }

    /// The keys to check an assertion of `client` (whose header names `kid`).
    pub async fn keys_for(&self, client: &Client, kid: Option<&str>) -> Result<JwkSet, String> {
        if let Some(inline) = &client.jwks {
            return validate_jwks(inline);
        }
        let Some(uri) = &client.jwks_uri else { return Err("the client has no keys".into()) };
        let cached = self.fetched.read().ok().and_then(|m| m.get(uri).cloned());
        let mut miss_refetch = None;
        if let Some(f) = &cached {
            let knows_kid = kid.is_none() || f.set.keys.iter().any(|k| k.common.key_id.as_deref() == kid);
            let may_refetch = f.miss_refetch.is_none_or(|t| t.elapsed() >= REFETCH_AFTER);
            if f.at.elapsed() < JWKS_TTL && (knows_kid || !may_refetch) {
                return Ok(f.set.clone());
            }
            miss_refetch = if knows_kid { f.miss_refetch } else { Some(Instant::now()) };
        }
        let body = self.outbound.get(uri, MAX_JWKS_BYTES).await.map_err(|e| e.to_string())?;
        let set = validate_jwks(&String::from_utf8_lossy(&body))?;
        if let Ok(mut m) = self.fetched.write() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(uri.clone(), Fetched { set: set.clone(), at: Instant::now(), miss_refetch });
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_PUBLIC: &str = r#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw","e":"AQAB"}]}"#;

    #[test]
    fn registered_key_sets_are_public_only() {
        assert!(validate_jwks(RSA_PUBLIC).is_ok());
        let private = RSA_PUBLIC.replace(r#""e":"AQAB""#, r#""e":"AQAB","d":"secret""#);
        assert!(validate_jwks(&private).unwrap_err().contains("private"));
        assert!(validate_jwks(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap_err().contains("private or symmetric"));
        assert!(validate_jwks(r#"{"keys":[]}"#).is_err());
        assert!(validate_jwks("[1]").is_err());
        assert!(validate_jwks("not json").is_err());
    }

    #[test]
    fn the_client_is_found_by_sub_and_audiences_include_the_endpoint() {
        let payload = B64.encode(br#"{"iss":"c1","sub":"c1"}"#);
        assert_eq!(claimed_client(&format!("x.{payload}.y")).as_deref(), Some("c1"));
        assert_eq!(claimed_client("garbage"), None);
        let a = audiences("https://id.example.com", "https://id.example.com", Endpoint::Par);
        assert_eq!(a, ["https://id.example.com", "https://id.example.com/token", "https://id.example.com/par"]);
    }

    #[test]
    fn claims_rules() {
        let now = 1_000_000;
        let c = |iss: &str, sub: &str, iat: Option<i64>, exp: i64, jti: &str| Claims { iss: iss.into(), sub: sub.into(), exp, iat, jti: jti.into() };
        assert!(check_claims("c1", c("c1", "c1", Some(now), now + 60, "j"), now).is_ok());
        assert!(check_claims("c1", c("c2", "c1", Some(now), now + 60, "j"), now).is_err(), "iss");
        assert!(check_claims("c1", c("c1", "c2", Some(now), now + 60, "j"), now).is_err(), "sub");
        assert!(check_claims("c1", c("c1", "c1", Some(now), now + 3600, "j"), now).unwrap_err().contains("longer"));
        assert!(check_claims("c1", c("c1", "c1", None, now + 3600, "j"), now).is_err(), "no iat: exp bounds it");
        assert!(check_claims("c1", c("c1", "c1", Some(now + 600), now + 700, "j"), now).unwrap_err().contains("future"));
        assert!(check_claims("c1", c("c1", "c1", Some(now), now + 60, ""), now).is_err(), "jti");
    }
}
