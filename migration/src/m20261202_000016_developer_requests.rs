use sea_orm_migration::prelude::*;

use crate::columns;

/// `users.developer_requested`: the account signed up as a developer and
/// waits for an admin's approval (`TESSERA_DEVELOPER_SIGNUP=approval`).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "users", &mut columns::flag("developer_requested")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "users", "developer_requested").await
    }
}
