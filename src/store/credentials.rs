//! Credentials that rotate (Vault dynamic database credentials, a Redis
//! password changed by its operator). The settings given as files
//! (`DATABASE_URL_FILE`, `REDIS_URL_FILE`, `REDIS_CLUSTER_URLS_FILE`) are
//! read again every `TESSERA_SECRET_REFRESH_SECS`, and at once when a store
//! refuses our credentials: the watcher (`app::Tessera::watch_credentials`)
//! holds a [`subscribe`]d receiver, which [`observe_db`] and the Redis
//! breaker wake (every watcher of the process, none missed). New connections then use what the file says; connections already
//! open keep working until the server closes them.
use std::sync::LazyLock;

use tokio::sync::watch;

/// Counts the refusals; every subscriber sees each change.
static REJECTED: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// A store refused our credentials: read the files again now.
pub fn rejected() {
    REJECTED.send_modify(|n| *n += 1);
}

/// A receiver whose `changed()` completes after each refusal from now on.
pub fn subscribe() -> watch::Receiver<u64> {
    REJECTED.subscribe()
}

/// SQLSTATE of a refused login: `invalid_password` and
/// `invalid_authorization_specification` (an unknown or expired role).
const AUTH_SQLSTATES: [&str; 2] = ["28P01", "28000"];

/// Whether a database error is the server refusing our credentials.
pub fn is_auth_failure(e: &sea_orm::DbErr) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(sea_orm::sqlx::Error::Database(d)) = err.downcast_ref::<sea_orm::sqlx::Error>() {
            if d.code().is_some_and(|c| AUTH_SQLSTATES.contains(&c.as_ref())) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// Look at a database error on its way to a 503: refused credentials wake the watcher.
pub fn observe_db(e: &sea_orm::DbErr) {
    if is_auth_failure(e) {
        log::warn!("the database refused our credentials: reading DATABASE_URL_FILE again");
        rejected();
    }
}
