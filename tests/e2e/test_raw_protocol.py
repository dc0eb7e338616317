"""Protocol details checked with hand-built requests (kafka_wire) where clients hide them."""

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import OffsetSpec

import kafka_wire as kw
from helpers import ck_admin, ck_create_topic, ck_produce, unique_topic, wait_until


def ofle_version(bootstrap) -> int:
    lo, hi = kw.api_versions(bootstrap, 0).apis.get(23, (None, None))
    assert lo is not None, "OffsetForLeaderEpoch (23) not advertised"
    for v in (3, 2):
        if lo <= v <= hi:
            return v
    pytest.fail(f"OffsetForLeaderEpoch range {lo}..{hi} excludes v2 and v3 (librdkafka uses v2, Java v3/v4)")


def test_offset_for_leader_epoch(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("ofle")
    ck_create_topic(bs, topic)
    ck_produce(bs, topic, [b"e%d" % i for i in range(5)])
    admin = ck_admin(bs)
    info = list(admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.latest()},
                                   request_timeout=10).values())[0].result(15)
    assert info.offset == 5
    epoch = info.leader_epoch if info.leader_epoch is not None and info.leader_epoch >= 0 else 0
    v = ofle_version(bs)
    payload = kw.roundtrip(bs, kw.offset_for_leader_epoch_request(v, topic, 0, epoch, correlation_id=31))
    corr, res = kw.parse_offset_for_leader_epoch_response(payload)
    assert corr == 31
    err, got_epoch, end = res[(topic, 0)]
    assert err == 0
    assert got_epoch == epoch
    assert end == 5, "the end offset of the current epoch is the log end offset"
    # unknown topic
    payload = kw.roundtrip(bs, kw.offset_for_leader_epoch_request(v, topic + "-nope", 0, 0, correlation_id=32))
    _corr, res = kw.parse_offset_for_leader_epoch_response(payload)
    assert res[(topic + "-nope", 0)][0] == kw.ERROR_UNKNOWN_TOPIC_OR_PARTITION


def test_metadata_allow_auto_create_flag(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("md-flag")
    payload = kw.roundtrip(bs, kw.metadata_request_v4([topic], allow_auto_create=False))
    assert kw.parse_metadata_response_v4_topics(payload)[1][topic] == kw.ERROR_UNKNOWN_TOPIC_OR_PARTITION
    payload = kw.roundtrip(bs, kw.metadata_request_v4([topic], allow_auto_create=True))
    assert kw.parse_metadata_response_v4_topics(payload)[1][topic] in (0, 5)  # 5: LEADER_NOT_AVAILABLE
    # Metadata v1 (pre-KIP-204) always auto-creates
    topic2 = unique_topic("md-v1")
    payload = kw.roundtrip(bs, kw.metadata_request_v1([topic2]))
    assert kw.parse_metadata_response_v1_topics(payload)[1][topic2] in (0, 5)


def test_produce_acks0_gets_no_response(shared_broker):
    """acks=0 produce requests are never answered; the next request's answer comes first."""
    bs = shared_broker.bootstrap
    topic = unique_topic("acks0-raw")
    ck_produce(bs, topic, [b"first"])
    with kw.connect(bs) as s:
        s.sendall(kw.produce_request_v3(topic, 0, kw.encode_record_batch([b"fire-and-forget"]), acks=0,
                                        correlation_id=51)
                  + kw.api_versions_request(0, correlation_id=52))
        payload = kw.read_frame(s)
    assert kw.Reader(payload).int32() == 52

    def high_watermark():
        _corr, topics = kw.parse_fetch_response_v4(kw.roundtrip(bs, kw.fetch_request_v4(topic, 0, 0)))
        return topics[topic][0].high_watermark == 2
    wait_until(high_watermark, 10, 0.1, "the acks=0 record to become visible")
