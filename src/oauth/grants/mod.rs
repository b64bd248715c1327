//! The token endpoint's grants, one file each. [`token`] authenticates the
//! client, checks it may use the grant, and dispatches.
pub mod client_credentials;

use crate::app::Tessera;
use crate::error::{Error, Result};
use crate::oauth::params::Params;
use crate::oauth::tokens::TokenResponse;

pub const SUPPORTED: &[&str] = &["client_credentials"];

pub async fn token(t: &Tessera, authorization: Option<&str>, params: &Params) -> Result<TokenResponse> {
    let grant_type = params.require("grant_type")?;
    if !SUPPORTED.contains(&grant_type) {
        return Err(Error::UnsupportedGrantType(grant_type.to_string()));
    }
    let client = t.authenticate_client(authorization, params).await?;
    if !client.allows_grant(grant_type) {
        return Err(Error::UnauthorizedClient(format!("this client may not use {grant_type}")));
    }
    match grant_type {
        "client_credentials" => client_credentials::exchange(t, &client, params).await,
        other => Err(Error::UnsupportedGrantType(other.to_string())),
    }
}
