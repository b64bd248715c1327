use sea_orm_migration::prelude::*;

/// `refresh_tokens.token_hash` holds a handle: the family's id, a dot and
/// the SHA-256 (87 characters; the Redis store keeps a family in one hash
/// slot by that prefix). PostgreSQL enforces the length; SQLite does not.
#[derive(DeriveMigrationName)]
pub struct Migration;

async fn set_length(m: &SchemaManager<'_>, len: u32) -> Result<(), DbErr> {
    if m.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    m.get_connection().execute_unprepared(&format!("ALTER TABLE refresh_tokens ALTER COLUMN token_hash TYPE varchar({len})")).await.map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set_length(m, 128).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set_length(m, 64).await
    }
}
