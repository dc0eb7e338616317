"""Produce validation (issue 11 item 4): records without a key on compacted topics, and the
max.message.bytes check of batches the broker recompressed."""

import pytest
from confluent_kafka import KafkaError

import kafka_wire as kw
from helpers import ck_create_topic, ck_produce, ck_watermarks, unique_topic

ERROR_MESSAGE_TOO_LARGE = 10
ERROR_INVALID_RECORD = 87


@pytest.mark.parametrize("policy", ["compact", "compact,delete"])
def test_compacted_topic_refuses_a_keyless_record_with_its_index(shared_broker, policy):
    """Raw Produce v8: the batch is refused with INVALID_RECORD, the keyless record's index in
    record_errors, an error message, and nothing of the batch stored."""
    bs = shared_broker.bootstrap
    topic = unique_topic("keyless")
    ck_create_topic(bs, topic, config={"cleanup.policy": policy})
    batch = kw.encode_record_batch([b"a", b"b", b"c"], keys=[b"k0", None, b"k2"])
    payload = kw.roundtrip(bs, kw.produce_request(8, topic, 0, batch, correlation_id=41))
    corr, res = kw.parse_produce_response_v8(payload)
    assert corr == 41
    p = res[(topic, 0)]
    assert p.error_code == ERROR_INVALID_RECORD, p
    assert [i for i, _ in p.record_errors] == [1], p.record_errors
    assert "key" in (p.record_errors[0][1] or ""), p.record_errors
    assert p.error_message and "compacted" in p.error_message, p.error_message
    assert ck_watermarks(bs, topic) == (0, 0), "nothing of the refused batch may be stored"
    # The same records, all keyed, are accepted.
    batch = kw.encode_record_batch([b"a", b"b", b"c"], keys=[b"k0", b"k1", b"k2"])
    _corr, res = kw.parse_produce_response_v8(kw.roundtrip(bs, kw.produce_request(8, topic, 0, batch)))
    assert res[(topic, 0)].error_code == 0
    assert ck_watermarks(bs, topic) == (0, 3)


def test_keyless_records_stay_welcome_on_a_delete_topic(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("keyless-delete")
    ck_create_topic(bs, topic, config={"cleanup.policy": "delete"})
    batch = kw.encode_record_batch([b"a", b"b"])
    _corr, res = kw.parse_produce_response_v8(kw.roundtrip(bs, kw.produce_request(8, topic, 0, batch)))
    assert res[(topic, 0)].error_code == 0
    assert res[(topic, 0)].record_errors == []


def test_confluent_producer_sees_invalid_record_for_a_keyless_message(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("keyless-ck")
    ck_create_topic(bs, topic, config={"cleanup.policy": "compact"})
    reports = ck_produce(bs, topic, [b"no key"], check=False)
    assert reports[0].err is not None, "a keyless message on a compacted topic must not be delivered"
    assert reports[0].err.code() == KafkaError.INVALID_RECORD, reports[0].err
    ck_produce(bs, topic, [{"key": b"k", "value": b"with key"}])
    assert ck_watermarks(bs, topic) == (0, 1)


def test_recompressed_batch_is_checked_against_max_message_bytes(shared_broker):
    """A gzip batch well under max.message.bytes grows past it when the topic's
    compression.type=uncompressed makes the broker decompress it: MESSAGE_TOO_LARGE.
    (fjord-storage's Log::append checks every batch it writes, recompressed or not; this pins it.)"""
    bs = shared_broker.bootstrap
    topic = unique_topic("recompress-size")
    ck_create_topic(bs, topic, config={"compression.type": "uncompressed", "max.message.bytes": "4000"})
    conf = {"compression.type": "gzip", "linger.ms": 0}
    # 20 kB of one byte compresses to well under 4000 bytes; uncompressed it is five times the limit.
    reports = ck_produce(bs, topic, [b"z" * 20000], conf=conf, check=False)
    assert reports[0].err is not None, "the recompressed batch exceeds max.message.bytes"
    assert reports[0].err.code() == KafkaError.MSG_SIZE_TOO_LARGE, reports[0].err
    assert ck_watermarks(bs, topic) == (0, 0)
    # A value whose uncompressed batch fits is stored (recompressed).
    ck_produce(bs, topic, [b"z" * 2000], conf=conf)
    assert ck_watermarks(bs, topic) == (0, 1)
