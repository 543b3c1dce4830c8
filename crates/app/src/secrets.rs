//! Receipt codes, query secrets and API tokens: random, and stored only as SM3 digests.

use huiyin_domain::values::ReceiptCode;
use rand::Rng;
use sm3::{Digest, Sm3};

/// API tokens start with this, so a leaked one is easy to recognise in logs and scanners.
pub const TOKEN_PREFIX: &str = "hy_";
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a query secret: 8 × 5 = 40 bits, guarded online by the lookup rate limit.
pub const SECRET_LEN: usize = 8;

fn sm3_hex(parts: &[&[u8]]) -> String {
    let mut h = Sm3::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

fn random_chars(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

pub fn new_receipt() -> ReceiptCode {
    ReceiptCode::from_random(rand::rng().random())
}

pub fn new_secret() -> String {
    random_chars(SECRET_LEN)
}

/// The stored form of a query secret, salted with its receipt code.
pub fn secret_hash(receipt: &ReceiptCode, secret: &str) -> String {
    sm3_hex(&[
        receipt.as_str().as_bytes(),
        b":",
        normalise_secret(secret).as_bytes(),
    ])
}

fn normalise_secret(secret: &str) -> String {
    secret
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect()
}

/// Compares in constant time with respect to the content.
pub fn verify_secret(receipt: &ReceiptCode, secret: &str, stored_hash: &str) -> bool {
    let computed = secret_hash(receipt, secret);
    computed.len() == stored_hash.len()
        && computed
            .bytes()
            .zip(stored_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_chars(32).to_lowercase())
}

pub fn token_hash(token: &str) -> String {
    sm3_hex(&[b"token:", token.as_bytes()])
}

/// The stored form of an idempotency key.
pub fn idempotency_hash(key: &str) -> String {
    sm3_hex(&[b"idem:", key.as_bytes()])
}

/// Seals a query secret under the idempotency key, so a repeated submission can be answered
/// with the same secret while the database holds nothing that reveals it without the key.
pub fn seal_secret(key: &str, secret: &str) -> String {
    let pad = Sm3::new()
        .chain_update(b"seal:")
        .chain_update(key.as_bytes())
        .finalize();
    hex::encode(
        secret
            .bytes()
            .zip(pad.iter().cycle())
            .map(|(s, p)| s ^ p)
            .collect::<Vec<u8>>(),
    )
}

pub fn unseal_secret(key: &str, sealed: &str) -> Option<String> {
    let bytes = hex::decode(sealed).ok()?;
    let pad = Sm3::new()
        .chain_update(b"seal:")
        .chain_update(key.as_bytes())
        .finalize();
    String::from_utf8(
        bytes
            .iter()
            .zip(pad.iter().cycle())
            .map(|(s, p)| s ^ p)
            .collect(),
    )
    .ok()
}

/// The digest of the personal-data record that the event log keeps.
pub fn personal_digest(json: &str) -> String {
    sm3_hex(&[json.as_bytes()])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_verify_and_tolerate_look_alikes() {
        let receipt = new_receipt();
        let secret = new_secret();
        let stored = secret_hash(&receipt, &secret);
        assert!(verify_secret(&receipt, &secret, &stored));
        assert!(verify_secret(&receipt, &secret.to_lowercase(), &stored));
        assert!(!verify_secret(&receipt, "WRONG000", &stored));
        let other = new_receipt();
        assert!(!verify_secret(&other, &secret, &stored));
    }

    #[test]
    fn sealing_round_trips_only_with_the_key() {
        let sealed = seal_secret("key-1", "AB12CD34");
        assert_eq!(unseal_secret("key-1", &sealed).unwrap(), "AB12CD34");
        assert_ne!(
            unseal_secret("key-2", &sealed).unwrap_or_default(),
            "AB12CD34"
        );
        assert!(!sealed.contains("AB12"));
    }

    #[test]
    fn tokens_are_prefixed_and_distinct() {
        let a = new_token();
        let b = new_token();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_ne!(a, b);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
