use sea_orm_migration::prelude::*;

use crate::columns::{self, name as s};

/// `login_failures`: the embedded store's login lockout, one row per name
/// typed at a login (an account's or not, so a lock reveals nothing). It
/// replaces `users.failed_logins` and `users.locked_until`, which only
/// accounts had.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(s("login_failures"))
                .if_not_exists()
                .col(ColumnDef::new(s("name")).string_len(256).not_null().primary_key())
                .col(ColumnDef::new(s("failures")).big_integer().not_null())
                .col(ColumnDef::new(s("locked_until")).big_integer().not_null())
                .col(ColumnDef::new(s("forget_at")).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        columns::drop(m, "users", "failed_logins").await?;
        columns::drop(m, "users", "locked_until").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::add(m, "users", ColumnDef::new(s("failed_logins")).integer().not_null().default(0)).await?;
        columns::add(m, "users", ColumnDef::new(s("locked_until")).big_integer().null()).await?;
        m.drop_table(Table::drop().table(s("login_failures")).to_owned()).await
    }
}
