//! What each client did per day: tokens issued and requests refused by its
//! rate limit (429), for the charts of the portal and the console.
//!
//! The hot paths only add to an in-memory [`Tally`]; the background tick
//! writes it: the running total of tokens to the token store, and the day's
//! counts to `client_daily` with one upsert per client (every instance adds
//! its own), so issuing a token costs no database write.
use std::collections::HashMap;
use std::sync::Mutex;

use entity::client_daily;
use crate::db::Db;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::error::Result;
use crate::store::TokenStore;

pub const DAY_SECS: i64 = 86_400;

/// The count of `key`, made on first use (the key is copied only then:
/// the hot path allocates nothing for a client it has seen).
fn bump<'a, V>(m: &'a mut HashMap<String, V>, key: &str, zero: V) -> &'a mut V {
    if !m.contains_key(key) {
        m.insert(key.to_string(), zero);
    }
    m.get_mut(key).expect("inserted above")
}

/// Counts not yet written.
#[derive(Default)]
struct Pending {
    /// client → tokens, for the store's running total (`TokenStore::add_usage`).
    totals: HashMap<String, i64>,
    /// client → (tokens, refused), for today's row.
    days: HashMap<String, (i64, i64)>,
}

/// What the hot paths count, written on the background tick.
#[derive(Default)]
pub struct Tally {
    pending: Mutex<Pending>,
}

impl Tally {
    /// A token was issued to `client_id`.
    pub fn token(&self, client_id: &str) {
        if let Ok(mut p) = self.pending.lock() {
            *bump(&mut p.totals, client_id, 0) += 1;
            bump(&mut p.days, client_id, (0, 0)).0 += 1;
        }
    }

    /// A request of `client_id` was refused by its rate limit.
    pub fn limited(&self, client_id: &str) {
        if let Ok(mut p) = self.pending.lock() {
            bump(&mut p.days, client_id, (0, 0)).1 += 1;
        }
    }

    /// Write the counts: the running totals to the store, the day's to
    /// `client_daily`. What cannot be written is kept for the next tick.
    pub async fn flush(&self, db: &Db, store: &dyn TokenStore, now: i64) {
        let (totals, days) = match self.pending.lock() {
            Ok(mut p) => (std::mem::take(&mut p.totals), std::mem::take(&mut p.days)),
            Err(_) => return,
        };
        for (client, n) in totals {
            if let Err(e) = store.add_usage(&client, n).await {
                log::warn!("usage of client {client} not recorded: {e}");
                if let Ok(mut p) = self.pending.lock() {
                    *p.totals.entry(client).or_insert(0) += n;
                }
            }
        }
        for (client, (tokens, limited)) in days {
            if let Err(e) = add_day(db, &client, now.div_euclid(DAY_SECS), tokens, limited).await {
                log::warn!("daily usage of client {client} not recorded: {e}");
                if let Ok(mut p) = self.pending.lock() {
                    let d = p.days.entry(client).or_insert((0, 0));
                    d.0 += tokens;
                    d.1 += limited;
                }
            }
        }
    }

    /// This instance's unwritten total of tokens for a client.
    pub fn unwritten_total(&self, client_id: &str) -> i64 {
        self.pending.lock().map(|p| p.totals.get(client_id).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// This instance's unwritten (tokens, refused) of today for a client.
    pub fn unwritten_today(&self, client_id: &str) -> (i64, i64) {
        self.pending.lock().map(|p| p.days.get(client_id).copied().unwrap_or((0, 0))).unwrap_or((0, 0))
    }
}

async fn add_day(db: &Db, client_id: &str, day: i64, tokens: i64, limited: i64) -> Result<()> {
    let am = client_daily::ActiveModel { client_id: Set(client_id.to_string()), day: Set(day), tokens: Set(tokens), limited: Set(limited) };
    client_daily::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([client_daily::Column::ClientId, client_daily::Column::Day])
                .value(client_daily::Column::Tokens, Expr::col((client_daily::Entity, client_daily::Column::Tokens)).add(tokens))
                .value(client_daily::Column::Limited, Expr::col((client_daily::Entity, client_daily::Column::Limited)).add(limited))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// One day of a client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Day {
    /// Unix day number (days since 1970-01-01).
    pub day: i64,
    pub tokens: i64,
    pub limited: i64,
}

/// The last `days` days of a client up to today, oldest first, every day
/// present (zero when nothing happened); today includes `unwritten`.
pub async fn last_days(db: &Db, client_id: &str, days: i64, now: i64, unwritten: (i64, i64)) -> Result<Vec<Day>> {
    let today = now.div_euclid(DAY_SECS);
    let first = today - days + 1;
    let rows = client_daily::Entity::find()
        .filter(client_daily::Column::ClientId.eq(client_id))
        .filter(client_daily::Column::Day.gte(first))
        .all(db)
        .await?;
    Ok((first..=today)
        .map(|day| {
            let r = rows.iter().find(|r| r.day == day);
            let extra = if day == today { unwritten } else { (0, 0) };
            Day { day, tokens: r.map_or(0, |r| r.tokens) + extra.0, limited: r.map_or(0, |r| r.limited) + extra.1 }
        })
        .collect())
}

/// Delete a client's days (with the client).
pub async fn forget(db: &Db, client_id: &str) -> Result<()> {
    client_daily::Entity::delete_many().filter(client_daily::Column::ClientId.eq(client_id)).exec(db).await?;
    Ok(())
}
