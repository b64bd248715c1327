//! The device authorization grant (RFC 8628): a TV or a command-line tool
//! asks `/device_authorization` for a pair of codes, shows the short
//! `user_code` to its user, and polls `/token` with the long `device_code`
//! while the user signs in on another device at `/device`, enters the code,
//! and allows or denies on the usual consent screen.
//!
//! * `device_code`: 256 random bits, stored as its SHA-256 only.
//! * `user_code`: 8 characters from the 20 consonants of RFC 8628 §6.1
//!   (no vowels, so no words; no look-alikes such as 0/O or 1/I), shown as
//!   `BCDF-GHJK`. Typing is forgiving: case, spaces and dashes do not matter.
//!   20⁸ ≈ 2.6·10¹⁰ codes against guesses bounded per session and per
//!   address ([`GUESSES_PER_MIN_SESSION`], [`GUESSES_PER_MIN_ADDRESS`]).
//! * Polling: `authorization_pending` until decided, `slow_down` when a
//!   device polls sooner than [`INTERVAL_SECS`] after its last poll,
//!   `access_denied`, `expired_token`; an approval is handed out once (a
//!   second poll after the tokens is `invalid_grant`).
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::params::Params;
use super::scopes;
use crate::error::{Error, Result};
use crate::registry::clients::{Client, GrantType};
use crate::store::{DeviceRecord, TokenStore};

/// The user-code alphabet of RFC 8628 §6.1: consonants without look-alikes.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
pub const USER_CODE_LEN: usize = 8;
/// How often a device may poll (RFC 8628 §3.2 `interval`).
pub const INTERVAL_SECS: i64 = 5;
/// Wrong user codes one browser session may try per minute.
pub const GUESSES_PER_MIN_SESSION: i64 = 5;
/// Wrong user codes one address may try per minute (a household or an
/// office behind one address may have a few people typing codes at once).
pub const GUESSES_PER_MIN_ADDRESS: i64 = 20;

/// A fresh user code, normalised (no dash).
pub fn new_user_code() -> String {
    let mut rng = rand::rng();
    (0..USER_CODE_LEN).map(|_| USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())] as char).collect()
}

/// A typed user code as the store keys it: upper case, without spaces and
/// dashes; `None` when it cannot be one of ours.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    let ours = code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    ours.then_some(code)
}

/// A user code as people read it: `BCDF-GHJK`.
pub fn display(code: &str) -> String {
    match code.len() == USER_CODE_LEN && code.is_ascii() {
        true => format!("{}-{}", &code[..4], &code[4..]),
        false => code.to_string(),
    }
}

/// What a device asked for (the store keeps it as JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRequest {
    pub scopes: Vec<String>,
}

/// A user's approval, handed to the device's poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub user_id: String,
    pub scopes: Vec<String>,
    /// The consent recorded with the approval: tokens come from it.
    pub grant_id: String,
    pub auth_time: i64,
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Clone, Debug, Serialize)]
pub struct Started {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Where people enter codes: `{base}/device`.
pub fn verification_uri(base: &str) -> String {
    format!("{base}/device")
}

/// Start a device authorization for an authenticated `client`: the scopes
/// asked for (all it is registered for when none are named), and the codes.
pub async fn start(store: &dyn TokenStore, client: &Client, params: &Params, base: &str, ttl_secs: i64, now: i64) -> Result<Started> {
    if !client.allows(GrantType::DeviceCode) {
        return Err(Error::UnauthorizedClient("this client is not registered for the device grant (urn:ietf:params:oauth:grant-type:device_code)".into()));
    }
    if params.get("client_id").is_some_and(|id| id != client.client_id) {
        return Err(Error::invalid_request("client_id differs from the authenticated client"));
    }
    let scopes = scopes::resolve(params.get("scope"), &client.scopes)?;
    if scopes.is_empty() {
        return Err(Error::invalid_scope("scope is required"));
    }
    let data = serde_json::to_string(&DeviceRequest { scopes }).map_err(|e| Error::invalid_request(e.to_string()))?;
    let device_code = crate::crypto::random_token(32);
    // A collision with a live code is one in billions; draw again if it happens.
    for _ in 0..5 {
        let user_code = new_user_code();
        let rec = DeviceRecord {
            device_hash: crate::crypto::digest(&device_code),
            user_code: user_code.clone(),
            client_id: client.client_id.clone(),
            data: data.clone(),
            expires_at: now + ttl_secs,
        };
        if store.put_device(&rec).await? {
            let uri = verification_uri(base);
            let shown = display(&user_code);
            return Ok(Started {
                verification_uri_complete: format!("{uri}?user_code={shown}"),
                verification_uri: uri,
                device_code,
                user_code: shown,
                expires_in: ttl_secs,
                interval: INTERVAL_SECS,
            });
        }
    }
    Err(Error::Config("no free user code after 5 draws".into()))
}

/// A pending device authorization found by the code a user typed.
#[derive(Clone, Debug)]
pub struct Pending {
    pub record: DeviceRecord,
    pub request: DeviceRequest,
}

/// The pending authorization a typed code stands for, if any. Callers
/// bound the guesses first ([`guess_keys`], spent with `oauth::throttle`,
/// given back when the code was right: only wrong ones count).
pub async fn find(store: &dyn TokenStore, typed: &str, now: i64) -> Result<Option<Pending>> {
    let Some(code) = normalize(typed) else {
        return Ok(None);
    };
    let Some(record) = store.pending_device(&code, now).await? else {
        return Ok(None);
    };
    let request: DeviceRequest = serde_json::from_str(&record.data).map_err(|e| Error::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
    Ok(Some(Pending { record, request }))
}

/// The rate keys a wrong guess is counted under: the browser session and the address.
pub fn guess_keys(session_key: &str, address: Option<&str>) -> Vec<(String, i64)> {
    let mut keys = vec![(format!("device-guess-s:{session_key}"), GUESSES_PER_MIN_SESSION)];
    if let Some(a) = address {
        keys.push((format!("device-guess-ip:{a}"), GUESSES_PER_MIN_ADDRESS));
    }
    keys
}

/// Record the user's decision on a pending authorization, once: `false`
/// when it was decided already or expired meanwhile.
pub async fn decide(store: &dyn TokenStore, p: &Pending, approval: Option<&Approval>, now: i64) -> Result<bool> {
    let json = approval.map(serde_json::to_string).transpose().map_err(|e| Error::invalid_request(e.to_string()))?;
    Ok(store.decide_device(&p.record.device_hash, json.as_deref(), now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_unambiguous_and_forgiving() {
        for _ in 0..200 {
            let c = new_user_code();
            assert_eq!(c.len(), 8);
            assert!(c.bytes().all(|b| !b"AEIOUY01".contains(&b)), "{c}");
            assert_eq!(normalize(&display(&c)), Some(c.clone()));
            assert_eq!(normalize(&display(&c).to_lowercase().replace('-', " ")), Some(c));
        }
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
        assert_eq!(normalize("bcdf-ghjk"), Some("BCDFGHJKLM"[..8].to_string()));
        assert_eq!(normalize("BCDF-GHJ"), None, "too short");
        assert_eq!(normalize("BCDF-GHJA"), None, "a vowel is never ours");
        assert_eq!(normalize("BCDF-GHJK-L"), None, "too long");
    }

    #[test]
    fn guesses_count_per_session_and_address() {
        let k = guess_keys("s1", Some("10.0.0.1"));
        assert_eq!(k, vec![("device-guess-s:s1".to_string(), GUESSES_PER_MIN_SESSION), ("device-guess-ip:10.0.0.1".to_string(), GUESSES_PER_MIN_ADDRESS)]);
        assert_eq!(guess_keys("s1", None).len(), 1);
    }
}
