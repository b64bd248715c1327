use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub name: String,
    pub description: String,
    /// `confidential` or `public`
    pub client_type: String,
    /// hex SHA-256 of the secret; `None` for public clients
    pub secret_hash: Option<String>,
    pub redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    /// `active` or `suspended`
    pub status: String,
    pub owner_user_id: Option<String>,
    pub tier: String,
    pub rate_limit: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub secret_rotated_at: Option<i64>,
    /// Why an admin suspended the client; while set, only an admin lifts it.
    pub admin_hold: Option<String>,
    /// May introspect tokens issued to other clients (a resource server).
    pub can_introspect: bool,
    /// A legacy confidential client that cannot send PKCE (RFC 9700 §2.1.1 advises against).
    pub pkce_optional: bool,
    /// Self-registered with scopes not open to machines: no client_credentials token until an admin approves.
    pub machine_pending: bool,
    /// The secret before the last rotation, valid until `previous_secret_expires_at` (a grace period).
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    /// Browser origins (space-separated) allowed to call the token, revocation and userinfo endpoints.
    pub allowed_origins: String,
    /// Its authorization requests must be pushed (RFC 9126).
    pub require_par: bool,
    /// Dynamically registered (RFC 7591): hex SHA-256 of its registration access token (RFC 7592).
    pub registration_token_hash: Option<String>,
    /// Dynamically registered: the metadata it registered that has no column (JSON).
    pub registered_metadata: Option<String>,
    /// `private_key_jwt` (RFC 7523); `None`: a secret (confidential) or nothing (public).
    pub auth_method: Option<String>,
    /// The client's public keys (a JWK Set, JSON), for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Where the client publishes its public keys, for `private_key_jwt`.
    pub jwks_uri: Option<String>,
    /// Its access tokens are always DPoP-bound (RFC 9449 `dpop_bound_access_tokens`).
    pub require_dpop: bool,
    /// Where RP-initiated logout may send the browser back (space-separated, exact match).
    pub post_logout_redirect_uris: String,
    /// Where logout tokens are POSTed (Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// A security profile it is held to: `fapi2`, or none.
    pub profile: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
