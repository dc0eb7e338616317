"""Kafka's `process.roles` in cluster mode (issue 12): broker-only nodes,
which observe the metadata quorum (openraft learners) without voting and
join a running cluster, and controller-only nodes, which run the quorum
and the active controller's duties but serve no Kafka client. Real
`fjord broker` processes on 127.0.0.1, driven by confluent-kafka, raw
frames and the `fjord` CLI.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from conftest import BrokerError, port_open
from helpers import ck_consume, ck_produce, unique_topic, wait_until
from test_cli import cli_json
from test_cluster_ops import create_topic, describe_quorum_v2, topic_state

SESSION_MS = 3000


def add_broker(cluster, broker_factory, node_id: int, config=None):
    """A broker-only node (`--roles broker`) of `cluster`, not started. It is
    given neither a controller listener (it takes its Kafka listener's host,
    any port) nor the cluster id (it learns it from the quorum)."""
    b = broker_factory(name=f"node{node_id}", node_id=node_id, config=config, start=False,
                       schema_registry="off")
    b.extra_args += ["--controller-quorum", cluster.voters, "--roles", "broker"]
    cluster.nodes.append(b)
    return b


def quorum_from(node):
    """(leader, voter ids, observer ids) as `node`'s DescribeQuorum says."""
    error, p, _ = describe_quorum_v2(node)
    assert error == 0 and p["error"] == 0, p
    return p["leader"], sorted(v["id"] for v in p["voters"]), sorted(o["id"] for o in p["observers"])


def led_by(node, topic: str, broker: int) -> list[int]:
    return [p for p, (leader, _, _) in topic_state(node, topic).items() if leader == broker]


def test_a_broker_only_node_joins_hosts_replicas_and_fails_over(cluster_factory, broker_factory):
    cluster = cluster_factory(3, config={"broker.session.timeout.ms": SESSION_MS})
    node4 = add_broker(cluster, broker_factory, 4, config={"broker.session.timeout.ms": SESSION_MS})
    t0 = time.monotonic()
    node4.start(60)
    cluster.wait_brokers([1, 2, 3, 4], 30)
    joined_in = time.monotonic() - t0
    first = cluster.nodes[0]
    # The quorum leader lists it as an observer, never as a voter.
    leader = wait_until(lambda: (q := quorum_from(first)) and q[0] in (1, 2, 3) and q[0], 10, 0.2, "a leader")
    lead = cluster.nodes[leader - 1]
    wait_until(lambda: quorum_from(lead)[1:] == ([1, 2, 3], [4]), 10, 0.2, "voters 1-3, observer 4")
    # It learned the cluster id from the quorum and shows in DescribeCluster.
    info = cli_json(node4, "cluster", "info")
    assert info["cluster_id"] == cluster.cluster_id
    assert sorted(b["node_id"] for b in info["brokers"]) == [1, 2, 3, 4]
    roles = {m["id"]: m["roles"] for m in info["quorum"]["voters"] + info["quorum"]["observers"]}
    assert roles == {1: "broker,controller", 2: "broker,controller", 3: "broker,controller", 4: "broker"}, info

    # Topics created afterwards place replicas (and preferred leaders) on it.
    topic = unique_topic("roles")
    create_topic(node4.bootstrap, topic, partitions=8, rf=3, config={"min.insync.replicas": "2"})
    wait_until(lambda: (s := topic_state(node4, topic)) and len(s) == 8
               and all(len(isr) == 3 for _, _, isr in s.values()), 20, 0.2, "full ISRs")
    state = topic_state(node4, topic)
    on4 = [p for p, (_, replicas, _) in state.items() if 4 in replicas]
    assert on4, state
    wait_until(lambda: led_by(node4, topic, 4), 20, 0.3, "broker 4 leading a partition")

    # Produce acks=all and consume, bootstrapping through the new broker only.
    values = [b"v%04d" % i for i in range(400)]
    ck_produce(node4.bootstrap, topic, [{"value": v, "partition": i % 8} for i, v in enumerate(values)],
               conf={"acks": "all", "enable.idempotence": True})
    got = ck_consume(node4.bootstrap, topic, len(values))
    assert sorted(m.value() for m in got.messages) == values

    # A reassignment moves a partition that was not on it onto it.
    other = unique_topic("roles-move")
    create_topic(first.bootstrap, other, partitions=1, rf=3)
    wait_until(lambda: (s := topic_state(first, other)) and len(s[0][2]) == 3, 20, 0.2, "full ISR")
    replicas = topic_state(first, other)[0][1]
    target = [4] + [r for r in replicas if r != 4][:2]
    ck_produce(first.bootstrap, other, [b"before-move-%d" % i for i in range(50)], conf={"acks": "all"})
    out = cli_json(first, "cluster", "reassign", "--topic", other, "--partition", "0",
                   "--replicas", ",".join(map(str, target)), "--wait", "--wait-timeout-ms", "30000", timeout=40)
    assert out["completed_ms"] is not None, out
    wait_until(lambda: (s := topic_state(node4, other)) and s[0][1] == target and sorted(s[0][2]) == sorted(target),
               20, 0.2, f"replicas and ISR {target}")
    assert len(ck_consume(node4.bootstrap, other, 50).messages) == 50

    # kill -9: the active controller fences it after the session timeout and
    # its partitions get new leaders from their ISRs.
    moved = led_by(first, topic, 4)
    assert moved
    node4.kill9()
    killed = time.monotonic()
    cluster.wait_brokers([1, 2, 3], 20, nodes=cluster.nodes[:3])
    fenced_in = time.monotonic() - killed
    wait_until(lambda: (s := topic_state(first, topic)) and all(s[p][0] in (1, 2, 3) for p in moved),
               10, 0.2, "new leaders for broker 4's partitions")
    assert fenced_in > SESSION_MS / 1000 * 0.8, fenced_in
    ck_produce(first.bootstrap, topic, [{"value": b"after-kill", "partition": p} for p in moved],
               conf={"acks": "all"})

    # Restarted (its quorum listener on another port): it rejoins, is
    # unfenced and catches up back into every ISR it belongs to.
    node4.start(60)
    cluster.wait_brokers([1, 2, 3, 4], 30)
    wait_until(lambda: (s := topic_state(first, topic)) and all(4 in s[p][2] for p in on4),
               30, 0.3, "broker 4 back in its ISRs")
    assert quorum_from(lead if lead.is_running() else first)[2] == [4]
    got = ck_consume(node4.bootstrap, topic, len(values) + len(moved))
    assert len(got.messages) == len(values) + len(moved)

    # Removed for good: stopped and unregistered, it leaves the observers.
    assert node4.stop() == 0
    assert cli_json(first, "cluster", "unregister", "--broker", "4") == {"unregistered": 4}
    cluster.nodes.remove(node4)
    cluster.wait_brokers([1, 2, 3], 10)
    wait_until(lambda: (q := quorum_from(first)) and q[0] in (1, 2, 3)
               and quorum_from(cluster.nodes[q[0] - 1])[2] == [], 10, 0.2, "no observer left")
    print(f"broker-only node joined in {joined_in:.2f} s; fenced {fenced_in:.2f} s after kill -9 "
          f"(session {SESSION_MS} ms); {len(moved)} partitions moved")


def test_controller_only_quorum_with_broker_only_nodes(cluster_factory, broker_factory):
    config = {"broker.session.timeout.ms": SESSION_MS}
    cluster = cluster_factory(3, config=config, start=False)
    controllers = list(cluster.nodes)
    for c in controllers:
        c.extra_args += ["--roles", "controller"]
        c.launch()
    brokers = [add_broker(cluster, broker_factory, 10 + i, config=config) for i in range(3)]
    for b in brokers:
        b.start(60)
    for c in controllers:
        wait_until(lambda: port_open(c.host, c.http_port), 20, 0.1, f"{c.name}'s HTTP port")
        # No Kafka listener on a controller-only node; /ready still answers.
        assert not port_open(c.host, c.kafka_port)
        with urllib.request.urlopen(f"{c.http_url}/ready", timeout=5) as r:
            assert r.status == 200
    ids = [b.node_id for b in brokers]
    cluster.wait_brokers(ids, 30, nodes=brokers)
    bootstrap = ",".join(b.bootstrap for b in brokers)
    leader, voters, observers = wait_until(lambda: (q := quorum_from(brokers[0])) and q[0] in (1, 2, 3) and q,
                                           10, 0.2, "a controller leading")
    assert voters == [1, 2, 3]
    # Clients are told a live broker as controller (they cannot reach one).
    info = cli_json(brokers[0], "cluster", "info")
    assert info["controller_id"] in ids, info
    roles = {m["id"]: m["roles"] for m in info["quorum"]["voters"] + info["quorum"]["observers"]}
    assert roles == {1: "controller", 2: "controller", 3: "controller", 10: "broker", 11: "broker",
                     12: "broker"}, info
    # Exactly one active controller, on a controller-only node.
    def active() -> list[int]:
        out = []
        for c in controllers:
            if c.is_running():
                with urllib.request.urlopen(f"{c.http_url}/metrics", timeout=5) as r:
                    text = r.read().decode()
                if any(line.startswith("fjord_controller_active ") and line.split()[-1] == "1"
                       for line in text.splitlines()):
                    out.append(c.node_id)
        return out
    wait_until(lambda: active() == [leader], 10, 0.2, f"controller {leader} active")

    topic = unique_topic("ctlonly")
    create_topic(bootstrap, topic, partitions=3, rf=3, config={"min.insync.replicas": "2"})
    wait_until(lambda: (s := topic_state(brokers[0], topic)) and len(s) == 3
               and all(sorted(isr) == ids for _, _, isr in s.values()), 20, 0.2, "full ISRs on the brokers")
    ck_produce(bootstrap, topic, [{"value": b"a%03d" % i, "partition": i % 3} for i in range(150)],
               conf={"acks": "all"})

    # kill -9 the active controller: another controller takes over, the
    # brokers keep serving.
    controllers[leader - 1].kill9()
    new = wait_until(lambda: (q := quorum_from(brokers[0])) and q[0] not in (leader, -1) and q[0], 15, 0.2,
                     "a new active controller")
    assert new in (1, 2, 3)
    ck_produce(bootstrap, topic, [{"value": b"b%03d" % i, "partition": i % 3} for i in range(150)],
               conf={"acks": "all"})
    assert len(ck_consume(bootstrap, topic, 300).messages) == 300

    # Fencing works under the new controller: kill a broker leading a
    # partition, its partitions move to the other brokers.
    state = topic_state(brokers[0], topic)
    victim_id = state[0][0]
    victim = next(b for b in brokers if b.node_id == victim_id)
    rest = [b for b in brokers if b is not victim]
    victim.kill9()
    cluster.wait_brokers([b.node_id for b in rest], 20, nodes=rest)
    wait_until(lambda: (s := topic_state(rest[0], topic)) and all(l in [b.node_id for b in rest]
                                                                    for l, _, _ in s.values()),
               10, 0.2, "every partition led by a live broker")
    ck_produce(",".join(b.bootstrap for b in rest), topic, [{"value": b"c", "partition": p} for p in range(3)],
               conf={"acks": "all"})
    # The controllers never hosted a replica.
    for c in controllers:
        assert not list(Path(c.data_dir).glob(f"{topic}-*")), c.name


def test_bad_roles_stop_at_startup_with_a_clear_error(cluster_factory, broker_factory):
    # A broker-only node needs a quorum to observe.
    alone = broker_factory(extra_args=["--roles", "broker"], node_id=1, start=False, schema_registry="off")
    with pytest.raises(BrokerError) as e:
        alone.start(20)
    assert "process.roles=broker needs controller.quorum.voters" in str(e.value)

    # A voter cannot be broker-only (Kafka refuses it too).
    cluster = cluster_factory(3, start=False)
    voter = cluster.nodes[1]
    voter.extra_args += ["--roles", "broker"]
    with pytest.raises(BrokerError) as e:
        voter.start(20)
    assert "node.id 2 is one of controller.quorum.voters" in str(e.value)
    assert "must have the controller role" in str(e.value)


def test_a_broker_only_node_of_another_cluster_is_refused(cluster_factory, broker_factory):
    cluster = cluster_factory(3)
    stranger = add_broker(cluster, broker_factory, 7)
    stranger.extra_args += ["--cluster-id", "another-cluster"]
    with pytest.raises(BrokerError) as e:
        stranger.start(30)
    assert "the metadata quorum refused this node: cluster id mismatch" in str(e.value), str(e.value)[-2000:]
    cluster.nodes.remove(stranger)
    cluster.wait_brokers([1, 2, 3], 10)
