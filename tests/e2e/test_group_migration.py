"""Classic and consumer (KIP-848) members in one group, and the online
upgrade and downgrade between the group types (Kafka 4.0's default
`group.consumer.migration.policy=bidirectional`), with unmodified clients:
confluent-kafka consumers of both protocols and kafka-python (classic only).

Consumers run in this process and are polled round-robin; every wait has a
deadline. The broker runs with a 1 s consumer heartbeat interval so that
hand-overs take seconds.
"""

from __future__ import annotations

import time

import pytest

import kafka_wire as kw
from helpers import ck_admin, ck_create_topic, kp_consumer
from test_consumer_protocol import (FAST, Poller, classic_join_v1, consumer, produce_keyed, uid,
                                    wait_assigned)

pytestmark = pytest.mark.groups


def classic(bootstrap: str, group: str, **conf):
    """A confluent-kafka consumer of the classic protocol."""
    return consumer(bootstrap, group, **{"group.protocol": "classic", "session.timeout.ms": 10000,
                                         "heartbeat.interval.ms": 1000, **conf})


def group_type(bootstrap: str, group: str) -> str | None:
    admin = ck_admin(bootstrap)
    listed = admin.list_consumer_groups(request_timeout=10).result(timeout=15)
    for g in listed.valid:
        if g.group_id == group:
            return g.type.name.lower()
    return None


def disjoint_cover(p: Poller, topic: str, partitions: int, members: int):
    def check():
        a = p.assignments()
        owned = [tp for tps in a.values() for tp in tps]
        return (len(owned) == len(set(owned)) == partitions
                and sum(1 for tps in a.values() if tps) == members)
    return check


def test_classic_and_consumer_members_share_a_group_then_downgrade(broker_factory, capsys):
    b = broker_factory(config=FAST)
    bs = b.bootstrap
    topic, group = uid("mixed"), uid("g")
    ck_create_topic(bs, topic, partitions=4)
    want = produce_keyed(bs, topic, 4, 25, "a")
    cs = {"new": consumer(bs, group), "old": classic(bs, group)}
    p = Poller(cs)
    try:
        start = time.monotonic()
        cs["new"].subscribe([topic])
        p.until(lambda: len(p.assignments()["new"]) == 4, 30, "the consumer-protocol member to own all")
        cs["old"].subscribe([topic])
        p.until(disjoint_cover(p, topic, 4, 2), 60, "both members to own partitions, none twice")
        shared = time.monotonic() - start
        p.until(lambda: want <= p.all_values(), 30, "every record")
        assert group_type(bs, group) == "consumer"
        # Both members are described, whatever protocol they speak.
        admin = ck_admin(bs)
        desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
        assert len(desc.members) == 2, desc
        # The consumer-protocol member leaves: the group becomes classic
        # again and the classic member gets everything.
        cs["new"].close()
        del p.consumers["new"]
        more = produce_keyed(bs, topic, 4, 10, "b")
        p.until(lambda: len(p.assignments()["old"]) == 4, 60, "the classic member to own all after the downgrade")
        p.until(lambda: more <= p.all_values(), 30, "every record after the downgrade")
        assert group_type(bs, group) == "classic"
        assert not any("FATAL" in e for e in p.errors), p.errors
    finally:
        for c in p.consumers.values():
            c.close()
    log = b.log_text()
    assert "classic member joined the consumer group" in log
    assert "consumer group downgraded to a classic group" in log
    with capsys.disabled():
        print(f"\n[migration] consumer + classic member sharing 4 partitions after {shared:.1f} s")


def test_a_classic_group_upgrades_when_a_consumer_member_joins(broker_factory):
    b = broker_factory(config=FAST)
    bs = b.bootstrap
    topic, group = uid("upgrade"), uid("g")
    ck_create_topic(bs, topic, partitions=4)
    want = produce_keyed(bs, topic, 4, 25, "a")
    cs = {"old": classic(bs, group)}
    p = Poller(cs)
    try:
        cs["old"].subscribe([topic])
        p.until(lambda: len(p.assignments()["old"]) == 4, 30, "the classic member to own all")
        assert group_type(bs, group) == "classic"
        cs["new"] = consumer(bs, group)
        p.consumers["new"] = cs["new"]
        p.got["new"] = []
        cs["new"].subscribe([topic])
        p.until(disjoint_cover(p, topic, 4, 2), 60, "both members to own partitions after the upgrade")
        assert group_type(bs, group) == "consumer"
        p.until(lambda: want <= p.all_values(), 30, "every record")
        assert not any("FATAL" in e for e in p.errors), p.errors
    finally:
        for c in p.consumers.values():
            c.close()
    assert "classic group upgraded to a consumer group" in b.log_text()


def test_kafka_python_joins_a_consumer_group(broker_factory):
    b = broker_factory(config=FAST)
    bs = b.bootstrap
    topic, group = uid("kp-mixed"), uid("g")
    ck_create_topic(bs, topic, partitions=2)
    want = produce_keyed(bs, topic, 2, 20, "a")
    new = consumer(bs, group)
    p = Poller({"new": new})
    kp = kp_consumer(bs, group_id=group, heartbeat_interval_ms=1000, session_timeout_ms=10000)
    got_kp: list[bytes] = []
    try:
        new.subscribe([topic])
        p.until(lambda: len(p.assignments()["new"]) == 2, 30, "the consumer-protocol member to own both")
        kp.subscribe([topic])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for recs in kp.poll(timeout_ms=200).values():
                got_kp.extend(r.value for r in recs)
            p.poll_round()
            mine = {(tp.topic, tp.partition) for tp in kp.assignment()}
            theirs = set(p.assignments()["new"])
            if len(mine) == 1 and len(theirs) == 1 and not (mine & theirs) and want <= (set(got_kp) | p.all_values()):
                break
        else:
            pytest.fail(f"no split: kafka-python {kp.assignment()}, confluent {p.assignments()}", pytrace=False)
        assert group_type(bs, group) == "consumer"
    finally:
        kp.close()
        new.close()


def test_a_disabled_policy_refuses_classic_members(broker_factory):
    b = broker_factory(config={**FAST, "group.consumer.migration.policy": "disabled"})
    bs = b.bootstrap
    topic, group = uid("disabled"), uid("g")
    ck_create_topic(bs, topic, partitions=1)
    c = consumer(bs, group)
    try:
        wait_assigned(c, topic)
        # A readable v0 subscription: refused for the policy, not the bytes.
        sub = kw.int16(0) + kw.int32(1) + kw.string(topic) + kw.int32(-1)
        assert classic_join_v1(bs, group, sub) == 23  # INCONSISTENT_GROUP_PROTOCOL
    finally:
        c.close()
