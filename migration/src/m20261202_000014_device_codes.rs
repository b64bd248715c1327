use sea_orm_migration::prelude::*;

use crate::columns::name as s;

/// Device authorizations (RFC 8628) of the embedded token store: by the
/// SHA-256 of the `device_code`, with the `user_code` a person types
/// (unique while it lives), the decision and the last poll.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(s("device_codes"))
                .if_not_exists()
                .col(ColumnDef::new(s("device_hash")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("user_code")).string_len(16).not_null().unique_key())
                .col(ColumnDef::new(s("client_id")).string().not_null())
                .col(ColumnDef::new(s("data")).text().not_null())
                .col(ColumnDef::new(s("status")).string_len(16).not_null())
                .col(ColumnDef::new(s("decision")).text().null())
                .col(ColumnDef::new(s("last_poll")).big_integer().not_null().default(0))
                .col(ColumnDef::new(s("expires_at")).big_integer().not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(s("device_codes")).to_owned()).await
    }
}
