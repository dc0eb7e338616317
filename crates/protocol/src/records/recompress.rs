//! Rewriting a batch's records section with another codec, as a broker does
//! for a topic whose `compression.type` is not `producer`.

use bytes::{BufMut, Bytes, BytesMut};

use super::builder::{fill_crc, write_header};
use super::compression::{compress, decompress};
use super::{
    validate, Compression, RecordsError, ATTR_COMPRESSION_MASK, BATCH_HEADER_LEN, LOG_OVERHEAD,
};

/// Re-encodes the batch at the start of `batch` with codec `to`, keeping
/// every header field (offsets, timestamps, producer state, count, other
/// attribute bits) and the records themselves; only the compression bits,
/// the batch length and the CRC change. The input's CRC is checked first,
/// so a corrupt batch is never given a fresh, valid CRC. At most `limit`
/// bytes are decompressed.
///
/// A batch already using `to`, and control batches (which Kafka never
/// compresses), are returned unchanged.
pub fn recompress(batch: &[u8], to: Compression, limit: usize) -> Result<Bytes, RecordsError> {
    let mut h = validate(batch)?;
    let batch = &batch[..h.total_size()];
    let from = h.compression()?;
    if from == to || h.is_control() {
        return Ok(Bytes::copy_from_slice(batch));
    }
    let section = &batch[BATCH_HEADER_LEN..];
    let decompressed;
    let plain: &[u8] = match from {
        Compression::None => section,
        codec => {
            decompressed = decompress(codec, section, limit)?;
            &decompressed
        }
    };
    let compressed;
    let out_section: &[u8] = match to {
        Compression::None => plain,
        codec => {
            compressed = compress(codec, plain)?;
            &compressed
        }
    };
    let batch_length = i32::try_from(out_section.len() + BATCH_HEADER_LEN - LOG_OVERHEAD)
        .map_err(|_| RecordsError::TooLarge(i32::MAX as usize))?;
    h.batch_length = batch_length;
    h.attributes = (h.attributes & !ATTR_COMPRESSION_MASK) | to as i16;
    let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + out_section.len());
    out.put_bytes(0, BATCH_HEADER_LEN);
    out.put_slice(out_section);
    write_header(&h, &mut out);
    fill_crc(&mut out);
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{
        control_batch, records, validate_records, BatchBuilder, ControlType, Record,
        ATTR_TIMESTAMP_TYPE,
    };

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    const LIMIT: usize = 16 << 20;

    fn sample(codec: Compression) -> Bytes {
        let mut b = BatchBuilder::new(codec)
            .base_offset(500)
            .partition_leader_epoch(3)
            .producer(11, 2, 40)
            .transactional(true)
            .log_append_time(9999);
        for i in 0..50 {
            let v = vec![i as u8; 100 + i];
            b.append(
                1000 + i as i64,
                Some(b"key"),
                Some(&v),
                &[(b"h", Some(b"x"))],
            )
            .unwrap();
        }
        b.build().unwrap()
    }

    fn all_records(batch: &Bytes) -> Vec<Record> {
        records(batch, LIMIT).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn every_pair_of_codecs() {
        for from in ALL {
            let src = sample(from);
            let src_h = validate_records(&src, LIMIT).unwrap();
            let want = all_records(&src);
            for to in ALL {
                let out = recompress(&src, to, LIMIT).unwrap();
                let h = validate_records(&out, LIMIT).unwrap();
                assert_eq!(h.compression().unwrap(), to);
                assert_eq!(
                    h.attributes & !ATTR_COMPRESSION_MASK,
                    src_h.attributes & !ATTR_COMPRESSION_MASK
                );
                assert_ne!(h.attributes & ATTR_TIMESTAMP_TYPE, 0);
                let mut same = h;
                same.attributes = src_h.attributes;
                same.batch_length = src_h.batch_length;
                same.crc = src_h.crc;
                assert_eq!(same, src_h, "{from:?} -> {to:?}");
                assert_eq!(all_records(&out), want, "{from:?} -> {to:?}");
                if from == to {
                    assert_eq!(out, src);
                }
            }
        }
    }

    #[test]
    fn rejects_corrupt_and_bounds_output() {
        let src = sample(Compression::Gzip);
        let mut bad = src.to_vec();
        bad[70] ^= 0x55;
        assert!(matches!(
            recompress(&bad, Compression::Lz4, LIMIT),
            Err(RecordsError::CrcMismatch { .. })
        ));
        assert_eq!(
            recompress(&src, Compression::Lz4, 100),
            Err(RecordsError::TooLarge(100))
        );
        assert_eq!(
            recompress(&src[..src.len() - 1], Compression::Lz4, LIMIT),
            Err(RecordsError::Truncated)
        );
    }

    #[test]
    fn control_batches_untouched() {
        let c = control_batch(ControlType::Commit, 1, 0, 0, 0, 0);
        assert_eq!(recompress(&c, Compression::Zstd, LIMIT).unwrap(), c);
    }
}
