use sea_orm_migration::prelude::*;

/// Pushed authorization requests (RFC 9126) of the embedded token store:
/// the parameters a client pushed, by the SHA-256 of their `request_uri`,
/// single use, for a minute. And `clients.require_par`: a client whose
/// authorization requests must be pushed.
#[derive(DeriveMigrationName)]
pub struct Migration;

fn s(name: &str) -> Alias {
    Alias::new(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(s("pushed_requests"))
                .if_not_exists()
                .col(ColumnDef::new(s("id_hash")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("data")).text().not_null())
                .col(ColumnDef::new(s("expires_at")).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table(s("clients")).add_column(ColumnDef::new(s("require_par")).boolean().not_null().default(false)).to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(s("clients")).drop_column(s("require_par")).to_owned()).await?;
        m.drop_table(Table::drop().table(s("pushed_requests")).to_owned()).await
    }
}
