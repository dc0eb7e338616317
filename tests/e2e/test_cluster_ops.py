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


def three_partitions_in_sync(cluster_factory, prefix: str):
    """A 3-node cluster (3 s session) with a 3-partition RF 3 topic whose
    ISRs are full: (cluster, topic, node 1)."""
    cluster = cluster_factory(3, config={"broker.session.timeout.ms": 3000})
    topic = unique_topic(prefix)
    create_topic(cluster.bootstrap, topic, partitions=3)
    observer = cluster.nodes[0]
    wait_until(lambda: (s := topic_state(observer, topic)) and len(s) == 3
               and all(isr == [1, 2, 3] for _, _, isr in s.values()), 20, 0.2, "full ISRs")
    return cluster, topic, observer


def restart_leader_of_partition_0(cluster, topic: str, observer):
    """Stops (SIGTERM) and restarts the leader of partition 0 of `topic`
    (led by its preferred replica) and waits until it is back in every ISR;
    it then leads none of its partitions. Returns a node other than it."""
    victim_id = topic_state(observer, topic)[0][0]
    victim = next(n for n in cluster.nodes if n.node_id == victim_id)
    observer = next(n for n in cluster.nodes if n is not victim)
    victim.stop()
    victim.start(60)
    wait_until(lambda: (s := topic_state(observer, topic)) and all(isr == [1, 2, 3] for _, _, isr in s.values()),
               30, 0.3, "the restarted broker back in every ISR")
    return observer


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


def test_elect_leaders_moves_leadership_back_to_the_preferred_replica(cluster_factory):
    from confluent_kafka import ElectionType, TopicPartition

    cluster, topic, observer = three_partitions_in_sync(cluster_factory, "elect")
    state = topic_state(observer, topic)
    # Every partition is led by its preferred (first) replica after creation.
    assert all(leader == replicas[0] for leader, replicas, _ in state.values()), state
    # Stop a preferred leader (controlled: its partitions move at once) and
    # bring it back: it rejoins the ISR but does not lead again by itself.
    observer = restart_leader_of_partition_0(cluster, topic, observer)
    moved = [p for p, (leader, replicas, _) in topic_state(observer, topic).items() if leader != replicas[0]]
    assert 0 in moved
    admin = ck_admin(observer.bootstrap)
    parts = [TopicPartition(topic, p) for p in range(3)]
    result = admin.elect_leaders(ElectionType.PREFERRED, parts).result(20)
    errors = {tp.partition: err for tp, err in result.items()}
    for p in range(3):
        if p in moved:
            assert errors[p] is None, (p, errors[p])
        else:
            assert errors[p] is not None and errors[p].code() == 84, (p, errors[p])  # ELECTION_NOT_NEEDED
    wait_until(lambda: all(leader == replicas[0] for leader, replicas, _ in topic_state(observer, topic).values()),
               10, 0.2, "every partition led by its preferred replica")
    # Asked again: nothing to do; an unknown partition is named as such.
    again = admin.elect_leaders(ElectionType.PREFERRED, parts + [TopicPartition(topic, 7)]).result(20)
    codes = {tp.partition: err.code() for tp, err in again.items()}
    assert codes == {0: 84, 1: 84, 2: 84, 7: 3}, codes


def describe_quorum_v2(node, topic: str = "__cluster_metadata", partition: int = 0):
    """Raw DescribeQuorum v2: (error, partition dict, nodes {id: (host, port)})."""
    body = (kw.uvarint(2) + kw.compact_string(topic) + kw.uvarint(2) + kw.int32(partition) + kw.uvarint(0)
            + kw.uvarint(0) + kw.uvarint(0))
    payload = kw.roundtrip(node.bootstrap, kw.encode_request(55, 2, 9, body, flexible=True))
    assert payload is not None
    r = kw.Reader(payload)
    assert r.int32() == 9
    r.tagged_fields()
    error = r.int16()
    r.compact_string()
    out = None
    for _ in range(r.uvarint() - 1):
        r.compact_string()
        for _ in range(r.uvarint() - 1):
            p = {"index": r.int32(), "error": r.int16()}
            r.compact_string()
            p["leader"], p["epoch"], p["hw"] = r.int32(), r.int32(), r.int64()
            for kind in ("voters", "observers"):
                p[kind] = []
                for _ in range(r.uvarint() - 1):
                    rid = r.int32()
                    r._take(16)
                    p[kind].append({"id": rid, "leo": r.int64(), "fetch": r.int64(), "caught_up": r.int64()})
                    r.tagged_fields()
            r.tagged_fields()
            out = p
        r.tagged_fields()
    nodes = {}
    for _ in range(r.uvarint() - 1):
        nid = r.int32()
        for _ in range(r.uvarint() - 1):
            r.compact_string()
            host = r.compact_string()
            port = int.from_bytes(r._take(2), "big")
            r.tagged_fields()
            nodes[nid] = (host, port)
        r.tagged_fields()
    return error, out, nodes


def test_describe_quorum_shows_leader_voters_and_their_offsets(cluster_factory):
    cluster = cluster_factory(3)
    create_topic(cluster.bootstrap, unique_topic("dq"), partitions=1)

    def leader_view():
        for node in cluster.nodes:
            error, p, nodes = describe_quorum_v2(node)
            assert error == 0 and p["error"] == 0
            if p["leader"] == node.node_id:
                return node, p, nodes
        return None

    leader, p, nodes = wait_until(leader_view, 10, 0.2, "the quorum leader answering")
    assert sorted(v["id"] for v in p["voters"]) == [1, 2, 3] and p["observers"] == []
    assert p["epoch"] >= 1 and p["hw"] > 0
    # The leader knows every voter's log end; all caught up, heard recently.
    now_ms = time.time() * 1000
    for v in p["voters"]:
        assert 0 < v["leo"] <= p["hw"] + 10, v
        assert now_ms - 10_000 < v["fetch"] <= now_ms + 1000, v
    assert nodes == {i + 1: ("127.0.0.1", port) for i, port in enumerate(cluster.controller_ports)}
    # Followers name the same leader and epoch.
    for node in cluster.nodes:
        _, q, _ = describe_quorum_v2(node)
        assert (q["leader"], q["epoch"]) == (p["leader"], p["epoch"])
    # Any other partition: UNKNOWN_TOPIC_OR_PARTITION.
    assert describe_quorum_v2(leader, "__cluster_metadata", 1)[1]["error"] == 3
    assert describe_quorum_v2(leader, "other", 0)[1]["error"] == 3


def test_cluster_metrics_follow_isr_changes_and_the_controller(cluster_factory):
    import os
    import signal

    from test_metrics import metrics

    # Fencing takes long (30 s session); a paused follower leaves the ISR
    # through its leader after replica.lag.time.max.ms (1.5 s).
    cluster = cluster_factory(3, config={"broker.session.timeout.ms": 30000, "replica.lag.time.max.ms": 1500})
    topic = unique_topic("cm")
    create_topic(cluster.bootstrap, topic, partitions=1, config={"min.insync.replicas": "3"})
    ids = [1, 2, 3]
    wait_until(lambda: (s := topic_state(cluster.nodes[0], topic)) and s[0][2] == ids, 20, 0.2, "full ISR")
    leader_id = topic_state(cluster.nodes[0], topic)[0][0]
    leader = next(n for n in cluster.nodes if n.node_id == leader_id)
    follower = next(n for n in cluster.nodes if n.node_id != leader_id)
    # Exactly one active controller; it reports no offline partition; all
    # nodes agree on the quorum leader.
    scraped = [metrics(n) for n in cluster.nodes]
    assert sum(m.value("fjord_controller_active") for m in scraped) == 1
    active = next(m for m in scraped if m.value("fjord_controller_active") == 1)
    assert active.value("fjord_offline_partitions") == 0
    assert len({m.value("fjord_quorum_leader") for m in scraped}) == 1
    before = metrics(leader)
    assert before.value("fjord_under_replicated_partitions") == 0
    assert before.value("fjord_under_min_isr_partitions") == 0
    shrinks0 = before.value("fjord_isr_shrinks_total")
    expands0 = before.value("fjord_isr_expands_total")
    os.kill(follower.proc.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: metrics(leader).value("fjord_under_replicated_partitions") == 1, 20, 0.3,
                   "the leader counts the partition under-replicated")
        m = metrics(leader)
        assert m.value("fjord_under_min_isr_partitions") == 1
        assert m.value("fjord_isr_shrinks_total") == shrinks0 + 1
        assert m.value('kafka_topic_partition_leader', topic=topic, partition=0) == leader_id
    finally:
        os.kill(follower.proc.pid, signal.SIGCONT)
    wait_until(lambda: metrics(leader).value("fjord_under_replicated_partitions") == 0, 30, 0.3,
               "back in sync")
    assert metrics(leader).value("fjord_isr_expands_total") == expands0 + 1


def test_cli_shows_the_quorum_and_elects_preferred_leaders(cluster_factory):
    from cli_runner import cli, cli_json

    cluster, topic, observer = three_partitions_in_sync(cluster_factory, "clielect")
    ids = [1, 2, 3]
    info = cli_json(observer, "cluster", "info")
    q = info["quorum"]
    assert q["leader_id"] in ids and q["leader_epoch"] >= 1 and q["high_watermark"] > 0
    assert sorted(v["id"] for v in q["voters"]) == ids
    text = cli(observer, "cluster", "info").stdout
    assert f"Metadata quorum: leader {q['leader_id']}" in text
    # Nothing to elect yet.
    out = cli(observer, "cluster", "elect-leaders", "--all").stdout
    assert "No partition needed an election." in out
    observer = restart_leader_of_partition_0(cluster, topic, observer)
    rows = cli_json(observer, "cluster", "elect-leaders", "--topic", topic)
    by_part = {r["partition"]: r for r in rows}
    assert by_part[0]["elected"] is True, rows
    assert all(r["elected"] or r["result"] == "not needed" for r in rows), rows
    wait_until(lambda: all(leader == replicas[0] for leader, replicas, _ in topic_state(observer, topic).values()),
               10, 0.2, "every partition led by its preferred replica")
    # An unknown partition fails the command with Kafka's error name.
    cp = cli(observer, "cluster", "elect-leaders", "--topic", topic, "--partition", "9", check=False)
    assert cp.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in cp.stderr, (cp.stdout, cp.stderr)
