//! Arbitrary bytes as a request frame (after the size prefix): header parse,
//! body decode, and — when the body decodes — a re-encode that must succeed
//! and be stable. The first byte also picks a response to decode the rest
//! as, so response decoders are covered by the same target.
#![no_main]

use bytes::{Bytes, BytesMut};
use fjord_protocol::frame::parse_request;
use fjord_protocol::{ApiKey, Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(frame) = parse_request(input.clone()) {
        if let Ok(req) = frame.decode() {
            let mut a = BytesMut::new();
            req.encode(&mut a, frame.api_version)
                .expect("a decoded request encodes");
            let back = Request::decode(
                frame.api_key as i16,
                frame.api_version,
                &mut a.clone().freeze(),
            )
            .expect("a re-encoded request decodes");
            let mut b = BytesMut::new();
            back.encode(&mut b, frame.api_version).unwrap();
            assert_eq!(a, b, "re-encoding is stable");
        }
    }
    if data.len() >= 2 {
        let key = ApiKey::ALL[data[0] as usize % ApiKey::ALL.len()];
        let (lo, hi) = key.versions();
        let version = lo + (data[1] as i16) % (hi - lo + 1);
        let mut body = input.slice(2..);
        if let Ok(resp) = Response::decode(key as i16, version, &mut body) {
            let mut a = BytesMut::new();
            resp.encode(&mut a, version)
                .expect("a decoded response encodes");
        }
    }
});
