"""Log compaction: cleanup.policy=compact keeps the latest record of each key.

The broker's log cleaner runs every `log.cleaner.backoff.ms` (Kafka's default
is 15 s; 200 ms here). Topics use small segments and
min.cleanable.dirty.ratio=0.01 so that the cleaner has sealed segments to
work on after a few hundred records.
"""

import time

import pytest
from confluent_kafka import KafkaError, TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from helpers import (ck_admin, ck_consumer, ck_create_topic, ck_producer, ck_watermarks, kp_consumer,
                     unique_topic, wait_until)

BROKER_CONFIG = {"log.cleaner.backoff.ms": 200}
KEYS = 10


def log_bytes(partition_dir) -> int:
    return sum(p.stat().st_size for p in partition_dir.glob("*.log"))


def ck_read_all(bs: str, topic: str, timeout: float = 30.0, **conf) -> list[tuple[int, bytes | None, bytes | None]]:
    """Everything from the earliest offset to the high watermark, as (offset, key, value)."""
    _low, high = ck_watermarks(bs, topic)
    c = ck_consumer(bs, **conf)
    out = []
    try:
        c.assign([TopicPartition(topic, 0, -2)])  # OFFSET_BEGINNING
        deadline = time.monotonic() + timeout
        while (not out or out[-1][0] < high - 1) and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error: {m.error()}")
            out.append((m.offset(), m.key(), m.value()))
    finally:
        c.close()
    assert out and out[-1][0] == high - 1, f"read up to {out[-1][0] if out else None}, high watermark {high}"
    return out


def kp_read_all(bs: str, topic: str, timeout: float = 30.0):
    from kafka import TopicPartition as KTP

    _low, high = ck_watermarks(bs, topic)
    c = kp_consumer(bs)
    out = []
    try:
        tp = KTP(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        deadline = time.monotonic() + timeout
        while (not out or out[-1][0] < high - 1) and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                out.extend((r.offset, r.key, r.value) for r in recs)
    finally:
        c.close()
    assert out and out[-1][0] == high - 1, f"read up to {out[-1][0] if out else None}, high watermark {high}"
    return out


def check_compacted(records, produced: list[tuple[bytes, bytes | None]]):
    """Offsets increase, each record is what was produced at its offset, and the
    last record of every key is the last value produced for it."""
    offsets = [o for o, _, _ in records]
    assert offsets == sorted(set(offsets))
    for o, k, v in records:
        assert (k, v) == produced[o], f"offset {o}"
    latest = {}
    for k, v in produced:
        latest[k] = v
    seen = {}
    for _o, k, v in records:
        seen[k] = v
    assert seen == latest


def test_compacted_topic_keeps_the_latest_value_per_key(broker_factory):
    b = broker_factory(config=BROKER_CONFIG)
    bs = b.bootstrap
    topic = unique_topic("compact")
    # A dirty ratio can never be above 1.0: the cleaner waits until the
    # ratio is lowered below, once everything is produced.
    ck_create_topic(bs, topic, config={"cleanup.policy": "compact", "segment.bytes": 1024,
                                       "min.cleanable.dirty.ratio": 1.0, "delete.retention.ms": 1000})
    admin = ck_admin(bs)
    res = ConfigResource(ResourceType.TOPIC, topic)
    described = admin.describe_configs([res], request_timeout=10)[res].result(15)
    assert described["cleanup.policy"].value == "compact"
    assert described["min.cleanable.dirty.ratio"].value == "1.0"
    assert described["delete.retention.ms"].value == "1000"

    # One record per batch, so that segments roll every few records.
    p = ck_producer(bs, **{"linger.ms": 0, "batch.num.messages": 1, "max.in.flight": 1})
    produced = []
    for i in range(600):
        key = b"key-%d" % (i % KEYS)
        value = b"%s=%04d " % (key, i) + b"." * 60
        p.produce(topic, key=key, value=value)
        produced.append((key, value))
        if i % 20 == 19:
            assert p.flush(10) == 0
    assert p.flush(10) == 0
    part_dir = b.data_dir / f"{topic}-0"
    segments_before = len(list(part_dir.glob("*.log")))
    size_before = log_bytes(part_dir)
    assert segments_before > 20
    assert len(ck_read_all(bs, topic)) == 600

    alter = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("min.cleanable.dirty.ratio", "0.01", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([alter], request_timeout=10)[alter].result(15)
    wait_until(lambda: log_bytes(part_dir) < size_before / 10 or None, 30, 0.2,
               "the cleaner to compact the topic")
    size_after = log_bytes(part_dir)
    segments_after = len(list(part_dir.glob("*.log")))
    print(f"compacted: {len(produced)} records of {KEYS} keys, {segments_before} segments / {size_before} bytes "
          f"-> {segments_after} segments / {size_after} bytes")
    assert segments_after < segments_before
    wait_until(lambda: "log cleaner compacted a partition" in b.log_text(), 10, 0.1, "the cleaner's log line")

    got = ck_read_all(bs, topic)
    assert len(got) < len(produced) / 5
    check_compacted(got, produced)
    assert ck_watermarks(bs, topic) == (0, 600)
    # kafka-python steps over the offset gaps too.
    check_compacted(kp_read_all(bs, topic), produced)

    # Tombstones for half the keys, then updates of the others so that the
    # tombstones end up in sealed segments: after delete.retention.ms the
    # deleted keys are gone altogether.
    for k in range(KEYS // 2):
        key = b"key-%d" % k
        p.produce(topic, key=key, value=None)
        produced.append((key, None))
    for i in range(100):
        key = b"key-%d" % (KEYS // 2 + i % (KEYS // 2))
        value = b"%s=%04d " % (key, len(produced)) + b"." * 60
        p.produce(topic, key=key, value=value)
        produced.append((key, value))
        if i % 20 == 19:
            assert p.flush(10) == 0
    assert p.flush(10) == 0

    def tombstones_gone():
        recs = ck_read_all(bs, topic)
        keys = {k for _, k, _ in recs}
        return recs if not keys & {b"key-%d" % k for k in range(KEYS // 2)} else None

    recs = wait_until(tombstones_gone, 30, 0.5, "tombstones to be removed after delete.retention.ms")
    live = [(k, v) for k, v in produced if k in {b"key-%d" % k for k in range(KEYS // 2, KEYS)}]
    assert {k: v for k, v in live} == {k: v for _, k, v in recs}
    for o, k, v in recs:
        assert (k, v) == produced[o]

    # Restarts (clean, then kill -9) recover the gapped log.
    before = ck_read_all(bs, topic)
    b.restart()
    assert ck_read_all(bs, topic) == before
    b.crash_restart()
    assert ck_read_all(bs, topic) == before
    p = ck_producer(bs)
    p.produce(topic, key=b"key-9", value=b"after-restart")
    assert p.flush(10) == 0
    assert ck_read_all(bs, topic)[-1] == (len(produced), b"key-9", b"after-restart")


@pytest.mark.parametrize("cleaner", [True, False], ids=["cleaner", "no-cleaner"])
def test_consumer_offsets_stays_small_under_many_commits(broker_factory, cleaner):
    from kafka import OffsetAndMetadata
    from kafka import TopicPartition as KTP

    b = broker_factory(config={**BROKER_CONFIG, "offsets.topic.segment.bytes": 4096,
                               "log.cleaner.enable": cleaner})
    bs = b.bootstrap
    topic = unique_topic("committed")
    ck_create_topic(bs, topic, partitions=2)
    group = unique_topic("commits")
    c = kp_consumer(bs, group_id=group)
    tps = [KTP(topic, 0), KTP(topic, 1)]
    c.assign(tps)
    commits = 600
    for i in range(commits):
        c.commit({tp: OffsetAndMetadata(i, "m", -1) for tp in tps})
    c.close()

    dirs = list(b.data_dir.glob("__consumer_offsets-*"))
    assert dirs
    offsets_dir = max(dirs, key=log_bytes)
    # Each commit appends a batch; without compaction the partition keeps
    # every one of them.
    if cleaner:
        wait_until(lambda: log_bytes(offsets_dir) < 8192 or None, 30, 0.2,
                   "the cleaner to compact __consumer_offsets")
        wait_until(lambda: "log cleaner compacted a partition" in b.log_text(), 10, 0.1, "the cleaner's log line")
    else:
        time.sleep(1)
        assert log_bytes(offsets_dir) > commits * 100
    print(f"__consumer_offsets (cleaner {'on' if cleaner else 'off'}): {commits} commits of 2 offsets -> "
          f"{len(list(offsets_dir.glob('*.log')))} segments, {log_bytes(offsets_dir)} bytes")

    def committed():
        c2 = kp_consumer(bs, group_id=group)
        try:
            return {tp.partition: c2.committed(tp) for tp in tps}
        finally:
            c2.close()

    assert committed() == {0: commits - 1, 1: commits - 1}
    # The replay at start reads the compacted partition.
    b.restart()
    assert committed() == {0: commits - 1, 1: commits - 1}


def test_aborted_transactions_are_compacted_away(broker_factory):
    """The cleaner drops the records of aborted transactions (read_uncommitted
    consumers stop seeing them) and keeps the latest committed value per key."""
    import uuid

    from confluent_kafka import Producer

    b = broker_factory(config=BROKER_CONFIG)
    bs = b.bootstrap
    topic = unique_topic("compact-txn")
    ck_create_topic(bs, topic, config={"cleanup.policy": "compact", "segment.bytes": 1024,
                                       "min.cleanable.dirty.ratio": 0.01})
    p = Producer({"bootstrap.servers": bs, "transactional.id": f"tx-{uuid.uuid4().hex[:8]}",
                  "linger.ms": 0, "message.timeout.ms": 20000})
    p.init_transactions(30)
    latest = {}
    for rnd in range(24):
        key = b"key-%d" % (rnd % 3)
        committed = rnd % 4 != 1
        value = b"%s-%02d " % (b"committed" if committed else b"aborted", rnd) + b"." * 200
        p.begin_transaction()
        p.produce(topic, key=key, value=value)
        assert p.flush(30) == 0
        if committed:
            p.commit_transaction(30)
            latest[key] = value
        else:
            p.abort_transaction(30)
    # Seal the last transaction's segment.
    plain = ck_producer(bs, **{"linger.ms": 0})
    for i in range(12):
        plain.produce(topic, key=b"filler", value=b"filler-%d " % i + b"." * 200)
    assert plain.flush(10) == 0
    latest[b"filler"] = b"filler-11 " + b"." * 200

    def no_aborted():
        recs = ck_read_all(bs, topic, isolation_level="read_uncommitted")
        return recs if not any(v.startswith(b"aborted") for _, _, v in recs) else None

    recs = wait_until(no_aborted, 30, 0.5, "the cleaner to drop aborted transactions")
    assert {k: v for _, k, v in recs} == latest
    # Only the fillers in the active segment may still repeat a key.
    assert len([k for _, k, _ in recs if k != b"filler"]) == 3
    committed_view = ck_read_all(bs, topic, isolation_level="read_committed")
    assert {k: v for _, k, v in committed_view} == latest
