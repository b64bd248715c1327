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

/// The alphabet of client secrets: base62, so a secret is one "word" that
/// editors select whole and no encoding mangles.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The prefix of client secrets, so that a leaked one is recognisable.
pub const SECRET_PREFIX: &str = "tsr_";
/// Random characters of a secret: 43 base62 characters carry 256 bits.
const SECRET_BODY: usize = 43;
/// Characters of the checksum: CRC-32 of the body, base62, zero-padded.
const SECRET_CHECK: usize = 6;

/// CRC-32 (IEEE 802.3, as zlib and most tools compute it).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn base62_fixed(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A new client secret: `tsr_`, 43 random base62 characters (256 bits) and
/// a 6-character checksum of them (`docs/secrets.md` has the pattern that
/// secret scanners match).
pub fn generate_secret() -> String {
    let mut body = String::with_capacity(SECRET_BODY);
    let mut rng = rand::rng();
    while body.len() < SECRET_BODY {
        // Rejection sampling keeps every character uniform: 248 = 4 × 62.
        let b = rand::RngCore::next_u32(&mut rng) as u8;
        if b < 248 {
            body.push(BASE62[usize::from(b % 62)] as char);
        }
    }
    let check = base62_fixed(u64::from(crc32(body.as_bytes())), SECRET_CHECK);
    format!("{SECRET_PREFIX}{body}{check}")
}

/// Whether `s` has the shape and checksum of a Tessera client secret (what a
/// scanner checks before reporting a match; older secrets lack the shape).
pub fn is_secret_shaped(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(SECRET_PREFIX) else { return false };
    if rest.len() != SECRET_BODY + SECRET_CHECK || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (body, check) = rest.split_at(SECRET_BODY);
    base62_fixed(u64::from(crc32(body.as_bytes())), SECRET_CHECK) == check
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
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn secrets_have_a_recognisable_shape() {
        let s = generate_secret();
        assert_eq!(s.len(), 4 + 43 + 6);
        assert!(s.starts_with("tsr_") && s[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
        assert!(is_secret_shaped(&s));
        // one character changed, or the old shape: not a secret of ours
        let mut typo = s.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        assert!(!is_secret_shaped(&String::from_utf8(typo).unwrap()));
        assert!(!is_secret_shaped(&random_token(32)));
        // the example in docs/secrets.md, whose checksum a scanner can recompute
        assert!(is_secret_shaped("tsr_5rB0Kd0Yw3Qy9kP2mL7sZx1Vt4Hc8Nf6Jg0Ra2Eb3Uq2vJEMv"));
    }

    #[test]
    fn secrets() {
        let s = generate_secret();
        assert_eq!(s.len(), 53);
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
