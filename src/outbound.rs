//! Requests Tessera makes to addresses that clients register (a `jwks_uri`,
//! later a back-channel logout URI): a short timeout, a size limit, no
//! redirects, and no private addresses. A client must not be able to make
//! Tessera fetch from its own network (SSRF): loopback, private, link-local
//! and unique-local addresses are refused, whether the URL names them or a
//! DNS name resolves to them, unless `TESSERA_OUTBOUND_ALLOW_PRIVATE=true`
//! (tests on loopback, or a deployment whose clients live inside).
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{0} is not an http(s) URL")]
    BadUrl(String),
    #[error("{0} is a private or local address; refused")]
    Private(String),
    #[error("fetching {url}: {reason}")]
    Failed { url: String, reason: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
}

/// Whether an address is one a registered URL may not reach.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]) // 100.64/10, carrier-grade NAT
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_loopback() || v6.is_unspecified() || (seg[0] & 0xfe00) == 0xfc00 || (seg[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Resolves names and drops private addresses (so a DNS name pointing
/// inside is refused as surely as a literal address).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| !is_private(a.ip())).collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    pub fn new(allow_private: bool, timeout: Duration) -> Result<Outbound, OutboundError> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            b = b.dns_resolver(Arc::new(PublicOnly));
        }
        let client = b.build().map_err(|e| OutboundError::Failed { url: String::new(), reason: e.to_string() })?;
        Ok(Outbound { client, allow_private })
    }

    /// The URL, if Tessera may send requests to it.
    fn check(&self, url: &str) -> Result<url::Url, OutboundError> {
        let u = url::Url::parse(url).map_err(|_| OutboundError::BadUrl(url.to_string()))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(OutboundError::BadUrl(url.to_string()));
        }
        let literal = match u.host() {
            Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(OutboundError::BadUrl(url.to_string())),
        };
        if !self.allow_private && literal.is_some_and(is_private) {
            return Err(OutboundError::Private(url.to_string()));
        }
        Ok(u)
    }

    async fn body(&self, url: &str, resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, OutboundError> {
        let fail = |e: reqwest::Error| OutboundError::Failed { url: url.to_string(), reason: e.to_string() };
        if !resp.status().is_success() {
            return Err(OutboundError::Status { url: url.to_string(), status: resp.status().as_u16() });
        }
        if resp.content_length().is_some_and(|n| n as usize > limit) {
            return Err(OutboundError::TooLarge { url: url.to_string(), limit });
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(fail)? {
            if body.len() + chunk.len() > limit {
                return Err(OutboundError::TooLarge { url: url.to_string(), limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// GET `url`, at most `limit` bytes of body.
    pub async fn get(&self, url: &str, limit: usize) -> Result<Vec<u8>, OutboundError> {
        let u = self.check(url)?;
        let resp = self.client.get(u).send().await.map_err(|e| OutboundError::Failed { url: url.to_string(), reason: e.to_string() })?;
        self.body(url, resp, limit).await
    }

    /// POST a form to `url`; the status.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<u16, OutboundError> {
        let u = self.check(url)?;
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let resp = self
            .client
            .post(u)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| OutboundError::Failed { url: url.to_string(), reason: e.to_string() })?;
        Ok(resp.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_recognised() {
        for a in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1"] {
            assert!(is_private(a.parse().unwrap()), "{a}");
        }
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(a.parse().unwrap()), "{a}");
        }
    }

    #[tokio::test]
    async fn private_urls_are_refused_before_any_request() {
        let o = Outbound::new(false, Duration::from_secs(1)).unwrap();
        for u in ["http://127.0.0.1:9/jwks", "http://localhost/x", "http://[::1]/x", "http://169.254.169.254/latest/meta-data"] {
            assert!(matches!(o.get(u, 100).await, Err(OutboundError::Private(_))), "{u}");
        }
        assert!(matches!(o.get("file:///etc/passwd", 100).await, Err(OutboundError::BadUrl(_))));
    }
}
