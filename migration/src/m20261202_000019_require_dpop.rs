use sea_orm_migration::prelude::*;

use crate::columns;

/// `clients.require_dpop`: the client's access tokens are always
/// DPoP-bound (RFC 9449 `dpop_bound_access_tokens`); a token request
/// without a proof is refused.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "clients", &mut columns::flag("require_dpop")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "require_dpop").await
    }
}
