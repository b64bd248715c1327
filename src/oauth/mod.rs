//! Protocol rules: no HTTP and no app object in here. Each function gets
//! only what it needs (the issuer, the gate, the database, the token store)
//! and is unit-tested without a server. Find a rule by its file:
//!
//! | file | rule |
//! |---|---|
//! | `authorize.rs` | the authorization request, its steps and the redirect back (RFC 6749 §4.1, RFC 9207) |
//! | `pkce.rs` | PKCE challenges and verifiers (RFC 7636) |
//! | `redirect_uri.rs` | which redirect URIs may be registered and how they match |
//! | `scopes.rs` | scope syntax and subsets (RFC 6749 §3.3) |
//! | `client_auth.rs` | client authentication (RFC 6749 §2.3) |
//! | `client_assertion.rs` | `private_key_jwt` assertions and client keys (RFC 7523) |
//! | `gate.rs` | rate count, authentication and refunds of every metered request |
//! | `grants/` | one file per grant type; `user_tokens.rs`, what user grants end with |
//! | `issuer.rs` | access and ID token contents and signing, usage counts |
//! | `tokens.rs` | token claims and response shapes, the audience rule (RFC 8707) |
//! | `introspection.rs` | verifying our tokens, introspection (RFC 7662) |
//! | `revocation.rs` | revocation (RFC 7009) |
//! | `bearer.rs` | bearer tokens at our own resources (RFC 6750) |
//! | `admin.rs` | who may use the admin API (token kind, role, audience) |
//! | `userinfo.rs` | which claims a scope releases (OIDC Core §5.3) |
//! | `discovery.rs` | the metadata document (RFC 8414, OIDC Discovery) |
//! | `registration.rs` | what a client may be registered with, and who may grant what |
//! | `dynamic_registration.rs` | apps that register themselves (RFC 7591) and manage it (RFC 7592) |
//! | `origins.rs` | browser origins a single-page app may call from (CORS) |
//! | `dpop.rs` | DPoP proofs, key thumbprints and server nonces (RFC 9449) |
//! | `logout.rs` | RP-initiated and back-channel logout (OpenID Connect) |
//! | `fapi2.rs` | the FAPI 2.0 Security Profile per client (`docs/fapi2.md`) |
//! | `par.rs` | pushed authorization requests (RFC 9126) |
//! | `device.rs` | device authorization: user codes, guesses, decisions (RFC 8628) |
//! | `throttle.rs` | budgets of anonymous requests per session or address |
//! | `params.rs` | form parameters (no repeats, RFC 6749 §3.1) |
pub mod admin;
pub mod authorize;
pub mod bearer;
pub mod client_assertion;
pub mod client_auth;
pub mod device;
pub mod discovery;
pub mod fapi2;
pub mod dpop;
pub mod dynamic_registration;
pub mod gate;
pub mod grants;
pub mod introspection;
pub mod issuer;
pub mod logout;
pub mod origins;
pub mod par;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod registration;
pub mod revocation;
pub mod scopes;
pub mod throttle;
pub mod tokens;
pub mod userinfo;
