//! [`Db`]: the database connection every layer above this one uses. It is
//! sea-orm's connection with a circuit breaker in front (`store::breaker`):
//! on PostgreSQL, a statement that fails for want of a connection (refused,
//! reset, the pool's acquire timeout) opens the circuit, and while it is
//! open every statement is refused at once with [`DbErr::ConnectionAcquire`]
//! instead of waiting: sqlx retries a refused connection until its 5 s
//! acquire timeout, so without the breaker every request would wait that
//! long for its 503. A probe asks the pool for a connection every 200 ms
//! and closes the circuit when one answers. The embedded default (SQLite)
//! has no connection to lose and no breaker.
//!
//! There is deliberately no `Deref` to [`DatabaseConnection`]: a `&Db`
//! passed where a connection is expected must go through the breaker, and
//! code that needs the pool itself (health, metrics, new credentials) asks
//! for it by name ([`Db::raw`]).
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{
    AccessMode, ConnAcquireErr, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, IsolationLevel, QueryResult,
    Statement, TransactionError, TransactionTrait,
};

use crate::store::breaker::{Answers, Breaker, Guards, Probe};

#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    breaker: Option<Arc<Breaker>>,
}

impl From<DatabaseConnection> for Db {
    /// A connection with a breaker when it is PostgreSQL.
    fn from(conn: DatabaseConnection) -> Db {
        let breaker = match conn.get_database_backend() {
            DbBackend::Postgres => Some(Breaker::new(Guards::Postgres, Probe::Other(Box::new(PoolProbe(conn.get_postgres_connection_pool().clone()))))),
            _ => None,
        };
        Db { conn, breaker }
    }
}

/// Whether `e` says the database could not be reached (as opposed to a
/// statement it refused): what opens the circuit.
pub fn is_unreachable(e: &DbErr) -> bool {
    if matches!(e, DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)) {
        return true;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(x) = err.downcast_ref::<sea_orm::sqlx::Error>() {
            return matches!(x, sea_orm::sqlx::Error::Io(_) | sea_orm::sqlx::Error::PoolTimedOut);
        }
        cur = err.source();
    }
    false
}

/// The probe: a connection from the pool (checked by its ping when it sat
/// idle, so a dead one is replaced) that answers `SELECT 1`.
struct PoolProbe(sea_orm::sqlx::PgPool);

#[async_trait::async_trait]
impl Answers for PoolProbe {
    async fn answers(&self) -> bool {
        let ask = async {
            let mut con = self.0.acquire().await?;
            sea_orm::sqlx::query("SELECT 1").execute(&mut *con).await
        };
        matches!(tokio::time::timeout(Duration::from_millis(500), ask).await, Ok(Ok(_)))
    }
}

impl Db {
    /// The connection itself, past the breaker: for what needs the pool
    /// (readiness, metrics, new credentials, migrations at start).
    pub fn raw(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Whether statements are being refused because the database is unreachable.
    pub fn circuit_open(&self) -> bool {
        self.breaker.as_ref().is_some_and(|b| b.is_open())
    }

    fn pass(&self) -> Result<(), DbErr> {
        if self.circuit_open() {
            return Err(refusal());
        }
        Ok(())
    }

    fn observe<T>(&self, r: Result<T, DbErr>) -> Result<T, DbErr> {
        if let Err(e) = &r {
            self.trip_if_unreachable(e);
        }
        r
    }

    /// Open the circuit if `e` says the database could not be reached.
    fn trip_if_unreachable(&self, e: &DbErr) {
        if let Some(b) = self.breaker.as_ref().filter(|_| is_unreachable(e)) {
            b.trip();
        }
    }

    /// Check the connection (readiness): through the breaker, so a probe
    /// that has not seen the database answer yet keeps it not ready.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.pass()?;
        self.observe(self.conn.ping().await)
    }
}

const REFUSAL: &str = "the database is unreachable (circuit open)";

/// The error of a statement refused while the circuit is open.
fn refusal() -> DbErr {
    DbErr::Custom(REFUSAL.to_string())
}

/// Whether `e` is a refusal of the open circuit: said once when the
/// circuit opened, so not worth a log line per refused request.
pub fn is_refusal(e: &DbErr) -> bool {
    matches!(e, DbErr::Custom(m) if m == REFUSAL)
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.pass()?;
        self.observe(self.conn.execute(stmt).await)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.pass()?;
        self.observe(self.conn.execute_unprepared(sql).await)
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.pass()?;
        self.observe(self.conn.query_one(stmt).await)
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.pass()?;
        self.observe(self.conn.query_all(stmt).await)
    }

    fn support_returning(&self) -> bool {
        self.conn.support_returning()
    }
}

#[async_trait::async_trait]
impl TransactionTrait for Db {
    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.pass()?;
        self.observe(self.conn.begin().await)
    }

    async fn begin_with_config(&self, isolation_level: Option<IsolationLevel>, access_mode: Option<AccessMode>) -> Result<DatabaseTransaction, DbErr> {
        self.pass()?;
        self.observe(self.conn.begin_with_config(isolation_level, access_mode).await)
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c DatabaseTransaction) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.transaction_with_config(callback, None, None).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c DatabaseTransaction) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.pass().map_err(TransactionError::Connection)?;
        let r = self.conn.transaction_with_config(callback, isolation_level, access_mode).await;
        if let Err(TransactionError::Connection(e)) = &r {
            self.trip_if_unreachable(e);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_opens_the_circuit() {
        let io = || sea_orm::sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
        assert!(is_unreachable(&DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)));
        assert!(is_unreachable(&DbErr::Conn(sea_orm::RuntimeErr::SqlxError(io()))));
        assert!(is_unreachable(&DbErr::Query(sea_orm::RuntimeErr::SqlxError(io()))));
        assert!(is_unreachable(&DbErr::Exec(sea_orm::RuntimeErr::SqlxError(sea_orm::sqlx::Error::PoolTimedOut))));
        // a statement the database refused is not an outage
        assert!(!is_unreachable(&DbErr::Query(sea_orm::RuntimeErr::SqlxError(sea_orm::sqlx::Error::RowNotFound))));
        assert!(!is_unreachable(&DbErr::RecordNotFound("x".into())));
        assert!(!is_unreachable(&refusal()), "a refusal does not re-trip");
        assert!(is_refusal(&refusal()));
        assert!(!is_refusal(&DbErr::Custom("other".into())));
    }
}
