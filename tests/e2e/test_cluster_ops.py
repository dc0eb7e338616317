"""Cluster operations (issue 12): controlled shutdown, preferred leader
election (ElectLeaders), DescribeQuorum. Three real `fjord broker` nodes in
cluster mode on 127.0.0.1, driven by confluent-kafka and raw frames.
"""

from __future__ import annotations

import time

import pytest

import kafka_wire as kw
from helpers import ck_admin, unique_topic, wait_until


def create_topic(bootstrap: str, topic: str, partitions: int = 1, rf: int = 3, config=None) -> None:
    from confluent_kafka.admin import NewTopic

    admin = ck_admin(bootstrap)
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=rf,
                                       config=config or {})], request_timeout=20)
    fs[topic].result(20)


def topic_state(node, topic: str):
    """{partition: (leader, replicas, isr)} as `node`'s Metadata reports it."""
    admin = ck_admin(node.bootstrap)
    md = admin.list_topics(topic, timeout=5)
    t = md.topics.get(topic)
    if t is None or not t.partitions:
        return {}
    return {p: (m.leader, list(m.replicas), sorted(m.isrs)) for p, m in t.partitions.items()}


def produce_acks_all(node, topic: str, partition: int, value: bytes) -> int | None:
    batch = kw.encode_record_batch([value])
    payload = kw.roundtrip(node.bootstrap, kw.produce_request_v3(topic, partition, batch, acks=-1), 5)
    if payload is None:
        return None
    _, parts = kw.parse_produce_response_v3(payload)
    return parts[(topic, partition)][0]


def test_sigterm_moves_leadership_away_before_the_broker_stops(cluster_factory):
    # The default session timeout (9 s): without a controlled shutdown the
    # partitions of the stopped broker would be leaderless that long.
    cluster = cluster_factory(3)
    topic = unique_topic("ctlshut")
    create_topic(cluster.bootstrap, topic, partitions=6)
    ids = [1, 2, 3]
    wait_until(lambda: (s := topic_state(cluster.nodes[0], topic)) and len(s) == 6
               and all(isr == ids for _, _, isr in s.values()), 20, 0.2, "full ISRs")
    state = topic_state(cluster.nodes[0], topic)
    victim_id = max(ids, key=lambda i: sum(1 for leader, _, _ in state.values() if leader == i))
    led = [p for p, (leader, _, _) in state.items() if leader == victim_id]
    assert led, state
    victim = next(n for n in cluster.nodes if n.node_id == victim_id)
    observer = next(n for n in cluster.nodes if n is not victim)
    t0 = time.monotonic()
    assert victim.stop() == 0
    stopped_in = time.monotonic() - t0
    # Right after the clean stop, the others already lead its partitions
    # and it is out of every ISR; acks=all writes succeed on them.
    after = topic_state(observer, topic)
    for p in range(6):
        leader, _, isr = after[p]
        assert leader != victim_id and leader > 0, (p, after[p])
        assert victim_id not in isr, (p, after[p])
    for p in led:
        leader = next(n for n in cluster.nodes if n.node_id == after[p][0])
        assert wait_until(lambda: produce_acks_all(leader, topic, p, b"after") == 0, 5, 0.1,
                          f"partition {p} writable on its new leader")
    assert "controlled shutdown: leadership moved" in victim.log_text()
    print(f"controlled shutdown of node {victim_id} (led {len(led)} partitions) took {stopped_in:.2f} s")
    # Back: it registers and unfences again, then rejoins the ISRs.
    victim.start(60)
    wait_until(lambda: (s := topic_state(observer, topic)) and all(isr == ids for _, _, isr in s.values()),
               30, 0.3, "the restarted broker back in every ISR")
