"""Malformed and hostile input on raw sockets: the broker must stay up and keep serving."""

import random
import socket
import struct
import threading
import time

import pytest

import kafka_wire as kw
from helpers import ck_consume, ck_produce, kcat, unique_topic

CLOSE_TIMEOUT = 10.0


def assert_serving(broker):
    """The broker is alive and a normal client round-trip works on new connections."""
    broker.assert_alive()
    resp = kw.api_versions(broker.bootstrap, version=0)
    assert resp.error_code == 0 and 18 in resp.apis
    topic = unique_topic("after-bad-input")
    ck_produce(broker.bootstrap, topic, [b"still", b"serving"])
    assert sorted(ck_consume(broker.bootstrap, topic, 2).values()) == [b"serving", b"still"]
    kcat("-b", broker.bootstrap, "-L", "-m", "10")


def closed_or_answered(sock, timeout=CLOSE_TIMEOUT) -> str:
    """'closed' if the broker closes the connection, 'answered' if it sends a frame."""
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    try:
        data = sock.recv(4)
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    except socket.timeout:
        pytest.fail(f"broker neither answered nor closed the connection within {timeout}s")
    if not data:
        return "closed"
    # drain whatever follows until close or a quiet period
    while time.monotonic() < deadline:
        try:
            sock.settimeout(0.5)
            if not sock.recv(65536):
                break
        except socket.timeout:
            break
        except OSError:
            break
    return "answered"


def test_api_versions_v0_and_v3_list_required_apis(broker):
    for version in (0, 1, 2, 3):
        resp = kw.api_versions(broker.bootstrap, version=version)
        assert resp.correlation_id == 7
        assert resp.error_code == 0, f"ApiVersions v{version} error {resp.error_code}"
        missing = {k: n for k, n in kw.REQUIRED_APIS.items() if k not in resp.apis}
        assert not missing, f"ApiVersions v{version} does not list {missing}"
        lo, hi = resp.apis[18]
        assert lo == 0 and hi >= 3, f"ApiVersions range {lo}..{hi}"
        for key, (lo, hi) in resp.apis.items():
            assert 0 <= lo <= hi, f"bad range for api {key}: {lo}..{hi}"


def test_api_versions_unsupported_version_kip511(broker):
    """An ApiVersions version the broker does not know: error 35 + ranges in a v0 body."""
    frame = kw.api_versions_request(version=127, correlation_id=4242)
    payload = kw.roundtrip(broker.bootstrap, frame)
    assert payload is not None, "broker closed the connection instead of answering (KIP-511)"
    resp = kw.parse_api_versions_response(payload, version=0)
    assert resp.correlation_id == 4242
    assert resp.error_code == kw.ERROR_UNSUPPORTED_VERSION
    assert 18 in resp.apis, f"the v0 error body must list the ApiVersions range, got {resp.apis}"
    assert resp.apis[18][0] == 0 and resp.apis[18][1] >= 3
    assert_serving(broker)


@pytest.mark.parametrize("length", [0x7FFFFFFF, 0x40000000, -1, -2147483648],
                         ids=["2GiB-1", "1GiB", "minus1", "int-min"])
def test_huge_or_negative_frame_length(broker, length):
    with kw.connect(broker.bootstrap) as s:
        try:
            s.sendall(struct.pack(">i", length) + b"\x00\x12\x00\x00" + b"x" * 60)
        except OSError:
            pass  # already hung up
        assert kw.wait_closed(s, CLOSE_TIMEOUT), f"connection still open after a frame length of {length}"
    assert_serving(broker)


def test_zero_length_frame(broker):
    with kw.connect(broker.bootstrap) as s:
        s.sendall(struct.pack(">i", 0))
        closed_or_answered(s)
    assert_serving(broker)


def test_garbage_bytes(broker):
    rng = random.Random(1234)
    for size in (1, 3, 7, 64, 1000, 65536):
        with kw.connect(broker.bootstrap) as s:
            try:
                s.sendall(bytes(rng.getrandbits(8) for _ in range(size)))
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the broker may hang up before we finish sending: fine
            kw.wait_closed(s, CLOSE_TIMEOUT)
    # plausible frame length, garbage inside
    for _ in range(5):
        body = bytes(rng.getrandbits(8) for _ in range(60))
        with kw.connect(broker.bootstrap) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            closed_or_answered(s)
    assert_serving(broker)


def test_http_request_on_kafka_port(broker):
    with kw.connect(broker.bootstrap) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")  # "GET " = length 0x47455420
        assert kw.wait_closed(s, CLOSE_TIMEOUT)
    assert_serving(broker)


@pytest.mark.parametrize("api_key", [9999, -1, 32767, 68], ids=["9999", "minus1", "32767", "unlisted-68"])
def test_unknown_api_key(broker, api_key):
    with kw.connect(broker.bootstrap) as s:
        s.sendall(kw.encode_request(api_key, 0, 77, b"\x00" * 8))
        outcome = closed_or_answered(s)
    assert outcome in ("closed", "answered")
    assert_serving(broker)


def test_unsupported_version_of_known_api(broker):
    with kw.connect(broker.bootstrap) as s:
        s.sendall(kw.encode_request(3, 999, 78, b"\x00\x00\x00\x00"))  # Metadata v999
        closed_or_answered(s)
    assert_serving(broker)


def test_truncated_request_body(broker):
    # Metadata v1 claiming one topic name of 200 bytes but carrying 3
    body = kw.int32(1) + kw.int16(200) + b"abc"
    with kw.connect(broker.bootstrap) as s:
        s.sendall(kw.encode_request(3, 1, 79, body))
        closed_or_answered(s)
    assert_serving(broker)


def test_client_disconnects_mid_frame(broker):
    frame = kw.api_versions_request(3, 80)
    for cut in (1, 3, 4, 6, len(frame) - 1):
        with kw.connect(broker.bootstrap) as s:
            s.sendall(frame[:cut])
    with kw.connect(broker.bootstrap) as s:  # and abortive close (RST)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(frame[:5])
    assert_serving(broker)


def test_request_split_into_single_bytes(broker):
    frame = kw.api_versions_request(0, 81)
    with kw.connect(broker.bootstrap) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in frame:
            s.sendall(bytes([b]))
            time.sleep(0.002)
        payload = kw.read_frame(s)
    assert payload is not None
    resp = kw.parse_api_versions_response(payload, 0)
    assert resp.correlation_id == 81 and resp.error_code == 0


def test_pipelined_requests_answered_in_order(broker):
    versions = [0, 3, 1, 2, 3, 0, 3, 3]
    frames = b"".join(kw.api_versions_request(v, 1000 + i) for i, v in enumerate(versions))
    frames += kw.metadata_request_v1([], correlation_id=2000)
    with kw.connect(broker.bootstrap) as s:
        s.sendall(frames)
        for i, v in enumerate(versions):
            payload = kw.read_frame(s)
            assert payload is not None, f"connection closed before response {i}"
            resp = kw.parse_api_versions_response(payload, v)
            assert resp.correlation_id == 1000 + i, "responses out of order"
            assert resp.error_code == 0
        payload = kw.read_frame(s)
        assert kw.Reader(payload).int32() == 2000


def test_many_concurrent_connections(broker):
    n = 100
    errors = []

    def one(i):
        try:
            resp = kw.api_versions(broker.bootstrap, version=3 if i % 2 else 0)
            if resp.error_code != 0:
                errors.append((i, resp.error_code))
        except Exception as e:  # noqa: BLE001
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:5]
    assert_serving(broker)


def test_idle_half_open_connections_do_not_block_others(broker):
    socks = [kw.connect(broker.bootstrap) for _ in range(20)]
    try:
        for s in socks:
            s.sendall(struct.pack(">i", 100) + b"\x00\x03")  # incomplete frame, then silence
        assert_serving(broker)
    finally:
        for s in socks:
            s.close()


def test_produce_corrupt_batch_rejected(broker):
    topic = unique_topic("raw-corrupt")
    ck_produce(broker.bootstrap, topic, [b"good-0"])
    batch = kw.encode_record_batch([b"evil"], corrupt_crc=True)
    payload = kw.roundtrip(broker.bootstrap, kw.produce_request_v3(topic, 0, batch, correlation_id=90))
    assert payload is not None, "broker closed the connection on a corrupt batch"
    corr, res = kw.parse_produce_response_v3(payload)
    assert corr == 90
    err, _base = res[(topic, 0)]
    assert err in (2, 87), f"expected CORRUPT_MESSAGE (2) or INVALID_RECORD (87), got {err}"
    # truncated batch (declared length longer than the bytes present)
    good = kw.encode_record_batch([b"half"])
    torn = good[:8] + kw.int32(len(good) + 100) + good[12:]
    payload = kw.roundtrip(broker.bootstrap, kw.produce_request_v3(topic, 0, torn, correlation_id=91))
    if payload is not None:
        _corr, res = kw.parse_produce_response_v3(payload)
        assert res[(topic, 0)][0] != 0, "a truncated batch was accepted"
    # a valid raw batch is accepted at the next offset, and nothing else was appended
    payload = kw.roundtrip(broker.bootstrap, kw.produce_request_v3(topic, 0, kw.encode_record_batch([b"good-1"]),
                                                                   correlation_id=92))
    _corr, res = kw.parse_produce_response_v3(payload)
    assert res[(topic, 0)] == (0, 1)
    assert ck_consume(broker.bootstrap, topic, 2).values() == [b"good-0", b"good-1"]
    assert_serving(broker)
