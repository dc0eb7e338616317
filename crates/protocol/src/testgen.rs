//! Deterministic random values for the generated round-trip tests: a
//! seeded generator so a failing case can be replayed from its seed.

use bytes::Bytes;

use crate::Uuid;

pub struct Gen {
    state: u64,
    depth: u32,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
            depth: 0,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn edge<T: Copy>(&mut self, edges: &[T], any: T) -> T {
        let r = self.next_u64();
        if r.is_multiple_of(4) {
            edges[(r as usize / 4) % edges.len()]
        } else {
            any
        }
    }

    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
    pub fn null(&mut self) -> bool {
        self.next_u64().is_multiple_of(5)
    }
    pub fn i8(&mut self) -> i8 {
        let v = self.next_u64() as i8;
        self.edge(&[0, -1, i8::MIN, i8::MAX], v)
    }
    pub fn i16(&mut self) -> i16 {
        let v = self.next_u64() as i16;
        self.edge(&[0, -1, i16::MIN, i16::MAX], v)
    }
    pub fn u16(&mut self) -> u16 {
        let v = self.next_u64() as u16;
        self.edge(&[0, u16::MAX], v)
    }
    pub fn i32(&mut self) -> i32 {
        let v = self.next_u64() as i32;
        self.edge(&[0, -1, i32::MIN, i32::MAX], v)
    }
    // Used by generated code for uint32 fields (none in today's specs).
    #[allow(dead_code)]
    pub fn u32(&mut self) -> u32 {
        let v = self.next_u64() as u32;
        self.edge(&[0, u32::MAX], v)
    }
    pub fn i64(&mut self) -> i64 {
        let v = self.next_u64() as i64;
        self.edge(&[0, -1, i64::MIN, i64::MAX], v)
    }
    pub fn f64(&mut self) -> f64 {
        let v = (self.next_u64() % 1_000_000) as f64 / 7.0;
        self.edge(&[0.0, -1.5, f64::MAX, f64::MIN_POSITIVE], v)
    }
    pub fn uuid(&mut self) -> Uuid {
        let a = self.next_u64().to_be_bytes();
        let b = self.next_u64().to_be_bytes();
        let mut u = [0u8; 16];
        u[..8].copy_from_slice(&a);
        u[8..].copy_from_slice(&b);
        Uuid(u)
    }
    pub fn string(&mut self) -> String {
        const PARTS: &[&str] = &["", "a", "topic-1", "ø", "日本", "x_y.z", "consumer-group"];
        let n = (self.next_u64() % 3) as usize;
        (0..n)
            .map(|_| PARTS[(self.next_u64() as usize) % PARTS.len()])
            .collect()
    }
    pub fn bytes(&mut self) -> Bytes {
        let n = (self.next_u64() % 40) as usize;
        Bytes::from((0..n).map(|_| self.next_u64() as u8).collect::<Vec<u8>>())
    }
    /// Array lengths: short, and shorter as nesting deepens.
    pub fn len(&mut self) -> usize {
        self.depth += 1;
        let max = if self.depth > 6 { 1 } else { 4 };
        let n = (self.next_u64() % max) as usize;
        self.depth -= 1;
        n
    }
}
