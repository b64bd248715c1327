//! The embedded token store: the same database as everything else (SQLite by
//! default, PostgreSQL when `DATABASE_URL` says so), durable across restarts.
//!
//! Every single-use decision is one conditional `UPDATE` whose affected-row
//! count tells the one winner, never a read followed by a write.
use async_trait::async_trait;
use entity::{auth_codes, client_usage, denylist, device_codes, login_failures, pushed_requests, rate_counters, refresh_tokens, seen_once, session_clients, sessions};
use crate::db::Db;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};

use super::{DevicePoll, DeviceRecord, LoginAttempt, CodeRedemption, RefreshRecord, RefreshState, Rotation, StoreError, TokenStore, DENY_MARGIN_SECS, REPLAY_MEMORY_SECS};

pub struct SqlStore {
    db: Db,
    /// SQLite only: one writing transaction at a time in this process.
    /// A deferred SQLite transaction that reads before it writes fails with
    /// SQLITE_BUSY instead of waiting when another writer got in first; the
    /// embedded default is one process, so a mutex orders them cheaply.
    /// PostgreSQL needs none: its row locks make the conditional UPDATE atomic.
    write_lock: Option<tokio::sync::Mutex<()>>,
    /// SQLite only: the rate counters, in memory. One process owns the file
    /// (the embedded default), so nobody else needs them, and an upsert per
    /// request under the write lock was what held the embedded default to
    /// two thirds of the signing ceiling. PostgreSQL keeps them in the table,
    /// shared by every instance.
    counters: Option<std::sync::Mutex<Counters>>,
    /// SQLite only: the file beside the database that holds the clients
    /// epoch (`tessera.db.epoch`), found on first use; `None` inside when
    /// the database is not a file.
    epoch_file: tokio::sync::OnceCell<Option<std::path::PathBuf>>,
}

/// Rate counts by (key, window); windows older than the previous one are dropped as time moves on.
#[derive(Default)]
struct Counters {
    counts: std::collections::HashMap<(String, i64), i64>,
    newest: i64,
}

impl Counters {
    fn add(&mut self, key: &str, window: i64, cost: i64) -> (i64, i64) {
        if window > self.newest {
            self.newest = window;
            self.counts.retain(|(_, w), _| *w >= window - 1);
        }
        let cur = self.counts.entry((key.to_string(), window)).or_insert(0);
        *cur += cost;
        let cur = *cur;
        (self.counts.get(&(key.to_string(), window - 1)).copied().unwrap_or(0), cur)
    }

    fn refund(&mut self, key: &str, window: i64, cost: i64) {
        if let Some(c) = self.counts.get_mut(&(key.to_string(), window)) {
            *c -= cost;
        }
    }
}

impl SqlStore {
    pub fn new(db: Db) -> Self {
        let sqlite = db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
        SqlStore { db, write_lock: sqlite.then(|| tokio::sync::Mutex::new(())), counters: sqlite.then(Default::default), epoch_file: tokio::sync::OnceCell::new() }
    }

    /// SQLite: the epoch file of this database (`None` for PostgreSQL or a
    /// database in memory).
    async fn epoch_file(&self) -> Option<&std::path::Path> {
        self.epoch_file
            .get_or_init(|| async {
                self.write_lock.as_ref()?;
                let row = self.db.query_one(sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Sqlite, "SELECT file FROM pragma_database_list WHERE name = 'main'")).await.ok()??;
                let file: String = row.try_get("", "file").ok()?;
                (!file.is_empty()).then(|| std::path::PathBuf::from(format!("{file}.epoch")))
            })
            .await
            .as_deref()
    }

    async fn serialize(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }
}

fn to_record(m: refresh_tokens::Model) -> RefreshRecord {
    RefreshRecord {
        token_hash: m.token_hash,
        family_id: m.family_id,
        client_id: m.client_id,
        user_id: m.user_id,
        data: m.data,
        expires_at: m.expires_at,
        access_jti: m.access_jti,
        access_exp: m.access_exp,
    }
}

/// On PostgreSQL, take a transaction-scoped advisory lock on `key` (a
/// family, or a user at a client): a rotation and a revocation of the same
/// family run one after the other, so the revoking UPDATE sees the row the
/// rotation inserts (under READ COMMITTED it would not see a row committed
/// after it started). SQLite needs none: the store serialises its writes.
async fn lock_on<C: ConnectionTrait>(c: &C, key: &str) -> Result<(), StoreError> {
    if c.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        let stmt = sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [key.into()],
        );
        c.query_one(stmt).await?;
    }
    Ok(())
}

fn family_lock(family_id: &str) -> String {
    format!("fam:{family_id}")
}

fn user_client_lock(user_id: &str, client_id: &str) -> String {
    format!("uc:{user_id}|{client_id}")
}

/// Denylist the live access tokens of the given refresh rows.
async fn deny_rows<C: ConnectionTrait>(c: &C, rows: &[refresh_tokens::Model], now: i64) -> Result<(), StoreError> {
    for r in rows.iter().filter(|r| r.access_exp + DENY_MARGIN_SECS > now) {
        deny_on(c, &r.access_jti, r.access_exp).await?;
    }
    Ok(())
}

/// Denylist `jti` until its token's `expires_at`, plus the clock-skew margin.
async fn deny_on<C: ConnectionTrait>(c: &C, jti: &str, expires_at: i64) -> Result<(), StoreError> {
    let am = denylist::ActiveModel { jti: Set(jti.to_string()), expires_at: Set(expires_at + DENY_MARGIN_SECS) };
    denylist::Entity::insert(am)
        .on_conflict(OnConflict::column(denylist::Column::Jti).do_nothing().to_owned())
        .do_nothing()
        .exec(c)
        .await?;
    Ok(())
}

async fn revoke_family_on<C: ConnectionTrait>(c: &C, family_id: &str, now: i64) -> Result<u64, StoreError> {
    // Write first: a SQLite transaction that reads before it writes fails
    // instead of waiting when another connection wrote in between.
    let n = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::Revoked, Expr::value(true))
        .filter(refresh_tokens::Column::FamilyId.eq(family_id))
        .filter(refresh_tokens::Column::Revoked.eq(false))
        .exec(c)
        .await?
        .rows_affected;
    let rows = refresh_tokens::Entity::find().filter(refresh_tokens::Column::FamilyId.eq(family_id)).all(c).await?;
    deny_rows(c, &rows, now).await?;
    Ok(n)
}

#[async_trait]
impl TokenStore for SqlStore {
    fn kind(&self) -> &'static str {
        "sql"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    async fn deny(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        deny_on(&self.db, jti, expires_at).await
    }

    async fn is_denied(&self, jti: &str) -> Result<bool, StoreError> {
        let n = denylist::Entity::find()
            .select_only()
            .column(denylist::Column::Jti)
            .filter(denylist::Column::Jti.eq(jti))
            .into_tuple::<String>()
            .one(&self.db)
            .await?;
        Ok(n.is_some())
    }

    async fn put_code(&self, code_hash: &str, data: &str, expires_at: i64) -> Result<(), StoreError> {
        let am = auth_codes::ActiveModel {
            code_hash: Set(code_hash.to_string()),
            data: Set(data.to_string()),
            expires_at: Set(expires_at),
            used: Set(false),
            issued: Set(None),
            replayed: Set(false),
        };
        auth_codes::Entity::insert(am).exec_without_returning(&self.db).await?;
        Ok(())
    }

    async fn redeem_code(&self, code_hash: &str, now: i64, issued: &str) -> Result<CodeRedemption, StoreError> {
        let _guard = self.serialize().await;
        let won = auth_codes::Entity::update_many()
            .col_expr(auth_codes::Column::Used, Expr::value(true))
            .col_expr(auth_codes::Column::Issued, Expr::value(issued))
            .filter(auth_codes::Column::CodeHash.eq(code_hash))
            .filter(auth_codes::Column::Used.eq(false))
            .filter(auth_codes::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1;
        let row = auth_codes::Entity::find_by_id(code_hash.to_string()).one(&self.db).await?;
        Ok(match row {
            Some(r) if won => CodeRedemption::Redeemed(r.data),
            Some(r) if r.used => {
                // Marked before the caller revokes: see seal_code_family.
                auth_codes::Entity::update_many()
                    .col_expr(auth_codes::Column::Replayed, Expr::value(true))
                    .filter(auth_codes::Column::CodeHash.eq(code_hash))
                    .exec(&self.db)
                    .await?;
                CodeRedemption::Replayed(r.issued)
            }
            _ => CodeRedemption::Invalid,
        })
    }

    async fn seal_code_family(&self, code_hash: &str, family_id: &str, now: i64) -> Result<(), StoreError> {
        let replayed = auth_codes::Entity::find_by_id(code_hash.to_string()).one(&self.db).await?.is_some_and(|r| r.replayed);
        if replayed {
            self.revoke_family(family_id, now).await?;
        }
        Ok(())
    }

    async fn put_refresh(&self, rec: &RefreshRecord) -> Result<(), StoreError> {
        insert_refresh(&self.db, rec).await
    }

    async fn get_refresh(&self, token_hash: &str, now: i64) -> Result<RefreshState, StoreError> {
        let row = refresh_tokens::Entity::find_by_id(token_hash.to_string()).one(&self.db).await?;
        Ok(match row {
            Some(r) if r.revoked || r.expires_at <= now => RefreshState::Invalid,
            Some(r) if r.used => RefreshState::Used(to_record(r)),
            Some(r) => RefreshState::Active(to_record(r)),
            None => RefreshState::Invalid,
        })
    }

    async fn rotate_refresh(&self, old_hash: &str, new: &RefreshRecord, now: i64) -> Result<Rotation, StoreError> {
        let _guard = self.serialize().await;
        let txn = self.db.begin().await?;
        // Always in this order (family, then user at client); each revocation takes one of them.
        lock_on(&txn, &family_lock(&new.family_id)).await?;
        lock_on(&txn, &user_client_lock(&new.user_id, &new.client_id)).await?;
        let won = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::Used, Expr::value(true))
            .filter(refresh_tokens::Column::TokenHash.eq(old_hash))
            .filter(refresh_tokens::Column::Used.eq(false))
            .filter(refresh_tokens::Column::Revoked.eq(false))
            .filter(refresh_tokens::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        let outcome = if won {
            insert_refresh(&txn, new).await?;
            Rotation::Rotated
        } else {
            match refresh_tokens::Entity::find_by_id(old_hash.to_string()).one(&txn).await? {
                Some(r) if r.used && !r.revoked => {
                    revoke_family_on(&txn, &r.family_id, now).await?;
                    Rotation::Reused { family_id: r.family_id }
                }
                _ => Rotation::Invalid,
            }
        };
        txn.commit().await?;
        Ok(outcome)
    }

    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError> {
        let _guard = self.serialize().await;
        let txn = self.db.begin().await?;
        lock_on(&txn, &family_lock(family_id)).await?;
        let n = revoke_family_on(&txn, family_id, now).await?;
        txn.commit().await?;
        Ok(n)
    }

    async fn revoke_user_client(&self, user_id: &str, client_id: &str, now: i64) -> Result<u64, StoreError> {
        let _guard = self.serialize().await;
        let txn = self.db.begin().await?;
        lock_on(&txn, &user_client_lock(user_id, client_id)).await?;
        let n = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::Revoked, Expr::value(true))
            .filter(refresh_tokens::Column::UserId.eq(user_id))
            .filter(refresh_tokens::Column::ClientId.eq(client_id))
            .filter(refresh_tokens::Column::Revoked.eq(false))
            .exec(&txn)
            .await?
            .rows_affected;
        let rows = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::UserId.eq(user_id))
            .filter(refresh_tokens::Column::ClientId.eq(client_id))
            .all(&txn)
            .await?;
        deny_rows(&txn, &rows, now).await?;
        txn.commit().await?;
        Ok(n)
    }

    async fn deny_user_client_access(&self, user_id: &str, client_id: &str, now: i64) -> Result<u64, StoreError> {
        let _guard = self.serialize().await;
        let rows = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::UserId.eq(user_id))
            .filter(refresh_tokens::Column::ClientId.eq(client_id))
            .filter(refresh_tokens::Column::AccessExp.gt(now - DENY_MARGIN_SECS))
            .all(&self.db)
            .await?;
        deny_rows(&self.db, &rows, now).await?;
        Ok(rows.len() as u64)
    }

    async fn rate_add(&self, key: &str, window: i64, cost: i64) -> Result<(i64, i64), StoreError> {
        if let Some(c) = &self.counters {
            return Ok(c.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add(key, window, cost));
        }
        let _guard = self.serialize().await;
        let am = rate_counters::ActiveModel { key: Set(key.to_string()), window: Set(window), count: Set(cost) };
        // The count this request made, in the same statement as the increment
        // (RETURNING): concurrent requests on PostgreSQL each see their own.
        let cur = rate_counters::Entity::insert(am)
            .on_conflict(
                OnConflict::columns([rate_counters::Column::Key, rate_counters::Column::Window])
                    .value(
                        rate_counters::Column::Count,
                        Expr::col((rate_counters::Entity, rate_counters::Column::Count)).add(cost),
                    )
                    .to_owned(),
            )
            .exec_with_returning(&self.db)
            .await?
            .count;
        let prev = rate_counters::Entity::find_by_id((key.to_string(), window - 1)).one(&self.db).await?.map_or(0, |r| r.count);
        Ok((prev, cur))
    }

    async fn rate_refund(&self, key: &str, window: i64, cost: i64) -> Result<(), StoreError> {
        if let Some(c) = &self.counters {
            c.lock().unwrap_or_else(std::sync::PoisonError::into_inner).refund(key, window, cost);
            return Ok(());
        }
        let _guard = self.serialize().await;
        rate_counters::Entity::update_many()
            .col_expr(rate_counters::Column::Count, Expr::col(rate_counters::Column::Count).sub(cost))
            .filter(rate_counters::Column::Key.eq(key))
            .filter(rate_counters::Column::Window.eq(window))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn add_usage(&self, client_id: &str, n: i64) -> Result<(), StoreError> {
        let _guard = self.serialize().await;
        let am = client_usage::ActiveModel { client_id: Set(client_id.to_string()), tokens_issued: Set(n) };
        client_usage::Entity::insert(am)
            .on_conflict(
                OnConflict::column(client_usage::Column::ClientId)
                    .value(
                        client_usage::Column::TokensIssued,
                        Expr::col((client_usage::Entity, client_usage::Column::TokensIssued)).add(n),
                    )
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn usage(&self, client_id: &str) -> Result<i64, StoreError> {
        Ok(client_usage::Entity::find_by_id(client_id.to_string()).one(&self.db).await?.map(|m| m.tokens_issued).unwrap_or(0))
    }

    /// PostgreSQL: no epoch (reading one from the database would cost what
    /// reading the client costs), so nobody caches clients. SQLite (the
    /// embedded default, one server process, perhaps a CLI beside it): the
    /// epoch lives in a small file beside the database, which every process
    /// that changes a client rewrites; reading it costs a few system calls,
    /// not a query. A missing file is a first use: one is made.
    async fn clients_epoch(&self) -> Result<Option<String>, StoreError> {
        let Some(path) = self.epoch_file().await else { return Ok(None) };
        match std::fs::read_to_string(path) {
            Ok(e) if !e.is_empty() => Ok(Some(e)),
            _ => {
                self.bump_clients_epoch().await?;
                Ok(std::fs::read_to_string(path).ok().filter(|e| !e.is_empty()))
            }
        }
    }

    async fn bump_clients_epoch(&self) -> Result<(), StoreError> {
        let Some(path) = self.epoch_file().await else { return Ok(()) };
        // a new random value, never a counter that could come back to one a cache holds
        let tmp = path.with_extension(format!("epoch.{}", crate::crypto::random_token(6)));
        std::fs::write(&tmp, crate::crypto::random_token(12))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| StoreError::Setup(format!("cannot write the clients epoch file {}: {e}", path.display())))
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let (window, _) = crate::rate_limit::window_of(now * 1000);
        rate_counters::Entity::delete_many().filter(rate_counters::Column::Window.lt(window - 1)).exec(&self.db).await?;
        let keep_until = now - REPLAY_MEMORY_SECS;
        let mut n = denylist::Entity::delete_many()
            .filter(denylist::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?
            .rows_affected;
        n += auth_codes::Entity::delete_many()
            .filter(auth_codes::Column::ExpiresAt.lt(keep_until))
            .exec(&self.db)
            .await?
            .rows_affected;
        n += refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::ExpiresAt.lt(keep_until))
            .exec(&self.db)
            .await?
            .rows_affected;
        n += sessions::Entity::delete_many().filter(sessions::Column::ExpiresAt.lt(now)).exec(&self.db).await?.rows_affected;
        n += pushed_requests::Entity::delete_many().filter(pushed_requests::Column::ExpiresAt.lt(now)).exec(&self.db).await?.rows_affected;
        n += session_clients::Entity::delete_many().filter(session_clients::Column::ExpiresAt.lt(now)).exec(&self.db).await?.rows_affected;
        n += seen_once::Entity::delete_many().filter(seen_once::Column::ExpiresAt.lt(now)).exec(&self.db).await?.rows_affected;
        n += device_codes::Entity::delete_many().filter(device_codes::Column::ExpiresAt.lt(keep_until)).exec(&self.db).await?.rows_affected;
        n += login_failures::Entity::delete_many().filter(login_failures::Column::ForgetAt.lt(now)).exec(&self.db).await?.rows_affected;
        Ok(n)
    }

    async fn put_pushed(&self, id_hash: &str, data: &str, expires_at: i64) -> Result<(), StoreError> {
        let _guard = self.serialize().await;
        let am = pushed_requests::ActiveModel { id_hash: Set(id_hash.to_string()), data: Set(data.to_string()), expires_at: Set(expires_at) };
        pushed_requests::Entity::insert(am).exec_without_returning(&self.db).await?;
        Ok(())
    }

    async fn take_pushed(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let _guard = self.serialize().await;
        let Some(row) = pushed_requests::Entity::find_by_id(id_hash.to_string()).one(&self.db).await? else { return Ok(None) };
        // The delete picks the one winner among concurrent takers.
        let won = pushed_requests::Entity::delete_by_id(id_hash.to_string()).exec(&self.db).await?.rows_affected == 1;
        Ok((won && row.expires_at > now).then_some(row.data))
    }

    async fn use_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        let _guard = self.serialize().await;
        let am = seen_once::ActiveModel { key: Set(key.to_string()), expires_at: Set(expires_at) };
        let n = seen_once::Entity::insert(am)
            .on_conflict(OnConflict::column(seen_once::Column::Key).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await?;
        Ok(n == 1)
    }

    async fn put_device(&self, rec: &DeviceRecord) -> Result<bool, StoreError> {
        let _guard = self.serialize().await;
        let am = device_codes::ActiveModel {
            device_hash: Set(rec.device_hash.clone()),
            user_code: Set(rec.user_code.clone()),
            client_id: Set(rec.client_id.clone()),
            data: Set(rec.data.clone()),
            status: Set("pending".into()),
            decision: Set(None),
            last_poll: Set(0),
            expires_at: Set(rec.expires_at),
        };
        let n = device_codes::Entity::insert(am)
            .on_conflict(OnConflict::column(device_codes::Column::UserCode).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await?;
        Ok(n == 1)
    }

    async fn pending_device(&self, user_code: &str, now: i64) -> Result<Option<DeviceRecord>, StoreError> {
        let row = device_codes::Entity::find()
            .filter(device_codes::Column::UserCode.eq(user_code))
            .filter(device_codes::Column::Status.eq("pending"))
            .filter(device_codes::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?;
        Ok(row.map(|r| DeviceRecord { device_hash: r.device_hash, user_code: r.user_code, client_id: r.client_id, data: r.data, expires_at: r.expires_at }))
    }

    async fn decide_device(&self, device_hash: &str, approval: Option<&str>, now: i64) -> Result<bool, StoreError> {
        let _guard = self.serialize().await;
        let n = device_codes::Entity::update_many()
            .col_expr(device_codes::Column::Status, Expr::value(if approval.is_some() { "approved" } else { "denied" }))
            .col_expr(device_codes::Column::Decision, Expr::value(approval.map(str::to_string)))
            .filter(device_codes::Column::DeviceHash.eq(device_hash))
            .filter(device_codes::Column::Status.eq("pending"))
            .filter(device_codes::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(n == 1)
    }

    async fn poll_device(&self, device_hash: &str, client_id: &str, now: i64, interval: i64) -> Result<DevicePoll, StoreError> {
        let _guard = self.serialize().await;
        let Some(row) = device_codes::Entity::find_by_id(device_hash.to_string()).one(&self.db).await? else { return Ok(DevicePoll::Invalid) };
        if row.client_id != client_id || row.status == "issued" {
            return Ok(DevicePoll::Invalid);
        }
        if row.expires_at <= now {
            return Ok(DevicePoll::Expired);
        }
        // Each step is a conditional UPDATE on what was read: of concurrent
        // polls one moves the row, the others lost (too fast, or too late).
        let step = |status: &'static str| {
            device_codes::Entity::update_many()
                .filter(device_codes::Column::DeviceHash.eq(device_hash))
                .filter(device_codes::Column::Status.eq(status))
        };
        match row.status.as_str() {
            "pending" => {
                let too_soon = row.last_poll > 0 && now < row.last_poll + interval;
                let moved = step("pending")
                    .col_expr(device_codes::Column::LastPoll, Expr::value(now))
                    .filter(device_codes::Column::LastPoll.eq(row.last_poll))
                    .exec(&self.db)
                    .await?
                    .rows_affected
                    == 1;
                Ok(if too_soon || !moved { DevicePoll::SlowDown } else { DevicePoll::Pending })
            }
            "approved" => {
                let won = step("approved").col_expr(device_codes::Column::Status, Expr::value("issued")).exec(&self.db).await?.rows_affected == 1;
                Ok(match (won, row.decision) {
                    (true, Some(d)) => DevicePoll::Approved(d),
                    _ => DevicePoll::Invalid,
                })
            }
            "denied" => Ok(DevicePoll::Denied),
            _ => Ok(DevicePoll::Invalid),
        }
    }

    async fn login_attempt(&self, name: &str, now: i64, lock: &crate::rate_limit::LoginLock) -> Result<LoginAttempt, StoreError> {
        let _guard = self.serialize().await;
        // A compare-and-set on the row (PostgreSQL runs concurrent attempts
        // side by side): of concurrent attempts each moves the count once,
        // and those after the one that locked find the name locked.
        for _ in 0..64 {
            let row = login_failures::Entity::find_by_id(name.to_string()).one(&self.db).await?;
            let (failures, until) = match &row {
                Some(r) if r.forget_at >= now => (r.failures, r.locked_until),
                _ => (0, 0),
            };
            if until > now {
                return Ok(LoginAttempt::Locked { until });
            }
            let locks_for = lock.lock_secs(failures + 1);
            let next = (failures + 1, locks_for.map_or(0, |s| now + s), now + lock.memory_secs);
            let won = match row {
                None => {
                    let am = login_failures::ActiveModel { name: Set(name.to_string()), failures: Set(next.0), locked_until: Set(next.1), forget_at: Set(next.2) };
                    let done = login_failures::Entity::insert(am)
                        .on_conflict(OnConflict::column(login_failures::Column::Name).do_nothing().to_owned())
                        .exec_without_returning(&self.db)
                        .await?;
                    done == 1
                }
                Some(r) => {
                    login_failures::Entity::update_many()
                        .col_expr(login_failures::Column::Failures, Expr::value(next.0))
                        .col_expr(login_failures::Column::LockedUntil, Expr::value(next.1))
                        .col_expr(login_failures::Column::ForgetAt, Expr::value(next.2))
                        .filter(login_failures::Column::Name.eq(name))
                        .filter(login_failures::Column::Failures.eq(r.failures))
                        .filter(login_failures::Column::LockedUntil.eq(r.locked_until))
                        .exec(&self.db)
                        .await?
                        .rows_affected
                        == 1
                }
            };
            if won {
                return Ok(LoginAttempt::Allowed { locks_for });
            }
        }
        Ok(LoginAttempt::Locked { until: now + 1 })
    }

    async fn login_succeeded(&self, name: &str) -> Result<(), StoreError> {
        let _guard = self.serialize().await;
        login_failures::Entity::delete_by_id(name.to_string()).exec(&self.db).await?;
        Ok(())
    }

    async fn put_session(&self, id_hash: &str, user_id: &str, expires_at: i64) -> Result<(), StoreError> {
        let _guard = self.serialize().await;
        let am = sessions::ActiveModel { id_hash: Set(id_hash.to_string()), user_id: Set(user_id.to_string()), expires_at: Set(expires_at) };
        sessions::Entity::insert(am).exec_without_returning(&self.db).await?;
        Ok(())
    }

    async fn session_user(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let row = sessions::Entity::find_by_id(id_hash.to_string()).one(&self.db).await?;
        Ok(row.filter(|r| r.expires_at > now).map(|r| r.user_id))
    }

    async fn end_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let _guard = self.serialize().await;
        sessions::Entity::delete_by_id(id_hash.to_string()).exec(&self.db).await?;
        Ok(())
    }

    async fn user_sessions(&self, user_id: &str, now: i64) -> Result<Vec<String>, StoreError> {
        let rows = sessions::Entity::find().filter(sessions::Column::UserId.eq(user_id)).filter(sessions::Column::ExpiresAt.gt(now)).all(&self.db).await?;
        Ok(rows.into_iter().map(|r| r.id_hash).collect())
    }

    async fn add_session_client(&self, id_hash: &str, client_id: &str, expires_at: i64) -> Result<(), StoreError> {
        let _guard = self.serialize().await;
        let am = session_clients::ActiveModel { id_hash: Set(id_hash.to_string()), client_id: Set(client_id.to_string()), expires_at: Set(expires_at) };
        session_clients::Entity::insert(am)
            .on_conflict(OnConflict::columns([session_clients::Column::IdHash, session_clients::Column::ClientId]).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn session_clients(&self, id_hash: &str, now: i64) -> Result<Vec<String>, StoreError> {
        let rows = session_clients::Entity::find()
            .filter(session_clients::Column::IdHash.eq(id_hash))
            .filter(session_clients::Column::ExpiresAt.gt(now))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| r.client_id).collect())
    }

    async fn end_user_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        let _guard = self.serialize().await;
        Ok(sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(user_id)).exec(&self.db).await?.rows_affected)
    }
}

async fn insert_refresh<C: ConnectionTrait>(c: &C, rec: &RefreshRecord) -> Result<(), StoreError> {
    let am = refresh_tokens::ActiveModel {
        token_hash: Set(rec.token_hash.clone()),
        family_id: Set(rec.family_id.clone()),
        client_id: Set(rec.client_id.clone()),
        user_id: Set(rec.user_id.clone()),
        data: Set(rec.data.clone()),
        used: Set(false),
        revoked: Set(false),
        expires_at: Set(rec.expires_at),
        access_jti: Set(rec.access_jti.clone()),
        access_exp: Set(rec.access_exp),
    };
    refresh_tokens::Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}
