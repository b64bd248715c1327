//! Users: accounts, argon2id password hashes, and the login check.
//!
//! A failed login says nothing about which part was wrong: an unknown
//! username costs the same argon2 verification as a wrong password.
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use entity::users;
use crate::db::Db;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::registry::audit::{self, Event};
use crate::db::now;
use crate::error::{Error, Result};

pub const ROLES: &[&str] = &["user", "developer", "admin"];

#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub role: String,
    pub created_at: i64,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// Signed up as a developer; waits for an admin's approval.
    pub developer_requested: bool,
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> User {
        User {
            user_id: m.user_id,
            username: m.username,
            email: m.email,
            email_verified: m.email_verified,
            role: m.role,
            created_at: m.created_at,
            disabled: m.disabled,
            developer_requested: m.developer_requested,
        }
    }
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
    pub fn is_developer(&self) -> bool {
        self.role == "developer" || self.role == "admin"
    }
}

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Config(format!("password hashing failed: {e}")))
}

fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A fixed hash verified when the username is unknown, so both failures cost the same.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password").unwrap_or_default())
}

/// Username rules: 3–64 of `[a-z0-9._-]`, lowercase.
pub fn validate_username(u: &str) -> Result<()> {
    let ok = (3..=64).contains(&u.len())
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::validation("username must be 3 to 64 characters of a-z, 0-9, '.', '_' or '-'"))
    }
}

/// Create a user (argon2id-hashed password); `actor` is who did it, for the audit trail.
pub async fn create(db: &Db, username: &str, email: &str, password: &str, role: &str, actor: Option<&str>) -> Result<User> {
    insert(db, NewUser { username, email, password, role, developer_requested: false }, actor).await
}

/// An account to create.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub role: &'a str,
    /// Signed up as a developer, waiting for an admin.
    pub developer_requested: bool,
}

/// Create an account after checking every field.
pub async fn insert(db: &Db, n: NewUser<'_>, actor: Option<&str>) -> Result<User> {
    let NewUser { username, email, password, role, developer_requested } = n;
    validate_username(username)?;
    if !ROLES.contains(&role) {
        return Err(Error::validation(format!("role must be one of {}", ROLES.join(", "))));
    }
    let at = email.find('@');
    if email.len() > 254 || at.is_none_or(|i| i == 0 || i == email.len() - 1) || email.contains(char::is_whitespace) {
        return Err(Error::validation("email must look like name@example.com"));
    }
    if password.chars().count() < 8 {
        return Err(Error::validation("password must be at least 8 characters"));
    }
    if users::Entity::find().filter(users::Column::Username.eq(username)).one(db).await?.is_some() {
        return Err(Error::Conflict(format!("username {username} is taken")));
    }
    let hash = hash_password(password)?;
    let am = users::ActiveModel {
        user_id: Set(uuid::Uuid::new_v4().to_string()),
        username: Set(username.into()),
        email: Set(email.into()),
        email_verified: Set(false),
        password_hash: Set(hash),
        role: Set(role.into()),
        created_at: Set(now()),
        disabled: Set(false),
        developer_requested: Set(developer_requested),
    };
    let m = users::Entity::insert(am).exec_with_returning(db).await?;
    audit::record(db, Event { event: "user.created", user_id: Some(&m.user_id), actor, ..Default::default() })
        .await;
    Ok(m.into())
}

pub async fn get(db: &Db, user_id: &str) -> Result<Option<User>> {
    Ok(users::Entity::find_by_id(user_id.to_string()).one(db).await?.map(User::from))
}

/// A user and their consent for one client, in one query (a left join):
/// what `/authorize` needs to decide between login, consent and a code.
pub async fn with_consent(db: &Db, user_id: &str, client_id: &str) -> Result<Option<(User, Option<crate::registry::consents::Grant>)>> {
    use sea_orm::sea_query::{Expr, IntoCondition};
    use sea_orm::{JoinType, QuerySelect};
    let client_id = client_id.to_string();
    // users LEFT JOIN grants ON grants.user_id = users.user_id AND grants.client_id = $client
    let on = users::Entity::belongs_to(entity::grants::Entity)
        .from(users::Column::UserId)
        .to(entity::grants::Column::UserId)
        .on_condition(move |_user, grant| Expr::col((grant, entity::grants::Column::ClientId)).eq(client_id.clone()).into_condition());
    let row = users::Entity::find_by_id(user_id.to_string())
        .join(JoinType::LeftJoin, on.into())
        .select_also(entity::grants::Entity)
        .one(db)
        .await?;
    Ok(row.map(|(u, g)| (User::from(u), g.map(Into::into))))
}

pub async fn find_by_username(db: &Db, username: &str) -> Result<Option<User>> {
    Ok(users::Entity::find().filter(users::Column::Username.eq(username)).one(db).await?.map(User::from))
}

pub async fn list(db: &Db) -> Result<Vec<User>> {
    Ok(users::Entity::find().order_by_asc(users::Column::Username).all(db).await?.into_iter().map(User::from).collect())
}

/// The outcome of a login attempt.
#[derive(Debug)]
pub enum Login {
    Ok(User),
    /// Wrong username or password (never says which).
    Invalid,
    /// Too many failures for this account or from this address; try later.
    Throttled { retry_after_secs: i64 },
    /// The password was right, but the account is disabled.
    Disabled,
}

static ARGON2_SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
});

/// Disable an account (or enable it again). Disabling ends its sessions
/// everywhere and revokes its tokens at every app (refresh families, live
/// access tokens): a disabled account holds nothing.
pub async fn set_disabled(db: &Db, store: &dyn crate::store::TokenStore, user_id: &str, disabled: bool, actor: Option<&str>) -> Result<User> {
    let res = users::Entity::update_many()
        .col_expr(users::Column::Disabled, sea_orm::sea_query::Expr::value(disabled))
        .filter(users::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound(format!("user {user_id}")));
    }
    let mut tokens = 0;
    if disabled {
        store.end_user_sessions(user_id).await?;
        for app in crate::registry::consents::list_for_user(db, user_id).await? {
            tokens += store.revoke_user_client(user_id, &app.grant.client_id, now()).await?;
        }
    }
    let event = if disabled { "user.disabled" } else { "user.enabled" };
    let detail = Some(serde_json::json!({"tokens_revoked": tokens}));
    audit::record(db, Event { event, actor, user_id: Some(user_id), detail, ..Default::default() }).await;
    get(db, user_id).await?.ok_or_else(|| Error::NotFound(format!("user {user_id}")))
}

/// Someone signs up as a developer (`TESSERA_DEVELOPER_SIGNUP`): a
/// developer at once (`open`), or an account whose request waits for an
/// admin (`approval`). `closed`: there is no sign-up.
pub async fn sign_up(db: &Db, mode: crate::config::SignupMode, username: &str, email: &str, password: &str, ip: Option<&str>) -> Result<User> {
    use crate::config::SignupMode;
    let (role, developer_requested) = match mode {
        SignupMode::Closed => return Err(Error::NotFound("sign-up".into())),
        SignupMode::Approval => ("user", true),
        SignupMode::Open => ("developer", false),
    };
    let u = insert(db, NewUser { username, email, password, role, developer_requested }, Some("sign-up")).await?;
    let detail = Some(serde_json::json!({"developer_requested": developer_requested, "role": role}));
    audit::record(db, Event { event: "user.signed_up", user_id: Some(&u.user_id), ip, detail, ..Default::default() }).await;
    Ok(u)
}

/// Give a user a role (`user`, `developer` or `admin`); an approval of a
/// developer request is the role `developer`, and clears the request.
pub async fn set_role(db: &Db, store: &dyn crate::store::TokenStore, user_id: &str, role: &str, actor: Option<&str>) -> Result<User> {
    if !ROLES.contains(&role) {
        return Err(Error::validation(format!("role must be one of {}", ROLES.join(", "))));
    }
    let before = get(db, user_id).await?.ok_or_else(|| Error::NotFound(format!("user {user_id}")))?;
    users::Entity::update_many()
        .col_expr(users::Column::Role, sea_orm::sea_query::Expr::value(role))
        .col_expr(users::Column::DeveloperRequested, sea_orm::sea_query::Expr::value(false))
        .filter(users::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    // A role taken away ends the sessions that carried it.
    if before.is_admin() && role != "admin" || before.is_developer() && role == "user" {
        store.end_user_sessions(user_id).await?;
    }
    let detail = Some(serde_json::json!({"from": before.role, "to": role}));
    audit::record(db, Event { event: "user.role_changed", actor, user_id: Some(user_id), detail, ..Default::default() }).await;
    get(db, user_id).await?.ok_or_else(|| Error::NotFound(format!("user {user_id}")))
}

/// Approve a developer request: the account becomes a developer. Refused
/// when it asked for nothing (use [`set_role`] to make anyone a developer).
pub async fn approve_developer(db: &Db, store: &dyn crate::store::TokenStore, user_id: &str, actor: Option<&str>) -> Result<User> {
    let u = get(db, user_id).await?.ok_or_else(|| Error::NotFound(format!("user {user_id}")))?;
    if !u.developer_requested {
        return Err(Error::Conflict(format!("{} has not asked to become a developer", u.username)));
    }
    set_role(db, store, user_id, "developer", actor).await
}

/// Lift the login lock of an account (its failures are forgotten).
pub async fn unlock(db: &Db, store: &dyn crate::store::TokenStore, user_id: &str, actor: Option<&str>) -> Result<User> {
    let u = get(db, user_id).await?.ok_or_else(|| Error::NotFound(format!("user {user_id}")))?;
    store.login_succeeded(&u.username).await?;
    audit::record(db, Event { event: "user.unlocked", actor, user_id: Some(user_id), ..Default::default() }).await;
    Ok(u)
}

/// Failures before a name locks (the whole policy: `rate_limit::LOGIN_LOCK`).
pub const LOCK_AFTER: i64 = crate::rate_limit::LOGIN_LOCK.after;
/// Failed logins from one address per minute before it is throttled.
pub const IP_FAILURES_PER_MIN: i64 = 20;

/// Check a username and password, with throttling: per name typed (a
/// growing lock after repeated failures, `rate_limit::LOGIN_LOCK`; per name,
/// so an attacker cannot lock everyone out at once, and the same for names
/// that match no account, so a lock reveals nothing), and per client
/// address. A success forgets the name's failures.
///
/// Every budget is spent *before* the password is checked, by an atomic
/// write that decides from its own result: concurrent guesses cannot all
/// read the same count and all be evaluated. A name's fifth failure locks it
/// as the attempt starts, so at most five guesses are ever evaluated per
/// lock period (one per period after that, each lock twice as long). What a
/// request spent and did not use (a success, or a refusal by the name's
/// lock) is given back to the address.
pub async fn authenticate(
    db: &Db,
    store: &dyn crate::store::TokenStore,
    username: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<Login> {
    use crate::rate_limit::{decide, window_of, LOGIN_LOCK};
    use crate::store::LoginAttempt;
    let username = username.to_lowercase();
    let t = now();
    let (window, elapsed) = window_of(chrono::Utc::now().timestamp_millis());
    let ip_key = ip.map(|i| format!("login-ip:{i}"));
    if let Some(k) = &ip_key {
        let (prev, cur) = store.rate_add(k, window, 1).await?;
        let d = decide(prev, cur, elapsed, IP_FAILURES_PER_MIN, 1);
        if !d.allowed {
            store.rate_refund(k, window, 1).await?;
            return Ok(Login::Throttled { retry_after_secs: d.retry_after_secs });
        }
    }
    let give_back_ip = || async {
        if let Some(k) = &ip_key {
            if let Err(e) = store.rate_refund(k, window, 1).await {
                log::warn!("login throttle refund failed: {e}");
            }
        }
    };
    let name: String = username.chars().take(128).collect();
    let locks_for = match store.login_attempt(&name, t, &LOGIN_LOCK).await? {
        LoginAttempt::Allowed { locks_for } => locks_for,
        LoginAttempt::Locked { until } => {
            give_back_ip().await;
            return Ok(Login::Throttled { retry_after_secs: until - t });
        }
    };
    let row = users::Entity::find().filter(users::Column::Username.eq(username.as_str())).one(db).await?;
    let hash = row.as_ref().map(|r| r.password_hash.clone()).unwrap_or_else(|| dummy_hash().to_string());
    let pw = password.to_string();
    // argon2id takes ~19 MiB and tens of milliseconds per check: at most one
    // check per core at a time, so a login flood queues instead of eating memory.
    let _permit = ARGON2_SLOTS.acquire().await.map_err(|_| Error::Config("login slots closed".into()))?;
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &pw)).await.unwrap_or(false);
    match row {
        Some(r) if ok => {
            store.login_succeeded(&name).await?;
            give_back_ip().await;
            Ok(if r.disabled { Login::Disabled } else { Login::Ok(r.into()) })
        }
        row => {
            let user_id = row.as_ref().map(|r| r.user_id.clone());
            // A name that matches no account is not recorded: it is sometimes
            // a password typed into the wrong field.
            crate::metrics::METRICS.event(crate::metrics::event::LOGIN_FAILED);
            let detail = serde_json::json!({"known_user": user_id.is_some()});
            audit::record(db, Event { event: "login.failed", user_id: user_id.as_deref(), ip, detail: Some(detail), ..Default::default() }).await;
            if let Some(secs) = locks_for {
                crate::metrics::METRICS.event(crate::metrics::event::LOGIN_LOCKED);
                let detail = serde_json::json!({"seconds": secs});
                audit::record(db, Event { event: "login.locked", user_id: user_id.as_deref(), ip, detail: Some(detail), ..Default::default() }).await;
            }
            Ok(Login::Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horsE"));
        assert!(!verify_password("not a hash", "x"));
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("Al").is_err());
        assert!(validate_username("ali ce").is_err());
    }

}
