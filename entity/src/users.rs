use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(unique)]
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    /// argon2id PHC string
    pub password_hash: String,
    /// `user`, `developer` or `admin`
    pub role: String,
    pub created_at: i64,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// Signed up as a developer; waits for an admin's approval.
    pub developer_requested: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
