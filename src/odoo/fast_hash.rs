//! A hash map for the log analyzer's own keys (test ids, loggers), hashed with FxHash's
//! multiply-rotate instead of SipHash: a test start is a look-up, and SipHash was a tenth
//! of a gigabyte log's parse. Flooding it with colliding keys only slows the job that
//! wrote the log, so the DoS resistance SipHash buys is not needed here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_meet_and_different_ones_stay_apart() {
        let mut m: FastMap<String, u32> = FastMap::default();
        for i in 0..10_000 {
            *m.entry(format!("base\0TestORM.test_{i}")).or_default() += 1;
        }
        *m.entry("base\0TestORM.test_7".to_string()).or_default() += 1;
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get("base\0TestORM.test_7"), Some(&2));
        assert_eq!(m.get("base\0TestORM.test_10000"), None);
    }
}
