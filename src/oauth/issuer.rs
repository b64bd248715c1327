//! The issuer: signs access tokens (RFC 9068) and ID tokens (OpenID Connect
//! Core §2) with the current keys, and counts tokens issued per client.
//!
//! Every grant ends here, so the shape of a token is decided in one file.
//! Usage is counted in memory (`registry::usage::Tally`) and written on the
//! background tick, which keeps a store write off the token endpoint's hot path.
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::Result;
use crate::keys::{KeyManager, KeyRing, TokenType};
use crate::oauth::tokens::AccessClaims;
use crate::store::TokenStore;

/// OpenID Connect ID token claims (Core §2, §3.1.3.6).
#[derive(Debug, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub at_hash: String,
    /// The session the user signed in with (Back-Channel Logout 1.0 §2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// `at_hash`: base64url of the left half of SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let d = sha2::Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d[..16])
}

/// What an access token is for: whom, which client, which audience, which scopes.
pub struct AccessGrant<'a> {
    pub sub: &'a str,
    pub client_id: &'a str,
    pub aud: &'a str,
    pub scope: &'a str,
    pub auth_time: Option<i64>,
    /// The DPoP key's thumbprint to bind the token to.
    pub jkt: Option<&'a str>,
}

pub struct Issuer {
    issuer: String,
    access_ttl: i64,
    refresh_ttl: i64,
    default_audience: String,
    audiences: Vec<String>,
    keys: Arc<KeyManager>,
    store: Arc<dyn TokenStore>,
    /// Counts tokens per client (written on the background tick).
    tally: Arc<crate::registry::usage::Tally>,
}

impl Issuer {
    pub fn new(cfg: &Config, keys: Arc<KeyManager>, store: Arc<dyn TokenStore>, tally: Arc<crate::registry::usage::Tally>) -> Issuer {
        Issuer {
            issuer: cfg.issuer.clone(),
            access_ttl: cfg.access_token_ttl.as_secs() as i64,
            refresh_ttl: cfg.refresh_token_ttl.as_secs() as i64,
            default_audience: cfg.default_audience.clone(),
            audiences: cfg.audiences.clone(),
            keys,
            store,
            tally,
        }
    }

    /// The issuer identifier (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The keys that verify our own tokens right now.
    pub fn ring(&self) -> Arc<KeyRing> {
        self.keys.ring()
    }

    pub fn default_audience(&self) -> &str {
        &self.default_audience
    }

    /// Audiences a client may ask for with `resource` or `audience` (RFC 8707).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// When an access token issued at `iat` expires.
    pub fn access_expiry(&self, iat: i64) -> i64 {
        iat + self.access_ttl
    }

    /// When a refresh token issued at `now` expires.
    pub fn refresh_expiry(&self, now: i64) -> i64 {
        now + self.refresh_ttl
    }

    /// Sign an RFC 9068 access token with the current key; `preset`: its
    /// `jti` and `iat` when they were fixed beforehand (a code exchange
    /// records them with the redemption).
    pub fn access_token(&self, g: AccessGrant<'_>, preset: Option<(&str, i64)>) -> Result<(String, AccessClaims)> {
        let (jti, now) = match preset {
            Some((jti, iat)) => (jti.to_string(), iat),
            None => (crate::crypto::new_jti(), crate::db::now()),
        };
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: g.sub.to_string(),
            aud: g.aud.to_string(),
            exp: self.access_expiry(now),
            iat: now,
            jti,
            client_id: g.client_id.to_string(),
            scope: g.scope.to_string(),
            auth_time: g.auth_time,
            cnf: g.jkt.map(|j| crate::oauth::tokens::Cnf { jkt: j.to_string() }),
        };
        let jwt = self.keys.ring().signer.sign(TokenType::AccessToken, &claims)?;
        self.note_issued(g.client_id);
        Ok((jwt, claims))
    }

    /// Sign an ID token for the access token `access` (its `at_hash`).
    pub fn id_token(&self, access: &AccessClaims, access_token: &str, auth_time: i64, nonce: Option<&str>, sid: Option<&str>) -> Result<String> {
        let idc = IdClaims {
            iss: self.issuer.clone(),
            sub: access.sub.clone(),
            aud: access.client_id.clone(),
            exp: access.exp,
            iat: access.iat,
            auth_time,
            nonce: nonce.map(str::to_string),
            at_hash: at_hash(access_token),
            sid: sid.map(str::to_string),
        };
        Ok(self.keys.ring().id_signer.sign(TokenType::IdToken, &idc)?)
    }

    fn note_issued(&self, client_id: &str) {
        self.tally.token(client_id);
    }

    /// Tokens issued to a client: the store's count plus this instance's unwritten ones.
    pub async fn usage(&self, client_id: &str) -> Result<i64> {
        Ok(self.store.usage(client_id).await? + self.tally.unwritten_total(client_id))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn at_hash_is_left_half_base64url() {
        // OpenID Connect Core example value for "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        assert_eq!(super::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
