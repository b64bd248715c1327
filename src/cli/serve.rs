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
        let server = crate::http::server(Arc::clone(&t), listener, metrics, workers).map_err(|e| Error::Config(format!("server: {e}")))?;
        t.run(server).await.map_err(|e| Error::Config(format!("server: {e}")))
    })
}

/// Where a probe on this host reaches the server bound to `bind`: a
/// wildcard bind (`0.0.0.0`, `[::]`) is reached on loopback.
pub fn probe_addr(bind: &str) -> String {
    match bind.rsplit_once(':') {
        Some(("0.0.0.0", port)) => format!("127.0.0.1:{port}"),
        Some(("[::]", port)) => format!("[::1]:{port}"),
        _ => bind.to_string(),
    }
}

/// `tessera healthcheck`: GET /readyz on the bound address (the metrics
/// listener when there is one, which also serves it), exit 0 on 200.
pub fn healthcheck(cfg: &Config) -> Result<()> {
    use std::io::{Read, Write};
    let addr = probe_addr(cfg.metrics_bind.as_deref().unwrap_or(&cfg.bind));
    let fail = |e: String| Error::Config(format!("healthcheck of {addr}: {e}"));
    let sock: std::net::SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&addr).map_err(|e| fail(e.to_string()))?.next().ok_or_else(|| fail("no address".into()))?;
    let timeout = std::time::Duration::from_secs(3);
    let mut s = std::net::TcpStream::connect_timeout(&sock, timeout).map_err(|e| fail(e.to_string()))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| fail(e.to_string()))?;
    write!(s, "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").map_err(|e| fail(e.to_string()))?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).map_err(|e| fail(e.to_string()))?;
    match &head[9..12] {
        b"200" => Ok(()),
        other => Err(fail(format!("/readyz answered {}", String::from_utf8_lossy(other)))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn probes_reach_wildcard_binds_on_loopback() {
        assert_eq!(super::probe_addr("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(super::probe_addr("[::]:8080"), "[::1]:8080");
        assert_eq!(super::probe_addr("10.0.0.5:8080"), "10.0.0.5:8080");
    }
}
