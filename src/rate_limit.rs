//! Per-client rate limits: a sliding-window counter (the weighted sum of the
//! previous and the current fixed window), which — unlike a plain fixed
//! window — never admits twice the limit around a window boundary.
//!
//! The stores only keep counters; the decision is this pure function. A
//! request is counted first and refunded if refused, so concurrent requests
//! can only be refused too eagerly, never admitted beyond the limit.

/// The endpoints that are limited, each with its own cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Introspect,
    Revoke,
    Userinfo,
    /// `/admin/api/*`, counted against the token's client.
    Admin,
    /// `/par`, pushed authorization requests.
    Par,
    /// `/device_authorization` (RFC 8628).
    Device,
}

/// Limits and costs (`TESSERA_RATE_TIERS`, `TESSERA_RATE_COSTS`).
#[derive(Clone, Debug)]
pub struct Policy {
    pub free: i64,
    pub pro: i64,
    pub enterprise: i64,
    pub token_cost: i64,
    pub introspect_cost: i64,
    pub revoke_cost: i64,
    pub userinfo_cost: i64,
    pub admin_cost: i64,
    pub par_cost: i64,
    pub device_cost: i64,
    /// When the counter store is down: refuse (503, the default) or let requests through.
    pub fail_open: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            free: 100,
            pro: 1000,
            enterprise: 10_000,
            token_cost: 2,
            introspect_cost: 1,
            revoke_cost: 1,
            userinfo_cost: 1,
            admin_cost: 1,
            par_cost: 1,
            device_cost: 1,
            fail_open: false,
        }
    }
}

impl Policy {
    /// Requests (cost units) per minute for a client: its own number, else its tier's.
    pub fn limit_for(&self, tier: &str, explicit: Option<i64>) -> i64 {
        explicit.unwrap_or(match tier {
            "pro" => self.pro,
            "enterprise" => self.enterprise,
            _ => self.free,
        })
    }

    pub fn cost(&self, e: Endpoint) -> i64 {
        match e {
            Endpoint::Token => self.token_cost,
            Endpoint::Introspect => self.introspect_cost,
            Endpoint::Revoke => self.revoke_cost,
            Endpoint::Userinfo => self.userinfo_cost,
            Endpoint::Admin => self.admin_cost,
            Endpoint::Par => self.par_cost,
            Endpoint::Device => self.device_cost,
        }
    }

    /// Parse `name=number` pairs (comma-separated) into the policy.
    pub fn apply(&mut self, spec: &str) -> Result<(), String> {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not name=number"))?;
            let n: i64 = v.trim().parse().ok().filter(|n| *n >= 1).ok_or_else(|| format!("{pair:?}: not a positive number"))?;
            let slot = match k.trim() {
                "free" => &mut self.free,
                "pro" => &mut self.pro,
                "enterprise" => &mut self.enterprise,
                "token" => &mut self.token_cost,
                "introspect" => &mut self.introspect_cost,
                "revoke" => &mut self.revoke_cost,
                "userinfo" => &mut self.userinfo_cost,
                "admin" => &mut self.admin_cost,
                "par" => &mut self.par_cost,
                "device" => &mut self.device_cost,
                other => return Err(format!("unknown name {other:?}")),
            };
            *slot = n;
        }
        Ok(())
    }
}

/// The login lockout: after `after` consecutive failures a name is locked
/// for `first_secs`, doubling with every further failure up to `max_secs`;
/// a success forgets the failures, and so do `memory_secs` without one.
/// One mechanism for every name, an account's or not, so that a lock says
/// nothing about which accounts exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLock {
    pub after: i64,
    pub first_secs: i64,
    pub max_secs: i64,
    pub memory_secs: i64,
}

/// Five failures lock for 30 s, then 60 s, 120 s … up to 15 min; a day
/// without a failure forgets them.
pub const LOGIN_LOCK: LoginLock = LoginLock { after: 5, first_secs: 30, max_secs: 15 * 60, memory_secs: 86_400 };

impl LoginLock {
    /// How long a name stays locked after its `failures`-th consecutive failure.
    pub fn lock_secs(&self, failures: i64) -> Option<i64> {
        if failures < self.after {
            return None;
        }
        let doublings = (failures - self.after).min(16) as u32;
        Some((self.first_secs << doublings).min(self.max_secs))
    }
}

/// The window every limit is expressed in: requests per minute.
pub const WINDOW_MS: i64 = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: i64,
    /// Cost units left in the sliding window after this request.
    pub remaining: i64,
    /// Seconds until the window has fully slid past what is counted now.
    pub reset_secs: i64,
    /// When refused: seconds until a request of this cost would be admitted.
    pub retry_after_secs: i64,
}

/// Decide with `prev` and `cur` counts (cur already including this request's
/// `cost`) at `elapsed_ms` into the current window.
pub fn decide(prev: i64, cur: i64, elapsed_ms: i64, limit: i64, cost: i64) -> Decision {
    let elapsed_ms = elapsed_ms.clamp(0, WINDOW_MS - 1);
    let weight = (WINDOW_MS - elapsed_ms) as f64 / WINDOW_MS as f64;
    let estimate = prev as f64 * weight + cur as f64;
    let allowed = estimate <= limit as f64;
    let remaining = if allowed { (limit as f64 - estimate).floor() as i64 } else { 0 };
    let reset_secs = ((2 * WINDOW_MS - elapsed_ms) as f64 / 1000.0).ceil() as i64;
    let retry_after_secs = if allowed {
        0
    } else {
        // Without this request: what is counted, and when the previous window's
        // share decays enough for `cost` to fit.
        let base = cur - cost;
        let ms = if base + cost > limit {
            // Even with the previous window gone it does not fit: wait for the next window,
            // where `base` becomes the previous count and decays in turn.
            let frac = if base > 0 { 1.0 - (limit - cost).max(0) as f64 / base as f64 } else { 0.0 };
            (WINDOW_MS - elapsed_ms) as f64 + frac.max(0.0) * WINDOW_MS as f64
        } else {
            // prev * (W - e - d)/W + base + cost <= limit  →  d = W - e - W*(limit - base - cost)/prev
            let d = (WINDOW_MS - elapsed_ms) as f64 - WINDOW_MS as f64 * (limit - base - cost) as f64 / prev.max(1) as f64;
            d.max(0.0)
        };
        ((ms / 1000.0).ceil() as i64).max(1)
    };
    Decision { allowed, limit, remaining, reset_secs, retry_after_secs }
}

/// Window index and position for a time in milliseconds.
pub fn window_of(now_ms: i64) -> (i64, i64) {
    (now_ms.div_euclid(WINDOW_MS), now_ms.rem_euclid(WINDOW_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_locks_grow_and_cap() {
        assert_eq!(LOGIN_LOCK.lock_secs(4), None);
        assert_eq!(LOGIN_LOCK.lock_secs(5), Some(30));
        assert_eq!(LOGIN_LOCK.lock_secs(6), Some(60));
        assert_eq!(LOGIN_LOCK.lock_secs(7), Some(120));
        assert_eq!(LOGIN_LOCK.lock_secs(40), Some(15 * 60));
    }

    #[test]
    fn admits_up_to_the_limit_in_one_window() {
        assert!(decide(0, 100, 30_000, 100, 1).allowed);
        let d = decide(0, 101, 30_000, 100, 1);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        // cur alone is over: wait into the next window
        assert!(d.retry_after_secs >= 30, "{d:?}");
    }

    #[test]
    fn no_double_burst_at_the_boundary() {
        // 100 requests at the very end of window 0, then at the start of window 1:
        // the previous window still weighs almost fully.
        // A fixed window would admit 100 more here; the sliding one admits ~1.
        assert!(decide(100, 1, 1_000, 100, 1).allowed);
        let d = decide(100, 3, 1_000, 100, 1);
        assert!(!d.allowed, "{d:?}");
        // halfway through window 1, half of it has slid out
        assert!(decide(100, 50, 30_000, 100, 1).allowed);
        assert!(!decide(100, 51, 30_001, 100, 1).allowed);
        // retry-after tells when the decay lets one more in
        let later_ms = 1_000 + d.retry_after_secs * 1000;
        assert!(decide(100, 3, later_ms, 100, 1).allowed, "{d:?}");
        assert!(!decide(100, 3, later_ms - 1000, 100, 1).allowed, "{d:?}");
    }

    #[test]
    fn policy_parsing() {
        let mut p = Policy::default();
        p.apply("free=5, token=3").unwrap();
        assert_eq!(p.limit_for("free", None), 5);
        assert_eq!(p.limit_for("pro", None), 1000);
        assert_eq!(p.limit_for("pro", Some(7)), 7);
        assert_eq!(p.cost(Endpoint::Token), 3);
        assert!(p.apply("gold=1").is_err());
        assert!(p.apply("free=0").is_err());
        assert!(p.apply("free").is_err());
    }

    #[test]
    fn costs_count() {
        assert!(decide(0, 10, 0, 10, 5).allowed);
        assert!(!decide(0, 15, 0, 10, 5).allowed);
    }
}
