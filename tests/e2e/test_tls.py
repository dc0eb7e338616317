"""TLS listeners (issue 13): SSL with unmodified clients, mTLS with
ssl.client.auth=required, metadata advertising the listener a client came
through, and garbage on either kind of port refused cleanly."""

from __future__ import annotations

import socket
import ssl
import time

import pytest

import kafka_wire as kw
from helpers import ck_consume, ck_produce, kcat, unique_topic, wait_until
from security_helpers import broker_log, ck_conf, client_ssl_context, make_pki, set_listeners, start_secure_broker


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def secure(broker_factory, pki):
    return start_secure_broker(broker_factory, pki)


def test_ssl_listener_serves_confluent_kafka_kcat_and_kafka_python(secure, pki):
    topic = unique_topic("tls")
    conf = ck_conf(secure, pki, "SSL")
    ck_produce(conf["bootstrap.servers"], topic, [b"ck-%d" % i for i in range(20)], conf=conf)
    kcat("-b", secure.addr("SSL"), "-X", "security.protocol=SSL", "-X", f"ssl.ca.location={pki.ca_pem}",
         "-P", "-t", topic, input="kcat-1\nkcat-2\n")
    got = ck_consume(conf["bootstrap.servers"], topic, 22, conf=conf)
    assert sorted(got.values()) == sorted([b"ck-%d" % i for i in range(20)] + [b"kcat-1", b"kcat-2"])
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=secure.addr("SSL"), security_protocol="SSL",
                      ssl_cafile=str(pki.ca_pem), auto_offset_reset="earliest", consumer_timeout_ms=8000)
    try:
        values = [m.value for m in c]
    finally:
        c.close()
    assert len(values) == 22


def test_metadata_advertises_the_listener_the_client_came_through(secure, pki):
    from confluent_kafka.admin import AdminClient
    for name in ("PLAINTEXT", "SSL"):
        conf = ck_conf(secure, pki, name) if name == "SSL" else {"bootstrap.servers": secure.addr(name)}
        md = AdminClient(conf).list_topics(timeout=10)
        ports = [b.port for b in md.brokers.values()]
        assert ports == [secure.ports[name]], (name, ports)


def test_plaintext_bytes_on_the_tls_port_are_refused_and_the_broker_still_serves(secure, pki):
    with kw.connect(secure.addr("SSL")) as s:
        s.sendall(kw.api_versions_request(3))
        assert kw.wait_closed(s, 10), "broker kept a plaintext connection on its TLS port open"
    # The failed handshake drops the socket before the broker logs it.
    wait_until(lambda: "TLS handshake failed" in broker_log(secure), timeout=5,
               desc="the failed handshake in the broker's log")
    # Still serving TLS.
    with socket.create_connection(("127.0.0.1", secure.ports["SSL"]), timeout=5) as raw:
        with client_ssl_context(pki).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(kw.api_versions_request(3))
            assert kw.read_frame(s, 10) is not None
            assert s.version() in ("TLSv1.2", "TLSv1.3")


def test_a_tls_client_hello_on_the_plaintext_port_is_refused(secure, pki):
    raw = socket.create_connection(("127.0.0.1", secure.ports["PLAINTEXT"]), timeout=5)
    ctx = client_ssl_context(pki)
    with pytest.raises((ssl.SSLError, OSError)):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    raw.close()
    wait_until(lambda: "TLS handshake on a listener without TLS" in broker_log(secure), timeout=5,
               desc="the refused ClientHello in the broker's log")
    assert kw.api_versions(secure.addr("PLAINTEXT")).error_code == 0


def test_old_tls_versions_are_refused(secure, pki):
    ctx = client_ssl_context(pki)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", secure.ports["SSL"]), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_mtls_required_refuses_a_client_without_a_certificate(broker_factory, pki):
    sb = start_secure_broker(broker_factory, pki, config={"ssl.client.auth": "required"},
                             env={"FJORD_LOG": "info,fjord_broker::connection=debug"})
    topic = unique_topic("mtls")
    # Without a certificate: the handshake fails, nothing is produced.
    from confluent_kafka import Producer
    p = Producer({**ck_conf(sb, pki, "SSL"), "message.timeout.ms": 3000})
    errors = []
    p.produce(topic, b"x", on_delivery=lambda err, msg: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None
    assert "TLS handshake failed" in broker_log(sb)
    # With one signed by the truststore's CA: served, principal from its subject.
    conf = ck_conf(sb, pki, "SSL", client_cert=True)
    ck_produce(conf["bootstrap.servers"], topic, [b"a", b"b"], conf=conf)
    assert ck_consume(conf["bootstrap.servers"], topic, 2, conf=conf).values() == [b"a", b"b"]
    deadline = time.monotonic() + 5
    while "User:CN=e2e-client" not in broker_log(sb) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "User:CN=e2e-client" in broker_log(sb)


def test_a_tls_listener_without_a_keystore_is_a_clear_startup_error(broker_factory, pki):
    b = broker_factory(start=False, extra_args=[])
    set_listeners(b, f"PLAINTEXT://{b.bootstrap},SSL://127.0.0.1:0", f"PLAINTEXT://{b.bootstrap}")
    with pytest.raises(Exception):
        b.start(timeout=10)
    assert "ssl.keystore.location" in b.log_text()
