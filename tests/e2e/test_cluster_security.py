"""SCRAM users, ACLs and client quotas in the cluster metadata (issues 12
and 13): a 3-node cluster where a change made through one broker is in
force on every other one, and comes back after a restart from the metadata
log, not from a local file.

Each node has a PLAINTEXT listener (inter-broker traffic and raw frames;
its principal User:ANONYMOUS is a super user) and a SASL_PLAINTEXT
listener for the clients, whose principals are checked by the
StandardAuthorizer. Every node is started with the same --add-scram for
admin (the super user), as `kafka-storage format --add-scram` runs on
every node; the credential is proposed once and taken as already there by
the others."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AclOperation, AclPermissionType, AdminClient, NewTopic, ScramMechanism

import kafka_wire as kw
import test_quotas as tq
from conftest import free_ports
from security_helpers import ADMIN, set_listeners, toml_text

STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ALICE = ("alice", "alice-in-the-cluster")
DESCRIBE_ACLS = 29
CREATE_ACLS = 30
DELETE_ACLS = 31
ALTER_SCRAM = 51
RESOURCE_NOT_FOUND = 91
# The files a single node keeps these in; cluster mode never writes them.
META_FILES = ("scram-credentials.json", "acls.json", "client-quotas.json")


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class SecureCluster:
    def __init__(self, cluster, sasl_ports: list[int]):
        self.cluster = cluster
        self.nodes = cluster.nodes
        self.sasl_ports = sasl_ports
        self.clients = []

    def conf(self, i: int, user, mechanism: str = "SCRAM-SHA-256", **extra) -> dict:
        """A client config speaking SASL to node i (1-based) only."""
        conf = {"bootstrap.servers": f"127.0.0.1:{self.sasl_ports[i - 1]}",
                "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism,
                "sasl.username": user[0], "sasl.password": user[1], "socket.timeout.ms": 5000}
        conf.update(extra)
        return conf

    def admin(self, i: int, user=ADMIN) -> AdminClient:
        a = AdminClient(self.conf(i, user))
        self.clients.append(a)  # a future outlives nothing but its client
        return a

    def authenticates(self, i: int, user, mechanism: str = "SCRAM-SHA-256") -> bool:
        """Whether `user` gets Metadata from node i over SASL."""
        a = AdminClient(self.conf(i, user, mechanism, **{"reconnect.backoff.max.ms": 500}))
        try:
            a.list_topics(timeout=3)
            return True
        except Exception:  # noqa: BLE001 - a refusal is an answer here
            return False

    def leader_of(self, topic: str, node: int) -> int:
        md = self.admin(1).list_topics(topic, timeout=10)
        for p, pm in md.topics[topic].partitions.items():
            if pm.leader == node:
                return p
        raise AssertionError(f"no partition of {topic} led by {node}: {md.topics[topic].partitions}")


@pytest.fixture
def secure_cluster(cluster_factory) -> SecureCluster:
    cfg = toml_text({
        "authorizer.class.name": STANDARD,
        "super.users": "User:admin;User:ANONYMOUS",
        "inter.broker.listener.name": "PLAINTEXT",
    })
    c = cluster_factory(3, config=cfg, start=False)
    # The cluster's ports are drawn but not bound yet: draw the SASL ones
    # apart from them.
    taken = {p for b in c.nodes for p in (b.kafka_port, b.http_port)} | set(c.controller_ports)
    ports = free_ports(len(c.nodes))
    for _ in range(20):
        if not taken & set(ports):
            break
        ports = free_ports(len(c.nodes))
    assert not taken & set(ports), "no free ports apart from the cluster's"
    for b, sasl in zip(c.nodes, ports):
        b.extra_args += ["--add-scram", f"SCRAM-SHA-256=[name={ADMIN[0]},password={ADMIN[1]}]"]
        set_listeners(b, f"PLAINTEXT://127.0.0.1:{b.kafka_port},SASL_PLAINTEXT://127.0.0.1:{sasl}")
    c.start()
    sc = SecureCluster(c, ports)
    # --add-scram is proposed once the quorum has a leader: wait until
    # admin is known everywhere.
    wait(lambda: all(sc.authenticates(i, ADMIN) for i in (1, 2, 3)), 20, "admin on every node")
    return sc


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}", pytrace=False)
        time.sleep(0.2)


# The admin requests below are raw frames to one node's PLAINTEXT listener
# (User:ANONYMOUS, a super user), so that "through broker N" holds: an
# admin client may send them to any broker it knows.

def call(node, api_key: int, version: int, body: bytes, flexible: bool) -> kw.Reader:
    payload = kw.roundtrip(node.bootstrap, kw.encode_request(api_key, version, 7, body, client_id="sec-admin",
                                                             flexible=flexible))
    assert payload is not None, f"{node.name} closed the connection"
    r = kw.Reader(payload)
    assert r.int32() == 7
    if flexible:
        r.tagged_fields()
    return r


def alter_scram(node, upsert=None, delete=None, mechanism: int = 1) -> tuple[int, str | None]:
    """AlterUserScramCredentials v0 with one upsertion (user, password) or
    one deletion (user name): the user's (error code, message)."""
    dels, ups = [], []
    if delete:
        dels.append(kw.compact_string(delete) + kw.int8(mechanism) + kw.uvarint(0))
    if upsert:
        salt = os.urandom(32)
        digest = "sha256" if mechanism == 1 else "sha512"
        salted = hashlib.pbkdf2_hmac(digest, upsert[1].encode(), salt, 4096)
        ups.append(kw.compact_string(upsert[0]) + kw.int8(mechanism) + kw.int32(4096)
                   + kw.uvarint(len(salt) + 1) + salt + kw.uvarint(len(salted) + 1) + salted + kw.uvarint(0))
    body = tq.carr(dels) + tq.carr(ups) + kw.uvarint(0)
    r = call(node, ALTER_SCRAM, 0, body, flexible=True)
    r.int32()  # throttle
    assert r.uvarint() - 1 == 1
    r.compact_string()
    return r.int16(), r.compact_string()


def upsert(sc: SecureCluster, via: int, user, mechanism: int = 1) -> None:
    assert alter_scram(sc.nodes[via - 1], upsert=user, mechanism=mechanism) == (0, None)


def create_acl_raw(node, rt: int, name: str, pattern: int, principal: str, op: int, perm: int) -> int:
    """CreateAcls v1 of one binding (host *): its error code."""
    body = (kw.int32(1) + kw.int8(rt) + kw.string(name) + kw.int8(pattern) + kw.string(principal)
            + kw.string("*") + kw.int8(op) + kw.int8(perm))
    r = call(node, CREATE_ACLS, 1, body, flexible=False)
    r.int32()
    assert r.int32() == 1
    return r.int16()


def delete_acls_raw(node, name: str, principal: str) -> list[tuple]:
    """DeleteAcls v1 of every binding of `principal` on the resource named
    `name`: [(error code, resource name, operation)] of the bindings removed."""
    body = (kw.int32(1) + kw.int8(1) + kw.string(name) + kw.int8(1) + kw.string(principal)
            + kw.string(None) + kw.int8(1) + kw.int8(1))
    r = call(node, DELETE_ACLS, 1, body, flexible=False)
    r.int32()
    assert r.int32() == 1
    code, msg = r.int16(), r.string()
    assert code == 0, msg
    out = []
    for _ in range(r.int32()):
        err, _msg, _rt, rname, _pat, _pr, _host, op, _perm = (
            r.int16(), r.string(), r.int8(), r.string(), r.int8(), r.string(), r.string(), r.int8(), r.int8())
        out.append((err, rname, op))
    return out


def describe_acls_raw(node, principal: str) -> list[tuple]:
    """DescribeAcls v1 to one node (its PLAINTEXT listener), every binding of
    `principal`: [(resource type, name, pattern, principal, host, op, permission)]."""
    body = (kw.int8(1) + kw.string(None) + kw.int8(1) + kw.string(principal) + kw.string(None)
            + kw.int8(1) + kw.int8(1))
    r = call(node, DESCRIBE_ACLS, 1, body, flexible=False)
    r.int32()  # throttle
    code, msg = r.int16(), r.string()
    assert code == 0, msg
    out = []
    for _ in range(r.int32()):
        rt, name, pattern = r.int8(), r.string(), r.int8()
        for _ in range(r.int32()):
            out.append((rt, name, pattern, r.string(), r.string(), r.int8(), r.int8()))
    return sorted(out)


def produce_one(conf: dict, topic: str, partition: int):
    """Produces one record to `partition` and returns the delivery error
    code (None when it was acknowledged)."""
    p = Producer({**conf, "message.timeout.ms": 8000, "linger.ms": 0})
    result = []
    p.produce(topic, b"v", partition=partition, on_delivery=lambda err, msg: result.append(err))
    p.flush(12)
    assert result, "no delivery report"
    return None if result[0] is None else result[0].code()


def test_a_scram_user_made_through_one_broker_authenticates_on_all(secure_cluster):
    sc = secure_cluster
    assert not sc.authenticates(2, ALICE)
    upsert(sc, 1, ALICE)
    # Answered once committed and applied on broker 1; the others apply the
    # same record from the log.
    assert sc.authenticates(1, ALICE)
    wait(lambda: sc.authenticates(2, ALICE) and sc.authenticates(3, ALICE), 10, "alice on brokers 2 and 3")
    described = sc.admin(3).describe_user_scram_credentials([ALICE[0]])[ALICE[0]].result(timeout=10)
    assert [(i.mechanism, i.iterations) for i in described.scram_credential_infos] == [
        (ScramMechanism.SCRAM_SHA_256, 4096)]

    assert alter_scram(sc.nodes[1], delete=ALICE[0]) == (0, None)
    assert not sc.authenticates(2, ALICE)
    wait(lambda: not sc.authenticates(1, ALICE) and not sc.authenticates(3, ALICE), 10,
         "alice refused on brokers 1 and 3")
    # Deleting it again through another broker: RESOURCE_NOT_FOUND, as Kafka.
    assert alter_scram(sc.nodes[2], delete=ALICE[0])[0] == RESOURCE_NOT_FOUND
    for b in sc.nodes:
        assert not any((b.data_dir / "meta" / f).exists() for f in META_FILES), b.name


def test_an_acl_made_on_one_broker_is_enforced_on_another_and_deleted_from_a_third(secure_cluster):
    sc = secure_cluster
    upsert(sc, 1, ALICE)
    topic = uniq("guarded")
    sc.admin(1).create_topics([NewTopic(topic, 3, 3)])[topic].result(timeout=20)
    # Produce goes to the partition's leader: pick the one broker 3 leads.
    wait(lambda: any(pm.leader == 3 for pm in sc.admin(1).list_topics(topic, timeout=5)
                     .topics[topic].partitions.values()), 10, "a partition led by broker 3")
    p3 = sc.leader_of(topic, 3)
    wait(lambda: sc.authenticates(2, ALICE) and sc.authenticates(3, ALICE), 10, "alice on brokers 2 and 3")
    alice3 = sc.conf(3, ALICE)
    assert produce_one(alice3, topic, p3) == KafkaError.TOPIC_AUTHORIZATION_FAILED

    assert create_acl_raw(sc.nodes[1], 2, topic, 3, "User:alice", AclOperation.WRITE.value,
                          AclPermissionType.ALLOW.value) == 0
    # Answered once applied on broker 2; the others apply it from the log.
    assert produce_one(sc.conf(2, ALICE), topic, sc.leader_of(topic, 2)) is None
    want = [(2, topic, 3, "User:alice", "*", AclOperation.WRITE.value, AclPermissionType.ALLOW.value)]
    wait(lambda: all(describe_acls_raw(b, "User:alice") == want for b in sc.nodes), 10,
         "the ACL in DescribeAcls of every broker")
    assert produce_one(alice3, topic, p3) is None

    assert delete_acls_raw(sc.nodes[0], topic, "User:alice") == [(0, topic, AclOperation.WRITE.value)]
    assert describe_acls_raw(sc.nodes[0], "User:alice") == []
    wait(lambda: all(describe_acls_raw(b, "User:alice") == [] for b in sc.nodes), 10,
         "the ACL gone from every broker")
    assert produce_one(alice3, topic, p3) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def throttled_ms(node, client_id: str) -> float:
    return tq.metric_sum(node, "fjord_client_throttle_time_ms_total", quota="Produce", client_id=client_id)


def test_a_client_quota_set_on_one_broker_shows_and_throttles_on_another(secure_cluster):
    sc = secure_cluster
    n1, n3 = sc.nodes[0], sc.nodes[2]
    client = uniq("limited")
    entity = [("client-id", client)]
    assert tq.alter(n3, [(entity, [("producer_byte_rate", 5_000, False)])])[0][0] == 0
    key = (("client-id", client),)
    wait(lambda: all(tq.describe(b, [("client-id", 0, client)])[1] == {key: {"producer_byte_rate": 5_000.0}}
                     for b in sc.nodes), 10, "the quota in DescribeClientQuotas of every broker")

    topic = uniq("metered")
    sc.admin(1).create_topics([NewTopic(topic, 3, 3)])[topic].result(timeout=20)
    wait(lambda: any(pm.leader == 1 for pm in sc.admin(1).list_topics(topic, timeout=5)
                     .topics[topic].partitions.values()), 10, "a partition led by broker 1")
    p1 = sc.leader_of(topic, 1)
    # One 100 KB request at 5 KB/s (a fresh client's rate is taken over ten
    # 1 s windows, so 50 KB would pass): broker 1, the partition's leader,
    # throttles the client; a client without a quota is not throttled.
    for cid in (client, uniq("free")):
        p = Producer({"bootstrap.servers": n1.bootstrap, "client.id": cid, "linger.ms": 200,
                      "batch.size": 1_000_000, "message.timeout.ms": 30000})
        for _ in range(5):
            p.produce(topic, b"x" * 20_000, partition=p1)
            p.poll(0)
        assert p.flush(30) == 0
        if cid == client:
            assert throttled_ms(n1, cid) > 0
        else:
            assert throttled_ms(n1, cid) == 0

    assert tq.alter(n1, [(entity, [("producer_byte_rate", 0, True)])])[0][0] == 0
    wait(lambda: all(tq.describe(b, [("client-id", 0, client)])[1] == {} for b in sc.nodes), 10,
         "the quota removed everywhere")


def test_a_restarted_node_has_users_acls_and_quotas_from_the_metadata_log(secure_cluster):
    sc = secure_cluster
    upsert(sc, 1, ALICE, mechanism=2)
    topic = uniq("kept")
    assert create_acl_raw(sc.nodes[1], 2, topic, 4, "User:alice", AclOperation.READ.value,
                          AclPermissionType.ALLOW.value) == 0
    entity = [("user", ALICE[0])]
    assert tq.alter(sc.nodes[2], [(entity, [("consumer_byte_rate", 123_456, False)])])[0][0] == 0
    want_acl = [(2, topic, 4, "User:alice", "*", AclOperation.READ.value, AclPermissionType.ALLOW.value)]

    n3 = sc.nodes[2]
    pid = n3.proc.pid
    n3.restart()
    assert n3.proc.pid != pid, "node 3 runs a new process"
    # A restarted broker is back once it has caught up with the metadata
    # log and unfenced itself.
    sc.cluster.wait_brokers([1, 2, 3], 30)
    assert sc.authenticates(3, ALICE, "SCRAM-SHA-512")
    assert describe_acls_raw(n3, "User:alice") == want_acl
    assert tq.describe(n3, [("user", 0, ALICE[0])])[1] == {(("user", ALICE[0]),): {"consumer_byte_rate": 123_456.0}}
    assert not any((n3.data_dir / "meta" / f).exists() for f in META_FILES)
    # Restarted with the same --add-scram, it proposed nothing new: admin's
    # credential is still the one every node agreed on.
    assert sc.authenticates(3, ADMIN)


def test_a_restarted_node_serves_no_one_before_it_caught_up_with_the_metadata(secure_cluster):
    """A user deleted while node 3 was down must not log in on node 3 from
    the image of node 3's own log: the restarted node serves clients only
    once it has caught up with the quorum (Kafka's initial catch-up). With
    nodes 1 and 2 paused the quorum cannot answer, so node 3 must not
    serve at all; once they resume it refuses the deleted user."""
    import signal

    sc = secure_cluster
    upsert(sc, 1, ALICE)
    wait(lambda: sc.authenticates(3, ALICE), 20, "alice on node 3")
    n3 = sc.nodes[2]
    assert n3.stop() == 0
    assert alter_scram(sc.nodes[0], delete=ALICE[0]) == (0, None)
    paused = sc.nodes[:2]
    for b in paused:
        os.kill(b.proc.pid, signal.SIGSTOP)
    try:
        n3.start(60)
        # Its log still holds alice, but it has not caught up: no answer.
        time.sleep(2)
        assert not sc.authenticates(3, ALICE), "node 3 served alice from a stale image"
        assert "caught up with the cluster metadata" not in this_start(n3)
    finally:
        for b in paused:
            os.kill(b.proc.pid, signal.SIGCONT)
    wait(lambda: sc.authenticates(3, ADMIN), 30, "node 3 serving once caught up")
    assert not sc.authenticates(3, ALICE)
    assert "caught up with the cluster metadata" in this_start(n3)


def this_start(node) -> str:
    """The log of the node's current process."""
    return node.log_text().rsplit("===== fjord e2e: start #", 1)[-1]
