//! The token endpoint's grants (RFC 6749 §4, §6), one file each. [`token`]
//! checks that the client may use the grant and dispatches; every
//! user-facing grant ends in [`user_tokens::issue`].
//!
//! Each grant gets only what it needs: the [`Issuer`] that signs, and for
//! grants that touch state the database and the token store ([`Stores`]);
//! never the whole server.
pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod password;
pub mod refresh_token;
pub mod user_tokens;

use crate::db::Db;

use super::issuer::Issuer;
use super::params::Params;
use super::tokens::TokenResponse;
use crate::error::{Error, Result};
use crate::registry::clients::Client;
use crate::registry::consents::{Epochs, GrantCache};
use crate::registry::grant_types::GrantType;
use crate::store::{RefreshState, TokenStore};

pub use user_tokens::FamilyData;

/// The state a grant reads and writes: the registry's database, the token
/// store, and this instance's cache of grants.
#[derive(Clone, Copy)]
pub struct Stores<'a> {
    pub db: &'a Db,
    pub store: &'a dyn TokenStore,
    pub grants: &'a GrantCache,
}

/// What the token endpoint's store round already read for the grant.
#[derive(Debug, Default)]
pub struct Read {
    /// The presented refresh token, if the request is a refresh.
    pub refresh: Option<RefreshState>,
    /// The epochs a cached grant must match.
    pub epochs: Option<Epochs>,
}

/// A token request (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6): its grant type and parameters.
#[derive(Debug)]
pub struct TokenRequest {
    pub grant_type: GrantType,
    pub params: Params,
    /// The thumbprint of the key of a verified DPoP proof (RFC 9449), if one came.
    pub dpop_jkt: Option<String>,
    /// That proof's signing algorithm.
    pub dpop_alg: Option<String>,
}

impl TokenRequest {
    /// The request's grant type must be one this server supports.
    pub fn parse(params: Params) -> Result<TokenRequest> {
        let name = params.require("grant_type")?;
        let grant_type = GrantType::parse(name).map_err(Error::UnsupportedGrantType)?;
        Ok(TokenRequest { grant_type, params, dpop_jkt: None, dpop_alg: None })
    }

    /// The store key of the refresh token a refresh request presents, so that
    /// the endpoint can read it in its first round trip.
    pub fn presented_refresh_hash(&self) -> Option<String> {
        (self.grant_type == GrantType::RefreshToken).then(|| self.params.get("refresh_token")).flatten().map(crate::store::refresh_handle)
    }

    /// Whether the grant checks that the user's consent still stands (and
    /// so needs the grants epoch from the store round).
    pub fn checks_consent(&self) -> bool {
        matches!(self.grant_type, GrantType::RefreshToken | GrantType::AuthorizationCode | GrantType::DeviceCode)
    }
}

/// Run the grant for an authenticated client, with what the store round read.
pub async fn token(s: Stores<'_>, issuer: &Issuer, client: &Client, req: &TokenRequest, read: Read) -> Result<TokenResponse> {
    let g = req.grant_type;
    if !client.allows(g) {
        return Err(Error::UnauthorizedClient(format!("this client may not use {g}")));
    }
    if super::fapi2::requires_dpop(client) && req.dpop_jkt.is_none() {
        let who = if client.fapi2() { "FAPI 2.0 profile: this client's" } else { "this client's" };
        return Err(Error::invalid_request(format!("{who} tokens are DPoP-bound: send a DPoP proof (RFC 9449)")));
    }
    if req.dpop_alg.as_deref().is_some_and(|a| !super::fapi2::alg_allowed(client, a)) {
        return Err(Error::InvalidDpopProof(format!("FAPI 2.0 profile: sign DPoP proofs with {}", super::fapi2::ALGS.join(", "))));
    }
    let (p, jkt) = (&req.params, req.dpop_jkt.as_deref());
    let resp = match g {
        GrantType::ClientCredentials => client_credentials::exchange(issuer, client, p, jkt),
        GrantType::AuthorizationCode => authorization_code::exchange(s, issuer, client, p, read.epochs.as_ref(), jkt).await,
        GrantType::RefreshToken => refresh_token::exchange(s, issuer, client, p, read, jkt).await,
        GrantType::Password => password::exchange(s, issuer, client, p, jkt).await,
        GrantType::DeviceCode => device_code::exchange(s, issuer, client, p, read.epochs.as_ref(), jkt).await,
    }?;
    crate::metrics::METRICS.token_issued(g);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_request() {
        let r = TokenRequest::parse(Params::from_pairs([("grant_type", "refresh_token"), ("refresh_token", "abc")])).unwrap();
        assert_eq!(r.grant_type, GrantType::RefreshToken);
        assert_eq!(r.presented_refresh_hash(), Some(crate::crypto::digest("abc")));
        let r = TokenRequest::parse(Params::from_pairs([("grant_type", "client_credentials"), ("refresh_token", "abc")])).unwrap();
        assert_eq!(r.presented_refresh_hash(), None);
        assert!(!r.checks_consent(), "client_credentials has no user's consent to check");
        assert!(TokenRequest::parse(Params::from_pairs([("grant_type", "authorization_code")])).unwrap().checks_consent());
        assert!(matches!(TokenRequest::parse(Params::from_pairs([("grant_type", "implicit")])), Err(Error::UnsupportedGrantType(m)) if m.contains("RFC 9700")));
        assert!(matches!(TokenRequest::parse(Params::default()), Err(Error::InvalidRequest(_))));
    }
}
