//! Whose address a request comes from, behind proxies we trust.
//!
//! Behind a load balancer every request arrives from the balancer's
//! address. With `TESSERA_TRUSTED_PROXIES` (a CIDR list), a request whose
//! TCP peer is one of them is taken to come from the address its proxies
//! recorded: the rightmost hop of `Forwarded` (RFC 7239), or else of
//! `X-Forwarded-For`, that is not itself a trusted proxy. Hops further left
//! are written by whoever sent the request and prove nothing. A peer that
//! is not trusted is the client, whatever its headers say.
use std::net::IpAddr;

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, bits) = match s.trim().split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| format!("{s:?} is not an address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }

    /// A comma- or space-separated list.
    pub fn parse_list(s: &str) -> Result<Vec<Cidr>, String> {
        s.split([',', ' ']).filter(|x| !x.trim().is_empty()).map(Cidr::parse).collect()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`) as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// One hop of a forwarding header: `192.0.2.60`, `"[2001:db8::17]:4711"`,
/// `203.0.113.9:80`; `None` for `unknown` or an obfuscated identifier.
fn hop(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(inner) = s.strip_prefix('[') {
        return inner.split(']').next()?.parse().ok();
    }
    s.rsplit_once(':').and_then(|(a, _)| a.parse().ok())
}

/// The `for=` hops of a `Forwarded` header, left to right.
fn forwarded_for(h: &str) -> Vec<Option<IpAddr>> {
    h.split(',')
        .filter_map(|elem| elem.split(';').find_map(|p| p.trim().split_once('=').filter(|(k, _)| k.trim().eq_ignore_ascii_case("for")).map(|(_, v)| hop(v))))
        .collect()
}

/// The client's address: `peer` unless it is a trusted proxy, in which case
/// the rightmost recorded hop that is not one (`None`: it could not be read,
/// so the peer stands).
pub fn client_addr(peer: IpAddr, forwarded: Option<&str>, x_forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = match (forwarded, x_forwarded_for) {
        (Some(f), _) => forwarded_for(f),
        (None, Some(x)) => x.split(',').map(hop).collect(),
        (None, None) => return peer,
    };
    let mut last_trusted = peer;
    for h in hops.iter().rev() {
        match h {
            Some(ip) if is_trusted(*ip) => last_trusted = *ip,
            Some(ip) => return canonical(*ip),
            None => return last_trusted,
        }
    }
    last_trusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.1.2.3")) && !c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.9.9.9")), "IPv4-mapped");
        assert!(Cidr::parse("192.168.1.7").unwrap().contains(ip("192.168.1.7")));
        assert!(!Cidr::parse("192.168.1.7").unwrap().contains(ip("192.168.1.8")));
        assert!(Cidr::parse("2001:db8::/33").unwrap().contains(ip("2001:db8:7fff::1")));
        assert!(!Cidr::parse("2001:db8::/33").unwrap().contains(ip("2001:db8:8000::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("10.0.0.0/33").is_err() && Cidr::parse("ten").is_err());
        assert_eq!(Cidr::parse_list("10.0.0.0/8, 127.0.0.1").unwrap().len(), 2);
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let lb = [Cidr::parse("10.0.0.0/8").unwrap()];
        // not from a trusted proxy: the headers are whatever the sender wrote
        assert_eq!(client_addr(ip("203.0.113.5"), None, Some("1.2.3.4"), &lb), ip("203.0.113.5"));
        // from the balancer: the hop it recorded
        assert_eq!(client_addr(ip("10.0.0.2"), None, Some("198.51.100.7"), &lb), ip("198.51.100.7"));
        // a forged leftmost hop is ignored; inner proxies are skipped
        assert_eq!(client_addr(ip("10.0.0.2"), None, Some("6.6.6.6, 198.51.100.7, 10.0.0.9"), &lb), ip("198.51.100.7"));
        // Forwarded wins over X-Forwarded-For, with quotes, brackets and ports
        let fwd = r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.9"#;
        assert_eq!(client_addr(ip("10.0.0.2"), Some(fwd), Some("1.1.1.1"), &lb), ip("2001:db8:cafe::17"));
        assert_eq!(client_addr(ip("10.0.0.2"), Some("for=192.0.2.60:8080"), None, &lb), ip("192.0.2.60"));
        // an unreadable hop, or none at all: the last trusted address stands
        assert_eq!(client_addr(ip("10.0.0.2"), Some("for=unknown"), None, &lb), ip("10.0.0.2"));
        assert_eq!(client_addr(ip("10.0.0.2"), None, None, &lb), ip("10.0.0.2"));
        // nothing trusted: the peer, always
        assert_eq!(client_addr(ip("10.0.0.2"), None, Some("198.51.100.7"), &[]), ip("10.0.0.2"));
    }
}
