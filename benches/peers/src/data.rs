//! The deterministic data every engine gets: 24-byte random keys, each with a 150-byte random value
//! derived from the key, so any engine's answer can be checked without storing the values.

#[path = "../../support/splitmix64.rs"]
#[allow(dead_code)]
mod splitmix64;

pub use splitmix64::SplitMix64;

pub const KEY_LEN: usize = 24;
pub const VALUE_LEN: usize = 150;
pub type Key = [u8; KEY_LEN];
pub type Value = [u8; VALUE_LEN];

/// Seeds of the independent streams: the loaded keys, and the fresh keys each write workload adds.
pub const LOAD_SEED: u64 = 0x5EED_0001;
pub const SINGLE_SEED: u64 = 0x5EED_0002;
pub const BATCH_SEED: u64 = 0x5EED_0003;
pub const NON_DURABLE_SEED: u64 = 0x5EED_0004;
pub const LARGE_SEED: u64 = 0x5EED_0005;
pub const LARGE_VALUE_SEED: u64 = 0x5EED_0006;
/// Workload 11: thread `t` draws its keys from `GROUP_SEED + t`.
pub const GROUP_SEED: u64 = 0x5EED_0007;
/// Seeds for choosing which existing keys the read workloads ask for.
pub const READ_SEED: u64 = 0x5EED_0010;

/// `count` random keys from one stream (24 random bytes collide with negligible probability).
pub fn keys(seed: u64, count: usize) -> Vec<Key> {
    let mut rng = SplitMix64::new(seed);
    (0..count).map(|_| next_key(&mut rng)).collect()
}

pub fn next_key(rng: &mut SplitMix64) -> Key {
    let mut key = [0; KEY_LEN];
    rng.fill(&mut key);
    key
}

/// The value stored under `key`: 150 bytes from a generator seeded by the key.
pub fn value_for(key: &Key) -> Value {
    let seed = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"))
        ^ u64::from_le_bytes(key[8..16].try_into().expect("8 bytes"));
    let mut value = [0; VALUE_LEN];
    SplitMix64::new(seed).fill(&mut value);
    value
}

/// A cheap fold over every byte, so reading a value is not optimised away and zero-copy engines
/// still have to touch the data.
pub fn digest(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut sum = 0u64;
    for chunk in &mut chunks {
        sum = sum.wrapping_add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
    }
    for &b in chunks.remainder() {
        sum = sum.wrapping_add(u64::from(b));
    }
    sum
}
