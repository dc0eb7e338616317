"""kafka-python 3.x producer, consumer (group_id=None + assign) and KafkaAdminClient."""

import time

import pytest
from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from helpers import (kp_admin, kp_consume, kp_consumer, kp_producer, unique_topic, wait_until)

MIB = 1024 * 1024


def create_topic(bs, topic, partitions=1, configs=None):
    admin = kp_admin(bs)
    try:
        spec = {"num_partitions": partitions, "replication_factor": 1}
        if configs:
            spec["configs"] = {k: str(v) for k, v in configs.items()}
        admin.create_topics({topic: spec}, timeout_ms=10000)
        c = kp_consumer(bs)
        try:
            wait_until(lambda: len(c.partitions_for_topic(topic) or ()) == partitions, 10, 0.2,
                       f"{topic} with {partitions} partitions")
        finally:
            c.close()
    finally:
        admin.close()


def send_all(producer, topic, messages, timeout=30):
    """messages: list of dicts of send() kwargs; returns RecordMetadata list."""
    futures = [producer.send(topic, **m) for m in messages]
    producer.flush(timeout)
    return [f.get(timeout=timeout) for f in futures]


def test_create_topics_and_describe(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-create")
    create_topic(bs, topic, partitions=3)
    admin = kp_admin(bs)
    try:
        assert topic in admin.list_topics()
        desc = admin.describe_topics([topic])
        assert len(desc) == 1 and desc[0]["name"] == topic
        assert sorted(p["partition_index"] for p in desc[0]["partitions"]) == [0, 1, 2]
        assert all(p["error_code"] == 0 for p in desc[0]["partitions"])
    finally:
        admin.close()


def test_default_producer_is_idempotent_and_works(shared_broker):
    """kafka-python 3.x defaults to enable_idempotence=True, acks=all (needs InitProducerId)."""
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-idem")
    p = kp_producer(bs)
    try:
        assert p.config["enable_idempotence"] is True
        md = send_all(p, topic, [{"value": b"i%d" % i} for i in range(50)])
    finally:
        p.close(timeout=10)
    assert [m.offset for m in md] == list(range(50))
    assert [r.value for r in kp_consume(bs, topic, 50)] == [b"i%d" % i for i in range(50)]


def test_keyed_messages_same_partition_in_order(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-keys")
    create_topic(bs, topic, partitions=4)
    p = kp_producer(bs, key_serializer=str.encode, value_serializer=str.encode, linger_ms=5)
    try:
        md = send_all(p, topic, [{"key": f"user_{i % 7}", "value": f"{i % 7}:{i}"} for i in range(140)])
    finally:
        p.close(timeout=10)
    part_of = {}
    for i, m in enumerate(md):
        part_of.setdefault(f"user_{i % 7}", set()).add(m.partition)
    assert all(len(s) == 1 for s in part_of.values()), part_of
    recs = kp_consume(bs, topic, 140)
    seqs = {}
    for r in recs:
        key = r.key.decode()
        assert r.partition in part_of[key]
        seqs.setdefault(key, []).append(int(r.value.split(b":")[1]))
    for key, seq in seqs.items():
        assert seq == sorted(seq) and len(seq) == 20, (key, seq)


def test_headers_and_timestamps_roundtrip(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-hdr")
    ts = int(time.time() * 1000) - 7_200_000
    headers = [("source", b"auth-service"), ("bin", b"\x00\xff"), ("dup", b"a"), ("dup", b"b")]
    p = kp_producer(bs)
    try:
        md = send_all(p, topic, [{"value": b"login", "key": b"user-42", "headers": headers, "timestamp_ms": ts}])
    finally:
        p.close(timeout=10)
    assert md[0].timestamp == ts
    (rec,) = kp_consume(bs, topic, 1)
    assert rec.headers == headers
    assert rec.timestamp == ts
    assert rec.timestamp_type == 0  # CreateTime
    assert (rec.key, rec.value) == (b"user-42", b"login")


def test_earliest_latest_and_offsets_for_times(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-offsets")
    t0 = int(time.time() * 1000) - 50_000
    p = kp_producer(bs)
    try:
        send_all(p, topic, [{"value": b"m%d" % i, "timestamp_ms": t0 + i * 1000} for i in range(5)])
    finally:
        p.close(timeout=10)
    assert [r.value for r in kp_consume(bs, topic, 5, offset="earliest")] == [b"m%d" % i for i in range(5)]
    c = kp_consumer(bs)
    tp = TopicPartition(topic, 0)
    try:
        assert c.beginning_offsets([tp]) == {tp: 0}
        assert c.end_offsets([tp]) == {tp: 5}
        res = c.offsets_for_times({tp: t0 + 1500})
        assert res[tp].offset == 2 and res[tp].timestamp == t0 + 2000
        res = c.offsets_for_times({tp: t0 + 999_999})
        assert res[tp] is None
        # latest: position resolves to the high watermark, then only new records arrive
        c.assign([tp])
        c.seek_to_end(tp)
        assert c.position(tp) == 5
        p = kp_producer(bs)
        try:
            send_all(p, topic, [{"value": b"after"}])
        finally:
            p.close(timeout=10)
        got = []
        deadline = time.monotonic() + 15
        while not got and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                got.extend(recs)
        assert [(r.offset, r.value) for r in got] == [(5, b"after")]
    finally:
        c.close()


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression_codecs(shared_broker, codec):
    bs = shared_broker.bootstrap
    topic = unique_topic(f"kp-{codec}")
    values = [(f"{codec}-{i}-" + "xyz" * (i % 40)).encode() for i in range(200)]
    p = kp_producer(bs, compression_type=codec, linger_ms=20)
    try:
        md = send_all(p, topic, [{"value": v} for v in values])
    finally:
        p.close(timeout=10)
    assert [m.offset for m in md] == list(range(200))
    assert [r.value for r in kp_consume(bs, topic, 200)] == values


def test_zero_byte_and_one_mib_values(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-sizes")
    create_topic(bs, topic, configs={"max.message.bytes": 2 * MIB})
    big = b"\x5a" * MIB
    p = kp_producer(bs, max_request_size=4 * MIB, batch_size=4 * MIB)
    try:
        send_all(p, topic, [{"value": b""}, {"value": big}, {"value": None, "key": b"tombstone"}])
    finally:
        p.close(timeout=10)
    recs = kp_consume(bs, topic, 3, max_partition_fetch_bytes=4 * MIB, fetch_max_bytes=8 * MIB)
    assert [r.value for r in recs] == [b"", big, None]


@pytest.mark.parametrize("acks", [0, 1, "all"], ids=["acks0", "acks1", "acksall"])
def test_produce_acks(shared_broker, acks):
    bs = shared_broker.bootstrap
    topic = unique_topic(f"kp-acks{acks}")
    create_topic(bs, topic)
    p = kp_producer(bs, acks=acks, enable_idempotence=False)
    try:
        md = send_all(p, topic, [{"value": b"v%d" % i} for i in range(60)])
    finally:
        p.close(timeout=10)
    if acks != 0:
        assert [m.offset for m in md] == list(range(60))
    assert [r.value for r in kp_consume(bs, topic, 60)] == [b"v%d" % i for i in range(60)]


def test_message_too_large(shared_broker):
    from kafka.errors import MessageSizeTooLargeError

    bs = shared_broker.bootstrap
    topic = unique_topic("kp-toolarge")
    create_topic(bs, topic, configs={"max.message.bytes": 4096})
    p = kp_producer(bs, max_request_size=4 * MIB, enable_idempotence=False, retries=0)
    try:
        fut = p.send(topic, value=b"q" * 10_000)
        with pytest.raises(MessageSizeTooLargeError):
            fut.get(timeout=20)
        assert send_all(p, topic, [{"value": b"ok"}])[0].offset == 0
    finally:
        p.close(timeout=10)


def test_describe_and_alter_configs(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-cfg")
    create_topic(bs, topic)
    admin = kp_admin(bs)
    try:
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
        cfg = res["topic"][topic]
        assert cfg["retention.ms"]["value"] == "604800000"
        assert cfg["retention.ms"]["config_source"] in ("DEFAULT_CONFIG", "STATIC_BROKER_CONFIG")
        assert cfg["cleanup.policy"]["value"] == "delete"
        # only the requested keys
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": None})],
                                     config_filter="all")
        assert set(res["topic"][topic]) == {"retention.ms"}
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "3600000"})],
                            raise_on_unknown=False)
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])  # 'modified' filter
        modified = res["topic"][topic]
        assert modified["retention.ms"]["value"] == "3600000"
        assert modified["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
        assert "segment.bytes" not in modified
    finally:
        admin.close()


def test_create_partitions_and_delete_topic(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-parts")
    create_topic(bs, topic, partitions=1)
    admin = kp_admin(bs)
    try:
        admin.create_partitions({topic: 4})
        wait_until(lambda: len(admin.describe_topics([topic])[0]["partitions"]) == 4, 10, 0.3, "4 partitions")
        p = kp_producer(bs)
        try:
            assert send_all(p, topic, [{"value": b"p3", "partition": 3}])[0].offset == 0
        finally:
            p.close(timeout=10)
        admin.delete_topics([topic])
        wait_until(lambda: topic not in admin.list_topics(), 10, 0.2, f"{topic} deleted")
    finally:
        admin.close()


def test_delete_records_and_log_dirs(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-delrec")
    create_topic(bs, topic)
    p = kp_producer(bs)
    try:
        send_all(p, topic, [{"value": b"d%d" % i} for i in range(8)])
    finally:
        p.close(timeout=10)
    tp = TopicPartition(topic, 0)
    admin = kp_admin(bs)
    try:
        res = admin.delete_records({tp: 5})
        assert res[tp]["low_watermark"] == 5
        dirs = admin.describe_log_dirs([topic])
        assert len(dirs) == 1
        log_dirs = dirs[0]["log_dirs"]
        assert log_dirs and all(d["error_code"] == 0 for d in log_dirs)
        parts = [p for d in log_dirs for t in d["topics"] if t["name"] == topic for p in t["partitions"]]
        assert [p["partition_index"] for p in parts] == [0]
        assert parts[0]["partition_size"] > 0
    finally:
        admin.close()
    c = kp_consumer(bs)
    try:
        assert c.beginning_offsets([tp]) == {tp: 5}
    finally:
        c.close()
    assert [r.offset for r in kp_consume(bs, topic, 3)] == [5, 6, 7]


def test_consumer_out_of_range_resets(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("kp-oor")
    p = kp_producer(bs)
    try:
        send_all(p, topic, [{"value": b"o%d" % i} for i in range(3)])
    finally:
        p.close(timeout=10)
    # offset 100 is past the end: auto_offset_reset=earliest brings us back to 0
    recs = kp_consume(bs, topic, 3, offset=100, auto_offset_reset="earliest")
    assert [r.offset for r in recs] == [0, 1, 2]
