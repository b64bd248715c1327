//! DPoP (RFC 9449): tokens bound to a key the client holds. With each
//! request the client sends a proof, a JWT signed by that key and naming the
//! request (`htm`, `htu`), fresh (`iat`), unique (`jti`) and — when the
//! server asks — carrying its nonce. Tokens issued to a proof carry the
//! key's thumbprint (`cnf.jkt`, RFC 7638); whoever steals such a token
//! cannot use it without the private key.
//!
//! * Proofs: `typ` `dpop+jwt`; ES256, EdDSA, RS256 or PS256; the public
//!   key in the header (`jwk`, no private part); `iat` within
//!   [`IAT_WINDOW_SECS`]; `htu` compared without query and fragment; at a
//!   resource, `ath` = the hash of the access token.
//! * Replays: the `jti` is spent in the token store (across instances).
//! * Nonces (§8): stateless, `{bucket}.{mac}` under a key derived from the
//!   KEK, so every instance issues and accepts the same ones; a nonce is
//!   good for the current and the previous 5-minute bucket. When required
//!   (`TESSERA_DPOP_NONCE=required`, the default) a proof without a good
//!   nonce gets `use_dpop_nonce` and a `DPoP-Nonce` header to retry with.
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::hmac;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The proof algorithms accepted (discovery's `dpop_signing_alg_values_supported`).
pub const ALGS: [&str; 4] = ["ES256", "EdDSA", "RS256", "PS256"];
/// How far a proof's `iat` may lie in the past (and, by a tenth of it, the future).
pub const IAT_WINDOW_SECS: i64 = 300;
const NONCE_BUCKET_SECS: i64 = 300;

/// Why a proof is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ProofError {
    /// `invalid_dpop_proof` (RFC 9449 §7.1), with the reason.
    Invalid(String),
    /// `use_dpop_nonce` (§8): retry with the nonce in `DPoP-Nonce`.
    UseNonce,
}

fn invalid(m: impl Into<String>) -> ProofError {
    ProofError::Invalid(m.into())
}

/// A verified proof: the key's thumbprint, and the `jti` to spend until `iat` + the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    /// The proof's signing algorithm (a profile may allow fewer).
    pub alg: String,
}

impl Proof {
    /// The replay-cache key of this proof, and until when it must be kept.
    pub fn once_key(&self) -> (String, i64) {
        (format!("dpop:{}:{}", self.jkt, self.jti), self.iat + IAT_WINDOW_SECS + 60)
    }
}

/// What the request a proof must name looks like.
pub struct Expect<'a> {
    pub htm: &'a str,
    /// The URL of the endpoint (no query, no fragment).
    pub htu: &'a str,
    /// At a resource: the access token presented with the proof.
    pub access_token: Option<&'a str>,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    ath: Option<String>,
}

/// The JWK thumbprint (RFC 7638): SHA-256 of the required members in
/// lexicographic order, base64url.
pub fn thumbprint(jwk: &serde_json::Value) -> Result<String, ProofError> {
    let s = |k: &str| jwk.get(k).and_then(|v| v.as_str()).ok_or_else(|| invalid(format!("jwk lacks {k}")));
    let canonical = match s("kty")? {
        "EC" => serde_json::json!({"crv": s("crv")?, "kty": "EC", "x": s("x")?, "y": s("y")?}),
        "OKP" => serde_json::json!({"crv": s("crv")?, "kty": "OKP", "x": s("x")?}),
        "RSA" => serde_json::json!({"e": s("e")?, "kty": "RSA", "n": s("n")?}),
        other => return Err(invalid(format!("key type {other} is not supported"))),
    };
    // serde_json writes object members in insertion order for json! literals
    // only with preserve_order; build the canonical string by hand instead.
    let obj = canonical.as_object().ok_or_else(|| invalid("jwk"))?;
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    let body: Vec<String> = keys.iter().map(|k| format!("{}:{}", serde_json::Value::String((*k).clone()), obj[*k])).collect();
    Ok(B64.encode(Sha256::digest(format!("{{{}}}", body.join(",")).as_bytes())))
}

/// `ath`: the access token's SHA-256, base64url.
pub fn ath(access_token: &str) -> String {
    B64.encode(Sha256::digest(access_token.as_bytes()))
}

/// Stateless server nonces shared by every instance (a key from the KEK).
pub struct Nonces {
    key: hmac::Key,
    pub required: bool,
}

impl Nonces {
    pub fn new(key: hmac::Key, required: bool) -> Nonces {
        Nonces { key, required }
    }

    fn mac(&self, bucket: i64) -> String {
        B64.encode(&hmac::sign(&self.key, &bucket.to_be_bytes()).as_ref()[..16])
    }

    /// The nonce to hand out now.
    pub fn current(&self, now: i64) -> String {
        let bucket = now.div_euclid(NONCE_BUCKET_SECS);
        format!("{bucket}.{}", self.mac(bucket))
    }

    /// Whether `nonce` is one of ours from this bucket or the one before.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let Some((b, mac)) = nonce.split_once('.') else { return false };
        let Ok(bucket) = b.parse::<i64>() else { return false };
        let cur = now.div_euclid(NONCE_BUCKET_SECS);
        (bucket == cur || bucket == cur - 1) && subtle::ConstantTimeEq::ct_eq(mac.as_bytes(), self.mac(bucket).as_bytes()).into()
    }
}

/// `htu` as compared: scheme, host, port and path; no query, no fragment.
fn normalize(u: &str) -> Option<String> {
    let mut url = url::Url::parse(u).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    Some(url.to_string())
}

/// Verify a DPoP proof for the request `expect` (pure; the `jti` is the
/// caller's to spend).
pub fn verify(proof: &str, expect: &Expect<'_>, nonces: &Nonces, now: i64) -> Result<Proof, ProofError> {
    let header = jsonwebtoken::decode_header(proof).map_err(|e| invalid(format!("malformed proof: {e}")))?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(invalid("typ must be dpop+jwt"));
    }
    if !matches!(header.alg, Algorithm::ES256 | Algorithm::EdDSA | Algorithm::RS256 | Algorithm::PS256) {
        return Err(invalid(format!("alg {:?} is not accepted; one of {}", header.alg, ALGS.join(", "))));
    }
    let jwk: Jwk = header.jwk.ok_or_else(|| invalid("the proof carries no jwk"))?;
    let jwk_json = serde_json::to_value(&jwk).map_err(|e| invalid(e.to_string()))?;
    if super::client_assertion::PRIVATE_MEMBERS.iter().any(|m| jwk_json.get(*m).is_some()) {
        return Err(invalid("the proof's jwk holds a private key"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(format!("unusable jwk: {e}")))?;
    let mut v = Validation::new(header.alg);
    v.set_required_spec_claims::<&str>(&[]);
    v.validate_exp = false;
    v.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(proof, &key, &v).map_err(|e| invalid(format!("proof signature or claims: {e}")))?.claims;
    if claims.jti.is_empty() || claims.jti.len() > 200 {
        return Err(invalid("jti is required (at most 200 characters)"));
    }
    if !claims.htm.eq_ignore_ascii_case(expect.htm) {
        return Err(invalid(format!("htm must be {}", expect.htm)));
    }
    if normalize(&claims.htu) != normalize(expect.htu) {
        return Err(invalid(format!("htu must be {}", expect.htu)));
    }
    if claims.iat < now - IAT_WINDOW_SECS || claims.iat > now + IAT_WINDOW_SECS / 10 {
        return Err(invalid("iat is too far from the server's time"));
    }
    if let Some(token) = expect.access_token {
        if claims.ath.as_deref() != Some(ath(token).as_str()) {
            return Err(invalid("ath must be the hash of the access token"));
        }
    }
    if nonces.required && !claims.nonce.as_deref().is_some_and(|n| nonces.accepts(n, now)) {
        return Err(ProofError::UseNonce);
    }
    let alg = format!("{:?}", header.alg);
    Ok(Proof { jkt: thumbprint(&jwk_json)?, jti: claims.jti, iat: claims.iat, alg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_of_rfc_7638s_example() {
        // RFC 7638 §3.1
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        });
        assert_eq!(thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn nonces_last_two_buckets_and_cannot_be_forged() {
        let n = Nonces::new(hmac::Key::new(hmac::HMAC_SHA256, b"k"), true);
        let t = 1_000_000;
        let nonce = n.current(t);
        assert!(n.accepts(&nonce, t));
        assert!(n.accepts(&nonce, t + NONCE_BUCKET_SECS));
        assert!(!n.accepts(&nonce, t + 3 * NONCE_BUCKET_SECS), "too old");
        let other = Nonces::new(hmac::Key::new(hmac::HMAC_SHA256, b"other"), true);
        assert!(!other.accepts(&nonce, t), "another key's");
        assert!(!n.accepts("garbage", t));
    }

    #[test]
    fn htu_ignores_query_and_fragment() {
        assert_eq!(normalize("https://id.example.com/token?x=1#f"), normalize("https://id.example.com/token"));
        assert_ne!(normalize("https://id.example.com/token2"), normalize("https://id.example.com/token"));
    }
}
