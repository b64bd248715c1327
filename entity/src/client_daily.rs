use sea_orm::entity::prelude::*;

/// Per client and day (Unix day number): tokens issued and requests refused
/// by the rate limit (429), for the charts of the portal and the console.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: i64,
    pub tokens: i64,
    pub limited: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
