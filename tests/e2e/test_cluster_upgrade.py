"""The in-place upgrade of a single-node data directory to cluster mode
(issue 12: "an existing single-node data directory upgrades in place"):
a real single-node fjord writes records, committed group offsets, an
idempotent producer's records, a compacted topic's config, a SCRAM user,
an ACL and a client quota; the same data directory is then started as
node 1 of a 3-node cluster. Everything is served again from the cluster
metadata (the other nodes see it too), the topics keep their ids and
offsets, a reassignment raises them to RF 3, and the data survives a
kill -9 of node 1."""

from __future__ import annotations

import json
import time


from confluent_kafka import TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, ConfigResource,
                                   NewTopic, ResourcePatternType, ResourceType, ScramCredentialInfo,
                                   ScramMechanism, UserScramCredentialUpsertion)

from cli_runner import cli, cli_json
from helpers import ck_admin, ck_consumer, ck_producer, unique_topic, wait_until
from test_cluster_ops import topic_state

STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
# PLAINTEXT clients are User:ANONYMOUS: a super user, so the admin calls pass
# and the ACL below is only data to carry over.
CONFIG = {"authorizer.class.name": STANDARD, "super.users": "User:ANONYMOUS",
          "broker.session.timeout.ms": 3000}
RECORDS = 300


def produce(bootstrap: str, topic: str, n: int, **conf) -> dict[bytes, tuple[int, int]]:
    """n keyed records over 2 partitions; value -> (partition, offset)."""
    acked: dict[bytes, tuple[int, int]] = {}
    p = ck_producer(bootstrap, acks="all", **conf)

    def done(err, msg):
        assert err is None, err
        acked[msg.value()] = (msg.partition(), msg.offset())

    for i in range(n):
        p.produce(topic, key=b"k%d" % (i % 17), value=b"v%05d" % i, partition=i % 2, on_delivery=done)
    assert p.flush(30) == 0
    return acked


def failed_start(node, timeout: float = 60) -> int | None:
    """Launches `node` and waits for it to exit (the Kafka port opens before
    the migration runs, so a failing start is seen by its exit): the code."""
    node.launch()
    try:
        node.proc.wait(timeout)
    finally:
        node._expected_exit = True
    return node.proc.returncode


def read_back(bootstrap: str, topic: str, want: int) -> dict[bytes, tuple[int, int]]:
    c = ck_consumer(bootstrap)
    c.assign([TopicPartition(topic, p, 0) for p in (0, 1)])
    got: dict[bytes, tuple[int, int]] = {}
    deadline = time.monotonic() + 30
    try:
        while len(got) < want and time.monotonic() < deadline:
            for m in c.consume(500, 0.5):
                if m.error() is None:
                    got[m.value()] = (m.partition(), m.offset())
    finally:
        c.close()
    return got


def committed(bootstrap: str, group: str, topic: str) -> list[int]:
    c = ck_consumer(bootstrap, **{"group.id": group})
    try:
        return [tp.offset for tp in c.committed([TopicPartition(topic, p) for p in (0, 1)], timeout=15)]
    finally:
        c.close()


def test_a_single_node_directory_becomes_node_one_of_a_cluster(cluster_factory):
    cluster = cluster_factory(3, config=CONFIG, start=False)
    node1 = cluster.nodes[0]
    cluster_args = node1.extra_args
    topic, compacted, group = unique_topic("upg"), unique_topic("upgc"), unique_topic("upgg")

    # ---- single-node life: the same data directory, no quorum flags.
    node1.extra_args = []
    node1.start(60)
    single = node1.bootstrap
    admin = ck_admin(single)
    fs = admin.create_topics([NewTopic(topic, 2, 1),
                              NewTopic(compacted, 1, 1, config={"cleanup.policy": "compact"})])
    for f in fs.values():
        f.result(20)
    acked = produce(single, topic, RECORDS)
    # An idempotent producer: its producer id is in the log.
    idem = ck_producer(single, enable_idempotence=True, acks="all")
    idem.produce(compacted, key=b"a", value=b"1")
    assert idem.flush(20) == 0
    # A consumer group commits offsets 100 and 50.
    c = ck_consumer(single, **{"group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 100), TopicPartition(topic, 1, 50)], asynchronous=False)
    c.close()
    upsert = UserScramCredentialUpsertion("carol", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192),
                                          b"carol-pw")
    admin.alter_user_scram_credentials([upsert])["carol"].result(20)
    binding = AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:carol", "*",
                         AclOperation.READ, AclPermissionType.ALLOW)
    admin.create_acls([binding])[binding].result(20)
    cli(single, "quota", "set", "--user", "carol", "--producer-byte-rate", "2097152")
    before_describe = cli_json(single, "topic", "describe", topic)
    assert node1.stop() == 0

    # ---- the same directory as node 1 of a 3-node cluster.
    node1.extra_args = cluster_args
    cluster.start()
    assert "migrated the single-node data directory" in node1.log_text()
    marker = json.loads((node1.data_dir / "meta" / "cluster-migration.json").read_text())
    assert marker["state"] == "done" and marker["topics"] >= 2, marker
    other = cluster.nodes[1]
    # Every node sees the topics, led by node 1, with their ids unchanged.
    for node in cluster.nodes:
        wait_until(lambda: (s := topic_state(node, topic)) and len(s) == 2
                   and all(v == (1, [1], [1]) for v in s.values()), 20, 0.2,
                   f"node {node.node_id} sees {topic} on broker 1")
    after_describe = cli_json(other.bootstrap, "topic", "describe", topic)
    assert after_describe["topic_id"] == before_describe["topic_id"], (before_describe, after_describe)
    # The compacted topic kept its config, as every node reports it.
    res = ConfigResource("topic", compacted)
    other_admin = ck_admin(other.bootstrap)  # alive until its futures resolve
    cfg = other_admin.describe_configs([res])[res].result(20)
    assert cfg["cleanup.policy"].value == "compact"
    # Every record at its offset; the group's offsets; the user, ACL and quota.
    assert read_back(cluster.bootstrap, topic, RECORDS) == acked
    assert committed(other.bootstrap, group, topic) == [100, 50]
    carol = other_admin.describe_user_scram_credentials(["carol"])["carol"].result(20)
    assert carol.scram_credential_infos[0].iterations == 8192
    acls = other_admin.describe_acls(
        AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, None, None,
                         AclOperation.ANY, AclPermissionType.ANY)).result(20)
    assert [(a.principal, a.operation) for a in acls] == [("User:carol", AclOperation.READ)]
    assert "carol" in cli(other.bootstrap, "quota", "describe").stdout
    # A new idempotent producer gets a producer id above the single node's.
    fresh = ck_producer(cluster.bootstrap, enable_idempotence=True, acks="all")
    fresh.produce(compacted, key=b"b", value=b"2")
    assert fresh.flush(20) == 0

    # ---- raise the migrated topic and the group offsets to RF 3 (one
    # reassignment plan in Kafka's JSON format), then lose node 1.
    offsets = topic_state(other, "__consumer_offsets")
    assert offsets and all(v == (1, [1], [1]) for v in offsets.values()), offsets
    moves = [{"topic": topic, "partition": p, "replicas": [1, 2, 3]} for p in (0, 1)]
    moves += [{"topic": "__consumer_offsets", "partition": p, "replicas": [1, 2, 3]} for p in offsets]
    plan = node1.workdir / "rf3.json"
    plan.write_text(json.dumps({"version": 1, "partitions": moves}))
    out = cli_json(node1, "cluster", "reassign", "--reassignment-json-file", str(plan), "--wait",
                   "--wait-timeout-ms", "40000", timeout=60)
    assert out["completed_ms"] is not None, out
    for t in (topic, "__consumer_offsets"):
        wait_until(lambda: all(isr == [1, 2, 3] for _, _, isr in topic_state(other, t).values()),
                   20, 0.2, f"full ISRs of {t} after the reassignment")
    node1.kill9()
    wait_until(lambda: all(leader in (2, 3) for leader, _, _ in topic_state(other, topic).values()),
               20, 0.2, "leaders moved off node 1")
    survivors = ",".join(b.bootstrap for b in cluster.nodes[1:])
    assert read_back(survivors, topic, RECORDS) == acked
    assert committed(survivors, group, topic) == [100, 50]

    # ---- a restart does not migrate again (the cluster is the truth now).
    node1.start(60)
    assert node1.log_text().count("migrated the single-node data directory") == 1
    wait_until(lambda: all(isr == [1, 2, 3] for _, _, isr in topic_state(other, topic).values()),
               30, 0.3, "node 1 back in every ISR")


def test_a_directory_whose_topic_the_cluster_has_under_another_id_is_refused(cluster_factory):
    cluster = cluster_factory(3, config=CONFIG, start=False)
    topic = unique_topic("clash")
    late = cluster.nodes[2]
    # Node 3's directory holds a single-node topic of that name...
    cluster_args = late.extra_args
    late.extra_args = []
    late.start(60)
    late_admin = ck_admin(late.bootstrap)
    late_admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(20)
    produce(late.bootstrap, topic, 10)
    assert late.stop() == 0
    # ... while the cluster (nodes 1 and 2: a quorum of 3 voters) creates
    # its own topic of that name.
    for b in cluster.nodes[:2]:
        b.launch()
    for b in cluster.nodes[:2]:
        b.wait_ready(60)
    cluster.wait_brokers([1, 2], 30, nodes=cluster.nodes[:2])
    first_admin = ck_admin(cluster.nodes[0].bootstrap)
    first_admin.create_topics([NewTopic(topic, 1, 2)])[topic].result(20)
    late.extra_args = cluster_args
    assert failed_start(late) not in (0, None)
    text = late.log_text()
    assert f"topic {topic} of this single-node data directory" in text, text[-2000:]
    # Nothing was deleted: the single-node records are still on disk.
    assert any(f.stat().st_size > 0 for f in (late.data_dir / f"{topic}-0").glob("*.log"))


def test_a_migration_killed_after_its_records_resumes_without_duplicates(broker_factory):
    """A crash point (FJORD_CRASH_AT, an abort as kill -9) between the
    committed migration records and the marker: the next start finds the
    marker pending, plans again over the image that holds everything, and
    adds nothing twice."""
    from conftest import free_ports

    node = broker_factory(name="solo", node_id=1, schema_registry="off", config=CONFIG)
    topic = unique_topic("resume")
    admin = ck_admin(node.bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(20)
    acked = produce(node.bootstrap, topic, 40)
    binding = AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:dave", "*",
                         AclOperation.WRITE, AclPermissionType.ALLOW)
    admin.create_acls([binding])[binding].result(20)
    upsert = UserScramCredentialUpsertion("dave", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096),
                                          b"dave-pw")
    admin.alter_user_scram_credentials([upsert])["dave"].result(20)
    assert node.stop() == 0

    (port,) = free_ports(1)
    node.extra_args += ["--controller-quorum", f"1@127.0.0.1:{port}", "--cluster-id", "resume-cluster"]
    node.extra_env["FJORD_CRASH_AT"] = "migration-before-marker"
    assert failed_start(node) not in (0, None)
    assert "crash point reached" in node.log_text()
    marker = node.data_dir / "meta" / "cluster-migration.json"
    assert json.loads(marker.read_text())["state"] == "pending"

    del node.extra_env["FJORD_CRASH_AT"]
    node.start(60)
    wait_until(lambda: json.loads(marker.read_text())["state"] == "done", 30, 0.2, "the migration done")
    again = ck_admin(node.bootstrap)
    wait_until(lambda: again.list_topics(timeout=5).brokers, 20, 0.2, "the broker registered")
    acls = again.describe_acls(AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                                AclOperation.ANY, AclPermissionType.ANY)).result(20)
    assert [(a.name, a.principal) for a in acls] == [(topic, "User:dave")], acls
    dave = again.describe_user_scram_credentials(["dave"])["dave"].result(20)
    assert [c.mechanism for c in dave.scram_credential_infos] == [ScramMechanism.SCRAM_SHA_512]
    assert read_back(node.bootstrap, topic, 40) == acked
