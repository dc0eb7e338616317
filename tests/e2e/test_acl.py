"""ACLs (issue 13): the authorizer with Kafka's StandardAuthorizer rules,
CreateAcls/DescribeAcls/DeleteAcls, and enforcement on every served API.

The broker has SASL_PLAINTEXT with SCRAM users (admin, the super user;
alice and bob, unprivileged) and a PLAINTEXT listener whose principal is
User:ANONYMOUS, used for raw frames of APIs no client here reaches. Each
matrix test calls an API as a principal without the ACL (the exact Kafka
error), grants the ACL as admin, and calls it again (success, or for a raw
frame an answer past the authorizer). Names are unique per test so ACLs of
one test never open another's resources."""

from __future__ import annotations

import struct
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                   AdminClient, ConfigResource,
                                   NewPartitions, NewTopic, ResourcePatternType, ResourceType,
                                   ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion)

import kafka_wire as kw
from security_helpers import ADMIN, ALICE, broker_log, ck_conf, make_pki, start_secure_broker

BOB = ("bob", "bob-builder-pw")
STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

TOPIC_AUTH = KafkaError.TOPIC_AUTHORIZATION_FAILED        # 29
GROUP_AUTH = KafkaError.GROUP_AUTHORIZATION_FAILED        # 30
CLUSTER_AUTH = KafkaError.CLUSTER_AUTHORIZATION_FAILED    # 31
TXN_AUTH = KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED  # 53


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Env:
    def __init__(self, sb, pki):
        self.sb = sb
        self.pki = pki
        self.admin = AdminClient(self.conf(ADMIN))
        # Kept alive: a future outlives nothing but its client.
        self.clients = {}

    def conf(self, user, **extra) -> dict:
        mech = "SCRAM-SHA-512" if user is ALICE else "SCRAM-SHA-256"
        c = ck_conf(self.sb, self.pki, "SASL_PLAINTEXT", mech, user)
        c.update(extra)
        return c

    def client(self, user) -> AdminClient:
        if user[0] not in self.clients:
            self.clients[user[0]] = AdminClient(self.conf(user))
        return self.clients[user[0]]

    @property
    def plain(self) -> str:
        return self.sb.addr("PLAINTEXT")

    def grant(self, *bindings: AclBinding) -> None:
        for f in self.admin.create_acls(list(bindings), request_timeout=20).values():
            f.result()

    def create_topic(self, name: str, partitions: int = 1) -> None:
        self.admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=20)


def acl(rt, name, principal, op, perm=AclPermissionType.ALLOW, pattern=ResourcePatternType.LITERAL,
        host="*") -> AclBinding:
    return AclBinding(rt, name, pattern, principal, host, op, perm)


def code_of(excinfo) -> int:
    err = excinfo.value.args[0]
    return err.code() if isinstance(err, KafkaError) else err


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from conftest import BrokerFactory, _finish
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    factory = BrokerFactory(tmp_path_factory.mktemp("acl"))
    sb = start_secure_broker(factory, pki, config={
        "authorizer.class.name": STANDARD,
        "super.users": "User:admin",
    }, extra_args=["--add-scram", f"SCRAM-SHA-256=[name={BOB[0]},password={BOB[1]}]"])
    yield Env(sb, pki)
    log = broker_log(sb)
    _finish(factory)
    for secret in (ADMIN[1], ALICE[1], BOB[1]):
        assert secret not in log, "a password reached the broker log"


# ------------------------------------------------------------------ raw frames (PLAINTEXT: User:ANONYMOUS)

ANON = "User:ANONYMOUS"


def call(env: Env, frame: bytes) -> kw.Reader:
    payload = kw.roundtrip(env.plain, frame)
    assert payload is not None, "the broker closed the connection"
    r = kw.Reader(payload)
    r.int32()  # correlation id
    return r


def heartbeat_v0(group: str) -> bytes:
    return kw.encode_request(12, 0, 1, kw.string(group) + kw.int32(1) + kw.string("m-1"))


def leave_group_v0(group: str) -> bytes:
    return kw.encode_request(13, 0, 1, kw.string(group) + kw.string("m-1"))


def sync_group_v0(group: str) -> bytes:
    return kw.encode_request(14, 0, 1, kw.string(group) + kw.int32(1) + kw.string("m-1") + kw.int32(0))


def end_txn_v0(txn: str) -> bytes:
    return kw.encode_request(26, 0, 1, kw.string(txn) + kw.int64(4242) + kw.int16(0) + kw.int8(1))


def add_offsets_to_txn_v0(txn: str, group: str) -> bytes:
    return kw.encode_request(25, 0, 1, kw.string(txn) + kw.int64(4242) + kw.int16(0) + kw.string(group))


def add_partitions_to_txn_v0(txn: str, topic: str) -> bytes:
    body = kw.string(txn) + kw.int64(4242) + kw.int16(0) + kw.int32(1) + kw.string(topic) + kw.int32(1) + kw.int32(0)
    return kw.encode_request(24, 0, 1, body)


def txn_offset_commit_v0(txn: str, group: str, topic: str) -> bytes:
    body = (kw.string(txn) + kw.string(group) + kw.int64(4242) + kw.int16(0) + kw.int32(1) + kw.string(topic)
            + kw.int32(1) + kw.int32(0) + kw.int64(1) + kw.string(None))
    return kw.encode_request(28, 0, 1, body)


def describe_scram_v0() -> bytes:
    # users: null (every user), then the empty tagged-field section.
    return kw.encode_request(50, 0, 1, kw.uvarint(0) + kw.uvarint(0), flexible=True)


def fjord_cli(*args: str):
    import subprocess
    from conftest import fjord_bin
    return subprocess.run([str(fjord_bin()), *args], capture_output=True, text=True, timeout=60)


def describe_log_dirs_v1() -> bytes:
    return kw.encode_request(35, 1, 1, kw.int32(-1))


def first_partition_error(r: kw.Reader) -> int:
    """Topics → partitions → (index, error) responses (AddPartitionsToTxn,
    TxnOffsetCommit v0): the first partition's error."""
    r.int32()  # throttle
    assert r.int32() >= 1
    r.string()
    assert r.int32() >= 1
    r.int32()
    return r.int16()


# ------------------------------------------------------------------ the matrix: data plane

def test_produce_needs_write_and_metadata_needs_describe(env):
    topic = uniq("prod")
    env.create_topic(topic)
    alice = env.conf(ALICE)
    # Metadata: no DESCRIBE, no topic: the listing leaves it out, a named
    # request answers TOPIC_AUTHORIZATION_FAILED.
    md = env.client(ALICE).list_topics(timeout=10)
    assert topic not in md.topics
    md = env.client(ALICE).list_topics(topic=topic, timeout=10)
    assert md.topics[topic].error.code() == TOPIC_AUTH
    # Produce without WRITE.
    errors = []
    p = Producer({**alice, "message.timeout.ms": 8000})
    p.produce(topic, b"v", on_delivery=lambda err, msg: errors.append(err))
    p.flush(15)
    assert errors and errors[0] is not None and errors[0].code() == TOPIC_AUTH
    env.grant(acl(ResourceType.TOPIC, topic, "User:alice", AclOperation.WRITE))
    errors.clear()
    p = Producer({**alice, "message.timeout.ms": 15000})
    p.produce(topic, b"v", on_delivery=lambda err, msg: errors.append(err))
    p.flush(20)
    assert errors == [None]
    # WRITE implies DESCRIBE: alice now sees the topic.
    assert topic in env.client(ALICE).list_topics(timeout=10).topics


def test_fetch_list_offsets_leader_epoch_and_describe_partitions_raw(env):
    topic = uniq("raw")
    env.create_topic(topic)
    # Fetch v4: READ.
    _, parts = kw.parse_fetch_response_v4(kw.roundtrip(env.plain, kw.fetch_request_v4(topic)))
    assert parts[topic][0].error_code == TOPIC_AUTH
    # ListOffsets v10: DESCRIBE.
    frame = kw.list_offsets_request_v10(topic, [(0, -1)], 1000)
    _, offs = kw.parse_list_offsets_response_v10(kw.roundtrip(env.plain, frame))
    assert offs[(topic, 0)][0] == TOPIC_AUTH
    # OffsetForLeaderEpoch v3 as a consumer: DESCRIBE.
    frame = kw.offset_for_leader_epoch_request(3, topic, 0, 0)
    _, ep = kw.parse_offset_for_leader_epoch_response(kw.roundtrip(env.plain, frame))
    assert ep[(topic, 0)][0] == TOPIC_AUTH
    # DescribeTopicPartitions: named → TOPIC_AUTHORIZATION_FAILED; listing → left out.
    _, topics, _ = kw.parse_describe_topic_partitions_response(
        kw.roundtrip(env.plain, kw.describe_topic_partitions_request([topic])))
    assert topics[0].error_code == TOPIC_AUTH
    _, listed, _ = kw.parse_describe_topic_partitions_response(
        kw.roundtrip(env.plain, kw.describe_topic_partitions_request([])))
    assert topic not in [t.name for t in listed]
    # Metadata v4 by name.
    _, errs, _ = kw.parse_metadata_response_v4_topics(
        kw.roundtrip(env.plain, kw.metadata_request_v4([topic], allow_auto_create=False)))
    assert errs[topic] == TOPIC_AUTH

    env.grant(acl(ResourceType.TOPIC, topic, ANON, AclOperation.READ))
    _, parts = kw.parse_fetch_response_v4(kw.roundtrip(env.plain, kw.fetch_request_v4(topic)))
    assert parts[topic][0].error_code == 0
    _, offs = kw.parse_list_offsets_response_v10(
        kw.roundtrip(env.plain, kw.list_offsets_request_v10(topic, [(0, -1)], 1000)))
    assert offs[(topic, 0)][0] == 0
    _, ep = kw.parse_offset_for_leader_epoch_response(
        kw.roundtrip(env.plain, kw.offset_for_leader_epoch_request(3, topic, 0, 0)))
    assert ep[(topic, 0)][0] == 0
    _, topics, _ = kw.parse_describe_topic_partitions_response(
        kw.roundtrip(env.plain, kw.describe_topic_partitions_request([topic])))
    assert topics[0].error_code == 0
    # READ implies DESCRIBE (bit 8) but not WRITE (bit 4).
    assert topics[0].authorized_operations & (1 << 8) and not topics[0].authorized_operations & (1 << 4)
    _, errs, _ = kw.parse_metadata_response_v4_topics(
        kw.roundtrip(env.plain, kw.metadata_request_v4([topic], allow_auto_create=False)))
    assert errs[topic] == 0


def test_idempotent_init_producer_id_needs_idempotent_write_or_some_write(env):
    r = call(env, kw.init_producer_id_request_v0())
    r.int32()
    assert r.int16() == CLUSTER_AUTH
    env.grant(acl(ResourceType.BROKER, "kafka-cluster", ANON, AclOperation.IDEMPOTENT_WRITE))
    r = call(env, kw.init_producer_id_request_v0())
    r.int32()
    assert r.int16() == 0


def test_consumer_group_apis(env):
    topic, group = uniq("grp-t"), uniq("grp")
    env.create_topic(topic)
    p = Producer(env.conf(ADMIN))
    for v in (b"a", b"b", b"c"):
        p.produce(topic, v)
    p.flush(20)
    env.grant(acl(ResourceType.TOPIC, topic, "User:alice", AclOperation.READ))

    def consume(n: int, timeout: float = 25.0):
        c = Consumer(env.conf(ALICE, **{"group.id": group, "auto.offset.reset": "earliest",
                                        "enable.auto.commit": False}))
        c.subscribe([topic])
        got, err = [], None
        deadline = time.time() + timeout
        try:
            while time.time() < deadline and len(got) < n and err is None:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    err = m.error().code()
                else:
                    got.append(m.value())
            if got:
                c.commit(asynchronous=False)
        finally:
            c.close()
        return got, err

    # FindCoordinator: no DESCRIBE on the group.
    got, err = consume(1, 15)
    assert (got, err) == ([], GROUP_AUTH)
    # DESCRIBE passes FindCoordinator; JoinGroup needs READ.
    env.grant(acl(ResourceType.GROUP, group, "User:alice", AclOperation.DESCRIBE))
    got, err = consume(1, 15)
    assert (got, err) == ([], GROUP_AUTH)
    env.grant(acl(ResourceType.GROUP, group, "User:alice", AclOperation.READ))
    # Join, Sync, Heartbeat, OffsetFetch, Fetch, OffsetCommit, LeaveGroup.
    got, err = consume(3)
    assert err is None and got == [b"a", b"b", b"c"]
    # OffsetFetch: alice may, bob may not (group), and bob's view of a
    # named partition is refused.
    req = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])]
    res = env.client(ALICE).list_consumer_group_offsets(req)[group].result()
    assert res.topic_partitions[0].offset == 3
    with pytest.raises(KafkaException) as e:
        env.client(BOB).list_consumer_group_offsets(req)[group].result()
    assert code_of(e) == GROUP_AUTH
    env.grant(acl(ResourceType.GROUP, group, "User:bob", AclOperation.DESCRIBE))
    res = env.client(BOB).list_consumer_group_offsets(req)[group].result()
    assert res.topic_partitions[0].error.code() == TOPIC_AUTH
    assert res.topic_partitions[0].offset < 0
    # OffsetCommit (AdminClient): bob has no READ on the group, then none on the topic.
    commit = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 2)])]

    def commit_error() -> int:
        try:
            out = env.client(BOB).alter_consumer_group_offsets(commit)[group].result()
        except KafkaException as e:
            return e.args[0].code()
        return out.topic_partitions[0].error.code() if out.topic_partitions[0].error else 0

    assert commit_error() == GROUP_AUTH
    env.grant(acl(ResourceType.GROUP, group, "User:bob", AclOperation.READ))
    assert commit_error() == TOPIC_AUTH
    env.grant(acl(ResourceType.TOPIC, topic, "User:bob", AclOperation.READ))
    out = env.client(BOB).alter_consumer_group_offsets(commit)[group].result()
    assert out.topic_partitions[0].error is None


def test_group_raw_apis_sync_heartbeat_leave(env):
    group = uniq("rawg")
    for frame in (sync_group_v0(group), heartbeat_v0(group), leave_group_v0(group)):
        r = call(env, frame)
        assert r.int16() == GROUP_AUTH
    env.grant(acl(ResourceType.GROUP, group, ANON, AclOperation.READ))
    for frame in (sync_group_v0(group), heartbeat_v0(group), leave_group_v0(group)):
        r = call(env, frame)
        assert r.int16() != GROUP_AUTH


def offset_delete_v0(group: str, topic: str) -> bytes:
    return kw.encode_request(47, 0, 1, kw.string(group) + kw.int32(1) + kw.string(topic) + kw.int32(1) + kw.int32(0))


def test_offset_delete_needs_delete_on_the_group_and_read_on_the_topic(env):
    group, topic = uniq("od"), uniq("od-t")
    env.create_topic(topic)
    r = call(env, offset_delete_v0(group, topic))
    assert r.int16() == GROUP_AUTH
    env.grant(acl(ResourceType.GROUP, group, ANON, AclOperation.DELETE))
    r = call(env, offset_delete_v0(group, topic))
    assert r.int16() != GROUP_AUTH


def test_consumer_group_heartbeat_kip848(env):
    topic, group = uniq("cg-t"), uniq("cg")
    env.create_topic(topic)
    p = Producer(env.conf(ADMIN))
    p.produce(topic, b"k848")
    p.flush(20)
    env.grant(acl(ResourceType.TOPIC, topic, "User:alice", AclOperation.READ),
              acl(ResourceType.GROUP, group, "User:alice", AclOperation.DESCRIBE))

    def consume(timeout: float):
        c = Consumer(env.conf(ALICE, **{"group.id": group, "group.protocol": "consumer",
                                        "auto.offset.reset": "earliest"}))
        c.subscribe([topic])
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error() and m.error().code() == KafkaError._FATAL:
                    # librdkafka wraps the heartbeat's error as fatal.
                    assert "Group authorization failed" in m.error().str(), m.error().str()
                    return GROUP_AUTH
                return m.error().code() if m.error() else m.value()
        finally:
            c.close()
        return None

    # DESCRIBE lets FindCoordinator through; ConsumerGroupHeartbeat needs READ.
    assert consume(15) == GROUP_AUTH
    env.grant(acl(ResourceType.GROUP, group, "User:alice", AclOperation.READ))
    assert consume(30) == b"k848"


def test_list_describe_and_delete_groups(env):
    topic = uniq("lg-t")
    env.create_topic(topic)
    g1, g2 = uniq("lg1"), uniq("lg2")
    for g in (g1, g2):
        commit = [ConsumerGroupTopicPartitions(g, [TopicPartition(topic, 0, 0)])]
        env.admin.alter_consumer_group_offsets(commit)[g].result()
    alice = env.client(ALICE)
    listed = {g.group_id for g in alice.list_consumer_groups().result().valid}
    assert g1 not in listed and g2 not in listed
    admin_listed = {g.group_id for g in env.admin.list_consumer_groups().result().valid}
    assert {g1, g2} <= admin_listed
    env.grant(acl(ResourceType.GROUP, g1, "User:alice", AclOperation.DESCRIBE))
    listed = {g.group_id for g in alice.list_consumer_groups().result().valid}
    assert g1 in listed and g2 not in listed
    # DescribeGroups
    alice.describe_consumer_groups([g1])[g1].result()
    with pytest.raises(KafkaException) as e:
        alice.describe_consumer_groups([g2])[g2].result()
    assert code_of(e) == GROUP_AUTH
    # DeleteGroups needs DELETE
    with pytest.raises(KafkaException) as e:
        alice.delete_consumer_groups([g1])[g1].result()
    assert code_of(e) == GROUP_AUTH
    env.grant(acl(ResourceType.GROUP, g1, "User:alice", AclOperation.DELETE))
    alice.delete_consumer_groups([g1])[g1].result()


# ------------------------------------------------------------------ the matrix: admin

def test_topic_admin_apis(env):
    base = uniq("adm")
    alice = env.client(ALICE)
    name = f"{base}-x"
    # CreateTopics: CREATE on the cluster or the topic.
    with pytest.raises(KafkaException) as e:
        alice.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=20)
    assert code_of(e) == TOPIC_AUTH
    env.grant(acl(ResourceType.TOPIC, base, "User:alice", AclOperation.CREATE,
                  pattern=ResourcePatternType.PREFIXED))
    alice.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=20)
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    # DescribeConfigs
    with pytest.raises(KafkaException) as e:
        alice.describe_configs([res])[res].result(timeout=20)
    assert code_of(e) == TOPIC_AUTH
    # IncrementalAlterConfigs and AlterConfigs
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry
    inc = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as e:
        alice.incremental_alter_configs([inc])[inc].result(timeout=20)
    assert code_of(e) == TOPIC_AUTH
    legacy = ConfigResource(ConfigResource.Type.TOPIC, name, set_config={"retention.ms": "7200000"})
    with pytest.raises(KafkaException) as e:
        alice.alter_configs([legacy])[legacy].result(timeout=20)
    assert code_of(e) == TOPIC_AUTH
    env.grant(acl(ResourceType.TOPIC, name, "User:alice", AclOperation.ALTER_CONFIGS))
    # ALTER_CONFIGS implies DESCRIBE_CONFIGS.
    configs = alice.describe_configs([res])[res].result(timeout=20)
    assert "retention.ms" in configs
    alice.incremental_alter_configs([inc])[inc].result(timeout=20)
    alice.alter_configs([legacy])[legacy].result(timeout=20)
    # CreatePartitions: ALTER.
    with pytest.raises(KafkaException) as e:
        alice.create_partitions([NewPartitions(name, 2)])[name].result(timeout=20)
    assert code_of(e) == TOPIC_AUTH
    env.grant(acl(ResourceType.TOPIC, name, "User:alice", AclOperation.ALTER))
    alice.create_partitions([NewPartitions(name, 2)])[name].result(timeout=20)
    # DeleteRecords and DeleteTopics: DELETE.
    tp = TopicPartition(name, 0, 0)
    with pytest.raises(KafkaException) as e:
        alice.delete_records([tp])[tp].result(timeout=20)
    assert code_of(e) == TOPIC_AUTH
    with pytest.raises(KafkaException) as e:
        alice.delete_topics([name])[name].result(timeout=20)
    assert code_of(e) == TOPIC_AUTH
    env.grant(acl(ResourceType.TOPIC, name, "User:alice", AclOperation.DELETE))
    alice.delete_records([tp])[tp].result(timeout=20)
    alice.delete_topics([name])[name].result(timeout=20)
    # A topic that does not exist and is not described: TOPIC_AUTHORIZATION_FAILED,
    # not UNKNOWN_TOPIC_OR_PARTITION.
    ghost = uniq("ghost")
    with pytest.raises(KafkaException) as e:
        env.client(BOB).delete_topics([ghost])[ghost].result(timeout=20)
    assert code_of(e) == TOPIC_AUTH


def test_broker_configs_and_cluster_apis(env):
    alice = env.client(ALICE)
    node = env.admin.describe_cluster().result().nodes[0].id
    res = ConfigResource(ConfigResource.Type.BROKER, str(node))
    with pytest.raises(KafkaException) as e:
        alice.describe_configs([res])[res].result(timeout=20)
    assert code_of(e) == CLUSTER_AUTH
    # DescribeCluster answers, with no operations without DESCRIBE on the cluster.
    d = alice.describe_cluster(include_authorized_operations=True).result()
    assert not d.authorized_operations
    # DescribeUserScramCredentials / AlterUserScramCredentials / ACL APIs.
    # DescribeUserScramCredentials (raw: librdkafka 2.16 crashes on this
    # error answer, whatever the broker), as ANONYMOUS.
    corr, r = kw.parse_response_header_v1(kw.roundtrip(env.plain, describe_scram_v0()))
    r.int32()
    assert r.int16() == CLUSTER_AUTH
    # DescribeLogDirs v1 (no error field): no result without DESCRIBE.
    r = call(env, describe_log_dirs_v1())
    r.int32()
    assert r.int32() == 0
    upsert = UserScramCredentialUpsertion("carol", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096),
                                          b"carol-pw")
    with pytest.raises(KafkaException) as e:
        alice.alter_user_scram_credentials([upsert])["carol"].result()
    assert code_of(e) == CLUSTER_AUTH
    any_filter = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    # DescribeAcls (through `fjord acl list`, as ANONYMOUS: confluent-kafka
    # 2.16 returns an empty list for this error answer).
    listed = fjord_cli("acl", "list", "-b", env.plain)
    assert listed.returncode == 1 and "CLUSTER_AUTHORIZATION_FAILED" in listed.stderr, listed.stderr
    mine = acl(ResourceType.TOPIC, uniq("by-alice"), "User:bob", AclOperation.READ)
    with pytest.raises(KafkaException) as e:
        alice.create_acls([mine])[mine].result()
    assert code_of(e) == CLUSTER_AUTH
    with pytest.raises(KafkaException) as e:
        list(alice.delete_acls([any_filter]).values())[0].result()
    assert code_of(e) == CLUSTER_AUTH

    env.grant(acl(ResourceType.BROKER, "kafka-cluster", "User:alice", AclOperation.ALTER),
              acl(ResourceType.BROKER, "kafka-cluster", "User:alice", AclOperation.ALTER_CONFIGS))
    assert "log.retention.ms" in alice.describe_configs([res])[res].result(timeout=20)
    d = alice.describe_cluster(include_authorized_operations=True).result()
    assert AclOperation.DESCRIBE in d.authorized_operations and AclOperation.ALTER in d.authorized_operations
    assert AclOperation.CLUSTER_ACTION not in d.authorized_operations
    env.grant(acl(ResourceType.BROKER, "kafka-cluster", ANON, AclOperation.DESCRIBE))
    corr, r = kw.parse_response_header_v1(kw.roundtrip(env.plain, describe_scram_v0()))
    r.int32()
    assert r.int16() == 0
    r = call(env, describe_log_dirs_v1())
    r.int32()
    assert r.int32() == 1
    listed = fjord_cli("acl", "list", "-b", env.plain, "--format", "json")
    assert listed.returncode == 0 and "User:alice" in listed.stdout, listed.stderr
    alice.alter_user_scram_credentials([upsert])["carol"].result()
    alice.create_acls([mine])[mine].result()
    assert any(b.name == mine.name for b in alice.describe_acls(any_filter).result())
    f = AclBindingFilter(ResourceType.TOPIC, mine.name, ResourcePatternType.LITERAL, None, None,
                         AclOperation.ANY, AclPermissionType.ANY)
    deleted = list(alice.delete_acls([f]).values())[0].result()
    assert [b.name for b in deleted] == [mine.name]


def test_client_quota_apis_need_configs_acls_on_the_cluster(env):
    # DescribeClientQuotas / AlterClientQuotas through `fjord quota`, as ANONYMOUS.
    described = fjord_cli("quota", "describe", "-b", env.plain)
    assert described.returncode == 1 and "CLUSTER_AUTHORIZATION_FAILED" in described.stderr, described.stderr
    altered = fjord_cli("quota", "set", "-b", env.plain, "--user", "q-user", "--producer-byte-rate", "1048576")
    assert altered.returncode == 1 and "CLUSTER_AUTHORIZATION_FAILED" in altered.stderr, altered.stderr
    env.grant(acl(ResourceType.BROKER, "kafka-cluster", ANON, AclOperation.ALTER_CONFIGS))
    altered = fjord_cli("quota", "set", "-b", env.plain, "--user", "q-user", "--producer-byte-rate", "1048576")
    assert altered.returncode == 0, altered.stderr
    described = fjord_cli("quota", "describe", "-b", env.plain)
    assert described.returncode == 0 and "q-user" in described.stdout, described.stderr


# ------------------------------------------------------------------ the matrix: transactions

def test_transactional_apis(env):
    topic, group, txn = uniq("tx-t"), uniq("tx-g"), uniq("tx")
    env.create_topic(topic)

    def producer():
        return Producer(env.conf(ALICE, **{"transactional.id": txn, "transaction.timeout.ms": 30000}))

    # InitProducerId with a transactional id: WRITE on it.
    with pytest.raises(KafkaException) as e:
        producer().init_transactions(15)
    assert code_of(e) == TXN_AUTH
    env.grant(acl(ResourceType.TRANSACTIONAL_ID, txn, "User:alice", AclOperation.WRITE),
              acl(ResourceType.TOPIC, topic, "User:alice", AclOperation.WRITE))
    p = producer()
    p.init_transactions(15)
    p.begin_transaction()
    p.produce(topic, b"in-txn")
    p.flush(15)
    # AddOffsetsToTxn: READ on the group.
    offsets = [TopicPartition(topic, 0, 1)]
    meta = Consumer(env.conf(ADMIN, **{"group.id": group})).consumer_group_metadata()
    with pytest.raises(KafkaException) as e:
        p.send_offsets_to_transaction(offsets, meta, 15)
    assert code_of(e) == GROUP_AUTH
    p.abort_transaction(15)
    # TxnOffsetCommit: READ on the group, then on the topic.
    env.grant(acl(ResourceType.GROUP, group, "User:alice", AclOperation.READ))
    p.begin_transaction()
    with pytest.raises(KafkaException) as e:
        p.send_offsets_to_transaction(offsets, meta, 15)
    assert code_of(e) == TOPIC_AUTH
    p.abort_transaction(15)
    env.grant(acl(ResourceType.TOPIC, topic, "User:alice", AclOperation.READ))
    p.begin_transaction()
    p.produce(topic, b"in-txn-2")
    # AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, then EndTxn.
    p.send_offsets_to_transaction(offsets, meta, 15)
    p.commit_transaction(15)
    committed = env.admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])])[group].result()
    assert committed.topic_partitions[0].offset == 1


def test_transactional_raw_apis(env):
    txn, group, topic = uniq("rawtx"), uniq("rawtx-g"), uniq("rawtx-t")
    env.create_topic(topic)
    r = call(env, end_txn_v0(txn))
    r.int32()
    assert r.int16() == TXN_AUTH
    r = call(env, add_offsets_to_txn_v0(txn, group))
    r.int32()
    assert r.int16() == TXN_AUTH
    assert first_partition_error(call(env, add_partitions_to_txn_v0(txn, topic))) == TXN_AUTH
    assert first_partition_error(call(env, txn_offset_commit_v0(txn, group, topic))) == TXN_AUTH
    env.grant(acl(ResourceType.TRANSACTIONAL_ID, txn, ANON, AclOperation.WRITE))
    # Past the transactional id: the group, then the topic, are checked.
    r = call(env, add_offsets_to_txn_v0(txn, group))
    r.int32()
    assert r.int16() == GROUP_AUTH
    assert first_partition_error(call(env, txn_offset_commit_v0(txn, group, topic))) == GROUP_AUTH
    assert first_partition_error(call(env, add_partitions_to_txn_v0(txn, topic))) == TOPIC_AUTH
    env.grant(acl(ResourceType.GROUP, group, ANON, AclOperation.READ))
    assert first_partition_error(call(env, txn_offset_commit_v0(txn, group, topic))) == TOPIC_AUTH
    env.grant(acl(ResourceType.TOPIC, topic, ANON, AclOperation.ALL))
    # Authorized: the coordinator answers (this producer id is unknown to it).
    r = call(env, end_txn_v0(txn))
    r.int32()
    assert r.int16() not in (0, TXN_AUTH, GROUP_AUTH, TOPIC_AUTH)
    assert first_partition_error(call(env, add_partitions_to_txn_v0(txn, topic))) not in (TXN_AUTH, TOPIC_AUTH)
    assert first_partition_error(call(env, txn_offset_commit_v0(txn, group, topic))) not in (
        TXN_AUTH, GROUP_AUTH, TOPIC_AUTH)


# ------------------------------------------------------------------ matching rules end to end

def produce_ok(env, user, topic) -> int:
    errors = []
    p = Producer(env.conf(user, **{"message.timeout.ms": 8000}))
    p.produce(topic, b"x", on_delivery=lambda err, msg: errors.append(err))
    p.flush(15)
    assert errors, "no delivery report"
    return 0 if errors[0] is None else errors[0].code()


def test_prefixed_deny_wildcard_principal_host_and_super_user(env):
    base = uniq("pfx")
    open_t, secret_t, pub_t, h1, h2, su_t = (f"{base}-open", f"{base}-secret", uniq("pub"), uniq("h1"),
                                             uniq("h2"), uniq("su"))
    for t in (open_t, secret_t, pub_t, h1, h2, su_t):
        env.create_topic(t)
    env.grant(
        acl(ResourceType.TOPIC, base, "User:alice", AclOperation.WRITE, pattern=ResourcePatternType.PREFIXED),
        # DENY wins over the prefixed ALLOW.
        acl(ResourceType.TOPIC, secret_t, "User:alice", AclOperation.WRITE, perm=AclPermissionType.DENY),
        acl(ResourceType.TOPIC, pub_t, "User:*", AclOperation.DESCRIBE),
        acl(ResourceType.TOPIC, h1, "User:bob", AclOperation.DESCRIBE, host="127.0.0.1"),
        acl(ResourceType.TOPIC, h2, "User:bob", AclOperation.DESCRIBE, host="10.9.9.9"),
        # Nobody but super users.
        acl(ResourceType.TOPIC, su_t, "User:*", AclOperation.ALL, perm=AclPermissionType.DENY),
    )
    assert produce_ok(env, ALICE, open_t) == 0
    assert produce_ok(env, ALICE, secret_t) == TOPIC_AUTH
    bob_topics = env.client(BOB).list_topics(timeout=10).topics
    assert pub_t in bob_topics and h1 in bob_topics
    assert h2 not in bob_topics and open_t not in bob_topics
    assert pub_t in env.client(ALICE).list_topics(timeout=10).topics
    assert produce_ok(env, ADMIN, su_t) == 0
    env.grant(acl(ResourceType.TOPIC, su_t, "User:alice", AclOperation.WRITE))
    assert produce_ok(env, ALICE, su_t) == TOPIC_AUTH


def test_denials_are_audited_and_counted(env):
    topic = uniq("audit")
    env.create_topic(topic)
    # Without DESCRIBE, the producer stops at Metadata.
    assert produce_ok(env, BOB, topic) == TOPIC_AUTH
    log = broker_log(env.sb)
    lines = [l for l in log.splitlines() if "authorization denied" in l and topic in l]
    assert lines, "no audit line for the denial"
    assert "User:bob" in lines[0] and "DESCRIBE" in lines[0] and "127.0.0.1" in lines[0]
    env.grant(acl(ResourceType.TOPIC, topic, "User:bob", AclOperation.DESCRIBE))
    assert produce_ok(env, BOB, topic) == TOPIC_AUTH
    log = broker_log(env.sb)
    assert any("authorization denied" in l and topic in l and '"WRITE"' in l for l in log.splitlines())
    text = urllib.request.urlopen(f"{env.sb.broker.http_url}/metrics", timeout=10).read().decode()
    series = [l for l in text.splitlines()
              if l.startswith("fjord_authorization_denials_total") and 'operation="WRITE"' in l
              and 'resource_type="TOPIC"' in l]
    assert series and float(series[0].split()[-1]) >= 1


# ------------------------------------------------------------------ other configurations

def test_without_authorizer_acl_apis_answer_security_disabled(shared_broker):
    admin = AdminClient({"bootstrap.servers": shared_broker.bootstrap})
    b = acl(ResourceType.TOPIC, "t", "User:alice", AclOperation.READ)
    with pytest.raises(KafkaException) as e:
        admin.create_acls([b])[b].result()
    assert code_of(e) == KafkaError.SECURITY_DISABLED
    # DescribeAcls through `fjord acl list` (confluent-kafka 2.16 turns this
    # error answer into an empty list).
    listed = fjord_cli("acl", "list", "-b", shared_broker.bootstrap)
    assert listed.returncode == 1 and "SECURITY_DISABLED" in listed.stderr, listed.stderr
    # And everything else is allowed, as before.
    assert admin.list_topics(timeout=10) is not None


def test_allow_everyone_if_no_acl_found_cli_and_restart(broker_factory):
    import subprocess
    from conftest import fjord_bin
    b = broker_factory(config={
        "authorizer.class.name": "fjord",
        "super.users": "User:admin;User:ops",
        "allow.everyone.if.no.acl.found": "true",
    })
    topic = uniq("open")
    guarded = uniq("guarded")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})  # User:ANONYMOUS, no ACL anywhere yet
    admin.create_topics([NewTopic(topic, 1, 1), NewTopic(guarded, 1, 1)])[topic].result(timeout=20)

    def anon_produce(t) -> int:
        errors = []
        p = Producer({"bootstrap.servers": b.bootstrap, "message.timeout.ms": 8000})
        p.produce(t, b"x", on_delivery=lambda err, msg: errors.append(err))
        p.flush(15)
        return 0 if errors[0] is None else errors[0].code()

    assert anon_produce(topic) == 0
    # `fjord acl create`: an ACL on the topic (for someone else) closes it to ANONYMOUS...
    cli = [str(fjord_bin()), "acl"]
    # ...but first the CLI needs ALTER on the cluster: nobody has an ACL on
    # the cluster, so allow.everyone lets ANONYMOUS create ACLs.
    out = subprocess.run(cli + ["create", "-b", b.bootstrap, "--allow-principal", "User:bob",
                                "--operation", "Write", "--topic", guarded], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert "User:bob" in out.stdout
    assert anon_produce(guarded) == TOPIC_AUTH
    assert anon_produce(topic) == 0
    listed = subprocess.run(cli + ["list", "-b", b.bootstrap, "--format", "json"], capture_output=True,
                            text=True, timeout=30)
    assert listed.returncode == 0 and guarded in listed.stdout
    # ACLs survive a restart.
    b.restart()
    assert anon_produce(guarded) == TOPIC_AUTH
    listed = subprocess.run(cli + ["list", "-b", b.bootstrap, "--topic", guarded], capture_output=True,
                            text=True, timeout=30)
    assert "User:bob" in listed.stdout and "WRITE" in listed.stdout
    deleted = subprocess.run(cli + ["delete", "-b", b.bootstrap, "--topic", guarded], capture_output=True,
                             text=True, timeout=30)
    assert deleted.returncode == 0 and "User:bob" in deleted.stdout
    assert anon_produce(guarded) == 0


def test_unknown_authorizer_class_is_a_startup_error(broker_factory):
    b = broker_factory(start=False, config={"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer"})
    with pytest.raises(Exception):
        b.start(timeout=10)
    assert "unknown authorizer class" in b.log_text()
