//! Tessera: an OAuth 2.0 / OpenID Connect authorization server.
//!
//! Modules are layered, and a module imports only from its own layer or the
//! ones below it (`tests/it/layers.rs` enforces it, and refuses import
//! cycles). From the bottom up:
//!
//! 1. helpers: `crypto`, `epoch_cache`, `histogram`, `logctx`, `net`, `outbound`, `rate_limit`
//! 2. storage: `db` (connections, migrations), `store` (the token store)
//! 3. registry: `registry` (clients, users, consents, scopes, audit), `keys`,
//!    `config`, `error`, `session`, `metrics`
//! 4. protocol rules: `oauth` (no HTTP, no app object)
//! 5. wiring: `app`
//! 6. the HTTP edge: `http`
//! 7. the command line: `cli`
pub mod crypto;
pub mod epoch_cache;
pub mod histogram;
pub mod logctx;
pub mod net;
pub mod outbound;
pub mod rate_limit;

pub mod db;
pub mod store;

pub mod config;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod registry;
pub mod session;

pub mod oauth;

pub mod app;

pub mod http;

pub mod cli;
