//! Encryption of personal data at rest (密评, GB/T 39786: national algorithms).
//!
//! Each personal-data record is sealed with SM4 in GCM mode (the RustCrypto `sm4` block cipher
//! in `aes-gcm`'s generic `AesGcm<Sm4, U12>`), a fresh 96-bit nonce per record and the case id
//! as associated data, so a ciphertext moved to another case does not decrypt. The stored form
//! is text: `sm4gcm:v1:<key_id>:<nonce hex>:<ciphertext+tag hex>`.
//!
//! The key is never in the database. [`Keyring::load`] takes it from `HUIYIN_DATA_KEY` (32 hex
//! digits; older keys still needed for decryption in `HUIYIN_DATA_KEYS_OLD`, comma-separated),
//! or from key files under `<data dir>/keys/` (created on first start, mode 0600; production
//! keeps them on a separate volume or in a KMS and points `HUIYIN_DATA_KEY` at it). Everything
//! goes through the [`DataCipher`] trait so a certified cryptographic module can replace this
//! software implementation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use sm3::{Digest, Sm3};
use sm4::Sm4;

/// The scheme tag of the stored form.
pub const SCHEME: &str = "sm4gcm:v1";
/// SM4 keys are 128 bits.
pub const KEY_BYTES: usize = 16;
const NONCE_BYTES: usize = 12;

/// What can go wrong with keys and ciphertexts.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("data key is not 32 hex digits (128-bit SM4 key): {0}")]
    BadKey(String),
    #[error("no data key with id {0} is loaded; it may have been retired before rotation ended")]
    UnknownKey(String),
    #[error("stored personal data is not in the {SCHEME} format")]
    Malformed,
    #[error("personal data failed authentication (wrong key, wrong case, or tampered)")]
    Authentication,
    #[error("key store: {0}")]
    Io(String),
}

/// Seals and opens personal data. Implementations: [`Keyring`] (software SM4-GCM); a hardware
/// or certified module can implement the same trait.
pub trait DataCipher: Send + Sync {
    /// Seals `plaintext` under the current key, bound to `aad` (the case id).
    fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, CryptoError>;
    /// Opens a sealed record with whichever loaded key it names.
    fn decrypt(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// The id of the key new records are sealed under.
    fn current_key_id(&self) -> &str;
    /// The key id a sealed record names (`None` when it is not in the stored format).
    fn key_id_of<'a>(&self, sealed: &'a str) -> Option<&'a str> {
        let rest = sealed.strip_prefix(SCHEME)?.strip_prefix(':')?;
        rest.split(':').next()
    }
}

/// A set of SM4 keys by id, one of them current.
#[derive(Clone)]
pub struct Keyring {
    current: String,
    keys: HashMap<String, [u8; KEY_BYTES]>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The id of a key: the first 16 hex digits of its SM3 digest (identifies, reveals nothing).
pub fn key_id(key: &[u8; KEY_BYTES]) -> String {
    let mut h = Sm3::new();
    h.update(b"huiyin data key id");
    h.update(key);
    hex::encode(&h.finalize()[..8])
}

fn parse_key(hex_key: &str) -> Result<[u8; KEY_BYTES], CryptoError> {
    let bytes =
        hex::decode(hex_key.trim()).map_err(|_| CryptoError::BadKey("not hexadecimal".into()))?;
    bytes
        .try_into()
        .map_err(|_| CryptoError::BadKey("wrong length".into()))
}

/// A new random key.
pub fn new_key() -> [u8; KEY_BYTES] {
    rand::random()
}

/// The key directory under a data directory.
pub fn key_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

impl Keyring {
    /// A keyring of one key (tests; `HUIYIN_DATA_KEY`).
    pub fn single(key: [u8; KEY_BYTES]) -> Keyring {
        let id = key_id(&key);
        Keyring {
            current: id.clone(),
            keys: HashMap::from([(id, key)]),
        }
    }

    /// A throwaway key, for tests and for an application started without one.
    pub fn ephemeral() -> Keyring {
        Keyring::single(new_key())
    }

    /// Adds a key that can still decrypt (not current).
    pub fn with_old(mut self, key: [u8; KEY_BYTES]) -> Keyring {
        self.keys.insert(key_id(&key), key);
        self
    }

    /// The keyring from the environment (`HUIYIN_DATA_KEY`, `HUIYIN_DATA_KEYS_OLD`) if set,
    /// else from `dir` (creating a first key there if none exists).
    pub fn load(dir: &Path) -> Result<Keyring, CryptoError> {
        if let Ok(hex_key) = std::env::var("HUIYIN_DATA_KEY")
            && !hex_key.trim().is_empty()
        {
            let mut ring = Keyring::single(parse_key(&hex_key)?);
            if let Ok(old) = std::env::var("HUIYIN_DATA_KEYS_OLD") {
                for k in old.split(',').filter(|k| !k.trim().is_empty()) {
                    ring = ring.with_old(parse_key(k)?);
                }
            }
            return Ok(ring);
        }
        Keyring::load_dir(dir)
    }

    /// Key files: `<id>.key` (32 hex digits) and `current` (the id new records use).
    pub fn load_dir(dir: &Path) -> Result<Keyring, CryptoError> {
        let io = |what: &str, e: std::io::Error| CryptoError::Io(format!("{what}: {e}"));
        if !dir.join("current").exists() {
            std::fs::create_dir_all(dir).map_err(|e| io("create key directory", e))?;
            set_private_dir(dir)?;
            let key = new_key();
            write_key(dir, &key)?;
            write_private(&dir.join("current"), key_id(&key).as_bytes())?;
        }
        let current = std::fs::read_to_string(dir.join("current"))
            .map_err(|e| io("read current key id", e))?
            .trim()
            .to_string();
        let mut keys = HashMap::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io("list keys", e))? {
            let path = entry.map_err(|e| io("list keys", e))?.path();
            if path.extension().is_some_and(|x| x == "key") {
                let text = std::fs::read_to_string(&path).map_err(|e| io("read key", e))?;
                let key = parse_key(&text)?;
                keys.insert(key_id(&key), key);
            }
        }
        if !keys.contains_key(&current) {
            return Err(CryptoError::UnknownKey(current));
        }
        Ok(Keyring { current, keys })
    }

    /// Every loaded key id.
    pub fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.keys.keys().cloned().collect();
        ids.sort();
        ids
    }

    fn cipher(&self, id: &str) -> Result<AesGcm<Sm4, U12>, CryptoError> {
        let key = self
            .keys
            .get(id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        AesGcm::<Sm4, U12>::new_from_slice(key).map_err(|_| CryptoError::BadKey("length".into()))
    }
}

impl DataCipher for Keyring {
    fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, CryptoError> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let sealed = self
            .cipher(&self.current)?
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Authentication)?;
        Ok(format!(
            "{SCHEME}:{}:{}:{}",
            self.current,
            hex::encode(nonce),
            hex::encode(sealed)
        ))
    }

    fn decrypt(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rest = sealed
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix(':'))
            .ok_or(CryptoError::Malformed)?;
        let mut parts = rest.split(':');
        let (Some(id), Some(nonce), Some(ct), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let nonce: [u8; NONCE_BYTES] = hex::decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(CryptoError::Malformed)?;
        let ct = hex::decode(ct).map_err(|_| CryptoError::Malformed)?;
        self.cipher(id)?
            .decrypt(&nonce.into(), Payload { msg: &ct, aad })
            .map_err(|_| CryptoError::Authentication)
    }

    fn current_key_id(&self) -> &str {
        &self.current
    }
}

/// Writes a new key file into `dir` (0600) and returns its id. It becomes current only with
/// [`set_current`], after it is safely on disk.
pub fn write_key(dir: &Path, key: &[u8; KEY_BYTES]) -> Result<String, CryptoError> {
    let id = key_id(key);
    write_private(&dir.join(format!("{id}.key")), hex::encode(key).as_bytes())?;
    Ok(id)
}

/// Makes `id` the key new records are sealed under.
pub fn set_current(dir: &Path, id: &str) -> Result<(), CryptoError> {
    let tmp = dir.join("current.tmp");
    write_private(&tmp, id.as_bytes())?;
    std::fs::rename(&tmp, dir.join("current"))
        .map_err(|e| CryptoError::Io(format!("switch current key: {e}")))
}

/// Moves a key no record uses any more out of the loaded set (into `retired/`, still 0600).
pub fn retire_key(dir: &Path, id: &str) -> Result<(), CryptoError> {
    let retired = dir.join("retired");
    std::fs::create_dir_all(&retired)
        .map_err(|e| CryptoError::Io(format!("create retired directory: {e}")))?;
    set_private_dir(&retired)?;
    let name = format!("{id}.key");
    std::fs::rename(dir.join(&name), retired.join(&name))
        .map_err(|e| CryptoError::Io(format!("retire key {id}: {e}")))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CryptoError> {
    use std::io::Write;
    let io = |e: std::io::Error| CryptoError::Io(format!("write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(())
}

fn set_private_dir(dir: &Path) -> Result<(), CryptoError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| CryptoError::Io(format!("protect {}: {e}", dir.display())))?;
    }
    let _ = dir;
    Ok(())
}

/// The cipher as the application holds it.
pub type SharedCipher = Arc<dyn DataCipher>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_the_case() {
        let ring = Keyring::ephemeral();
        let sealed = ring
            .encrypt(b"{\"phone\":\"13812345678\"}", b"case-1")
            .unwrap();
        assert!(sealed.starts_with("sm4gcm:v1:"));
        assert!(!sealed.contains("13812345678"));
        assert_eq!(ring.key_id_of(&sealed), Some(ring.current_key_id()));
        assert_eq!(
            ring.decrypt(&sealed, b"case-1").unwrap(),
            b"{\"phone\":\"13812345678\"}"
        );
        // Moved to another case, or tampered, it does not open.
        assert!(matches!(
            ring.decrypt(&sealed, b"case-2"),
            Err(CryptoError::Authentication)
        ));
        let mut bad = sealed.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == '0' { '1' } else { '0' });
        assert!(matches!(
            ring.decrypt(&bad, b"case-1"),
            Err(CryptoError::Authentication)
        ));
        assert!(matches!(
            ring.decrypt("plain json", b"case-1"),
            Err(CryptoError::Malformed)
        ));
        // Two seals of the same text differ (fresh nonce).
        assert_ne!(
            sealed,
            ring.encrypt(b"{\"phone\":\"13812345678\"}", b"case-1")
                .unwrap()
        );
    }

    #[test]
    fn sm4_gcm_matches_a_known_answer() {
        // GB/T 32907 SM4 test key; a fixed nonce through the same construction must give the
        // same output on every platform (guards against a silent change of mode or cipher).
        let key = parse_key("0123456789abcdeffedcba9876543210").unwrap();
        let cipher = AesGcm::<Sm4, U12>::new_from_slice(&key).unwrap();
        let nonce = [0u8; NONCE_BYTES];
        let ct = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: b"huiyin",
                    aad: b"",
                },
            )
            .unwrap();
        assert_eq!(ct.len(), 6 + 16);
        let again = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: b"huiyin",
                    aad: b"",
                },
            )
            .unwrap();
        assert_eq!(ct, again);
        // SM4 itself: the standard's single-block test vector.
        use sm4::cipher::{BlockCipherEncrypt, KeyInit as _};
        let sm4 = Sm4::new_from_slice(&key).unwrap();
        let mut block = key.into();
        sm4.encrypt_block(&mut block);
        assert_eq!(hex::encode(block), "681edf34d206965e86b3e94f536e4246");
    }

    #[test]
    fn key_files_are_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let keys = key_dir(dir.path());
        let first = Keyring::load_dir(&keys).unwrap();
        let again = Keyring::load_dir(&keys).unwrap();
        assert_eq!(first.current_key_id(), again.current_key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = keys.join(format!("{}.key", first.current_key_id()));
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = first.encrypt(b"x", b"c").unwrap();
        let new_id = write_key(&keys, &new_key()).unwrap();
        set_current(&keys, &new_id).unwrap();
        let rotated = Keyring::load_dir(&keys).unwrap();
        assert_eq!(rotated.current_key_id(), new_id);
        assert_eq!(rotated.decrypt(&sealed, b"c").unwrap(), b"x");
    }
}
