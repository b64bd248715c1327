use sea_orm_migration::prelude::*;

use crate::columns::name as s;

/// `client_daily`: tokens issued and rate-limit refusals per client and day,
/// for the charts of the developer portal and the admin console.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(s("client_daily"))
                .if_not_exists()
                .col(ColumnDef::new(s("client_id")).string().not_null())
                .col(ColumnDef::new(s("day")).big_integer().not_null())
                .col(ColumnDef::new(s("tokens")).big_integer().not_null().default(0))
                .col(ColumnDef::new(s("limited")).big_integer().not_null().default(0))
                .primary_key(Index::create().col(s("client_id")).col(s("day")))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(s("client_daily")).to_owned()).await
    }
}
