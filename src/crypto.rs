//! Random values, digests and the shapes of generated ids and secrets: the
//! one place every layer takes them from (it imports nothing of Tessera).
//!
//! Codes, refresh tokens and client secrets carry 256 random bits, so one
//! SHA-256 is as good as a password hash for storing them and costs
//! microseconds (ORY Hydra's BCrypt on such secrets is what bounds its
//! client_credentials throughput). Comparisons are constant-time.
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `n` random bytes, base64url.
pub fn random_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    B64.encode(b)
}

/// A token id: 128 random bits.
pub fn new_jti() -> String {
    random_token(16)
}

/// Lowercase hex, without an allocation per byte (it is on the token path).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}

/// Hex SHA-256: how codes, refresh tokens and client secrets are stored.
pub fn digest(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

/// A new client id: 16 random bytes in hex, so it never starts with `-` on
/// a command line and needs no escaping in a URL or an HTTP Basic header.
pub fn generate_client_id() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    hex(&b)
}

/// A new client secret: 32 random bytes, base64url (43 characters).
pub fn generate_secret() -> String {
    random_token(32)
}

/// Compare a presented secret with the stored digest in constant time.
pub fn verify_secret(stored_digest: &str, presented: &str) -> bool {
    digest(presented).as_bytes().ct_eq(stored_digest.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_digest() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
        // SHA-256("abc"), FIPS 180-2 appendix B.1
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn secrets() {
        let s = generate_secret();
        assert_eq!(s.len(), 43);
        assert_ne!(s, generate_secret());
        let h = digest(&s);
        assert!(verify_secret(&h, &s));
        assert!(!verify_secret(&h, &generate_secret()));
        assert!(!verify_secret(&h, ""));
        let id = generate_client_id();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
