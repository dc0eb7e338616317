"""Inter-broker traffic over secured listeners (issues 12 and 13): the
replica fetcher and transaction markers dial the other brokers at their
registered endpoint of `inter.broker.listener.name`, with TLS (the broker's
own truststore; its keystore certificate for mTLS) and SASL
(`sasl.mechanism.inter.broker.protocol`, the user and password of
`listener.name.<listener>.<mechanism>.sasl.jaas.config`).

Every cluster here is three real nodes on loopback with certificates the
test makes (trustme) and SCRAM users created with --add-scram; clients are
unmodified confluent-kafka ones."""

from __future__ import annotations

import re
import socket
import ssl
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import BrokerError, free_ports
from helpers import unique_topic, wait_until
from security_helpers import ADMIN, inter_broker_sasl, make_pki, set_listeners, toml_text

STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
BROKER_USER = ("broker", "broker-inter-secret")
SESSION_TIMEOUT_MS = 3000
LAG_MS = 2000


def ports_apart(cluster, n: int) -> list[int]:
    """n free ports, none of them one the (not yet started) cluster drew."""
    taken = {p for b in cluster.nodes for p in (b.kafka_port, b.http_port)} | set(cluster.controller_ports)
    for _ in range(20):
        ports = free_ports(n)
        if not taken & set(ports):
            return ports
    raise AssertionError("no free ports apart from the cluster's")


def add_scram(cluster, mechanism: str, users) -> None:
    for b in cluster.nodes:
        for name, password in users:
            b.extra_args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]


def launch(cluster) -> None:
    for b in cluster.nodes:
        b.launch()
    for b in cluster.nodes:
        b.wait_ready(60)


def create_topic(conf: dict, topic: str, partitions_: int, config: dict | None = None) -> None:
    admin = AdminClient(conf)  # the future lives only as long as its client
    admin.create_topics([NewTopic(topic, partitions_, 3, config=config or {})])[topic].result(20)


def brokers_seen(conf: dict) -> list[int]:
    return sorted(AdminClient({**conf, "socket.timeout.ms": 5000}).list_topics(timeout=5).brokers)


def partitions(conf: dict, topic: str):
    md = AdminClient({**conf, "socket.timeout.ms": 5000}).list_topics(topic, timeout=5)
    return md.topics[topic].partitions


def full_isr(conf: dict, topic: str, n: int) -> bool:
    parts = partitions(conf, topic)
    return len(parts) > 0 and all(len(p.isrs) == n and p.leader >= 0 for p in parts.values())


def produce_all(conf: dict, topic: str, values: list[bytes], nparts: int) -> list[tuple[int, int, bytes]]:
    """Produces with acks=all; returns the acknowledged (partition, offset, value)."""
    p = Producer({**conf, "acks": "all", "linger.ms": 5, "message.timeout.ms": 30000,
                  "enable.idempotence": True})
    acked = []

    def report(err, msg):
        if err is None:
            acked.append((msg.partition(), msg.offset(), msg.value()))

    for i, v in enumerate(values):
        p.produce(topic, v, partition=i % nparts, on_delivery=report)
        p.poll(0)
    assert p.flush(40) == 0, "deliveries still outstanding"
    return acked


def consume_all(conf: dict, topic: str, nparts: int, want: int, timeout: float = 30.0) -> list[tuple[int, int, bytes]]:
    c = Consumer({**conf, "group.id": f"ib-{time.monotonic_ns()}", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, i, 0) for i in range(nparts)])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < want and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            got.append((m.partition(), m.offset(), m.value()))
    finally:
        c.close()
    return got


def metric(node, name: str, **labels) -> float:
    text = urllib.request.urlopen(f"{node.http_url}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def own_log(node) -> str:
    """The node's own log lines (the harness's command lines, which carry
    --add-scram passwords, left out; ANSI colours removed)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", node.log_text())
    return "\n".join(l for l in text.splitlines() if not l.startswith("===== fjord e2e"))


def out_where_others_lead(conf: dict, topic: str, node_id: int) -> bool:
    """Whether `node_id` is out of the ISR of every partition another
    broker leads, and the other two are in it."""
    others = [p for p in partitions(conf, topic).values() if p.leader not in (-1, node_id)]
    return bool(others) and all(node_id not in p.isrs and len(p.isrs) == 2 for p in others)


def stores(pki) -> dict:
    """The broker's PEM keystore and truststore: served on its TLS
    listeners, and used by its own connections to the other brokers."""
    return {"ssl.keystore.location": str(pki.keystore), "ssl.truststore.location": str(pki.ca_pem)}


def sasl_only_cluster(cluster_factory, cfg: dict, users, per_node=None):
    """Three nodes whose only listener is SASL_PLAINTEXT (SCRAM-SHA-256,
    `users` created with --add-scram), started and listing each other;
    `per_node(node)` may change a node's config file before the start.
    Returns the cluster and an admin client config."""
    c = cluster_factory(3, config=toml_text(cfg), start=False)
    add_scram(c, "SCRAM-SHA-256", users)
    for b in c.nodes:
        set_listeners(b, f"SASL_PLAINTEXT://127.0.0.1:{b.kafka_port}")
        if per_node:
            per_node(b)
    launch(c)
    conf = {"bootstrap.servers": c.bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": ADMIN[0], "sasl.password": ADMIN[1]}
    wait_until(lambda: brokers_seen(conf) == [1, 2, 3], 40, 0.3, "all three brokers")
    return c, conf


def test_a_sasl_ssl_only_cluster_replicates_and_survives_a_killed_leader(cluster_factory, tmp_path):
    pki = make_pki(tmp_path / "pki")
    cfg = {
        **stores(pki),
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "authorizer.class.name": STANDARD,
        "super.users": f"User:{BROKER_USER[0]};User:{ADMIN[0]}",
        "broker.session.timeout.ms": SESSION_TIMEOUT_MS,
        **inter_broker_sasl("SASL_SSL", "SCRAM-SHA-512", BROKER_USER),
    }
    c = cluster_factory(3, config=toml_text(cfg), start=False)
    add_scram(c, "SCRAM-SHA-512", [BROKER_USER, ADMIN])
    for b in c.nodes:
        set_listeners(b, f"SASL_SSL://127.0.0.1:{b.kafka_port}")
    launch(c)

    def conf(nodes) -> dict:
        return {"bootstrap.servers": ",".join(b.bootstrap for b in nodes), "security.protocol": "SASL_SSL",
                "ssl.ca.location": str(pki.ca_pem), "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": ADMIN[0], "sasl.password": ADMIN[1]}

    every = conf(c.nodes)
    for b in c.nodes:
        wait_until(lambda b=b: brokers_seen(conf([b])) == [1, 2, 3], 40, 0.3, f"{b.name} lists all three")
    topic = unique_topic("sasl-ssl-rf3")
    create_topic(every, topic, 3, {"min.insync.replicas": "2"})
    # The followers fetch over SASL_SSL as User:broker: every ISR fills.
    wait_until(lambda: full_isr(every, topic, 3), 30, 0.3, "every ISR full")

    acked = produce_all(every, topic, [f"before-{i}".encode() for i in range(300)], 3)
    assert len(acked) == 300
    wait_until(lambda: full_isr(every, topic, 3), 20, 0.3, "every ISR full after the writes")

    leader = partitions(every, topic)[0].leader
    victim = next(b for b in c.nodes if b.node_id == leader)
    survivors = [b for b in c.nodes if b is not victim]
    victim.kill9()
    rest = conf(survivors)
    wait_until(lambda: all(p.leader not in (-1, leader) for p in partitions(rest, topic).values()),
               SESSION_TIMEOUT_MS / 1000 + 15, 0.3, "new leaders for the killed broker's partitions")
    acked += produce_all(rest, topic, [f"after-{i}".encode() for i in range(150)], 3)
    assert len(acked) == 450

    got = consume_all(rest, topic, 3, len(acked))
    missing = set(acked) - set(got)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    for b in survivors:
        assert BROKER_USER[1] not in own_log(b)


def test_an_mtls_internal_listener_carries_replication_next_to_a_sasl_client_listener(cluster_factory, tmp_path):
    pki = make_pki(tmp_path / "pki")
    cfg = {
        **stores(pki),
        "ssl.client.auth": "required",
        "listener.security.protocol.map": "INTERNAL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name": "INTERNAL",
    }
    c = cluster_factory(3, config=toml_text(cfg), start=False)
    add_scram(c, "SCRAM-SHA-256", [ADMIN])
    internal = ports_apart(c, 3)
    for b, p in zip(c.nodes, internal):
        set_listeners(b, f"SASL_PLAINTEXT://127.0.0.1:{b.kafka_port},INTERNAL://127.0.0.1:{p}")
    launch(c)
    conf = {"bootstrap.servers": c.bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": ADMIN[0], "sasl.password": ADMIN[1]}
    wait_until(lambda: brokers_seen(conf) == [1, 2, 3], 40, 0.3, "all three brokers")
    topic = unique_topic("mtls-rf3")
    create_topic(conf, topic, 3)
    acked = produce_all(conf, topic, [f"m-{i}".encode() for i in range(90)], 3)
    assert len(acked) == 90
    wait_until(lambda: full_isr(conf, topic, 3), 30, 0.3, "every ISR full")
    # The internal listener takes no one without a certificate of the CA.
    ctx = ssl.create_default_context(cafile=str(pki.ca_pem))
    refused = False
    try:
        with socket.create_connection(("127.0.0.1", internal[0]), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"\x00\x00\x00\x00")
                refused = s.recv(1) == b""
    except (ssl.SSLError, ConnectionError, OSError):
        refused = True
    assert refused, "the mTLS listener accepted a client without a certificate"
    assert metric(c.nodes[0], "fjord_inter_broker_connection_failures", reason="tls") == 0


def test_a_broker_with_certificates_of_another_ca_is_refused_both_ways(cluster_factory, tmp_path):
    pki, foreign = make_pki(tmp_path / "pki"), make_pki(tmp_path / "foreign")
    cfg = {
        **stores(pki),
        "replica.lag.time.max.ms": LAG_MS,
        "listener.security.protocol.map": "INTERNAL:SSL,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name": "INTERNAL",
    }
    c = cluster_factory(3, config=toml_text(cfg), start=False)
    internal = ports_apart(c, 3)
    for b, p in zip(c.nodes, internal):
        set_listeners(b, f"PLAINTEXT://127.0.0.1:{b.kafka_port},INTERNAL://127.0.0.1:{p}")
    odd = c.nodes[2]
    odd.config_path.write_text(toml_text({**cfg, **stores(foreign)}))
    launch(c)
    conf = {"bootstrap.servers": c.bootstrap}
    wait_until(lambda: brokers_seen(conf) == [1, 2, 3], 40, 0.3, "all three brokers")
    topic = unique_topic("foreign-ca")
    create_topic(conf, topic, 6)
    wait_until(lambda: out_where_others_lead(conf, topic, odd.node_id), LAG_MS / 1000 + 15, 0.3,
               "node 3 out of the ISRs nodes 1 and 2 lead")
    # Node 3 trusts neither of the others' certificates, and they refuse its.
    wait_until(lambda: metric(odd, "fjord_inter_broker_connection_failures", reason="tls") > 0
               and metric(c.nodes[0], "fjord_inter_broker_connection_failures", reason="tls") > 0
               and metric(c.nodes[1], "fjord_inter_broker_connection_failures", reason="tls") > 0,
               10, 0.3, "TLS failures counted on every node")
    log = own_log(odd)
    assert "inter-broker connection refused" in log and "not signed by a trusted CA" in log, log[-3000:]
    assert all(b.is_running() for b in c.nodes)


def test_a_broker_with_a_wrong_inter_broker_password_stays_out_of_the_isr(cluster_factory):
    wrong = "not-the-broker-password-42"
    base = {
        "sasl.enabled.mechanisms": "SCRAM-SHA-256",
        "broker.session.timeout.ms": SESSION_TIMEOUT_MS,
        "replica.lag.time.max.ms": LAG_MS,
        **inter_broker_sasl("SASL_PLAINTEXT", "SCRAM-SHA-256", BROKER_USER),
    }
    bad_config = toml_text({**base, **inter_broker_sasl("SASL_PLAINTEXT", "SCRAM-SHA-256", (BROKER_USER[0], wrong))})

    def per_node(b):
        if b.node_id == 3:
            b.config_path.write_text(bad_config)

    c, conf = sasl_only_cluster(cluster_factory, base, [BROKER_USER, ADMIN], per_node)
    bad = c.nodes[2]
    topic = unique_topic("wrong-pw")
    create_topic(conf, topic, 6, {"min.insync.replicas": "2"})

    def bad_out_where_others_lead() -> bool:
        return out_where_others_lead(conf, topic, bad.node_id)

    wait_until(bad_out_where_others_lead, LAG_MS / 1000 + 15, 0.3, "node 3 out of the ISRs nodes 1 and 2 lead")
    acked = produce_all(conf, topic, [f"w-{i}".encode() for i in range(120)], 6)
    assert len(acked) == 120, "acks=all with min.insync.replicas=2 keeps working"
    # It never joins: still out a few lag times later.
    time.sleep(LAG_MS / 1000 * 2)
    assert bad_out_where_others_lead()

    log = own_log(bad)
    assert "inter-broker connection refused" in log, log[-3000:]
    assert 'kind="auth"' in log or "kind=auth" in log, log[-3000:]
    for b in c.nodes:
        text = own_log(b)
        assert wrong not in text and BROKER_USER[1] not in text, f"a password in {b.name}'s log"
    assert metric(bad, "fjord_inter_broker_connection_failures", reason="auth") > 0
    assert bad.is_running()


def start_fails(node, needle: str) -> None:
    with pytest.raises(BrokerError):
        node.start(timeout=20)
    assert needle in own_log(node), own_log(node)[-2000:]


def test_startup_refuses_an_unknown_or_doubly_given_inter_broker_listener(cluster_factory):
    c = cluster_factory(1, config={"inter.broker.listener.name": "INTERNAL"}, start=False)
    start_fails(c.nodes[0], "inter.broker.listener.name INTERNAL is not in listeners")

    c = cluster_factory(1, config={"inter.broker.listener.name": "PLAINTEXT",
                                   "security.inter.broker.protocol": "PLAINTEXT"}, start=False)
    start_fails(c.nodes[0], "only one of inter.broker.listener.name and security.inter.broker.protocol")

    # Derived from security.inter.broker.protocol: the SSL listener, which
    # this node does not have.
    c = cluster_factory(1, config={"security.inter.broker.protocol": "SSL"}, start=False)
    start_fails(c.nodes[0], "the inter-broker listener SSL is not in listeners")

    # A SASL inter-broker listener needs a mechanism.
    c = cluster_factory(1, config={"inter.broker.listener.name": "SASL_PLAINTEXT"}, start=False)
    set_listeners(c.nodes[0], f"SASL_PLAINTEXT://127.0.0.1:{c.nodes[0].kafka_port}")
    start_fails(c.nodes[0], "set sasl.mechanism.inter.broker.protocol")


def test_a_broker_principal_without_cluster_action_is_refused_until_granted(cluster_factory):
    """With the authorizer on and the brokers' user not a super user, the
    leaders refuse replica fetches (TOPIC_AUTHORIZATION_FAILED per
    partition, as Kafka answers a follower without CLUSTER_ACTION): the
    followers leave the ISR and say why. CLUSTER_ACTION granted through
    CreateAcls lets them back in."""
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    cfg = {
        "sasl.enabled.mechanisms": "SCRAM-SHA-256",
        "authorizer.class.name": STANDARD,
        "super.users": f"User:{ADMIN[0]}",
        "replica.lag.time.max.ms": LAG_MS,
        **inter_broker_sasl("SASL_PLAINTEXT", "SCRAM-SHA-256", BROKER_USER),
    }
    c, conf = sasl_only_cluster(cluster_factory, cfg, [BROKER_USER, ADMIN])
    topic = unique_topic("no-cluster-action")
    create_topic(conf, topic, 3)
    wait_until(lambda: all(len(p.isrs) == 1 for p in partitions(conf, topic).values()), LAG_MS / 1000 + 15, 0.3,
               "every ISR down to its leader")
    refusal = "a leader refused this broker's replica requests (authorization)"
    wait_until(lambda: any(refusal in own_log(b) for b in c.nodes), 10, 0.3, "the refusal logged")

    admin = AdminClient(conf)
    grant = AclBinding(ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL, f"User:{BROKER_USER[0]}",
                       "*", AclOperation.CLUSTER_ACTION, AclPermissionType.ALLOW)
    for f in admin.create_acls([grant]).values():
        f.result(10)
    wait_until(lambda: full_isr(conf, topic, 3), 30, 0.3, "every ISR full once CLUSTER_ACTION is granted")
    acked = produce_all(conf, topic, [f"g-{i}".encode() for i in range(60)], 3)
    assert len(acked) == 60
