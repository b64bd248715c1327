//! The in-memory signer: an RSA key pair parsed once and kept, and the JWT
//! headers for it encoded once. Signing a token is then one JSON
//! serialisation of the claims, two base64 passes and one RSA signature.
//!
//! RSA is done by aws-lc-rs, which has ring's API, can generate keys (ring
//! cannot) and signs RSA-2048 about twice as fast as ring on this machine
//! (~3,100/s against ~1,500/s on one core, `docs/performance.md`).
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::Serialize;

use super::KeyError;

pub struct Signer {
    pub kid: String,
    key_pair: RsaKeyPair,
    rng: SystemRandom,
    /// base64url of `{"alg":"RS256","typ":"at+jwt","kid":…}`
    at_header: String,
    /// base64url of `{"alg":"RS256","typ":"JWT","kid":…}` (ID tokens)
    jwt_header: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// The JWT `typ` header value.
#[derive(Clone, Copy, Debug)]
pub enum TokenType {
    /// RFC 9068 access token
    AccessToken,
    /// OpenID Connect ID token
    IdToken,
}

/// A freshly generated key: its PKCS#8 DER (to be sealed) and public JWK.
pub struct GeneratedKey {
    pub pkcs8: Vec<u8>,
    pub public_jwk: serde_json::Value,
}

pub fn generate_rsa(kid: &str) -> Result<GeneratedKey, KeyError> {
    let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto("RSA key generation"))?;
    let pkcs8 = kp.as_der().map_err(|_| KeyError::Crypto("PKCS#8 encoding"))?.as_ref().to_vec();
    Ok(GeneratedKey { public_jwk: public_jwk(&kp, kid), pkcs8 })
}

fn public_jwk(kp: &RsaKeyPair, kid: &str) -> serde_json::Value {
    let pk = kp.public_key();
    serde_json::json!({
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": B64.encode(pk.modulus().big_endian_without_leading_zero()),
        "e": B64.encode(pk.exponent().big_endian_without_leading_zero()),
    })
}

impl Signer {
    pub fn from_pkcs8(kid: &str, pkcs8: &[u8]) -> Result<Signer, KeyError> {
        let key_pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::Crypto("PKCS#8 parse"))?;
        let header = |typ: &str| {
            B64.encode(serde_json::json!({"alg": "RS256", "typ": typ, "kid": kid}).to_string())
        };
        Ok(Signer {
            kid: kid.to_string(),
            at_header: header("at+jwt"),
            jwt_header: header("JWT"),
            key_pair,
            rng: SystemRandom::new(),
        })
    }

    /// Sign `claims` as a compact JWS.
    pub fn sign<C: Serialize>(&self, typ: TokenType, claims: &C) -> Result<String, KeyError> {
        let header = match typ {
            TokenType::AccessToken => &self.at_header,
            TokenType::IdToken => &self.jwt_header,
        };
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Crypto("claims serialisation"))?;
        let mut out = String::with_capacity(header.len() + payload.len() * 4 / 3 + 350);
        out.push_str(header);
        out.push('.');
        B64.encode_string(&payload, &mut out);
        let mut sig = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), &mut sig)
            .map_err(|_| KeyError::Crypto("sign"))?;
        out.push('.');
        B64.encode_string(&sig, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_a_jwt_that_jsonwebtoken_verifies() {
        let g = generate_rsa("k1").unwrap();
        let s = Signer::from_pkcs8("k1", &g.pkcs8).unwrap();
        let tok = s.sign(TokenType::AccessToken, &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64})).unwrap();
        let header = jsonwebtoken::decode_header(&tok).unwrap();
        assert_eq!(header.kid.as_deref(), Some("k1"));
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let key = jsonwebtoken::DecodingKey::from_rsa_components(
            g.public_jwk["n"].as_str().unwrap(),
            g.public_jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<serde_json::Value>(&tok, &key, &v).unwrap();
        assert_eq!(data.claims["sub"], "x");
        // a flipped payload byte breaks the signature
        let mut parts: Vec<String> = tok.split('.').map(str::to_string).collect();
        parts[1] = B64.encode(br#"{"sub":"y","exp":4000000000}"#);
        assert!(jsonwebtoken::decode::<serde_json::Value>(&parts.join("."), &key, &v).is_err());
    }
}
