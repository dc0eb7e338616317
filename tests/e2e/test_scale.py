"""Reliability at scale (issue 15).

- Partition limits: a CreateTopics past `fjord.max.broker.partitions` or
  past the per-request cap (10,000, as Kafka 4) is refused at once with
  POLICY_VIOLATION and touches nothing on disk; CreatePartitions and
  auto-creation obey the same broker-wide limit.
- Full disk (a small tmpfs as the data directory; root only): the broker
  starts read-only after a clean stop or a kill -9, serves Metadata,
  Fetch, ListOffsets, DeleteRecords and DeleteTopics, refuses Produce and
  CreateTopics with KAFKA_STORAGE_ERROR and OffsetCommit with
  NOT_COORDINATOR, and takes writes again once there is room; a clean
  stop that cannot flush says so once and exits non-zero.
"""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import NewPartitions, NewTopic

import kafka_wire as kw
from confluent_kafka import TopicPartition

from helpers import ck_admin, ck_create_topic, ck_watermarks, unique_topic, wait_until

pytestmark = pytest.mark.timeout(180)

POLICY_VIOLATION = 44


def partition_dirs(broker, topic: str) -> list[str]:
    if not broker.data_dir.exists():
        return []
    return sorted(p.name for p in broker.data_dir.iterdir() if p.name.startswith(f"{topic}-"))


def create_error(admin, topics: list[NewTopic], timeout: float = 30.0) -> dict[str, int]:
    """Error code per topic (0 for created)."""
    out = {}
    for name, f in admin.create_topics(topics, request_timeout=timeout).items():
        try:
            f.result(timeout)
            out[name] = 0
        except Exception as e:  # KafkaException carrying a KafkaError
            out[name] = e.args[0].code()
    return out


def test_partition_limit_refuses_at_once_and_leaves_nothing(broker_factory):
    b = broker_factory(config={"fjord.max.broker.partitions": 300})
    admin = ck_admin(b.bootstrap)
    huge = unique_topic("huge")
    t0 = time.monotonic()
    errors = create_error(admin, [NewTopic(huge, num_partitions=99_999, replication_factor=1)])
    refused_in = time.monotonic() - t0
    assert errors[huge] == KafkaError.POLICY_VIOLATION == POLICY_VIOLATION
    assert refused_in < 2.0, f"refusal took {refused_in:.1f} s"
    assert partition_dirs(b, huge) == []
    # A small creation right after is not held up.
    small = unique_topic("small")
    t0 = time.monotonic()
    ck_create_topic(b.bootstrap, small, 1)
    assert time.monotonic() - t0 < 5.0
    # Up to the limit is fine; one past it is refused, whole.
    edge = unique_topic("edge")
    hosted = 8 + 1  # __consumer_offsets (8) + small
    assert create_error(admin, [NewTopic(edge, num_partitions=300 - hosted + 1, replication_factor=1)]) \
        == {edge: POLICY_VIOLATION}
    assert partition_dirs(b, edge) == []
    ck_create_topic(b.bootstrap, edge, 300 - hosted - 2)
    # CreatePartitions past the limit is refused, within it works.
    fs = admin.create_partitions([NewPartitions(small, 4)], request_timeout=15)
    with pytest.raises(Exception) as info:
        fs[small].result(15)
    assert info.value.args[0].code() == POLICY_VIOLATION
    assert partition_dirs(b, small) == [f"{small}-0"]
    admin.create_partitions([NewPartitions(small, 3)], request_timeout=15)[small].result(15)
    # The broker is full now: auto-creation is refused with the same code.
    auto = unique_topic("auto")
    resp = kw.roundtrip(b.bootstrap, kw.metadata_request_v4([auto], allow_auto_create=True))
    _, errs, _ = kw.parse_metadata_response_v4_topics(resp)
    assert errs[auto] == POLICY_VIOLATION
    assert partition_dirs(b, auto) == []
    assert "fjord.max.broker.partitions" in b.log_text()
    # Nothing refused reappears after a restart.
    b.restart()
    md = ck_admin(b.bootstrap).list_topics(timeout=10)
    assert huge not in md.topics and auto not in md.topics
    assert len(md.topics[small].partitions) == 3


def test_one_request_may_not_create_more_than_10000_partitions(broker):
    admin = ck_admin(broker.bootstrap)
    a, c = unique_topic("half-a"), unique_topic("half-b")
    t0 = time.monotonic()
    errors = create_error(admin, [NewTopic(a, num_partitions=6000, replication_factor=1),
                                  NewTopic(c, num_partitions=6000, replication_factor=1)])
    assert errors == {a: POLICY_VIOLATION, c: POLICY_VIOLATION}
    assert time.monotonic() - t0 < 2.0
    assert partition_dirs(broker, a) == [] and partition_dirs(broker, c) == []


# ---------------------------------------------------------------- full disk

KAFKA_STORAGE_ERROR = 56
NOT_COORDINATOR = 16


@contextmanager
def tmpfs(path: Path, size: str = "16m"):
    """Mounts a tmpfs at `path` (root only); skips the test otherwise."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def fill(directory: Path) -> Path:
    """Fills the filesystem of `directory` to the last byte; returns the filler."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (1 << 20, 4096, 1):
            try:
                for _ in range(1 << 16):
                    f.write(b"\0" * chunk)
            except OSError:
                pass
    st = os.statvfs(directory)
    assert st.f_bavail == 0, f"{st.f_bavail} blocks still free"
    return filler


def produce_code(broker, topic: str, values: list[bytes]) -> int:
    batch = kw.encode_record_batch(values)
    resp = kw.roundtrip(broker.bootstrap, kw.produce_request_v3(topic, 0, batch, acks=-1))
    _, parts = kw.parse_produce_response_v3(resp)
    return parts[(topic, 0)][0]


def offset_commit_v2(group: str, topic: str, offset: int) -> bytes:
    body = (kw.string(group) + kw.int32(-1) + kw.string("") + kw.int64(-1)
            + kw.int32(1) + kw.string(topic) + kw.int32(1) + kw.int32(0) + kw.int64(offset)
            + kw.string(None))
    return kw.encode_request(8, 2, 1, body)


def commit_code(broker, group: str, topic: str, offset: int) -> int:
    r = kw.Reader(kw.roundtrip(broker.bootstrap, offset_commit_v2(group, topic, offset)))
    r.int32()  # correlation id
    assert r.int32() == 1
    r.string()
    assert r.int32() == 1
    r.int32()
    return r.int16()


def fetch(broker, topic: str, offset: int = 0):
    _, topics = kw.parse_fetch_response_v4(kw.roundtrip(broker.bootstrap, kw.fetch_request_v4(topic, 0, offset)))
    return topics[topic][0]


def fill_broker_data(b) -> tuple[str, str]:
    """Two topics with data; the first with small segments (DeleteRecords
    can free whole ones)."""
    keep, doomed = unique_topic("keep"), unique_topic("doomed")
    ck_create_topic(b.bootstrap, keep, 1, config={"segment.bytes": 2048})
    ck_create_topic(b.bootstrap, doomed, 1)
    for i in range(30):
        assert produce_code(b, keep, [f"k{i}-{j}".encode() * 20 for j in range(2)]) == 0
    assert produce_code(b, doomed, [b"d" * 500] * 10) == 0
    assert commit_code(b, "g-full", keep, 5) == 0
    return keep, doomed


@pytest.mark.parametrize("stop", ["clean", "kill9"])
def test_full_disk_starts_read_only_and_recovers_when_space_returns(broker_factory, stop):
    b = broker_factory(start=False)
    with tmpfs(b.data_dir):
        b.start()
        keep, doomed = fill_broker_data(b)
        if stop == "clean":
            assert b.stop() == 0
        else:
            b.kill9()
        filler = fill(b.data_dir)
        b.start()
        wait_until(lambda: "starting read-only" in b.log_text(), 10, 0.1, "read-only start logged")
        # Reads are served.
        md = ck_admin(b.bootstrap).list_topics(timeout=10)
        assert keep in md.topics and doomed in md.topics
        part = fetch(b, keep)
        assert part.error_code == 0 and part.high_watermark == 60 and part.records
        assert ck_watermarks(b.bootstrap, keep) == (0, 60)
        # Writes are refused with the codes clients expect.
        assert produce_code(b, keep, [b"x"]) == KAFKA_STORAGE_ERROR
        assert commit_code(b, "g-full", keep, 7) == NOT_COORDINATOR
        admin = ck_admin(b.bootstrap)
        assert create_error(admin, [NewTopic(unique_topic("new"), 1, 1)]) \
            .popitem()[1] == KAFKA_STORAGE_ERROR
        # DeleteRecords and DeleteTopics work and free space.
        free_before = os.statvfs(b.data_dir).f_bavail
        fs = admin.delete_records([TopicPartition(keep, 0, 40)], request_timeout=15)
        assert list(fs.values())[0].result(15).low_watermark == 40
        admin.delete_topics([doomed], request_timeout=15)[doomed].result(15)
        wait_until(lambda: doomed not in ck_admin(b.bootstrap).list_topics(timeout=10).topics, 10)
        assert os.statvfs(b.data_dir).f_bavail > free_before
        assert ck_watermarks(b.bootstrap, keep) == (40, 60)
        # Room again: writes come back without a restart.
        filler.unlink()
        wait_until(lambda: produce_code(b, keep, [b"back"]) == 0, 15, 0.3, "produce accepted again")
        assert "leaving read-only mode" in b.log_text()
        assert commit_code(b, "g-full", keep, 41) == 0
        assert b.stop() == 0
        b.start()
        assert ck_watermarks(b.bootstrap, keep) == (40, 61)
        assert b.stop() == 0


def test_clean_stop_on_a_full_disk_says_once_what_was_not_flushed(broker_factory):
    b = broker_factory(start=False)
    with tmpfs(b.data_dir):
        b.start()
        keep, _ = fill_broker_data(b)
        filler = fill(b.data_dir)
        rc = b.stop()
        assert rc != 0
        log = b.log_text()
        assert "closing log failed" not in log
        assert log.count("were not flushed") == 1, log[-3000:]
        filler.unlink()
        b.start()
        part = fetch(b, keep)
        assert part.error_code == 0 and part.high_watermark == 60
        assert b.stop() == 0
