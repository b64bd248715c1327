//! `/healthz` (the process answers) and `/readyz` (it can do its job: the
//! database and the token store answer).
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::app::Tessera;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(t: web::Data<Tessera>) -> HttpResponse {
    let db = t.db.ping().await.is_ok();
    let store = t.store.ping().await.is_ok();
    let body = json!({"database": db, "token_store": store, "store_kind": t.store.kind()});
    if db && store {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
