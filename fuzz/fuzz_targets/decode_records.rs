//! Arbitrary bytes as a records payload: batch splitting, full validation,
//! record iteration (decompressing with a limit), control records and
//! recompression. Half the inputs get their CRC fixed first so the fuzzer
//! reaches the record parser instead of stopping at the checksum.
#![no_main]

use bytes::Bytes;
use fjord_protocol::records::{self, BatchHeader, BatchIter, Compression};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut buf = rest.to_vec();
    if flags & 1 == 1 {
        if let Ok(h) = BatchHeader::parse(&buf) {
            let end = h.total_size().min(buf.len());
            if end >= records::BATCH_HEADER_LEN {
                let crc = records::compute_crc(&buf[..end]);
                buf[17..21].copy_from_slice(&crc.to_be_bytes());
            }
        }
    }
    let buf = Bytes::from(buf);
    let _ = records::validate(&buf);
    let _ = records::validate_records(&buf, LIMIT);
    if let Ok(iter) = records::records(&buf, LIMIT) {
        let header = *iter.header();
        for r in iter {
            let Ok(r) = r else { break };
            let _ = (r.offset(header.base_offset), r.timestamp(&header));
            if header.is_control() {
                let _ = records::parse_control_record(r.key.as_deref().unwrap_or(&[]));
                let _ = records::parse_end_txn_marker(&r);
            }
        }
    }
    for b in BatchIter::new(&buf) {
        let Ok((_, bytes)) = b else { break };
        let to = [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ][(flags >> 1) as usize % 5];
        let _ = records::recompress(bytes, to, LIMIT);
    }
});
