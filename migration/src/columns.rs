//! What most migrations after the first do: add a column to a table, and
//! drop it again on the way down. (SQLite changes one column per statement.)
use sea_orm_migration::prelude::*;

pub fn name(n: &str) -> Alias {
    Alias::new(n)
}

pub async fn add(m: &SchemaManager<'_>, table: &str, column: &mut ColumnDef) -> Result<(), DbErr> {
    m.alter_table(Table::alter().table(name(table)).add_column(column).to_owned()).await
}

pub async fn drop(m: &SchemaManager<'_>, table: &str, column: &str) -> Result<(), DbErr> {
    m.alter_table(Table::alter().table(name(table)).drop_column(name(column)).to_owned()).await
}

/// A boolean column, false unless set.
pub fn flag(column: &str) -> ColumnDef {
    ColumnDef::new(name(column)).boolean().not_null().default(false).to_owned()
}
