//! The test harness, by concern. Tests import everything from
//! `crate::support` (re-exported here).
pub mod browser;
pub mod fixtures;
pub mod logs;
pub mod processes;
pub mod server;

pub use browser::*;
pub use fixtures::*;
pub use logs::*;
pub use processes::*;
pub use server::*;

/// The `p` quantile (0.99 for p99) of latencies, nearest rank; zero when there are none.
pub fn percentile(mut v: Vec<std::time::Duration>, p: f64) -> std::time::Duration {
    v.sort();
    v.get(((v.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or_default()
}

/// The value of one series (`name{labels}`) in a `/metrics` text; zero when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines().find(|l| l.starts_with(series) && l[series.len()..].starts_with(' ')).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}
