//! Deriving independent random streams and stable hashes.
//!
//! Every random choice in walburst comes from a ChaCha8 stream whose 32-byte key is
//! `SHA-256("walburst/v1/" + label + "\0" + seed + a + b)` (integers little-endian u64).
//! Labels separate purposes (the schedule of worker 3 never shares a stream with its payloads),
//! and SHA-256 makes the derivation independent of Rust's hashers and of this crate's version.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// A seeded stream for one purpose (`label`) of one entity (`a`, `b`).
pub fn stream(seed: u64, label: &str, a: u64, b: u64) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"walburst/v1/");
    h.update(label.as_bytes());
    h.update([0u8]);
    h.update(seed.to_le_bytes());
    h.update(a.to_le_bytes());
    h.update(b.to_le_bytes());
    let key: [u8; 32] = h.finalize().into();
    ChaCha8Rng::from_seed(key)
}

/// `sha256:<hex>` of some bytes; the form every walburst hash is written in.
pub fn sha256_hex(bytes: &[u8]) -> String {
    digest_hex(&Sha256::digest(bytes))
}

/// `sha256:<hex>` of a finished SHA-256 digest.
pub fn digest_hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}
