use sea_orm_migration::prelude::*;

/// Self-service machine tokens wait for an admin:
/// * `scopes.machine_open`: a scope any app may get without a user (through
///   client_credentials) without an admin's approval; off by default.
/// * `clients.machine_pending`: a self-registered app asked for a scope that
///   is not open for client_credentials; it gets no machine token until an
///   admin approves it.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("scopes"))
                .add_column(ColumnDef::new(Alias::new("machine_open")).boolean().not_null().default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .add_column(ColumnDef::new(Alias::new("machine_pending")).boolean().not_null().default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("clients")).drop_column(Alias::new("machine_pending")).to_owned()).await?;
        m.alter_table(Table::alter().table(Alias::new("scopes")).drop_column(Alias::new("machine_open")).to_owned()).await
    }
}
