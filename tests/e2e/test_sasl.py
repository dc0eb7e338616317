"""SASL (issue 13): PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 over
SASL_PLAINTEXT and SASL_SSL with unmodified clients; refusals (wrong
password, unknown user, unknown mechanism, an absurd token, a request
before authentication) leave the broker serving and no password in its
log; AlterUserScramCredentials/DescribeUserScramCredentials through
confluent-kafka's AdminClient; credentials survive a restart."""

from __future__ import annotations

import struct
import time

import pytest

import kafka_wire as kw
from helpers import ck_consume, ck_produce, kcat, unique_topic
from security_helpers import (ADMIN, ALICE, broker_log, ck_conf, int16_at, make_pki, read_response,
                              sasl_handshake_frame, start_secure_broker)

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secure(tmp_path_factory, pki):
    from conftest import BrokerFactory, _finish
    factory = BrokerFactory(tmp_path_factory.mktemp("sasl"))
    sb = start_secure_broker(factory, pki)
    yield sb
    log = broker_log(sb)
    _finish(factory)
    for secret in (ADMIN[1], ALICE[1], "not-the-password"):
        assert secret not in log, f"a password ({secret}) reached the broker log"


def assert_no_secret_in_log(sb):
    log = broker_log(sb)
    for secret in (ADMIN[1], ALICE[1], "not-the-password"):
        assert secret not in log


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_confluent_kafka_produces_and_consumes(secure, pki, protocol, mechanism):
    topic = unique_topic("sasl")
    user = ALICE if mechanism == "SCRAM-SHA-512" else ADMIN
    conf = ck_conf(secure, pki, protocol, mechanism, user)
    values = [b"%s-%d" % (mechanism.encode(), i) for i in range(10)]
    ck_produce(conf["bootstrap.servers"], topic, values, conf=conf)
    assert ck_consume(conf["bootstrap.servers"], topic, 10, conf=conf).values() == values


def test_kcat_kafka_python_and_aiokafka_authenticate(secure, pki):
    # kcat uses PLAIN here: Debian's kcat (librdkafka 2.0.2) fails SCRAM against
    # fjord ("nonce differs" in the broker log): librdkafka before 2.6.1 repeats
    # the client nonce in its client-final message (librdkafka#4895), which
    # Kafka 4 also refuses. confluent-kafka 2.16's librdkafka, kafka-python and
    # aiokafka pass SCRAM.
    topic = unique_topic("sasl-clients")
    kcat("-b", secure.addr("SASL_SSL"), "-X", "security.protocol=SASL_SSL", "-X", f"ssl.ca.location={pki.ca_pem}",
         "-X", "sasl.mechanism=PLAIN", "-X", f"sasl.username={ALICE[0]}", "-X", f"sasl.password={ALICE[1]}",
         "-P", "-t", topic, input="k1\nk2\n")
    from kafka import KafkaProducer, KafkaConsumer
    p = KafkaProducer(bootstrap_servers=secure.addr("SASL_PLAINTEXT"), security_protocol="SASL_PLAINTEXT",
                      sasl_mechanism="SCRAM-SHA-256", sasl_plain_username=ADMIN[0], sasl_plain_password=ADMIN[1])
    p.send(topic, b"kp1").get(timeout=20)
    p.close()
    c = KafkaConsumer(topic, bootstrap_servers=secure.addr("SASL_SSL"), security_protocol="SASL_SSL",
                      ssl_cafile=str(pki.ca_pem), sasl_mechanism="PLAIN", sasl_plain_username=ADMIN[0],
                      sasl_plain_password=ADMIN[1], auto_offset_reset="earliest", consumer_timeout_ms=8000)
    try:
        got = [m.value for m in c]
    finally:
        c.close()
    assert sorted(got) == [b"k1", b"k2", b"kp1"]

    import asyncio
    from aiokafka import AIOKafkaConsumer

    async def consume():
        ac = AIOKafkaConsumer(topic, bootstrap_servers=secure.addr("SASL_PLAINTEXT"),
                              security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                              sasl_plain_username=ALICE[0], sasl_plain_password=ALICE[1],
                              auto_offset_reset="earliest")
        await ac.start()
        try:
            out = []
            deadline = time.monotonic() + 15
            while len(out) < 3 and time.monotonic() < deadline:
                batch = await ac.getmany(timeout_ms=1000)
                for msgs in batch.values():
                    out += [m.value for m in msgs]
            return out
        finally:
            await ac.stop()
    assert sorted(asyncio.run(consume())) == [b"k1", b"k2", b"kp1"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("who", ["wrong-password", "unknown-user"])
def test_bad_credentials_are_refused_and_logged_without_the_password(secure, pki, mechanism, who):
    from confluent_kafka.admin import AdminClient
    user = (ADMIN[0], "not-the-password") if who == "wrong-password" else ("mallory", "not-the-password")
    before = broker_log(secure).count("failed authentication")
    conf = ck_conf(secure, pki, "SASL_PLAINTEXT", mechanism, user)
    md_error = None
    try:
        AdminClient(conf).list_topics(timeout=3)
    except Exception as e:  # noqa: BLE001 - any failure is what we want
        md_error = e
    assert md_error is not None
    deadline = time.monotonic() + 5
    while broker_log(secure).count("failed authentication") <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    log = broker_log(secure)
    assert log.count("failed authentication") > before
    lines = [l for l in log.splitlines() if "failed authentication" in l and f'user="{user[0]}"' in l]
    assert lines and "peer=127.0.0.1" in lines[-1]
    assert_no_secret_in_log(secure)
    # Still serving.
    ok = ck_conf(secure, pki, "SASL_PLAINTEXT", mechanism, ADMIN if mechanism != "SCRAM-SHA-512" else ALICE)
    AdminClient(ok).list_topics(timeout=10)


def _raw_plain_auth(sock, user: str, password: str, correlation_id: int = 3):
    token = b"\0" + user.encode() + b"\0" + password.encode()
    sock.sendall(kw.encode_request(36, 1, correlation_id, struct.pack(">i", len(token)) + token))
    return read_response(sock)


def test_failed_authentication_is_answered_with_58_after_the_delay_then_closed(secure):
    with kw.connect(secure.addr("SASL_PLAINTEXT")) as s:
        s.sendall(sasl_handshake_frame("PLAIN"))
        resp = read_response(s)
        assert int16_at(resp, 4) == 0
        started = time.monotonic()
        resp = _raw_plain_auth(s, ADMIN[0], "not-the-password")
        elapsed = time.monotonic() - started
        assert int16_at(resp, 4) == 58  # SASL_AUTHENTICATION_FAILED
        (msg_len,) = struct.unpack(">h", resp[6:8])
        message = resp[8:8 + msg_len].decode()
        assert "not-the-password" not in message and "Authentication failed" in message
        assert elapsed >= 0.09, elapsed  # connection.failed.authentication.delay.ms = 100
        assert kw.wait_closed(s, 5)


def test_plain_succeeds_over_raw_frames_and_then_requests_are_served(secure):
    with kw.connect(secure.addr("SASL_PLAINTEXT")) as s:
        s.sendall(sasl_handshake_frame("PLAIN"))
        assert int16_at(read_response(s), 4) == 0
        resp = _raw_plain_auth(s, ADMIN[0], ADMIN[1])
        assert int16_at(resp, 4) == 0
        s.sendall(kw.metadata_request_v1([], correlation_id=9))
        assert read_response(s) is not None


def test_an_unknown_mechanism_is_refused_with_33_and_the_list(secure):
    with kw.connect(secure.addr("SASL_PLAINTEXT")) as s:
        s.sendall(sasl_handshake_frame("GSSAPI"))
        resp = read_response(s)
        assert int16_at(resp, 4) == 33  # UNSUPPORTED_SASL_MECHANISM
        assert b"SCRAM-SHA-512" in resp and b"PLAIN" in resp
        assert kw.wait_closed(s, 5)


def test_a_100_mb_token_is_refused_before_it_is_read(secure):
    with kw.connect(secure.addr("SASL_PLAINTEXT")) as s:
        s.sendall(sasl_handshake_frame("SCRAM-SHA-256"))
        assert int16_at(read_response(s), 4) == 0
        # A SaslAuthenticate frame announcing 100 MB, of which only a little follows.
        s.sendall(struct.pack(">i", 100 * 1024 * 1024) + b"\0" * 1024)
        assert kw.wait_closed(s, 5)
    assert "larger than sasl.server.max.receive.size" in broker_log(secure)
    assert kw.api_versions(secure.addr("SASL_PLAINTEXT")).error_code == 0


def test_requests_before_authentication_close_the_connection(secure):
    # ApiVersions is allowed before authentication...
    assert kw.api_versions(secure.addr("SASL_PLAINTEXT")).error_code == 0
    # ...Metadata is not.
    with kw.connect(secure.addr("SASL_PLAINTEXT")) as s:
        s.sendall(kw.metadata_request_v1([], correlation_id=2))
        assert kw.wait_closed(s, 5)
    assert "request before SASL authentication" in broker_log(secure)
    # SaslAuthenticate without a handshake: ILLEGAL_SASL_STATE, then closed.
    with kw.connect(secure.addr("SASL_PLAINTEXT")) as s:
        resp = _raw_plain_auth(s, ADMIN[0], ADMIN[1])
        assert int16_at(resp, 4) == 34
        assert kw.wait_closed(s, 5)


def test_scram_users_are_managed_with_the_admin_api_and_survive_a_restart(broker_factory, pki):
    from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialDeletion, UserScramCredentialUpsertion)
    from confluent_kafka import KafkaException
    sb = start_secure_broker(broker_factory, pki)
    admin = AdminClient(ck_conf(sb, pki, "SASL_SSL", "SCRAM-SHA-256", ADMIN))
    futures = admin.alter_user_scram_credentials([
        UserScramCredentialUpsertion("carol", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), b"carol-pw"),
        UserScramCredentialUpsertion("dave", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 1000), b"dave-pw"),
        UserScramCredentialDeletion("nobody", ScramMechanism.SCRAM_SHA_256),
    ])
    futures["carol"].result(timeout=10)
    with pytest.raises(KafkaException) as too_few:
        futures["dave"].result(timeout=10)
    assert too_few.value.args[0].code() == 93  # UNACCEPTABLE_CREDENTIAL
    with pytest.raises(KafkaException) as missing:
        futures["nobody"].result(timeout=10)
    assert missing.value.args[0].code() == 91  # RESOURCE_NOT_FOUND

    described = admin.describe_user_scram_credentials(["carol", "admin", "ghost"])
    carol = described["carol"].result(timeout=10)
    assert [(i.mechanism, i.iterations) for i in carol.scram_credential_infos] == [(ScramMechanism.SCRAM_SHA_256, 4096)]
    admin_infos = described["admin"].result(timeout=10).scram_credential_infos
    assert sorted((i.mechanism, i.iterations) for i in admin_infos) == [
        (ScramMechanism.SCRAM_SHA_256, 4096), (ScramMechanism.SCRAM_SHA_512, 8192)]
    with pytest.raises(KafkaException) as ghost:
        described["ghost"].result(timeout=10)
    assert ghost.value.args[0].code() == 91

    topic = unique_topic("carol")
    carol_conf = ck_conf(sb, pki, "SASL_PLAINTEXT", "SCRAM-SHA-256", ("carol", "carol-pw"))
    ck_produce(carol_conf["bootstrap.servers"], topic, [b"by-carol"], conf=carol_conf)
    text = (sb.broker.data_dir / "meta" / "scram-credentials.json").read_text()
    assert "carol-pw" not in text and "carol" in text

    sb.broker.restart()
    ck_produce(carol_conf["bootstrap.servers"], topic, [b"after-restart"], conf=carol_conf)
    assert ck_consume(carol_conf["bootstrap.servers"], topic, 2, conf=carol_conf).values() == [b"by-carol", b"after-restart"]
    all_users = admin.describe_user_scram_credentials().result(timeout=10)
    assert sorted(all_users) == ["admin", "alice", "carol"]
    admin.alter_user_scram_credentials([UserScramCredentialDeletion("carol", ScramMechanism.SCRAM_SHA_256)])["carol"].result(timeout=10)
    with pytest.raises(Exception):
        from confluent_kafka.admin import AdminClient as A
        A({**carol_conf, "socket.timeout.ms": 3000}).list_topics(timeout=3)


def test_describe_configs_marks_secrets_sensitive(broker_factory, pki):
    from confluent_kafka.admin import AdminClient, ConfigResource
    inline_key = pki.keystore.read_text()
    sb = start_secure_broker(broker_factory, pki, config={
        "ssl.truststore.location": "",
        "ssl.truststore.certificates": pki.ca_pem.read_text(),
    })
    admin = AdminClient({"bootstrap.servers": sb.addr("PLAINTEXT")})
    res = ConfigResource(ConfigResource.Type.BROKER, "1")
    configs = admin.describe_configs([res])[res].result(timeout=10)
    trust = configs["ssl.truststore.certificates"]
    assert trust.is_sensitive and trust.value is None
    assert configs["listeners"].value.startswith("PLAINTEXT://127.0.0.1:")
    assert "SASL_SSL://" in configs["listeners"].value
    assert configs["sasl.enabled.mechanisms"].value == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    assert configs["listener.security.protocol.map"].value.startswith("PLAINTEXT:PLAINTEXT")
    assert "BEGIN CERTIFICATE" not in broker_log(sb)
    assert inline_key  # the file keystore is used; inline PEM is only described
