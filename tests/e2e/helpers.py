"""Client-side helpers shared by the e2e tests (kcat, kafka-python, confluent-kafka).

The read-back consumers here never join a consumer group, so that tests of
produce/fetch do not also depend on the group coordinator (groups are tested in
test_groups.py and test_seeds.py):
- kafka-python: KafkaConsumer(group_id=None) + assign()/seek().
- confluent-kafka: librdkafka requires a group.id, so a unique dummy one is set
  together with enable.auto.commit=false and assign() with explicit offsets.
  NOTE: librdkafka still looks up the group coordinator (FindCoordinator) in the
  background even when only assign() is used; it does not need it to fetch, and
  coordinator errors only show up as non-fatal error events, which
  ck_consume() tolerates (and records in .errors).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field

import pytest

DEFAULT_TIMEOUT = 30.0


def unique_topic(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1, desc: str = "condition"):
    """Poll predicate() until it returns a truthy value; returns that value or fails."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - reported below
            last_exc = e
        if time.monotonic() > deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {desc}{extra}", pytrace=False)
        time.sleep(interval)


# ---------------------------------------------------------------- kcat

def kcat_path() -> str:
    path = os.environ.get("KCAT") or shutil.which("kcat") or shutil.which("kafkacat")
    if not path:
        pytest.fail("kcat is not installed (scripts/test.sh installs it with apt-get)", pytrace=False)
    return path


def kcat(*args: str, input: bytes | str | None = None, timeout: float = 30.0, check: bool = True,
         ) -> subprocess.CompletedProcess:
    """Run kcat with a bounded time; returns CompletedProcess with bytes stdout/stderr."""
    if isinstance(input, str):
        input = input.encode()
    cmd = [kcat_path(), *args]
    try:
        cp = subprocess.run(cmd, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                            capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"kcat timed out after {timeout}s: {' '.join(cmd)}\nstdout: {e.stdout!r}\nstderr: {e.stderr!r}",
                    pytrace=False)
    if check and cp.returncode != 0:
        pytest.fail(f"kcat failed (exit {cp.returncode}): {' '.join(cmd)}\nstdout: {cp.stdout[-4000:]!r}\n"
                    f"stderr: {cp.stderr[-4000:]!r}", pytrace=False)
    return cp


# ---------------------------------------------------------------- confluent-kafka

def ck_producer(bootstrap: str, **conf):
    from confluent_kafka import Producer

    base = {
        "bootstrap.servers": bootstrap,
        "linger.ms": 5,
        "message.timeout.ms": 20000,
        "socket.timeout.ms": 10000,
    }
    base.update({k.replace("_", "."): v for k, v in conf.items()})
    return Producer(base)


@dataclass
class Delivery:
    err: object | None
    topic: str | None
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes | None
    timestamp: tuple | None = None


def ck_produce(bootstrap: str, topic: str, messages, conf: dict | None = None, timeout: float = DEFAULT_TIMEOUT,
               check: bool = True) -> list[Delivery]:
    """Produce messages (bytes, or dicts of produce() kwargs) and wait for all delivery reports."""
    p = ck_producer(bootstrap, **(conf or {}))
    reports: list[Delivery | None] = []

    def make_cb(i):
        def cb(err, msg):
            reports[i] = Delivery(err, msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(),
                                  msg.timestamp())
        return cb

    for i, m in enumerate(messages):
        kwargs = dict(m) if isinstance(m, dict) else {"value": m}
        reports.append(None)
        while True:
            try:
                p.produce(topic, on_delivery=make_cb(i), **kwargs)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(timeout)
    if remaining:
        pytest.fail(f"confluent producer: {remaining} message(s) still undelivered after {timeout}s", pytrace=False)
    missing = [i for i, r in enumerate(reports) if r is None]
    assert not missing, f"no delivery report for messages {missing[:10]}"
    if check:
        errors = [(i, r.err) for i, r in enumerate(reports) if r.err is not None]
        assert not errors, f"delivery errors: {errors[:5]}"
    return reports


def ck_consumer(bootstrap: str, **conf):
    from confluent_kafka import Consumer

    base = {
        "bootstrap.servers": bootstrap,
        # librdkafka insists on a group.id; we never subscribe() or commit, so no group is joined.
        "group.id": f"fjord-e2e-nogroup-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "socket.timeout.ms": 10000,
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 1000,
    }
    base.update({k.replace("_", "."): v for k, v in conf.items()})
    return Consumer(base)


@dataclass
class Consumed:
    messages: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def values(self):
        return [m.value() for m in self.messages]


def ck_partitions(consumer_or_producer, topic: str, timeout: float = 10.0) -> list[int]:
    def get():
        md = consumer_or_producer.list_topics(topic, timeout=5)
        t = md.topics.get(topic)
        if t is None or t.error is not None or not t.partitions:
            return None
        return sorted(t.partitions)
    return wait_until(get, timeout, 0.2, f"metadata for topic {topic}")


def ck_consume(bootstrap: str, topic: str, count: int, *, partitions=None, offset=None,
               timeout: float = DEFAULT_TIMEOUT, conf: dict | None = None, exact: bool = True) -> Consumed:
    """Assign (no group) and read `count` messages from the given partitions/offsets.

    offset: None -> OFFSET_BEGINNING; an int or OFFSET_* constant for all partitions;
    or a dict {partition: offset}. Fails if fewer than `count` arrive before the timeout;
    if exact, also waits briefly to make sure no extra messages arrive.
    """
    from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

    c = ck_consumer(bootstrap, **(conf or {}))
    out = Consumed()
    try:
        if partitions is None:
            partitions = ck_partitions(c, topic)
        if isinstance(offset, dict):
            tps = [TopicPartition(topic, p, offset.get(p, OFFSET_BEGINNING)) for p in partitions]
        else:
            tps = [TopicPartition(topic, p, OFFSET_BEGINNING if offset is None else offset) for p in partitions]
        c.assign(tps)
        deadline = time.monotonic() + timeout
        while len(out.messages) < count and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                out.errors.append(m.error())
                if m.error().fatal():
                    raise AssertionError(f"fatal consumer error: {m.error()}")
                continue
            out.messages.append(m)
        if len(out.messages) < count:
            pytest.fail(f"consumed {len(out.messages)} of {count} messages from {topic} within {timeout}s; "
                        f"errors: {[str(e) for e in out.errors[:5]]}", pytrace=False)
        if exact:
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                m = c.poll(0.1)
                if m is not None and not m.error():
                    out.messages.append(m)
            assert len(out.messages) == count, f"expected exactly {count} messages, got {len(out.messages)}"
    finally:
        c.close()
    return out


def ck_admin(bootstrap: str, **conf):
    from confluent_kafka.admin import AdminClient

    base = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000}
    base.update(conf)
    return AdminClient(base)


def ck_create_topic(bootstrap: str, topic: str, partitions: int = 1, config: dict | None = None,
                    timeout: float = 15.0) -> None:
    from confluent_kafka.admin import NewTopic

    admin = ck_admin(bootstrap)
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                                       config={k: str(v) for k, v in (config or {}).items()})],
                             request_timeout=timeout)
    fs[topic].result(timeout)
    # wait until metadata shows it with all partitions
    wait_until(lambda: _ck_partition_count(admin, topic) == partitions, 10, 0.1,
               f"topic {topic} with {partitions} partitions in metadata")


def _ck_partition_count(admin, topic: str) -> int:
    md = admin.list_topics(topic, timeout=5)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return -1
    return len(t.partitions)


def ck_watermarks(bootstrap: str, topic: str, partition: int = 0, timeout: float = 10.0) -> tuple[int, int]:
    from confluent_kafka import TopicPartition

    c = ck_consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout, cached=False)
    finally:
        c.close()


# ---------------------------------------------------------------- kafka-python

def kp_producer(bootstrap: str, **kw):
    from kafka import KafkaProducer

    base = dict(bootstrap_servers=bootstrap, request_timeout_ms=15000, max_block_ms=15000)
    base.update(kw)
    return KafkaProducer(**base)


def kp_consumer(bootstrap: str, **kw):
    from kafka import KafkaConsumer

    base = dict(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", request_timeout_ms=15000, fetch_max_wait_ms=100)
    base.update(kw)
    return KafkaConsumer(**base)


def kp_partitions(consumer, topic: str, timeout: float = 10.0) -> list[int]:
    def get():
        parts = consumer.partitions_for_topic(topic)
        return sorted(parts) if parts else None
    return wait_until(get, timeout, 0.2, f"kafka-python metadata for {topic}")


def kp_consume(bootstrap: str, topic: str, count: int, *, partitions=None, offset="earliest",
               timeout: float = DEFAULT_TIMEOUT, exact: bool = True, **consumer_kw) -> list:
    """Assign (group_id=None) and read `count` ConsumerRecords. offset: 'earliest', 'latest', int, or dict."""
    from kafka import TopicPartition

    c = kp_consumer(bootstrap, **consumer_kw)
    out = []
    try:
        if partitions is None:
            partitions = kp_partitions(c, topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        c.assign(tps)
        if offset == "earliest":
            c.seek_to_beginning(*tps)
        elif offset == "latest":
            c.seek_to_end(*tps)
        elif isinstance(offset, dict):
            for tp in tps:
                c.seek(tp, offset[tp.partition])
        else:
            for tp in tps:
                c.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            batch = c.poll(timeout_ms=200)
            for recs in batch.values():
                out.extend(recs)
        if len(out) < count:
            pytest.fail(f"kafka-python consumed {len(out)} of {count} messages from {topic} within {timeout}s",
                        pytrace=False)
        if exact:
            batch = c.poll(timeout_ms=500)
            for recs in batch.values():
                out.extend(recs)
            assert len(out) == count, f"expected exactly {count} messages, got {len(out)}"
    finally:
        c.close()
    return out


def kp_admin(bootstrap: str, **kw):
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000, **kw)
