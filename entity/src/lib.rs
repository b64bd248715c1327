//! sea-orm entities: one file per table.
//!
//! Times are stored as Unix seconds (`i64`) so that SQLite and PostgreSQL
//! compare them the same way; lists (scopes, grant types, redirect URIs) are
//! stored space-separated, since none of their members may contain a space.
pub mod audit_events;
pub mod client_daily;
pub mod auth_codes;
pub mod client_usage;
pub mod clients;
pub mod denylist;
pub mod device_codes;
pub mod grants;
pub mod login_failures;
pub mod pushed_requests;
pub mod rate_counters;
pub mod refresh_tokens;
pub mod registration_tokens;
pub mod scopes;
pub mod seen_once;
pub mod session_clients;
pub mod sessions;
pub mod signing_keys;
pub mod users;
