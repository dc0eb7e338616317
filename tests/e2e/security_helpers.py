"""Helpers of the TLS and SASL tests: certificates made by the test itself
(trustme), a broker with one listener per security protocol, and client
configs for confluent-kafka, kafka-python, aiokafka and kcat."""

from __future__ import annotations

import re
import socket
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path

import trustme

from conftest import free_ports

ADMIN = ("admin", "admin-secret")
ALICE = ("alice", "alice-wonderland-pw")


@dataclass
class Pki:
    ca: trustme.CA
    ca_pem: Path
    keystore: Path
    client_cert: Path
    client_key: Path


def make_pki(workdir: Path) -> Pki:
    workdir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example", common_name="e2e-client")
    ca_pem = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    keystore = workdir / "server.pem"
    # Kafka's PEM keystore: private key and certificate chain in one file.
    keystore.write_bytes(server.private_key_pem.bytes() + b"".join(c.bytes() for c in server.cert_chain_pems))
    client_cert = workdir / "client.pem"
    client_key = workdir / "client.key"
    client_cert.write_bytes(b"".join(c.bytes() for c in client.cert_chain_pems))
    client_key.write_bytes(client.private_key_pem.bytes())
    return Pki(ca, ca_pem, keystore, client_cert, client_key)


@dataclass
class SecureBroker:
    broker: object
    ports: dict  # listener name -> port

    def addr(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"


def start_secure_broker(factory, pki: Pki, *, config=None, extra_args=(), env=None, name=None) -> SecureBroker:
    """A broker with PLAINTEXT (the fixture's port), SSL, SASL_PLAINTEXT and
    SASL_SSL listeners, and the admin and alice users (--add-scram)."""
    cfg = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca_pem),
    }
    cfg.update(config or {})
    args = [
        "--add-scram", f"SCRAM-SHA-256=[name={ADMIN[0]},password={ADMIN[1]}]",
        "--add-scram", f"SCRAM-SHA-512=[name={ADMIN[0]},iterations=8192,password={ADMIN[1]}]",
        "--add-scram", f"SCRAM-SHA-512=[name={ALICE[0]},password={ALICE[1]}]",
    ] + list(extra_args)
    b = factory(start=False, config=toml_text(cfg), extra_args=args, env=env, name=name)
    ssl_port, sasl_port, sasl_ssl_port = free_ports(3)
    ports = {"PLAINTEXT": b.kafka_port, "SSL": ssl_port, "SASL_PLAINTEXT": sasl_port, "SASL_SSL": sasl_ssl_port}
    listeners = ",".join(f"{n}://127.0.0.1:{p}" for n, p in ports.items())
    set_listeners(b, listeners)
    b.start()
    return SecureBroker(b, ports)


def set_listeners(b, listeners: str, advertised: str | None = None) -> None:
    """Makes the not-yet-started broker `b` listen on `listeners` (Kafka's
    `NAME://host:port,...`) instead of its one PLAINTEXT port, advertising
    `advertised` (default: the same)."""
    plain_command = b.command

    def command():
        cmd = plain_command()
        cmd[cmd.index("--listen") + 1] = listeners
        cmd[cmd.index("--advertise") + 1] = advertised or listeners
        return cmd

    b.command = command


def broker_log(sb: SecureBroker) -> str:
    """The broker's own log lines (ANSI colours removed; the harness's
    command lines, which carry --add-scram, left out)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", sb.broker.log_text())
    return "\n".join(l for l in text.splitlines() if not l.startswith("===== fjord e2e"))


def jaas(mechanism: str, user: tuple[str, str]) -> str:
    """Kafka's sasl.jaas.config value for PLAIN or SCRAM."""
    module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mechanism == "PLAIN"
              else "org.apache.kafka.common.security.scram.ScramLoginModule")
    return f'{module} required username="{user[0]}" password="{user[1]}";'


def inter_broker_sasl(listener: str, mechanism: str, user: tuple[str, str]) -> dict:
    """The settings of a broker that authenticates to the others as `user`
    over `listener` with `mechanism` (Kafka's names)."""
    return {
        "inter.broker.listener.name": listener,
        "sasl.mechanism.inter.broker.protocol": mechanism,
        f"listener.name.{listener.lower()}.{mechanism.lower()}.sasl.jaas.config": jaas(mechanism, user),
    }


def toml_text(config: dict) -> str:
    """TOML of string/int settings; multi-line strings (inline PEM) as literals."""
    out = []
    for k, v in config.items():
        if isinstance(v, str) and "\n" in v:
            out.append(f'"{k}" = \'\'\'{v}\'\'\'')
        elif isinstance(v, str) and '"' in v:
            # A JAAS login (username="x" password="y"): a literal string.
            out.append(f'"{k}" = \'{v}\'')
        elif isinstance(v, str):
            out.append(f'"{k}" = "{v}"')
        else:
            out.append(f'"{k}" = {v}')
    return "\n".join(out) + "\n"


def ck_conf(sb: SecureBroker, pki: Pki, protocol: str, mechanism: str | None = None,
            user: tuple[str, str] | None = None, client_cert: bool = False) -> dict:
    conf = {"bootstrap.servers": sb.addr(protocol), "security.protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        conf["ssl.ca.location"] = str(pki.ca_pem)
        if client_cert:
            conf["ssl.certificate.location"] = str(pki.client_cert)
            conf["ssl.key.location"] = str(pki.client_key)
    if mechanism:
        conf["sasl.mechanism"] = mechanism
        conf["sasl.username"], conf["sasl.password"] = user or ADMIN
    return conf


def client_ssl_context(pki: Pki, client_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_pem))
    if client_cert:
        ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return ctx


def sasl_handshake_frame(mechanism: str, version: int = 1, correlation_id: int = 1) -> bytes:
    from kafka_wire import encode_request, string
    return encode_request(17, version, correlation_id, string(mechanism))


def read_response(sock: socket.socket, timeout: float = 5.0) -> bytes | None:
    from kafka_wire import read_frame
    return read_frame(sock, timeout=timeout)


def int16_at(payload: bytes, at: int) -> int:
    return struct.unpack(">h", payload[at:at + 2])[0]
