"""Minimal Kafka wire-protocol helpers for raw-socket tests and capture tools.

Only what the e2e suite needs: request framing (header v1/v2), ApiVersions
requests/responses (v0..v3, including the KIP-511 fallback body), a Fetch v4
request for probing unknown topics, Metadata v1, and frame reading. Pure
standard library on purpose, so that the capture tools run anywhere.

Request frame layout: int32 size | int16 api_key | int16 api_version |
int32 correlation_id | nullable-string client_id | [tagged fields if header v2] | body
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

# API keys the fjord spec (issue 1) says the broker serves.
API_NAMES = {
    0: "Produce",
    1: "Fetch",
    2: "ListOffsets",
    3: "Metadata",
    8: "OffsetCommit",
    9: "OffsetFetch",
    10: "FindCoordinator",
    11: "JoinGroup",
    12: "Heartbeat",
    13: "LeaveGroup",
    14: "SyncGroup",
    15: "DescribeGroups",
    16: "ListGroups",
    17: "SaslHandshake",
    18: "ApiVersions",
    19: "CreateTopics",
    20: "DeleteTopics",
    21: "DeleteRecords",
    22: "InitProducerId",
    23: "OffsetForLeaderEpoch",
    32: "DescribeConfigs",
    33: "AlterConfigs",
    35: "DescribeLogDirs",
    37: "CreatePartitions",
    42: "DeleteGroups",
    44: "IncrementalAlterConfigs",
    47: "OffsetDelete",
    60: "DescribeCluster",
    75: "DescribeTopicPartitions",
}

REQUIRED_APIS = {
    0: "Produce",
    1: "Fetch",
    2: "ListOffsets",
    3: "Metadata",
    18: "ApiVersions",
    19: "CreateTopics",
    20: "DeleteTopics",
    21: "DeleteRecords",
    23: "OffsetForLeaderEpoch",
    32: "DescribeConfigs",
    33: "AlterConfigs",
    35: "DescribeLogDirs",
    37: "CreatePartitions",
    44: "IncrementalAlterConfigs",
    60: "DescribeCluster",
}

# Consumer-group APIs (issue 4); test_seeds.py fails if the broker does not advertise them.
GROUP_APIS = {10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
              8: "OffsetCommit", 9: "OffsetFetch"}

ERROR_NONE = 0
ERROR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERROR_UNSUPPORTED_VERSION = 35


# ---------------------------------------------------------------- primitives

def int8(v: int) -> bytes:
    return struct.pack(">b", v)


def int16(v: int) -> bytes:
    return struct.pack(">h", v)


def int32(v: int) -> bytes:
    return struct.pack(">i", v)


def int64(v: int) -> bytes:
    return struct.pack(">q", v)


def uvarint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(s: str | None) -> bytes:
    if s is None:
        return int16(-1)
    b = s.encode()
    return int16(len(b)) + b


def compact_string(s: str | None) -> bytes:
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


class Reader:
    """Cursor over a bytes object with Kafka primitive decoders."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"truncated: need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int8(self) -> int:
        return struct.unpack(">b", self._take(1))[0]

    def int16(self) -> int:
        return struct.unpack(">h", self._take(2))[0]

    def int32(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def int64(self) -> int:
        return struct.unpack(">q", self._take(8))[0]

    def uvarint(self) -> int:
        shift = 0
        result = 0
        while True:
            b = self._take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def string(self) -> str | None:
        n = self.int16()
        if n < 0:
            return None
        return self._take(n).decode("utf-8", "replace")

    def compact_string(self) -> str | None:
        n = self.uvarint()
        if n == 0:
            return None
        return self._take(n - 1).decode("utf-8", "replace")

    def bytes_(self) -> bytes | None:
        n = self.int32()
        if n < 0:
            return None
        return self._take(n)

    def tagged_fields(self) -> dict[int, bytes]:
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            size = self.uvarint()
            out[tag] = self._take(size)
        return out

    def remaining(self) -> int:
        return len(self.data) - self.pos


# ---------------------------------------------------------------- requests

def request_header(api_key: int, api_version: int, correlation_id: int, client_id: str | None,
                   flexible: bool) -> bytes:
    hdr = int16(api_key) + int16(api_version) + int32(correlation_id) + string(client_id)
    if flexible:
        hdr += uvarint(0)  # empty tagged fields
    return hdr


def frame(payload: bytes) -> bytes:
    return int32(len(payload)) + payload


def encode_request(api_key: int, api_version: int, correlation_id: int, body: bytes = b"",
                   client_id: str | None = "fjord-e2e", flexible: bool = False) -> bytes:
    """A complete, length-prefixed request frame."""
    return frame(request_header(api_key, api_version, correlation_id, client_id, flexible) + body)


def api_versions_request(version: int = 3, correlation_id: int = 1, client_id: str = "fjord-e2e",
                         software_name: str = "fjord-e2e", software_version: str = "1.0") -> bytes:
    """ApiVersions request frame. v3+ is flexible (header v2 + compact strings)."""
    if version >= 3:
        body = compact_string(software_name) + compact_string(software_version) + uvarint(0)
        return encode_request(18, version, correlation_id, body, client_id, flexible=True)
    return encode_request(18, version, correlation_id, b"", client_id, flexible=False)


def metadata_request_v1(topics: list[str] | None, correlation_id: int = 1) -> bytes:
    """Metadata v1 (no auto-create flag: v1..v3 always auto-create, so pass [] or None to list all)."""
    if topics is None:
        body = int32(-1)
    else:
        body = int32(len(topics)) + b"".join(string(t) for t in topics)
    return encode_request(3, 1, correlation_id, body)


def metadata_request_v4(topics: list[str] | None, allow_auto_create: bool, correlation_id: int = 1) -> bytes:
    if topics is None:
        body = int32(-1)
    else:
        body = int32(len(topics)) + b"".join(string(t) for t in topics)
    body += int8(1 if allow_auto_create else 0)
    return encode_request(3, 4, correlation_id, body)


def fetch_request_v4(topic: str, partition: int = 0, offset: int = 0, correlation_id: int = 1,
                     max_wait_ms: int = 100) -> bytes:
    body = (int32(-1) + int32(max_wait_ms) + int32(1) + int32(1 << 20) + int8(0)
            + int32(1) + string(topic)
            + int32(1) + int32(partition) + int64(offset) + int32(1 << 20))
    return encode_request(1, 4, correlation_id, body)


# ---------------------------------------------------------------- parsing

@dataclass
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body_offset: int  # offset of the body within the frame payload (excluding length prefix),
    # valid for header v1 only; for flexible requests use parse_request_header(..., flexible=True)


def parse_request_header(payload: bytes, flexible: bool = False) -> RequestHeader:
    """Parse the request header from a frame payload (the bytes after the 4-byte size)."""
    r = Reader(payload)
    api_key = r.int16()
    api_version = r.int16()
    corr = r.int32()
    client_id = r.string()
    if flexible:
        r.tagged_fields()
    return RequestHeader(api_key, api_version, corr, client_id, r.pos)


@dataclass
class ApiVersionsResponse:
    correlation_id: int
    error_code: int
    apis: dict[int, tuple[int, int]] = field(default_factory=dict)
    throttle_time_ms: int | None = None


def parse_api_versions_response(payload: bytes, version: int) -> ApiVersionsResponse:
    """Parse an ApiVersions response payload (after the size prefix).

    The response header is always v0 (correlation id only) for ApiVersions, even for
    v3+ (KIP-511). When the broker does not support the requested version it answers
    with error 35 and a v0-format body (KIP-511), which is what callers should pass
    version=0 for.
    """
    r = Reader(payload)
    corr = r.int32()
    err = r.int16()
    apis: dict[int, tuple[int, int]] = {}
    throttle = None
    if version >= 3:
        n = r.uvarint() - 1
        for _ in range(max(n, 0)):
            key, lo, hi = r.int16(), r.int16(), r.int16()
            r.tagged_fields()
            apis[key] = (lo, hi)
        throttle = r.int32()
        r.tagged_fields()
    else:
        n = r.int32()
        for _ in range(max(n, 0)):
            key, lo, hi = r.int16(), r.int16(), r.int16()
            apis[key] = (lo, hi)
        if version >= 1 and r.remaining() >= 4:
            throttle = r.int32()
    return ApiVersionsResponse(corr, err, apis, throttle)


@dataclass
class FetchPartitionV4:
    partition: int
    error_code: int
    high_watermark: int
    records: bytes | None


def parse_fetch_response_v4(payload: bytes) -> tuple[int, dict[str, list[FetchPartitionV4]]]:
    r = Reader(payload)
    corr = r.int32()
    r.int32()  # throttle_time_ms
    topics: dict[str, list[FetchPartitionV4]] = {}
    for _ in range(r.int32()):
        name = r.string()
        parts = []
        for _ in range(r.int32()):
            p = r.int32()
            err = r.int16()
            hw = r.int64()
            r.int64()  # last_stable_offset
            n_aborted = r.int32()
            for _ in range(max(n_aborted, 0)):
                r.int64()
                r.int64()
            recs = r.bytes_()
            parts.append(FetchPartitionV4(p, err, hw, recs))
        topics[name or ""] = parts
    return corr, topics


def parse_metadata_response_v1_topics(payload: bytes) -> tuple[int, dict[str, int], dict[str, int]]:
    """Returns (correlation_id, {topic: error_code}, {topic: partition_count})."""
    r = Reader(payload)
    corr = r.int32()
    for _ in range(r.int32()):  # brokers
        r.int32()
        r.string()
        r.int32()
        r.string()  # rack
    r.int32()  # controller id
    errors, counts = {}, {}
    for _ in range(r.int32()):
        err = r.int16()
        name = r.string() or ""
        r.int8()  # is_internal
        n = r.int32()
        for _ in range(n):
            r.int16()
            r.int32()
            r.int32()
            for _ in range(r.int32()):
                r.int32()
            for _ in range(r.int32()):
                r.int32()
        errors[name] = err
        counts[name] = n
    return corr, errors, counts


def parse_metadata_response_v4_topics(payload: bytes) -> tuple[int, dict[str, int], dict[str, int]]:
    """Metadata v4 = v3 layout: throttle_time_ms first, cluster_id after brokers."""
    r = Reader(payload)
    corr = r.int32()
    r.int32()  # throttle
    for _ in range(r.int32()):
        r.int32()
        r.string()
        r.int32()
        r.string()
    r.string()  # cluster id
    r.int32()  # controller
    errors, counts = {}, {}
    for _ in range(r.int32()):
        err = r.int16()
        name = r.string() or ""
        r.int8()
        n = r.int32()
        for _ in range(n):
            r.int16()
            r.int32()
            r.int32()
            for _ in range(r.int32()):
                r.int32()
            for _ in range(r.int32()):
                r.int32()
        errors[name] = err
        counts[name] = n
    return corr, errors, counts


# ---------------------------------------------------------------- sockets

def connect(hostport: str, timeout: float = 5.0) -> socket.socket:
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes | None:
    """Read exactly n bytes; None on clean EOF before any byte; raises on timeout/partial EOF."""
    buf = bytearray()
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"timed out reading {n} bytes (got {len(buf)})")
        sock.settimeout(remaining)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            if not buf:
                return None
            raise ConnectionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket, timeout: float = 10.0, max_size: int = 256 << 20) -> bytes | None:
    """Read one size-prefixed frame; returns the payload, or None if the peer closed first."""
    deadline = time.monotonic() + timeout
    hdr = recv_exact(sock, 4, deadline)
    if hdr is None:
        return None
    (size,) = struct.unpack(">i", hdr)
    if size < 0 or size > max_size:
        raise ValueError(f"bad frame size {size}")
    body = recv_exact(sock, size, deadline)
    if body is None:
        raise ConnectionError("EOF before frame body")
    return body


def roundtrip(hostport: str, request_frame: bytes, timeout: float = 10.0) -> bytes | None:
    """Send one request frame on a fresh connection and return the response payload."""
    with connect(hostport, timeout) as s:
        s.sendall(request_frame)
        return read_frame(s, timeout)


def api_versions(hostport: str, version: int = 3, timeout: float = 10.0) -> ApiVersionsResponse:
    payload = roundtrip(hostport, api_versions_request(version, correlation_id=7), timeout)
    if payload is None:
        raise ConnectionError(f"broker at {hostport} closed the connection on ApiVersions v{version}")
    resp = parse_api_versions_response(payload, version if version <= 3 else 3)
    return resp


def wait_closed(sock: socket.socket, timeout: float) -> bool:
    """True if the peer closes (EOF or reset) within timeout; data received is discarded."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not chunk:
            return True


# ---------------------------------------------------------------- record batches (magic 2)

def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(v: int) -> bytes:
    """Zig-zag signed varint (record fields)."""
    return uvarint((v << 1) ^ (v >> 63))


def encode_record(offset_delta: int, key: bytes | None, value: bytes | None, ts_delta: int = 0,
                  headers: list[tuple[str, bytes]] = ()) -> bytes:
    body = int8(0) + varint(ts_delta) + varint(offset_delta)
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(len(headers))
    for hk, hv in headers:
        kb = hk.encode()
        body += varint(len(kb)) + kb + (varint(-1) if hv is None else varint(len(hv)) + hv)
    return varint(len(body)) + body


def encode_record_batch(values: list[bytes | None], base_offset: int = 0, timestamp_ms: int | None = None,
                        keys: list[bytes | None] | None = None, corrupt_crc: bool = False,
                        producer_id: int = -1, producer_epoch: int = -1, base_sequence: int = -1) -> bytes:
    """An uncompressed magic-2 record batch (as it appears in Produce requests and .log files)."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    keys = keys or [None] * len(values)
    records = b"".join(encode_record(i, k, v) for i, (k, v) in enumerate(zip(keys, values)))
    # attributes .. records: the CRC-covered part
    after_crc = (int16(0) + int32(len(values) - 1) + int64(ts) + int64(ts)
                 + int64(producer_id) + int16(producer_epoch) + int32(base_sequence)
                 + int32(len(values)) + records)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    rest = int32(0) + int8(2) + struct.pack(">I", crc) + after_crc  # partition leader epoch, magic, crc
    return int64(base_offset) + int32(len(rest)) + rest


def produce_request_v3(topic: str, partition: int, batch: bytes, acks: int = -1, correlation_id: int = 1,
                       timeout_ms: int = 10000) -> bytes:
    body = (string(None) + int16(acks) + int32(timeout_ms)
            + int32(1) + string(topic) + int32(1) + int32(partition) + int32(len(batch)) + batch)
    return encode_request(0, 3, correlation_id, body)


def parse_produce_response_v3(payload: bytes) -> tuple[int, dict[tuple[str, int], tuple[int, int]]]:
    """Returns (correlation_id, {(topic, partition): (error_code, base_offset)})."""
    r = Reader(payload)
    corr = r.int32()
    out = {}
    for _ in range(r.int32()):
        name = r.string() or ""
        for _ in range(r.int32()):
            p = r.int32()
            err = r.int16()
            base = r.int64()
            r.int64()  # log_append_time
            out[(name, p)] = (err, base)
    return corr, out


def init_producer_id_request_v0(correlation_id: int = 1, timeout_ms: int = 60000) -> bytes:
    """InitProducerId v0 for an idempotent (non-transactional) producer."""
    return encode_request(22, 0, correlation_id, string(None) + int32(timeout_ms))


def parse_init_producer_id_response_v0(payload: bytes) -> tuple[int, int, int, int]:
    """Returns (correlation_id, error_code, producer_id, producer_epoch)."""
    r = Reader(payload)
    corr = r.int32()
    r.int32()  # throttle_time_ms
    return corr, r.int16(), r.int64(), r.int16()


# ---------------------------------------------------------------- OffsetForLeaderEpoch (v2/v3)

def offset_for_leader_epoch_request(version: int, topic: str, partition: int, leader_epoch: int,
                                    current_leader_epoch: int = -1, correlation_id: int = 1) -> bytes:
    assert version in (2, 3), "only the non-flexible v2/v3 layouts are implemented"
    body = int32(-1) if version >= 3 else b""  # replica_id (v3+)
    body += (int32(1) + string(topic) + int32(1) + int32(partition) + int32(current_leader_epoch)
             + int32(leader_epoch))
    return encode_request(23, version, correlation_id, body)


def parse_offset_for_leader_epoch_response(payload: bytes) -> tuple[int, dict[tuple[str, int], tuple[int, int, int]]]:
    """v2/v3: returns (correlation_id, {(topic, partition): (error_code, leader_epoch, end_offset)})."""
    r = Reader(payload)
    corr = r.int32()
    r.int32()  # throttle_time_ms
    out = {}
    for _ in range(r.int32()):
        name = r.string() or ""
        for _ in range(r.int32()):
            err = r.int16()
            p = r.int32()
            epoch = r.int32()
            end = r.int64()
            out[(name, p)] = (err, epoch, end)
    return corr, out


# ---------------------------------------------------------------- Produce v8 (record errors)

def produce_request(version: int, topic: str, partition: int, batch: bytes, acks: int = -1,
                    correlation_id: int = 1, timeout_ms: int = 10000) -> bytes:
    """Produce v3..v8 (the non-flexible layouts share one body)."""
    assert 3 <= version <= 8, "only the non-flexible v3..v8 layouts are implemented"
    body = (string(None) + int16(acks) + int32(timeout_ms)
            + int32(1) + string(topic) + int32(1) + int32(partition) + int32(len(batch)) + batch)
    return encode_request(0, version, correlation_id, body)


@dataclass
class ProducePartitionV8:
    error_code: int
    base_offset: int
    record_errors: list[tuple[int, str | None]]
    error_message: str | None


def parse_produce_response_v8(payload: bytes) -> tuple[int, dict[tuple[str, int], ProducePartitionV8]]:
    r = Reader(payload)
    corr = r.int32()
    out = {}
    for _ in range(r.int32()):
        name = r.string() or ""
        for _ in range(r.int32()):
            p = r.int32()
            err = r.int16()
            base = r.int64()
            r.int64()  # log_append_time
            r.int64()  # log_start_offset
            errors = [(r.int32(), r.string()) for _ in range(r.int32())]
            out[(name, p)] = ProducePartitionV8(err, base, errors, r.string())
    return corr, out


# ---------------------------------------------------------------- flexible helpers

def compact_array_len(r: Reader) -> int:
    """A compact array's element count (-1: null)."""
    return r.uvarint() - 1


def compact_int32s(r: Reader) -> list[int] | None:
    n = compact_array_len(r)
    return None if n < 0 else [r.int32() for _ in range(n)]


def parse_response_header_v1(payload: bytes) -> tuple[int, Reader]:
    r = Reader(payload)
    corr = r.int32()
    r.tagged_fields()
    return corr, r


# ---------------------------------------------------------------- DescribeTopicPartitions (75) v0

def describe_topic_partitions_request(topics: list[str], limit: int = 2000,
                                      cursor: tuple[str, int] | None = None,
                                      correlation_id: int = 1) -> bytes:
    body = uvarint(len(topics) + 1)
    for t in topics:
        body += compact_string(t) + uvarint(0)
    body += int32(limit)
    if cursor is None:
        body += int8(-1)
    else:
        body += int8(1) + compact_string(cursor[0]) + int32(cursor[1]) + uvarint(0)
    body += uvarint(0)
    return encode_request(75, 0, correlation_id, body, flexible=True)


@dataclass
class DescribedPartition:
    error_code: int
    index: int
    leader: int
    leader_epoch: int
    replicas: list[int]
    isr: list[int]
    elr: list[int] | None
    last_known_elr: list[int] | None
    offline: list[int]


@dataclass
class DescribedTopic:
    error_code: int
    name: str | None
    topic_id: bytes
    is_internal: bool
    partitions: list[DescribedPartition]
    authorized_operations: int


def parse_describe_topic_partitions_response(payload: bytes):
    """Returns (correlation_id, [DescribedTopic], next_cursor or None)."""
    corr, r = parse_response_header_v1(payload)
    r.int32()  # throttle_time_ms
    topics = []
    for _ in range(compact_array_len(r)):
        err = r.int16()
        name = r.compact_string()
        topic_id = r._take(16)
        internal = r.int8() != 0
        parts = []
        for _ in range(compact_array_len(r)):
            p = DescribedPartition(r.int16(), r.int32(), r.int32(), r.int32(), compact_int32s(r) or [],
                                   compact_int32s(r) or [], compact_int32s(r), compact_int32s(r),
                                   compact_int32s(r) or [])
            r.tagged_fields()
            parts.append(p)
        ops = r.int32()
        r.tagged_fields()
        topics.append(DescribedTopic(err, name, topic_id, internal, parts, ops))
    cursor = None
    if r.int8() >= 0:
        cursor = (r.compact_string(), r.int32())
        r.tagged_fields()
    r.tagged_fields()
    return corr, topics, cursor


# ---------------------------------------------------------------- ListOffsets v10

def list_offsets_request_v10(topic: str, partitions: list[tuple[int, int]], timeout_ms: int,
                             isolation_level: int = 0, correlation_id: int = 1) -> bytes:
    """partitions: [(index, timestamp)]."""
    body = int32(-1) + int8(isolation_level) + uvarint(2) + compact_string(topic) + uvarint(len(partitions) + 1)
    for index, ts in partitions:
        body += int32(index) + int32(-1) + int64(ts) + uvarint(0)
    body += uvarint(0) + int32(timeout_ms) + uvarint(0)
    return encode_request(2, 10, correlation_id, body, flexible=True)


def parse_list_offsets_response_v10(payload: bytes) -> tuple[int, dict[tuple[str, int], tuple[int, int, int]]]:
    """Returns (correlation_id, {(topic, partition): (error_code, timestamp, offset)})."""
    corr, r = parse_response_header_v1(payload)
    r.int32()  # throttle_time_ms
    out = {}
    for _ in range(compact_array_len(r)):
        name = r.compact_string() or ""
        for _ in range(compact_array_len(r)):
            p = r.int32()
            err = r.int16()
            ts = r.int64()
            off = r.int64()
            r.int32()  # leader_epoch
            r.tagged_fields()
            out[(name, p)] = (err, ts, off)
        r.tagged_fields()
    r.tagged_fields()
    return corr, out
