//! The scope catalogue: every scope a client may be allowed, with the
//! description users read on the consent page.
use entity::scopes;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder};
use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Clone, Debug, Serialize)]
pub struct Scope {
    pub name: String,
    pub description: String,
    pub builtin: bool,
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<Scope>> {
    Ok(scopes::Entity::find()
        .order_by_asc(scopes::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|m| Scope { name: m.name, description: m.description, builtin: m.builtin })
        .collect())
}

/// Refuse any scope not in the catalogue, naming it.
pub async fn require_known(db: &DatabaseConnection, wanted: &[String]) -> Result<()> {
    let known = list(db).await?;
    match wanted.iter().find(|w| !known.iter().any(|k| &k.name == *w)) {
        Some(w) => Err(Error::validation(format!("unknown scope {w:?}; add it to the catalogue first"))),
        None => Ok(()),
    }
}

/// Store a scope that `oauth::registration::add_scope` checked.
pub async fn add(db: &DatabaseConnection, name: &str, description: &str) -> Result<Scope> {
    if scopes::Entity::find_by_id(name.to_string()).one(db).await?.is_some() {
        return Err(Error::Conflict(format!("scope {name} already exists")));
    }
    let am = scopes::ActiveModel { name: Set(name.into()), description: Set(description.trim().into()), builtin: Set(false) };
    scopes::Entity::insert(am).exec_without_returning(db).await?;
    Ok(Scope { name: name.into(), description: description.trim().into(), builtin: false })
}
