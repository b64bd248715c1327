//! Tessera: an OAuth 2.0 / OpenID Connect authorization server.
//!
//! Data flows one way: `http` (actix handlers) → `oauth` (protocol rules,
//! plain functions) → `clients`, `keys`, `store`, `db` (state).
pub mod app;
pub mod audit;
pub mod catalogue;
pub mod cli;
pub mod clients;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod oauth;
pub mod session;
pub mod store;
pub mod users;
pub mod grants;
