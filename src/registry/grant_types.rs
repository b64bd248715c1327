//! The grant types Tessera knows: one enum used by registration, discovery,
//! metrics and the token endpoint's dispatch.
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.1, with PKCE (RFC 7636).
    AuthorizationCode,
    /// RFC 6749 §6, rotated on every use.
    RefreshToken,
    /// RFC 6749 §4.4, machines acting for themselves.
    ClientCredentials,
    /// RFC 6749 §4.3, for migrating legacy apps only (RFC 9700 §2.4).
    Password,
    /// RFC 8628, devices without a browser (TVs, command-line tools).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

impl GrantType {
    /// Every grant type, in the order discovery and metrics list them.
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::Password,
        GrantType::DeviceCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::Password => "password",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// The grant type a name stands for; the error says why it is refused.
    pub fn parse(name: &str) -> Result<GrantType, String> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == name).ok_or_else(|| match name {
            "implicit" => "the implicit grant is not supported: RFC 9700 §2.1.2 forbids it (the token travels in the URL); \
                           use authorization_code with PKCE"
                .to_string(),
            _ => format!(
                "unknown grant type {name:?}; one of {}",
                GrantType::ALL.map(GrantType::as_str).join(", ")
            ),
        })
    }

    /// A grant type as a person registering a client may write it: the
    /// device grant's URN also as `device_code` (never at the token endpoint,
    /// where RFC 8628 §3.4 names the URN).
    pub fn parse_registered(name: &str) -> Result<GrantType, String> {
        match name {
            "device_code" => Ok(GrantType::DeviceCode),
            _ => GrantType::parse(name),
        }
    }

    /// The short name metrics label it with.
    pub fn label(self) -> &'static str {
        match self {
            GrantType::DeviceCode => "device_code",
            g => g.as_str(),
        }
    }

    /// Position in [`GrantType::ALL`] (for per-grant counters).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for GrantType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::GrantType;

    #[test]
    fn names_round_trip_and_implicit_says_why() {
        for (i, g) in GrantType::ALL.into_iter().enumerate() {
            assert_eq!(GrantType::parse(g.as_str()), Ok(g));
            assert_eq!(g.index(), i);
            assert_eq!(serde_json::to_value(g).unwrap(), serde_json::json!(g.as_str()));
        }
        let e = GrantType::parse("implicit").unwrap_err();
        assert!(e.contains("RFC 9700"), "{e}");
        assert!(GrantType::parse("magic").unwrap_err().contains("one of authorization_code"));
        assert!(GrantType::parse("device_code").is_err(), "the token endpoint takes the URN only");
        assert_eq!(GrantType::parse_registered("device_code"), Ok(GrantType::DeviceCode));
        assert_eq!(GrantType::DeviceCode.label(), "device_code");
    }
}
