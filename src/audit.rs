//! The audit trail: one `audit_events` row and one log line per event that
//! matters to security (who, what, which client and user, from where).
//! Nothing secret is ever passed in: callers give ids, never tokens.
use entity::audit_events;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, NotSet};
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
        target: "tessera::audit",
        "{} actor={} client={} user={} ip={}",
        e.event,
        e.actor.unwrap_or("-"),
        e.client_id.unwrap_or("-"),
        e.user_id.unwrap_or("-"),
        e.ip.unwrap_or("-")
    );
    let am = audit_events::ActiveModel {
        id: NotSet,
        at: Set(crate::db::now()),
        event: Set(e.event.to_string()),
        actor: Set(e.actor.map(str::to_string)),
        client_id: Set(e.client_id.map(str::to_string)),
        user_id: Set(e.user_id.map(str::to_string)),
        ip: Set(e.ip.map(str::to_string)),
        detail: Set(e.detail.unwrap_or(Value::Object(Default::default())).to_string()),
    };
    if let Err(err) = audit_events::Entity::insert(am).exec_without_returning(db).await {
        log::error!("audit event {} not written: {err}", e.event);
    }
}
