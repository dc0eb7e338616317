"""Cluster mode (issue 12, step 2): three real `fjord broker` processes on
127.0.0.1 whose metadata flows through the Raft quorum (no data replication
yet, so every topic here has replication factor 1).

Covers: every node lists all brokers; partitions of a new topic are led by
all three; confluent-kafka produces to every partition and reads it back,
following leaders across brokers; a Produce sent to a non-leader gets
NOT_LEADER_OR_FOLLOWER; a kill -9'd broker is fenced within the session
timeout, its partitions go offline (leader -1) while the others keep
serving, and it serves again after a restart; a node started with another
cluster id than its stored one refuses to start.
"""

from __future__ import annotations

import time

import pytest

import kafka_wire as kw
from conftest import BrokerError
from helpers import ck_admin, ck_consume, ck_produce, unique_topic, wait_until
from test_cluster_coordinators import partition_for

# Short session timeout so the fencing test stays quick (Kafka's default is 9000).
SESSION_TIMEOUT_MS = 3000
NOT_LEADER_OR_FOLLOWER = 6


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import NewTopic

    admin = ck_admin(bootstrap)
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                             request_timeout=20)
    fs[topic].result(20)


def partition_leaders(node, topic: str) -> dict[int, int]:
    """{partition: leader id} as `node`'s Metadata reports it."""
    md = ck_admin(node.bootstrap).list_topics(topic, timeout=5)
    t = md.topics.get(topic)
    if t is None or t.error is not None and not t.partitions:
        return {}
    return {p: meta.leader for p, meta in t.partitions.items()}


def produce_v10(node, topic: str, partition: int, value: bytes):
    """Produce v10 (flexible) with raw frames; returns (error code, current_leader
    tag as (id, epoch) or None, {node id: port} from the node_endpoints tag)."""
    batch = kw.encode_record_batch([value])
    body = (kw.compact_string(None) + kw.int16(-1) + kw.int32(10000)
            + kw.uvarint(2) + kw.compact_string(topic)
            + kw.uvarint(2) + kw.int32(partition) + kw.uvarint(len(batch) + 1) + batch + kw.uvarint(0)
            + kw.uvarint(0) + kw.uvarint(0))
    payload = kw.roundtrip(node.bootstrap, kw.encode_request(0, 10, 7, body, flexible=True))
    assert payload is not None, f"no answer from {node.name}"
    r = kw.Reader(payload)
    assert r.int32() == 7
    r.tagged_fields()
    assert r.uvarint() == 2 and r.compact_string() == topic and r.uvarint() == 2
    assert r.int32() == partition
    error = r.int16()
    r.int64(), r.int64(), r.int64()
    for _ in range(r.uvarint() - 1):  # record errors
        r.int32(), r.compact_string(), r.tagged_fields()
    r.compact_string()
    leader = None
    tags = r.tagged_fields()
    if 0 in tags:
        t = kw.Reader(tags[0])
        leader = (t.int32(), t.int32())
    r.tagged_fields()  # topic
    r.int32()  # throttle
    endpoints = {}
    tags = r.tagged_fields()
    if 0 in tags:
        t = kw.Reader(tags[0])
        for _ in range(t.uvarint() - 1):
            node_id, _host, port = t.int32(), t.compact_string(), t.int32()
            t.compact_string(), t.tagged_fields()
            endpoints[node_id] = port
    return error, leader, endpoints


def produce_raw(node, topic: str, partition: int, value: bytes) -> int:
    """Produce one record with raw frames to `node`; returns the error code."""
    batch = kw.encode_record_batch([value])
    payload = kw.roundtrip(node.bootstrap, kw.produce_request_v3(topic, partition, batch, acks=-1))
    assert payload is not None, f"no answer from {node.name}"
    _, parts = kw.parse_produce_response_v3(payload)
    return parts[(topic, partition)][0]


@pytest.fixture
def cluster(cluster_factory):
    return cluster_factory(3, config={"broker.session.timeout.ms": SESSION_TIMEOUT_MS})


def test_every_broker_lists_all_three(cluster):
    for node in cluster.nodes:
        assert cluster.broker_ids(node) == [1, 2, 3], node.name
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": cluster.nodes[1].bootstrap})
    described = admin.describe_cluster(request_timeout=10).result(10)
    assert sorted(n.id for n in described.nodes) == [1, 2, 3]
    assert described.cluster_id == cluster.cluster_id
    assert described.controller is not None and described.controller.id in (1, 2, 3)
    ports = {n.id: n.port for n in described.nodes}
    assert ports == {b.node_id: b.kafka_port for b in cluster.nodes}


def test_topic_leaders_spread_and_clients_follow_them(cluster):
    topic = unique_topic("spread")
    create_topic(cluster.nodes[1].bootstrap, topic, 6)
    # Every broker has applied the topic and agrees on its leaders.
    leaders = wait_until(lambda: partition_leaders(cluster.nodes[0], topic), 10, 0.2, "leaders")
    assert sorted(leaders) == list(range(6))
    assert set(leaders.values()) == {1, 2, 3}, leaders
    for node in cluster.nodes[1:]:
        wait_until(lambda n=node: partition_leaders(n, topic) == leaders, 10, 0.2,
                   f"{node.name} agrees on the leaders")
    # confluent-kafka bootstrapped from one node follows leaders to all three.
    messages = [{"value": f"v{p}-{i}".encode(), "partition": p} for p in range(6) for i in range(5)]
    reports = ck_produce(cluster.nodes[0].bootstrap, topic, messages)
    assert all(r.err is None for r in reports)
    assert {r.partition for r in reports} == set(range(6))
    consumed = ck_consume(cluster.nodes[2].bootstrap, topic, 30)
    got = sorted(m.value() for m in consumed.messages)
    assert got == sorted(m["value"] for m in messages)
    for m in consumed.messages:
        assert m.value().startswith(f"v{m.partition()}-".encode())


def test_produce_to_a_non_leader_gets_not_leader_or_follower(cluster):
    topic = unique_topic("notleader")
    create_topic(cluster.nodes[0].bootstrap, topic, 3)
    leaders = wait_until(lambda: partition_leaders(cluster.nodes[0], topic), 10, 0.2, "leaders")
    by_id = {b.node_id: b for b in cluster.nodes}
    for partition, leader in leaders.items():
        other = next(b for b in cluster.nodes if b.node_id != leader)
        assert produce_raw(other, topic, partition, b"x") == NOT_LEADER_OR_FOLLOWER
        assert produce_raw(by_id[leader], topic, partition, b"y") == 0
        # KIP-951 (Produce v10+): the answer names the leader, its epoch and endpoint.
        error, hint, endpoints = produce_v10(other, topic, partition, b"z")
        assert error == NOT_LEADER_OR_FOLLOWER
        assert hint == (leader, 0)
        assert endpoints == {leader: by_id[leader].kafka_port}
        assert produce_v10(by_id[leader], topic, partition, b"w")[0] == 0


def test_killed_broker_is_fenced_then_serves_again_after_restart(cluster):
    topic = unique_topic("fence")
    create_topic(cluster.nodes[0].bootstrap, topic, 6)
    survivor = cluster.nodes[0]
    leaders = wait_until(lambda: partition_leaders(survivor, topic), 10, 0.2, "leaders")
    victim = cluster.nodes[2]
    victim_parts = sorted(p for p, l in leaders.items() if l == victim.node_id)
    live_parts = sorted(p for p, l in leaders.items() if l != victim.node_id)
    assert victim_parts and live_parts

    victim.kill9()
    killed = time.monotonic()
    cluster.wait_brokers([1, 2], timeout=SESSION_TIMEOUT_MS / 1000 + 10)
    fenced_after = time.monotonic() - killed
    print(f"broker {victim.node_id} dropped from Metadata {fenced_after:.2f} s after kill -9 "
          f"(broker.session.timeout.ms={SESSION_TIMEOUT_MS})")
    # Fenced after the session timeout (not before), within a few seconds of it.
    assert fenced_after >= SESSION_TIMEOUT_MS / 1000 - 0.5, fenced_after
    assert fenced_after <= SESSION_TIMEOUT_MS / 1000 + 5, fenced_after
    for node in cluster.nodes[:2]:
        now = wait_until(lambda n=node: partition_leaders(n, topic), 10, 0.2, "leaders")
        assert all(now[p] == -1 for p in victim_parts), now
        assert all(now[p] == leaders[p] for p in live_parts), now
    # The others keep serving their partitions.
    messages = [{"value": f"after-kill-{p}".encode(), "partition": p} for p in live_parts]
    reports = ck_produce(survivor.bootstrap, topic, messages)
    assert all(r.err is None for r in reports)

    victim.start(timeout=60)
    cluster.wait_brokers([1, 2, 3], timeout=30)
    wait_until(lambda: all(partition_leaders(survivor, topic).get(p) == victim.node_id
                           for p in victim_parts), 15, 0.2, "the restarted broker leads its partitions again")
    messages = [{"value": f"after-restart-{p}".encode(), "partition": p} for p in victim_parts]
    reports = ck_produce(survivor.bootstrap, topic, messages)
    assert all(r.err is None for r in reports)
    consumed = ck_consume(survivor.bootstrap, topic, len(live_parts) + len(victim_parts))
    assert sorted(m.value() for m in consumed.messages) == sorted(
        [f"after-kill-{p}".encode() for p in live_parts]
        + [f"after-restart-{p}".encode() for p in victim_parts])


def test_node_with_another_cluster_id_refuses_to_start(cluster_factory, broker_factory):
    solo = cluster_factory(1, cluster_id="cluster-a")
    node = solo.nodes[0]
    assert node.stop() == 0
    node.extra_args[node.extra_args.index("--cluster-id") + 1] = "cluster-b"
    with pytest.raises(BrokerError):
        node.start(timeout=20)
    log = node.log_text()
    assert "belongs to cluster cluster-a" in log and "cluster-b" in log, node.log_tail(20)
    assert node.exit_codes[-1] != 0


def test_consumer_group_is_coordinated_by_the_leader_of_its_offsets_partition(cluster):
    """Kafka's rule: the leader of partition abs(hash(group)) % partitions of
    __consumer_offsets coordinates the group (see test_cluster_coordinators.py)."""
    from confluent_kafka import Consumer

    topic = unique_topic("group")
    create_topic(cluster.nodes[2].bootstrap, topic, 3)
    messages = [{"value": f"g{i}".encode(), "partition": i % 3} for i in range(9)]
    assert all(r.err is None for r in ck_produce(cluster.nodes[2].bootstrap, topic, messages))
    group = unique_topic("grp")
    c = Consumer({"bootstrap.servers": cluster.nodes[2].bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000, "socket.timeout.ms": 10000})
    got = []
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 30
        while len(got) < 9 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
        assert sorted(got) == sorted(m["value"] for m in messages)
        c.commit(asynchronous=False)
        admin = ck_admin(cluster.nodes[1].bootstrap)  # kept alive until the future resolves
        desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(15)
        offsets = admin.list_topics("__consumer_offsets", timeout=5).topics["__consumer_offsets"]
        index = partition_for(group, len(offsets.partitions))
        assert desc.coordinator.id == offsets.partitions[index].leader
        committed = c.committed([kw_tp(topic, p) for p in range(3)], timeout=10)
        assert sorted(tp.offset for tp in committed) == [3, 3, 3]
    finally:
        c.close()


def kw_tp(topic: str, partition: int):
    from confluent_kafka import TopicPartition

    return TopicPartition(topic, partition)


def test_whole_cluster_restart_keeps_topics_and_data(cluster):
    topic = unique_topic("restart")
    create_topic(cluster.nodes[0].bootstrap, topic, 6)
    messages = [{"value": f"r{p}".encode(), "partition": p} for p in range(6)]
    assert all(r.err is None for r in ck_produce(cluster.nodes[0].bootstrap, topic, messages))
    leaders = partition_leaders(cluster.nodes[0], topic)
    for node in cluster.nodes:
        assert node.stop() == 0, node.log_tail(30)
    cluster.start()
    wait_until(lambda: partition_leaders(cluster.nodes[1], topic) == leaders, 20, 0.2,
               "the same leaders after the restart")
    consumed = ck_consume(cluster.nodes[1].bootstrap, topic, 6)
    assert sorted(m.value() for m in consumed.messages) == sorted(m["value"] for m in messages)
    more = [{"value": f"s{p}".encode(), "partition": p} for p in range(6)]
    assert all(r.err is None for r in ck_produce(cluster.nodes[2].bootstrap, topic, more))


def test_killing_the_active_controller_fences_it_under_the_next_one(cluster):
    from confluent_kafka.admin import AdminClient

    def controller(node) -> int:
        admin = AdminClient({"bootstrap.servers": node.bootstrap, "socket.timeout.ms": 5000})
        return admin.describe_cluster(request_timeout=5).result(10).controller.id

    first = wait_until(lambda: controller(cluster.nodes[0]) in (1, 2, 3) and controller(cluster.nodes[0]),
                       10, 0.2, "an active controller")
    victim = next(b for b in cluster.nodes if b.node_id == first)
    rest = [b for b in cluster.nodes if b is not victim]
    topic = unique_topic("ctl")
    create_topic(rest[0].bootstrap, topic, 6)
    victim.kill9()
    killed = time.monotonic()
    cluster.wait_brokers([b.node_id for b in rest], timeout=SESSION_TIMEOUT_MS / 1000 + 15)
    print(f"controller {first} dropped from Metadata {time.monotonic() - killed:.2f} s after kill -9")
    second = wait_until(lambda: controller(rest[0]) not in (first, -1) and controller(rest[0]), 10, 0.2,
                        "a new active controller")
    assert second in [b.node_id for b in rest]
    # Metadata changes still commit: a topic can be created through the new controller.
    create_topic(rest[1].bootstrap, unique_topic("ctl-after"), 2)


def test_delete_topic_through_any_broker_removes_it_everywhere(cluster):
    topic = unique_topic("del")
    create_topic(cluster.nodes[0].bootstrap, topic, 3)
    dirs = [b.data_dir / f"{topic}-{p}" for b in cluster.nodes for p in range(3)]
    wait_until(lambda: all(d.exists() for d in dirs), 10, 0.2, "partition directories on every node")
    admin = ck_admin(cluster.nodes[2].bootstrap)
    admin.delete_topics([topic], request_timeout=20)[topic].result(20)
    for node in cluster.nodes:
        wait_until(lambda n=node: topic not in ck_admin(n.bootstrap).list_topics(timeout=5).topics, 10, 0.2,
                   f"{node.name} no longer lists {topic}")
    wait_until(lambda: not any(d.exists() for d in dirs), 10, 0.2, "partition directories removed")
    # The name is free again.
    create_topic(cluster.nodes[1].bootstrap, topic, 2)
    wait_until(lambda: sorted(partition_leaders(cluster.nodes[0], topic)) == [0, 1], 10, 0.2, "re-created")


def test_a_single_node_directory_is_served_by_a_one_voter_quorum(broker_factory):
    """The in-place upgrade (test_cluster_upgrade.py has the 3-node one):
    the same directory started with a quorum of itself serves its topic."""
    from conftest import free_ports

    node = broker_factory(name="solo", node_id=1, schema_registry="off")
    topic = unique_topic("legacy")
    create_topic(node.bootstrap, topic, 1)
    assert all(r.err is None for r in ck_produce(node.bootstrap, topic, [b"kept"]))
    assert node.stop() == 0
    (port,) = free_ports(1)
    node.extra_args += ["--controller-quorum", f"1@127.0.0.1:{port}", "--cluster-id", "legacy-cluster"]
    node.start(timeout=30)
    wait_until(lambda: topic in ck_admin(node.bootstrap).list_topics(timeout=5).topics, 10, 0.2,
               "the migrated topic listed")
    assert ck_consume(node.bootstrap, topic, 1).values() == [b"kept"]
    assert "migrated the single-node data directory" in node.log_text()
