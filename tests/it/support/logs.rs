//! The log lines the server writes during the tests, captured so tests can
//! assert that no secret ever reaches a log.
/// Every log line the server code writes during the tests, so tests can
/// check that no secret ever reaches a log. Client-side libraries' lines
/// (reqwest, hyper, openidconnect) are not the server's and are left out.
static LOGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        !["reqwest", "hyper", "h2", "openidconnect", "oauth2", "rustls", "tokio_util"].iter().any(|p| m.target().starts_with(p))
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let line = format!("{} {} {}", r.level(), r.target(), r.args());
            if std::env::var_os("TESSERA_TEST_LOG").is_some() {
                eprintln!("{line}");
            }
            if let Ok(mut v) = LOGS.lock() {
                v.push(line);
            }
        }
    }
    fn flush(&self) {}
}

pub fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if log::set_logger(&Capture).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
}

/// All captured log lines so far.
pub fn captured_logs() -> Vec<String> {
    LOGS.lock().map(|v| v.clone()).unwrap_or_default()
}
