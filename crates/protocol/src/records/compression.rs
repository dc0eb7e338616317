//! Compression codecs for the records section of a v2 batch.
//!
//! Every decompression is bounded: output beyond `limit` bytes gives
//! [`RecordsError::TooLarge`] and the output buffer never grows past
//! `limit` (plus one read chunk of scratch space), whatever the input
//! claims. Codec-internal state is bounded by the format (LZ4 blocks are at
//! most 8 MiB, zstd windows at most 2^27 bytes unless `limit` is larger).

use std::io::{ErrorKind, Read, Write};

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::{Compression, RecordsError};

/// Scratch buffer size for streaming decoders.
const CHUNK: usize = 64 * 1024;

/// Magic that starts a snappy stream written by snappy-java's
/// `SnappyOutputStream` (the Java client): `0x82 "SNAPPY" 0x00`.
pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic, then two big-endian i32 version fields.
const XERIAL_HEADER_LEN: usize = 16;

/// zstd level Kafka uses by default.
const ZSTD_LEVEL: i32 = 3;
/// zstd's default (and the Java client's) maximum window log.
const ZSTD_WINDOW_LOG_DEFAULT: u32 = 27;
/// Largest window log zstd accepts on 64-bit targets.
const ZSTD_WINDOW_LOG_MAX: u32 = 31;

fn codec_err<E: std::fmt::Display>(e: E) -> RecordsError {
    RecordsError::Codec(e.to_string())
}

/// Compresses `data` with `codec`. `Compression::None` copies.
///
/// Snappy is written as a raw snappy block (as librdkafka does; the Java
/// client reads both framings), LZ4 as an LZ4 frame with independent 64 KiB
/// blocks (what Kafka's `KafkaLZ4BlockInputStream` expects), zstd at level 3.
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, RecordsError> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let out = Vec::with_capacity(data.len() / 2 + 64);
            let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            enc.write_all(data).map_err(codec_err)?;
            enc.finish().map_err(codec_err)
        }
        Compression::Snappy => snap::raw::Encoder::new()
            .compress_vec(data)
            .map_err(codec_err),
        Compression::Lz4 => {
            let info = FrameInfo::new()
                .block_size(BlockSize::Max64KB)
                .block_mode(BlockMode::Independent);
            let out = Vec::with_capacity(data.len() / 2 + 64);
            let mut enc = FrameEncoder::with_frame_info(info, out);
            enc.write_all(data).map_err(codec_err)?;
            enc.finish().map_err(codec_err)
        }
        Compression::Zstd => zstd::bulk::compress(data, ZSTD_LEVEL).map_err(codec_err),
    }
}

/// Decompresses `data`, failing with [`RecordsError::TooLarge`] as soon as
/// the output would exceed `limit` bytes.
pub fn decompress(codec: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(RecordsError::TooLarge(limit));
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => {
            read_bounded(flate2::read::MultiGzDecoder::new(data), limit, data.len())
        }
        Compression::Snappy => {
            if data.starts_with(&XERIAL_MAGIC) {
                decompress_xerial(data, limit)
            } else {
                decompress_snappy_raw(data, limit)
            }
        }
        Compression::Lz4 => read_bounded(FrameDecoder::new(data), limit, data.len()),
        Compression::Zstd => {
            let mut dec = zstd::stream::read::Decoder::with_buffer(data).map_err(codec_err)?;
            dec.window_log_max(zstd_window_log(limit))
                .map_err(codec_err)?;
            read_bounded(dec, limit, data.len())
        }
    }
}

/// The zstd window log to allow: the default, or enough for `limit` when
/// that is larger (a window never needs to exceed the output).
fn zstd_window_log(limit: usize) -> u32 {
    let needed = usize::BITS - limit.saturating_sub(1).leading_zeros();
    needed.clamp(ZSTD_WINDOW_LOG_DEFAULT, ZSTD_WINDOW_LOG_MAX)
}

/// Makes room for `additional` more bytes in `out`, growing geometrically
/// but never past `limit`. The caller guarantees `out.len() + additional <=
/// limit`.
fn reserve_bounded(out: &mut Vec<u8>, additional: usize, limit: usize) {
    let want = out.len() + additional;
    if want <= out.capacity() {
        return;
    }
    let new_cap = out
        .capacity()
        .saturating_mul(2)
        .max(want)
        .min(limit.max(want));
    out.reserve_exact(new_cap - out.len());
}

/// Reads `r` to the end, failing once more than `limit` bytes come out.
fn read_bounded<R: Read>(
    mut r: R,
    limit: usize,
    input_len: usize,
) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::with_capacity(
        input_len
            .saturating_mul(2)
            .clamp(256, CHUNK.max(256))
            .min(limit),
    );
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(codec_err(e)),
        };
        if n > limit - out.len() {
            return Err(RecordsError::TooLarge(limit));
        }
        reserve_bounded(&mut out, n, limit);
        out.extend_from_slice(&chunk[..n]);
    }
}

/// One raw snappy block; the declared length is checked before allocating.
fn decompress_snappy_raw(data: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    let len = snap::raw::decompress_len(data).map_err(codec_err)?;
    if len > limit {
        return Err(RecordsError::TooLarge(limit));
    }
    snap::raw::Decoder::new()
        .decompress_vec(data)
        .map_err(codec_err)
}

/// snappy-java framing: the 16-byte header, then repeated
/// `[i32 big-endian compressed length][raw snappy block]`.
fn decompress_xerial(data: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    if data.len() < XERIAL_HEADER_LEN {
        return Err(RecordsError::Codec("truncated xerial snappy header".into()));
    }
    let mut dec = snap::raw::Decoder::new();
    let mut out: Vec<u8> = Vec::new();
    let mut rest = &data[XERIAL_HEADER_LEN..];
    while !rest.is_empty() {
        let Some((len_bytes, tail)) = rest.split_first_chunk::<4>() else {
            return Err(RecordsError::Codec(
                "truncated xerial snappy block length".into(),
            ));
        };
        let block_len = i32::from_be_bytes(*len_bytes);
        if block_len < 0 || block_len as usize > tail.len() {
            return Err(RecordsError::Codec(format!(
                "xerial snappy block length {block_len} exceeds the {} bytes left",
                tail.len()
            )));
        }
        let (block, tail) = tail.split_at(block_len as usize);
        rest = tail;
        let dlen = snap::raw::decompress_len(block).map_err(codec_err)?;
        if dlen > limit - out.len() {
            return Err(RecordsError::TooLarge(limit));
        }
        let start = out.len();
        reserve_bounded(&mut out, dlen, limit);
        out.resize(start + dlen, 0);
        let n = dec
            .decompress(block, &mut out[start..])
            .map_err(codec_err)?;
        if n != dlen {
            return Err(RecordsError::Codec(
                "xerial snappy block shorter than declared".into(),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    const COMPRESSED: [Compression; 4] = [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i * 7919) % 251) as u8 ^ (i / 1000) as u8)
            .collect()
    }

    #[test]
    fn round_trip_every_codec() {
        for codec in ALL {
            for len in [0usize, 1, 100, 65_536, 65_537, 300_000] {
                let data = sample(len);
                let c = compress(codec, &data).unwrap();
                let d = decompress(codec, &c, len).unwrap();
                assert_eq!(d, data, "{codec:?} len {len}");
                if len > 0 {
                    assert_eq!(
                        decompress(codec, &c, len - 1),
                        Err(RecordsError::TooLarge(len - 1)),
                        "{codec:?} len {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn bombs_rejected() {
        let zeros = vec![0u8; 10 * 1024 * 1024];
        for codec in COMPRESSED {
            let c = compress(codec, &zeros).unwrap();
            assert!(c.len() < 1024 * 1024, "{codec:?} compresses zeros");
            assert_eq!(
                decompress(codec, &c, 1024 * 1024),
                Err(RecordsError::TooLarge(1024 * 1024)),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn zstd_without_content_size_is_bounded() {
        let zeros = vec![0u8; 4 * 1024 * 1024];
        // The streaming encoder does not write a content size.
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.write_all(&zeros).unwrap();
        let c = enc.finish().unwrap();
        assert_eq!(
            decompress(Compression::Zstd, &c, zeros.len()).unwrap(),
            zeros
        );
        assert_eq!(
            decompress(Compression::Zstd, &c, 100_000),
            Err(RecordsError::TooLarge(100_000))
        );
    }

    #[test]
    fn lz4_frame_is_independent_64k() {
        let c = compress(Compression::Lz4, b"hello").unwrap();
        assert_eq!(&c[..4], &[0x04, 0x22, 0x4d, 0x18]);
        let flg = c[4];
        assert_eq!(flg >> 6, 1, "version 01");
        assert_ne!(flg & 0x20, 0, "block independence");
        assert_eq!(c[5], 0x40, "64 KiB max block size");
    }

    fn xerial_frame(blocks: &[&[u8]]) -> Vec<u8> {
        let mut out = XERIAL_MAGIC.to_vec();
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        for b in blocks {
            let c = snap::raw::Encoder::new().compress_vec(b).unwrap();
            out.extend_from_slice(&(c.len() as i32).to_be_bytes());
            out.extend_from_slice(&c);
        }
        out
    }

    #[test]
    fn xerial_snappy_decodes() {
        let a = sample(40_000);
        let b = b"second block".to_vec();
        let frame = xerial_frame(&[&a, &b]);
        let mut want = a.clone();
        want.extend_from_slice(&b);
        assert_eq!(
            decompress(Compression::Snappy, &frame, want.len()).unwrap(),
            want
        );
        assert_eq!(
            decompress(Compression::Snappy, &frame, want.len() - 1),
            Err(RecordsError::TooLarge(want.len() - 1))
        );
        // Header alone: empty output.
        assert_eq!(
            decompress(Compression::Snappy, &frame[..16], 10).unwrap(),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn xerial_snappy_malformed() {
        let frame = xerial_frame(&[b"abcdefgh"]);
        // Cut anywhere inside: an error, never a panic.
        for cut in 8..frame.len() {
            if cut == 16 {
                continue;
            }
            assert!(
                decompress(Compression::Snappy, &frame[..cut], 1000).is_err(),
                "cut {cut}"
            );
        }
        // Negative and oversized block lengths.
        let mut bad = frame.clone();
        bad[16..20].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            decompress(Compression::Snappy, &bad, 1000),
            Err(RecordsError::Codec(_))
        ));
        bad[16..20].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decompress(Compression::Snappy, &bad, 1000),
            Err(RecordsError::Codec(_))
        ));
    }

    #[test]
    fn snappy_declared_length_checked_before_allocating() {
        // A raw block claiming ~4 GiB of output.
        let block = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert_eq!(
            decompress(Compression::Snappy, &block, 1 << 20),
            Err(RecordsError::TooLarge(1 << 20))
        );
    }

    #[test]
    fn garbage_is_an_error() {
        for codec in COMPRESSED {
            for junk in [&b"\x00\x01\x02\x03garbage garbage"[..], &[0xff; 64][..]] {
                assert!(decompress(codec, junk, 1 << 20).is_err(), "{codec:?}");
            }
        }
    }

    #[test]
    fn window_log() {
        assert_eq!(zstd_window_log(0), 27);
        assert_eq!(zstd_window_log(1 << 20), 27);
        assert_eq!(zstd_window_log(1 << 28), 28);
        assert_eq!(zstd_window_log((1 << 28) + 1), 29);
        assert_eq!(zstd_window_log(usize::MAX), 31);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn corrupt_input_never_panics(
            codec_idx in 0usize..4,
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..8),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let codec = COMPRESSED[codec_idx];
            let mut c = compress(codec, &data).unwrap();
            for (at, x) in flips {
                let i = at % c.len();
                c[i] ^= x;
            }
            let cut = cut % (c.len() + 1);
            let _ = decompress(codec, &c[..cut], 4096);
            let _ = decompress(codec, &c, 4096);
        }
    }
}
