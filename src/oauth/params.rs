//! Request parameters (RFC 6749 §3.1, §3.2): form-urlencoded, each at most
//! once, valid UTF-8. A parameter sent twice is refused rather than one copy
//! being silently chosen; an empty value counts as absent.
use std::collections::HashMap;

use percent_encoding::percent_decode;

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parse `application/x-www-form-urlencoded` bytes (a body or a query string).
    pub fn parse(raw: &[u8]) -> Result<Params> {
        let mut map = HashMap::new();
        for (name, value) in parse_pairs(raw, false)? {
            if map.contains_key(&name) {
                return Err(Error::invalid_request(format!("parameter {name} is repeated")));
            }
            map.insert(name, value);
        }
        Ok(Params(map))
    }

    /// The value of a parameter, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| Error::invalid_request(format!("missing parameter {name}")))
    }

    /// The parameters as a query string (names sorted, so it is stable).
    pub fn to_query(&self) -> String {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for n in names {
            q.append_pair(n, &self.0[n]);
        }
        q.finish()
    }

    /// Set a parameter (replacing it).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_string(), value.to_string());
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Params {
        Params(pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }
}

/// Every name=value pair in order, repeats allowed (web forms with
/// checkbox lists). `multiline` admits line breaks (textareas); protocol
/// parameters never carry them ([`Params::parse`]), which stops CRLF injection.
pub fn parse_pairs(raw: &[u8], multiline: bool) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut it = pair.splitn(2, |b| *b == b'=');
        let name = decode(it.next().unwrap_or_default(), false)?;
        let value = decode(it.next().unwrap_or_default(), multiline)?;
        if name.is_empty() {
            return Err(Error::invalid_request("empty parameter name"));
        }
        out.push((name, value));
    }
    Ok(out)
}

fn decode(part: &[u8], multiline: bool) -> Result<String> {
    let plus: Vec<u8> = part.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    let s = percent_decode(&plus)
        .decode_utf8()
        .map_err(|_| Error::invalid_request("parameters must be valid UTF-8"))?;
    let allowed = |c: char| c == '\t' || (multiline && (c == '\n' || c == '\r'));
    if s.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(Error::invalid_request("parameters must not contain control characters"));
    }
    Ok(s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let p = Params::parse(b"grant_type=client_credentials&scope=read%3Adata+write%3Adata&x=").unwrap();
        assert_eq!(p.get("grant_type"), Some("client_credentials"));
        assert_eq!(p.get("scope"), Some("read:data write:data"));
        assert_eq!(p.get("x"), None);
        assert!(p.require("x").is_err());
    }

    #[test]
    fn refuses_duplicates_bad_utf8_and_crlf() {
        assert!(matches!(Params::parse(b"a=1&a=2"), Err(Error::InvalidRequest(m)) if m.contains("repeated")));
        assert!(Params::parse(b"a=%ff%fe").is_err());
        assert!(Params::parse(b"a=x%0d%0aSet-Cookie:1").is_err());
        assert!(Params::parse(b"=1").is_err());
        // web forms: repeats kept, line breaks only where asked for
        let pairs = parse_pairs(b"scope=a&scope=b&uris=x%0D%0Ay", true).unwrap();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[2].1, "x\r\ny");
        assert!(parse_pairs(b"uris=x%0D%0Ay", false).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Params::parse(&raw);
            let _ = parse_pairs(&raw, true);
        }

        #[test]
        fn encoded_values_roundtrip(k in "[a-z_]{1,10}", v in "[^\\p{Cc}]{0,30}") {
            let body: String = url::form_urlencoded::Serializer::new(String::new()).append_pair(&k, &v).finish();
            let p = Params::parse(body.as_bytes()).unwrap();
            prop_assert_eq!(p.get(&k), if v.is_empty() { None } else { Some(v.as_str()) });
        }
    }
}
