//! A stable 64-bit digest (FNV-1a) of simulation data.
//!
//! Used to compare results across targets and runs: the CI checks that a digest computed on
//! `wasm32` in the browser equals the one computed natively. FNV-1a is not cryptographic; it
//! only has to be identical everywhere and sensitive to every byte.
//!
//! [`sha256_hex`] identifies user files (share links name a dropped trace by it), and
//! [`hex_u64`] serialises 64-bit digests as hex strings, which JavaScript cannot mangle.
//!
//! # Example
//!
//! ```
//! use servesim_core::digest::Digest;
//!
//! let mut digest = Digest::new();
//! digest.write_u64(42);
//! digest.write_f64(0.5);
//! assert_ne!(digest.finish(), Digest::new().finish());
//! ```

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a hasher over little-endian encodings of the values written.
#[derive(Clone, Debug)]
pub struct Digest {
    state: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Self::new()
    }
}

impl Digest {
    /// A digest of nothing.
    pub fn new() -> Digest {
        Digest { state: FNV_OFFSET_BASIS }
    }

    /// Feeds raw bytes.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state ^= u64::from(byte);
            self.state = self.state.wrapping_mul(FNV_PRIME);
        }
    }

    /// Feeds a `u64` (little-endian).
    pub fn write_u64(&mut self, value: u64) {
        self.write_bytes(&value.to_le_bytes());
    }

    /// Feeds the exact bits of an `f64`.
    pub fn write_f64(&mut self, value: f64) {
        self.write_u64(value.to_bits());
    }

    /// The digest value.
    pub fn finish(&self) -> u64 {
        self.state
    }
}

/// The SHA-256 of `bytes` as 64 lower-case hex digits.
///
/// # Example
///
/// ```
/// assert_eq!(
///     servesim_core::digest::sha256_hex(b"abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut sha = Sha256Stream::default();
    sha.update(bytes);
    sha.finish_hex()
}

/// A SHA-256 over bytes that arrive in chunks (a file read from its stream).
#[derive(Clone, Default)]
pub struct Sha256Stream(sha2::Sha256);

impl Sha256Stream {
    /// Adds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        sha2::Digest::update(&mut self.0, chunk);
    }

    /// The SHA-256 of everything added, as 64 lower-case hex digits.
    pub fn finish_hex(self) -> String {
        sha2::Digest::finalize(self.0).iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// Serde helpers that write a `u64` as a 16-digit hex string (JSON numbers above 2^53 lose
/// precision in JavaScript). Use with `#[serde(with = "servesim_core::digest::hex_u64")]`.
pub mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `value` as 16 lower-case hex digits.
    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{value:016x}"))
    }

    /// Reads a hex string written by [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let text = String::deserialize(deserializer)?;
        u64::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_published_fnv1a_64_vectors() {
        let hash = |text: &str| {
            let mut digest = Digest::new();
            digest.write_bytes(text.as_bytes());
            digest.finish()
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }
}
