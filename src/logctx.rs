//! Which request a log line belongs to: every request runs in a scope that
//! holds its id (`X-Request-Id`, taken from a trusted proxy or made here)
//! and, once known, its client; the log format and the audit trail read
//! them from there. `TESSERA_LOG_FORMAT=json` writes one JSON object per
//! line. Log lines never carry tokens, codes, secrets or passwords (the
//! test suite greps everything it logged for them).
use std::cell::RefCell;
use std::future::Future;
use std::io::Write;

tokio::task_local! {
    static CTX: Ctx;
}

struct Ctx {
    id: String,
    client: RefCell<Option<String>>,
}

/// Run `f` as the request `id`.
pub async fn scope<F: Future>(id: String, f: F) -> F::Output {
    CTX.scope(Ctx { id, client: RefCell::new(None) }, f).await
}

/// The current request's id, if running inside one.
pub fn request_id() -> Option<String> {
    CTX.try_with(|c| c.id.clone()).ok()
}

/// Note the client the current request turned out to be.
pub fn set_client(client_id: &str) {
    let _ = CTX.try_with(|c| *c.client.borrow_mut() = Some(client_id.to_string()));
}

/// The current request's client, if known.
pub fn client() -> Option<String> {
    CTX.try_with(|c| c.client.borrow().clone()).ok().flatten()
}

/// A request id a proxy may hand us: 1–64 characters of `[A-Za-z0-9._-]`
/// (anything else could forge log lines).
pub fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A fresh request id.
pub fn new_id() -> String {
    crate::crypto::random_token(12)
}

/// One log line as JSON.
pub fn json_line(ts: &str, level: &str, target: &str, msg: &str, request_id: Option<&str>) -> String {
    let mut v = serde_json::json!({"ts": ts, "level": level, "target": target, "msg": msg});
    if let Some(id) = request_id {
        v["request_id"] = serde_json::json!(id);
    }
    v.to_string()
}

/// Install the process's logger: `RUST_LOG` filters, `TESSERA_LOG_FORMAT`
/// (`text`, the default, or `json`) shapes; both carry the request id.
pub fn init(default_filter: &str) {
    let json = std::env::var("TESSERA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_filter))
        .format(move |buf, r| {
            let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let id = request_id();
            match json {
                true => writeln!(buf, "{}", json_line(&ts, r.level().as_str(), r.target(), &r.args().to_string(), id.as_deref())),
                false => match id {
                    Some(id) => writeln!(buf, "[{ts} {} {}] {} req={id}", r.level(), r.target(), r.args()),
                    None => writeln!(buf, "[{ts} {} {}] {}", r.level(), r.target(), r.args()),
                },
            }
        })
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_proxies_are_plain() {
        assert!(valid_id("abc-123_x.y"));
        assert!(!valid_id(""));
        assert!(!valid_id("a b"));
        assert!(!valid_id("x\ninjected"));
        assert!(!valid_id(&"a".repeat(65)));
        assert!(valid_id(&new_id()));
    }

    #[test]
    fn json_lines_are_json() {
        let l = json_line("t", "INFO", "tessera", "said \"hi\"\n", Some("r1"));
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!((v["msg"].as_str(), v["request_id"].as_str()), (Some("said \"hi\"\n"), Some("r1")));
        assert!(!l.contains('\n'), "one line");
    }

    #[tokio::test]
    async fn the_scope_holds_the_request_and_its_client() {
        assert_eq!(request_id(), None);
        let (id, client) = scope("r7".into(), async {
            set_client("c1");
            (request_id(), client())
        })
        .await;
        assert_eq!((id.as_deref(), client.as_deref()), (Some("r7"), Some("c1")));
    }
}
