"""The Kafka 4.0 API surface clients probe (issue 11 items 5 and 6): authorized operations,
DescribeTopicPartitions, ListOffsets v10, and what happens to removed versions."""

import time

import pytest
from confluent_kafka import TopicCollection
from confluent_kafka.admin import AclOperation

import kafka_wire as kw
from helpers import ck_admin, ck_create_topic, ck_produce, kcat, kp_admin, unique_topic

ERROR_INVALID_TOPIC_EXCEPTION = 17
ERROR_INVALID_REQUEST = 42

TOPIC_OPERATIONS = {AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE,
                    AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS,
                    AclOperation.ALTER_CONFIGS}
CLUSTER_OPERATIONS = {AclOperation.CREATE, AclOperation.ALTER, AclOperation.DESCRIBE,
                      AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS,
                      AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE}
# Kafka's AclOperation codes of the topic operations, as a bit set.
TOPIC_OPERATION_BITS = sum(1 << c for c in (3, 4, 5, 6, 7, 8, 10, 11))


# ---------------------------------------------------------------- authorized operations (item 5)

def test_confluent_admin_sees_authorized_operations(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("authz")
    ck_create_topic(bs, topic)
    admin = ck_admin(bs)
    desc = admin.describe_topics(TopicCollection([topic]), include_authorized_operations=True)[topic].result(15)
    assert set(desc.authorized_operations or []) == TOPIC_OPERATIONS
    cluster = admin.describe_cluster(include_authorized_operations=True).result(15)
    assert set(cluster.authorized_operations or []) == CLUSTER_OPERATIONS
    # Not asked for: not reported.
    desc = admin.describe_topics(TopicCollection([topic]), include_authorized_operations=False)[topic].result(15)
    assert not desc.authorized_operations
    cluster = admin.describe_cluster(include_authorized_operations=False).result(15)
    assert not cluster.authorized_operations


# ---------------------------------------------------------------- DescribeTopicPartitions (item 6)

def dtp(bs, topics, limit=2000, cursor=None, corr=7):
    payload = kw.roundtrip(bs, kw.describe_topic_partitions_request(topics, limit, cursor, correlation_id=corr))
    assert payload is not None, "DescribeTopicPartitions closed the connection"
    got_corr, topics_out, next_cursor = kw.parse_describe_topic_partitions_response(payload)
    assert got_corr == corr
    return topics_out, next_cursor


def pages(topics):
    return [(t.name, [p.index for p in t.partitions]) for t in topics]


def test_describe_topic_partitions_pages_across_topics(broker):
    bs = broker.bootstrap
    assert kw.api_versions(bs).apis.get(75) == (0, 0), "DescribeTopicPartitions v0 advertised"
    a, b, c = "dtp-a", "dtp-b", "dtp-c"
    for name, n in ((a, 3), (b, 2), (c, 1)):
        ck_create_topic(bs, name, partitions=n)
    # Named topics (given out of order), two partitions per response.
    topics, cursor = dtp(bs, [c, a, b], limit=2)
    assert pages(topics) == [(a, [0, 1])] and cursor == (a, 2)
    topics, cursor = dtp(bs, [c, a, b], limit=2, cursor=cursor)
    assert pages(topics) == [(a, [2]), (b, [0])] and cursor == (b, 1)
    topics, cursor = dtp(bs, [c, a, b], limit=2, cursor=cursor)
    assert pages(topics) == [(b, [1]), (c, [0])] and cursor is None
    # A topic ending exactly at the limit: the next response starts at the next topic.
    topics, cursor = dtp(bs, [a, b, c], limit=3)
    assert pages(topics) == [(a, [0, 1, 2])] and cursor == (b, 0)
    # All topics (empty list), from a cursor.
    topics, cursor = dtp(bs, [], limit=10, cursor=(b, 1))
    assert pages(topics) == [(b, [1]), (c, [0])] and cursor is None
    topics, cursor = dtp(bs, [], limit=10, cursor=(a, 0))
    assert pages(topics) == [(a, [0, 1, 2]), (b, [0, 1]), (c, [0])] and cursor is None
    # Without a cursor the internal topics (names before "d") come first, marked internal.
    everything, _ = dtp(bs, [], limit=2000)
    internal = {t.name for t in everything if t.is_internal}
    assert "__consumer_offsets" in internal and not internal & {a, b, c}
    assert pages(everything)[-3:] == pages(topics)
    # What each entry says.
    t = topics[0]
    assert t.error_code == 0 and not t.is_internal and t.topic_id != bytes(16)
    assert t.authorized_operations == TOPIC_OPERATION_BITS
    p = t.partitions[0]
    assert (p.error_code, p.leader, p.replicas, p.isr, p.offline) == (0, p.leader, [p.leader], [p.leader], [])
    assert p.leader >= 0 and p.leader_epoch >= 0
    assert p.elr == [] and p.last_known_elr == []
    # A limit of 0 still returns one partition.
    topics, cursor = dtp(bs, [a], limit=0)
    assert pages(topics) == [(a, [0])] and cursor == (a, 1)


def test_describe_topic_partitions_errors(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("dtp-err")
    ck_create_topic(bs, topic, partitions=2)
    missing = topic + "-missing"
    topics, cursor = dtp(bs, [topic, missing, "bad/name"])
    by_name = {t.name: t for t in topics}
    assert by_name[missing].error_code == kw.ERROR_UNKNOWN_TOPIC_OR_PARTITION
    assert by_name[missing].partitions == []
    assert by_name["bad/name"].error_code == ERROR_INVALID_TOPIC_EXCEPTION
    assert [p.index for p in by_name[topic].partitions] == [0, 1]
    assert cursor is None
    # The cursor must name a listed topic, and a partition >= 0.
    topics, _ = dtp(bs, [topic], cursor=(missing, 0))
    assert [(t.name, t.error_code) for t in topics] == [(topic, ERROR_INVALID_REQUEST)]
    topics, _ = dtp(bs, [topic], cursor=(topic, -1))
    assert [(t.name, t.error_code) for t in topics] == [(topic, ERROR_INVALID_REQUEST)]


# ---------------------------------------------------------------- ListOffsets v10 (item 6)

def test_list_offsets_v10(shared_broker):
    bs = shared_broker.bootstrap
    assert kw.api_versions(bs).apis[2] == (1, 10)
    topic = unique_topic("lo10")
    ck_create_topic(bs, topic)
    t0 = int(time.time() * 1000)
    ck_produce(bs, topic, [{"value": b"v%d" % i, "timestamp": t0 + i * 10} for i in range(4)])
    req = kw.list_offsets_request_v10(topic, [(0, -2)], timeout_ms=5000, correlation_id=51)
    corr, res = kw.parse_list_offsets_response_v10(kw.roundtrip(bs, req))
    assert corr == 51 and res[(topic, 0)] == (0, -1, 0)
    _, res = kw.parse_list_offsets_response_v10(kw.roundtrip(bs, kw.list_offsets_request_v10(topic, [(0, -1)], 5000)))
    assert res[(topic, 0)] == (0, -1, 4)
    _, res = kw.parse_list_offsets_response_v10(
        kw.roundtrip(bs, kw.list_offsets_request_v10(topic, [(0, t0 + 15)], 5000)))
    assert res[(topic, 0)] == (0, t0 + 20, 2)
    # No remote storage: a zero timeout still answers from the local log.
    _, res = kw.parse_list_offsets_response_v10(kw.roundtrip(bs, kw.list_offsets_request_v10(topic, [(0, -3)], 0)))
    assert res[(topic, 0)] == (0, t0 + 30, 3)


def test_kafka_python_infers_kafka_4_0(shared_broker):
    """kafka-python infers the broker's version from ApiVersions; ListOffsets v10 means 4.0."""
    admin = kp_admin(shared_broker.bootstrap)
    try:
        assert tuple(admin._client.check_version())[:2] == (4, 0)
    finally:
        admin.close()


# ---------------------------------------------------------------- removed versions (item 6)

def closed_without_answer(bs, frame) -> bool:
    with kw.connect(bs) as s:
        s.sendall(frame)
        return kw.read_frame(s, timeout=5) is None


def test_removed_versions_close_the_connection_as_kafka_4_0(shared_broker):
    """Kafka 4.0 closes the connection on Produce v0-v2 and Fetch v0-v3 (its socket server refuses
    the header before any handler), so fjord does too; ApiVersions still advertises Produce from v0."""
    bs = shared_broker.bootstrap
    topic = unique_topic("removed")
    ck_create_topic(bs, topic)
    batch = kw.encode_record_batch([b"x"])
    body = (kw.int16(-1) + kw.int32(10000) + kw.int32(1) + kw.string(topic) + kw.int32(1) + kw.int32(0)
            + kw.int32(len(batch)) + batch)
    assert closed_without_answer(bs, kw.encode_request(0, 2, 3, body))
    fetch_v4 = kw.fetch_request_v4(topic)
    assert closed_without_answer(bs, fetch_v4[:6] + kw.int16(3) + fetch_v4[8:])
    # The versions Kafka 4.0 advertises for the two.
    apis = kw.api_versions(bs).apis
    assert apis[0] == (0, 11), "Produce from v0, as Kafka 4.0 (KAFKA-18659)"
    assert apis[1] == (4, 17)
    # A too-new ApiVersions is answered (v0 framing, UNSUPPORTED_VERSION and our ranges).
    with kw.connect(bs) as s:
        s.sendall(kw.api_versions_request(version=99, correlation_id=5))
        payload = kw.read_frame(s, timeout=5)
    assert payload is not None
    resp = kw.parse_api_versions_response(payload, 0)
    assert resp.error_code == kw.ERROR_UNSUPPORTED_VERSION and resp.apis[0] == (0, 11)


@pytest.mark.parametrize("codec,code", [("gzip", 1), ("snappy", 2), ("lz4", 3)])
def test_kcat_compresses_against_fjord(shared_broker, codec, code):
    """librdkafka before 2.10 (kcat's 2.0.2 here) compresses with gzip, snappy or lz4 only when
    the broker advertises Produce v0; otherwise it silently sends uncompressed batches."""
    bs = shared_broker.bootstrap
    topic = unique_topic(f"kcat-z-{codec}")
    ck_create_topic(bs, topic)
    lines = "\n".join(f"line-{i}-" + "y" * 200 for i in range(20)) + "\n"
    kcat("-b", bs, "-P", "-t", topic, "-p", "0", "-z", codec, "-X", "linger.ms=50", input=lines)
    payload = kw.roundtrip(bs, kw.fetch_request_v4(topic))
    _corr, res = kw.parse_fetch_response_v4(payload)
    records = res[topic][0].records
    assert records, "nothing fetched"
    attributes = int.from_bytes(records[21:23], "big")
    assert attributes & 7 == code, f"first batch stored with codec {attributes & 7}, wanted {codec}"
