//! Browser sessions: a cookie holding `{user, session id, auth_time, csrf,
//! exp}`, authenticated with HMAC-SHA256 under a key derived from the KEK,
//! so any instance sharing the KEK accepts it and nobody else can forge one.
//! A signed-in session is also recorded in the token store under the
//! SHA-256 of its id: the cookie alone signs no one in, so logging out (or
//! `tessera user sessions revoke`) ends a session everywhere, a copied
//! cookie included.
//!
//! Every session, even before login, carries a random CSRF token that each
//! form repeats; a post whose token differs is refused.
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::hmac;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "tessera_session";
/// The cookie's name with an https issuer: the `__Host-` prefix makes the
/// browser refuse it unless it is Secure, for this host only and for `/`,
/// so a sibling subdomain cannot plant a session whose CSRF token it knows.
pub const SECURE_COOKIE: &str = "__Host-tessera_session";
/// A login lasts 8 hours.
pub const LIFETIME_SECS: i64 = 8 * 3600;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uid: Option<String>,
    /// The id of a signed-in session in the token store (`None` before login).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    pub csrf: String,
    pub exp: i64,
}

impl Session {
    pub fn anonymous(now: i64) -> Session {
        Session { uid: None, sid: None, auth_time: None, csrf: crate::crypto::random_token(24), exp: now + LIFETIME_SECS }
    }

    pub fn logged_in(uid: &str, now: i64) -> Session {
        // A fresh CSRF token at login: a token seen before login is worthless after.
        Session { uid: Some(uid.into()), sid: Some(crate::crypto::random_token(32)), auth_time: Some(now), ..Session::anonymous(now) }
    }

    /// The store key of a signed-in session: the SHA-256 of its id.
    pub fn store_key(&self) -> Option<String> {
        self.sid.as_deref().map(crate::crypto::digest)
    }

    /// Does the presented form token match, in constant time?
    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| p.as_bytes().ct_eq(self.csrf.as_bytes()).into())
    }

    pub fn encode(&self, key: &hmac::Key) -> String {
        let body = B64.encode(serde_json::to_vec(self).unwrap_or_default());
        let tag = hmac::sign(key, body.as_bytes());
        format!("{body}.{}", B64.encode(tag.as_ref()))
    }

    /// Decode and check a cookie value; `None` if forged, malformed or expired.
    pub fn decode(value: &str, key: &hmac::Key, now: i64) -> Option<Session> {
        let (body, tag) = value.split_once('.')?;
        let tag = B64.decode(tag).ok()?;
        hmac::verify(key, body.as_bytes(), &tag).ok()?;
        let s: Session = serde_json::from_slice(&B64.decode(body).ok()?).ok()?;
        (s.exp > now).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_forgery_and_expiry() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
        let s = Session::logged_in("u1", 1000);
        let c = s.encode(&key);
        assert_eq!(Session::decode(&c, &key, 1001), Some(s.clone()));
        assert_eq!(Session::decode(&c, &key, 1000 + LIFETIME_SECS), None, "expired");
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"other");
        assert_eq!(Session::decode(&c, &other, 1001), None, "wrong key");
        let (_, tag) = c.split_once('.').unwrap();
        let forged = Session { uid: Some("admin".into()), ..s.clone() };
        let body = B64.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(Session::decode(&format!("{body}.{tag}"), &key, 1001), None, "tampered body");
        assert!(s.csrf_ok(Some(&s.csrf)));
        assert!(!s.csrf_ok(Some("nope")));
        assert!(!s.csrf_ok(None));
        assert_ne!(Session::anonymous(0).csrf, Session::anonymous(0).csrf);
    }
}
