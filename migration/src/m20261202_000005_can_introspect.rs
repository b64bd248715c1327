use sea_orm_migration::prelude::*;

/// `clients.can_introspect`: whether a client may introspect tokens issued
/// to other clients (RFC 7662 §4: the caller is authorized). Without it a
/// client learns about its own tokens only.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .add_column(ColumnDef::new(Alias::new("can_introspect")).boolean().not_null().default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("clients")).drop_column(Alias::new("can_introspect")).to_owned()).await
    }
}
