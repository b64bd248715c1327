//! Scopes (RFC 6749 §3.3): space-delimited tokens of printable ASCII except
//! `"` and `\`. Order is kept, duplicates dropped.
use crate::error::{Error, Result};

/// The scope of Tessera's own admin API. Its tokens are for Tessera alone
/// (`aud` is the issuer), so it is never granted by default and never
/// together with other scopes (`oauth/admin.rs` says who may use it).
pub const ADMIN: &str = "tessera:admin";

/// Scopes that only make sense with a user: never granted to a machine
/// (client_credentials), and so never in need of a machine approval.
pub const USER_ONLY: &[&str] = &["openid", "profile", "email", "offline_access"];

fn valid_token(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Parse a `scope` parameter.
pub fn parse(s: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in s.split(' ').filter(|t| !t.is_empty()) {
        if !valid_token(t) {
            return Err(Error::invalid_scope(format!("{t:?} is not a valid scope token")));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// The words of a space-delimited list we wrote ourselves (a token's
/// `scope` claim, `prompt`): no validation, empty words skipped.
pub fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|w| !w.is_empty())
}

pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// Every requested scope must be allowed; the error names the first that is not.
pub fn require_subset(requested: &[String], allowed: &[String]) -> Result<()> {
    match requested.iter().find(|s| !allowed.contains(s)) {
        Some(s) => Err(Error::invalid_scope(format!("scope {s} is not allowed for this client"))),
        None => Ok(()),
    }
}

/// The scopes to grant: the requested ones (which must be allowed), or all
/// allowed ones when none were requested (RFC 6749 §3.3 lets the server pick a default).
pub fn resolve(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>> {
    match requested {
        Some(s) => {
            let req = parse(s)?;
            require_subset(&req, allowed)?;
            Ok(req)
        }
        None => Ok(allowed.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parse_rules() {
        assert_eq!(parse("read:data  write:data read:data").unwrap(), v(&["read:data", "write:data"]));
        assert!(parse("read\"data").is_err());
        assert!(parse("a\\b").is_err());
        assert!(parse("é").is_err());
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn subset_and_default() {
        let allowed = v(&["read:data", "write:data"]);
        assert_eq!(resolve(Some("read:data"), &allowed).unwrap(), v(&["read:data"]));
        assert_eq!(resolve(None, &allowed).unwrap(), allowed);
        let e = resolve(Some("read:data read:billing"), &allowed).unwrap_err();
        assert!(matches!(e, Error::InvalidScope(m) if m.contains("read:billing")));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,100}") {
            let _ = parse(&s);
        }

        #[test]
        fn parse_join_roundtrip(tokens in proptest::collection::vec("[!#-\\[\\]-~]{1,12}", 0..6)) {
            let parsed = parse(&tokens.join(" ")).unwrap();
            let mut dedup: Vec<String> = vec![];
            for t in &tokens { if !dedup.contains(t) { dedup.push(t.clone()) } }
            prop_assert_eq!(&parsed, &dedup);
            prop_assert_eq!(parse(&join(&parsed)).unwrap(), parsed);
        }

        #[test]
        fn subset_is_subset(req in proptest::collection::vec("[a-c]", 0..4), allowed in proptest::collection::vec("[a-c]", 0..4)) {
            let ok = require_subset(&req, &allowed).is_ok();
            prop_assert_eq!(ok, req.iter().all(|r| allowed.contains(r)));
        }
    }
}
