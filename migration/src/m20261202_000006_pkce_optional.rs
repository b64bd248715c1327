use sea_orm_migration::prelude::*;

/// `clients.pkce_optional`: PKCE is required of every client (RFC 9700
/// §2.1.1) unless a legacy confidential client is registered as unable to
/// send it.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .add_column(ColumnDef::new(Alias::new("pkce_optional")).boolean().not_null().default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("clients")).drop_column(Alias::new("pkce_optional")).to_owned()).await
    }
}
