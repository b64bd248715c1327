use sea_orm_migration::prelude::*;

use crate::columns;

/// A rotated secret may stay valid for a grace period, so that running
/// instances of an app can move to the new one without an outage:
/// `clients.previous_secret_hash` until `clients.previous_secret_expires_at`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "clients", ColumnDef::new(columns::name("previous_secret_hash")).string_len(64).null()).await?;
        columns::add(m, "clients", ColumnDef::new(columns::name("previous_secret_expires_at")).big_integer().null()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "previous_secret_expires_at").await?;
        columns::drop(m, "clients", "previous_secret_hash").await
    }
}
