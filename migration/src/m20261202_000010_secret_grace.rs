use sea_orm_migration::prelude::*;

/// A rotated secret may stay valid for a grace period, so that running
/// instances of an app can move to the new one without an outage:
/// `clients.previous_secret_hash` until `clients.previous_secret_expires_at`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Alias::new("clients")).add_column(ColumnDef::new(Alias::new("previous_secret_hash")).string_len(64).null()).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .add_column(ColumnDef::new(Alias::new("previous_secret_expires_at")).big_integer().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("clients")).drop_column(Alias::new("previous_secret_expires_at")).to_owned()).await?;
        m.alter_table(Table::alter().table(Alias::new("clients")).drop_column(Alias::new("previous_secret_hash")).to_owned()).await
    }
}
