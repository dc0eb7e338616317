"""TLS, the rest of issue 13's listener part: PKCS#12 keystores and
truststores, certificate reload when the store files change (no restart),
and ssl.principal.mapping.rules turning a client certificate's subject into
the User: principal the authorizer sees.

Certificates are made here with `cryptography` (its own small CA, chosen
subjects and serials); PKCS#12 files with pkcs12.serialize_key_and_certificates."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient, NewTopic,
                                   ResourcePatternType, ResourceType)

import kafka_wire as kw
from helpers import ck_consume, ck_produce, kcat, unique_topic, wait_until
from security_helpers import broker_log, start_secure_broker

STORE_PW = "p12-store-secret"


# ------------------------------------------------------------------ a small CA

def _name(dn: dict) -> x509.Name:
    oids = {"CN": NameOID.COMMON_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "O": NameOID.ORGANIZATION_NAME}
    # The RFC 2253 string lists the last RDN first: build in reverse.
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in reversed(list(dn.items()))])


@dataclass
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


class Ca:
    def __init__(self, name: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(hours=1))
                     .not_valid_after(now + datetime.timedelta(days=2))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, dn: dict, *, server: bool, serial: int | None = None) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(_name(dn)).issuer_name(self.cert.subject)
             .public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                critical=False)
            b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        else:
            b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        return Issued(key, b.sign(self.key, hashes.SHA256()))


def p12(issued: Issued | None, cas: list[x509.Certificate], password: str = STORE_PW, legacy: bool = False) -> bytes:
    if legacy:
        # What older OpenSSL and keytool write: PBES1 3DES, SHA-1 MAC.
        enc = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
               .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
               .build(password.encode()))
    else:
        enc = serialization.BestAvailableEncryption(password.encode())
    return pkcs12.serialize_key_and_certificates(
        b"fjord", issued.key if issued else None, issued.cert if issued else None, cas or None, enc)


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class Files:
    dir: Path
    ca: Ca
    server: Issued

    def path(self, name: str) -> Path:
        return self.dir / name

    def client(self, dn: dict, ca: Ca | None = None) -> tuple[Path, Path]:
        """A client certificate and key (PEM files) for confluent-kafka / ssl."""
        issued = (ca or self.ca).issue(dn, server=False)
        stem = "-".join(dn.values()).replace(" ", "_")
        cert, key = self.dir / f"client-{stem}.pem", self.dir / f"client-{stem}.key"
        cert.write_bytes(issued.cert_pem())
        key.write_bytes(issued.key_pem())
        return cert, key


def make_files(tmp_path: Path) -> Files:
    d = tmp_path / "pki"
    d.mkdir(parents=True, exist_ok=True)
    ca = Ca("fjord e2e CA")
    (d / "ca.pem").write_bytes(ca.pem())
    server = ca.issue({"CN": "localhost"}, server=True)
    return Files(d, ca, server)


def ssl_conf(sb, files: Files, client: tuple[Path, Path] | None = None, ca_pem: Path | None = None) -> dict:
    conf = {"bootstrap.servers": sb.addr("SSL"), "security.protocol": "SSL",
            "ssl.ca.location": str(ca_pem or files.path("ca.pem"))}
    if client:
        conf["ssl.certificate.location"], conf["ssl.key.location"] = str(client[0]), str(client[1])
    return conf


def peer_serial(sb) -> int:
    """The serial of the certificate a fresh TLS connection is served."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", sb.ports["SSL"]), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            der = s.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


# ------------------------------------------------------------------ 1. PKCS#12

@pytest.mark.parametrize("legacy", [False, True], ids=["pbes2-aes", "pbes1-3des"])
def test_pkcs12_keystore_serves_confluent_kafka_and_kcat(broker_factory, tmp_path, legacy):
    files = make_files(tmp_path)
    ks = files.path("server.p12")
    ks.write_bytes(p12(files.server, [files.ca.cert], legacy=legacy))
    sb = start_secure_broker(broker_factory, _pki_stub(files), config={
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(ks),
        "ssl.keystore.password": STORE_PW,
        "ssl.key.password": STORE_PW,
    })
    topic = unique_topic("p12")
    conf = ssl_conf(sb, files)
    ck_produce(conf["bootstrap.servers"], topic, [b"one", b"two"], conf=conf)
    assert ck_consume(conf["bootstrap.servers"], topic, 2, conf=conf).values() == [b"one", b"two"]
    out = kcat("-b", sb.addr("SSL"), "-X", "security.protocol=SSL", "-X", f"ssl.ca.location={files.path('ca.pem')}",
               "-C", "-t", topic, "-o", "beginning", "-c", "2", "-e", "-q")
    assert out.stdout.split() == [b"one", b"two"]
    # The certificate served is the one in the PKCS12 file.
    assert peer_serial(sb) == files.server.cert.serial_number
    assert STORE_PW not in broker_log(sb)


def test_pkcs12_truststore_for_mtls(broker_factory, tmp_path):
    files = make_files(tmp_path)
    ks, ts = files.path("server.p12"), files.path("trust.p12")
    ks.write_bytes(p12(files.server, [files.ca.cert]))
    ts.write_bytes(p12(None, [files.ca.cert], password="trust-secret"))
    sb = start_secure_broker(broker_factory, _pki_stub(files), config={
        "ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(ks), "ssl.keystore.password": STORE_PW,
        "ssl.truststore.type": "PKCS12", "ssl.truststore.location": str(ts),
        "ssl.truststore.password": "trust-secret",
        "ssl.client.auth": "required",
    }, env={"FJORD_LOG": "info,fjord_broker::connection=debug"})
    topic = unique_topic("p12-mtls")
    good = ssl_conf(sb, files, client=files.client({"CN": "trusted-client", "O": "acme"}))
    ck_produce(good["bootstrap.servers"], topic, [b"m"], conf=good)
    wait_until(lambda: "User:CN=trusted-client,O=acme" in broker_log(sb), desc="mTLS principal logged")
    # A client certificate from another CA: refused in the handshake.
    foreign = ssl_conf(sb, files, client=files.client({"CN": "stranger"}, ca=Ca("other CA")))
    p = Producer({**foreign, "message.timeout.ms": 3000})
    errors = []
    p.produce(topic, b"x", on_delivery=lambda err, msg: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None
    log = broker_log(sb)
    assert "TLS handshake failed" in log
    assert "trust-secret" not in log and STORE_PW not in log


@pytest.mark.parametrize("case,expect", [
    ("wrong-password", "wrong password"),
    ("corrupt", "not a PKCS#12 file"),
    ("no-key", "holds no private key"),
    ("no-password", "ssl.keystore.password is not set"),
])
def test_unusable_pkcs12_keystore_is_a_clear_startup_error(broker_factory, tmp_path, case, expect):
    files = make_files(tmp_path)
    ks = files.path("server.p12")
    cfg = {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(ks), "ssl.keystore.password": STORE_PW}
    if case == "wrong-password":
        ks.write_bytes(p12(files.server, [files.ca.cert], password="another-secret"))
    elif case == "corrupt":
        ks.write_bytes(b"\x30\x82\x01\x00 this is not a PKCS12 file at all")
    elif case == "no-key":
        ks.write_bytes(p12(None, [files.ca.cert]))
    else:
        ks.write_bytes(p12(files.server, [files.ca.cert]))
        del cfg["ssl.keystore.password"]
    with pytest.raises(Exception):
        start_secure_broker(broker_factory, _pki_stub(files), config=cfg)
    b = broker_factory.brokers[-1]
    log = b.log_text()
    assert expect in log, log[-2000:]
    assert "ssl.keystore" in log
    # The password never reaches the log (the harness's command line holds
    # no config values: they are in the config file).
    assert STORE_PW not in log and "another-secret" not in log


# ------------------------------------------------------------------ 2. reload

def test_certificates_reload_when_the_files_change(broker_factory, tmp_path):
    files = make_files(tmp_path)
    ks = files.path("server.p12")
    cert_a = files.ca.issue({"CN": "localhost", "O": "A"}, server=True, serial=0xA11CE)
    ks.write_bytes(p12(cert_a, [files.ca.cert]))
    sb = start_secure_broker(broker_factory, _pki_stub(files), config={
        "ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(ks), "ssl.keystore.password": STORE_PW,
        "fjord.ssl.reload.interval.ms": 300,
    })
    assert peer_serial(sb) == 0xA11CE
    # A connection opened on A stays usable after the swap.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(files.path("ca.pem")))
    old = ctx.wrap_socket(socket.create_connection(("127.0.0.1", sb.ports["SSL"]), timeout=5),
                          server_hostname="localhost")
    # B: from a new CA, written atomically as a deployment tool would.
    ca2 = Ca("second CA")
    files.path("ca2.pem").write_bytes(ca2.pem())
    cert_b = ca2.issue({"CN": "localhost", "O": "B"}, server=True, serial=0xB0B)
    write_atomically(ks, p12(cert_b, [ca2.cert]))
    wait_until(lambda: peer_serial(sb) == 0xB0B, timeout=10, desc="the broker serves certificate B")
    assert "new connections use the reloaded certificate" in broker_log(sb)
    # Real clients trust B through its CA; the old connection still answers.
    topic = unique_topic("reload")
    conf = ssl_conf(sb, files, ca_pem=files.path("ca2.pem"))
    ck_produce(conf["bootstrap.servers"], topic, [b"after-reload"], conf=conf)
    old.sendall(kw.api_versions_request(version=0, correlation_id=7))
    payload = kw.read_frame(old, timeout=5)
    assert payload is not None and payload[:4] == (7).to_bytes(4, "big")
    assert x509.load_der_x509_certificate(old.getpeercert(binary_form=True)).serial_number == 0xA11CE
    old.close()
    # Garbage in the file: logged (which file, why), B keeps serving.
    ks.write_bytes(b"garbage, not a keystore")
    wait_until(lambda: "cannot be used; the previous certificate keeps serving" in broker_log(sb), timeout=10,
               desc="the broken keystore is logged")
    log = broker_log(sb)
    line = next(l for l in log.splitlines() if "cannot be used" in l)
    assert str(ks) in line and "not a PKCS#12 file" in line, line
    for _ in range(3):
        assert peer_serial(sb) == 0xB0B
    ck_produce(conf["bootstrap.servers"], topic, [b"still-serving"], conf=conf)
    assert ck_consume(conf["bootstrap.servers"], topic, 2, conf=conf).values() == [b"after-reload", b"still-serving"]
    # Fixed again: C is picked up.
    cert_c = ca2.issue({"CN": "localhost", "O": "C"}, server=True, serial=0xC0C)
    write_atomically(ks, p12(cert_c, [ca2.cert]))
    wait_until(lambda: peer_serial(sb) == 0xC0C, timeout=10, desc="the broker serves certificate C")
    assert STORE_PW not in broker_log(sb)


def test_truststore_reload_admits_clients_of_a_new_ca(broker_factory, tmp_path):
    files = make_files(tmp_path)
    ks, ts = files.path("server.pem"), files.path("trust.pem")
    ks.write_bytes(files.server.key_pem() + files.server.cert_pem())
    ts.write_bytes(files.ca.pem())
    sb = start_secure_broker(broker_factory, _pki_stub(files), config={
        "ssl.keystore.location": str(ks), "ssl.truststore.location": str(ts),
        "ssl.client.auth": "required", "fjord.ssl.reload.interval.ms": 300,
    })
    ca2 = Ca("partner CA")
    partner = ssl_conf(sb, files, client=files.client({"CN": "partner"}, ca=ca2))
    topic = unique_topic("trust-reload")

    def produce_as_partner() -> bool:
        p = Producer({**partner, "message.timeout.ms": 2000})
        errors = []
        p.produce(topic, b"p", on_delivery=lambda err, msg: errors.append(err))
        p.flush(5)
        return bool(errors) and errors[0] is None

    assert not produce_as_partner()
    write_atomically(ts, files.ca.pem() + ca2.pem())
    wait_until(produce_as_partner, timeout=20, interval=0.5, desc="a client of the new CA is admitted")


# ------------------------------------------------------------------ 3. principal mapping

RULES = "RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1/L,DEFAULT"


def test_principal_mapping_rules_give_the_acls_of_the_mapped_user(broker_factory, tmp_path):
    files = make_files(tmp_path)
    ks = files.path("server.pem")
    ks.write_bytes(files.server.key_pem() + files.server.cert_pem())
    sb = start_secure_broker(broker_factory, _pki_stub(files), config={
        "ssl.keystore.location": str(ks), "ssl.truststore.location": str(files.path("ca.pem")),
        "ssl.client.auth": "required",
        "ssl.principal.mapping.rules": RULES,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin",
    }, env={"FJORD_LOG": "info,fjord_broker::connection=debug"})
    # CN=Admin,OU=ops,O=acme maps to "admin": the super user.
    admin = AdminClient(ssl_conf(sb, files, client=files.client({"CN": "Admin", "OU": "ops", "O": "acme"})))
    topic = unique_topic("mapped")
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=20)
    binding = AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice", "*",
                         AclOperation.WRITE, AclPermissionType.ALLOW)
    for f in admin.create_acls([binding], request_timeout=20).values():
        f.result()
    # alice's certificate (CN=alice,OU=eng,O=acme) is User:alice: allowed.
    alice = ssl_conf(sb, files, client=files.client({"CN": "alice", "OU": "eng", "O": "acme"}))
    ck_produce(alice["bootstrap.servers"], topic, [b"from-alice"], conf=alice)
    wait_until(lambda: "principal=User:alice" in broker_log(sb), desc="alice's mapped principal logged")
    # Another CN of the same OU and O is User:mallory: no ACL.
    mallory = ssl_conf(sb, files, client=files.client({"CN": "Mallory", "OU": "eng", "O": "acme"}))
    p = Producer({**mallory, "message.timeout.ms": 5000})
    errors = []
    p.produce(topic, b"x", on_delivery=lambda err, msg: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None and errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, errors
    # A subject the rule does not fit falls to DEFAULT: the whole DN.
    other = ssl_conf(sb, files, client=files.client({"CN": "svc"}))
    p = Producer({**other, "message.timeout.ms": 5000})
    errors = []
    p.produce(topic, b"y", on_delivery=lambda err, msg: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None and errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    wait_until(lambda: "principal=User:CN=svc" in broker_log(sb), desc="DEFAULT principal logged")
    # Only alice's record is in the topic.
    got = ck_consume(sb.addr("SSL"), topic, 1,
                     conf=ssl_conf(sb, files, client=files.client({"CN": "Admin", "OU": "ops", "O": "acme"})))
    assert got.values() == [b"from-alice"]


def test_a_certificate_no_rule_applies_to_is_refused(broker_factory, tmp_path):
    files = make_files(tmp_path)
    ks = files.path("server.pem")
    ks.write_bytes(files.server.key_pem() + files.server.cert_pem())
    sb = start_secure_broker(broker_factory, _pki_stub(files), config={
        "ssl.keystore.location": str(ks), "ssl.truststore.location": str(files.path("ca.pem")),
        "ssl.client.auth": "required",
        "ssl.principal.mapping.rules": "RULE:^CN=(.*?),OU=eng,O=acme$/$1/U",
    })
    topic = unique_topic("nomatch")
    bob = ssl_conf(sb, files, client=files.client({"CN": "bob", "OU": "eng", "O": "acme"}))
    ck_produce(bob["bootstrap.servers"], topic, [b"b"], conf=bob)
    outsider = ssl_conf(sb, files, client=files.client({"CN": "eve", "OU": "sales", "O": "acme"}))
    p = Producer({**outsider, "message.timeout.ms": 3000})
    errors = []
    p.produce(topic, b"e", on_delivery=lambda err, msg: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None
    log = broker_log(sb)
    assert "client certificate refused" in log and "CN=eve,OU=sales,O=acme" in log


def test_invalid_mapping_rules_are_a_startup_error(broker_factory, tmp_path):
    files = make_files(tmp_path)
    ks = files.path("server.pem")
    ks.write_bytes(files.server.key_pem() + files.server.cert_pem())
    with pytest.raises(Exception):
        start_secure_broker(broker_factory, _pki_stub(files), config={
            "ssl.keystore.location": str(ks),
            "ssl.principal.mapping.rules": "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U, DEFAULT",
        })
    log = broker_factory.brokers[-1].log_text()
    assert "ssl.principal.mapping.rules" in log and "invalid rule" in log, log[-2000:]


# ------------------------------------------------------------------ glue

@dataclass
class _Stub:
    """What start_secure_broker reads of a Pki: its PEM defaults, which
    each test overrides."""
    keystore: Path
    ca_pem: Path


def _pki_stub(files: Files) -> _Stub:
    ks = files.path("default-server.pem")
    if not ks.exists():
        ks.write_bytes(files.server.key_pem() + files.server.cert_pem())
    return _Stub(ks, files.path("ca.pem"))
