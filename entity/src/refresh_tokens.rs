use sea_orm::entity::prelude::*;

/// Embedded token store: refresh tokens (by SHA-256), grouped in families.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    /// JSON of the token's record (scopes, auth_time, …)
    pub data: String,
    /// set when rotated; presenting a used token revokes the family
    pub used: bool,
    pub revoked: bool,
    pub expires_at: i64,
    /// the access token issued with this refresh token, denylisted if the family is revoked
    pub access_jti: String,
    pub access_exp: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
