use sea_orm_migration::prelude::*;

/// `auth_codes.replayed`: set by a second redemption, so that an exchange
/// still issuing when the replay came in can revoke what it stored after
/// the replay's revocation (`TokenStore::seal_code_family`, SQL store).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("auth_codes"))
                .add_column(ColumnDef::new(Alias::new("replayed")).boolean().not_null().default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("auth_codes")).drop_column(Alias::new("replayed")).to_owned()).await
    }
}
