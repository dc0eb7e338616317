"""Durability: kill -9 under load, clean restarts, and torn writes at the end of a segment."""

import os
import random
import time

import pytest
import kafka_wire as kw
from helpers import ck_consume, ck_create_topic, ck_produce, ck_producer, ck_watermarks, unique_topic


def read_everything(bootstrap, topic, partitions):
    """{partition: [(offset, value), ...]} for all records up to each high watermark."""
    out = {}
    for p in partitions:
        low, high = ck_watermarks(bootstrap, topic, p)
        assert low == 0, f"partition {p}: log start moved to {low} without retention/delete-records"
        if high == 0:
            out[p] = []
            continue
        got = ck_consume(bootstrap, topic, high, partitions=[p], timeout=60)
        out[p] = [(m.offset(), m.value()) for m in got.messages]
    return out


def test_kill9_mid_load_keeps_every_acked_record(broker):
    bs = broker.bootstrap
    topic = unique_topic("crash")
    partitions = [0, 1]
    ck_create_topic(bs, topic, partitions=len(partitions))

    total, kill_after, max_backlog = 40_000, 10_000, 4_000
    acked = {}  # value -> (partition, offset)
    failed = {}  # value -> error
    state = {"delivered": 0}

    def on_delivery(err, msg):
        state["delivered"] += 1
        if err is None:
            acked[msg.value()] = (msg.partition(), msg.offset())
        else:
            failed[msg.value()] = err

    p = ck_producer(bs, **{"acks": "all", "linger.ms": 2, "message.timeout.ms": 5000,
                           "enable.idempotence": False, "queue.buffering.max.messages": 200_000,
                           "reconnect.backoff.max.ms": 500})
    produced = 0
    killed_at = None
    deadline = time.monotonic() + 60
    while produced < total and time.monotonic() < deadline:
        if produced - state["delivered"] < max_backlog:
            value = b"crash-%07d" % produced
            p.produce(topic, value=value, partition=partitions[produced % len(partitions)], on_delivery=on_delivery)
            produced += 1
            p.poll(0)
        else:
            p.poll(0.001)
        # Kill only while records are in flight (on a loaded machine the
        # producer can momentarily have none outstanding).
        if state["delivered"] >= kill_after and produced > state["delivered"]:
            killed_at = (produced, state["delivered"], len(acked))
            broker.kill9()
            break
    assert killed_at is not None, f"only {state['delivered']} deliveries within 60s; broker too slow to test"
    assert killed_at[0] > killed_at[1], "no records in flight when the broker was killed"
    # every outstanding message is resolved (acked before the kill, or failed) before the restart,
    # so no retry can reach the restarted broker and create a legitimate duplicate
    remaining = p.flush(30)
    assert remaining == 0, f"{remaining} messages unresolved 30s after the kill"
    assert state["delivered"] == produced
    assert len(acked) >= kill_after * 0.9, f"only {len(acked)} acked, {len(failed)} failed before the kill"

    broker.start()
    everything = read_everything(bs, topic, partitions)
    seen = {}
    for part, recs in everything.items():
        offsets = [o for o, _ in recs]
        assert offsets == list(range(len(recs))), f"partition {part}: offsets not contiguous from 0"
        for off, value in recs:
            assert value.startswith(b"crash-"), f"unexpected record {value!r} at {part}/{off}"
            assert value not in seen, f"duplicate {value!r} at {part}/{off} and {seen[value]}"
            seen[value] = (part, off)
    lost = [v for v, where in acked.items() if seen.get(v) != where]
    assert not lost, (f"{len(lost)} acknowledged records missing or moved after kill -9, e.g. "
                      f"{[(v, acked[v], seen.get(v)) for v in lost[:5]]}")
    # only records we produced, and acked ones all present
    assert len(seen) >= len(acked)

    # the log keeps working after recovery: new records follow the recovered end
    hw = {part: len(recs) for part, recs in everything.items()}
    reports = ck_produce(bs, topic, [{"value": b"after-%d" % part, "partition": part} for part in partitions])
    assert [(r.partition, r.offset) for r in reports] == [(part, hw[part]) for part in partitions]


def test_clean_restart_keeps_everything(broker):
    bs = broker.bootstrap
    t_multi = unique_topic("restart-multi")
    t_comp = unique_topic("restart-comp")
    ck_create_topic(bs, t_multi, partitions=3)
    ts = int(time.time() * 1000) - 10_000
    multi = [{"key": b"k%d" % (i % 5), "value": b"v%d" % i, "headers": [("h", b"%d" % i)], "timestamp": ts + i}
             for i in range(60)]
    ck_produce(bs, t_multi, multi)
    comp_values = [b"z%d" % i * 10 for i in range(200)]
    ck_produce(bs, t_comp, comp_values, conf={"compression.type": "zstd", "linger.ms": 20})

    def snapshot():
        msgs = ck_consume(bs, t_multi, 60).messages
        return (sorted((m.partition(), m.offset(), m.key(), m.value(), tuple(m.headers() or ()), m.timestamp())
                       for m in msgs),
                ck_consume(bs, t_comp, 200).values())

    before = snapshot()
    for _ in range(2):
        broker.restart()  # SIGTERM, asserts exit code 0, starts again on the same dir/ports
        assert snapshot() == before
    assert before[1] == comp_values
    # offsets continue where they were
    reports = ck_produce(bs, t_comp, [b"next"])
    assert reports[0].offset == 200


def newest_log_segment(partition_dir):
    logs = sorted(partition_dir.glob("*.log"), key=lambda p: (p.name, p.stat().st_mtime))
    assert logs, f"no .log files in {partition_dir}: {sorted(x.name for x in partition_dir.iterdir())}"
    return logs[-1]


TORN_VARIANTS = ["partial-batch", "garbage", "partial-batch+garbage", "zeros", "truncated-last-batch"]


@pytest.mark.parametrize("variant", TORN_VARIANTS)
def test_torn_write_is_truncated_on_restart(broker, variant):
    bs = broker.bootstrap
    topic = unique_topic("torn")
    ck_create_topic(bs, topic)
    values = []
    for batch in range(4):  # four produce calls -> four record batches of 5
        chunk = [b"torn-%d-%d" % (batch, i) for i in range(5)]
        ck_produce(bs, topic, chunk, conf={"linger.ms": 100})
        values += chunk
    broker.kill9()

    seg = newest_log_segment(broker.data_dir / f"{topic}-0")
    size = seg.stat().st_size
    rng = random.Random(variant)
    partial = kw.encode_record_batch([b"never-acked-%d" % i for i in range(10)], base_offset=len(values))
    partial = partial[: len(partial) // 2]
    with open(seg, "r+b") as f:
        if variant == "truncated-last-batch":
            f.truncate(size - 7)
        else:
            f.seek(0, os.SEEK_END)
            if variant.startswith("partial-batch"):
                f.write(partial)
            if variant.endswith("garbage"):
                f.write(bytes(rng.getrandbits(8) for _ in range(1000)))
            if variant == "zeros":  # preallocated-but-unwritten tail
                f.write(b"\x00" * 4096)
        f.flush()
        os.fsync(f.fileno())

    broker.start()
    low, high = ck_watermarks(bs, topic, 0)
    assert low == 0
    if variant == "truncated-last-batch":
        # the torn last batch is dropped, every earlier batch survives
        assert 10 <= high < len(values), high
        expected = values[:high]
    else:
        assert high == len(values), f"high watermark {high}, expected {len(values)}"
        expected = values
    assert ck_consume(bs, topic, high).values() == expected

    # the partition keeps working: new records at the recovered end, readable with the old ones
    more = [b"more-%d" % i for i in range(5)]
    reports = ck_produce(bs, topic, more)
    assert [r.offset for r in reports] == list(range(high, high + 5))
    assert ck_consume(bs, topic, high + 5).values() == expected + more
    broker.restart()
    assert ck_consume(bs, topic, high + 5).values() == expected + more
