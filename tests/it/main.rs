//! Tessera's integration tests: ONE test binary (linking one binary per file
//! costs minutes on two cores), one module per capability. Each test runs
//! the real HTTP server against the embedded default (SQLite + SQL token
//! store) and against PostgreSQL + Redis, which `scripts/test.sh` starts.
mod support;

mod accounts;
mod admin_api;
mod audit;
mod authorize;
mod cli;
mod cluster;
mod credentials;
mod client_credentials;
mod client_pages;
mod cors;
mod device;
mod discovery;
mod dpop;
mod dynamic_registration;
mod e2e;
mod edge;
mod fapi2;
mod fail_fast;
mod faults;
mod keys;
mod layers;
mod login_throttle;
mod migrations;
mod logout;
mod multi_instance;
mod oidc_client;
mod packaging;
mod par;
mod password_grant;
mod private_key_jwt;
mod rate_limits;
#[path = "../../examples/resource_server.rs"]
mod resource_server;
mod revocation;
mod rotation;
mod schemathesis;
mod secrets;
mod sentinel;
mod sessions;
mod soak;
mod store;
mod tls;
mod web;
