//! Wiring: open what the configuration names (database, migrations, KEK,
//! signing keys, token store), build the services of `oauth` from it, and
//! run the background tick. No rule lives here: handlers reach the pieces
//! they need (`gate`, `issuer`, `discovery`, `db`, `store`, `keys`) and
//! pass each protocol function only those.
use std::sync::Arc;

use crate::db::Db;

use crate::config::Config;
use crate::error::Result;
use crate::keys::{Kek, KeyManager};
use crate::oauth::discovery::Discovery;
use crate::oauth::gate::Gate;
use crate::oauth::grants::Stores;
use crate::oauth::issuer::Issuer;
use crate::store::TokenStore;

pub struct Tessera {
    pub cfg: Config,
    pub db: Db,
    pub store: Arc<dyn TokenStore>,
    pub keys: Arc<KeyManager>,
    /// HMAC key of browser session cookies, derived from the KEK.
    pub session_key: ring::hmac::Key,
    /// Signs tokens and counts them per client.
    pub issuer: Issuer,
    /// Rate count, client authentication and refunds of metered endpoints.
    pub gate: Gate,
    /// Users' grants to clients, read again when a consent or a client changes.
    pub grants: crate::registry::consents::GrantCache,
    /// The discovery document, served from memory.
    pub discovery: Discovery,
    /// Tokens and rate-limit refusals per client, written on the background tick.
    pub tally: Arc<crate::registry::usage::Tally>,
    /// Requests to addresses clients register (no redirects, no private addresses).
    pub outbound: crate::outbound::Outbound,
    /// DPoP server nonces (RFC 9449 §8), the same on every instance.
    pub dpop: crate::oauth::dpop::Nonces,
}

impl Tessera {
    /// Connect, migrate, load (or create) the signing keys, open the token store.
    pub async fn open(cfg: Config) -> Result<Arc<Tessera>> {
        let db = crate::db::connect_with(&cfg.database_url, cfg.db_pool).await?;
        crate::db::migrate(&db).await?;
        let mut kek = Kek::load_or_create(&cfg.kek_file, cfg.create_kek)?;
        if let Some(prev) = &cfg.kek_previous_file {
            kek = kek.with_previous(Kek::load_or_create(prev, false)?);
        }
        if let Some((username, email, password)) = &cfg.admin {
            if crate::registry::users::find_by_username(&db, username).await?.is_none() {
                crate::registry::users::create(&db, username, email, password, "admin", Some("bootstrap")).await?;
                log::info!("bootstrap admin {username} created");
            }
        }
        let session_key = kek.derive_mac_key("session");
        let dpop = crate::oauth::dpop::Nonces::new(kek.derive_mac_key("dpop-nonce"), cfg.dpop_nonce_required);
        let keys = KeyManager::start(db.clone(), kek, cfg.key_policy()).await?;
        let store = crate::store::open(cfg.redis.as_ref(), &cfg.redis_prefix, cfg.redis_ca_file.as_deref(), &db).await?;
        log::info!("token store: {}", store.kind());
        let tally = Arc::new(crate::registry::usage::Tally::default());
        let issuer = Issuer::new(&cfg, keys.clone(), store.clone(), tally.clone());
        let outbound = crate::outbound::Outbound::new(cfg.outbound_allow_private, std::time::Duration::from_secs(5))
            .map_err(|e| crate::error::Error::Config(e.to_string()))?;
        let assertions = crate::oauth::gate::Assertions {
            keys: crate::oauth::client_assertion::ClientKeys::new(outbound.clone()),
            issuer: cfg.issuer.clone(),
            base: cfg.base().to_string(),
        };
        let gate = Gate::new(db.clone(), store.clone(), cfg.rate.clone(), tally.clone(), assertions);
        let discovery = Discovery::load(&cfg, &db).await?;
        Ok(Arc::new(Tessera { cfg, db, store, keys, session_key, issuer, gate, grants: Default::default(), discovery, tally, outbound, dpop }))
    }

    /// What grants and management calls read and write.
    pub fn stores(&self) -> Stores<'_> {
        Stores { db: &self.db, store: self.store.as_ref(), grants: &self.grants }
    }

    /// Run `server` with the periodic work ([`Tessera::background`]) beside
    /// it. When the server stops, the periodic work is stopped too, while the
    /// runtime still runs: a task dropped with the runtime would hand its
    /// database connection back to a pool that can no longer spawn, and
    /// sqlx panics then (inside the runtime's teardown, an abort).
    pub async fn run<F: std::future::Future>(self: Arc<Self>, server: F) -> F::Output {
        let background = actix_web::rt::spawn(self.background());
        let out = server.await;
        background.abort();
        let _ = background.await;
        out
    }

    /// Periodic work: pick up key changes made by other instances, rotate
    /// keys when due, flush usage counts, rebuild discovery, drop expired
    /// store entries, checkpoint the embedded database. Runs until
    /// [`Tessera::run`] stops it.
    async fn background(self: Arc<Self>) {
        tokio::join!(Arc::clone(&self).ticks(), Arc::clone(&self).checkpoints(), self.watch_credentials());
    }

    /// The embedded database's WAL, checkpointed here rather than inside a
    /// writer's commit (`db::checkpoint`). Returns at once on PostgreSQL.
    async fn checkpoints(self: Arc<Self>) {
        let mut tick = tokio::time::interval(crate::db::CHECKPOINT_EVERY);
        loop {
            tick.tick().await;
            match crate::db::checkpoint(&self.db).await {
                Ok(None) => return,
                Ok(Some(_)) => {}
                Err(e) => log::warn!("checkpointing the database's WAL failed: {e}"),
            }
        }
    }

    /// Read the store settings given as files again, every
    /// `TESSERA_SECRET_REFRESH_SECS` and whenever a store refuses our
    /// credentials (`store::credentials`); a changed one takes effect for
    /// the connections opened from then on.
    async fn watch_credentials(self: Arc<Self>) {
        let files = self.cfg.secret_files.clone();
        if files.is_empty() {
            return;
        }
        let read = |var: &str, p: &std::path::Path| match crate::config::read_secret_file(var, p) {
            Ok(v) => Some(v),
            Err(e) => {
                log::warn!("{e}");
                None
            }
        };
        let mut refused = crate::store::credentials::subscribe();
        let mut db_url = files.database_url.as_deref().and_then(|p| read("DATABASE_URL_FILE", p));
        let mut redis = files.redis.as_ref().and_then(|(p, _)| read("REDIS_URL_FILE", p));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.secret_refresh) => {}
                _ = refused.changed() => {}
            }
            if let Some(p) = &files.database_url {
                let now = read("DATABASE_URL_FILE", p);
                if now.is_some() && now != db_url {
                    match crate::db::set_url(&self.db, now.as_deref().unwrap_or_default()) {
                        Ok(_) => log::warn!("DATABASE_URL_FILE changed: new database connections use it"),
                        Err(e) => log::error!("DATABASE_URL_FILE changed, but cannot be used: {e}"),
                    }
                    db_url = now;
                }
            }
            if let Some((p, cluster)) = &files.redis {
                let now = read(if *cluster { "REDIS_CLUSTER_URLS_FILE" } else { "REDIS_URL_FILE" }, p);
                if let Some(v) = now.as_deref().filter(|_| now != redis) {
                    let target = match cluster {
                        false => Ok(crate::store::redis::Target::Node(v.to_string())),
                        true => crate::config::cluster_urls(v).map(crate::store::redis::Target::Cluster),
                    };
                    match target {
                        Ok(t) => match self.store.reconnect(&t).await {
                            Ok(()) => {
                                log::warn!("the Redis credentials file changed: reconnected");
                                redis = now;
                            }
                            // tried again at the next turn
                            Err(e) => log::error!("the Redis credentials file changed, but reconnecting failed: {e}"),
                        },
                        Err(e) => {
                            log::error!("{e}");
                            redis = now;
                        }
                    }
                }
            }
        }
    }

    async fn ticks(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.cfg.key_refresh_interval);
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            if let Err(e) = self.keys.reload().await {
                log::warn!("reloading signing keys failed: {e}");
            }
            if let Err(e) = self.keys.rotate_if_due().await {
                log::warn!("scheduled key rotation failed: {e}");
            }
            self.tally.flush(&self.db, self.store.as_ref(), crate::db::now()).await;
            if let Err(e) = self.discovery.rebuild(&self.cfg, &self.db).await {
                log::warn!("rebuilding the discovery document failed: {e}");
            }
            n += 1;
            if n % 30 == 0 {
                match self.store.purge_expired(crate::db::now()).await {
                    Ok(k) if k > 0 => log::debug!("purged {k} expired store entries"),
                    Ok(_) => {}
                    Err(e) => log::warn!("purging the token store failed: {e}"),
                }
                if let Err(e) = crate::registry::registration_tokens::purge(&self.db).await {
                    log::warn!("purging registration tokens failed: {e}");
                }
            }
        }
    }
}
