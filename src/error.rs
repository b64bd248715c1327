//! # Errors
//!
//! Tessera has one error type per layer, and errors only travel upwards:
//!
//! * [`crate::store::StoreError`]: the token store (Redis or SQL) failed.
//! * [`crate::keys::KeyError`]: a signing key could not be made, sealed or opened.
//! * [`Error`] (this file): the domain. Every protocol rule in `oauth/` and every
//!   management operation in `registry/` answers with it. Its variants are
//!   the RFC 6749 §5.2 and RFC 6750 §3.1 error codes plus the few things
//!   that are not the client's fault (storage, keys, configuration).
//! * [`crate::http::error::OAuthError`]: the HTTP edge. It is built from an
//!   [`Error`] by one `From` impl, which decides the status code and the
//!   `WWW-Authenticate` header; handlers never pick a status themselves.
//!   Storage that cannot be reached is a 503 and a client over its limit a
//!   429 with the rate headers, on every endpoint alike.
//!
//! Descriptions are written for the developer reading the JSON and never
//! contain a secret or a token. Failures of storage say "temporarily
//! unavailable" and log the cause on the server side only.
use crate::keys::KeyError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RFC 6749 `invalid_request`: malformed, missing or duplicated parameter.
    #[error("{0}")]
    InvalidRequest(String),
    /// RFC 6749 `invalid_client`. `basic` is true when the client tried HTTP
    /// Basic, which makes the answer a 401 with `WWW-Authenticate`.
    #[error("{reason}")]
    InvalidClient { basic: bool, reason: &'static str },
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    /// RFC 8707 `invalid_target`: the requested resource/audience is not allowed.
    #[error("{0}")]
    InvalidTarget(String),
    #[error("{0}")]
    AccessDenied(String),
    /// RFC 7591 §3.2.2: a redirect URI a registering client sent is not acceptable.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// RFC 7591 §3.2.2: other client metadata is not acceptable.
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// RFC 9449 §7.1: a DPoP proof that is missing parts, stale, replayed or not for this request.
    #[error("{0}")]
    InvalidDpopProof(String),
    /// RFC 9449 §8: retry with the server's nonce (in `DPoP-Nonce`).
    #[error("send the DPoP proof again with the nonce of the DPoP-Nonce header")]
    UseDpopNonce,
    /// RFC 8628 §3.5: the user has not decided yet.
    #[error("the user has not yet approved or denied the request")]
    AuthorizationPending,
    /// RFC 8628 §3.5: the user denied the device (400 at the token endpoint,
    /// unlike [`Error::AccessDenied`], a refused action of a signed-in user).
    #[error("the user denied the request")]
    DeviceDenied,
    /// RFC 8628 §3.5: polling faster than the interval.
    #[error("polling too fast: wait at least 5 seconds more between polls")]
    SlowDown,
    /// RFC 8628 §3.5: the device code's lifetime is over.
    #[error("the device_code has expired; start again")]
    ExpiredToken,
    #[error("{0}")]
    UnsupportedTokenType(String),
    /// RFC 6750 §3.1 `invalid_token`: a bearer token that is malformed,
    /// expired, revoked, or whose client or user is gone.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// RFC 6750 §3.1 `insufficient_scope`: the bearer token lacks this scope.
    #[error("the token lacks the {0} scope")]
    InsufficientScope(&'static str),
    /// Management input that breaks a rule (bad redirect URI, unknown scope …).
    #[error("{0}")]
    Validation(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The client is over its rate limit.
    #[error("rate limit of {} per minute exceeded; retry in {} s", .0.limit, .0.retry_after_secs)]
    RateLimited(crate::rate_limit::Decision),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("token store: {0}")]
    Store(#[from] StoreError),
    #[error("signing keys: {0}")]
    Key(#[from] KeyError),
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    pub fn invalid_request(msg: impl Into<String>) -> Self {
        Error::InvalidRequest(msg.into())
    }
    pub fn invalid_grant(msg: impl Into<String>) -> Self {
        Error::InvalidGrant(msg.into())
    }
    pub fn invalid_scope(msg: impl Into<String>) -> Self {
        Error::InvalidScope(msg.into())
    }
    pub fn validation(msg: impl Into<String>) -> Self {
        Error::Validation(msg.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
