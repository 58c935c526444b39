//! Identifiers and random secrets.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::time::Timestamp;

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// A 24-hex-digit id shaped like the documents' (`64a7b8c9d1e2f3a4b5c6d7e8`): seconds, then randomness.
pub fn object_id(now: Timestamp) -> String {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&(now.secs() as u32).to_be_bytes());
    rand::thread_rng().fill_bytes(&mut bytes[4..]);
    hex(&bytes)
}

/// 128 random bits as hex: session ids and the like.
pub fn random_hex_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// An opaque bearer secret: 256 random bits, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A string of `n` random decimal digits (verification codes).
pub fn random_digits(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// SHA-256 of a high-entropy secret, hex: how opaque tokens are stored.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lower-case hex of arbitrary bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    hex(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_shapes() {
        let id = object_id(Timestamp::from_millis(1_700_000_000_000));
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("6553f100"));
        assert_eq!(random_hex_id().len(), 32);
        assert_eq!(random_digits(6).len(), 6);
        assert_ne!(random_token(), random_token());
        assert_eq!(token_hash("a").len(), 64);
    }
}
