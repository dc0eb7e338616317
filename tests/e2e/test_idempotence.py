"""Idempotent producers (issue 5): duplicates over a raw connection, sequence errors,
and real idempotent clients across broker restarts."""

import pytest

import kafka_wire as kw
from helpers import ck_consume, ck_create_topic, ck_producer, ck_watermarks, kp_consume, kp_producer, unique_topic

OUT_OF_ORDER_SEQUENCE_NUMBER = 45


def init_producer_id(bootstrap):
    payload = kw.roundtrip(bootstrap, kw.init_producer_id_request_v0(correlation_id=7))
    assert payload is not None, "no InitProducerId response"
    corr, err, pid, epoch = kw.parse_init_producer_id_response_v0(payload)
    assert (corr, err) == (7, 0)
    assert pid >= 0 and epoch >= 0
    return pid, epoch


def produce(sock, topic, batch, corr):
    sock.sendall(kw.produce_request_v3(topic, 0, batch, acks=-1, correlation_id=corr))
    payload = kw.read_frame(sock)
    assert payload is not None, "connection closed instead of a Produce response"
    got_corr, parts = kw.parse_produce_response_v3(payload)
    assert got_corr == corr
    return parts[(topic, 0)]


def idem_batch(pid, epoch, seq, values):
    return kw.encode_record_batch(values, producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def test_same_produce_request_twice_is_stored_once(broker):
    bs = broker.bootstrap
    topic = unique_topic("idem-raw")
    ck_create_topic(bs, topic)
    pid, epoch = init_producer_id(bs)
    first = idem_batch(pid, epoch, 0, [b"a0", b"a1", b"a2"])
    with kw.connect(bs) as s:
        assert produce(s, topic, first, 1) == (0, 0)
        # the very same request again (a retry): success with the original offset
        assert produce(s, topic, first, 2) == (0, 0)
        # a gap in the sequence is refused
        err, _ = produce(s, topic, idem_batch(pid, epoch, 5, [b"gap"]), 3)
        assert err == OUT_OF_ORDER_SEQUENCE_NUMBER
        # the next sequence goes on at the next offset
        assert produce(s, topic, idem_batch(pid, epoch, 3, [b"b3", b"b4"]), 4) == (0, 3)
    # a retry on a fresh connection is still recognised
    with kw.connect(bs) as s:
        assert produce(s, topic, first, 5) == (0, 0)
    assert ck_watermarks(bs, topic) == (0, 5)
    got = ck_consume(bs, topic, 5)
    assert [m.value() for m in got.messages] == [b"a0", b"a1", b"a2", b"b3", b"b4"]


@pytest.mark.parametrize("how", ["restart", "kill9"])
def test_duplicate_is_recognised_after_broker_restart(broker, how):
    bs = broker.bootstrap
    topic = unique_topic("idem-restart")
    ck_create_topic(bs, topic)
    pid, epoch = init_producer_id(bs)
    batches = [idem_batch(pid, epoch, 2 * i, [b"v%d-0" % i, b"v%d-1" % i]) for i in range(3)]
    with kw.connect(bs) as s:
        for i, b in enumerate(batches):
            assert produce(s, topic, b, 10 + i) == (0, 2 * i)
    if how == "restart":
        broker.restart()
    else:
        broker.crash_restart()
    with kw.connect(bs) as s:
        # the last batch retried after the restart keeps its original offset, nothing is appended
        assert produce(s, topic, batches[-1], 20) == (0, 4)
        assert produce(s, topic, idem_batch(pid, epoch, 6, [b"after"]), 21) == (0, 6)
    assert ck_watermarks(bs, topic) == (0, 7)


def test_kafka_python_idempotent_producer_across_restart(broker):
    bs = broker.bootstrap
    topic = unique_topic("idem-kp")
    ck_create_topic(bs, topic, partitions=2)
    values = [b"kp-%04d" % i for i in range(400)]

    def send(chunk):
        p = kp_producer(bs, enable_idempotence=True, acks="all", retries=5)
        try:
            for i, v in enumerate(chunk):
                p.send(topic, value=v, partition=i % 2)
            p.flush(timeout=30)
        finally:
            p.close(timeout=10)

    send(values[:200])
    broker.restart()
    send(values[200:])
    got = kp_consume(bs, topic, 400, partitions=[0, 1])
    assert sorted(r.value for r in got) == values


def test_confluent_idempotent_producer_across_kill9(broker):
    bs = broker.bootstrap
    topic = unique_topic("idem-ck")
    ck_create_topic(bs, topic, partitions=2)
    values = [b"ck-%04d" % i for i in range(400)]
    errors = []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(err)

    p = ck_producer(bs, **{"enable.idempotence": True, "acks": "all", "message.timeout.ms": 60000,
                           "reconnect.backoff.max.ms": 500})
    for v in values[:200]:
        p.produce(topic, value=v, on_delivery=on_delivery)
    assert p.flush(30) == 0
    broker.crash_restart()
    # the same producer (same producer id) carries on against the restarted broker
    for v in values[200:]:
        p.produce(topic, value=v, on_delivery=on_delivery)
    assert p.flush(60) == 0
    assert errors == []
    got = ck_consume(bs, topic, 400, partitions=[0, 1])
    assert sorted(m.value() for m in got.messages) == values
