use sea_orm::entity::prelude::*;

/// Embedded token store: device authorizations (RFC 8628), by the SHA-256
/// of their `device_code`, found by their `user_code`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "device_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub device_hash: String,
    #[sea_orm(unique)]
    pub user_code: String,
    pub client_id: String,
    pub data: String,
    /// `pending`, `approved`, `denied` or `issued`.
    pub status: String,
    /// The approval handed out to the device's poll (JSON), once approved.
    pub decision: Option<String>,
    /// When the device last polled (0: never).
    pub last_poll: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
