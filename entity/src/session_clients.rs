use sea_orm::entity::prelude::*;

/// Embedded token store: the clients a browser session signed in to (for
/// back-channel logout), by the SHA-256 of the session id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session_clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
