"""SASL/OAUTHBEARER (issue 13): unmodified confluent-kafka authenticates
with JWTs the test signs, checked by the broker against a JWKS the test
generates (a file, and an HTTP URL on 127.0.0.1). Expired tokens, the
wrong audience or issuer, an unknown signing key, a symmetric (HS256)
token and a malformed one are refused; the token's `sub` is the
principal; no token reaches the broker's log."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
import urllib.request

import pytest

from helpers import unique_topic
from security_helpers import broker_log, make_pki, start_secure_broker

pytestmark = pytest.mark.timeout(180)

ISSUER = "https://issuer.fjord.test"
AUDIENCE = "fjord"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key, kid: str) -> dict:
    n = key.public_key().public_numbers()
    def as_b64(i: int) -> str:
        return b64url(i.to_bytes((i.bit_length() + 7) // 8, "big"))
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": as_b64(n.n), "e": as_b64(n.e)}


def sign(key, kid: str | None, claims: dict, alg: str = "RS256") -> str:
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.asymmetric import padding
    header = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}".encode()
    if alg == "HS256":
        h = hmac.HMAC(b"shared-secret", hashes.SHA256())
        h.update(signing_input)
        sig = h.finalize()
    else:
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64url(sig)}"


def claims(sub="alice", exp_in=600, aud=AUDIENCE, iss=ISSUER) -> dict:
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + exp_in, "iss": iss}
    if aud is not None:
        c["aud"] = aud
    return c


@pytest.fixture(scope="module")
def keys():
    return {"good": rsa_key(), "foreign": rsa_key()}


def oauth_broker(factory, tmp, keys, jwks_url=None):
    pki = make_pki(tmp / "pki")
    path = tmp / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(keys["good"], "k1")]}))
    config = {
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,OAUTHBEARER",
        "sasl.oauthbearer.jwks.endpoint.url": jwks_url or f"file://{path}",
        "sasl.oauthbearer.expected.audience": AUDIENCE,
        "sasl.oauthbearer.expected.issuer": ISSUER,
    }
    return start_secure_broker(factory, pki, config=config)


def conf(sb, token: str) -> dict:
    return {
        "bootstrap.servers": sb.addr("SASL_PLAINTEXT"),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "OAUTHBEARER",
        "oauth_cb": lambda _cfg: (token, time.time() + 600),
    }


def authenticates(sb, token: str) -> bool:
    """Whether a confluent-kafka admin client with this token gets
    metadata (False as soon as it reports an authentication error)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient
    errors = []
    admin = AdminClient({**conf(sb, token), "error_cb": errors.append})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=0.5)
            return True
        except KafkaException:
            pass
        admin.poll(0)
        if any(e.code() == KafkaError._AUTHENTICATION for e in errors):
            return False
    return False


def test_confluent_kafka_with_a_jwks_file(broker_factory, tmp_path, keys):
    sb = oauth_broker(broker_factory, tmp_path, keys)
    token = sign(keys["good"], "k1", claims())
    topic = unique_topic("oauth")
    values = [b"o-%d" % i for i in range(10)]
    from confluent_kafka import Consumer, Producer
    p = Producer({**conf(sb, token), "linger.ms": 5})
    for v in values:
        p.produce(topic, v)
    assert p.flush(30) == 0
    c = Consumer({**conf(sb, token), "group.id": "oauth-g", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < len(values) and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    assert got == values

    refused = {
        "expired": sign(keys["good"], "k1", claims(exp_in=-600)),
        "wrong audience": sign(keys["good"], "k1", claims(aud="someone-else")),
        "wrong issuer": sign(keys["good"], "k1", claims(iss="https://evil.test")),
        "unknown key": sign(keys["foreign"], "k1", claims()),
        "unknown key id": sign(keys["foreign"], "k9", claims()),
        "HS256": sign(None, "k1", claims(), alg="HS256"),
        "no sub": sign(keys["good"], "k1", {k: v for k, v in claims().items() if k != "sub"}),
        "garbage": "not.a.jwt",
    }
    for what, bad in refused.items():
        assert not authenticates(sb, bad), f"a token with {what} was accepted"
    log = broker_log(sb)
    assert "failed authentication" in log and "OAUTHBEARER" in log
    # No token (or its signature) is ever logged.
    for t in [token, *refused.values()]:
        assert t.rsplit(".", 1)[-1] not in log or t == "not.a.jwt"
    # The broker is still serving.
    assert authenticates(sb, token)


def test_the_principal_is_the_tokens_subject(broker_factory, tmp_path, keys):
    """The principal's name shows where a user quota applies: throttled
    requests are counted under the user the token names."""
    sb = oauth_broker(broker_factory, tmp_path, keys)
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient
    from test_quotas import alter, metric_sum
    token = sign(keys["good"], "k1", claims(sub="carol"))
    # Authenticated first: the throttle of a tiny request quota grows with
    # the handler's time, so on a loaded machine a first Metadata behind it
    # can take seconds.
    admin = AdminClient(conf(sb, token))
    admin.list_topics(timeout=10)
    assert alter(sb.broker, [([("user", "carol")], [("request_percentage", 0.0001, False)])])[0][0] == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=1)
        except KafkaException:
            pass
        if metric_sum(sb.broker, "fjord_client_throttled_requests_total", user="carol") >= 1:
            break
    assert metric_sum(sb.broker, "fjord_client_throttled_requests_total", user="carol") >= 1
    assert metric_sum(sb.broker, "fjord_client_throttled_requests_total", user="ANONYMOUS") == 0


def test_jwks_from_an_http_url_and_a_missing_key_set(broker_factory, tmp_path, keys):
    body = json.dumps({"keys": [jwk(keys["good"], "k1")]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        sb = oauth_broker(broker_factory, tmp_path / "http", keys, jwks_url=url)
        assert authenticates(sb, sign(keys["good"], "k1", claims()))
        assert not authenticates(sb, sign(keys["foreign"], "k2", claims()))
    finally:
        server.shutdown()

    # OAUTHBEARER without a key set, or with one that cannot be read: the
    # broker refuses to start, saying why.
    from conftest import BrokerError
    for extra in ({}, {"sasl.oauthbearer.jwks.endpoint.url": "/nonexistent/jwks.json"}):
        pki = make_pki(tmp_path / f"pki{len(extra)}")
        with pytest.raises(BrokerError):
            start_secure_broker(broker_factory, pki, config={"sasl.enabled.mechanisms": "OAUTHBEARER", **extra},
                                name=f"nokeys{len(extra)}")
    logs = [b.log_text() for b in broker_factory.brokers[-2:]]
    assert "sasl.oauthbearer.jwks.endpoint.url" in logs[0]
    assert "/nonexistent/jwks.json" in logs[1]


def test_the_cli_gets_its_token_from_an_oidc_endpoint(broker_factory, tmp_path, keys):
    """`fjord --command-config` with sasl.mechanism=OAUTHBEARER and
    librdkafka's oidc settings: the CLI asks a token endpoint (a local
    HTTP server of this test: client-credentials grant, Basic auth) and
    authenticates with the JWT it answers; a wrong client secret, or a
    token the broker does not trust, fails clearly without secrets."""
    from cli_runner import cli

    issued = []
    signer = {"key": keys["good"], "kid": "k1"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(p.split("=", 1) for p in self.rfile.read(length).decode().split("&") if "=" in p)
            auth = self.headers.get("Authorization", "")
            ok = auth == "Basic " + base64.b64encode(b"fjord-cli:cli-secret-7").decode()
            if not ok or form.get("grant_type") != "client_credentials":
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error":"invalid_client"}')
                return
            token = sign(signer["key"], signer["kid"], claims(sub="cli-user"))
            issued.append(form.get("scope"))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"access_token": token, "token_type": "bearer",
                                         "expires_in": 600}).encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sb = oauth_broker(broker_factory, tmp_path / "cli", keys)
        url = f"http://127.0.0.1:{server.server_address[1]}/token"

        def props(secret: str):
            p = tmp_path / f"oauth-{secret}.properties"
            p.write_text("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=OAUTHBEARER\n"
                         "sasl.oauthbearer.method=oidc\n"
                         f"sasl.oauthbearer.token.endpoint.url={url}\n"
                         "sasl.oauthbearer.client.id=fjord-cli\n"
                         f"sasl.oauthbearer.client.secret={secret}\n"
                         "sasl.oauthbearer.scope=kafka\n")
            return ["--command-config", str(p), "-b", sb.addr("SASL_PLAINTEXT")]

        topic = unique_topic("oauthcli")
        cli(None, "topic", "create", topic, *props("cli-secret-7"))
        assert topic in cli(None, "topic", "list", *props("cli-secret-7")).stdout
        assert issued and issued[-1] == "kafka"

        bad = cli(None, "topic", "list", *props("wrong-secret"), check=False)
        assert bad.returncode != 0 and "HTTP 401" in bad.stderr and "invalid_client" in bad.stderr, bad.stderr
        assert "wrong-secret" not in bad.stderr

        signer.update(key=keys["foreign"], kid="k2")
        refused = cli(None, "topic", "list", *props("cli-secret-7"), check=False)
        assert refused.returncode != 0 and "authentication with" in refused.stderr, refused.stderr
        assert "eyJ" not in refused.stderr, "the token must not be printed"
    finally:
        server.shutdown()
