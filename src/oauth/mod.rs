//! Protocol rules as plain functions: no HTTP in here. Handlers in
//! `crate::http` parse a request into these types and render what they return.
pub mod authorize;
pub mod client_auth;
pub mod grants;
pub mod introspection;
pub mod params;
pub mod pkce;
pub mod rate_limit;
pub mod redirect_uri;
pub mod revocation;
pub mod scopes;
pub mod tokens;
pub mod userinfo;
