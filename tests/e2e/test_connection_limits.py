"""Connections that never finish must not hold the broker's resources.

- connections.max.idle.ms: a connection with no traffic and no request in
  flight is closed (also one stuck half-way through a length prefix);
- fjord.request.read.timeout.ms: once a request's length arrived, its body
  must arrive in time (slowloris, a bare 100 MiB length header);
- queued.max.request.bytes: request bytes held across all connections are
  capped, the rest waits (back-pressure), so partial huge frames cannot
  grow the broker's memory.
Each test checks the broker keeps serving others.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

import kafka_wire as kw
from helpers import wait_until

pytestmark = pytest.mark.timeout(120)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def serves(broker) -> bool:
    return kw.api_versions(broker.bootstrap).error_code == 0


def test_idle_connection_is_closed(broker_factory):
    b = broker_factory(config={"connections.max.idle.ms": 1500})
    quiet = kw.connect(b.bootstrap)
    half = kw.connect(b.bootstrap)
    half.sendall(b"\x00\x00")  # half a length prefix, then nothing
    active = kw.connect(b.bootstrap)
    try:
        t0 = time.monotonic()
        # The active connection keeps talking: it stays open.
        while time.monotonic() - t0 < 3.0:
            active.sendall(kw.api_versions_request(version=0))
            assert kw.read_frame(active, timeout=5) is not None
            time.sleep(0.3)
        assert kw.wait_closed(quiet, timeout=5), "idle connection still open"
        assert kw.wait_closed(half, timeout=5), "connection stuck in a length prefix still open"
        assert "closing idle connection" in b.log_text()
        assert serves(b)
    finally:
        for s in (quiet, half, active):
            s.close()


def test_request_in_flight_is_not_idle(broker_factory):
    """A long-poll Fetch longer than the idle timeout keeps its connection."""
    b = broker_factory(config={"connections.max.idle.ms": 1000})
    with kw.connect(b.bootstrap) as s:
        # Metadata auto-creates the topic; then a fetch waits 2.5 s for data.
        s.sendall(kw.metadata_request_v4(["idle-fetch"], True, correlation_id=1))
        assert kw.read_frame(s, timeout=10) is not None
        s.sendall(kw.fetch_request_v4("idle-fetch", offset=0, correlation_id=2, max_wait_ms=2500))
        payload = kw.read_frame(s, timeout=10)
        assert payload is not None, "connection closed while a request was in flight"
        corr, _ = kw.parse_fetch_response_v4(payload)
        assert corr == 2


def test_slow_request_body_is_cut_off(broker_factory):
    b = broker_factory(config={"fjord.request.read.timeout.ms": 1000})
    slow = kw.connect(b.bootstrap)
    bare = kw.connect(b.bootstrap)
    try:
        frame = kw.api_versions_request(version=0)
        slow.sendall(frame[:6])  # length and part of the header
        bare.sendall(struct.pack(">i", 100 * 1024 * 1024 - 1))  # a bare 100 MiB header
        t0 = time.monotonic()
        # Trickle one byte at a time, slower than the deadline allows.
        for byte in frame[6:9]:
            time.sleep(0.4)
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                break
        assert kw.wait_closed(slow, timeout=5), "slowloris connection still open"
        assert kw.wait_closed(bare, timeout=5), "bare 100 MiB length header still held"
        assert time.monotonic() - t0 < 6
        assert "request not received in time" in b.log_text()
        assert serves(b)
    finally:
        slow.close()
        bare.close()


def test_partial_huge_frames_do_not_grow_memory(broker_factory):
    """Five connections each send most of a 99 MiB frame. Without a cap the
    broker held all of it (over 500 MB); with queued.max.request.bytes at
    100 MiB at most two are read, the rest wait unread."""
    b = broker_factory(config={"fjord.request.read.timeout.ms": 60000})
    base_rss = rss_bytes(b.proc.pid)
    size = 99 * 1024 * 1024
    chunk = b"\x00" * (1 << 20)
    socks = []
    try:
        for _ in range(5):
            s = kw.connect(b.bootstrap)
            s.setblocking(False)
            s.send(struct.pack(">i", size))
            socks.append(s)
        # Push up to 90 MiB into each connection without blocking: what the
        # broker does not read stays in the socket buffers (a few MB).
        deadline = time.monotonic() + 30
        sent = [0] * len(socks)
        while time.monotonic() < deadline and any(n < 90 * (1 << 20) for n in sent):
            progressed = False
            for i, s in enumerate(socks):
                if sent[i] >= 90 * (1 << 20):
                    continue
                try:
                    n = s.send(chunk)
                    sent[i] += n
                    progressed = progressed or n > 0
                except BlockingIOError:
                    pass
            if not progressed:
                time.sleep(0.05)
        time.sleep(1.0)
        grown = rss_bytes(b.proc.pid) - base_rss
        total_sent = sum(sent)
        print(f"sent {total_sent / 2**20:.0f} MiB over 5 connections; broker RSS grew {grown / 2**20:.0f} MiB")
        assert grown < 260 * 1024 * 1024, f"broker RSS grew {grown / 2**20:.0f} MiB"
        assert sum(1 for n in sent if n >= 90 * (1 << 20)) <= 3, "every connection was read: no back-pressure"
        assert serves(b)
    finally:
        for s in socks:
            s.close()
    # Once the held requests are gone, the budget is free for others.
    wait_until(lambda: serves(b), timeout=10)
