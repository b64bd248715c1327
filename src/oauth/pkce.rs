//! PKCE (RFC 7636), `S256` only: `plain` protects nothing against an attacker
//! who sees the authorization request (RFC 9700 §2.1.1).
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Verifiers and challenges: 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
fn well_formed(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Validate the challenge of an authorization request.
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<Option<String>> {
    match (challenge, method) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(Error::invalid_request("code_challenge_method without code_challenge")),
        (Some(c), m) => {
            match m {
                Some("S256") => {}
                None | Some("plain") => {
                    return Err(Error::invalid_request("code_challenge_method must be S256 (plain is not supported)"))
                }
                Some(other) => return Err(Error::invalid_request(format!("unknown code_challenge_method {other}"))),
            }
            if c.len() != 43 || !well_formed(c) {
                return Err(Error::invalid_request("code_challenge must be the 43-character base64url SHA-256 of the verifier"));
            }
            Ok(Some(c.to_string()))
        }
    }
}

/// Check a verifier against the stored S256 challenge, in constant time.
pub fn verify(challenge: &str, verifier: &str) -> bool {
    if !well_formed(verifier) {
        return false;
    }
    let computed = B64.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verify(challenge, verifier));
        assert!(!verify(challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
        assert!(!verify(challenge, "short"));
        assert_eq!(check_challenge(Some(challenge), Some("S256")).unwrap().as_deref(), Some(challenge));
        assert!(check_challenge(Some(challenge), Some("plain")).is_err());
        assert!(check_challenge(Some(challenge), None).is_err());
        assert!(check_challenge(Some("abc"), Some("S256")).is_err());
        assert!(check_challenge(None, Some("S256")).is_err());
        assert_eq!(check_challenge(None, None).unwrap(), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn verifier_matches_only_its_challenge(v in "[A-Za-z0-9._~-]{43,128}", w in "[A-Za-z0-9._~-]{43,128}") {
            let challenge = B64.encode(Sha256::digest(v.as_bytes()));
            prop_assert!(check_challenge(Some(&challenge), Some("S256")).is_ok());
            prop_assert!(verify(&challenge, &v));
            prop_assert_eq!(verify(&challenge, &w), v == w);
        }

        #[test]
        fn malformed_verifiers_never_verify(v in "\\PC{0,200}") {
            let challenge = B64.encode(Sha256::digest(v.as_bytes()));
            let well_formed = (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            prop_assert_eq!(verify(&challenge, &v), well_formed);
        }
    }
}
