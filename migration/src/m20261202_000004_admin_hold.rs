use sea_orm_migration::prelude::*;

/// `clients.admin_hold`: why an admin suspended the client. While it is
/// set, only an admin can reactivate the client; its developer sees the
/// reason in the portal.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("clients")).add_column(ColumnDef::new(Alias::new("admin_hold")).text().null()).to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("clients")).drop_column(Alias::new("admin_hold")).to_owned()).await
    }
}
