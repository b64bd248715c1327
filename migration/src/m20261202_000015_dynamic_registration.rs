use sea_orm_migration::prelude::*;

use crate::columns::{self, name as s};

/// Dynamic client registration (RFC 7591/7592): initial access tokens
/// (`registration_tokens`, by the SHA-256 of the token, with a number of
/// uses and an expiry), and on `clients` the SHA-256 of a dynamically
/// registered client's registration access token and the metadata it
/// registered that has no column of its own.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(s("registration_tokens"))
                .if_not_exists()
                .col(ColumnDef::new(s("token_hash")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("uses_left")).big_integer().not_null())
                .col(ColumnDef::new(s("expires_at")).big_integer().not_null())
                .col(ColumnDef::new(s("created_by")).string().null())
                .col(ColumnDef::new(s("created_at")).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        columns::add(m, "clients", ColumnDef::new(s("registration_token_hash")).string_len(64).null()).await?;
        columns::add(m, "clients", ColumnDef::new(s("registered_metadata")).text().null()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "registered_metadata").await?;
        columns::drop(m, "clients", "registration_token_hash").await?;
        m.drop_table(Table::drop().table(s("registration_tokens")).to_owned()).await
    }
}
