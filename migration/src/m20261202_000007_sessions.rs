use sea_orm_migration::prelude::*;

use crate::columns::name as s;

/// `sessions`: signed-in browser sessions of the embedded token store (the
/// Redis store keeps them in Redis). The cookie holds a random id; this row,
/// keyed by the id's SHA-256, is what makes it signed in, so logging out or
/// revoking a user's sessions ends them everywhere.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(s("sessions"))
                .if_not_exists()
                .col(ColumnDef::new(s("id_hash")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("user_id")).string_len(64).not_null())
                .col(ColumnDef::new(s("expires_at")).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("sessions_user").table(s("sessions")).col(s("user_id")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(s("sessions")).to_owned()).await
    }
}
