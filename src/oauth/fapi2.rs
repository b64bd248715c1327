//! The FAPI 2.0 Security Profile, per client (`--profile fapi2`). Such a
//! client is held to the building blocks Tessera has for everyone, made
//! mandatory; `docs/fapi2.md` maps each clause to the code and its test.
//!
//! * Registration: a confidential client authenticating with
//!   `private_key_jwt`, never allowed to skip PKCE.
//! * Authorization requests are pushed (PAR), with PKCE S256.
//! * Access tokens are DPoP-bound.
//! * Assertions and DPoP proofs are signed with RS256, PS256 or ES256.
//! * Authorization codes live at most [`MAX_CODE_SECS`].
//! * (For everyone already: `iss` in the authorization response, refresh
//!   tokens rotated on every use, `response_type=code` only.)
//!
//! A request that breaks the profile is refused with the RFC error of its
//! endpoint, and a description that names what is missing.
use crate::error::{Error, Result};
use crate::registry::clients::{Client, ClientType, NewClient, FAPI2, PRIVATE_KEY_JWT};

/// The signing algorithms the profile allows for assertions and proofs.
pub const ALGS: [&str; 3] = ["RS256", "PS256", "ES256"];
/// The longest an authorization code of such a client lives.
pub const MAX_CODE_SECS: i64 = 60;

/// Registration with `--profile fapi2`: what the client must be.
pub fn validate_registration(n: &NewClient, ct: ClientType) -> Result<()> {
    match n.profile.as_deref() {
        None => Ok(()),
        Some(FAPI2) => {
            if ct != ClientType::Confidential || n.auth_method.as_deref() != Some(PRIVATE_KEY_JWT) {
                return Err(Error::validation("the FAPI 2.0 profile needs a confidential client with --auth-method private_key_jwt"));
            }
            if n.pkce_optional {
                return Err(Error::validation("the FAPI 2.0 profile needs PKCE: --pkce-optional is not allowed"));
            }
            Ok(())
        }
        Some(other) => Err(Error::validation(format!("unknown profile {other:?}; the one profile is fapi2"))),
    }
}

/// Must the client's authorization requests be pushed?
pub fn requires_par(c: &Client) -> bool {
    c.fapi2()
}

/// Must the client's tokens be DPoP-bound?
pub fn requires_dpop(c: &Client) -> bool {
    c.require_dpop || c.fapi2()
}

/// Whether `alg` may sign an assertion or a DPoP proof of `c`.
pub fn alg_allowed(c: &Client, alg: &str) -> bool {
    !c.fapi2() || ALGS.contains(&alg)
}

/// The lifetime of `c`'s authorization codes.
pub fn code_ttl(c: &Client, configured: i64) -> i64 {
    if c.fapi2() { configured.min(MAX_CODE_SECS) } else { configured }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::clients::test_client;

    #[test]
    fn registration_rules() {
        let mut n = NewClient { profile: Some(FAPI2.into()), auth_method: Some(PRIVATE_KEY_JWT.into()), ..Default::default() };
        assert!(validate_registration(&n, ClientType::Confidential).is_ok());
        assert!(validate_registration(&n, ClientType::Public).unwrap_err().to_string().contains("private_key_jwt"));
        n.pkce_optional = true;
        assert!(validate_registration(&n, ClientType::Confidential).unwrap_err().to_string().contains("PKCE"));
        n.pkce_optional = false;
        n.auth_method = None;
        assert!(validate_registration(&n, ClientType::Confidential).unwrap_err().to_string().contains("private_key_jwt"));
        n.profile = Some("fapi1".into());
        assert!(validate_registration(&n, ClientType::Confidential).unwrap_err().to_string().contains("unknown profile"));
    }

    #[test]
    fn what_the_profile_turns_on() {
        let plain = test_client("c", ClientType::Confidential, None, "active");
        let mut f = plain.clone();
        f.profile = Some(FAPI2.into());
        assert!(!requires_par(&plain) && requires_par(&f));
        assert!(!requires_dpop(&plain) && requires_dpop(&f));
        assert!(alg_allowed(&plain, "EdDSA") && !alg_allowed(&f, "EdDSA") && alg_allowed(&f, "PS256"));
        assert_eq!((code_ttl(&plain, 600), code_ttl(&f, 600), code_ttl(&f, 30)), (600, 60, 30));
    }
}
