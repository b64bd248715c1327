use sea_orm_migration::prelude::*;

use crate::columns::{self, flag};

/// `clients.pkce_optional`: PKCE is required of every client (RFC 9700
/// §2.1.1) unless a legacy confidential client is registered as unable to
/// send it.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "clients", &mut flag("pkce_optional")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "pkce_optional").await
    }
}
