//! The zero-copy encoders (`encode_with` and `frame::encode_response_with`,
//! with a `RecordsWriter` that writes only the length prefix of a `records`
//! field and leaves its bytes to be sent separately) must produce exactly
//! the bytes of the plain encoders once the holes are filled in order, for
//! every api key and version, requests and responses.

use bytes::{Bytes, BytesMut};
use fjord_protocol::frame::{encode_response, encode_response_with};
use fjord_protocol::wire::{self, RecordsWriter};
use fjord_protocol::{ApiKey, EncodeError};

include!("support/gen.rs");
include!("support/arb_table.rs");

/// Leaves a hole for every non-null `records` field, remembering where
/// (like the broker's sendfile writer), and writes nulls inline.
#[derive(Default)]
struct Holes {
    holes: Vec<(usize, Bytes)>,
}

impl RecordsWriter for Holes {
    fn put_records(
        &mut self,
        buf: &mut BytesMut,
        records: Option<&Bytes>,
        compact: bool,
        nullable: bool,
    ) -> Result<(), EncodeError> {
        match records {
            Some(r) => {
                wire::put_records_len(buf, r.len(), compact)?;
                self.holes.push((buf.len(), r.clone()));
                Ok(())
            }
            None => wire::InlineRecords.put_records(buf, None, compact, nullable),
        }
    }
}

impl Holes {
    fn fill(&self, buf: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pos = 0;
        for (at, bytes) in &self.holes {
            out.extend_from_slice(&buf[pos..*at]);
            out.extend_from_slice(bytes);
            pos = *at;
        }
        out.extend_from_slice(&buf[pos..]);
        out
    }

    fn external_len(&self) -> usize {
        self.holes.iter().map(|(_, b)| b.len()).sum()
    }
}

#[test]
fn filled_holes_equal_the_inline_encoding() {
    let mut with_holes = 0;
    for key in ApiKey::ALL {
        let (lo, hi) = key.versions();
        for version in lo..=hi {
            for seed in 0..8u64 {
                for nulls in [true, false] {
                    let mut g = G::new(seed * 1_000 + version as u64, nulls);
                    let resp = arb_response(*key, &mut g);
                    let mut plain = BytesMut::new();
                    if resp.encode(&mut plain, version).is_err() {
                        continue;
                    }
                    let mut holes = Holes::default();
                    let mut buf = BytesMut::new();
                    resp.encode_with(&mut buf, version, &mut holes).unwrap();
                    assert_eq!(holes.fill(&buf), &plain[..], "{key:?} v{version} response");
                    with_holes += usize::from(!holes.holes.is_empty());

                    // The whole frame: the size prefix counts the holes.
                    let mut frame = BytesMut::new();
                    encode_response(&mut frame, 9, *key, version, &resp).unwrap();
                    let mut holes = Holes::default();
                    let mut out = BytesMut::new();
                    // Encode once to learn the external length, as a broker
                    // knows it from its file slices.
                    resp.encode_with(&mut BytesMut::new(), version, &mut holes)
                        .unwrap();
                    let external = holes.external_len();
                    let mut holes = Holes::default();
                    encode_response_with(&mut out, 9, *key, version, &resp, &mut holes, external)
                        .unwrap();
                    assert_eq!(
                        holes.fill(&out),
                        &frame[..],
                        "{key:?} v{version} response frame"
                    );

                    let req = arb_request(*key, &mut g);
                    let mut plain = BytesMut::new();
                    if req.encode(&mut plain, version).is_err() {
                        continue;
                    }
                    let mut holes = Holes::default();
                    let mut buf = BytesMut::new();
                    req.encode_with(&mut buf, version, &mut holes).unwrap();
                    assert_eq!(holes.fill(&buf), &plain[..], "{key:?} v{version} request");
                }
            }
        }
    }
    // Produce, Fetch, ShareFetch, FetchSnapshot… carry records.
    assert!(with_holes > 100, "{with_holes}");
}
