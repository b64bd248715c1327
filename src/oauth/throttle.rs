//! Budgets of anonymous requests, by key (a session, an address): what the
//! device page's wrong user codes and `/register` spend. A request spends
//! on every key before it does anything (so concurrent requests cannot all
//! read the same count), and a refused one gets its spending back.
use crate::error::Result;
use crate::rate_limit::{decide, window_of};
use crate::store::TokenStore;

/// Spend one unit on each `(key, limit per minute)`; `Some(seconds)`:
/// refused, retry after so long (and nothing stays spent).
pub async fn spend(store: &dyn TokenStore, keys: &[(String, i64)], now_ms: i64) -> Result<Option<i64>> {
    let (window, elapsed) = window_of(now_ms);
    for (i, (key, limit)) in keys.iter().enumerate() {
        let (prev, cur) = store.rate_add(key, window, 1).await?;
        let d = decide(prev, cur, elapsed, *limit, 1);
        if !d.allowed {
            for (k, _) in &keys[..=i] {
                store.rate_refund(k, window, 1).await?;
            }
            return Ok(Some(d.retry_after_secs));
        }
    }
    Ok(None)
}

/// Give back what [`spend`] spent (a request that turned out not to count).
pub async fn refund(store: &dyn TokenStore, keys: &[(String, i64)], now_ms: i64) -> Result<()> {
    let (window, _) = window_of(now_ms);
    for (k, _) in keys {
        store.rate_refund(k, window, 1).await?;
    }
    Ok(())
}
