"""Security, the rest of issue 13: encrypted PEM keystores and the
connection_creation_rate quota of ip entities (KIP-612).

1. A PEM keystore whose private key is encrypted PKCS#8 (`ENCRYPTED PRIVATE
   KEY`, made here with `cryptography`: PBES2, AES-256-CBC, PBKDF2-SHA256,
   what `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes) opens with
   `ssl.key.password`, from `ssl.keystore.location` and inline
   `ssl.keystore.key`; confluent-kafka produces and consumes over SSL. A
   wrong password, or a legacy `Proc-Type: 4,ENCRYPTED` key, stops the
   broker with a message naming the key and the file, never the password.
2. AlterClientQuotas sets `connection_creation_rate` = 5 for 127.0.0.1
   (raw frames: no Python client has the quota APIs); 20 raw connections
   in a burst, each sending ApiVersions: only the first 5 are answered, the
   others are held unread and closed; 127.0.0.2 (the client socket bound
   to it) is unaffected; after the window new connections are answered;
   DescribeClientQuotas lists the entity; the `<default>` ip entity limits
   every other address; removal lifts the limit. The broker runs with
   `quota.window.num = 2` so a rate is measured over one second (with
   Kafka's default of 11 windows a fresh address may open 10 s worth at
   once: 50 at 5/s, see the unit tests).
"""

from __future__ import annotations

import socket
import time

import pytest
from cryptography.hazmat.primitives import serialization

import kafka_wire as kw
from helpers import ck_consume, ck_produce, unique_topic
from conftest import free_ports
from security_helpers import SecureBroker, broker_log, make_pki, set_listeners, toml_text
from test_quotas import alter, describe, metric_sum

pytestmark = pytest.mark.timeout(180)

KEY_PW = "pem-key-secret-42"


# ------------------------------------------------------------------ 1. encrypted PEM keys

def encrypted_keystore(pki, password: str, legacy: bool = False) -> tuple[bytes, bytes]:
    """(encrypted key PEM, certificate chain PEM) of the server in `pki`."""
    text = pki.keystore.read_bytes()
    start = text.index(b"-----BEGIN CERTIFICATE-----")
    key = serialization.load_pem_private_key(text[:start], password=None)
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if legacy else serialization.PrivateFormat.PKCS8
    enc = key.private_bytes(serialization.Encoding.PEM, fmt,
                            serialization.BestAvailableEncryption(password.encode()))
    return enc, text[start:]


def start_ssl_broker(factory, cfg: dict) -> SecureBroker:
    """A broker with PLAINTEXT (the fixture's port) and SSL listeners and
    the given ssl.* settings."""
    b = factory(start=False, config=toml_text(cfg))
    (ssl_port,) = free_ports(1)
    set_listeners(b, f"PLAINTEXT://127.0.0.1:{b.kafka_port},SSL://127.0.0.1:{ssl_port}")
    b.start()
    return SecureBroker(b, {"PLAINTEXT": b.kafka_port, "SSL": ssl_port})


def ssl_roundtrip(sb, pki) -> None:
    conf = {"security.protocol": "SSL", "ssl.ca.location": str(pki.ca_pem)}
    topic = unique_topic("enc-key")
    ck_produce(sb.addr("SSL"), topic, [b"over-tls-1", b"over-tls-2"], conf=conf)
    got = ck_consume(sb.addr("SSL"), topic, 2, conf=conf)
    assert got.values() == [b"over-tls-1", b"over-tls-2"], got


def test_encrypted_pkcs8_keystore_file_serves_confluent_kafka(broker_factory, tmp_path):
    pki = make_pki(tmp_path / "pki")
    key, chain = encrypted_keystore(pki, KEY_PW)
    assert key.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    ks = tmp_path / "encrypted.pem"
    ks.write_bytes(key + chain)
    sb = start_ssl_broker(broker_factory, {"ssl.keystore.location": str(ks), "ssl.key.password": KEY_PW})
    ssl_roundtrip(sb, pki)
    assert KEY_PW not in broker_log(sb)


def test_encrypted_inline_keystore_key_serves_confluent_kafka(broker_factory, tmp_path):
    pki = make_pki(tmp_path / "pki")
    key, chain = encrypted_keystore(pki, KEY_PW)
    cfg = {"ssl.keystore.key": key.decode(), "ssl.keystore.certificate.chain": chain.decode(),
           "ssl.key.password": KEY_PW}
    sb = start_ssl_broker(broker_factory, cfg)
    ssl_roundtrip(sb, pki)
    assert KEY_PW not in broker_log(sb)


@pytest.mark.parametrize("case,expect", [
    ("wrong-password", "with ssl.key.password (wrong password?)"),
    ("no-password", "is encrypted: set ssl.key.password"),
    ("legacy", "openssl pkcs8 -topk8"),
])
def test_unusable_encrypted_key_is_a_clear_startup_error(broker_factory, tmp_path, case, expect):
    pki = make_pki(tmp_path / "pki")
    key, chain = encrypted_keystore(pki, KEY_PW, legacy=case == "legacy")
    ks = tmp_path / "encrypted.pem"
    ks.write_bytes(key + chain)
    cfg = {"ssl.keystore.location": str(ks), "ssl.key.password": KEY_PW}
    if case == "wrong-password":
        cfg["ssl.key.password"] = "not-the-key-pw-77"
    elif case == "no-password":
        del cfg["ssl.key.password"]
    with pytest.raises(Exception):
        start_ssl_broker(broker_factory, cfg)
    b = broker_factory.brokers[-1]
    assert not b.is_running()
    log = b.log_text()
    assert expect in log, log[-2000:]
    # The message names the setting and the file, never the password.
    assert "ssl.keystore.location" in log and str(ks) in log, log[-2000:]
    assert KEY_PW not in log and "not-the-key-pw-77" not in log


# ------------------------------------------------------------------ 2. connection_creation_rate

RATE = "connection_creation_rate"


def burst(broker, n: int, source: str = "127.0.0.1", wait: float = 3.0) -> tuple[int, int]:
    """Opens n connections from `source` at once, each sending ApiVersions;
    returns (answered, closed unanswered), reading for up to `wait` seconds
    in all (a connection neither answered nor closed by then counts in
    neither)."""
    socks = []
    try:
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((source, 0))
            s.settimeout(5)
            s.connect((broker.host, broker.kafka_port))
            s.sendall(kw.api_versions_request(version=3, correlation_id=i + 1))
        answered = closed = 0
        deadline = time.monotonic() + wait
        for s in socks:
            try:
                frame = kw.read_frame(s, timeout=max(0.05, deadline - time.monotonic()))
            except (ConnectionResetError, BrokenPipeError, ConnectionError):
                closed += 1
                continue
            except (TimeoutError, socket.timeout):
                continue
            if frame is None:
                closed += 1
            else:
                answered += 1
        return answered, closed
    finally:
        for s in socks:
            s.close()


def window_passes() -> None:
    # Two windows of 1 s: every sample of the burst has expired.
    time.sleep(2.2)


def test_ip_connection_creation_rate_quota(broker_factory):
    b = broker_factory(config={"quota.window.num": 2})
    assert burst(b, 20) == (20, 0)  # no quota yet
    window_passes()
    res = alter(b, [([("ip", "127.0.0.1")], [(RATE, 5, False)])])
    assert [r[0] for r in res] == [0], res
    window_passes()

    t0 = time.monotonic()
    answered, closed = burst(b, 20)
    assert answered == 5 and closed == 15, (answered, closed)
    # Throttled connections are closed after at most one window.
    assert time.monotonic() - t0 < 3.0
    # Another address keeps its own (unlimited) rate.
    assert burst(b, 20, source="127.0.0.2") == (20, 0)
    assert metric_sum(b, "fjord_connections_refused_total", reason=RATE) >= 15
    assert "over the connection_creation_rate quota" in b.log_text()

    window_passes()
    assert burst(b, 3) == (3, 0)
    window_passes()
    code, listed = describe(b, [("ip", 0, "127.0.0.1")], strict=True)
    assert code == 0 and listed == {(("ip", "127.0.0.1"),): {RATE: 5.0}}, listed

    # The <default> ip entity: every other address, each on its own.
    window_passes()
    res = alter(b, [([("ip", None)], [(RATE, 3, False)])])
    assert [r[0] for r in res] == [0], res
    assert burst(b, 10, source="127.0.0.2")[0] == 3
    assert burst(b, 10, source="127.0.0.3")[0] == 3
    window_passes()
    code, listed = describe(b, [("ip", 2, None)])
    assert code == 0 and listed == {(("ip", "127.0.0.1"),): {RATE: 5.0}, (("ip", None),): {RATE: 3.0}}
    # An ip filter component never goes with user or client-id.
    assert describe(b, [("ip", 2, None), ("user", 2, None)])[0] == 42

    # Quotas survive a restart (the harness's readiness probe connects
    # from 127.0.0.1 too: let its window pass first).
    b.restart()
    window_passes()
    assert burst(b, 10)[0] == 5
    window_passes()
    res = alter(b, [([("ip", "127.0.0.1")], [(RATE, 0, True)]), ([("ip", None)], [(RATE, 0, True)])])
    assert [r[0] for r in res] == [0, 0], res
    assert burst(b, 20) == (20, 0)


def test_ip_quota_entities_are_validated_as_kafka_does(broker_factory):
    b = broker_factory()
    res = alter(b, [
        ([("ip", "127.0.0.1"), ("user", "bob")], [(RATE, 5, False)]),
        ([("ip", "not-an-address.example")], [(RATE, 5, False)]),
        ([("ip", "127.0.0.1")], [("producer_byte_rate", 1024, False)]),
        ([("ip", "127.0.0.1")], [(RATE, 2.5, False)]),
        ([("user", "bob")], [(RATE, 5, False)]),
        ([("ip", "::1")], [(RATE, 7, False)]),
    ])
    assert [r[0] for r in res] == [42, 42, 42, 42, 42, 0], res
    assert "should not be combined" in res[0][1]
    assert "not a valid IP address" in res[1][1]
    assert "Invalid configuration key" in res[2][1] and "Invalid configuration key" in res[4][1]
    assert "fractional" in res[3][1]
    code, listed = describe(b, [])
    assert code == 0 and listed == {(("ip", "::1"),): {RATE: 7.0}}


def test_cli_sets_describes_and_removes_ip_quotas(broker_factory):
    from cli_runner import cli, cli_json

    b = broker_factory(config={"quota.window.num": 2})
    cli(b, "quota", "set", "--ip", "127.0.0.2", "--connection-creation-rate", "3")
    cli(b, "quota", "set", "--ip-default", "--connection-creation-rate", "50")
    code, listed = describe(b, [("ip", 2, None)])
    assert code == 0 and listed == {(("ip", "127.0.0.2"),): {RATE: 3.0}, (("ip", None),): {RATE: 50.0}}, listed
    assert cli_json(b, "quota", "describe", "--ip", "127.0.0.2") == [
        {"entity": [{"type": "ip", "name": "127.0.0.2"}], "quotas": {RATE: 3.0}}]
    # In force: 127.0.0.2 gets 3 of a burst of 10.
    window_passes()
    assert burst(b, 10, source="127.0.0.2")[0] == 3
    # Kafka refuses an ip entity with a user or client id: so does the CLI.
    bad = cli(b, "quota", "set", "--ip", "127.0.0.2", "--user", "u", "--connection-creation-rate", "1",
              check=False)
    assert bad.returncode != 0 and "cannot be used with" in bad.stderr, bad.stderr
    cli(b, "quota", "set", "--ip", "127.0.0.2", "--delete", RATE)
    window_passes()
    assert burst(b, 10, source="127.0.0.2") == (10, 0)
    assert describe(b, [("ip", 0, "127.0.0.2")])[1] == {}
