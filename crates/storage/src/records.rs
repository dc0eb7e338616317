//! Just enough record parsing to answer timestamp queries precisely for
//! uncompressed batches. Storage never decompresses: for compressed
//! batches callers fall back to batch-level answers.

use fjord_protocol::records::{BatchHeader, TimestampType, BATCH_HEADER_LEN};

fn varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let mut raw: u64 = 0;
    for shift in (0..70).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        raw |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    None
}

/// The first record, as (offset, timestamp), for which `pred` holds.
/// `None` when the batch cannot be inspected without decompressing it or is
/// malformed; `Some(None)` when no record matches.
pub(crate) fn find_record(
    batch: &[u8],
    h: &BatchHeader,
    pred: impl Fn(i64, i64) -> bool,
) -> Option<Option<(i64, i64)>> {
    let log_append = h.timestamp_type() == TimestampType::LogAppendTime;
    if h.attributes & 0x07 != 0 {
        return None;
    }
    let mut pos = BATCH_HEADER_LEN;
    for _ in 0..h.record_count.max(0) {
        let len = varlong(batch, &mut pos)?;
        let start = pos;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        if end > batch.len() {
            return None;
        }
        pos += 1; // attributes
        let ts_delta = varlong(batch, &mut pos)?;
        let offset_delta = varlong(batch, &mut pos)?;
        let offset = h.base_offset + offset_delta;
        let ts = if log_append {
            h.max_timestamp
        } else {
            h.first_timestamp.wrapping_add(ts_delta)
        };
        if pred(offset, ts) {
            return Some(Some((offset, ts)));
        }
        pos = end;
    }
    Some(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlong_zigzag() {
        for v in [0i64, 1, -1, 63, -64, 64, 300, -300, i64::MAX, i64::MIN] {
            let mut z = ((v << 1) ^ (v >> 63)) as u64;
            let mut buf = vec![];
            loop {
                if z < 0x80 {
                    buf.push(z as u8);
                    break;
                }
                buf.push((z as u8 & 0x7f) | 0x80);
                z >>= 7;
            }
            let mut pos = 0;
            assert_eq!(varlong(&buf, &mut pos), Some(v));
            assert_eq!(pos, buf.len());
        }
    }
}
