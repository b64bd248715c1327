//! Logout that reaches the apps: OpenID Connect RP-Initiated Logout 1.0
//! (an app sends the browser to `end_session_endpoint`) and Back-Channel
//! Logout 1.0 (Tessera POSTs a signed `logout_token` to each app the
//! session signed in to).
//!
//! * `id_token_hint` is one of our ID tokens (its signature checked, its
//!   expiry not); `post_logout_redirect_uri` must equal one the client
//!   registered, else nobody is redirected; `state` goes back with it. When
//!   the hint names the current session (`sid`) the user is signed out at
//!   once, else a page asks first.
//! * A session's apps are those its ID tokens were issued to. Each with a
//!   `backchannel_logout_uri` gets a `logout_token` (`typ: logout+jwt`,
//!   `iss`, `aud`, `iat`, `exp`, `jti`, `sub`, `sid`, the back-channel
//!   event, never a `nonce`), POSTed in the background with a short timeout
//!   and retries with backoff; every delivery is in the audit trail, and the
//!   user's logout never waits for it. Disabling a user and ending a user's
//!   sessions tell the apps the same way.
use std::time::Duration;

use jsonwebtoken::Validation;
use crate::db::Db;
use serde::{Deserialize, Serialize};

use super::issuer::Issuer;
use crate::error::{Error, Result};
use crate::keys::TokenType;
use crate::outbound::Outbound;
use crate::registry::audit::{self, Event};
use crate::registry::clients::{self, Client};
use crate::store::TokenStore;

pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid.
const LOGOUT_TOKEN_TTL: i64 = 120;
/// Delivery attempts, and the wait before the first retry (doubling).
pub const ATTEMPTS: u32 = 4;
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Debug, Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    events: serde_json::Value,
}

/// A signed logout token for `client_id` about `sub` (and the session `sid`).
pub fn logout_token(issuer: &Issuer, client_id: &str, sub: &str, sid: Option<&str>, now: i64) -> Result<String> {
    let claims = LogoutClaims {
        iss: issuer.issuer(),
        aud: client_id,
        iat: now,
        exp: now + LOGOUT_TOKEN_TTL,
        jti: crate::crypto::new_jti(),
        sub,
        sid,
        events: serde_json::json!({ BACKCHANNEL_EVENT: {} }),
    };
    Ok(issuer.ring().id_signer.sign(TokenType::LogoutToken, &claims)?)
}

/// What an `id_token_hint` says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Hint {
    pub sub: String,
    pub aud: String,
    #[serde(default)]
    pub sid: Option<String>,
}

/// Read an `id_token_hint`: one of our ID tokens, expired or not.
pub fn read_hint(issuer: &Issuer, token: &str) -> Result<Hint> {
    let bad = || Error::invalid_request("id_token_hint is not an ID token of this server");
    let header = jsonwebtoken::decode_header(token).map_err(|_| bad())?;
    let ring = issuer.ring();
    let key = header.kid.as_deref().and_then(|k| ring.verify.get(k)).ok_or_else(bad)?;
    if header.alg != key.alg.jwt() {
        return Err(bad());
    }
    let mut v = Validation::new(key.alg.jwt());
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_required_spec_claims(&["iss", "sub", "aud"]);
    v.set_issuer(&[issuer.issuer()]);
    jsonwebtoken::decode::<Hint>(token, &key.key, &v).map(|d| d.claims).map_err(|_| bad())
}

/// Where the browser goes after logging out: `uri` only if the client
/// registered exactly it, with `state`.
pub fn redirect_for(client: &Client, uri: &str, state: Option<&str>) -> Option<String> {
    if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
        return None;
    }
    let mut u = url::Url::parse(uri).ok()?;
    if let Some(s) = state {
        u.query_pairs_mut().append_pair("state", s);
    }
    Some(u.to_string())
}

/// One logout to tell an app.
#[derive(Debug, Clone)]
pub struct Notice {
    pub client_id: String,
    pub uri: String,
    pub user_id: String,
    pub sid: Option<String>,
}

/// The apps to tell when the sessions `sids` of `user_id` end.
pub async fn notices(db: &Db, store: &dyn TokenStore, user_id: &str, sids: &[String]) -> Result<Vec<Notice>> {
    let now = crate::db::now();
    let mut out = Vec::new();
    for sid in sids {
        for client_id in store.session_clients(sid, now).await? {
            if let Some(uri) = clients::find(db, &client_id).await?.and_then(|c| c.backchannel_logout_uri) {
                out.push(Notice { client_id, uri, user_id: user_id.to_string(), sid: Some(sid.clone()) });
            }
        }
    }
    Ok(out)
}

/// The apps to tell when every session of `user_id` ends (sessions
/// revoked, account disabled): collect them before ending the sessions.
pub async fn user_notices(db: &Db, store: &dyn TokenStore, user_id: &str) -> Result<Vec<Notice>> {
    let sids = store.user_sessions(user_id, crate::db::now()).await?;
    notices(db, store, user_id, &sids).await
}

/// Disable an account, and the apps to tell: those its sessions signed in to.
pub async fn disable_user(db: &Db, store: &dyn TokenStore, user_id: &str, actor: Option<&str>) -> Result<(crate::registry::users::User, Vec<Notice>)> {
    let notices = user_notices(db, store, user_id).await?;
    let user = crate::registry::users::set_disabled(db, store, user_id, true, actor).await?;
    Ok((user, notices))
}

/// End every session of a user, and the apps to tell.
pub async fn end_user_sessions(db: &Db, store: &dyn TokenStore, user_id: &str) -> Result<(u64, Vec<Notice>)> {
    let notices = user_notices(db, store, user_id).await?;
    Ok((store.end_user_sessions(user_id).await?, notices))
}

/// POST each logout token, retrying with backoff; every outcome is audited.
pub async fn deliver(db: &Db, issuer: &Issuer, outbound: &Outbound, notices: Vec<Notice>) {
    for n in notices {
        let token = match logout_token(issuer, &n.client_id, &n.user_id, n.sid.as_deref(), crate::db::now()) {
            Ok(t) => t,
            Err(e) => {
                log::error!("signing a logout token for {}: {e}", n.client_id);
                continue;
            }
        };
        let mut wait = FIRST_BACKOFF;
        let mut outcome = Err(String::new());
        for attempt in 1..=ATTEMPTS {
            outcome = match outbound.post_form(&n.uri, &[("logout_token", &token)]).await {
                Ok(200 | 204) => Ok(attempt),
                // 400: the app refused this token; retrying will not change its mind.
                Ok(400) => Err("the app answered 400".into()),
                Ok(status) => Err(format!("the app answered {status}")),
                Err(e) => Err(e.to_string()),
            };
            if outcome.is_ok() || outcome.as_ref().is_err_and(|e| e.contains("400")) || attempt == ATTEMPTS {
                break;
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
        let (event, detail) = match &outcome {
            Ok(attempts) => ("logout.delivered", serde_json::json!({"attempts": attempts})),
            Err(e) => ("logout.failed", serde_json::json!({"error": e})),
        };
        if let Err(e) = &outcome {
            log::warn!("back-channel logout to client {} failed: {e}", n.client_id);
        }
        audit::record(db, Event { event, client_id: Some(&n.client_id), user_id: Some(&n.user_id), detail: Some(detail), ..Default::default() }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::clients::{test_client, ClientType};

    #[test]
    fn only_a_registered_uri_is_a_way_back() {
        let mut c = test_client("c1", ClientType::Public, None, "active");
        c.post_logout_redirect_uris = vec!["https://app.example.com/bye".into()];
        assert_eq!(redirect_for(&c, "https://app.example.com/bye", Some("s 1")).as_deref(), Some("https://app.example.com/bye?state=s+1"));
        assert_eq!(redirect_for(&c, "https://app.example.com/bye", None).as_deref(), Some("https://app.example.com/bye"));
        assert_eq!(redirect_for(&c, "https://app.example.com/bye/", None), None, "exact match only");
        assert_eq!(redirect_for(&c, "https://evil.example.com/bye", None), None);
    }
}
