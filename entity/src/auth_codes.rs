use sea_orm::entity::prelude::*;

/// Embedded token store: authorization codes (by SHA-256), single use.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    /// JSON of the code's binding (client, redirect URI, PKCE, user, scopes)
    pub data: String,
    pub expires_at: i64,
    /// set when redeemed; a second redemption is a replay
    pub used: bool,
    /// JSON of what was issued from the code (family, access jti), revoked on replay
    pub issued: Option<String>,
    /// set by a second redemption (see `TokenStore::seal_code_family`)
    pub replayed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
