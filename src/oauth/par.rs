//! Pushed authorization requests (RFC 9126): a client sends the parameters
//! of its authorization request straight to Tessera, authenticated, and the
//! browser carries only a `request_uri` that stands for them: nothing in the
//! URL to tamper with or to leak. A pushed request is checked with the same
//! rules as `/authorize` (errors go to the client, not the browser), lives a
//! minute, and is used once.
use super::authorize::{self, Refusal};
use super::params::Params;
use crate::error::{Error, Result};
use crate::registry::clients::Client;
use crate::store::TokenStore;

/// What a `request_uri` of ours starts with.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request may wait for its browser.
pub const LIFETIME_SECS: i64 = 60;

/// Whether `client`'s authorization requests must be pushed (`--require-par`,
/// or `TESSERA_REQUIRE_PAR` for every client).
pub fn required(everyone: bool, client: &Client) -> bool {
    everyone || client.require_par || super::fapi2::requires_par(client)
}

/// An authorization-endpoint refusal as the error of the pushing request.
fn refusal_to_error(r: Refusal) -> Error {
    match r {
        Refusal::Page(m) => Error::invalid_request(m),
        Refusal::Redirect { error: "invalid_scope", description, .. } => Error::InvalidScope(description),
        Refusal::Redirect { error: "unauthorized_client", description, .. } => Error::UnauthorizedClient(description),
        Refusal::Redirect { description, .. } => Error::InvalidRequest(description),
    }
}

/// Check a pushed request of `client` (authenticated) and keep it: the
/// `request_uri` that stands for it, and its lifetime.
pub async fn push(store: &dyn TokenStore, client: &Client, mut params: Params, now: i64) -> Result<(String, i64)> {
    match params.get("client_id") {
        Some(id) if id != client.client_id => return Err(Error::invalid_request("client_id differs from the authenticated client")),
        Some(_) => {}
        None => params.set("client_id", &client.client_id),
    }
    if params.get("request_uri").is_some() {
        return Err(Error::invalid_request("a pushed request cannot itself refer to a request_uri"));
    }
    authorize::validate(Some(client.clone()), &params).map_err(refusal_to_error)?;
    let id = crate::crypto::random_token(32);
    let data = serde_json::to_string(&params).map_err(|e| Error::invalid_request(e.to_string()))?;
    store.put_pushed(&crate::crypto::digest(&id), &data, now + LIFETIME_SECS).await?;
    Ok((format!("{REQUEST_URI_PREFIX}{id}"), LIFETIME_SECS))
}

/// The pushed parameters with the key of the request's DPoP proof as
/// `dpop_jkt`; a `dpop_jkt` sent as well must name the same key.
pub fn with_proof_key(mut params: Params, proof_jkt: Option<String>) -> Result<Params> {
    match (params.get("dpop_jkt"), proof_jkt) {
        (Some(sent), Some(p)) if sent != p => Err(Error::InvalidDpopProof("dpop_jkt differs from the key of the DPoP proof".into())),
        (_, Some(p)) => {
            params.set("dpop_jkt", &p);
            Ok(params)
        }
        (_, None) => Ok(params),
    }
}

/// Why an authorization request cannot go on (shown on a page: with the
/// pushed parameters gone there is no verified redirect URI to return to).
#[derive(Debug, PartialEq, Eq)]
pub enum Unusable {
    Unknown,
    OtherClient,
    Store(String),
}

/// The parameters a `request_uri` stands for, taken once, for `client_id` only.
pub async fn take(store: &dyn TokenStore, client_id: &str, request_uri: &str, now: i64) -> std::result::Result<Params, Unusable> {
    let id = request_uri.strip_prefix(REQUEST_URI_PREFIX).ok_or(Unusable::Unknown)?;
    let data = store.take_pushed(&crate::crypto::digest(id), now).await.map_err(|e| Unusable::Store(e.to_string()))?.ok_or(Unusable::Unknown)?;
    let params: Params = serde_json::from_str(&data).map_err(|_| Unusable::Unknown)?;
    match params.get("client_id") == Some(client_id) {
        true => Ok(params),
        false => Err(Unusable::OtherClient),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::clients::{test_client, ClientType};

    #[test]
    fn refusals_become_the_clients_errors() {
        let r = Refusal::Redirect { redirect_uri: "x".into(), state: None, error: "invalid_scope", description: "no".into() };
        assert!(matches!(refusal_to_error(r), Error::InvalidScope(_)));
        assert!(matches!(refusal_to_error(Refusal::Page("bad redirect".into())), Error::InvalidRequest(_)));
        let mut c = test_client("c", ClientType::Confidential, None, "active");
        assert!(!required(false, &c) && required(true, &c));
        c.require_par = true;
        assert!(required(false, &c));
    }
}
