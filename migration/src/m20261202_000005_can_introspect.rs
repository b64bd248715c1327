use sea_orm_migration::prelude::*;

use crate::columns::{self, flag};

/// `clients.can_introspect`: whether a client may introspect tokens issued
/// to other clients (RFC 7662 §4: the caller is authorized). Without it a
/// client learns about its own tokens only.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "clients", &mut flag("can_introspect")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "can_introspect").await
    }
}
