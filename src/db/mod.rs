//! Database connection and migrations. Repositories over `entity/` live
//! beside the domain code that owns them (`clients.rs`, `users.rs`, …).
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

mod guarded;
pub use guarded::{is_refusal, Db};

/// A pooled PostgreSQL connection is checked with a round trip before use
/// only when it sat idle at least this long (HikariCP's "alive bypass
/// window", 500 ms there too). sqlx's default checks every checkout: one
/// extra round trip per query, 8-13 % of a refresh on one core (see
/// docs/performance.md). A connection in use moments ago is alive or fails
/// its query (which answers 503 and closes it); one idle across a database
/// restart is older than this window and is checked.
pub const PING_WHEN_IDLE_FOR: Duration = Duration::from_millis(500);

/// Whether a connection idle for `idle_for` is checked before use.
pub fn needs_ping(idle_for: Duration) -> bool {
    idle_for >= PING_WHEN_IDLE_FOR
}

/// The most PostgreSQL connections a pool opens: a command's, and a
/// server's unless `TESSERA_DB_POOL_SIZE` says otherwise.
pub const POOL_SIZE: u32 = 16;

/// Open the database `url` names (PostgreSQL behind a circuit breaker, or
/// a SQLite file), for a command: PostgreSQL connections are opened as
/// queries need them, at most [`POOL_SIZE`].
pub async fn connect(url: &str) -> Result<Db, sea_orm::DbErr> {
    connect_with(url, None).await
}

/// As [`connect`], for a server: with `Some(n)`, a PostgreSQL pool of at
/// most `n` connections, all opened before the server starts. A pool that
/// opens on demand opens them in its first burst, when every request
/// already waits (after a stall, each new connection is a TCP and SCRAM
/// handshake more), and keeps them while they are used: paused for 1 s
/// under the soak's mix, a server went from 3 connections to 13 at the
/// resume (docs/performance.md). Opened at start, the pool's cost shows at
/// once, and so does a PostgreSQL that cannot give this instance its
/// connections (start fails).
///
/// Not `min_connections = n`: sqlx reopens a pool's minimum in tasks that
/// hold a connection permit each while they retry, backing off up to a
/// fifth of five minutes; after an outage those permits would keep the
/// breaker's probe waiting long after PostgreSQL is back. Connections
/// closed by an outage are reopened on demand, as before.
pub async fn connect_with(url: &str, pool: Option<u32>) -> Result<Db, sea_orm::DbErr> {
    Ok(Db::from(open(url, pool).await?))
}

async fn open(url: &str, pool: Option<u32>) -> Result<DatabaseConnection, sea_orm::DbErr> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return connect_postgres(url, pool).await;
    }
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(8)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // An embedded database has no connection to lose.
        .test_before_acquire(false)
        .sqlx_logging(false);
    // WAL lets readers run beside the writer; writers wait for each other
    // (busy timeout) instead of failing at once.
    opts.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES)
    });
    Database::connect(opts).await
}

/// SQLite: by default the writer whose commit takes the WAL past 1,000 pages
/// checkpoints it there and then: it copies the pages into the database
/// file and syncs that file, inside its commit, while the token store's
/// write lock holds every other writer. Under a steady refresh load that is
/// a stall every few hundred commits (measured in docs/performance.md:
/// refresh p99 at 420/s went from 8.1-8.7 ms to 5.2-7.7 ms without it).
/// Tessera checkpoints from the background instead ([`checkpoint`], every
/// [`CHECKPOINT_EVERY`]); a writer's own checkpoint stays as a backstop, at
/// this many pages (40 MB of 4 KB pages), should the background one fall
/// behind.
const WAL_BACKSTOP_PAGES: &str = "10000";

/// How often the background checkpoints the embedded database's WAL.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// SQLite: copy what the WAL holds into the database file, beside readers
/// and writers rather than in their way (a passive checkpoint). Answers the
/// pages the WAL holds and how many of them are now in the database file;
/// `None` on PostgreSQL, which has no WAL of ours to checkpoint.
pub async fn checkpoint(db: &Db) -> Result<Option<(i64, i64)>, sea_orm::DbErr> {
    use sea_orm::ConnectionTrait;
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return Ok(None);
    }
    let stmt = sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Sqlite, "PRAGMA wal_checkpoint(PASSIVE)");
    let Some(row) = db.query_one(stmt).await? else { return Ok(None) };
    Ok(Some((row.try_get_by_index(1)?, row.try_get_by_index(2)?)))
}

/// PostgreSQL through a pool built here rather than by sea-orm, which cannot
/// set the check-before-use hook ([`needs_ping`]); `Some(n)`: at most `n`
/// connections, opened here.
async fn connect_postgres(url: &str, open_all: Option<u32>) -> Result<DatabaseConnection, sea_orm::DbErr> {
    use sea_orm::sqlx::{postgres::PgConnectOptions, postgres::PgPoolOptions, ConnectOptions as _, Connection as _};
    let conn_err = |e: sea_orm::sqlx::Error| sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e));
    let opts = url.parse::<PgConnectOptions>().map_err(conn_err)?.disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(open_all.unwrap_or(POOL_SIZE))
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if needs_ping(meta.idle_for) {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(opts)
        .await
        .map_err(conn_err)?;
    // Holding each connection while taking the next makes the pool open them all.
    let mut held = Vec::new();
    for _ in 0..open_all.unwrap_or(0) {
        held.push(pool.acquire().await.map_err(conn_err)?);
    }
    drop(held);
    Ok(DatabaseConnection::from(pool))
}

/// New credentials for a PostgreSQL pool (`DATABASE_URL_FILE` rewritten by
/// a secret manager): connections opened from now on use `url`; those
/// already open keep working until the server or the idle check closes
/// them. `false` when `url` is not PostgreSQL (a SQLite file is opened once).
pub fn set_url(db: &Db, url: &str) -> Result<bool, sea_orm::DbErr> {
    let db = db.raw();
    use sea_orm::sqlx::{postgres::PgConnectOptions, ConnectOptions as _};
    use sea_orm::ConnectionTrait as _;
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(false);
    }
    let opts = url.parse::<PgConnectOptions>().map_err(|e| sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)))?.disable_statement_logging();
    db.get_postgres_connection_pool().set_connect_options(opts);
    Ok(true)
}

/// The pool's connections: (open, idle, max).
pub fn pool_stats(db: &Db) -> (u32, u32, u32) {
    let db = db.raw();
    fn of<D: sea_orm::sqlx::Database>(p: &sea_orm::sqlx::Pool<D>) -> (u32, u32, u32) {
        (p.size(), p.num_idle() as u32, p.options().get_max_connections())
    }
    match db {
        DatabaseConnection::SqlxPostgresPoolConnection(_) => of(db.get_postgres_connection_pool()),
        DatabaseConnection::SqlxSqlitePoolConnection(_) => of(db.get_sqlite_connection_pool()),
        _ => (0, 0, 0),
    }
}

/// Apply pending migrations. Safe to call from several instances: PostgreSQL
/// serialises the DDL through sea-orm's migration table lock.
pub async fn migrate(db: &Db) -> Result<(), sea_orm::DbErr> {
    Migrator::up(db.raw(), None).await
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A list column (redirect URIs, grant types, scopes) as stored: space-separated.
pub fn join_list<S: AsRef<str>>(items: &[S]) -> String {
    items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ")
}

/// A stored list column back as its items (empty items dropped).
pub fn split_list(column: &str) -> Vec<String> {
    column.split(' ').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_columns_round_trip() {
        let v = vec!["https://a/cb".to_string(), "https://b/cb".to_string()];
        assert_eq!(join_list(&v), "https://a/cb https://b/cb");
        assert_eq!(split_list(&join_list(&v)), v);
        assert_eq!(split_list(" a  b "), ["a", "b"]);
        assert!(split_list("").is_empty());
    }

    #[test]
    fn only_a_connection_idle_past_the_window_is_checked() {
        assert!(!needs_ping(Duration::ZERO));
        assert!(!needs_ping(PING_WHEN_IDLE_FOR - Duration::from_millis(1)));
        assert!(needs_ping(PING_WHEN_IDLE_FOR));
        assert!(needs_ping(Duration::from_secs(60)));
    }
}
