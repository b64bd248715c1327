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
