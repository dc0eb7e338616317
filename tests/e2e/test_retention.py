"""Time-based retention deletes old segments; consumers below the log start reset."""

import time

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from helpers import (ck_admin, ck_consume, ck_create_topic, ck_producer, ck_watermarks, kp_consume,
                     unique_topic, wait_until)

# The retention checker must run often for the test to be quick; Kafka's default is 5 minutes.
BROKER_CONFIG = {"log.retention.check.interval.ms": 500}


def log_files(partition_dir):
    return sorted(p.name for p in partition_dir.glob("*.log"))


def test_retention_deletes_old_segments_and_consumers_reset(broker_factory):
    b = broker_factory(config=BROKER_CONFIG)
    bs = b.bootstrap
    topic = unique_topic("retention")
    ck_create_topic(bs, topic, config={"retention.ms": 1000, "segment.bytes": 1024})
    # one record per batch so that segments roll every few records
    p = ck_producer(bs, **{"linger.ms": 0, "batch.num.messages": 1, "max.in.flight": 1})
    for i in range(60):
        p.produce(topic, value=b"old-%03d-" % i + b"." * 100)
        p.flush(10)
    part_dir = b.data_dir / f"{topic}-0"
    before = log_files(part_dir)
    assert len(before) >= 3, f"segment.bytes=1024 should roll segments; have {before}"
    assert ck_watermarks(bs, topic) == (0, 60)

    def log_start():
        low, _high = ck_watermarks(bs, topic)
        return low if low > 0 else None

    low = wait_until(log_start, 30, 0.5, "retention to advance the log start offset")
    assert 0 < low <= 60
    wait_until(lambda: len(log_files(part_dir)) < len(before), 15, 0.5, "old .log segments to be deleted")

    # stop further deletion, then read the state deterministically
    admin = ck_admin(bs)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res], request_timeout=10)[res].result(15)
    time.sleep(1.5)  # let a retention pass that may have started with the old value finish
    low, high = ck_watermarks(bs, topic)
    assert low > 0 and high == 60
    p.produce(topic, value=b"new-0")
    p.produce(topic, value=b"new-1")
    assert p.flush(10) == 0

    # confluent: assigned at offset 0 (deleted) -> OFFSET_OUT_OF_RANGE -> auto.offset.reset=earliest
    got = ck_consume(bs, topic, 62 - low, offset={0: 0}, conf={"auto.offset.reset": "earliest"})
    assert [m.offset() for m in got.messages] == list(range(low, 62))
    assert got.values()[-2:] == [b"new-0", b"new-1"]
    # kafka-python: same with seek(0)
    recs = kp_consume(bs, topic, 62 - low, offset=0, auto_offset_reset="earliest")
    assert recs[0].offset == low
    # the retained state survives a restart
    b.restart()
    assert ck_watermarks(bs, topic) == (low, 62)


def test_retention_by_bytes(broker_factory):
    b = broker_factory(config=BROKER_CONFIG)
    bs = b.bootstrap
    topic = unique_topic("retention-bytes")
    ck_create_topic(bs, topic, config={"retention.bytes": 2048, "segment.bytes": 1024})
    p = ck_producer(bs, **{"linger.ms": 0, "batch.num.messages": 1, "max.in.flight": 1})
    for i in range(60):
        p.produce(topic, value=b"b-%03d-" % i + b"." * 100)
        p.flush(10)
    low = wait_until(lambda: ck_watermarks(bs, topic)[0] or None, 30, 0.5, "size-based retention")
    assert 0 < low < 60
    assert ck_consume(bs, topic, 60 - low, offset={0: low}).values()[-1].startswith(b"b-059-")


def test_consumer_position_below_log_start_after_delete_records(broker):
    """Same reset path, driven by DeleteRecords instead of the retention thread."""
    bs = broker.bootstrap
    topic = unique_topic("reset-delrec")
    ck_create_topic(bs, topic)
    p = ck_producer(bs)
    for i in range(10):
        p.produce(topic, value=b"d%d" % i)
    p.flush(10)
    admin = ck_admin(bs)
    list(admin.delete_records([TopicPartition(topic, 0, 7)], request_timeout=10).values())[0].result(15)
    got = ck_consume(bs, topic, 3, offset={0: 2}, conf={"auto.offset.reset": "earliest"})
    assert [m.offset() for m in got.messages] == [7, 8, 9]
