//! Unit tests of the segmented log: reopen, torn tails, truncation, purge.

use super::*;
use crate::raft::Proposal;
use openraft::{CommittedLeaderId, EntryPayload};

fn entry(term: u64, index: u64) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
        payload: EntryPayload::Normal(Proposal { records: vec![] }),
    }
}

fn append(store: &LogStore, range: std::ops::Range<u64>) {
    let entries: Vec<Entry> = range.map(|i| entry(1, i)).collect();
    let frames = entries
        .iter()
        .map(|e| (e.log_id.index, encode_frame(e).unwrap()))
        .collect();
    store.disk.lock().unwrap().append(frames).unwrap();
    let mut mem = store.mem_write();
    for e in entries {
        mem.entries.insert(e.log_id.index, e);
    }
}

fn indexes(store: &LogStore) -> Vec<u64> {
    store.mem_read().entries.keys().copied().collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("log"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    files.sort();
    files
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fjord-metadata-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn entries_survive_a_reopen_across_segments() {
    let dir = temp_dir("reopen");
    let store = LogStore::open(&dir, 300).unwrap();
    append(&store, 0..20);
    drop(store);
    assert!(segments(&dir).len() > 1, "small segments roll");
    let store = LogStore::open(&dir, 300).unwrap();
    assert_eq!(indexes(&store), (0..20).collect::<Vec<_>>());
    append(&store, 20..25);
    drop(store);
    let store = LogStore::open(&dir, 300).unwrap();
    assert_eq!(indexes(&store), (0..25).collect::<Vec<_>>());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_tail_is_truncated_at_open() {
    let dir = temp_dir("torn");
    let store = LogStore::open(&dir, 1 << 20).unwrap();
    append(&store, 0..10);
    drop(store);
    let last = segments(&dir).pop().unwrap();
    let size = fs::metadata(&last).unwrap().len();
    let file = OpenOptions::new().write(true).open(&last).unwrap();
    file.set_len(size - 3).unwrap();
    drop(file);
    let store = LogStore::open(&dir, 1 << 20).unwrap();
    assert_eq!(indexes(&store), (0..9).collect::<Vec<_>>());
    let cut = fs::metadata(&last).unwrap().len();
    assert!(cut < size - 3, "the partial frame is cut off the file");
    // Appending after recovery continues the sequence.
    append(&store, 9..11);
    drop(store);
    let store = LogStore::open(&dir, 1 << 20).unwrap();
    assert_eq!(indexes(&store), (0..11).collect::<Vec<_>>());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_crc_cuts_the_log_there_and_drops_later_segments() {
    let dir = temp_dir("crc");
    let store = LogStore::open(&dir, 300).unwrap();
    append(&store, 0..20);
    let (base, pos) = store.disk.lock().unwrap().positions[&5];
    drop(store);
    let path = dir.join("log").join(segment_name(base));
    let mut bytes = fs::read(&path).unwrap();
    bytes[pos as usize + FRAME_HEADER + 2] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let store = LogStore::open(&dir, 300).unwrap();
    assert_eq!(indexes(&store), (0..5).collect::<Vec<_>>());
    assert_eq!(segments(&dir).last().unwrap(), &path);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncation_and_purge_are_durable() {
    let dir = temp_dir("truncate");
    let store = LogStore::open(&dir, 300).unwrap();
    append(&store, 0..20);
    store.disk.lock().unwrap().truncate(15).unwrap();
    store.mem_write().entries.split_off(&15);
    append(&store, 15..17);
    drop(store);
    let store = LogStore::open(&dir, 300).unwrap();
    assert_eq!(indexes(&store), (0..17).collect::<Vec<_>>());
    let before = segments(&dir).len();
    let purged = entry(1, 12).log_id;
    write_json(&dir.join("purged.json"), &Some(purged)).unwrap();
    store.disk.lock().unwrap().drop_purged(12).unwrap();
    drop(store);
    assert!(
        segments(&dir).len() < before,
        "segments behind the purge go"
    );
    let store = LogStore::open(&dir, 300).unwrap();
    assert_eq!(indexes(&store), (13..17).collect::<Vec<_>>());
    assert_eq!(store.mem_read().last_purged, Some(purged));
    fs::remove_dir_all(&dir).unwrap();
}
