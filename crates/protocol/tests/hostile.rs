//! Hostile input: huge declared counts and lengths, and a few hundred
//! thousand random and mutated frames, through every decoding entry point
//! (`frame::parse_request` + `RequestFrame::decode`, `Response::decode`,
//! and the record batch API). Nothing may panic, and no decode may make an
//! allocation out of proportion to the bytes it was given: the test binary
//! counts allocations per thread (see `Counting`).
//!
//! The mutation test is seeded: it prints its seed, and
//! `FJORD_FUZZ_SEED=<seed>` replays a run. `FJORD_FUZZ_ITERS` sets the
//! number of inputs (default 300 000 in release builds, 100 000 in debug).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::frame::{encode_request, parse_request};
use fjord_protocol::messages::ProduceRequest;
use fjord_protocol::records::{self, BatchBuilder, BatchIter, Compression, ControlType};
use fjord_protocol::{ApiKey, Decode, DecodeError, EncodeError, Request, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

include!("support/gen.rs");
include!("support/arb_table.rs");

// ------------------------------------------------------ allocation counter

/// The system allocator, counting (per thread, while `measure` runs) the
/// largest single allocation and the total allocated.
struct Counting;

#[global_allocator]
static ALLOC: Counting = Counting;

thread_local! {
    /// (measuring, largest single allocation, total bytes allocated)
    static TRACK: Cell<(bool, usize, usize)> = const { Cell::new((false, 0, 0)) };
}

fn note(size: usize) {
    let _ = TRACK.try_with(|t| {
        let (on, max, total) = t.get();
        if on {
            t.set((on, max.max(size), total.saturating_add(size)));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations made by `f` on this thread.
#[derive(Clone, Copy, Debug)]
struct Allocs {
    largest: usize,
    total: usize,
}

fn measure<R>(f: impl FnOnce() -> R) -> (R, Allocs) {
    TRACK.with(|t| t.set((true, 0, 0)));
    let r = f();
    let (_, largest, total) = TRACK.with(|t| t.replace((false, 0, 0)));
    (r, Allocs { largest, total })
}

/// The most a decode of `input_len` bytes may allocate at once. Decoders
/// check every count against the bytes left (at one byte per struct
/// element) and preallocate at most 1024 elements, so an array of an n-byte
/// input holds at most n elements; the largest generated struct is 296
/// bytes in memory and a growing `Vec` may double once more.
fn allocation_bound(input_len: usize) -> usize {
    640 * input_len + 64 * 1024
}

// ------------------------------------------------------------ huge counts

/// The ProduceRequest v3 body that makes kafka-protocol 0.18 abort the
/// process: a null transactional id, acks, timeout, then a topic count of
/// 2^31 - 1 followed by the start of a first topic (an empty name): 14
/// bytes in all.
const PRODUCE_V3_HUGE_TOPICS: [u8; 14] = [
    0xff, 0xff, // transactional_id: null
    0x00, 0x01, // acks: 1
    0x00, 0x00, 0x75, 0x30, // timeout_ms: 30000
    0x7f, 0xff, 0xff, 0xff, // topic_data: 2^31 - 1 topics
    0x00, 0x00, // first topic: name length 0
];

#[test]
fn produce_v3_declaring_2_pow_31_topics_fails_fast_without_allocating() {
    for len in [12, 14] {
        let body = Bytes::copy_from_slice(&PRODUCE_V3_HUGE_TOPICS[..len]);
        let start = Instant::now();
        let (r, allocs) = measure(|| ProduceRequest::decode(&mut body.clone(), 3));
        let elapsed = start.elapsed();
        assert!(
            matches!(r, Err(DecodeError::Truncated { .. })),
            "{len} bytes: {r:?}"
        );
        assert!(
            elapsed < Duration::from_millis(50),
            "{len} bytes took {elapsed:?}"
        );
        assert!(
            allocs.largest <= 1024 && allocs.total <= 4096,
            "{len} bytes: {allocs:?}"
        );

        // The same body inside a request frame, through the broker's path.
        let mut frame = BytesMut::new();
        frame.put_i16(0); // Produce
        frame.put_i16(3);
        frame.put_i32(42); // correlation id
        frame.put_i16(-1); // client id: null
        frame.put_slice(&body);
        let (r, allocs) = measure(|| parse_request(frame.clone().freeze()).map(|f| f.decode()));
        let decoded = r.expect("the header is fine");
        assert!(decoded.is_err(), "{decoded:?}");
        assert!(allocs.largest <= 1024, "{allocs:?}");
    }

    // Also with every other hostile count in the same place.
    for count in [
        i32::MAX,
        i32::MAX - 1,
        1 << 30,
        0x0100_0000,
        65_536,
        1_000,
        -2,
        i32::MIN,
    ] {
        let mut body = PRODUCE_V3_HUGE_TOPICS;
        body[8..12].copy_from_slice(&count.to_be_bytes());
        let (r, allocs) = measure(|| ProduceRequest::decode(&mut Bytes::copy_from_slice(&body), 3));
        assert!(r.is_err(), "count {count}: {r:?}");
        assert!(allocs.largest <= 1024, "count {count}: {allocs:?}");
    }
}

/// Encodes a random request or response of `key` at `version`.
fn sample_body(key: ApiKey, version: i16, seed: u64, response: bool) -> Option<Bytes> {
    for nulls in [true, false] {
        let mut g = G::new(seed, nulls);
        let mut buf = BytesMut::new();
        let r = if response {
            arb_response(key, &mut g).encode(&mut buf, version)
        } else {
            arb_request(key, &mut g).encode(&mut buf, version)
        };
        match r {
            Ok(()) => return Some(buf.freeze()),
            Err(EncodeError::NullNotAllowed(_)) => continue,
            Err(e) => panic!("{key:?} v{version}: {e}"),
        }
    }
    None
}

/// Patterns that read as a huge count or length wherever they land: i32
/// counts and bytes lengths, i16 string lengths, compact (varint) lengths,
/// and negative lengths.
const HUGE: &[&[u8]] = &[
    &[0x7f, 0xff, 0xff, 0xff],
    &[0x7f, 0xff, 0xff, 0xfe],
    &[0x00, 0x10, 0x00, 0x00],
    &[0x7f, 0xff],
    &[0xff, 0xfe],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0xfe, 0xff, 0xff, 0xff, 0x07],
    &[0x80, 0x80, 0x80, 0x80, 0x01],
    &[0x80, 0x00, 0x00, 0x00],
];

fn decode_body(key: ApiKey, version: i16, body: &Bytes, response: bool) -> bool {
    let mut b = body.clone();
    if response {
        Response::decode(key as i16, version, &mut b).is_ok()
    } else {
        Request::decode(key as i16, version, &mut b).is_ok()
    }
}

/// For every api key and version (requests and responses, flexible and
/// not), a huge count or length is written at every offset of a valid
/// encoding, overwriting or inserted. Each decode must return (an error
/// or a value) without an allocation out of proportion to its input.
#[test]
fn huge_counts_at_every_offset_of_every_message() {
    let mut decodes = 0u64;
    let mut worst = (0.0f64, String::new());
    let mut versions = 0;
    let mut flexible = 0;
    for key in ApiKey::ALL {
        let (lo, hi) = key.versions();
        for version in lo..=hi {
            versions += 1;
            if key.is_flexible(version) {
                flexible += 1;
            }
            for response in [false, true] {
                let Some(body) =
                    sample_body(*key, version, version as u64 * 7919 + *key as u64, response)
                else {
                    continue;
                };
                assert!(
                    decode_body(*key, version, &body, response),
                    "{key:?} v{version}: sample does not decode"
                );
                for at in 0..body.len() {
                    for pattern in HUGE {
                        for insert in [false, true] {
                            let mut m = body.to_vec();
                            if insert {
                                m.splice(at..at, pattern.iter().copied());
                            } else {
                                let end = (at + pattern.len()).min(m.len());
                                m.splice(at..end, pattern.iter().copied());
                            }
                            let m = Bytes::from(m);
                            let (_, allocs) = measure(|| decode_body(*key, version, &m, response));
                            decodes += 1;
                            let ratio = allocs.largest as f64 / m.len() as f64;
                            if ratio > worst.0 {
                                worst = (ratio, format!("{key:?} v{version} response={response} at {at}: {allocs:?} for {} bytes", m.len()));
                            }
                            assert!(
                                allocs.largest <= allocation_bound(m.len()),
                                "{key:?} v{version} (response: {response}) with {pattern:02x?} at {at} (insert: {insert}): \
                                 {allocs:?} for {} input bytes",
                                m.len()
                            );
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "huge counts: {decodes} decodes over {versions} api versions ({flexible} flexible); \
         worst largest-allocation/input ratio {:.1} ({})",
        worst.0, worst.1
    );
    assert!(versions >= 300 && flexible >= 150, "{versions} {flexible}");
}

/// Header-level hostile values: the client id length, the header's tagged
/// field count and size.
#[test]
fn hostile_request_headers() {
    let cases: &[&[u8]] = &[
        // Metadata v1, client id length 32767 with 2 bytes present.
        &[0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, b'a', b'b'],
        // Metadata v1, client id length -2.
        &[0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xfe],
        // Metadata v9 (header v2): client id "", then 2^32-1 tagged fields.
        &[0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f],
        // Metadata v9: one tagged field of size 2^28.
        &[
            0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x01,
        ],
        // Metadata v9: tags out of order.
        &[0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 2, 5, 0, 3, 0],
        // ApiVersions v3, then a body whose software name is 2^31 bytes.
        &[
            0, 18, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07,
        ],
        // Unknown api key, huge version.
        &[0x7f, 0xff, 0x7f, 0xff, 0, 0, 0, 1],
    ];
    for (i, frame) in cases.iter().enumerate() {
        let (r, allocs) = measure(|| parse_request(Bytes::from_static(frame)).map(|f| f.decode()));
        assert!(allocs.largest <= 1024, "case {i}: {allocs:?}");
        match r {
            Err(_) => {}
            Ok(decoded) => assert!(decoded.is_err(), "case {i}: {decoded:?}"),
        }
    }
}

// --------------------------------------------------------------- mutation

/// Valid inputs to mutate: request frames and response bodies for every
/// api key and version, and record batches in every codec.
struct Corpus {
    /// Request frames (after the size prefix).
    requests: Vec<Bytes>,
    /// (api key, version, body).
    responses: Vec<(ApiKey, i16, Bytes)>,
    /// Record batches, single and back to back.
    batches: Vec<Bytes>,
}

fn corpus() -> Corpus {
    let mut requests = Vec::new();
    let mut responses = Vec::new();
    for key in ApiKey::ALL {
        let (lo, hi) = key.versions();
        for version in lo..=hi {
            for seed in 0..2u64 {
                let seed = seed * 1_000_003 + version as u64 * 131 + *key as u64;
                if let Some(body) = sample_body(*key, version, seed, false) {
                    let req = Request::decode(*key as i16, version, &mut body.clone()).unwrap();
                    let mut out = BytesMut::new();
                    let client_id = if seed & 1 == 0 { Some("rdkafka") } else { None };
                    encode_request(&mut out, seed as i32, client_id, version, &req).unwrap();
                    requests.push(out.freeze().slice(4..));
                }
                if let Some(body) = sample_body(*key, version, seed, true) {
                    responses.push((*key, version, body));
                }
            }
        }
    }
    let mut batches = Vec::new();
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    for (i, codec) in codecs.iter().enumerate() {
        for n in [1usize, 3, 20] {
            let mut b = BatchBuilder::new(*codec)
                .base_offset(100 * i as i64)
                .producer(7, 1, 5);
            if n == 3 {
                b = b.transactional(true);
            }
            for r in 0..n {
                let value = vec![b'v'; r * 7];
                let headers: &[(&[u8], Option<&[u8]>)] = if r % 2 == 0 {
                    &[(b"k", Some(b"v")), (b"n", None)]
                } else {
                    &[]
                };
                b.append(
                    1_700_000_000_000 + r as i64,
                    (r % 3 != 0).then_some(b"key".as_slice()),
                    Some(&value),
                    headers,
                )
                .unwrap();
            }
            batches.push(b.build().unwrap());
        }
    }
    batches.push(records::control_batch(
        ControlType::Commit,
        7,
        1,
        3,
        1_700_000_000_000,
        2,
    ));
    batches.push(records::control_batch(
        ControlType::Abort,
        7,
        1,
        3,
        1_700_000_000_000,
        2,
    ));
    let mut two = BytesMut::new();
    two.put_slice(&batches[0]);
    two.put_slice(&batches[4]);
    batches.push(two.freeze());
    Corpus {
        requests,
        responses,
        batches,
    }
}

/// Applies 1–4 random mutations.
fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut m = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let len = m.len();
        match rng.gen_range(0..10) {
            // Bit flip.
            0 | 1 if len > 0 => {
                let i = rng.gen_range(0..len);
                m[i] ^= 1 << rng.gen_range(0..8);
            }
            // Random byte.
            2 if len > 0 => {
                let i = rng.gen_range(0..len);
                m[i] = rng.gen();
            }
            // Truncate.
            3 if len > 0 => m.truncate(rng.gen_range(0..len)),
            // Insert random bytes.
            4 => {
                let at = rng.gen_range(0..=len);
                let n = rng.gen_range(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                m.splice(at..at, bytes);
            }
            // Delete a range.
            5 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 16));
                m.drain(a..b);
            }
            // A huge count or length, overwritten or inserted.
            6 | 7 => {
                let p = HUGE[rng.gen_range(0..HUGE.len())];
                let at = rng.gen_range(0..=len);
                if rng.gen() {
                    m.splice(at..at, p.iter().copied());
                } else {
                    let end = (at + p.len()).min(len);
                    m.splice(at..end, p.iter().copied());
                }
            }
            // Duplicate a chunk.
            8 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 32));
                let chunk = m[a..b].to_vec();
                let at = rng.gen_range(0..=m.len());
                m.splice(at..at, chunk);
            }
            // Splice in part of another input.
            _ if !other.is_empty() => {
                let a = rng.gen_range(0..other.len());
                let b = rng.gen_range(a..=other.len());
                let at = rng.gen_range(0..=len);
                let end = rng.gen_range(at..=len);
                m.splice(at..end, other[a..b].iter().copied());
            }
            _ => {}
        }
    }
    m
}

/// A decoded value must encode again, and that encoding must be stable
/// (decode then encode gives the same bytes).
fn check_reencode_request(req: &Request, version: i16) -> Result<(), String> {
    let mut a = BytesMut::new();
    req.encode(&mut a, version)
        .map_err(|e| format!("decoded request does not encode: {e}"))?;
    let back = Request::decode(req.api_key() as i16, version, &mut a.clone().freeze())
        .map_err(|e| format!("re-encoded request does not decode: {e}"))?;
    let mut b = BytesMut::new();
    back.encode(&mut b, version)
        .map_err(|e| format!("second encode: {e}"))?;
    if a != b {
        return Err("re-encoding is not stable".into());
    }
    Ok(())
}

fn check_reencode_response(resp: &Response, key: ApiKey, version: i16) -> Result<(), String> {
    let mut a = BytesMut::new();
    resp.encode(&mut a, version)
        .map_err(|e| format!("decoded response does not encode: {e}"))?;
    let back = Response::decode(key as i16, version, &mut a.clone().freeze())
        .map_err(|e| format!("re-encoded response does not decode: {e}"))?;
    let mut b = BytesMut::new();
    back.encode(&mut b, version)
        .map_err(|e| format!("second encode: {e}"))?;
    if a != b {
        return Err("re-encoding is not stable".into());
    }
    Ok(())
}

const DECOMPRESS_LIMIT: usize = 256 * 1024;

/// Every record API over one buffer; errors are fine, panics are not.
fn exercise_records(buf: &Bytes) -> usize {
    let mut seen = 0;
    let _ = records::validate(buf);
    let _ = records::validate_records(buf, DECOMPRESS_LIMIT);
    if let Ok(iter) = records::records(buf, DECOMPRESS_LIMIT) {
        let header = *iter.header();
        for r in iter.take(10_000) {
            match r {
                Ok(r) => {
                    seen += 1;
                    let _ = r.offset(header.base_offset);
                    let _ = r.timestamp(&header);
                    if header.is_control() {
                        let _ = records::parse_control_record(r.key.as_deref().unwrap_or(&[]));
                        let _ = records::parse_end_txn_marker(&r);
                    }
                }
                Err(_) => break,
            }
        }
    }
    for b in BatchIter::new(buf).take(1000) {
        match b {
            Ok((h, bytes)) => {
                let _ = (
                    h.last_offset(),
                    h.next_offset(),
                    h.last_sequence(),
                    h.compression(),
                );
                let _ = records::recompress(bytes, Compression::Lz4, DECOMPRESS_LIMIT);
            }
            Err(_) => break,
        }
    }
    seen
}

/// Fixes the CRC of a (mutated) batch so that validation goes past it.
fn fix_crc(m: &mut [u8]) {
    if let Ok(h) = records::BatchHeader::parse(m) {
        let end = h.total_size().min(m.len());
        if end >= records::BATCH_HEADER_LEN {
            let crc = records::compute_crc(&m[..end]);
            m[17..21].copy_from_slice(&crc.to_be_bytes());
        }
    }
}

#[derive(Default, Debug)]
struct Counters {
    requests: u64,
    request_frames_ok: u64,
    requests_decoded: u64,
    responses: u64,
    responses_decoded: u64,
    batches: u64,
    records_read: u64,
    random: u64,
}

fn iterations() -> u64 {
    if let Ok(v) = std::env::var("FJORD_FUZZ_ITERS") {
        return v.parse().expect("FJORD_FUZZ_ITERS is a number");
    }
    if cfg!(debug_assertions) {
        100_000
    } else {
        300_000
    }
}

/// One input, derived from (`seed`, `i`) alone so any failure replays.
fn one_input(corpus: &Corpus, seed: u64, i: u64, counters: &mut Counters) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let pick = rng.gen_range(0..100);
    if pick < 50 {
        counters.requests += 1;
        let base = &corpus.requests[rng.gen_range(0..corpus.requests.len())];
        let other = &corpus.requests[rng.gen_range(0..corpus.requests.len())];
        let input = Bytes::from(mutate(&mut rng, base, other));
        let (r, allocs) = measure(|| match parse_request(input.clone()) {
            Ok(frame) => Some((frame.api_version, frame.decode())),
            Err(_) => None,
        });
        if allocs.largest > allocation_bound(input.len()) {
            return Err(format!(
                "request frame of {} bytes allocated {allocs:?}: {input:02x?}",
                input.len()
            ));
        }
        if let Some((version, decoded)) = r {
            counters.request_frames_ok += 1;
            if let Ok(req) = decoded {
                counters.requests_decoded += 1;
                check_reencode_request(&req, version).map_err(|e| format!("{e}: {input:02x?}"))?;
            }
        }
    } else if pick < 80 {
        counters.responses += 1;
        let (key, version, base) = &corpus.responses[rng.gen_range(0..corpus.responses.len())];
        let other = &corpus.responses[rng.gen_range(0..corpus.responses.len())].2;
        let input = Bytes::from(mutate(&mut rng, base, other));
        // Sometimes decode as a neighbouring version or another key.
        let (key, version) = match rng.gen_range(0..10) {
            0 => (*key, version + 1),
            1 => (*key, version - 1),
            2 => (ApiKey::ALL[rng.gen_range(0..ApiKey::ALL.len())], *version),
            _ => (*key, *version),
        };
        let (r, allocs) = measure(|| Response::decode(key as i16, version, &mut input.clone()));
        if allocs.largest > allocation_bound(input.len()) {
            return Err(format!(
                "{key:?} v{version} response of {} bytes allocated {allocs:?}: {input:02x?}",
                input.len()
            ));
        }
        if let Ok(resp) = r {
            counters.responses_decoded += 1;
            check_reencode_response(&resp, key, version)
                .map_err(|e| format!("{key:?} v{version}: {e}: {input:02x?}"))?;
        }
    } else if pick < 97 {
        counters.batches += 1;
        let base = &corpus.batches[rng.gen_range(0..corpus.batches.len())];
        let other = &corpus.batches[rng.gen_range(0..corpus.batches.len())];
        let mut m = mutate(&mut rng, base, other);
        if rng.gen_bool(0.6) {
            fix_crc(&mut m);
        }
        let input = Bytes::from(m);
        let (seen, allocs) = measure(|| exercise_records(&input));
        counters.records_read += seen as u64;
        // Decompression may legitimately fill its limit (and recompress
        // its output); anything beyond that is out of proportion.
        let bound = allocation_bound(input.len()) + 4 * DECOMPRESS_LIMIT;
        if allocs.largest > bound {
            return Err(format!(
                "record batch of {} bytes allocated {allocs:?}: {input:02x?}",
                input.len()
            ));
        }
    } else {
        // Pure noise, as a request frame, a response and records.
        counters.random += 1;
        let n = rng.gen_range(0..64);
        let input: Bytes = (0..n).map(|_| rng.gen::<u8>()).collect::<Vec<u8>>().into();
        if let Ok(f) = parse_request(input.clone()) {
            let _ = f.decode();
        }
        let key = ApiKey::ALL[rng.gen_range(0..ApiKey::ALL.len())];
        let _ = Response::decode(key as i16, rng.gen_range(-1..20), &mut input.clone());
        exercise_records(&input);
    }
    Ok(())
}

#[test]
fn mutated_and_random_frames_never_panic() {
    let seed: u64 = match std::env::var("FJORD_FUZZ_SEED") {
        Ok(s) => s.parse().expect("FJORD_FUZZ_SEED is a number"),
        Err(_) => rand::random(),
    };
    let iters = iterations();
    eprintln!("mutation fuzz: seed {seed} (replay with FJORD_FUZZ_SEED={seed}), {iters} inputs");
    let corpus = corpus();
    let start = Instant::now();
    let mut counters = Counters::default();
    // Keep the default hook's message for a panic, but say how to replay it.
    for i in 0..iters {
        let r = catch_unwind(AssertUnwindSafe(|| {
            one_input(&corpus, seed, i, &mut counters)
        }));
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("input {i} of seed {seed} (FJORD_FUZZ_SEED={seed}): {e}"),
            Err(_) => {
                panic!("input {i} of seed {seed} panicked (replay with FJORD_FUZZ_SEED={seed})")
            }
        }
    }
    eprintln!(
        "mutation fuzz: {iters} inputs in {:.1?} from {} request frames, {} response bodies, {} batches: {counters:?}",
        start.elapsed(),
        corpus.requests.len(),
        corpus.responses.len(),
        corpus.batches.len()
    );
    // The mutations must reach the decoders, not just bounce off headers.
    assert!(
        counters.requests_decoded > 0
            && counters.responses_decoded > 0
            && counters.records_read > 0
    );
}
