//! Differential tests against an independent implementation of the Kafka
//! wire protocol, the `kafka-protocol` crate (0.18, generated from Kafka
//! 4.1's message definitions by different code).
//!
//! Every message that both crates define is covered, for every version
//! that both support: requests, responses and the two header schemas.
//! For each (message, version, seed):
//!
//! 1. A value of fjord's type is built with every field set to something
//!    random (edge values included), then restricted to the version by a
//!    round trip through fjord (fields the version lacks fall back to their
//!    defaults).
//! 2. Reverse: the value is converted field by field to kafka-protocol's
//!    type (`Conv`, written independently of either codec) and encoded by
//!    kafka-protocol; fjord must decode those bytes to the original, and
//!    fjord's own encoding must be byte-identical to kafka-protocol's.
//! 3. Forward: kafka-protocol decodes fjord's bytes; the result must equal
//!    the converted value, re-encode to the same bytes, and decode in fjord
//!    to the original.
//! 4. Reverse from the unrestricted value: kafka-protocol encodes the
//!    converted *full* value, deciding on its own which fields the version
//!    carries. It refuses when a non-default field is missing from the
//!    version; when it accepts, fjord must decode the result to the
//!    restricted value and its own bytes must be identical. This catches
//!    version-gating disagreements on tagged (and ignorable) fields, which
//!    positional decoding in 2–3 cannot see.
//!
//! Values are built by `Arb` (a small seeded generator) and converted by
//! `Conv`. The per-struct field lists (`support/arb_table.rs`,
//! `support/conv_table.rs`) are generated from the two crates' struct
//! definitions by `support/gen_tables.py`; rerun it when the generated code
//! changes (a removed field is a compile error; a new one stays at its
//! default until then). Seeds come from proptest, plus a fixed sweep that
//! lists every disagreement; a failure prints the seed, message, version
//! and the first differing byte.
//!
//! kafka-protocol aborts the process on some hostile input (a huge array
//! count allocates before checking), and bytes written for a different
//! schema are hostile to it, so it only ever decodes bytes identical to its
//! own encoding (see step 2).

use std::collections::BTreeMap;
use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use fjord_protocol::messages as o;
use fjord_protocol::{Decode, Encode, EncodeError, RawTaggedField};
use kafka_protocol::messages as t;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use proptest::prelude::*;

include!("support/gen.rs");
include!("support/arb_table.rs");

// ----------------------------------------------------------- conversion

/// Field-by-field conversion of a fjord value to the kafka-protocol one.
trait Conv<T> {
    fn conv(&self) -> T;
}

macro_rules! conv_id {
    ($($ty:ty),*) => {$(
        impl Conv<$ty> for $ty {
            fn conv(&self) -> $ty {
                self.clone()
            }
        }
    )*};
}
conv_id!(bool, i8, i16, i32, i64, u16, u32, f64, Bytes);

impl Conv<t::BrokerId> for i32 {
    fn conv(&self) -> t::BrokerId {
        t::BrokerId(*self)
    }
}
impl Conv<t::ProducerId> for i64 {
    fn conv(&self) -> t::ProducerId {
        t::ProducerId(*self)
    }
}
impl Conv<StrBytes> for String {
    fn conv(&self) -> StrBytes {
        StrBytes::from_string(self.clone())
    }
}
impl Conv<t::TopicName> for String {
    fn conv(&self) -> t::TopicName {
        t::TopicName(self.conv())
    }
}
impl Conv<t::GroupId> for String {
    fn conv(&self) -> t::GroupId {
        t::GroupId(self.conv())
    }
}
impl Conv<t::TransactionalId> for String {
    fn conv(&self) -> t::TransactionalId {
        t::TransactionalId(self.conv())
    }
}
impl Conv<uuid::Uuid> for fjord_protocol::Uuid {
    fn conv(&self) -> uuid::Uuid {
        uuid::Uuid::from_bytes(self.0)
    }
}
impl<A: Conv<B>, B> Conv<Vec<B>> for Vec<A> {
    fn conv(&self) -> Vec<B> {
        self.iter().map(Conv::conv).collect()
    }
}
impl<A: Conv<B>, B> Conv<Option<B>> for Option<A> {
    fn conv(&self) -> Option<B> {
        self.as_ref().map(Conv::conv)
    }
}

/// fjord models every `records` field as `Option<Bytes>`, even where Kafka
/// declares it non-nullable (FetchSnapshotResponse's UnalignedRecords);
/// there `None` cannot be encoded and kafka-protocol uses plain `Bytes`.
impl Conv<Bytes> for Option<Bytes> {
    fn conv(&self) -> Bytes {
        self.clone().unwrap_or_default()
    }
}

fn conv_unknown(fields: &[RawTaggedField]) -> BTreeMap<i32, Bytes> {
    fields
        .iter()
        .map(|f| (f.tag as i32, f.data.clone()))
        .collect()
}

/// `Conv` for one struct: `shared` fields have the same name in both
/// crates, `ours_only` exist only in fjord (versions kafka-protocol dropped;
/// they must be absent from every version both support, or the checks
/// fail), `renamed` differ only in name, and `tags` says whether
/// kafka-protocol's struct keeps unknown tagged fields (it omits them for
/// messages with no flexible version).
macro_rules! conv {
    ($m:ident :: $s:ident, $($rest:tt)*) => {
        conv!($m::$s => $m::$s, $($rest)*);
    };
    ($m:ident :: $s:ident => $tm:ident :: $ts:ident, tags: $tags:ident, shared: [$($f:ident),*], ours_only: [$($of:ident),*], renamed: [$($ro:ident => $rt:ident),*]) => {
        impl Conv<t::$tm::$ts> for o::$m::$s {
            fn conv(&self) -> t::$tm::$ts {
                let mut x = <t::$tm::$ts>::default();
                $( x.$f = self.$f.conv(); )*
                $( x.$rt = self.$ro.conv(); )*
                let unknown = conv_unknown(&self.unknown_tagged_fields);
                conv!(@tags $tags, x, unknown);
                x
            }
        }
    };
    (@tags yes, $to:ident, $unknown:ident) => {
        $to.unknown_tagged_fields = $unknown;
    };
    (@tags no, $to:ident, $unknown:ident) => {
        let _ = $unknown;
    };
}

// --------------------------------------------------------------- checks

fn ours_encode<O: Encode>(v: &O, version: i16) -> Result<Bytes, EncodeError> {
    let mut b = BytesMut::new();
    v.encode(&mut b, version)?;
    Ok(b.freeze())
}

fn ours_decode<O: Decode>(bytes: &Bytes, version: i16) -> Result<O, String> {
    let mut buf = bytes.clone();
    let v = O::decode(&mut buf, version).map_err(|e| e.to_string())?;
    if !buf.is_empty() {
        return Err(format!("{} bytes left over", buf.len()));
    }
    Ok(v)
}

fn theirs_encode<T: Encodable>(v: &T, version: i16) -> Result<Bytes, String> {
    let mut b = BytesMut::new();
    v.encode(&mut b, version).map_err(|e| e.to_string())?;
    let size = v.compute_size(version).map_err(|e| e.to_string())?;
    if size != b.len() {
        return Err(format!(
            "kafka-protocol compute_size {size} != encoded {}",
            b.len()
        ));
    }
    Ok(b.freeze())
}

fn theirs_decode<T: Decodable>(bytes: &Bytes, version: i16) -> Result<T, String> {
    let mut buf = bytes.clone();
    let v = T::decode(&mut buf, version).map_err(|e| e.to_string())?;
    if !buf.is_empty() {
        return Err(format!("{} bytes left over", buf.len()));
    }
    Ok(v)
}

fn first_diff(a: &[u8], b: &[u8]) -> String {
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let lo = i.saturating_sub(8);
    format!(
        "lengths {} vs {}, first difference at byte {i}: ...{:02x?} vs ...{:02x?}",
        a.len(),
        b.len(),
        &a[lo..(i + 8).min(a.len())],
        &b[lo..(i + 8).min(b.len())]
    )
}

fn short<D: Debug>(v: &D) -> String {
    let s = format!("{v:?}");
    if s.len() > 1500 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(1500).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

/// What one (message, version, seed) check exercised.
#[derive(Default, Clone, Copy)]
struct Outcome {
    /// Step 4 ran (kafka-protocol accepted the unrestricted value).
    full_value_checked: bool,
}

fn check<O, T>(seed: u64, version: i16) -> Result<Outcome, String>
where
    O: Arb + Encode + Decode + PartialEq + Debug + Conv<T>,
    T: Encodable + Decodable + PartialEq + Debug,
{
    // 1. Build, then restrict to the version.
    let mut full = O::arb(&mut G::new(seed, true));
    let b_full = match ours_encode(&full, version) {
        Ok(b) => b,
        Err(EncodeError::NullNotAllowed(_)) => {
            full = O::arb(&mut G::new(seed, false));
            ours_encode(&full, version).map_err(|e| format!("fjord encode: {e}"))?
        }
        Err(e) => return Err(format!("fjord encode: {e}")),
    };
    let canon: O = ours_decode(&b_full, version)
        .map_err(|e| format!("fjord cannot decode its own encoding: {e}"))?;
    let b1 = ours_encode(&canon, version).map_err(|e| format!("fjord re-encode: {e}"))?;
    if b1 != b_full {
        return Err(format!(
            "fjord re-encode differs: {}",
            first_diff(&b_full, &b1)
        ));
    }

    // 2. Reverse: the converted value through kafka-protocol, then fjord.
    //    This runs first because fjord is safe on any input while
    //    kafka-protocol is not: it only ever decodes bytes it has just
    //    produced itself (step 3 runs only once fjord's bytes are known to
    //    be identical to kafka-protocol's), so a schema disagreement shows
    //    up as a failure here rather than as an aborted test process.
    let expect: T = canon.conv();
    let tb = theirs_encode(&expect, version)
        .map_err(|e| format!("reverse: kafka-protocol refuses a value fjord encodes in this version: {e}\n  value: {}", short(&expect)))?;
    let o2: O = ours_decode(&tb, version).map_err(|e| {
        format!(
            "reverse: fjord rejects kafka-protocol's bytes: {e}\n  value: {}\n  {}",
            short(&expect),
            first_diff(&b1, &tb)
        )
    })?;
    if o2 != canon {
        return Err(format!(
            "reverse: fjord reads kafka-protocol's bytes as a different value\n  fjord: {}\n  want:  {}",
            short(&o2),
            short(&canon)
        ));
    }
    let ob = ours_encode(&o2, version).map_err(|e| format!("reverse: fjord encode: {e}"))?;
    if ob != tb || b1 != tb {
        return Err(format!(
            "encodings differ (fjord vs kafka-protocol): {}",
            first_diff(&b1, &tb)
        ));
    }

    // 3. Forward: fjord's bytes (now known to equal kafka-protocol's own)
    //    decoded by kafka-protocol and encoded again.
    let t1: T = theirs_decode(&b1, version)
        .map_err(|e| format!("forward: kafka-protocol rejects fjord's bytes: {e}"))?;
    if t1 != expect {
        return Err(format!(
            "forward: kafka-protocol reads fjord's bytes as a different value\n  kafka-protocol: {}\n  expected:       {}",
            short(&t1),
            short(&expect)
        ));
    }
    let b2 = theirs_encode(&t1, version)
        .map_err(|e| format!("forward: kafka-protocol re-encode: {e}"))?;
    let back: O = ours_decode(&b2, version)
        .map_err(|e| format!("forward: fjord decode of kafka-protocol bytes: {e}"))?;
    if b2 != b1 || back != canon {
        return Err(format!(
            "forward: round trip changed the value: {}",
            first_diff(&b1, &b2)
        ));
    }

    // 4. Reverse from the unrestricted value: kafka-protocol picks the fields.
    let t_full: T = full.conv();
    let mut outcome = Outcome::default();
    if let Ok(tb_full) = theirs_encode(&t_full, version) {
        outcome.full_value_checked = true;
        let o3: O = ours_decode(&tb_full, version)
            .map_err(|e| format!("unrestricted: fjord rejects kafka-protocol's bytes: {e}"))?;
        if o3 != canon {
            return Err(format!(
                "unrestricted: the versions disagree on which fields exist\n  fjord keeps:          {}\n  kafka-protocol keeps: {}",
                short(&canon),
                short(&o3)
            ));
        }
        if tb_full != b_full {
            return Err(format!(
                "unrestricted: encodings differ (fjord vs kafka-protocol): {}",
                first_diff(&b_full, &tb_full)
            ));
        }
    }
    Ok(outcome)
}

fn sample<O: Arb + Encode>(seed: u64, version: i16) -> Option<Bytes> {
    ours_encode(&O::arb(&mut G::new(seed, true)), version)
        .or_else(|_| ours_encode(&O::arb(&mut G::new(seed, false)), version))
        .ok()
}

/// One message both crates define, with its checker.
struct Case {
    name: &'static str,
    ours: (i16, i16),
    theirs: (i16, i16),
    run: fn(u64, i16) -> Result<Outcome, String>,
    /// fjord's encoding of a random value at a version.
    sample: fn(u64, i16) -> Option<Bytes>,
}

impl Case {
    /// The versions both crates support.
    fn versions(&self) -> std::ops::RangeInclusive<i16> {
        self.ours.0.max(self.theirs.0)..=self.ours.1.min(self.theirs.1)
    }
}

macro_rules! case {
    ($m:ident :: $s:ident) => {
        case!($m::$s => $m::$s)
    };
    ($m:ident :: $s:ident => $tm:ident :: $ts:ident) => {
        Case {
            name: stringify!($s),
            ours: <o::$m::$s as fjord_protocol::Message>::VERSIONS,
            theirs: (
                <t::$tm::$ts as kafka_protocol::protocol::Message>::VERSIONS.min,
                <t::$tm::$ts as kafka_protocol::protocol::Message>::VERSIONS.max,
            ),
            run: check::<o::$m::$s, t::$tm::$ts>,
            sample: sample::<o::$m::$s>,
        }
    };
}

/// Versions whose definitions Kafka changed after fjord's specs were taken:
/// both crates follow their own spec, so the wire formats differ. Each was
/// marked unstable ("latestVersionUnstable") when fjord's specs were cut.
/// These are skipped by the sweeps; `known_schema_changes_still_differ`
/// checks that they really differ, so an entry cannot outlive its cause.
const KNOWN_SCHEMA_CHANGES: &[(&str, i16, &str)] = &[(
    "ReadShareGroupStateSummaryResponse",
    0,
    "Kafka 4.1 added PartitionResult.LeaderEpoch (int32, after StateEpoch) to the \
     unstable v0; fjord's spec predates it (kafka-protocol 0.18 follows 4.1)",
)];

fn is_known_change(name: &str, version: i16) -> bool {
    KNOWN_SCHEMA_CHANGES
        .iter()
        .any(|(n, v, _)| *n == name && *v == version)
}

#[test]
fn known_schema_changes_still_differ() {
    for (name, version, why) in KNOWN_SCHEMA_CHANGES {
        let case = cases()
            .into_iter()
            .find(|c| c.name == *name)
            .expect("case exists");
        let failed = (0..16u64).any(|seed| (case.run)(seed, *version).is_err());
        assert!(
            failed,
            "{name} v{version} agrees now; remove it from KNOWN_SCHEMA_CHANGES ({why})"
        );
    }
}

/// Runs every case and version for `seed`; returns the failures.
fn run_seed(seed: u64, full_checked: &mut BTreeMap<(&'static str, i16), u32>) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases() {
        for version in case.versions().filter(|v| !is_known_change(case.name, *v)) {
            // A panic in either crate is a failure too, reported with its seed.
            match std::panic::catch_unwind(|| (case.run)(seed, version)) {
                Ok(Ok(outcome)) => {
                    if outcome.full_value_checked {
                        *full_checked.entry((case.name, version)).or_default() += 1;
                    }
                }
                Ok(Err(e)) => {
                    failures.push(format!("{} v{version} (seed {seed:#x}): {e}", case.name))
                }
                Err(_) => failures.push(format!(
                    "{} v{version} (seed {seed:#x}): panicked",
                    case.name
                )),
            }
        }
    }
    failures
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(debug_assertions) { 128 } else { 512 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn fjord_and_kafka_protocol_agree(seed in any::<u64>()) {
        let failures = run_seed(seed, &mut BTreeMap::new());
        prop_assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n\n"));
    }
}

/// A fixed sweep that collects every disagreement (rather than stopping at
/// the first, as proptest does) and reports how much was covered.
#[test]
fn deterministic_sweep() {
    let mut full_checked = BTreeMap::new();
    let mut failures = Vec::new();
    for seed in 0..64u64 {
        failures.extend(run_seed(
            seed.wrapping_mul(0x2545_f491_4f6c_dd1d),
            &mut full_checked,
        ));
    }
    let pairs: usize = cases().iter().map(|c| c.versions().len()).sum();
    eprintln!(
        "differential sweep: {} messages, {pairs} (message, version) pairs, 64 seeds; \
         step 4 (unrestricted value) ran for {} pairs",
        cases().len(),
        full_checked.len()
    );
    // Group by message and version so the report stays readable.
    let mut seen = BTreeMap::new();
    for f in &failures {
        let key = f.split(" (seed").next().unwrap().to_string();
        seen.entry(key).or_insert(f.clone());
    }
    assert!(
        failures.is_empty(),
        "{} disagreements in {} (message, version) pairs; first of each:\n\n{}",
        failures.len(),
        seen.len(),
        seen.values().cloned().collect::<Vec<_>>().join("\n\n")
    );
}

/// The messages the issue names explicitly must be covered in every version
/// both crates support, requests and responses alike.
#[test]
fn required_messages_are_covered() {
    let required = [
        "ApiVersions",
        "Metadata",
        "Produce",
        "Fetch",
        "ListOffsets",
        "CreateTopics",
        "FindCoordinator",
        "JoinGroup",
        "SyncGroup",
        "Heartbeat",
        "OffsetCommit",
        "OffsetFetch",
        "InitProducerId",
        "AddPartitionsToTxn",
        "EndTxn",
        "DescribeConfigs",
        "ConsumerGroupHeartbeat",
    ];
    let cases = cases();
    for name in required {
        for kind in ["Request", "Response"] {
            let full = format!("{name}{kind}");
            let case = cases
                .iter()
                .find(|c| c.name == full)
                .unwrap_or_else(|| panic!("{full} not covered"));
            assert!(!case.versions().is_empty(), "{full}: no common version");
        }
    }
    let mut keys = 0;
    let mut key_versions = 0;
    for key in fjord_protocol::ApiKey::ALL {
        let req = cases
            .iter()
            .find(|c| c.name == format!("{}Request", key.name()));
        if let Some(c) = req {
            if !c.versions().is_empty() {
                keys += 1;
                key_versions += c.versions().len();
            }
        }
    }
    eprintln!(
        "api keys covered: {keys} of {} ({key_versions} request versions)",
        fjord_protocol::ApiKey::ALL.len()
    );
    assert!(keys >= 60, "only {keys} api keys covered");
}

/// Header versions: both crates must pick the same request and response
/// header version for every api key and version they share.
#[test]
fn header_versions_agree() {
    use fjord_protocol::frame::{request_header_version, response_header_version};
    let mut checked = 0;
    let mut bad = Vec::new();
    for key in fjord_protocol::ApiKey::ALL {
        let Ok(theirs) = t::ApiKey::try_from(*key as i16) else {
            continue;
        };
        let (lo, hi) = key.versions();
        let tr = theirs.valid_versions();
        for v in lo.max(tr.min)..=hi.min(tr.max) {
            checked += 1;
            let ours = (
                request_header_version(*key, v),
                response_header_version(*key, v),
            );
            let theirs = (
                theirs.request_header_version(v),
                theirs.response_header_version(v),
            );
            if ours != theirs {
                bad.push(format!("{key:?} v{v}: fjord (request, response) headers {ours:?}, kafka-protocol {theirs:?}"));
            }
        }
    }
    eprintln!("header versions compared for {checked} (api key, version) pairs");
    assert!(checked > 250, "{checked}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Full request frames: fjord's `encode_request` must produce a header
/// that kafka-protocol's `RequestHeader` reads, and fjord's `parse_request`
/// must read kafka-protocol's header, for every api key and version both
/// support (with a random body of that key behind it).
#[test]
fn request_frame_headers_agree() {
    use fjord_protocol::frame::{encode_request, parse_request, request_header_version};
    use fjord_protocol::Request;
    let cases = cases();
    let mut checked = 0;
    for key in fjord_protocol::ApiKey::ALL {
        let Ok(theirs) = t::ApiKey::try_from(*key as i16) else {
            continue;
        };
        let Some(case) = cases
            .iter()
            .find(|c| c.name == format!("{}Request", key.name()))
        else {
            continue;
        };
        for v in case.versions() {
            let body =
                (case.sample)(u64::from(v as u16) * 31 + *key as u64, v).expect("sample encodes");
            let req = Request::decode(*key as i16, v, &mut body.clone()).unwrap();
            let mut out = BytesMut::new();
            encode_request(&mut out, 0x0102_0304, Some("fjord-diff"), v, &req).unwrap();
            let frame = out.freeze().slice(4..);
            let hv = theirs.request_header_version(v);
            assert_eq!(hv, request_header_version(*key, v), "{key:?} v{v}");
            let mut buf = frame.clone();
            let h = t::RequestHeader::decode(&mut buf, hv).unwrap();
            assert_eq!(h.request_api_key, *key as i16);
            assert_eq!(h.request_api_version, v);
            assert_eq!(h.correlation_id, 0x0102_0304);
            assert_eq!(h.client_id.as_ref().map(|s| s.as_str()), Some("fjord-diff"));
            assert_eq!(
                buf, body,
                "{key:?} v{v}: body after kafka-protocol's header"
            );
            let f = parse_request(frame).unwrap();
            assert_eq!(f.body, body, "{key:?} v{v}: body after fjord's header");

            let mut th = BytesMut::new();
            let mut hdr = t::RequestHeader::default();
            hdr.request_api_key = *key as i16;
            hdr.request_api_version = v;
            hdr.correlation_id = -7;
            hdr.client_id = Some(StrBytes::from_static_str("librdkafka"));
            hdr.encode(&mut th, hv).unwrap();
            th.extend_from_slice(&body);
            let f2 = parse_request(th.freeze()).unwrap();
            assert_eq!(
                (f2.api_key, f2.api_version, f2.correlation_id),
                (*key, v, -7)
            );
            assert_eq!(f2.client_id.as_deref(), Some("librdkafka"));
            assert_eq!(f2.decode().unwrap(), req, "{key:?} v{v}");
            checked += 1;
        }
    }
    assert!(checked > 250, "{checked}");
}

// `conv!` for every struct both crates define, and `cases()`.
include!("support/conv_table.rs");
