use sea_orm_migration::prelude::*;

use crate::columns::{self, name as s};

/// Pushed authorization requests (RFC 9126) of the embedded token store:
/// the parameters a client pushed, by the SHA-256 of their `request_uri`,
/// single use, for a minute. And `clients.require_par`: a client whose
/// authorization requests must be pushed.
#[derive(DeriveMigrationName)]
pub struct Migration;

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
        columns::add(m, "clients", &mut columns::flag("require_par")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "require_par").await?;
        m.drop_table(Table::drop().table(s("pushed_requests")).to_owned()).await
    }
}
