//! The key-encryption key (KEK): AES-256-GCM (`ring::aead`) over the PKCS#8
//! private keys stored in the database, so a database dump alone signs
//! nothing. The KEK is 32 random bytes, kept base64url in a file
//! (`TESSERA_KEK_FILE`, default `keys/kek`, created 0600 on first start).
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::KeyError;

pub struct Kek {
    key: LessSafeKey,
    /// During a KEK change: the previous KEK, tried when the current one cannot open a key.
    previous: Option<Box<Kek>>,
    /// Kept only to derive purpose-bound subkeys (see [`Kek::derive_mac_key`]).
    raw: [u8; 32],
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

impl Kek {
    pub fn from_bytes(bytes: &[u8]) -> Result<Kek, KeyError> {
        let raw: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Kek("the KEK must be 32 bytes".into()))?;
        let key = UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| KeyError::Kek("the KEK must be 32 bytes".into()))?;
        Ok(Kek { key: LessSafeKey::new(key), raw, previous: None })
    }

    /// Read the KEK file; create it (0600) when it is missing and `create` is set.
    /// Make a new KEK file (mode 0600); refuses to overwrite one.
    pub fn create_new(path: &Path) -> Result<(), KeyError> {
        if path.exists() {
            return Err(KeyError::Kek(format!("{} exists: a KEK is never overwritten (its keys could not be opened any more)", path.display())));
        }
        Kek::load_or_create(path, true).map(|_| ())
    }

    pub fn load_or_create(path: &Path, create: bool) -> Result<Kek, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = B64
                    .decode(text.trim())
                    .map_err(|_| KeyError::Kek(format!("{} is not base64url", path.display())))?;
                Kek::from_bytes(&bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut bytes = [0u8; 32];
                SystemRandom::new().fill(&mut bytes).map_err(|_| KeyError::Crypto("random"))?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| KeyError::Kek(format!("{}: {e}", dir.display())))?;
                }
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                match opts.open(path) {
                    Ok(mut f) => {
                        f.write_all(B64.encode(bytes).as_bytes())
                            .map_err(|e| KeyError::Kek(format!("{}: {e}", path.display())))?;
                        log::info!("created key-encryption key {}", path.display());
                        Kek::from_bytes(&bytes)
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Kek::load_or_create(path, false),
                    Err(e) => Err(KeyError::Kek(format!("{}: {e}", path.display()))),
                }
            }
            Err(e) => Err(KeyError::Kek(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// An HMAC-SHA256 key for one purpose (e.g. `"session"`), derived from
    /// the KEK so every instance sharing the KEK derives the same one, and a
    /// leak of the derived key reveals nothing about the KEK.
    pub fn derive_mac_key(&self, label: &str) -> ring::hmac::Key {
        let root = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.raw);
        let sub = ring::hmac::sign(&root, format!("tessera/{label}").as_bytes());
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, sub.as_ref())
    }

    /// Encrypt `plain`, binding it to `aad` (the key id). Output: base64url(nonce || ciphertext+tag).
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<String, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| KeyError::Crypto("random"))?;
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| KeyError::Crypto("seal"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(B64.encode(out))
    }

    /// Also accept keys sealed under `previous` (`TESSERA_KEK_PREVIOUS_FILE`).
    pub fn with_previous(mut self, previous: Kek) -> Kek {
        self.previous = Some(Box::new(previous));
        self
    }

    pub fn open(&self, aad: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        match self.open_one(aad, sealed) {
            Err(KeyError::WrongKek) if self.previous.is_some() => {
                self.previous.as_ref().map_or(Err(KeyError::WrongKek), |p| p.open_one(aad, sealed))
            }
            r => r,
        }
    }

    fn open_one(&self, aad: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let raw = B64.decode(sealed).map_err(|_| KeyError::Crypto("sealed key is not base64url"))?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(KeyError::Crypto("sealed key too short"));
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Crypto("nonce"))?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| KeyError::WrongKek)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_binding() {
        let kek = Kek::from_bytes(&[7u8; 32]).unwrap();
        let sealed = kek.seal("kid-1", b"secret key").unwrap();
        assert_eq!(kek.open("kid-1", &sealed).unwrap(), b"secret key");
        // bound to its kid
        assert!(matches!(kek.open("kid-2", &sealed), Err(KeyError::WrongKek)));
        // another KEK cannot open it
        let other = Kek::from_bytes(&[8u8; 32]).unwrap();
        assert!(matches!(other.open("kid-1", &sealed), Err(KeyError::WrongKek)));
        // two seals of the same plaintext differ (fresh nonce)
        assert_ne!(sealed, kek.seal("kid-1", b"secret key").unwrap());
    }

    #[test]
    fn previous_kek_still_opens() {
        let old = Kek::from_bytes(&[1u8; 32]).unwrap();
        let sealed = old.seal("k", b"x").unwrap();
        let new = Kek::from_bytes(&[2u8; 32]).unwrap();
        assert!(new.open("k", &sealed).is_err());
        let both = Kek::from_bytes(&[2u8; 32]).unwrap().with_previous(Kek::from_bytes(&[1u8; 32]).unwrap());
        assert_eq!(both.open("k", &sealed).unwrap(), b"x");
        assert_eq!(both.open("k", &both.seal("k", b"y").unwrap()).unwrap(), b"y");
    }

    #[test]
    fn creates_file_0600_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/kek");
        let a = Kek::load_or_create(&path, true).unwrap();
        let sealed = a.seal("k", b"x").unwrap();
        let b = Kek::load_or_create(&path, true).unwrap();
        assert_eq!(b.open("k", &sealed).unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(Kek::load_or_create(&dir.path().join("missing"), false).is_err());
    }
}
