use sea_orm_migration::prelude::*;

use crate::columns;

/// `clients.admin_hold`: why an admin suspended the client. While it is
/// set, only an admin can reactivate the client; its developer sees the
/// reason in the portal.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "clients", ColumnDef::new(columns::name("admin_hold")).text().null()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "admin_hold").await
    }
}
