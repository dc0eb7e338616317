"""Partition data replication (issue 12, step 3): three real `fjord broker`
processes in cluster mode, topics with replication factor 3.

Covers: acks=all records reach every replica, whose logs hold the leader's
bytes verbatim (the segment files are compared); kill -9 of the leader while
an idempotent acks=all producer runs loses no acknowledged record and
duplicates none, and the old leader, restarted, truncates to the new
leader's log and ends byte-identical; a killed follower leaves the ISR, catches up after its
restart and rejoins the ISR (Metadata shows it); acks=all with fewer in-sync
replicas than min.insync.replicas gets NOT_ENOUGH_REPLICAS.
"""

from __future__ import annotations

import threading
import time

import pytest

import kafka_wire as kw
from helpers import ck_admin, ck_consume, ck_produce, ck_producer, unique_topic, wait_until

SESSION_TIMEOUT_MS = 3000
NOT_ENOUGH_REPLICAS = 19


@pytest.fixture
def cluster(cluster_factory):
    return cluster_factory(3, config={"broker.session.timeout.ms": SESSION_TIMEOUT_MS,
                                      "replica.lag.time.max.ms": 5000})


def create_topic(bootstrap: str, topic: str, partitions: int = 1, rf: int = 3, config=None) -> None:
    from confluent_kafka.admin import NewTopic

    admin = ck_admin(bootstrap)
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=rf,
                                       config=config or {})], request_timeout=20)
    fs[topic].result(20)


def partition_state(node, topic: str, partition: int = 0):
    """(leader, replicas, isr) as `node`'s Metadata reports them, or None."""
    md = ck_admin(node.bootstrap).list_topics(topic, timeout=5)
    t = md.topics.get(topic)
    if t is None or partition not in t.partitions:
        return None
    p = t.partitions[partition]
    return p.leader, sorted(p.replicas), sorted(p.isrs)


def segment_bytes(node, topic: str, partition: int = 0) -> bytes:
    """Every segment of a replica's log, concatenated in offset order."""
    d = node.data_dir / f"{topic}-{partition}"
    return b"".join(p.read_bytes() for p in sorted(d.glob("*.log")))


def wait_full_isr(cluster, topic: str, timeout: float = 20):
    return wait_until(lambda: (s := partition_state(cluster.nodes[0], topic)) and s[0] > 0
                      and s[2] == [1, 2, 3] and s, timeout, 0.2, "a leader and a full ISR")


def test_acks_all_records_are_on_every_replica_verbatim(cluster):
    topic = unique_topic("repl")
    create_topic(cluster.nodes[0].bootstrap, topic)
    wait_full_isr(cluster, topic)
    messages = [f"m{i:04d}".encode() for i in range(300)]
    reports = ck_produce(cluster.bootstrap, topic, messages, conf={"acks": "all", "linger.ms": 2})
    assert all(r.err is None for r in reports)
    consumed = ck_consume(cluster.nodes[1].bootstrap, topic, len(messages))
    assert [m.value() for m in consumed.messages] == messages
    # acks=all answered once the high watermark covered the records: every
    # replica holds them, byte for byte as the leader wrote them.
    leader_bytes = segment_bytes(next(n for n in cluster.nodes
                                      if n.node_id == partition_state(cluster.nodes[0], topic)[0]), topic)
    assert len(leader_bytes) > 300 * 10
    for node in cluster.nodes:
        wait_until(lambda n=node: segment_bytes(n, topic) == leader_bytes, 10, 0.2,
                   f"{node.name}'s log equals the leader's")


def test_leader_killed_mid_stream_loses_no_acknowledged_record(cluster):
    topic = unique_topic("failover")
    create_topic(cluster.nodes[0].bootstrap, topic)
    leader_id = wait_full_isr(cluster, topic)[0]
    leader = next(n for n in cluster.nodes if n.node_id == leader_id)
    others = [n for n in cluster.nodes if n is not leader]
    producer = ck_producer(",".join(n.bootstrap for n in others), acks="all", enable_idempotence=True,
                           linger_ms=2, message_timeout_ms=60000)
    acked: list[tuple[int, bytes]] = []
    errors: list[object] = []
    lock = threading.Lock()

    def on_delivery(err, msg):
        with lock:
            if err is None:
                acked.append((msg.offset(), msg.value()))
            else:
                errors.append(err)

    total = 3000
    killed_at = None
    deadline = time.monotonic() + 120
    for i in range(total):
        while True:
            try:
                producer.produce(topic, value=f"k{i:05d}".encode(), on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        # Paced, so that the kill finds records both acknowledged and in flight.
        producer.poll(0.002)
        if killed_at is None and len(acked) >= 500:
            # Some records are acknowledged, more are in flight: kill the
            # leader now.
            leader.kill9()
            killed_at = len(acked)
        assert time.monotonic() < deadline, "producing took too long"
    remaining = producer.flush(90)
    assert remaining == 0, f"{remaining} records never delivered"
    assert not errors, errors[:5]
    assert killed_at is not None and killed_at < total - 100, killed_at
    new_state = wait_until(lambda: (s := partition_state(others[0], topic)) and s[0] not in (-1, leader_id)
                           and s, 20, 0.2, "a new leader")
    print(f"leader {leader_id} killed after {killed_at} acks; new leader {new_state[0]}, isr {new_state[2]}")
    consumed = ck_consume(others[0].bootstrap, topic, total, timeout=60)
    values = [m.value() for m in consumed.messages]
    # Every record exactly once, in produce order (idempotence keeps the
    # order across the retries), at the offsets the acknowledgements named.
    assert values == [f"k{i:05d}".encode() for i in range(total)]
    offsets = {m.value(): m.offset() for m in consumed.messages}
    assert all(offsets[v] == o for o, v in acked)
    # The old leader comes back as a follower: whatever it had appended
    # past the new leader's log in its epoch is truncated (OffsetForLeaderEpoch),
    # it catches up, rejoins the ISR, and all three logs are the same bytes.
    leader.start(timeout=60)
    wait_until(lambda: partition_state(others[0], topic)[2] == [1, 2, 3], 30, 0.2,
               "the old leader rejoins the ISR")
    new_leader = next(n for n in cluster.nodes if n.node_id == partition_state(others[0], topic)[0])
    for node in cluster.nodes:
        wait_until(lambda n=node: segment_bytes(n, topic) == segment_bytes(new_leader, topic), 15, 0.2,
                   f"{node.name}'s log equals the new leader's")


def test_killed_follower_catches_up_and_rejoins_the_isr(cluster):
    topic = unique_topic("rejoin")
    create_topic(cluster.nodes[0].bootstrap, topic)
    leader_id = wait_full_isr(cluster, topic)[0]
    follower = next(n for n in cluster.nodes if n.node_id != leader_id)
    first = [f"a{i}".encode() for i in range(100)]
    assert all(r.err is None for r in ck_produce(cluster.bootstrap, topic, first, conf={"acks": "all"}))
    follower.kill9()
    alive = [n for n in cluster.nodes if n is not follower]
    wait_until(lambda: partition_state(alive[0], topic)[2] == sorted(n.node_id for n in alive), 20, 0.2,
               "the killed follower leaves the ISR")
    # acks=all keeps working with the two in-sync replicas.
    second = [f"b{i}".encode() for i in range(200)]
    assert all(r.err is None for r in ck_produce(alive[0].bootstrap, topic, second, conf={"acks": "all"}))
    follower.start(timeout=60)
    started = time.monotonic()
    wait_until(lambda: partition_state(alive[0], topic)[2] == [1, 2, 3], 30, 0.2,
               "the restarted follower rejoins the ISR")
    print(f"follower {follower.node_id} back in the ISR {time.monotonic() - started:.2f} s after its start")
    leader = next(n for n in cluster.nodes if n.node_id == partition_state(alive[0], topic)[0])
    wait_until(lambda: segment_bytes(follower, topic) == segment_bytes(leader, topic), 10, 0.2,
               "the follower's log equals the leader's")
    consumed = ck_consume(alive[0].bootstrap, topic, 300)
    assert [m.value() for m in consumed.messages] == first + second


def test_min_insync_replicas_refuses_acks_all_when_the_isr_is_too_small(cluster):
    """Three nodes are also the metadata quorum, so two down would stop the
    controller: min.insync.replicas=3 with one follower down is the same case
    (ISR of 2 < 3)."""
    topic = unique_topic("minisr")
    create_topic(cluster.nodes[0].bootstrap, topic, config={"min.insync.replicas": "3"})
    leader_id = wait_full_isr(cluster, topic)[0]
    leader = next(n for n in cluster.nodes if n.node_id == leader_id)
    batch = kw.encode_record_batch([b"full"])
    payload = kw.roundtrip(leader.bootstrap, kw.produce_request_v3(topic, 0, batch, acks=-1))
    assert kw.parse_produce_response_v3(payload)[1][(topic, 0)][0] == 0
    follower = next(n for n in cluster.nodes if n is not leader)
    follower.kill9()
    wait_until(lambda: len(partition_state(leader, topic)[2]) == 2, 20, 0.2, "the ISR shrinks to 2")
    payload = kw.roundtrip(leader.bootstrap, kw.produce_request_v3(topic, 0, batch, acks=-1))
    assert kw.parse_produce_response_v3(payload)[1][(topic, 0)][0] == NOT_ENOUGH_REPLICAS
    # acks=1 is not bound by min.insync.replicas.
    payload = kw.roundtrip(leader.bootstrap, kw.produce_request_v3(topic, 0, batch, acks=1))
    assert kw.parse_produce_response_v3(payload)[1][(topic, 0)][0] == 0


def test_a_follower_that_stops_fetching_leaves_the_isr_then_rejoins(cluster_factory):
    """replica.lag.time.max.ms, not fencing: the follower is paused (SIGSTOP)
    for less than the session timeout, so it stays registered and unfenced,
    and the leader alone takes it out of the ISR (AlterPartition)."""
    import os
    import signal

    cluster = cluster_factory(3, config={"broker.session.timeout.ms": 20000, "replica.lag.time.max.ms": 1500})
    topic = unique_topic("lag")
    create_topic(cluster.nodes[0].bootstrap, topic)
    leader_id = wait_full_isr(cluster, topic)[0]
    leader = next(n for n in cluster.nodes if n.node_id == leader_id)
    follower = next(n for n in cluster.nodes if n is not leader)
    others = sorted(n.node_id for n in cluster.nodes if n is not follower)
    os.kill(follower.proc.pid, signal.SIGSTOP)
    try:
        paused = time.monotonic()
        wait_until(lambda: partition_state(leader, topic)[2] == others, 15, 0.2,
                   "the paused follower leaves the ISR")
        shrunk_after = time.monotonic() - paused
        print(f"ISR shrank {shrunk_after:.2f} s after the follower stopped fetching (lag max 1.5 s)")
        assert shrunk_after >= 1.0, shrunk_after
        # Not fenced: the ISR shrank through the lag rule alone.
        assert cluster.broker_ids(leader) == [1, 2, 3]
        reports = ck_produce(leader.bootstrap, topic, [b"while-paused"], conf={"acks": "all"})
        assert all(r.err is None for r in reports)
    finally:
        os.kill(follower.proc.pid, signal.SIGCONT)
    wait_until(lambda: partition_state(leader, topic)[2] == [1, 2, 3], 20, 0.2,
               "the resumed follower rejoins the ISR")
