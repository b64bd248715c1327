use sea_orm_migration::prelude::*;

use crate::columns::{self, flag};

/// `users.disabled`: a disabled account cannot sign in; disabling it ends
/// its sessions and revokes its tokens.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "users", &mut flag("disabled")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "users", "disabled").await
    }
}
