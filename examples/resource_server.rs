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
//!   `WWW-Authenticate` as RFC 6750 §3 says;
//! * a DPoP-bound token (`cnf.jkt`, RFC 9449) only with `Authorization:
//!   DPoP` and a proof: `typ: dpop+jwt`, signed by the key in its header
//!   (ES256, EdDSA, RS256 or PS256) whose RFC 7638 thumbprint is the
//!   token's `cnf.jkt`, naming this request (`htm`, `htu`), fresh (`iat`),
//!   never seen before (`jti`), and carrying `ath`, the token's hash. Such a
//!   token sent as `Bearer` is refused with a `DPoP` challenge.
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
    /// The key a DPoP-bound token needs (RFC 9449 §6.1).
    #[serde(default)]
    pub cnf: Option<Cnf>,
}

#[derive(Debug, Deserialize)]
pub struct Cnf {
    pub jkt: String,
}

/// How long a DPoP proof counts as fresh, and its `jti` is remembered.
pub const PROOF_WINDOW_SECS: i64 = 300;

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    ath: Option<String>,
}

/// The RFC 7638 thumbprint of a public JWK: the required members, sorted, SHA-256.
pub fn thumbprint(jwk: &serde_json::Value) -> Option<String> {
    let m = |k: &str| jwk.get(k).and_then(|v| v.as_str()).map(|v| format!("\"{k}\":\"{v}\""));
    let members = match jwk.get("kty")?.as_str()? {
        "EC" => vec![m("crv")?, m("kty")?, m("x")?, m("y")?],
        "OKP" => vec![m("crv")?, m("kty")?, m("x")?],
        "RSA" => vec![m("e")?, m("kty")?, m("n")?],
        _ => return None,
    };
    use base64::Engine;
    use sha2::Digest;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(format!("{{{}}}", members.join(",")).as_bytes())))
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
    /// DPoP proof ids seen, with when they may be forgotten.
    seen: std::sync::Mutex<HashMap<String, i64>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    InvalidToken(String),
    InsufficientScope(&'static str),
    /// A DPoP-bound token without a good proof (challenge with `DPoP`).
    Dpop(String),
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
            seen: std::sync::Mutex::new(HashMap::new()),
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
        AuthError::Dpop(d) => (
            HttpResponse::Unauthorized(),
            format!("DPoP algs=\"ES256 EdDSA RS256 PS256\", error=\"invalid_token\", error_description=\"{}\"", d.replace('"', "'")),
        ),
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

impl Verifier {
    /// Check the DPoP proof of a request to `htu` presenting `token` bound to `jkt`.
    pub fn check_proof(&self, proof: &str, htm: &str, htu: &str, token: &str, jkt: &str, now: i64) -> Result<(), AuthError> {
        let bad = |m: &str| AuthError::Dpop(m.to_string());
        let h = jsonwebtoken::decode_header(proof).map_err(|_| bad("malformed DPoP proof"))?;
        if h.typ.as_deref() != Some("dpop+jwt") || !matches!(h.alg, Algorithm::ES256 | Algorithm::EdDSA | Algorithm::RS256 | Algorithm::PS256) {
            return Err(bad("a DPoP proof is typ dpop+jwt, signed with ES256, EdDSA, RS256 or PS256"));
        }
        let jwk = h.jwk.ok_or_else(|| bad("the proof carries no key"))?;
        let jwk_json = serde_json::to_value(&jwk).map_err(|_| bad("the proof's key"))?;
        if thumbprint(&jwk_json).as_deref() != Some(jkt) {
            return Err(bad("the proof is not signed by the key the token is bound to"));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad("the proof's key"))?;
        let mut val = Validation::new(h.alg);
        val.set_required_spec_claims::<&str>(&[]);
        val.validate_exp = false;
        val.validate_aud = false;
        let c = jsonwebtoken::decode::<ProofClaims>(proof, &key, &val).map_err(|_| bad("the proof's signature"))?.claims;
        let path_of = |u: &str| u.split(['?', '#']).next().unwrap_or("").to_string();
        if !c.htm.eq_ignore_ascii_case(htm) || path_of(&c.htu) != path_of(htu) {
            return Err(bad("the proof is for another request"));
        }
        if (c.iat - now).abs() > PROOF_WINDOW_SECS {
            return Err(bad("the proof is not fresh"));
        }
        use base64::Engine;
        use sha2::Digest;
        let ath = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()));
        if c.ath.as_deref() != Some(ath.as_str()) {
            return Err(bad("the proof's ath is not this token's hash"));
        }
        let mut seen = self.seen.lock().map_err(|_| bad("proof cache"))?;
        seen.retain(|_, until| *until > now);
        if seen.insert(format!("{jkt}:{}", c.jti), now + 2 * PROOF_WINDOW_SECS).is_some() {
            return Err(bad("the proof was used before"));
        }
        Ok(())
    }
}

async fn authorize(v: &Verifier, req: &HttpRequest, scope: &'static str) -> Result<Claims, AuthError> {
    let h = req.headers().get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).ok_or(AuthError::Missing)?;
    let (token, dpop) = match h.split_once(' ') {
        Some((s, t)) if s.eq_ignore_ascii_case("bearer") => (t.trim(), false),
        Some((s, t)) if s.eq_ignore_ascii_case("dpop") => (t.trim(), true),
        _ => return Err(AuthError::Missing),
    };
    let claims = v.verify(token, scope).await?;
    match (&claims.cnf, dpop) {
        (None, false) => Ok(claims),
        (None, true) => Err(AuthError::InvalidToken("this token is not DPoP-bound".into())),
        (Some(_), false) => Err(AuthError::Dpop("this token is DPoP-bound: send it with Authorization: DPoP and a proof".into())),
        (Some(cnf), true) => {
            let proof = req.headers().get("dpop").and_then(|p| p.to_str().ok()).ok_or_else(|| AuthError::Dpop("no DPoP proof".into()))?;
            let ci = req.connection_info();
            let htu = format!("{}://{}{}", ci.scheme(), ci.host(), req.path());
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
            v.check_proof(proof, req.method().as_str(), &htu, token, &cnf.jkt, now)?;
            Ok(claims)
        }
    }
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
