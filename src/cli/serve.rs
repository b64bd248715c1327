//! `tessera serve`: open the provider, bind the listeners, run until stopped.
use std::sync::Arc;

use crate::app::Tessera;
use crate::config::Config;
use crate::error::{Error, Result};

pub fn serve(cfg: Config, workers: Option<usize>) -> Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let bind = cfg.bind.clone();
        let t = Tessera::open(cfg).await?;
        let listen = |addr: &str| std::net::TcpListener::bind(addr).map_err(|e| Error::Config(format!("cannot bind {addr}: {e}")));
        let listener = listen(&bind)?;
        log::info!("Tessera listening on http://{bind} (issuer {})", t.cfg.issuer);
        let metrics = match t.cfg.metrics_bind.clone() {
            Some(addr) => {
                log::info!("metrics on http://{addr}/metrics only");
                Some(listen(&addr)?)
            }
            None => None,
        };
        actix_web::rt::spawn(Arc::clone(&t).background());
        crate::http::server(t, listener, metrics, workers)
            .map_err(|e| Error::Config(format!("server: {e}")))?
            .await
            .map_err(|e| Error::Config(format!("server: {e}")))
    })
}
