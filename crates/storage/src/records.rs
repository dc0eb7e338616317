//! Record-level timestamp lookups within one batch, for ListOffsets: exact
//! for uncompressed batches. Storage never decompresses: for compressed
//! batches callers fall back to batch-level answers. Records are read with
//! the protocol crate's record iterator (and so its varints).

use bytes::Bytes;
use fjord_protocol::records::{records, BatchHeader, Compression, TimestampType};

/// The first record, as (offset, timestamp), for which `pred` holds.
/// `None` when the batch cannot be inspected without decompressing it or
/// a record before the match is malformed; `Some(None)` when no record
/// matches.
pub(crate) fn find_record(
    batch: &Bytes,
    h: &BatchHeader,
    pred: impl Fn(i64, i64) -> bool,
) -> Option<Option<(i64, i64)>> {
    if h.compression().ok()? != Compression::None {
        return None;
    }
    let log_append = h.timestamp_type() == TimestampType::LogAppendTime;
    // The records of the batch (a limit is needed only to decompress).
    for r in records(batch, 0).ok()? {
        let r = r.ok()?;
        let offset = r.offset(h.base_offset);
        let ts = if log_append {
            h.max_timestamp
        } else {
            h.first_timestamp.wrapping_add(r.timestamp_delta)
        };
        if pred(offset, ts) {
            return Some(Some((offset, ts)));
        }
    }
    Some(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_protocol::records::{validate, BatchBuilder};

    #[test]
    fn finds_the_first_matching_record() {
        let mut b = BatchBuilder::new(Compression::None).base_offset(100);
        for ts in [5, 9, 7, 12] {
            b.append(ts, None, Some(b"v"), &[]).unwrap();
        }
        let batch = b.build().unwrap();
        let h = validate(&batch).unwrap();
        assert_eq!(find_record(&batch, &h, |_, t| t >= 8), Some(Some((101, 9))));
        assert_eq!(
            find_record(&batch, &h, |o, _| o >= 102),
            Some(Some((102, 7)))
        );
        assert_eq!(find_record(&batch, &h, |_, t| t > 12), Some(None));

        let mut z = BatchBuilder::new(Compression::Zstd);
        z.append(1, None, None, &[]).unwrap();
        let z = z.build().unwrap();
        let zh = validate(&z).unwrap();
        assert_eq!(find_record(&z, &zh, |_, _| true), None);
    }
}
