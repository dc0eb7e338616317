//! Topic-level `compression.type`: with a codec other than `producer`, the
//! broker rewrites each produced batch with that codec before appending it
//! (Kafka's `uncompressed` meaning no compression). Headers, offsets,
//! producer ids, sequences and the transactional bit are kept; control
//! batches are never compressed.

use bytes::{Bytes, BytesMut};
use fjord_protocol::records::{recompress, BatchIter, Compression, RecordsError};

/// Kafka's topic `compression.type` values.
pub const VALUES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

/// The codec a topic's effective `compression.type` (its override, else
/// the broker's) asks for (`None`: keep the producer's).
pub fn target(compression_type: Option<&str>) -> Option<Compression> {
    match compression_type.map(str::trim) {
        Some("uncompressed") => Some(Compression::None),
        Some("gzip") => Some(Compression::Gzip),
        Some("snappy") => Some(Compression::Snappy),
        Some("lz4") => Some(Compression::Lz4),
        Some("zstd") => Some(Compression::Zstd),
        _ => None,
    }
}

/// Rewrites every batch of `data` with `to` (unchanged when every batch
/// already uses it). At most `limit` bytes are decompressed per batch.
pub fn apply(data: Bytes, to: Compression, limit: usize) -> Result<Bytes, RecordsError> {
    let mut needed = false;
    for item in BatchIter::new(&data) {
        let (h, _) = item?;
        if h.compression()? != to && !h.is_control() {
            needed = true;
        }
    }
    if !needed {
        return Ok(data);
    }
    let mut out = BytesMut::with_capacity(data.len());
    for item in BatchIter::new(&data) {
        let (_, raw) = item?;
        out.extend_from_slice(&recompress(raw, to, limit)?);
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_protocol::records::{records, validate_records, BatchBuilder};

    fn batch(codec: Compression) -> Bytes {
        let mut b = BatchBuilder::new(codec).producer(7, 2, 10);
        for i in 0..20u32 {
            b.append(1000 + i64::from(i), Some(b"k"), Some(&[b'v'; 100]), &[])
                .unwrap();
        }
        b.build().unwrap()
    }

    #[test]
    fn rewrites_with_the_topic_codec() {
        let mut data = BytesMut::new();
        data.extend_from_slice(&batch(Compression::None));
        data.extend_from_slice(&batch(Compression::Gzip));
        let data = data.freeze();
        let out = apply(data.clone(), Compression::Zstd, 1 << 20).unwrap();
        let mut n = 0;
        for item in BatchIter::new(&out) {
            let (h, raw) = item.unwrap();
            assert_eq!(h.compression().unwrap(), Compression::Zstd);
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (7, 2, 10)
            );
            let raw = Bytes::copy_from_slice(raw);
            validate_records(&raw, 1 << 20).unwrap();
            let recs: Vec<_> = records(&raw, 1 << 20)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(recs.len(), 20);
            assert_eq!(recs[3].value.as_deref(), Some(&[b'v'; 100][..]));
            n += 1;
        }
        assert_eq!(n, 2);
        assert!(out.len() < data.len());
        // Already in the codec: the same bytes come back.
        let again = apply(out.clone(), Compression::Zstd, 1 << 20).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn topic_values() {
        assert_eq!(target(Some("producer")), None);
        assert_eq!(target(None), None);
        assert_eq!(target(Some("uncompressed")), Some(Compression::None));
        assert_eq!(target(Some("lz4")), Some(Compression::Lz4));
    }
}
