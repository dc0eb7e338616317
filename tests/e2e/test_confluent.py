"""confluent-kafka (librdkafka) producer, consumer (assign, no group) and AdminClient."""

import time

import pytest
from confluent_kafka import (OFFSET_END, TIMESTAMP_CREATE_TIME, KafkaError, KafkaException,
                             TopicPartition)
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   NewPartitions, NewTopic, OffsetSpec, ResourceType)

import kafka_wire as kw
from helpers import (ck_admin, ck_consume, ck_consumer, ck_create_topic, ck_partitions, ck_produce,
                     ck_producer, ck_watermarks, unique_topic, wait_until)

MIB = 1024 * 1024


def _src(entry) -> int:
    s = entry.source
    return s.value if hasattr(s, "value") else int(s)


def describe_topic_configs(bootstrap, topic) -> dict:
    admin = ck_admin(bootstrap)
    res = ConfigResource(ResourceType.TOPIC, topic)
    fs = admin.describe_configs([res], request_timeout=10)
    return fs[res].result(15)


def wait_topic_gone(bootstrap, topic):
    admin = ck_admin(bootstrap)

    def gone():
        t = admin.list_topics(timeout=5).topics.get(topic)
        return t is None
    wait_until(gone, 15, 0.2, f"topic {topic} to disappear from metadata")


# ------------------------------------------------------------------ topics


def test_create_topic_with_partitions(shared_broker):
    topic = unique_topic("ck-create")
    ck_create_topic(shared_broker.bootstrap, topic, partitions=3)
    md = ck_admin(shared_broker.bootstrap).list_topics(topic, timeout=10)
    parts = md.topics[topic].partitions
    assert sorted(parts) == [0, 1, 2]
    node_ids = list(md.brokers)
    for p in parts.values():
        assert p.leader == node_ids[0]
        assert p.replicas == [node_ids[0]]
        assert p.isrs == [node_ids[0]]
    # creating it again fails with TOPIC_ALREADY_EXISTS
    admin = ck_admin(shared_broker.bootstrap)  # keep a reference: a destroyed client fails its futures
    fs = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)], request_timeout=10)
    with pytest.raises(KafkaException) as ei:
        fs[topic].result(15)
    assert ei.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS


def test_create_topic_default_partitions_and_replication(shared_broker):
    """num_partitions=-1 / replication_factor=-1 (CreateTopics v4+) mean broker defaults."""
    topic = unique_topic("ck-create-def")
    admin = ck_admin(shared_broker.bootstrap)
    fs = admin.create_topics([NewTopic(topic)], request_timeout=10)
    fs[topic].result(15)
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 1


@pytest.mark.parametrize("bad", ["bad/name", "..", "a" * 250, "spaces are bad"])
def test_create_topic_invalid_name(shared_broker, bad):
    admin = ck_admin(shared_broker.bootstrap)
    fs = admin.create_topics([NewTopic(bad, num_partitions=1, replication_factor=1)], request_timeout=10)
    with pytest.raises(KafkaException) as ei:
        fs[bad].result(15)
    assert ei.value.args[0].code() == KafkaError.TOPIC_EXCEPTION  # INVALID_TOPIC_EXCEPTION (17)


def test_auto_create_on_metadata(shared_broker):
    topic = unique_topic("ck-automd")
    p = ck_producer(shared_broker.bootstrap)  # producers request auto-creation in Metadata
    assert ck_partitions(p, topic) == [0]


def test_auto_create_on_produce(shared_broker):
    topic = unique_topic("ck-autoprod")
    reports = ck_produce(shared_broker.bootstrap, topic, [b"first", b"second"])
    assert [(r.partition, r.offset) for r in reports] == [(0, 0), (0, 1)]


def test_delete_topics(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-delete")
    ck_create_topic(bs, topic, partitions=2)
    ck_produce(bs, topic, [{"value": b"old", "partition": 0}] * 3)
    admin = ck_admin(bs)
    admin.delete_topics([topic], request_timeout=10)[topic].result(15)
    wait_topic_gone(bs, topic)
    # re-created by auto-create: a brand new, empty topic
    reports = ck_produce(bs, topic, [b"new"])
    assert (reports[0].partition, reports[0].offset) == (0, 0)
    assert ck_consume(bs, topic, 1).values() == [b"new"]
    # deleting an unknown topic fails
    missing = unique_topic("ck-never-existed")
    with pytest.raises(KafkaException) as ei:
        admin.delete_topics([missing], request_timeout=10)[missing].result(15)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_create_partitions(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-cparts")
    ck_create_topic(bs, topic, partitions=1)
    ck_produce(bs, topic, [b"p0-a", b"p0-b"])
    admin = ck_admin(bs)
    admin.create_partitions([NewPartitions(topic, 3)], request_timeout=10)[topic].result(15)
    wait_until(lambda: len(admin.list_topics(topic, timeout=5).topics[topic].partitions) == 3, 10, 0.2,
               "3 partitions in metadata")
    reports = ck_produce(bs, topic, [{"value": b"p2-a", "partition": 2}])
    assert (reports[0].partition, reports[0].offset) == (2, 0)
    assert ck_consume(bs, topic, 2, partitions=[0]).values() == [b"p0-a", b"p0-b"]
    assert ck_consume(bs, topic, 1, partitions=[2]).values() == [b"p2-a"]
    # shrinking is invalid
    with pytest.raises(KafkaException) as ei:
        admin.create_partitions([NewPartitions(topic, 2)], request_timeout=10)[topic].result(15)
    assert ei.value.args[0].code() == KafkaError.INVALID_PARTITIONS


# ------------------------------------------------------------------ produce / consume


def test_keyed_messages_same_partition_in_order(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-keys")
    ck_create_topic(bs, topic, partitions=4)
    msgs = [{"key": f"user-{i % 10}".encode(), "value": f"{i % 10}:{i}".encode()} for i in range(200)]
    reports = ck_produce(bs, topic, msgs)
    part_of = {}
    for r in reports:
        part_of.setdefault(r.key, set()).add(r.partition)
    assert all(len(ps) == 1 for ps in part_of.values()), part_of
    assert len({next(iter(ps)) for ps in part_of.values()}) > 1, "all keys landed in one partition"
    got = ck_consume(bs, topic, 200)
    seqs = {}
    for m in got.messages:
        assert m.partition() in part_of[m.key()]
        seqs.setdefault(m.key(), []).append(int(m.value().split(b":")[1]))
    for key, seq in seqs.items():
        assert seq == sorted(seq), f"order broken for {key}: {seq}"
        assert len(seq) == 20


def test_headers_and_timestamps_roundtrip(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-hdr")
    ts = int(time.time() * 1000) - 3_600_000  # an hour ago, clearly client-set
    headers = [("content-type", b"application/json"), ("trace", b"\x00\x01\xff"), ("dup", b"1"), ("dup", b"2"),
               ("empty", b"")]
    reports = ck_produce(bs, topic, [{"key": b"k", "value": b"{}", "headers": headers, "timestamp": ts},
                                     {"value": b"no-headers", "timestamp": ts + 1}])
    assert reports[0].timestamp == (TIMESTAMP_CREATE_TIME, ts)
    got = ck_consume(bs, topic, 2)
    m0, m1 = got.messages
    assert m0.headers() == headers
    assert m0.timestamp() == (TIMESTAMP_CREATE_TIME, ts)
    assert m0.key() == b"k" and m0.value() == b"{}"
    assert not m1.headers()
    assert m1.timestamp() == (TIMESTAMP_CREATE_TIME, ts + 1)


def test_null_and_empty_keys_and_values(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-null")
    ck_produce(bs, topic, [{"key": None, "value": None}, {"key": b"", "value": b""}, {"key": b"k", "value": None}])
    got = ck_consume(bs, topic, 3).messages
    assert [(m.key(), m.value()) for m in got] == [(None, None), (b"", b""), (b"k", None)]


def test_consume_from_earliest_latest_and_timestamp(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-offsets")
    t0 = int(time.time() * 1000) - 60_000
    ck_produce(bs, topic, [{"value": b"m%d" % i, "timestamp": t0 + i * 1000} for i in range(5)])
    # earliest
    assert ck_consume(bs, topic, 5).values() == [b"m%d" % i for i in range(5)]
    # offsets_for_times
    c = ck_consumer(bs)
    try:
        res = c.offsets_for_times([TopicPartition(topic, 0, t0 + 2500)], timeout=10)
        assert res[0].offset == 3
        res = c.offsets_for_times([TopicPartition(topic, 0, t0 + 2000)], timeout=10)
        assert res[0].offset == 2
        res = c.offsets_for_times([TopicPartition(topic, 0, t0 - 10_000)], timeout=10)
        assert res[0].offset == 0
        res = c.offsets_for_times([TopicPartition(topic, 0, t0 + 3_600_000)], timeout=10)
        assert res[0].offset in (-1, OFFSET_END), res  # no such record -> offset -1
    finally:
        c.close()
    assert ck_consume(bs, topic, 2, offset={0: 3}).values() == [b"m3", b"m4"]
    # latest: only records produced after the consumer started
    c = ck_consumer(bs)
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_END)])
        p = ck_producer(bs)
        got = []
        deadline = time.monotonic() + 20
        i = 0
        while not got and time.monotonic() < deadline:
            p.produce(topic, value=b"new%d" % i)
            p.flush(10)
            i += 1
            m = c.poll(0.5)
            while m is not None:
                if not m.error():
                    got.append(m)
                m = c.poll(0.1)
        assert got, "consumer at OFFSET_END received nothing"
        assert got[0].offset() >= 5 and got[0].value().startswith(b"new"), (got[0].offset(), got[0].value())
    finally:
        c.close()


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression_codecs(shared_broker, codec):
    bs = shared_broker.bootstrap
    topic = unique_topic(f"ck-{codec}")
    values = [(f"{codec}-{i}-" + "abc" * (i % 50)).encode() for i in range(300)]
    reports = ck_produce(bs, topic, values, conf={"compression.type": codec, "linger.ms": 50})
    assert [r.offset for r in reports] == list(range(300))
    assert ck_consume(bs, topic, 300).values() == values


def test_zero_byte_and_one_mib_values(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-sizes")
    # A 1 MiB value plus record/batch overhead exceeds Kafka's default max.message.bytes
    # (1048588 = 1 MiB + 12), so raise the topic limit (as one would with Kafka).
    ck_create_topic(bs, topic, config={"max.message.bytes": 2 * MIB})
    big = bytes(range(256)) * (MIB // 256)
    values = [b"", big, b"", big[::-1]]
    for v in values:  # one produce call each: two 1 MiB records in one batch would exceed 2 MiB
        ck_produce(bs, topic, [v], conf={"message.max.bytes": 4 * MIB, "batch.size": 4 * MIB})
    got = ck_consume(bs, topic, 4, conf={"max.partition.fetch.bytes": 4 * MIB, "fetch.max.bytes": 8 * MIB})
    assert [len(v) for v in got.values()] == [0, MIB, 0, MIB]
    assert got.values() == values


def test_value_just_under_default_limit(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-900k")
    value = b"z" * 1_000_000
    ck_produce(bs, topic, [value], conf={"message.max.bytes": 4 * MIB, "batch.size": 4 * MIB})
    assert ck_consume(bs, topic, 1, conf={"max.partition.fetch.bytes": 4 * MIB}).values() == [value]


@pytest.mark.parametrize("topic_limit,size", [(None, 1536 * 1024), (1000, 2000)],
                         ids=["default-limit-1.5MiB", "topic-limit-1000B"])
def test_message_too_large(shared_broker, topic_limit, size):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-toolarge")
    ck_create_topic(bs, topic, config={"max.message.bytes": topic_limit} if topic_limit else None)
    reports = ck_produce(bs, topic, [b"x" * size], check=False,
                         conf={"message.max.bytes": 4 * MIB, "batch.size": 4 * MIB, "compression.type": "none"})
    err = reports[0].err
    assert err is not None, "oversized record was accepted"
    assert err.code() == KafkaError.MSG_SIZE_TOO_LARGE, f"expected MESSAGE_TOO_LARGE (10), got {err}"
    # the partition still works and holds nothing from the rejected batch
    reports = ck_produce(bs, topic, [b"small"])
    assert reports[0].offset == 0
    assert ck_consume(bs, topic, 1).values() == [b"small"]
    shared_broker.assert_alive()


@pytest.mark.parametrize("acks", [0, 1, -1], ids=["acks0", "acks1", "acksall"])
def test_produce_acks(shared_broker, acks):
    bs = shared_broker.bootstrap
    topic = unique_topic(f"ck-acks{acks}")
    ck_create_topic(bs, topic)
    values = [b"a%d-%d" % (acks, i) for i in range(100)]
    reports = ck_produce(bs, topic, values, conf={"acks": acks})
    if acks != 0:
        assert [r.offset for r in reports] == list(range(100))
    assert ck_consume(bs, topic, 100).values() == values


def test_fetch_unknown_topic(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-unknown")
    # raw Fetch v4: per-partition UNKNOWN_TOPIC_OR_PARTITION, no auto-creation
    payload = kw.roundtrip(bs, kw.fetch_request_v4(topic, 0, 0, correlation_id=42))
    assert payload is not None, "broker closed the connection on a Fetch for an unknown topic"
    corr, topics = kw.parse_fetch_response_v4(payload)
    assert corr == 42
    parts = topics.get(topic)
    assert parts and parts[0].error_code == kw.ERROR_UNKNOWN_TOPIC_OR_PARTITION, topics
    payload = kw.roundtrip(bs, kw.metadata_request_v4([topic], allow_auto_create=False))
    _c, errors, _n = kw.parse_metadata_response_v4_topics(payload)
    assert errors.get(topic) == kw.ERROR_UNKNOWN_TOPIC_OR_PARTITION, "Fetch must not create topics"
    # a librdkafka consumer assigned to the unknown topic gets nothing and does not create it
    c = ck_consumer(bs, **{"allow.auto.create.topics": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            assert m is None or m.error(), "got a message from a topic that does not exist"
    finally:
        c.close()
    payload = kw.roundtrip(bs, kw.metadata_request_v4([topic], allow_auto_create=False))
    assert kw.parse_metadata_response_v4_topics(payload)[1].get(topic) == kw.ERROR_UNKNOWN_TOPIC_OR_PARTITION
    shared_broker.assert_alive()


# ------------------------------------------------------------------ offsets / records


def test_list_offsets_earliest_latest_timestamp(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-listoff")
    ck_create_topic(bs, topic, partitions=2)
    t0 = int(time.time() * 1000) - 100_000
    ck_produce(bs, topic, [{"value": b"v%d" % i, "partition": 0, "timestamp": t0 + i * 10} for i in range(5)])
    admin = ck_admin(bs)
    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)

    def lo(tp, spec):
        fs = admin.list_offsets({tp: spec}, request_timeout=10)
        return list(fs.values())[0].result(15)

    assert lo(tp0, OffsetSpec.earliest()).offset == 0
    assert lo(tp0, OffsetSpec.latest()).offset == 5
    assert lo(tp1, OffsetSpec.earliest()).offset == 0
    assert lo(tp1, OffsetSpec.latest()).offset == 0
    r = lo(tp0, OffsetSpec.for_timestamp(t0 + 25))
    assert r.offset == 3 and r.timestamp == t0 + 30
    assert ck_watermarks(bs, topic, 0) == (0, 5)


def test_delete_records_moves_log_start(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-delrec")
    ck_create_topic(bs, topic)
    ck_produce(bs, topic, [b"r%d" % i for i in range(10)])
    admin = ck_admin(bs)
    fs = admin.delete_records([TopicPartition(topic, 0, 4)], request_timeout=10)
    res = list(fs.values())[0].result(15)
    assert res.low_watermark == 4
    assert ck_watermarks(bs, topic, 0) == (4, 10)
    fs = admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()}, request_timeout=10)
    assert list(fs.values())[0].result(15).offset == 4
    got = ck_consume(bs, topic, 6)
    assert [m.offset() for m in got.messages] == list(range(4, 10))
    # deleting beyond the high watermark is an error
    fs = admin.delete_records([TopicPartition(topic, 0, 11)], request_timeout=10)
    with pytest.raises(KafkaException) as ei:
        list(fs.values())[0].result(15)
    assert ei.value.args[0].code() == KafkaError.OFFSET_OUT_OF_RANGE
    # offset -1 (OFFSET_END) deletes everything up to the high watermark
    fs = admin.delete_records([TopicPartition(topic, 0, OFFSET_END)], request_timeout=10)
    assert list(fs.values())[0].result(15).low_watermark == 10


# ------------------------------------------------------------------ configs

KAFKA_TOPIC_DEFAULTS = {
    "retention.ms": "604800000",
    "retention.bytes": "-1",
    "cleanup.policy": "delete",
    "segment.bytes": "1073741824",
    "max.message.bytes": "1048588",
}


def test_describe_configs_defaults(shared_broker):
    topic = unique_topic("ck-desccfg")
    ck_create_topic(shared_broker.bootstrap, topic)
    cfg = describe_topic_configs(shared_broker.bootstrap, topic)
    for name, value in KAFKA_TOPIC_DEFAULTS.items():
        assert name in cfg, f"{name} missing from DescribeConfigs (got {sorted(cfg)})"
        assert cfg[name].value == value, f"{name}={cfg[name].value}, want {value}"
        assert _src(cfg[name]) in (ConfigSource.DEFAULT_CONFIG.value, ConfigSource.STATIC_BROKER_CONFIG.value), \
            f"{name} source {cfg[name].source}"


def test_create_topic_with_configs(shared_broker):
    topic = unique_topic("ck-topiccfg")
    ck_create_topic(shared_broker.bootstrap, topic, config={"retention.ms": 3_600_000, "cleanup.policy": "delete"})
    cfg = describe_topic_configs(shared_broker.bootstrap, topic)
    assert cfg["retention.ms"].value == "3600000"
    assert _src(cfg["retention.ms"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["segment.bytes"].value == "1073741824"
    assert _src(cfg["segment.bytes"]) != ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def test_describe_configs_unknown_topic(shared_broker):
    topic = unique_topic("ck-desc-missing")
    admin = ck_admin(shared_broker.bootstrap)
    res = ConfigResource(ResourceType.TOPIC, topic)
    with pytest.raises(KafkaException) as ei:
        admin.describe_configs([res], request_timeout=10)[res].result(15)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_alter_configs(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-altercfg")
    ck_create_topic(bs, topic)
    admin = ck_admin(bs)
    res = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.ms": "86400000"})
    admin.alter_configs([res], request_timeout=10)[res].result(15)
    cfg = describe_topic_configs(bs, topic)
    assert cfg["retention.ms"].value == "86400000"
    assert _src(cfg["retention.ms"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def test_incremental_alter_configs_set_and_delete(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-incrcfg")
    ck_create_topic(bs, topic, config={"cleanup.policy": "delete"})
    admin = ck_admin(bs)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res], request_timeout=10)[res].result(15)
    cfg = describe_topic_configs(bs, topic)
    assert cfg["retention.ms"].value == "7200000"
    assert _src(cfg["retention.ms"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    # incremental: the other override survives
    assert _src(cfg["cleanup.policy"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)])
    admin.incremental_alter_configs([res], request_timeout=10)[res].result(15)
    cfg = describe_topic_configs(bs, topic)
    assert cfg["retention.ms"].value == "604800000"
    assert _src(cfg["retention.ms"]) != ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def test_alter_configs_survive_restart(broker):
    topic = unique_topic("ck-cfg-restart")
    ck_create_topic(broker.bootstrap, topic, config={"retention.ms": 123456789})
    admin = ck_admin(broker.bootstrap)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("segment.bytes", "2097152", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res], request_timeout=10)[res].result(15)
    broker.restart()
    cfg = describe_topic_configs(broker.bootstrap, topic)
    assert cfg["retention.ms"].value == "123456789"
    assert cfg["segment.bytes"].value == "2097152"


def test_invalid_config_value_rejected(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ck-badcfg")
    ck_create_topic(bs, topic)
    admin = ck_admin(bs)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "not-a-number", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as ei:
        admin.incremental_alter_configs([res], request_timeout=10)[res].result(15)
    assert ei.value.args[0].code() == KafkaError.INVALID_CONFIG
    assert describe_topic_configs(bs, topic)["retention.ms"].value == "604800000"


# ------------------------------------------------------------------ cluster


def test_describe_cluster(shared_broker):
    admin = ck_admin(shared_broker.bootstrap)
    desc = admin.describe_cluster(request_timeout=10).result(15)
    assert len(desc.nodes) == 1
    node = desc.nodes[0]
    assert f"{node.host}:{node.port}" == shared_broker.bootstrap
    assert desc.controller is not None and desc.controller.id == node.id
    assert desc.cluster_id, "cluster id should be set"
    # the cluster id is stable across calls
    assert admin.describe_cluster(request_timeout=10).result(15).cluster_id == desc.cluster_id
