//! Golden bytes: request frames captured from real clients (kcat,
//! kafka-python, confluent-kafka, aiokafka, …) in `tests/fixtures/golden/`
//! at the repository root. See that folder's README for how they are
//! captured.
//!
//! Every `*.bin` there must parse (`frame::parse_request`), decode with no
//! bytes left over, and re-encode to exactly the captured bytes. Files the
//! README describes (`api_key=18 v3 correlation_id=1 client_id='rdkafka'
//! size=40`) must match that description, and the files listed in
//! `EXPECTED` must also carry the listed body values. A new capture is
//! picked up automatically by the generic checks; add it to `EXPECTED`
//! when its body is worth pinning down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use fjord_protocol::frame::{encode_request, parse_request, request_header_version, RequestFrame};
use fjord_protocol::{ApiKey, Request};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golden")
}

/// Every `*.bin` in the golden folder, sorted by name.
fn golden_files() -> Vec<(String, Bytes)> {
    let dir = golden_dir();
    let mut files: Vec<(String, Bytes)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (name, Bytes::from(data))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The frame without its size prefix. The README says every file keeps
/// the 4-byte prefix; a file without one (first four bytes not equal to
/// the rest's length) is taken as a bare frame.
fn strip_size_prefix(name: &str, data: &Bytes) -> (Bytes, bool) {
    if data.len() >= 4 {
        let declared = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if declared == data.len() - 4 {
            return (data.slice(4..), true);
        }
    }
    eprintln!("{name}: no size prefix, reading it as a bare frame");
    (data.clone(), false)
}

/// `key=value` facts from the README's "Captured so far" list, by file.
fn readme_facts() -> BTreeMap<String, BTreeMap<String, String>> {
    let readme = std::fs::read_to_string(golden_dir().join("README.md")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in readme.lines() {
        let Some(rest) = line.trim_start().strip_prefix("- `") else {
            continue;
        };
        let Some((file, rest)) = rest.split_once('`') else {
            continue;
        };
        if !file.ends_with(".bin") {
            continue;
        }
        let mut facts = BTreeMap::new();
        for word in rest.split_whitespace() {
            if let Some((k, v)) = word.split_once('=') {
                if ["api_key", "correlation_id", "client_id", "size"].contains(&k) {
                    facts.insert(
                        k.to_string(),
                        v.trim_matches(|c| c == '\'' || c == ';' || c == ',')
                            .to_string(),
                    );
                }
            } else if let Some(v) = word.strip_prefix('v').filter(|v| v.parse::<i16>().is_ok()) {
                // "api_key=18 v3": the version follows the api key.
                if facts.contains_key("api_key") && !facts.contains_key("api_version") {
                    facts.insert("api_version".to_string(), v.to_string());
                }
            }
        }
        out.insert(file.to_string(), facts);
    }
    out
}

/// Body values pinned down per file: (file, api version, client id,
/// client_software_name, client_software_version).
const EXPECTED: &[(&str, i16, &str, &str, &str)] = &[
    ("kcat-apiversions.bin", 3, "rdkafka", "librdkafka", "2.0.2"),
    (
        "kafka-python-apiversions.bin",
        4,
        "kafka-python-3.0.12",
        "kafka-python",
        "3.0.12",
    ),
    (
        "confluent-kafka-apiversions.bin",
        3,
        "rdkafka",
        "confluent-kafka-python",
        "2.16.1-rdkafka-2.16.0",
    ),
    // ApiVersions v0 has an empty body.
    ("aiokafka-apiversions.bin", 0, "aiokafka-producer-1", "", ""),
];

/// Parses, decodes and re-encodes one captured frame; returns the frame
/// and the decoded request.
fn check_frame(name: &str, data: &Bytes) -> (RequestFrame, Request) {
    let (frame_bytes, prefixed) = strip_size_prefix(name, data);
    let frame =
        parse_request(frame_bytes.clone()).unwrap_or_else(|e| panic!("{name}: parse_request: {e}"));

    // The body decodes completely.
    let mut body = frame.body.clone();
    let req =
        Request::decode(frame.api_key as i16, frame.api_version, &mut body).unwrap_or_else(|e| {
            panic!(
                "{name}: {:?} v{} body: {e}",
                frame.api_key, frame.api_version
            )
        });
    assert!(
        body.is_empty(),
        "{name}: {} bytes after the body",
        body.len()
    );
    assert_eq!(frame.decode().unwrap(), req, "{name}: RequestFrame::decode");

    // The body re-encodes to the captured bytes.
    let mut re = BytesMut::new();
    req.encode(&mut re, frame.api_version)
        .unwrap_or_else(|e| panic!("{name}: encode: {e}"));
    assert_eq!(&re[..], &frame.body[..], "{name}: re-encoded body differs");

    // So does the whole frame, when the header carries no tagged fields
    // (encode_request writes none).
    if frame.header_tagged_fields.is_empty() {
        let mut out = BytesMut::new();
        encode_request(
            &mut out,
            frame.correlation_id,
            frame.client_id.as_deref(),
            frame.api_version,
            &req,
        )
        .unwrap_or_else(|e| panic!("{name}: encode_request: {e}"));
        let expect: &[u8] = if prefixed { data } else { &frame_bytes };
        let got: &[u8] = if prefixed { &out } else { &out[4..] };
        assert_eq!(got, expect, "{name}: re-encoded frame differs");
    }
    (frame, req)
}

#[test]
fn every_golden_frame_round_trips() {
    let files = golden_files();
    assert!(
        !files.is_empty(),
        "no *.bin files in {}",
        golden_dir().display()
    );
    let readme = readme_facts();
    let mut described = 0;
    for (name, data) in &files {
        let (frame, _req) = check_frame(name, data);
        eprintln!(
            "{name}: {:?} v{} correlation_id={} client_id={:?} ({} bytes)",
            frame.api_key,
            frame.api_version,
            frame.correlation_id,
            frame.client_id,
            data.len()
        );
        match readme.get(name) {
            None => eprintln!("{name}: not described in the README"),
            Some(facts) => {
                assert!(
                    facts.contains_key("api_key"),
                    "{name}: README line has no api_key="
                );
                described += 1;
                let check = |key: &str, actual: String| {
                    if let Some(want) = facts.get(key) {
                        assert_eq!(&actual, want, "{name}: README says {key}={want}");
                    }
                };
                check("api_key", (frame.api_key as i16).to_string());
                check("api_version", frame.api_version.to_string());
                check("correlation_id", frame.correlation_id.to_string());
                check("client_id", frame.client_id.clone().unwrap_or_default());
                check("size", data.len().to_string());
            }
        }
    }
    assert!(
        described > 0,
        "the README describes none of the golden files"
    );
}

#[test]
fn golden_frames_carry_the_expected_values() {
    let files: BTreeMap<String, Bytes> = golden_files().into_iter().collect();
    for (name, version, client_id, software, software_version) in EXPECTED {
        let data = files
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is missing from {}", golden_dir().display()));
        let (frame, req) = check_frame(name, data);
        assert_eq!(frame.api_key, ApiKey::ApiVersions, "{name}");
        assert_eq!(frame.api_version, *version, "{name}");
        assert_eq!(frame.client_id.as_deref(), Some(*client_id), "{name}");
        assert_eq!(
            request_header_version(frame.api_key, frame.api_version),
            if *version >= 3 { 2 } else { 1 },
            "{name}: header version"
        );
        let Request::ApiVersions(av) = req else {
            panic!("{name}: not an ApiVersions request");
        };
        assert_eq!(av.client_software_name, *software, "{name}");
        assert_eq!(av.client_software_version, *software_version, "{name}");
        assert!(av.unknown_tagged_fields.is_empty(), "{name}");
    }
}

/// The captured frames are well-formed client output, so kafka-protocol
/// (an independent implementation) may read them too; it must see the same
/// header and, for ApiVersions, the same body.
#[test]
fn kafka_protocol_reads_golden_frames_the_same_way() {
    use kafka_protocol::messages::{ApiKey as TKey, ApiVersionsRequest, RequestHeader};
    use kafka_protocol::protocol::Decodable;
    for (name, data) in golden_files() {
        // fjord checks the frame first: kafka-protocol must only see
        // well-formed input (it aborts on some hostile frames).
        let (frame, req) = check_frame(&name, &data);
        let Ok(key) = TKey::try_from(frame.api_key as i16) else {
            continue;
        };
        let (mut buf, _) = strip_size_prefix(&name, &data);
        let h = RequestHeader::decode(&mut buf, key.request_header_version(frame.api_version))
            .unwrap_or_else(|e| panic!("{name}: kafka-protocol header: {e}"));
        assert_eq!(h.request_api_version, frame.api_version, "{name}");
        assert_eq!(h.correlation_id, frame.correlation_id, "{name}");
        assert_eq!(
            h.client_id.as_ref().map(|s| s.to_string()),
            frame.client_id,
            "{name}"
        );
        assert_eq!(buf, frame.body, "{name}: body boundary");
        if let Request::ApiVersions(av) = req {
            let t = ApiVersionsRequest::decode(&mut buf, frame.api_version)
                .unwrap_or_else(|e| panic!("{name}: kafka-protocol body: {e}"));
            assert!(buf.is_empty(), "{name}");
            assert_eq!(
                &*t.client_software_name,
                av.client_software_name.as_str(),
                "{name}"
            );
            assert_eq!(
                &*t.client_software_version,
                av.client_software_version.as_str(),
                "{name}"
            );
        }
    }
}
