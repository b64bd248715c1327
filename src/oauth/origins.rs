//! Browser origins (CORS) for single-page apps: which origins may be
//! registered, and which may call the token, revocation and userinfo
//! endpoints. An origin is answered with CORS headers only when some client
//! registered it; a public client's token request is refused from an origin
//! it did not register (its only proof of identity at the token endpoint
//! is where it runs).
use crate::db::Db;

use crate::config::is_loopback_host;
use crate::error::Result;
use crate::registry::clients::{Client, ClientType};
#[cfg(test)]
use crate::registry::clients;

/// Check an origin for registration: `scheme://host[:port]` exactly, https
/// (http only on loopback, for development); the error says what is wrong.
pub fn validate(origin: &str) -> std::result::Result<(), String> {
    let url = url::Url::parse(origin).map_err(|e| format!("{origin}: not an origin ({e})"))?;
    let loopback = url.host().is_some_and(|h| is_loopback_host(&h));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(format!("{origin}: an origin must be https (http only on 127.0.0.1, [::1] or localhost)")),
    }
    if url.origin().ascii_serialization() != origin {
        return Err(format!("{origin}: an origin is scheme://host[:port] with nothing after it, e.g. https://app.example.com"));
    }
    Ok(())
}

/// Whether `client` may send a token request from `origin`: a public client
/// only from an origin it registered; a confidential client authenticates
/// with its secret, whose origin says nothing more.
pub fn allowed_for(client: &Client, origin: &str) -> bool {
    client.client_type == ClientType::Confidential || client.allowed_origins.iter().any(|o| o == origin)
}

/// Whether any client registered `origin` (then the endpoints answer it
/// with CORS headers). One indexed-free query that returns only candidate
/// rows' origin lists, checked exactly here.
pub async fn registered(db: &Db, origin: &str) -> Result<bool> {
    use entity::clients as c;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let candidates: Vec<String> = c::Entity::find()
        .select_only()
        .column(c::Column::AllowedOrigins)
        .filter(c::Column::AllowedOrigins.contains(origin))
        .limit(64)
        .into_tuple()
        .all(db)
        .await?;
    Ok(candidates.iter().any(|list| crate::db::split_list(list).iter().any(|o| o == origin)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_port_only() {
        assert!(validate("https://app.example.com").is_ok());
        assert!(validate("https://app.example.com:8443").is_ok());
        assert!(validate("http://127.0.0.1:3998").is_ok());
        assert!(validate("http://app.example.com").unwrap_err().contains("https"));
        assert!(validate("https://app.example.com/").unwrap_err().contains("nothing after it"));
        assert!(validate("https://app.example.com/spa").is_err());
        assert!(validate("https://APP.example.com").is_err(), "browsers send the lowercase form");
        assert!(validate("*").is_err());
        assert!(validate("null").is_err());
    }

    #[test]
    fn a_public_client_only_from_its_origins() {
        let mut spa = clients::test_client("spa", ClientType::Public, None, "active");
        spa.allowed_origins = vec!["https://app.example.com".into()];
        assert!(allowed_for(&spa, "https://app.example.com"));
        assert!(!allowed_for(&spa, "https://evil.example"));
        assert!(allowed_for(&clients::test_client("m", ClientType::Confidential, None, "active"), "https://any.example"));
    }
}
