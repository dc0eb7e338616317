"""Topic-level compression.type: the broker rewrites produced batches with the
topic's codec (read back raw to check the batch attributes), keeps producer
codecs for "producer", and refuses unknown values."""

from __future__ import annotations

import struct

import pytest

import kafka_wire as kw
from helpers import ck_admin, ck_consume, ck_create_topic, ck_produce, unique_topic

CODECS = {"uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batch_codecs(bootstrap: str, topic: str) -> list[int]:
    payload = kw.roundtrip(bootstrap, kw.fetch_request_v4(topic, 0, 0))
    _, topics = kw.parse_fetch_response_v4(payload)
    (part,) = topics[topic]
    assert part.error_code == 0
    data, out = part.records or b"", []
    while len(data) >= 61:
        length = struct.unpack(">i", data[8:12])[0]
        attributes = struct.unpack(">h", data[21:23])[0]
        out.append(attributes & 0x07)
        data = data[12 + length:]
    return out


@pytest.mark.parametrize("codec", ["gzip", "zstd", "lz4", "snappy", "uncompressed"])
def test_topic_codec_rewrites_batches(shared_broker, codec):
    bs = shared_broker.bootstrap
    topic = unique_topic(f"comp-{codec}")
    ck_create_topic(bs, topic, config={"compression.type": codec})
    producer_codec = "none" if codec != "uncompressed" else "gzip"
    values = [f"value-{i}-".encode() * 20 for i in range(50)]
    ck_produce(bs, topic, values, conf={"compression.type": producer_codec, "linger.ms": 20})
    codecs = batch_codecs(bs, topic)
    assert codecs and set(codecs) == {CODECS[codec]}, codecs
    assert ck_consume(bs, topic, 50).values() == values


def test_producer_codec_is_kept_and_bad_values_refused(shared_broker):
    from confluent_kafka.admin import NewTopic

    bs = shared_broker.bootstrap
    topic = unique_topic("comp-producer")
    ck_create_topic(bs, topic, config={"compression.type": "producer"})
    ck_produce(bs, topic, [b"x" * 500] * 10, conf={"compression.type": "lz4", "linger.ms": 20})
    assert set(batch_codecs(bs, topic)) == {3}
    admin = ck_admin(bs)
    bad = unique_topic("comp-bad")
    fs = admin.create_topics([NewTopic(bad, 1, 1, config={"compression.type": "brotli"})], request_timeout=10)
    with pytest.raises(Exception):
        fs[bad].result(10)
