//! Codec micro-benchmarks: Produce request decode (and decode plus the
//! per-batch validation a broker does), Fetch response encode, a small
//! Metadata request decode, and building record batches with
//! `BatchBuilder` (the producer path and the log cleaner's rewrite).
//!
//!     cargo bench -p fjord-protocol --bench codec -- --warm-up-time 1 --measurement-time 3
//!
//! Throughput is the size of the whole message body in decimal units
//! (MB/s = 10^6 bytes/s). Produce decode is zero-copy (the records stay a
//! slice of the frame), so its time does not grow with the payload; the
//! `decode+validate_records` variant adds the CRC and record parsing a
//! broker does before it appends.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fjord_protocol::frame::{encode_response, encode_response_with, parse_request};
use fjord_protocol::messages::{fetch_response, metadata_request, produce_request};
use fjord_protocol::messages::{FetchResponse, MetadataRequest, ProduceRequest};
use fjord_protocol::records::{self, BatchBuilder, BatchIter, Compression};
use fjord_protocol::wire::{self, RecordsWriter};
use fjord_protocol::{ApiKey, Decode, Encode, EncodeError, Response, Uuid};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Back-to-back uncompressed v2 batches of `record_size`-byte values
/// (16-byte keys, one header), each batch at most `batch_bytes` (the
/// producer's batch.size), until `total` bytes of values are written.
fn records_payload(total: usize, record_size: usize, batch_bytes: usize) -> Bytes {
    let mut out = BytesMut::with_capacity(total + total / 8);
    let value: Vec<u8> = (0..record_size).map(|i| (i * 31 % 251) as u8).collect();
    let mut written = 0;
    let mut offset = 0i64;
    let mut seq = 0i32;
    while written < total {
        let mut b = BatchBuilder::new(Compression::None)
            .base_offset(offset)
            .producer(4242, 0, seq);
        while written < total
            && (b.is_empty() || b.uncompressed_size() + record_size + 64 <= batch_bytes)
        {
            let key = format!("key-{:012}", offset + b.len() as i64);
            b.append(
                1_700_000_000_000 + written as i64,
                Some(key.as_bytes()),
                Some(&value),
                &[(b"trace-id".as_slice(), Some(b"0123456789abcdef".as_slice()))],
            )
            .unwrap();
            written += record_size;
        }
        offset += b.len() as i64;
        seq += b.len() as i32;
        out.extend_from_slice(&b.build().unwrap());
    }
    out.freeze()
}

/// A Produce request with `partitions` partitions of `per_partition` bytes of
/// values each (1 KiB records, 16 KiB batches, Java's batch.size default).
fn produce_request(partitions: usize, per_partition: usize, record_size: usize) -> ProduceRequest {
    ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![produce_request::TopicProduceData {
            name: "bench-topic".into(),
            partition_data: (0..partitions)
                .map(|p| produce_request::PartitionProduceData {
                    index: p as i32,
                    records: Some(records_payload(per_partition, record_size, 16 * KIB)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn encode<M: Encode>(m: &M, version: i16) -> Bytes {
    let mut b = BytesMut::new();
    m.encode(&mut b, version).unwrap();
    b.freeze()
}

/// What a broker does with a produce payload before appending it: split
/// it into batches and fully validate each (CRC, every record parsed).
fn validate_all(req: &ProduceRequest) -> usize {
    let mut records = 0;
    for t in &req.topic_data {
        for p in &t.partition_data {
            let payload = p.records.as_ref().unwrap();
            for b in BatchIter::new(payload) {
                let (h, bytes) = b.unwrap();
                let batch = payload.slice_ref(bytes);
                records::validate_records(&batch, 64 * MIB).unwrap();
                records += h.record_count as usize;
            }
        }
    }
    records
}

fn bench_produce(c: &mut Criterion) {
    let mut group = c.benchmark_group("produce_v9_decode");
    for (label, partitions, per_partition, record_size) in [
        ("1x1MiB", 1, MIB, KIB),
        ("16x64KiB", 16, 64 * KIB, KIB),
        ("1x1MiB-100B", 1, MIB, 100),
    ] {
        let body = encode(&produce_request(partitions, per_partition, record_size), 9);
        group.throughput(Throughput::BytesDecimal(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("decode", label), &body, |b, body| {
            b.iter(|| ProduceRequest::decode(&mut black_box(body.clone()), 9).unwrap())
        });
        group.bench_with_input(
            BenchmarkId::new("decode+validate_records", label),
            &body,
            |b, body| {
                b.iter(|| {
                    let req = ProduceRequest::decode(&mut black_box(body.clone()), 9).unwrap();
                    validate_all(&req)
                })
            },
        );
        // Through the framing path too (header parse + body decode).
        let mut frame = BytesMut::new();
        fjord_protocol::frame::encode_request(
            &mut frame,
            1,
            Some("bench"),
            9,
            &fjord_protocol::Request::Produce(produce_request(
                partitions,
                per_partition,
                record_size,
            )),
        )
        .unwrap();
        let frame = frame.freeze().slice(4..);
        group.bench_with_input(
            BenchmarkId::new("parse_request+decode", label),
            &frame,
            |b, frame| {
                b.iter(|| {
                    parse_request(black_box(frame.clone()))
                        .unwrap()
                        .decode()
                        .unwrap()
                })
            },
        );
    }
    group.finish();
}

fn fetch_response(partitions: usize, per_partition: usize) -> FetchResponse {
    FetchResponse {
        throttle_time_ms: 0,
        error_code: 0,
        session_id: 77,
        responses: vec![fetch_response::FetchableTopicResponse {
            topic: "bench-topic".into(),
            topic_id: Uuid([7; 16]),
            partitions: (0..partitions)
                .map(|p| fetch_response::PartitionData {
                    partition_index: p as i32,
                    high_watermark: 1_000_000,
                    last_stable_offset: 1_000_000,
                    log_start_offset: 0,
                    aborted_transactions: None,
                    preferred_read_replica: -1,
                    records: Some(records_payload(per_partition, KIB, 16 * KIB)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn bench_fetch(c: &mut Criterion) {
    let mut group = c.benchmark_group("fetch_v12_encode");
    let resp = fetch_response(16, 64 * KIB);
    let size = encode(&resp, 12).len();
    group.throughput(Throughput::BytesDecimal(size as u64));
    group.bench_function("encode/16x64KiB", |b| {
        let mut buf = BytesMut::with_capacity(size + 64);
        b.iter(|| {
            buf.clear();
            black_box(&resp).encode(&mut buf, 12).unwrap();
            buf.len()
        })
    });
    let external: usize = resp.responses[0]
        .partitions
        .iter()
        .map(|p| p.records.as_ref().map_or(0, |r| r.len()))
        .sum();
    // The full response frame (size prefix, header), as the broker writes it.
    let resp = Response::Fetch(resp);
    group.bench_function("encode_response/16x64KiB", |b| {
        let mut buf = BytesMut::with_capacity(size + 64);
        b.iter(|| {
            buf.clear();
            encode_response(&mut buf, 1, ApiKey::Fetch, 12, black_box(&resp)).unwrap();
            buf.len()
        })
    });
    // Zero-copy: records fields get only their length prefix (the broker
    // sends the bytes with sendfile), so this is the cost of everything else.
    group.bench_function("encode_response_with_holes/16x64KiB", |b| {
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            let mut holes = Holes(0);
            encode_response_with(
                &mut buf,
                1,
                ApiKey::Fetch,
                12,
                black_box(&resp),
                &mut holes,
                external,
            )
            .unwrap();
            (buf.len(), holes.0)
        })
    });
    group.finish();
}

/// A `RecordsWriter` that writes only length prefixes, counting holes.
struct Holes(usize);

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
                self.0 += 1;
                wire::put_records_len(buf, r.len(), compact)
            }
            None => wire::InlineRecords.put_records(buf, None, compact, nullable),
        }
    }
}

fn bench_metadata(c: &mut Criterion) {
    let mut group = c.benchmark_group("metadata_v12_decode");
    let req = MetadataRequest {
        topics: Some(
            ["orders", "payments", "clicks"]
                .iter()
                .map(|n| metadata_request::MetadataRequestTopic {
                    name: Some((*n).into()),
                    ..Default::default()
                })
                .collect(),
        ),
        allow_auto_topic_creation: true,
        include_topic_authorized_operations: false,
        ..Default::default()
    };
    let body = encode(&req, 12);
    group.throughput(Throughput::BytesDecimal(body.len() as u64));
    group.bench_function(format!("decode/3_topics_{}B", body.len()), |b| {
        b.iter(|| MetadataRequest::decode(&mut black_box(body.clone()), 12).unwrap())
    });
    group.finish();
}

/// 16 records of 1 KiB values (16-byte keys, one header) per batch, as a
/// producer's 16 KiB batch.
fn bench_batch_builder(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_builder");
    let value: Vec<u8> = (0..KIB).map(|i| (i * 31 % 251) as u8).collect();
    let keys: Vec<String> = (0..16).map(|i| format!("key-{i:012}")).collect();
    let build = |codec: Compression| {
        let mut b = BatchBuilder::new(codec).producer(4242, 0, 0);
        for (i, key) in keys.iter().enumerate() {
            b.append(
                1_700_000_000_000 + i as i64,
                Some(key.as_bytes()),
                Some(&value),
                &[(b"trace-id".as_slice(), Some(b"0123456789abcdef".as_slice()))],
            )
            .unwrap();
        }
        b.build().unwrap()
    };
    group.throughput(Throughput::BytesDecimal(16 * KIB as u64));
    for codec in [Compression::None, Compression::Lz4] {
        group.bench_function(format!("append+build/16x1KiB/{}", codec.name()), |b| {
            b.iter(|| black_box(build(codec)))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_produce,
    bench_fetch,
    bench_metadata,
    bench_batch_builder
);
criterion_main!(benches);
