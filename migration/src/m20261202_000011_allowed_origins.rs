use sea_orm_migration::prelude::*;

/// `clients.allowed_origins`: the browser origins (space-separated) a
/// single-page app calls the token, revocation and userinfo endpoints from
/// (CORS). Empty: none.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .add_column(ColumnDef::new(Alias::new("allowed_origins")).text().not_null().default(""))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("clients")).drop_column(Alias::new("allowed_origins")).to_owned()).await
    }
}
