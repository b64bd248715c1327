use sea_orm::entity::prelude::*;

/// Embedded token store: the login lockout of one name typed at a login.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_failures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Consecutive failures.
    pub failures: i64,
    /// Locked until this time (0: not locked).
    pub locked_until: i64,
    /// The failures are forgotten after this time without another.
    pub forget_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
