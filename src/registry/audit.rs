//! The audit trail: one `audit_events` row and one log line per event that
//! matters to security (who, what, which client and user, from where).
//! Nothing secret is ever passed in: callers give ids, never tokens.
use entity::audit_events;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

#[derive(Debug, Default, Clone)]
pub struct Event<'a> {
    pub event: &'a str,
    pub actor: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: Option<Value>,
}

/// Write an audit event. A failure to write is logged, not returned: the
/// action it records has already happened.
pub async fn record<C: ConnectionTrait>(db: &C, e: Event<'_>) {
    log::info!(
        target: "tessera::registry::audit",
        "{} actor={} client={} user={} ip={}",
        e.event,
        e.actor.unwrap_or("-"),
        e.client_id.unwrap_or("-"),
        e.user_id.unwrap_or("-"),
        e.ip.unwrap_or("-")
    );
    // The request it happened in, to find its log lines.
    let mut detail = e.detail.unwrap_or(Value::Object(Default::default()));
    if let (Some(id), Value::Object(o)) = (crate::logctx::request_id(), &mut detail) {
        o.insert("request_id".into(), Value::String(id));
    }
    let am = audit_events::ActiveModel {
        id: NotSet,
        at: Set(crate::db::now()),
        event: Set(e.event.to_string()),
        actor: Set(e.actor.map(str::to_string)),
        client_id: Set(e.client_id.map(str::to_string)),
        user_id: Set(e.user_id.map(str::to_string)),
        ip: Set(e.ip.map(str::to_string)),
        detail: Set(detail.to_string()),
    };
    if let Err(err) = audit_events::Entity::insert(am).exec_without_returning(db).await {
        log::error!("audit event {} not written: {err}", e.event);
    }
}

/// A stored audit event, as `tessera audit list` shows it.
#[derive(Debug, serde::Serialize)]
pub struct Record {
    pub id: i64,
    pub at: i64,
    pub event: String,
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Value,
}

#[derive(Debug, Default)]
pub struct Filter {
    pub since: Option<i64>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub event: Option<String>,
    pub limit: u64,
}

/// Parse `--since`: Unix seconds, an RFC 3339 time, or an age like `15m`, `2h`, `7d`.
pub fn parse_since(s: &str, now: i64) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    // the unit is the last character, whatever its width (schemathesis sent a no-break space)
    let (num, unit) = s.split_at(s.char_indices().last()?.0);
    let n: i64 = num.parse().ok()?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    now.checked_sub(n.checked_mul(secs)?)
}

impl Filter {
    /// A filter from the words of a request or a command line: `since` as
    /// [`parse_since`] reads it, `limit` capped at 1000 (default 100). The
    /// error says what was wrong with `since`. (The audit trail imports no
    /// error type: signing keys record to it, and the domain error wraps theirs.)
    pub fn new(
        since: Option<&str>,
        client_id: Option<String>,
        user_id: Option<String>,
        event: Option<String>,
        limit: Option<u64>,
    ) -> Result<Filter, String> {
        let since = match since {
            Some(s) => Some(
                parse_since(s, crate::db::now()).ok_or_else(|| format!("since {s:?}: give Unix seconds, RFC 3339 or an age like 2h"))?,
            ),
            None => None,
        };
        Ok(Filter { since, client_id, user_id, event, limit: limit.unwrap_or(100).min(1000) })
    }
}

pub async fn list<C: ConnectionTrait>(db: &C, f: &Filter) -> Result<Vec<Record>, sea_orm::DbErr> {
    let mut q = audit_events::Entity::find().order_by_desc(audit_events::Column::Id);
    if let Some(t) = f.since {
        q = q.filter(audit_events::Column::At.gte(t));
    }
    if let Some(c) = &f.client_id {
        q = q.filter(audit_events::Column::ClientId.eq(c.as_str()));
    }
    if let Some(u) = &f.user_id {
        q = q.filter(audit_events::Column::UserId.eq(u.as_str()));
    }
    if let Some(e) = &f.event {
        q = q.filter(audit_events::Column::Event.eq(e.as_str()));
    }
    let rows = q.limit(if f.limit == 0 { 100 } else { f.limit }).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|m| Record {
            id: m.id,
            at: m.at,
            event: m.event,
            actor: m.actor,
            client_id: m.client_id,
            user_id: m.user_id,
            ip: m.ip,
            detail: serde_json::from_str(&m.detail).unwrap_or(Value::Null),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn odd_ages_are_refused_not_a_panic() {
        let now = 1_000_000;
        assert_eq!(super::parse_since("15m", now), Some(now - 900));
        assert_eq!(super::parse_since("1\u{a0}", now), None);
        assert_eq!(super::parse_since("\u{a0}", now), None);
        assert_eq!(super::parse_since("", now), None);
        assert_eq!(super::parse_since("9223372036854775807d", now), None);
        assert_eq!(super::parse_since("-9223372036854775807d", now), None);
    }

    #[test]
    fn since_forms() {
        assert_eq!(super::parse_since("1700000000", 0), Some(1_700_000_000));
        assert_eq!(super::parse_since("2h", 10_000), Some(10_000 - 7200));
        assert_eq!(super::parse_since("1970-01-01T00:01:00Z", 0), Some(60));
        assert_eq!(super::parse_since("soon", 0), None);
        assert_eq!(super::parse_since("", 0), None);
    }
}
