"""aiokafka (pure-Python asyncio client) round trip, no consumer group."""

import asyncio

import pytest

from helpers import unique_topic


async def _roundtrip(bootstrap, topic, values, codec):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, request_timeout_ms=15000)
    await producer.start()
    try:
        metas = [await producer.send_and_wait(topic, v, key=b"k") for v in values]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", request_timeout_ms=15000)
    await consumer.start()
    try:
        tp = TopicPartition(topic, metas[0].partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got = []
        while len(got) < len(values):
            batch = await asyncio.wait_for(consumer.getmany(tp, timeout_ms=500), 20)
            for recs in batch.values():
                got.extend(recs)
        end = await consumer.end_offsets([tp])
    finally:
        await consumer.stop()
    return metas, got, end[tp]


@pytest.mark.parametrize("codec", [None, "gzip"])
def test_aiokafka_roundtrip(shared_broker, codec):
    topic = unique_topic("aio")
    values = [b"aio-%d" % i for i in range(20)]
    metas, got, end = asyncio.run(asyncio.wait_for(_roundtrip(shared_broker.bootstrap, topic, values, codec), 60))
    assert [m.offset for m in metas] == list(range(20))
    assert [r.value for r in got] == values
    assert all(r.key == b"k" for r in got)
    assert end == 20
