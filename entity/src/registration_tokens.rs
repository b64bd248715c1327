use sea_orm::entity::prelude::*;

/// Initial access tokens for dynamic client registration (RFC 7591 §3):
/// by the SHA-256 of the token, each good for `uses_left` registrations
/// until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registration_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub uses_left: i64,
    pub expires_at: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
