//! The in-memory signer: an RSA key pair parsed once and kept, and the JWT
//! headers for it encoded once. Signing a token is then one JSON
//! serialisation of the claims, two base64 passes and one RSA signature.
//!
//! Crypto is aws-lc-rs, which has ring's API, can generate RSA keys (ring
//! cannot) and signs RSA-2048 about twice as fast as ring on this machine
//! (~3,100/s against ~1,500/s on one core, `docs/performance.md`).
//!
//! Algorithms (`TESSERA_SIGNING_ALG`): RS256 (default, always published:
//! every verifier supports it), ES256 (P-256, ~18x faster to sign, 64-byte
//! signatures) and EdDSA (Ed25519, ~11x faster).
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::Serialize;

use super::KeyError;

/// A signing algorithm Tessera supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "RS256" => Some(Alg::RS256),
            "ES256" => Some(Alg::ES256),
            "EdDSA" => Some(Alg::EdDSA),
            _ => None,
        }
    }
    pub fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Alg::RS256 => jsonwebtoken::Algorithm::RS256,
            Alg::ES256 => jsonwebtoken::Algorithm::ES256,
            Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

pub struct Signer {
    pub kid: String,
    pub alg: Alg,
    key_pair: Pair,
    rng: SystemRandom,
    /// base64url of `{"alg":"RS256","typ":"at+jwt","kid":…}`
    at_header: String,
    /// base64url of `{"alg":"RS256","typ":"JWT","kid":…}` (ID tokens)
    jwt_header: String,
    logout_header: String,
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
    /// OpenID Connect Back-Channel Logout token (`typ: logout+jwt`)
    LogoutToken,
}

/// A freshly generated key: its PKCS#8 DER (to be sealed) and public JWK.
pub struct GeneratedKey {
    pub pkcs8: Vec<u8>,
    pub public_jwk: serde_json::Value,
}

pub fn generate_rsa(kid: &str) -> Result<GeneratedKey, KeyError> {
    generate(Alg::RS256, kid)
}

/// Generate a key pair of `alg`: its PKCS#8 and its public JWK.
pub fn generate(alg: Alg, kid: &str) -> Result<GeneratedKey, KeyError> {
    let rng = SystemRandom::new();
    let pkcs8 = match alg {
        Alg::RS256 => {
            let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto("RSA key generation"))?;
            kp.as_der().map_err(|_| KeyError::Crypto("PKCS#8 encoding"))?.as_ref().to_vec()
        }
        Alg::ES256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Crypto("EC key generation"))?
            .as_ref()
            .to_vec(),
        Alg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Crypto("Ed25519 key generation"))?.as_ref().to_vec(),
    };
    let signer = Signer::from_pkcs8(alg, kid, &pkcs8)?;
    Ok(GeneratedKey { public_jwk: signer.public_jwk(), pkcs8 })
}

impl Signer {
    pub fn from_pkcs8(alg: Alg, kid: &str, pkcs8: &[u8]) -> Result<Signer, KeyError> {
        let bad = |_| KeyError::Crypto("PKCS#8 parse");
        let key_pair = match alg {
            Alg::RS256 => Pair::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(bad)?),
            Alg::ES256 => Pair::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map_err(bad)?),
            Alg::EdDSA => Pair::Ed(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(bad)?),
        };
        let header = |typ: &str| {
            B64.encode(serde_json::json!({"alg": alg.as_str(), "typ": typ, "kid": kid}).to_string())
        };
        Ok(Signer {
            kid: kid.to_string(),
            alg,
            at_header: header("at+jwt"),
            jwt_header: header("JWT"),
            logout_header: header("logout+jwt"),
            key_pair,
            rng: SystemRandom::new(),
        })
    }

    /// Sign `claims` as a compact JWS.
    pub fn sign<C: Serialize>(&self, typ: TokenType, claims: &C) -> Result<String, KeyError> {
        let header = match typ {
            TokenType::AccessToken => &self.at_header,
            TokenType::IdToken => &self.jwt_header,
            TokenType::LogoutToken => &self.logout_header,
        };
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Crypto("claims serialisation"))?;
        let mut out = String::with_capacity(header.len() + payload.len() * 4 / 3 + 350);
        out.push_str(header);
        out.push('.');
        B64.encode_string(&payload, &mut out);
        out.push('.');
        match &self.key_pair {
            Pair::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                let signing_input_len = out.len() - 1;
                kp.sign(&RSA_PKCS1_SHA256, &self.rng, &out.as_bytes()[..signing_input_len], &mut sig)
                    .map_err(|_| KeyError::Crypto("sign"))?;
                B64.encode_string(&sig, &mut out);
            }
            Pair::Ec(kp) => {
                let sig = kp.sign(&self.rng, &out.as_bytes()[..out.len() - 1]).map_err(|_| KeyError::Crypto("sign"))?;
                B64.encode_string(sig.as_ref(), &mut out);
            }
            Pair::Ed(kp) => {
                let sig = kp.sign(&out.as_bytes()[..out.len() - 1]);
                B64.encode_string(sig.as_ref(), &mut out);
            }
        }
        Ok(out)
    }

    /// The public half as a JWK (RFC 7517/7518, RFC 8037 for Ed25519).
    pub fn public_jwk(&self) -> serde_json::Value {
        let kid = &self.kid;
        match &self.key_pair {
            Pair::Rsa(kp) => {
                let pk = kp.public_key();
                serde_json::json!({
                    "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                    "n": B64.encode(pk.modulus().big_endian_without_leading_zero()),
                    "e": B64.encode(pk.exponent().big_endian_without_leading_zero()),
                })
            }
            Pair::Ec(kp) => {
                // Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes)
                let p = kp.public_key().as_ref();
                serde_json::json!({
                    "kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                    "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..65]),
                })
            }
            Pair::Ed(kp) => serde_json::json!({
                "kty": "OKP", "kid": kid, "use": "sig", "alg": "EdDSA", "crv": "Ed25519",
                "x": B64.encode(kp.public_key().as_ref()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_what_jsonwebtoken_verifies() {
        for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
            let g = generate(alg, "k").unwrap();
            let s = Signer::from_pkcs8(alg, "k", &g.pkcs8).unwrap();
            let tok = s.sign(TokenType::AccessToken, &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64})).unwrap();
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(g.public_jwk.clone()).unwrap();
            let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let mut v = jsonwebtoken::Validation::new(alg.jwt());
            v.required_spec_claims.clear();
            let d = jsonwebtoken::decode::<serde_json::Value>(&tok, &key, &v).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(d.claims["sub"], "x");
            assert_eq!(jsonwebtoken::decode_header(&tok).unwrap().alg, alg.jwt());
            // another key of the same algorithm does not verify it
            let other: jsonwebtoken::jwk::Jwk = serde_json::from_value(generate(alg, "k2").unwrap().public_jwk).unwrap();
            assert!(jsonwebtoken::decode::<serde_json::Value>(&tok, &jsonwebtoken::DecodingKey::from_jwk(&other).unwrap(), &v).is_err());
        }
    }

    #[test]
    fn signs_a_jwt_that_jsonwebtoken_verifies() {
        let g = generate_rsa("k1").unwrap();
        let s = Signer::from_pkcs8(Alg::RS256, "k1", &g.pkcs8).unwrap();
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
