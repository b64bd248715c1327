use sea_orm_migration::prelude::*;

use crate::columns::{self, flag};

/// Self-service machine tokens wait for an admin:
/// * `scopes.machine_open`: a scope any app may get without a user (through
///   client_credentials) without an admin's approval; off by default.
/// * `clients.machine_pending`: a self-registered app asked for a scope that
///   is not open for client_credentials; it gets no machine token until an
///   admin approves it.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "scopes", &mut flag("machine_open")).await?;
        columns::add(m, "clients", &mut flag("machine_pending")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "machine_pending").await?;
        columns::drop(m, "scopes", "machine_open").await
    }
}
