//! Redirect URIs: what may be registered, and when a presented one matches.
//!
//! Registration (RFC 9700 §2.1, §4.1): absolute `https` URIs, or `http` on a
//! loopback host for native apps and development; no fragment (RFC 6749
//! §3.1.2), no userinfo, no wildcard. Native apps (RFC 8252), which are
//! public clients, may also register a private-use URI scheme named after a
//! domain they own (§7.1: `com.example.app:/oauth2redirect`); a confidential
//! client may not, and schemes that run code or read files in a browser are
//! refused by name. Matching is exact string comparison (RFC 9700 §4.1.3),
//! except that a loopback IP redirect may use any port (RFC 8252 §7.3),
//! since native apps bind an ephemeral one.
use url::{Host, Url};

use crate::config::is_loopback_host;

/// A web URL a client registers besides its redirect URIs (`jwks_uri`,
/// back-channel logout, `client_uri` …): https, or http on loopback only,
/// with no fragment.
pub fn is_web_url(u: &str) -> bool {
    Url::parse(u).is_ok_and(|p| {
        p.fragment().is_none() && (p.scheme() == "https" || (p.scheme() == "http" && p.host().is_some_and(|h| is_loopback_host(&h))))
    })
}

/// Schemes a browser would execute or read locally: never a redirect.
const DANGEROUS: &[&str] = &["javascript", "data", "file", "vbscript", "about", "blob"];

/// Check a redirect URI for registration by a client that is `public` or
/// not; the error says what is wrong.
pub fn validate(uri: &str, public: bool) -> Result<(), String> {
    if uri.contains('*') {
        return Err(format!("{uri}: wildcards are not allowed in redirect URIs"));
    }
    if uri.contains('#') {
        return Err(format!("{uri}: redirect URIs must not contain a fragment"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{uri:?}: redirect URIs must not contain spaces or control characters"));
    }
    if let Some(scheme) = uri.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).filter(|s| DANGEROUS.contains(&s.as_str())) {
        return Err(format!("{uri}: the {scheme}: scheme is never a redirect URI (a browser would run or read it)"));
    }
    let url = Url::parse(uri).map_err(|e| format!("{uri}: not an absolute URI ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{uri}: redirect URIs must not contain user information"));
    }
    let loopback = url.host().map(|h| is_loopback_host(&h)).unwrap_or(false);
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!("{uri}: redirect URIs must use https (http only on 127.0.0.1, [::1] or localhost)")),
        "https" => Err(format!("{uri}: an https redirect URI needs a host")),
        s if s.contains('.') && public => Ok(()),
        s if s.contains('.') => Err(format!("{uri}: private-use schemes such as {s}: are for native apps, which register as public clients")),
        s => Err(format!(
            "{uri}: scheme {s} is not allowed; use https, or for a native app a private-use scheme named after a domain you own, \
             with a period (RFC 8252 §7.1), such as com.example.app:/oauth2redirect"
        )),
    }
}

/// Does `presented` match one of the registered URIs?
pub fn matches(registered: &[String], presented: &str) -> bool {
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    // RFC 8252 §7.3: loopback IP literals may vary the port, nothing else.
    let Ok(p) = Url::parse(presented) else { return false };
    if p.scheme() != "http" || !matches!(p.host(), Some(Host::Ipv4(_)) | Some(Host::Ipv6(_))) {
        return false;
    }
    registered.iter().any(|r| {
        let Ok(mut r) = Url::parse(r) else { return false };
        if r.scheme() != "http" || r.host() != p.host() || !matches!(r.host(), Some(Host::Ipv4(_)) | Some(Host::Ipv6(_))) {
            return false;
        }
        if r.set_port(p.port()).is_err() {
            return false;
        }
        r.as_str() == p.as_str() && presented == p.as_str()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules() {
        for public in [false, true] {
            assert!(validate("https://app.example.com/cb", public).is_ok());
            assert!(validate("http://127.0.0.1:8000/cb", public).is_ok());
            assert!(validate("http://localhost/cb", public).is_ok());
            assert!(validate("http://[::1]:9/cb", public).is_ok());
            assert!(validate("http://app.example.com/cb", public).unwrap_err().contains("https"));
            assert!(validate("https://app.example.com/cb#x", public).unwrap_err().contains("fragment"));
            assert!(validate("https://*.example.com/cb", public).unwrap_err().contains("wildcard"));
            assert!(validate("https://user:pw@example.com/cb", public).unwrap_err().contains("user information"));
            assert!(validate("/relative", public).is_err());
            assert!(validate("https://example.com/a b", public).is_err());
            for dangerous in ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "file:///etc/passwd", "vbscript:x", "about:blank", "blob:https://a/b"] {
                assert!(validate(dangerous, public).unwrap_err().contains("never a redirect URI"), "{dangerous}");
            }
            assert!(validate("myapp:/cb", public).unwrap_err().contains("with a period"));
        }
        // RFC 8252 §7.1: private-use schemes for native (public) apps only
        assert!(validate("com.example.app:/oauth2redirect", true).is_ok());
        assert!(validate("com.example.app:/oauth2redirect", false).unwrap_err().contains("public clients"));
    }

    #[test]
    fn exact_matching() {
        let reg = vec!["https://app.example.com/cb".to_string(), "http://127.0.0.1:8000/cb".to_string()];
        assert!(matches(&reg, "https://app.example.com/cb"));
        for bad in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb/../cb",
            "https://app.example.com/CB",
            "https://APP.example.com/cb",
            "https://app.example.com.evil.com/cb",
            "https://evil.com@app.example.com/cb",
            "https://app.example.com/c%62",
            "https://app.example.com/cbx",
        ] {
            assert!(!matches(&reg, bad), "{bad} must not match");
        }
        // a private-use scheme matches exactly too
        let native = vec!["com.example.app:/oauth2redirect".to_string()];
        assert!(matches(&native, "com.example.app:/oauth2redirect"));
        assert!(!matches(&native, "com.example.app:/oauth2redirect/x"));
        assert!(!matches(&native, "com.example.evil:/oauth2redirect"));
        // loopback port may vary, nothing else
        assert!(matches(&reg, "http://127.0.0.1:51234/cb"));
        assert!(!matches(&reg, "http://127.0.0.1:51234/other"));
        assert!(!matches(&reg, "http://127.0.0.2:8000/cb"));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_and_matching_is_exact(s in "\\PC{0,80}", path in "[a-z/%.]{0,12}") {
            let _ = validate(&s, true);
            let reg = vec!["https://app.example.com/cb".to_string()];
            let _ = matches(&reg, &s);
            // only the exact string matches a non-loopback registration
            let candidate = format!("https://app.example.com/{path}");
            prop_assert_eq!(matches(&reg, &candidate), candidate == reg[0]);
        }

        #[test]
        fn registered_https_uris_match_themselves(host in "[a-z]{1,10}\\.example\\.com", path in "/[a-z0-9]{0,10}") {
            let uri = format!("https://{host}{path}");
            prop_assert!(validate(&uri, false).is_ok());
            prop_assert!(matches(std::slice::from_ref(&uri), &uri));
            let longer = format!("{uri}x");
            prop_assert!(!matches(std::slice::from_ref(&uri), &longer));
        }

        #[test]
        fn loopback_matches_only_with_another_port(port in 1u16..65535, path in "/[a-z]{1,8}") {
            let reg = vec![format!("http://127.0.0.1:8000{path}")];
            let presented = format!("http://127.0.0.1:{port}{path}");
            prop_assert!(matches(&reg, &presented));
            let other_path = format!("http://127.0.0.1:{port}{path}/x");
            prop_assert!(!matches(&reg, &other_path));
        }
    }
}
