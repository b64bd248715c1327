use sea_orm_migration::prelude::*;

use crate::columns::{self, name as s};

/// Logout (OpenID Connect RP-Initiated and Back-Channel Logout 1.0): a
/// client's `post_logout_redirect_uris` and `backchannel_logout_uri`, and
/// `session_clients`, the clients each browser session signed in to.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(s("session_clients"))
                .if_not_exists()
                .col(ColumnDef::new(s("id_hash")).string_len(64).not_null())
                .col(ColumnDef::new(s("client_id")).string().not_null())
                .col(ColumnDef::new(s("expires_at")).big_integer().not_null())
                .primary_key(Index::create().col(s("id_hash")).col(s("client_id")))
                .to_owned(),
        )
        .await?;
        columns::add(m, "clients", ColumnDef::new(s("post_logout_redirect_uris")).text().not_null().default("")).await?;
        columns::add(m, "clients", ColumnDef::new(s("backchannel_logout_uri")).text().null()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop(m, "clients", "backchannel_logout_uri").await?;
        columns::drop(m, "clients", "post_logout_redirect_uris").await?;
        m.drop_table(Table::drop().table(s("session_clients")).to_owned()).await
    }
}
