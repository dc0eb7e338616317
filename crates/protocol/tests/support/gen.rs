// Seeded random values of fjord-protocol's message types, shared by the
// integration tests through `include!` (with `support/arb_table.rs`, which
// holds one `arb!` line per generated struct). The library's own generator
// (`testgen`) is `cfg(test)`-only and so out of reach of integration tests.
//
// Values set the fields of *every* version; encoding at a version keeps
// only that version's fields, and a decode of the result gives the value
// restricted to the version.

/// Seeded splitmix64 generator for field values.
struct G {
    state: u64,
    /// Whether `Option` fields may be `None`. Some fields are `Option` in
    /// fjord but nullable only in some versions; callers that hit
    /// `EncodeError::NullNotAllowed` rebuild the value with this off.
    nulls: bool,
    depth: u32,
}

#[allow(dead_code)]
impl G {
    fn new(seed: u64, nulls: bool) -> G {
        G {
            state: seed ^ 0x6a09_e667_f3bc_c908,
            nulls,
            depth: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

trait Arb: Sized {
    fn arb(g: &mut G) -> Self;
}

macro_rules! arb_int {
    ($($ty:ty),*) => {$(
        impl Arb for $ty {
            fn arb(g: &mut G) -> Self {
                match g.below(7) {
                    0 => 0,
                    1 => <$ty>::MAX,
                    2 => <$ty>::MIN,
                    3 => u64::MAX as $ty, // -1 for signed types
                    4 => g.below(100) as $ty,
                    _ => g.next() as $ty,
                }
            }
        }
    )*};
}
arb_int!(i8, i16, i32, i64, u16, u32);

impl Arb for bool {
    fn arb(g: &mut G) -> Self {
        g.next() & 1 == 1
    }
}

impl Arb for f64 {
    fn arb(g: &mut G) -> Self {
        match g.below(5) {
            0 => 0.0,
            1 => -1.5,
            2 => f64::MAX,
            3 => f64::MIN_POSITIVE,
            _ => (g.below(1_000_000) as f64) / 7.0,
        }
    }
}

impl Arb for String {
    fn arb(g: &mut G) -> Self {
        const PARTS: &[&str] = &[
            "",
            "a",
            "topic-1",
            "ø",
            "日本",
            "x_y.z",
            "consumer-group",
            "\u{1F980}",
        ];
        let n = g.below(3);
        (0..n)
            .map(|_| PARTS[g.below(PARTS.len() as u64) as usize])
            .collect()
    }
}

/// A small but real v2 record batch, so `records` fields carry the bytes a
/// broker actually sees.
fn record_batch(g: &mut G) -> ::bytes::Bytes {
    use fjord_protocol::records::{BatchBuilder, Compression};
    let codec = [
        Compression::None,
        Compression::None,
        Compression::Gzip,
        Compression::Lz4,
    ][g.below(4) as usize];
    let mut b = BatchBuilder::new(codec)
        .base_offset(g.below(1 << 40) as i64)
        .producer(g.below(1000) as i64, 0, 0);
    for i in 0..1 + g.below(4) {
        let key = format!("key-{i}");
        let value: Vec<u8> = (0..g.below(64)).map(|_| g.next() as u8).collect();
        b.append(
            1_700_000_000_000 + i as i64,
            Some(key.as_bytes()),
            Some(&value),
            &[(b"h".as_slice(), Some(b"v".as_slice()))],
        )
        .unwrap();
    }
    b.build().unwrap()
}

impl Arb for ::bytes::Bytes {
    fn arb(g: &mut G) -> Self {
        if g.below(4) == 0 {
            return record_batch(g);
        }
        let n = g.below(40);
        ::bytes::Bytes::from((0..n).map(|_| g.next() as u8).collect::<Vec<u8>>())
    }
}

impl Arb for fjord_protocol::Uuid {
    fn arb(g: &mut G) -> Self {
        if g.below(4) == 0 {
            return fjord_protocol::Uuid::ZERO;
        }
        let mut u = [0u8; 16];
        u[..8].copy_from_slice(&g.next().to_be_bytes());
        u[8..].copy_from_slice(&g.next().to_be_bytes());
        fjord_protocol::Uuid(u)
    }
}

impl<T: Arb> Arb for Vec<T> {
    fn arb(g: &mut G) -> Self {
        g.depth += 1;
        let n = if g.depth > 3 { g.below(2) } else { g.below(4) };
        let v = (0..n).map(|_| T::arb(g)).collect();
        g.depth -= 1;
        v
    }
}

impl<T: Arb> Arb for Option<T> {
    fn arb(g: &mut G) -> Self {
        if g.nulls && g.below(5) == 0 {
            None
        } else {
            Some(T::arb(g))
        }
    }
}

/// Unknown tagged fields, with tags far above any Kafka defines.
fn arb_unknown(g: &mut G) -> Vec<fjord_protocol::RawTaggedField> {
    if g.below(4) != 0 {
        return Vec::new();
    }
    let mut tag = 10_000 + g.below(100) as u32;
    (0..1 + g.below(2))
        .map(|_| {
            let f = fjord_protocol::RawTaggedField {
                tag,
                data: ::bytes::Bytes::from(
                    (0..g.below(8)).map(|_| g.next() as u8).collect::<Vec<u8>>(),
                ),
            };
            tag += 1 + g.below(300) as u32;
            f
        })
        .collect()
}

/// `Arb` for one generated struct: every listed field random, plus
/// occasional unknown tagged fields.
macro_rules! arb {
    ($m:ident :: $s:ident { $($f:ident),* $(,)? }) => {
        impl Arb for fjord_protocol::messages::$m::$s {
            fn arb(g: &mut G) -> Self {
                let mut v = <fjord_protocol::messages::$m::$s>::default();
                $( v.$f = Arb::arb(g); )*
                v.unknown_tagged_fields = arb_unknown(g);
                v
            }
        }
    };
}

/// A random value of `O`, restricted to `version` by a round trip through
/// fjord; `None` if fjord cannot encode any value of this seed there.
#[allow(dead_code)]
fn restricted<O>(seed: u64, version: i16) -> Option<(O, ::bytes::Bytes)>
where
    O: Arb + fjord_protocol::Encode + fjord_protocol::Decode,
{
    for nulls in [true, false] {
        let v = O::arb(&mut G::new(seed, nulls));
        let mut b = ::bytes::BytesMut::new();
        if v.encode(&mut b, version).is_ok() {
            let bytes = b.freeze();
            let back = O::decode(&mut bytes.clone(), version).ok()?;
            return Some((back, bytes));
        }
    }
    None
}
