"""The new consumer group protocol (KIP-848, group.protocol=consumer) with
confluent-kafka against the real broker: ConsumerGroupHeartbeat with
server-side assignment, ConsumerGroupDescribe, member-epoch offset commits.

Consumers run in this process and are polled round-robin; every wait has a
deadline. The rebalance tests run the broker with a 1 s heartbeat interval
(`group.consumer.heartbeat.interval.ms`; Kafka's default of 5 s makes each
hand-over take up to two intervals); the single-consumer test keeps the
defaults and prints the time from subscribe() to the first record.
"""

from __future__ import annotations

import time
import uuid

import pytest

import kafka_wire as kw
from helpers import ck_admin, ck_create_topic, ck_produce

pytestmark = pytest.mark.groups

FAST = {"group.consumer.heartbeat.interval.ms": 1000}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def consumer(bootstrap: str, group: str, **conf):
    from confluent_kafka import Consumer

    base = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "auto.offset.reset": "earliest",
        "socket.timeout.ms": 10000,
    }
    base.update(conf)
    return Consumer(base)


def produce_keyed(bootstrap: str, topic: str, partitions: int, per_partition: int, tag: str = "v") -> set[bytes]:
    msgs = [{"value": f"{tag}-{p}-{i}".encode(), "partition": p}
            for p in range(partitions) for i in range(per_partition)]
    ck_produce(bootstrap, topic, msgs)
    return {m["value"] for m in msgs}


class Poller:
    """Polls consumers round-robin, remembering what each received."""

    def __init__(self, consumers: dict):
        self.consumers = dict(consumers)
        self.got: dict[str, list[bytes]] = {n: [] for n in consumers}
        self.errors: list[str] = []

    def poll_round(self, timeout: float = 0.1) -> None:
        for name, c in self.consumers.items():
            while True:
                m = c.poll(timeout)
                if m is None:
                    break
                if m.error():
                    self.errors.append(f"{name}: {m.error()}")
                    break
                self.got[name].append(m.value())

    def until(self, predicate, timeout: float, desc: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll_round()
            if predicate():
                return
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {desc}; "
                    f"assignments={self.assignments()} errors={self.errors[-5:]}", pytrace=False)

    def assignments(self) -> dict[str, list[tuple[str, int]]]:
        return {n: sorted((tp.topic, tp.partition) for tp in c.assignment())
                for n, c in self.consumers.items()}

    def all_values(self) -> set[bytes]:
        return {v for vs in self.got.values() for v in vs}


def test_apis_are_advertised(shared_broker):
    r = kw.api_versions(shared_broker.bootstrap)
    assert r.apis.get(68) == (0, 1), "ConsumerGroupHeartbeat v0-1"
    assert r.apis.get(69) == (0, 0), "ConsumerGroupDescribe v0"


def test_single_consumer_gets_every_record(shared_broker, capsys):
    bs = shared_broker.bootstrap
    topic, group = uid("kip848-one"), uid("g")
    ck_create_topic(bs, topic, partitions=3)
    want = produce_keyed(bs, topic, 3, 20)
    c = consumer(bs, group)
    try:
        start = time.monotonic()
        c.subscribe([topic])
        first = None
        got: list[bytes] = []
        deadline = start + 30
        while time.monotonic() < deadline and len(got) < len(want):
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            if first is None:
                first = time.monotonic() - start
            got.append(m.value())
        assert set(got) == want and len(got) == len(want)
        assert sorted(tp.partition for tp in c.assignment()) == [0, 1, 2]
    finally:
        c.close()
    with capsys.disabled():
        print(f"\n[kip848] subscribe -> first record: {first * 1000:.0f} ms "
              f"(group.consumer.heartbeat.interval.ms=5000, default)")


def test_three_consumers_share_and_a_leaver_hands_over(broker_factory, capsys):
    b = broker_factory(config=FAST)
    bs = b.bootstrap
    topic, group = uid("kip848-three"), uid("g")
    ck_create_topic(bs, topic, partitions=3)
    want = produce_keyed(bs, topic, 3, 30, "a")
    cs = {n: consumer(bs, group) for n in ("c1", "c2", "c3")}
    p = Poller(cs)
    try:
        start = time.monotonic()
        for c in cs.values():
            c.subscribe([topic])

        def one_each():
            a = p.assignments()
            owned = [tp for tps in a.values() for tp in tps]
            return all(len(tps) == 1 for tps in a.values()) and len(set(owned)) == 3

        p.until(one_each, 60, "one partition per consumer")
        converged = time.monotonic() - start
        p.until(lambda: want <= p.all_values(), 30, "every record of the first batch")
        # c1 leaves; its partition moves to one of the others.
        gone = p.assignments()["c1"][0]
        cs["c1"].close()
        del p.consumers["c1"]
        more = produce_keyed(bs, topic, 3, 30, "b")

        def covered():
            a = p.assignments()
            owned = [tp for tps in a.values() for tp in tps]
            return sorted(owned) == [(topic, 0), (topic, 1), (topic, 2)]

        p.until(covered, 60, f"{gone} to move to a remaining consumer")
        p.until(lambda: (want | more) <= p.all_values(), 30, "every record after the hand-over")
        assert not any("FATAL" in e for e in p.errors), p.errors
    finally:
        for c in p.consumers.values():
            c.close()
    with capsys.disabled():
        print(f"\n[kip848] 3 consumers to one partition each: {converged:.1f} s "
              f"(heartbeat interval 1 s)")


def test_committed_offsets_resume_after_consumer_and_broker_restart(broker):
    bs = broker.bootstrap
    topic, group = uid("kip848-resume"), uid("g")
    ck_create_topic(bs, topic, partitions=2)
    first = produce_keyed(bs, topic, 2, 10, "first")
    c = consumer(bs, group, **{"enable.auto.commit": False})
    got: list[bytes] = []
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(got) < len(first):
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m.value())
        assert set(got) == first
        # OffsetCommit v9 with the member epoch.
        c.commit(asynchronous=False)
    finally:
        c.close()

    def resume(tag: str) -> list[bytes]:
        new = produce_keyed(bs, topic, 2, 5, tag)
        c2 = consumer(bs, group, **{"enable.auto.commit": False})
        seen: list[bytes] = []
        try:
            c2.subscribe([topic])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(seen) < len(new):
                m = c2.poll(0.2)
                if m is not None and not m.error():
                    seen.append(m.value())
            # A moment more: nothing older may show up.
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                m = c2.poll(0.1)
                if m is not None and not m.error():
                    seen.append(m.value())
            c2.commit(asynchronous=False)
        finally:
            c2.close()
        assert set(seen) == new, f"expected only the new records, got {sorted(seen)[:5]}..."
        return seen

    resume("second")       # the consumer restarted
    broker.restart()       # committed offsets come back from __consumer_offsets
    resume("third")


def test_describe_and_list_consumer_groups(shared_broker):
    from confluent_kafka import ConsumerGroupType

    bs = shared_broker.bootstrap
    topic, group = uid("kip848-describe"), uid("g")
    ck_create_topic(bs, topic, partitions=2)
    produce_keyed(bs, topic, 2, 1)
    c = consumer(bs, group, **{"client.id": "describe-me"})
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(c.assignment()) < 2:
            c.poll(0.2)
        assert len(c.assignment()) == 2
        admin = ck_admin(bs)
        d = admin.describe_consumer_groups([group])[group].result(15)
        assert d.group_id == group
        assert str(d.state).endswith("STABLE"), d.state
        assert d.type == ConsumerGroupType.CONSUMER
        assert len(d.members) == 1
        m = d.members[0]
        assert m.client_id == "describe-me"
        assert sorted(tp.partition for tp in m.assignment.topic_partitions) == [0, 1]
        listed = admin.list_consumer_groups().result(15)
        mine = [g for g in listed.valid if g.group_id == group]
        assert len(mine) == 1 and mine[0].type == ConsumerGroupType.CONSUMER
    finally:
        c.close()


def wait_assigned(c, topic: str, timeout: float = 30) -> None:
    """Subscribes `c` to `topic` and polls until it owns a partition."""
    c.subscribe([topic])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not c.assignment():
        c.poll(0.2)
    assert c.assignment()


def classic_join_v1(bootstrap: str, group: str, metadata: bytes = b"") -> int:
    """A raw classic JoinGroup v1 (protocol "range" with `metadata` as its
    subscription); returns its error code."""
    body = (kw.string(group) + kw.int32(10000) + kw.int32(10000) + kw.string("") + kw.string("consumer")
            + kw.int32(1) + kw.string("range") + kw.int32(len(metadata)) + metadata)
    payload = kw.roundtrip(bootstrap, kw.encode_request(11, 1, 7, body))
    r = kw.Reader(payload)
    assert r.int32() == 7
    return r.int16()


def test_a_classic_join_without_a_readable_subscription_is_refused(shared_broker):
    """A consumer group takes classic members (test_group_migration.py),
    but only with a consumer protocol subscription it can read."""
    bs = shared_broker.bootstrap
    topic, group = uid("kip848-mixed"), uid("g")
    ck_create_topic(bs, topic, partitions=1)
    c = consumer(bs, group)
    try:
        wait_assigned(c, topic)
        assert classic_join_v1(bs, group) == 23  # INCONSISTENT_GROUP_PROTOCOL
    finally:
        c.close()


def test_regex_subscription(shared_broker):
    bs = shared_broker.bootstrap
    prefix = uid("rx")
    topics = [f"{prefix}-a", f"{prefix}-b"]
    want = set()
    for t in topics:
        ck_create_topic(bs, t, partitions=1)
        want |= produce_keyed(bs, t, 1, 5, t)
    c = consumer(bs, uid("g"))
    got: set[bytes] = set()
    try:
        c.subscribe([f"^{prefix}-.*"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and got != want:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.add(m.value())
        assert got == want
    finally:
        c.close()
