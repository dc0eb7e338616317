//! Kafka's default key partitioner: murmur2 of the key bytes (seed
//! 0x9747b28c), sign bit cleared, modulo the partition count. Keys land
//! where the Java client (and kafka-python's default) put them.

const SEED: u32 = 0x9747_b28c;
const M: u32 = 0x5bd1_e995;
const R: u32 = 24;

/// 32-bit murmur2 as Kafka's clients compute it.
pub fn murmur2(data: &[u8]) -> u32 {
    let mut h = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if tail.len() >= 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// The partition of `key` among `partitions` (> 0).
pub fn partition_for_key(key: &[u8], partitions: usize) -> i32 {
    let n = partitions.max(1) as u32;
    ((murmur2(key) & 0x7fff_ffff) % n) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kafkas_murmur2() {
        // Values from kafka-python's kafka.partitioner.default.murmur2,
        // which mirrors the Java client.
        assert_eq!(murmur2(b""), 275646681);
        assert_eq!(murmur2(b"a"), 2731586172);
        assert_eq!(murmur2(b"21"), 3321034988);
        assert_eq!(murmur2(b"abc"), 479470107);
        assert_eq!(murmur2(b"foobar"), 3504634814);
        assert_eq!(murmur2(b"a-little-bit-long-string"), 3308985760);
        assert_eq!(murmur2(b"key-1"), 193331640);
        assert_eq!(partition_for_key(b"key-1", 7), 193331640 % 7);
        assert_eq!(partition_for_key(b"key-1", 1), 0);
    }
}
