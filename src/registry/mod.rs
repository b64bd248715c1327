//! What the admin and the developers manage, and the SQL behind it: clients
//! (registered apps), users, consents (a user's grant of scopes to a client),
//! the scope catalogue and the audit trail. The CLI, the portal, the admin
//! console and its API all call these functions, so a rule such as "a
//! suspended client's tokens stop working" lives in one place.
pub mod audit;
pub mod catalogue;
pub mod clients;
pub mod consents;
pub mod grant_types;
pub mod registration_tokens;
pub mod usage;
pub mod users;
