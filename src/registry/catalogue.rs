//! The scope catalogue: every scope a client may be allowed, with the
//! description users read on the consent page.
use entity::scopes;
use crate::db::Db;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};
use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Clone, Debug, Serialize)]
pub struct Scope {
    pub name: String,
    pub description: String,
    pub builtin: bool,
    /// Any app may get it through client_credentials without an admin's approval.
    pub machine_open: bool,
}

pub async fn list(db: &Db) -> Result<Vec<Scope>> {
    Ok(scopes::Entity::find()
        .order_by_asc(scopes::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|m| Scope { name: m.name, description: m.description, builtin: m.builtin, machine_open: m.machine_open })
        .collect())
}

/// Of `wanted`, the scopes a machine may not get without an admin's approval.
pub async fn needing_approval(db: &Db, wanted: &[String]) -> Result<Vec<String>> {
    let known = list(db).await?;
    Ok(wanted.iter().filter(|w| !known.iter().any(|k| &k.name == *w && k.machine_open)).cloned().collect())
}

/// Refuse any scope not in the catalogue, naming it.
pub async fn require_known(db: &Db, wanted: &[String]) -> Result<()> {
    let known = list(db).await?;
    match wanted.iter().find(|w| !known.iter().any(|k| &k.name == *w)) {
        Some(w) => Err(Error::validation(format!("unknown scope {w:?}; add it to the catalogue first"))),
        None => Ok(()),
    }
}

/// Store a scope that `oauth::registration::add_scope` checked.
pub async fn add(db: &Db, name: &str, description: &str, machine_open: bool) -> Result<Scope> {
    if scopes::Entity::find_by_id(name.to_string()).one(db).await?.is_some() {
        return Err(Error::Conflict(format!("scope {name} already exists")));
    }
    let am = scopes::ActiveModel {
        name: Set(name.into()),
        description: Set(description.trim().into()),
        builtin: Set(false),
        machine_open: Set(machine_open),
    };
    scopes::Entity::insert(am).exec_without_returning(db).await?;
    Ok(Scope { name: name.into(), description: description.trim().into(), builtin: false, machine_open })
}
