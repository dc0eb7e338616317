"""Coordinators in a cluster (issue 12): three real `fjord broker` processes in
cluster mode. `__consumer_offsets` and `__transaction_state` are replicated
topics of the metadata image; a group's or transactional id's coordinator is
the leader of its partition (Kafka's `abs(hashCode) % partitions`).

Covers: producer ids handed out by different brokers are distinct (raw
InitProducerId on each broker); FindCoordinator names the leader of the
group's `__consumer_offsets` partition and only that broker serves the
group (raw Heartbeat: NOT_COORDINATOR from the others); kill -9 of a group's coordinator: the
consumer re-finds the new one, committed offsets are intact and never go
backwards, consumption continues; a transactional producer commits
transactions over partitions led by all three brokers (markers sent with
WriteTxnMarkers) and read_committed sees exactly the committed records; kill
-9 of the transaction coordinator between transactions: the next transaction
commits through the new coordinator and nothing is half-committed.
"""

from __future__ import annotations

import time

import pytest

import kafka_wire as kw
from helpers import ck_admin, ck_produce, unique_topic, wait_until

SESSION_TIMEOUT_MS = 3000


@pytest.fixture
def cluster(cluster_factory):
    return cluster_factory(3, config={"broker.session.timeout.ms": SESSION_TIMEOUT_MS,
                                      "replica.lag.time.max.ms": 5000})


def java_hash(s: str) -> int:
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(key: str, partitions: int) -> int:
    h = java_hash(key)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def internal_partition(node, topic: str, key: str) -> int:
    """The partition of internal `topic` that `key` belongs to."""
    md = ck_admin(node.bootstrap).list_topics(topic, timeout=5)
    return partition_for(key, len(md.topics[topic].partitions))


def create_topic(bootstrap: str, topic: str, partitions: int, rf: int = 3) -> None:
    from confluent_kafka.admin import NewTopic

    admin = ck_admin(bootstrap)
    fs = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=rf)], request_timeout=20)
    fs[topic].result(20)


def leader_of(node, topic: str, partition: int) -> int:
    """The leader of a partition as `node`'s Metadata says (-1 unknown)."""
    md = ck_admin(node.bootstrap).list_topics(topic, timeout=5)
    t = md.topics.get(topic)
    if t is None or partition not in t.partitions:
        return -1
    return t.partitions[partition].leader


def leaders(node, topic: str) -> dict[int, int]:
    md = ck_admin(node.bootstrap).list_topics(topic, timeout=5)
    t = md.topics.get(topic)
    return {} if t is None else {p: m.leader for p, m in t.partitions.items()}


def node_by_id(cluster, node_id: int):
    return next(n for n in cluster.nodes if n.node_id == node_id)


def tp(topic: str, partition: int):
    from confluent_kafka import TopicPartition

    return TopicPartition(topic, partition)


def test_producer_ids_handed_out_by_different_brokers_are_distinct(cluster):
    seen: list[int] = []
    for node in cluster.nodes:
        for i in range(5):
            payload = kw.roundtrip(node.bootstrap, kw.init_producer_id_request_v0(correlation_id=i + 1))
            assert payload is not None, node.log_tail(30)
            _, err, pid, epoch = kw.parse_init_producer_id_response_v0(payload)
            assert err == 0 and pid >= 0 and epoch == 0, (node.name, err)
            seen.append(pid)
    assert len(set(seen)) == len(seen), seen
    # Each broker took its own block of 1000 from the quorum.
    blocks = {pid // 1000 for pid in seen}
    assert len(blocks) == 3, seen


def consume_until(consumer, want: int, timeout: float = 60.0) -> list:
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            got.append(m)
    return got


def test_group_coordinator_is_the_partition_leader_and_fails_over(cluster):
    from confluent_kafka import Consumer

    topic = unique_topic("cg")
    create_topic(cluster.nodes[0].bootstrap, topic, 3)
    first = [{"value": f"a{i}".encode(), "partition": i % 3} for i in range(30)]
    assert all(r.err is None for r in ck_produce(cluster.bootstrap, topic, first, conf={"acks": "all"}))
    group = unique_topic("grp")
    conf = {"bootstrap.servers": cluster.bootstrap, "group.id": group,
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "session.timeout.ms": 6000, "socket.timeout.ms": 10000}
    c = Consumer(conf)
    try:
        c.subscribe([topic])
        got = consume_until(c, 15)
        assert len(got) >= 15
        c.commit(asynchronous=False)
        committed1 = {p.partition: max(p.offset, 0) for p in c.committed([tp(topic, p) for p in range(3)], timeout=10)}
        assert sum(committed1.values()) == len(got)

        # FindCoordinator names the leader of the group's __consumer_offsets partition.
        index = internal_partition(cluster.nodes[0], "__consumer_offsets", group)
        leader = leader_of(cluster.nodes[0], "__consumer_offsets", index)
        assert leader in (1, 2, 3)
        admin = ck_admin(cluster.bootstrap)  # kept alive until the future resolves
        desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(15)
        assert desc.coordinator.id == leader

        # kill -9 the coordinator: a new leader of that partition loads the group.
        node_by_id(cluster, leader).kill9()
        survivor = next(n for n in cluster.nodes if n.node_id != leader)
        new_leader = wait_until(
            lambda: (l := leader_of(survivor, "__consumer_offsets", index)) not in (-1, leader) and l,
            30, 0.3, "a new leader of the group's offsets partition")
        second = [{"value": f"b{i}".encode(), "partition": i % 3} for i in range(30)]
        assert all(r.err is None for r in ck_produce(survivor.bootstrap, topic, second, conf={"acks": "all"}))
        more = consume_until(c, 60 - len(got), timeout=90)
        values = sorted(m.value() for m in got + more)
        assert set(values) == {m["value"] for m in first + second}, (len(got), len(more))
        c.commit(asynchronous=False)
        committed2 = {p.partition: max(p.offset, 0) for p in c.committed([tp(topic, p) for p in range(3)], timeout=10)}
        assert all(committed2[p] >= committed1[p] for p in range(3)), (committed1, committed2)
        assert sum(committed2.values()) == 60
        admin = ck_admin(survivor.bootstrap)
        desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(15)
        assert desc.coordinator.id == new_leader
    finally:
        c.close()
    # A new member of the group starts at the committed offsets: nothing left.
    c2 = Consumer(conf)
    try:
        c2.subscribe([topic])
        assert consume_until(c2, 1, timeout=8) == []
        committed3 = {p.partition: max(p.offset, 0) for p in c2.committed([tp(topic, p) for p in range(3)], timeout=10)}
        assert committed3 == committed2
    finally:
        c2.close()


def txn_producer(bootstrap: str, txn_id: str):
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                     "transaction.timeout.ms": 60000, "socket.timeout.ms": 10000,
                     "message.timeout.ms": 60000})


def read_committed(bootstrap: str, topic: str, partitions: int, timeout: float = 20.0) -> list[bytes]:
    """Everything a read_committed consumer sees in the topic (until it is idle)."""
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("rc"),
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "socket.timeout.ms": 10000})
    got = []
    try:
        c.assign([tp(topic, p) for p in range(partitions)])
        deadline = time.monotonic() + timeout
        idle_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - idle_since < 5:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
                idle_since = time.monotonic()
    finally:
        c.close()
    return got


def send_txn(p, topic: str, tag: str, partitions: int, commit: bool) -> list[bytes]:
    p.begin_transaction()
    values = [f"{tag}-{i}".encode() for i in range(3 * partitions)]
    for i, v in enumerate(values):
        p.produce(topic, v, partition=i % partitions)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)
    return values


def test_transactions_over_partitions_led_by_every_broker(cluster):
    topic = unique_topic("txn")
    create_topic(cluster.nodes[0].bootstrap, topic, 3)
    wait_until(lambda: set(leaders(cluster.nodes[0], topic).values()) == {1, 2, 3}, 20, 0.3,
               "partitions led by all three brokers")
    p = txn_producer(cluster.bootstrap, unique_topic("tid"))
    p.init_transactions(30)
    committed = send_txn(p, topic, "c1", 3, True)
    aborted = send_txn(p, topic, "a1", 3, False)
    committed += send_txn(p, topic, "c2", 3, True)
    p.flush(10)
    seen = read_committed(cluster.bootstrap, topic, 3)
    assert sorted(seen) == sorted(committed), (len(seen), len(committed))
    assert not set(seen) & set(aborted)


def test_transaction_coordinator_killed_between_transactions(cluster):
    topic = unique_topic("txnkill")
    create_topic(cluster.nodes[0].bootstrap, topic, 3)
    txn_id = unique_topic("tid")
    p = txn_producer(cluster.bootstrap, txn_id)
    p.init_transactions(30)
    committed = send_txn(p, topic, "before", 3, True)
    index = internal_partition(cluster.nodes[0], "__transaction_state", txn_id)
    coordinator = leader_of(cluster.nodes[0], "__transaction_state", index)
    assert coordinator in (1, 2, 3)
    node_by_id(cluster, coordinator).kill9()
    survivor = next(n for n in cluster.nodes if n.node_id != coordinator)
    wait_until(lambda: leader_of(survivor, "__transaction_state", index) not in (-1, coordinator),
               30, 0.3, "a new transaction coordinator")
    # The same producer goes on: librdkafka re-finds the coordinator.
    committed += send_txn(p, topic, "after", 3, True)
    aborted = send_txn(p, topic, "aborted", 3, False)
    p.flush(10)
    seen = read_committed(survivor.bootstrap, topic, 3, timeout=40)
    assert sorted(seen) == sorted(committed), (len(seen), len(committed))
    assert not set(seen) & set(aborted)


def test_only_the_coordinator_serves_a_group(cluster):
    """Heartbeat (raw v0) for a group: NOT_COORDINATOR from the two brokers that do
    not lead its __consumer_offsets partition, UNKNOWN_MEMBER_ID (the group is
    served) from the one that does."""
    group = unique_topic("grp")
    admin = ck_admin(cluster.bootstrap)  # FindCoordinator creates __consumer_offsets
    admin.describe_consumer_groups([group], request_timeout=10)[group].result(15)
    index = internal_partition(cluster.nodes[0], "__consumer_offsets", group)
    leader = wait_until(lambda: (l := leader_of(cluster.nodes[0], "__consumer_offsets", index)) > 0 and l,
                        10, 0.2, "a leader of the group's partition")
    answers = {}
    for node in cluster.nodes:
        body = kw.string(group) + kw.int32(1) + kw.string("m-1")
        payload = kw.roundtrip(node.bootstrap, kw.encode_request(12, 0, 5, body))
        assert payload is not None, node.log_tail(20)
        r = kw.Reader(payload)
        assert r.int32() == 5
        answers[node.node_id] = r.int16()
    assert answers == {n.node_id: (25 if n.node_id == leader else 16) for n in cluster.nodes}, answers
