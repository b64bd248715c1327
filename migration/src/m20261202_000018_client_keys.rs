use sea_orm_migration::prelude::*;

use crate::columns::{self, name as s};

/// Clients that authenticate with a signed assertion (`private_key_jwt`,
/// RFC 7523): `clients.auth_method`, and their public keys inline
/// (`clients.jwks`) or by URL (`clients.jwks_uri`). And `seen_once`, the
/// embedded store's memory of single-use identifiers (assertion and DPoP
/// proof `jti`s) until they expire.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(s("seen_once"))
                .if_not_exists()
                .col(ColumnDef::new(s("key")).string_len(255).not_null().primary_key())
                .col(ColumnDef::new(s("expires_at")).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        columns::add(m, "clients", ColumnDef::new(s("auth_method")).string_len(32).null()).await?;
        columns::add(m, "clients", ColumnDef::new(s("jwks")).text().null()).await?;
        columns::add(m, "clients", ColumnDef::new(s("jwks_uri")).text().null()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "jwks_uri").await?;
        columns::drop(m, "clients", "jwks").await?;
        columns::drop(m, "clients", "auth_method").await?;
        m.drop_table(Table::drop().table(s("seen_once")).to_owned()).await
    }
}
