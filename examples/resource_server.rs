//! A resource server that verifies Tessera access tokens offline.
//!
//! ```sh
//! TESSERA_ISSUER=http://127.0.0.1:8080 RS_AUDIENCE=http://127.0.0.1:8080 RS_BIND=127.0.0.1:8081 \
//!   cargo run --example resource_server
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8081/data
//! ```
//!
//! What it does, as any resource server in any language should:
//! * reads `jwks_uri` from the issuer's discovery document;
//! * caches the JWKS for its `Cache-Control: max-age`, and refetches early
//!   when a token names an unknown `kid` — at most once per `REFETCH_GAP`,
//!   so garbage tokens cannot make it hammer the issuer;
//! * takes the algorithm from the JWK, never from the token: RS256, ES256 or
//!   EdDSA, and only the key's own (no `none`, no HS256 with the public key
//!   as a secret); requires `typ: at+jwt`; checks `iss`, `aud`, `exp` with a
//!   small leeway, then the `scope` claim;
//! * answers 401 `invalid_token` / 403 `insufficient_scope` with
//!   `WWW-Authenticate` as RFC 6750 §3 says.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

/// Shortest time between two JWKS fetches caused by unknown key ids.
pub const REFETCH_GAP: Duration = Duration::from_secs(1);
pub const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub client_id: String,
    pub scope: String,
}

struct Cache {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    fresh_until: Instant,
    last_fetch: Option<Instant>,
}

pub struct Verifier {
    issuer: String,
    audience: String,
    jwks_uri: String,
    http: reqwest::Client,
    cache: RwLock<Cache>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    InvalidToken(String),
    InsufficientScope(&'static str),
}

fn max_age(headers: &reqwest::header::HeaderMap) -> Duration {
    let secs = headers
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(|d| d.trim().strip_prefix("max-age=").and_then(|n| n.parse::<u64>().ok())))
        .unwrap_or(60);
    Duration::from_secs(secs)
}

impl Verifier {
    /// Read the discovery document of `issuer`.
    pub async fn discover(issuer: &str, audience: &str) -> Result<Verifier, String> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().map_err(|e| e.to_string())?;
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let meta: serde_json::Value = http.get(&url).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
        if meta["issuer"] != issuer {
            return Err(format!("discovery names issuer {} instead of {issuer}", meta["issuer"]));
        }
        let jwks_uri = meta["jwks_uri"].as_str().ok_or("no jwks_uri")?.to_string();
        let v = Verifier {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_uri,
            http,
            cache: RwLock::new(Cache { keys: HashMap::new(), fresh_until: Instant::now(), last_fetch: None }),
        };
        v.fetch().await?;
        Ok(v)
    }

    async fn fetch(&self) -> Result<(), String> {
        let r = self.http.get(&self.jwks_uri).send().await.map_err(|e| e.to_string())?;
        let ttl = max_age(r.headers());
        let set: jsonwebtoken::jwk::JwkSet = r.json().await.map_err(|e| e.to_string())?;
        let mut keys = HashMap::new();
        use jsonwebtoken::jwk::KeyAlgorithm as K;
        for jwk in &set.keys {
            let alg = match jwk.common.key_algorithm {
                Some(K::RS256) => Algorithm::RS256,
                Some(K::ES256) => Algorithm::ES256,
                Some(K::EdDSA) => Algorithm::EdDSA,
                _ => continue, // a key without a supported `alg` is not trusted
            };
            if let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) {
                keys.insert(kid, (alg, key));
            }
        }
        let mut c = self.cache.write().await;
        c.keys = keys;
        c.fresh_until = Instant::now() + ttl;
        c.last_fetch = Some(Instant::now());
        Ok(())
    }

    /// The key for `kid`, refetching the JWKS when stale or when `kid` is new.
    async fn key(&self, kid: &str) -> Option<(Algorithm, DecodingKey)> {
        {
            let c = self.cache.read().await;
            let stale = Instant::now() >= c.fresh_until;
            if !stale {
                if let Some(k) = c.keys.get(kid) {
                    return Some(k.clone());
                }
            }
            let may_refetch = stale || c.last_fetch.is_none_or(|t| t.elapsed() >= REFETCH_GAP);
            if !may_refetch {
                return None;
            }
        }
        if let Err(e) = self.fetch().await {
            eprintln!("JWKS fetch failed: {e}");
        }
        self.cache.read().await.keys.get(kid).cloned()
    }

    pub async fn verify(&self, token: &str, scope: &'static str) -> Result<Claims, AuthError> {
        let bad = |m: &str| AuthError::InvalidToken(m.to_string());
        let h = jsonwebtoken::decode_header(token).map_err(|_| bad("malformed token"))?;
        if !h.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")) {
            return Err(bad("not an access token (typ must be at+jwt)"));
        }
        let kid = h.kid.ok_or_else(|| bad("no kid"))?;
        let (alg, key) = self.key(&kid).await.ok_or_else(|| bad("unknown signing key"))?;
        if h.alg != alg {
            return Err(bad("the token's alg is not its key's"));
        }
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.leeway = LEEWAY_SECS;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &v).map_err(|e| bad(&e.to_string()))?.claims;
        if !claims.scope.split(' ').any(|s| s == scope) {
            return Err(AuthError::InsufficientScope(scope));
        }
        Ok(claims)
    }
}

fn refuse(e: AuthError) -> HttpResponse {
    let (mut r, challenge) = match &e {
        AuthError::Missing => (HttpResponse::Unauthorized(), "Bearer realm=\"api\"".to_string()),
        AuthError::InvalidToken(d) => (
            HttpResponse::Unauthorized(),
            format!("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{}\"", d.replace('"', "'")),
        ),
        AuthError::InsufficientScope(s) => {
            (HttpResponse::Forbidden(), format!("Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"{s}\""))
        }
    };
    r.insert_header((header::WWW_AUTHENTICATE, challenge)).finish()
}

async fn authorize(v: &Verifier, req: &HttpRequest, scope: &'static str) -> Result<Claims, AuthError> {
    let h = req.headers().get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).ok_or(AuthError::Missing)?;
    let token = h.strip_prefix("Bearer ").ok_or(AuthError::Missing)?;
    v.verify(token.trim(), scope).await
}

async fn read_data(v: web::Data<Verifier>, req: HttpRequest) -> HttpResponse {
    match authorize(&v, &req, "read:data").await {
        Ok(c) => HttpResponse::Ok().json(serde_json::json!({"owner": c.sub, "client": c.client_id, "items": ["a", "b"]})),
        Err(e) => refuse(e),
    }
}

async fn write_data(v: web::Data<Verifier>, req: HttpRequest) -> HttpResponse {
    match authorize(&v, &req, "write:data").await {
        Ok(c) => HttpResponse::Created().json(serde_json::json!({"owner": c.sub, "stored": true})),
        Err(e) => refuse(e),
    }
}

pub fn routes(v: Arc<Verifier>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::from(v))
            .route("/data", web::get().to(read_data))
            .route("/data", web::post().to(write_data));
    }
}

#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let issuer = std::env::var("TESSERA_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
        let audience = std::env::var("RS_AUDIENCE").unwrap_or_else(|_| issuer.clone());
        let bind = std::env::var("RS_BIND").unwrap_or_else(|_| "127.0.0.1:8081".into());
        let v = Arc::new(Verifier::discover(&issuer, &audience).await.map_err(std::io::Error::other)?);
        println!("resource server on http://{bind}, trusting {issuer}");
        actix_web::HttpServer::new(move || actix_web::App::new().configure(routes(v.clone()))).bind(bind)?.run().await
    })
}
