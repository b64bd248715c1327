use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let s = Alias::new;
        m.create_table(
            Table::create()
                .table(s("client_usage"))
                .if_not_exists()
                .col(ColumnDef::new(s("client_id")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("tokens_issued")).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        // The scope of the admin JSON API; only an admin can give it to a client.
        let ins = Query::insert()
            .into_table(s("scopes"))
            .columns([s("name"), s("description"), s("builtin")])
            .values_panic(["tessera:admin".into(), "Manage Tessera: clients, keys, scopes, audit".into(), true.into()])
            .to_owned();
        m.exec_stmt(ins).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new("client_usage")).if_exists().to_owned()).await?;
        let del = Query::delete().from_table(Alias::new("scopes")).and_where(Expr::col(Alias::new("name")).eq("tessera:admin")).to_owned();
        m.exec_stmt(del).await
    }
}
