use sea_orm_migration::prelude::*;

use crate::columns::{self, name as s};

/// `clients.profile`: a security profile the client is held to
/// (`fapi2`: the FAPI 2.0 Security Profile), or none.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "clients", ColumnDef::new(s("profile")).string_len(16).null()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "profile").await
    }
}
