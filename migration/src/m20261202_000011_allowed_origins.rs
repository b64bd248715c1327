use sea_orm_migration::prelude::*;

use crate::columns;

/// `clients.allowed_origins`: the browser origins (space-separated) a
/// single-page app calls the token, revocation and userinfo endpoints from
/// (CORS). Empty: none.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "clients", ColumnDef::new(columns::name("allowed_origins")).text().not_null().default("")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "allowed_origins").await
    }
}
