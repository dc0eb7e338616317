"""The fjord CLI over TLS and SASL (issue 13): `--command-config` with
Kafka/librdkafka client names, the security flags, `fjord user
create|delete|list` (SCRAM), and `fjord_authentication_total` on /metrics.

One broker with PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners, the
StandardAuthorizer and `User:admin` as the only super user. The CLI logs in
as admin; a user it creates logs in with confluent-kafka (an independent
client); after its deletion that login fails. Failures (wrong password,
wrong CA) must be one line on stderr, exit code != 0, no secret in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
import trustme

from conftest import fjord_bin
from helpers import ck_consume, unique_topic, wait_until
from security_helpers import ADMIN, ALICE, Pki, broker_log, ck_conf, make_pki, start_secure_broker

STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
BOB_PW = "bob-the-builder-pw"
TIMEOUT = 60


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def sb(tmp_path_factory, pki):
    from conftest import BrokerFactory, _finish
    factory = BrokerFactory(tmp_path_factory.mktemp("cli-sec"))
    b = start_secure_broker(factory, pki, config={
        "authorizer.class.name": STANDARD,
        "super.users": "User:admin",
        # Client certificates are asked for, not required: mTLS logins count too.
        "ssl.client.auth": "requested",
    })
    yield b
    log = broker_log(b)
    _finish(factory)
    for secret in (ADMIN[1], ALICE[1], BOB_PW):
        assert secret not in log, f"a password ({secret}) reached the broker log"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def admin_properties(tmp_path: Path, pki) -> Path:
    """Kafka's own client file for a SASL_SSL admin: JAAS line, PEM truststore."""
    return write(tmp_path / "admin.properties", f"""
# the admin's client settings, as kafka-topics --command-config reads them
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
    username="{ADMIN[0]}" password="{ADMIN[1]}";
ssl.truststore.type=PEM
ssl.truststore.location={pki.ca_pem}
""")


def cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [str(fjord_bin()), *args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FJORD_")}
    full_env.update(env or {})
    try:
        cp = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, env=full_env, stdin=subprocess.DEVNULL,
                            text=True)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} timed out: {e.stderr!r}", pytrace=False)
    assert "panicked" not in cp.stderr, cp.stderr
    if check and cp.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed (exit {cp.returncode})\nstdout: {cp.stdout}\nstderr: {cp.stderr}",
                    pytrace=False)
    return cp


def failure(cp: subprocess.CompletedProcess, *needles: str, secrets=()) -> str:
    assert cp.returncode != 0, f"expected a failure, got exit 0: {cp.stdout}"
    # Warnings about ignored settings come first, on lines of their own.
    err = "\n".join(l for l in cp.stderr.strip().splitlines() if not l.startswith("fjord: warning: "))
    assert err.startswith("fjord: ") and "\n" not in err, f"not one line: {cp.stderr!r}"
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"
    for s in secrets:
        assert s not in err, f"a secret in the error: {err!r}"
    return err


def auth_counts(sb, listener: str, mechanism: str) -> tuple[float, float]:
    text = urllib.request.urlopen(f"{sb.broker.http_url}/metrics", timeout=10).read().decode()
    got = {"success": 0.0, "failure": 0.0}
    for line in text.splitlines():
        if not line.startswith("fjord_authentication_total{"):
            continue
        if f'listener="{listener}"' in line and f'mechanism="{mechanism}"' in line:
            for result in got:
                if f'result="{result}"' in line:
                    got[result] = float(line.split()[-1])
    return got["success"], got["failure"]


def ck_login_ok(conf: dict) -> bool:
    from confluent_kafka.admin import AdminClient
    try:
        AdminClient({**conf, "socket.timeout.ms": 3000}).list_topics(timeout=5)
        return True
    except Exception:  # noqa: BLE001 - any failure means the login failed
        return False


def test_admin_topics_over_sasl_ssl_with_a_kafka_command_config(sb, pki, tmp_path):
    props = admin_properties(tmp_path, pki)
    topic = unique_topic("clisec")
    conn = ["--command-config", str(props), "-b", sb.addr("SASL_SSL")]
    # The file before the verb (as `fjord --command-config F topic create`) or after it.
    cli("--command-config", str(props), "topic", "create", topic, "--partitions", "2", "-b", sb.addr("SASL_SSL"))
    listed = json.loads(cli("topic", "list", "--format", "json", *conn).stdout)
    assert topic in [t["name"] for t in listed]
    listed = json.loads(cli("--command-config", str(props), "topic", "list", "--format", "json",
                            "-b", sb.addr("SASL_SSL")).stdout)
    assert topic in [t["name"] for t in listed]
    # Not for the verbs that talk to no Kafka broker.
    failure(cli("--command-config", str(props), "config", "list", check=False), "--command-config")
    # Produce and consume through the same connection settings, flags after the verb.
    p = subprocess.run([str(fjord_bin()), "produce", topic, *conn], input="a\nb\nc\n", capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    c = cli("consume", topic, "--exit-at-end", *conn)
    assert sorted(c.stdout.split()) == ["a", "b", "c"]
    # An independent client sees the records the CLI wrote.
    conf = ck_conf(sb, pki, "SASL_SSL", "SCRAM-SHA-512", ADMIN)
    assert sorted(ck_consume(conf["bootstrap.servers"], topic, 3, conf=conf).values()) == [b"a", b"b", b"c"]


def test_user_create_list_login_delete(sb, pki, tmp_path):
    props = admin_properties(tmp_path, pki)
    conn = ["--command-config", str(props), "-b", sb.addr("SASL_SSL")]
    bob = f"bob-{uuid.uuid4().hex[:6]}"
    out = cli("user", "create", bob, "--password", BOB_PW, "--mechanism", "SCRAM-SHA-512", "--iterations", "8192",
              *conn).stdout
    assert bob in out and "SCRAM-SHA-512" in out
    assert BOB_PW not in out
    # confluent-kafka logs in as bob with SCRAM-SHA-512 (bob has no ACLs: metadata lists nothing, but the
    # login itself succeeds).
    bob_conf = ck_conf(sb, pki, "SASL_SSL", "SCRAM-SHA-512", (bob, BOB_PW))
    assert ck_login_ok(bob_conf)
    # `user list` shows bob with the mechanism and iterations asked for.
    listed = json.loads(cli("user", "list", "--format", "json", *conn).stdout)
    mine = [u for u in listed if u["user"] == bob]
    assert mine == [{"user": bob, "credentials": [{"mechanism": "SCRAM-SHA-512", "iterations": 8192}]}]
    text = cli("user", "list", bob, *conn).stdout
    assert "USER" in text and bob in text and "8192" in text
    # ... and the super user from --add-scram with both mechanisms.
    admin = [u for u in listed if u["user"] == ADMIN[0]]
    assert {c["mechanism"] for c in admin[0]["credentials"]} == {"SCRAM-SHA-256", "SCRAM-SHA-512"}
    # Delete (every mechanism bob has): bob's login fails from then on.
    out = cli("user", "delete", bob, *conn).stdout
    assert "Deleted" in out and bob in out
    assert not ck_login_ok(bob_conf)
    # Per-user errors from the broker: listing or deleting an unknown user.
    err = failure(cli("user", "list", bob, *conn, check=False), bob)
    assert "RESOURCE_NOT_FOUND" in err
    failure(cli("user", "delete", bob, "--mechanism", "SCRAM-SHA-256", *conn, check=False), bob)
    # Bad arguments are refused before the broker is asked.
    failure(cli("user", "create", "x", "--password", "p", "--iterations", "100", *conn, check=False), "100")


def test_user_create_both_mechanisms_by_default_and_password_updates(sb, pki, tmp_path):
    props = admin_properties(tmp_path, pki)
    conn = ["--command-config", str(props), "-b", sb.addr("SASL_SSL")]
    carol = f"carol-{uuid.uuid4().hex[:6]}"
    cli("user", "create", carol, *conn, env={"FJORD_USER_PASSWORD": "carol-pw-1"})
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"):
        assert ck_login_ok(ck_conf(sb, pki, "SASL_PLAINTEXT", mech, (carol, "carol-pw-1"))), mech
    cli("user", "create", carol, "--password", "carol-pw-2", "--mechanism", "SCRAM-SHA-256", *conn)
    assert ck_login_ok(ck_conf(sb, pki, "SASL_PLAINTEXT", "SCRAM-SHA-256", (carol, "carol-pw-2")))
    assert not ck_login_ok(ck_conf(sb, pki, "SASL_PLAINTEXT", "SCRAM-SHA-256", (carol, "carol-pw-1")))
    cli("user", "delete", carol, *conn)


def test_wrong_password_is_a_clear_cli_error(sb, pki, tmp_path):
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"):
        cp = cli("topic", "list", "-b", sb.addr("SASL_SSL"), "--security-protocol", "SASL_SSL",
                 "--ssl-ca", str(pki.ca_pem), "--sasl-mechanism", mech, "--sasl-username", ADMIN[0],
                 "--sasl-password", "not-the-password", check=False)
        err = failure(cp, "authentication with", sb.addr("SASL_SSL"), "SASL_AUTHENTICATION_FAILED",
                      secrets=("not-the-password", ADMIN[1]))
        assert cp.returncode == 1, err
    # The password from the environment when neither flag nor file gives one.
    ok = cli("topic", "list", "-b", sb.addr("SASL_PLAINTEXT"), "--security-protocol", "SASL_PLAINTEXT",
             "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", ADMIN[0],
             env={"FJORD_SASL_PASSWORD": ADMIN[1]})
    assert ok.returncode == 0
    # SASL settings without a password: a usage error naming the fallback.
    cp = cli("topic", "list", "-b", sb.addr("SASL_PLAINTEXT"), "--security-protocol", "SASL_PLAINTEXT",
             "--sasl-mechanism", "PLAIN", "--sasl-username", ADMIN[0], check=False)
    failure(cp, "FJORD_SASL_PASSWORD")
    assert cp.returncode == 2


def test_ssl_with_a_wrong_ca_fails_clearly_the_right_one_and_mtls_work(sb, pki, tmp_path):
    other = trustme.CA()
    wrong_ca = tmp_path / "other-ca.pem"
    other.cert_pem.write_to_path(str(wrong_ca))
    cp = cli("topic", "list", "-b", sb.addr("SSL"), "--security-protocol", "SSL", "--ssl-ca", str(wrong_ca),
             check=False)
    failure(cp, "TLS handshake with", sb.addr("SSL"), "not signed by a trusted CA")
    # The right CA works; mTLS with the client certificate too.
    cli("topic", "list", "-b", sb.addr("SSL"), "--security-protocol", "SSL", "--ssl-ca", str(pki.ca_pem))
    cli("topic", "list", "-b", sb.addr("SSL"), "--security-protocol", "SSL", "--ssl-ca", str(pki.ca_pem),
        "--ssl-cert", str(pki.client_cert), "--ssl-key", str(pki.client_key))


def test_hostname_verification_and_its_off_switch(broker_factory, pki, tmp_path):
    """A broker whose certificate names only broker.example: refused by
    default when reached as 127.0.0.1, accepted with
    ssl.endpoint.identification.algorithm=none (the chain is still checked)."""
    foreign = pki.ca.issue_cert("broker.example")
    keystore = tmp_path / "foreign.pem"
    keystore.write_bytes(foreign.private_key_pem.bytes() + b"".join(c.bytes() for c in foreign.cert_chain_pems))
    other = Pki(pki.ca, pki.ca_pem, keystore, pki.client_cert, pki.client_key)
    sb2 = start_secure_broker(broker_factory, other)
    props = write(tmp_path / "ssl.properties", f"security.protocol=SSL\nssl.ca.location={pki.ca_pem}\n")
    cp = cli("topic", "list", "-b", sb2.addr("SSL"), "--command-config", str(props), check=False)
    failure(cp, "TLS handshake with", "not valid for", "ssl.endpoint.identification.algorithm")
    props_off = write(tmp_path / "ssl-off.properties",
                      f"security.protocol=SSL\nssl.ca.location={pki.ca_pem}\nssl.endpoint.identification.algorithm=none\n")
    cli("topic", "list", "-b", sb2.addr("SSL"), "--command-config", str(props_off))
    # Off or not, a chain from another CA is refused.
    wrong_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(wrong_ca))
    cp = cli("topic", "list", "-b", sb2.addr("SSL"), "--security-protocol", "SSL", "--ssl-ca", str(wrong_ca),
             "--command-config", str(props_off), check=False)
    failure(cp, "not signed by a trusted CA")


def test_plaintext_client_on_a_tls_port_and_tls_on_plaintext_fail_clearly(sb, pki):
    cp = cli("topic", "list", "-b", sb.addr("PLAINTEXT"), "--security-protocol", "SSL", "--ssl-ca", str(pki.ca_pem),
             check=False)
    failure(cp, "TLS handshake with", "is this a TLS listener?")
    cp = cli("topic", "list", "-b", sb.addr("SSL"), "--timeout", "5", check=False)
    failure(cp, "cannot connect")
    # No SASL on a SASL listener: the broker hangs up at the first request; the error says why that may be.
    cp = cli("topic", "list", "-b", sb.addr("SASL_PLAINTEXT"), "--timeout", "5", check=False)
    failure(cp, "closed the connection", "require SASL or TLS")
    # SASL on a listener without it.
    cp = cli("topic", "list", "-b", sb.addr("PLAINTEXT"), "--security-protocol", "SASL_PLAINTEXT",
             "--sasl-mechanism", "PLAIN", "--sasl-username", ADMIN[0], "--sasl-password", ADMIN[1], check=False)
    failure(cp, "authentication with", "does not take SASL", secrets=(ADMIN[1],))


def test_plain_over_sasl_plaintext_and_command_config_errors(sb, pki, tmp_path):
    props = write(tmp_path / "plain.properties", f"""
security.protocol=SASL_PLAINTEXT
sasl.mechanisms=PLAIN
sasl.username={ALICE[0]}
sasl.password={ALICE[1]}
client.id=ignored-here
""")
    cp = cli("cluster", "info", "--format", "json", "-b", sb.addr("SASL_PLAINTEXT"), "--command-config", str(props))
    assert json.loads(cp.stdout)["brokers"]
    assert "warning: ignoring client.id" in cp.stderr
    # ACL commands go through the same settings: alice is no super user.
    cp = cli("acl", "list", "-b", sb.addr("SASL_PLAINTEXT"), "--command-config", str(props), check=False)
    failure(cp, "CLUSTER_AUTHORIZATION_FAILED")
    # Flags override the file: admin (a super user) may list ACLs.
    cli("acl", "list", "-b", sb.addr("SASL_PLAINTEXT"), "--command-config", str(props), "--sasl-username", ADMIN[0],
        "--sasl-password", ADMIN[1])
    # A typo in the file is named; its value is not shown.
    bad = write(tmp_path / "typo.properties", "security.protocol=SASL_PLAINTEXT\nsasl.pasword=hunter2-typo\n")
    cp = cli("topic", "list", "-b", sb.addr("SASL_PLAINTEXT"), "--command-config", str(bad), check=False)
    failure(cp, "unknown client setting", "sasl.pasword", secrets=("hunter2-typo",))
    assert cp.returncode == 2


def test_authentication_metrics_count_one_success_and_one_failure(sb, pki):
    listener, mech = "SASL_PLAINTEXT", "SCRAM-SHA-256"
    ok0, bad0 = auth_counts(sb, listener, mech)
    base = ["topic", "list", "-b", sb.addr(listener), "--security-protocol", listener, "--sasl-mechanism", mech,
            "--sasl-username", ADMIN[0]]
    cli(*base, "--sasl-password", ADMIN[1])
    failure(cli(*base, "--sasl-password", "not-the-password", check=False), "SASL_AUTHENTICATION_FAILED")
    wait_until(lambda: auth_counts(sb, listener, mech) == (ok0 + 1, bad0 + 1), 5, 0.1,
               "authentication counters moved by one each")
    # Nothing else moved them: another listener's series is apart.
    assert auth_counts(sb, listener, mech) == (ok0 + 1, bad0 + 1)


def test_mtls_handshakes_are_counted_on_the_ssl_listener(sb, pki, tmp_path):
    ok0, bad0 = auth_counts(sb, "SSL", "SSL")
    base = ["topic", "list", "-b", sb.addr("SSL"), "--security-protocol", "SSL", "--ssl-ca", str(pki.ca_pem)]
    cli(*base, "--ssl-cert", str(pki.client_cert), "--ssl-key", str(pki.client_key))
    # A certificate from a CA the broker does not trust.
    intruder = trustme.CA().issue_cert("intruder@example", common_name="intruder")
    cert, key = tmp_path / "intruder.pem", tmp_path / "intruder.key"
    cert.write_bytes(b"".join(c.bytes() for c in intruder.cert_chain_pems))
    key.write_bytes(intruder.private_key_pem.bytes())
    failure(cli(*base, "--ssl-cert", str(cert), "--ssl-key", str(key), check=False), sb.addr("SSL"))
    # Without a certificate ("requested"): neither an mTLS success nor a failure.
    cli(*base)
    wait_until(lambda: auth_counts(sb, "SSL", "SSL") == (ok0 + 1, bad0 + 1), 5, 0.1,
               "mTLS counters moved by one each")


def test_an_encrypted_client_key_with_ssl_key_password(sb, pki, tmp_path):
    """ssl.key.password opens an encrypted PKCS#8 client key (PBES2, as
    Python's cryptography and `openssl pkcs8 -topk8 -v2` write it): the
    mTLS handshake succeeds (the broker counts it); a wrong or missing
    password is a clear error that never shows the password."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pki.client_key.read_bytes(), password=None)
    encrypted = tmp_path / "client-encrypted.key"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"key-secret-42")))
    assert b"ENCRYPTED PRIVATE KEY" in encrypted.read_bytes()

    def props(name: str, password: str | None) -> Path:
        lines = [f"security.protocol=SSL", f"ssl.ca.location={pki.ca_pem}",
                 f"ssl.certificate.location={pki.client_cert}", f"ssl.key.location={encrypted}"]
        if password is not None:
            lines.append(f"ssl.key.password={password}")
        return write(tmp_path / name, "\n".join(lines) + "\n")

    ok0, bad0 = auth_counts(sb, "SSL", "SSL")
    cli("topic", "list", "-b", sb.addr("SSL"), "--command-config", str(props("good.properties", "key-secret-42")))
    wait_until(lambda: auth_counts(sb, "SSL", "SSL")[0] == ok0 + 1, 5, 0.1, "the mTLS handshake counted")
    wrong = cli("topic", "list", "-b", sb.addr("SSL"), "--command-config", str(props("bad.properties", "nope")),
                check=False)
    failure(wrong, "cannot decrypt the private key", str(encrypted))
    assert "nope" not in wrong.stderr
    missing = cli("topic", "list", "-b", sb.addr("SSL"), "--command-config", str(props("none.properties", None)),
                  check=False)
    failure(missing, "is encrypted: set ssl.key.password")
    assert auth_counts(sb, "SSL", "SSL") == (ok0 + 1, bad0), "no handshake was tried with an unreadable key"
