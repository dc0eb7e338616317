"""A connection's requests take effect in the order they were sent.

Kafka handles one connection's requests one at a time, and clients rely on
it: librdkafka pipelines async OffsetCommits and expects the last one to
win, admin clients send a Produce or DeleteRecords and then ListOffsets on
the same connection. These tests write several requests in ONE socket
write (so the broker has them all before answering any) with raw frames,
and check that each later request saw the effect of the earlier ones.
"""

from __future__ import annotations

import socket
import time

import pytest

import kafka_wire as kw
from helpers import ck_create_topic, ck_produce, unique_topic

pytestmark = pytest.mark.timeout(120)


# ------------------------------------------------------------ raw requests

def offset_commit_v2(corr: int, group: str, topic: str, partition: int, offset: int) -> bytes:
    """OffsetCommit v2, a simple commit (no generation, no member)."""
    body = (kw.string(group) + kw.int32(-1) + kw.string("") + kw.int64(-1)
            + kw.int32(1) + kw.string(topic)
            + kw.int32(1) + kw.int32(partition) + kw.int64(offset) + kw.string(None))
    return kw.encode_request(8, 2, corr, body)


def parse_offset_commit_v2(payload: bytes) -> tuple[int, list[int]]:
    r = kw.Reader(payload)
    corr = r.int32()
    errors = []
    for _ in range(r.int32()):
        r.string()
        for _ in range(r.int32()):
            r.int32()
            errors.append(r.int16())
    return corr, errors


def offset_fetch_v1(corr: int, group: str, topic: str, partition: int) -> bytes:
    body = kw.string(group) + kw.int32(1) + kw.string(topic) + kw.int32(1) + kw.int32(partition)
    return kw.encode_request(9, 1, corr, body)


def parse_offset_fetch_v1(payload: bytes) -> tuple[int, int, int]:
    """Returns (correlation_id, committed_offset, error_code) of the one partition."""
    r = kw.Reader(payload)
    corr = r.int32()
    assert r.int32() == 1
    r.string()
    assert r.int32() == 1
    r.int32()
    offset = r.int64()
    r.string()
    return corr, offset, r.int16()


def list_offsets_v1(corr: int, topic: str, partition: int, timestamp: int) -> bytes:
    """timestamp -1: latest, -2: earliest."""
    body = (kw.int32(-1) + kw.int32(1) + kw.string(topic) + kw.int32(1)
            + kw.int32(partition) + kw.int64(timestamp))
    return kw.encode_request(2, 1, corr, body)


def parse_list_offsets_v1(payload: bytes) -> tuple[int, int, int]:
    """Returns (correlation_id, error_code, offset)."""
    r = kw.Reader(payload)
    corr = r.int32()
    assert r.int32() == 1
    r.string()
    assert r.int32() == 1
    r.int32()
    err = r.int16()
    r.int64()
    return corr, err, r.int64()


def delete_records_v0(corr: int, topic: str, partition: int, offset: int) -> bytes:
    body = (kw.int32(1) + kw.string(topic) + kw.int32(1) + kw.int32(partition)
            + kw.int64(offset) + kw.int32(10000))
    return kw.encode_request(21, 0, corr, body)


def parse_delete_records_v0(payload: bytes) -> tuple[int, int, int]:
    """Returns (correlation_id, error_code, low_watermark)."""
    r = kw.Reader(payload)
    corr = r.int32()
    r.int32()  # throttle
    assert r.int32() == 1
    r.string()
    assert r.int32() == 1
    r.int32()
    low = r.int64()
    return corr, r.int16(), low


def send_all(sock: socket.socket, frames: list[bytes]) -> list[bytes]:
    """Writes every frame in one sendall and reads one response per frame."""
    sock.sendall(b"".join(frames))
    out = []
    for _ in frames:
        payload = kw.read_frame(sock, timeout=30)
        assert payload is not None, "broker closed the connection"
        out.append(payload)
    return out


# ------------------------------------------------------------------ tests

@pytest.mark.parametrize("n", [2, 50, 200])
def test_pipelined_offset_commits_last_one_wins(shared_broker, n):
    topic = unique_topic("order-commit")
    ck_create_topic(shared_broker.bootstrap, topic)
    group = f"g-{topic}"
    with kw.connect(shared_broker.bootstrap) as sock:
        for rnd in range(3):
            base = rnd * 1000
            frames = [offset_commit_v2(i + 1, group, topic, 0, base + i + 1) for i in range(n)]
            responses = send_all(sock, frames)
            for i, payload in enumerate(responses):
                corr, errors = parse_offset_commit_v2(payload)
                assert corr == i + 1
                assert errors == [0]
            payload = send_all(sock, [offset_fetch_v1(9999, group, topic, 0)])[0]
            _, offset, err = parse_offset_fetch_v1(payload)
            assert err == 0
            assert offset == base + n, f"round {rnd}: {n} commits acknowledged, fetch saw {offset}"


def test_offset_commit_then_fetch_in_one_write(shared_broker):
    topic = unique_topic("order-commit-fetch")
    ck_create_topic(shared_broker.bootstrap, topic)
    group = f"g-{topic}"
    stale = []
    with kw.connect(shared_broker.bootstrap) as sock:
        for i in range(1, 101):
            commit, fetch = send_all(sock, [offset_commit_v2(2 * i, group, topic, 0, i),
                                           offset_fetch_v1(2 * i + 1, group, topic, 0)])
            assert parse_offset_commit_v2(commit)[1] == [0]
            _, offset, err = parse_offset_fetch_v1(fetch)
            assert err == 0
            if offset != i:
                stale.append((i, offset))
    assert not stale, f"OffsetFetch missed the OffsetCommit sent before it: {stale[:10]}"


@pytest.mark.parametrize("acks", [1, -1])
def test_produce_then_list_offsets_latest_in_one_write(shared_broker, acks):
    topic = unique_topic("order-produce")
    ck_create_topic(shared_broker.bootstrap, topic)
    stale = []
    with kw.connect(shared_broker.bootstrap) as sock:
        for i in range(20):
            batch = kw.encode_record_batch([b"v%d" % i])
            produce, listed = send_all(sock, [kw.produce_request_v3(topic, 0, batch, acks=acks, correlation_id=2 * i),
                                              list_offsets_v1(2 * i + 1, topic, 0, -1)])
            _, parts = kw.parse_produce_response_v3(produce)
            err, base = parts[(topic, 0)]
            assert err == 0
            _, lerr, latest = parse_list_offsets_v1(listed)
            assert lerr == 0
            if latest != base + 1:
                stale.append((base, latest))
    assert not stale, f"ListOffsets(latest) missed the Produce sent before it: {stale}"


def test_delete_records_then_list_offsets_earliest_in_one_write(shared_broker):
    topic = unique_topic("order-delete")
    ck_create_topic(shared_broker.bootstrap, topic)
    ck_produce(shared_broker.bootstrap, topic, [b"x%d" % i for i in range(25)])
    stale = []
    with kw.connect(shared_broker.bootstrap) as sock:
        for i in range(1, 21):
            deleted, listed = send_all(sock, [delete_records_v0(2 * i, topic, 0, i),
                                              list_offsets_v1(2 * i + 1, topic, 0, -2)])
            _, derr, low = parse_delete_records_v0(deleted)
            assert (derr, low) == (0, i)
            _, lerr, earliest = parse_list_offsets_v1(listed)
            assert lerr == 0
            if earliest != i:
                stale.append((i, earliest))
    assert not stale, f"ListOffsets(earliest) missed the DeleteRecords sent before it: {stale}"


def test_pipelined_produces_are_stored_in_order(shared_broker):
    """50 acks=all produces pipelined on one connection are stored in the
    order sent, each at the next offset (their fsync waits may overlap;
    the produce benchmark measures that)."""
    topic = unique_topic("order-pipeline")
    ck_create_topic(shared_broker.bootstrap, topic)
    frames = [kw.produce_request_v3(topic, 0, kw.encode_record_batch([b"p%d" % i]), acks=-1, correlation_id=i)
              for i in range(50)]
    with kw.connect(shared_broker.bootstrap) as sock:
        t0 = time.monotonic()
        responses = send_all(sock, frames)
        elapsed = time.monotonic() - t0
    bases = []
    for i, payload in enumerate(responses):
        corr, parts = kw.parse_produce_response_v3(payload)
        assert corr == i
        err, base = parts[(topic, 0)]
        assert err == 0
        bases.append(base)
    assert bases == list(range(50))
    print(f"50 pipelined acks=all produces answered in {elapsed * 1000:.1f} ms")


def test_large_and_small_requests_in_one_write_keep_their_order(shared_broker):
    """Requests over 64 KiB run as tasks of their own while small ones are
    answered inline by the connection's reader: mixed in one write, every
    answer still comes in request order, each produce lands at the next
    offset, and each ListOffsets sees the produce before it."""
    topic = unique_topic("order-mixed")
    ck_create_topic(shared_broker.bootstrap, topic)
    frames, sizes = [], []
    for i in range(12):
        size = 100_000 if i % 3 == 0 else 10
        sizes.append(size)
        batch = kw.encode_record_batch([bytes([65 + i]) * size])
        frames.append(kw.produce_request_v3(topic, 0, batch, acks=-1, correlation_id=2 * i))
        frames.append(list_offsets_v1(2 * i + 1, topic, 0, -1))
    assert any(len(f) > 64 * 1024 for f in frames) and any(len(f) < 1024 for f in frames)
    with kw.connect(shared_broker.bootstrap) as sock:
        responses = send_all(sock, frames)
    for i in range(12):
        corr, parts = kw.parse_produce_response_v3(responses[2 * i])
        assert corr == 2 * i, f"answer {2 * i} out of order: correlation id {corr}"
        assert parts[(topic, 0)] == (0, i)
        lcorr, lerr, latest = parse_list_offsets_v1(responses[2 * i + 1])
        assert (lcorr, lerr, latest) == (2 * i + 1, 0, i + 1), f"request {2 * i + 1} ({sizes[i]} B produce before it)"
