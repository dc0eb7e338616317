"""Kafka transactions with confluent-kafka's transactional producer.

Committed transactions are visible to read_committed consumers, aborted ones
never are (even records flushed to the broker before the abort), while
read_uncommitted consumers see both; an open transaction holds read_committed
consumers at the last stable offset; a second producer with the same
transactional.id fences the first; a broker kill -9 mid-transaction leaves
nothing half visible; and a consume-transform-produce application
(txn_app.py) processes its input exactly once across a kill -9 of itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from helpers import ck_consume, ck_create_topic, ck_produce, unique_topic, wait_until

HERE = Path(__file__).parent


def txn_producer(bootstrap: str, txn_id: str | None = None, **conf):
    from confluent_kafka import Producer

    base = {
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id or f"tx-{uuid.uuid4().hex[:8]}",
        "transaction.timeout.ms": 60000,
        "linger.ms": 5,
        "message.timeout.ms": 20000,
        "socket.timeout.ms": 10000,
    }
    base.update(conf)
    p = Producer(base)
    p.init_transactions(30)
    return p


def send(p, topic: str, values, partition: int | None = None):
    for v in values:
        kw = {} if partition is None else {"partition": partition}
        p.produce(topic, value=v, **kw)
    assert p.flush(30) == 0


def committed(bootstrap, topic, count, **kw):
    return ck_consume(bootstrap, topic, count, conf={"isolation.level": "read_committed"}, **kw).values()


def uncommitted(bootstrap, topic, count, **kw):
    return ck_consume(bootstrap, topic, count, conf={"isolation.level": "read_uncommitted"}, **kw).values()


def kp_end_offset(bootstrap: str, topic: str, isolation: str, partition: int = 0) -> int:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, request_timeout_ms=10000)
    try:
        tp = TopicPartition(topic, partition)
        return c.end_offsets([tp])[tp]
    finally:
        c.close()


def test_commit_visible_abort_invisible(broker):
    topic = unique_topic("txn")
    ck_create_topic(broker.bootstrap, topic, partitions=2)
    p = txn_producer(broker.bootstrap)
    p.begin_transaction()
    send(p, topic, [f"c1-{i}".encode() for i in range(10)])
    p.commit_transaction(30)
    p.begin_transaction()
    # Flushed to the broker (acknowledged), then aborted.
    send(p, topic, [f"a-{i}".encode() for i in range(10)])
    p.abort_transaction(30)
    p.begin_transaction()
    send(p, topic, [f"c2-{i}".encode() for i in range(5)])
    p.commit_transaction(30)

    want = {f"c1-{i}".encode() for i in range(10)} | {f"c2-{i}".encode() for i in range(5)}
    got = committed(broker.bootstrap, topic, 15)
    assert sorted(got) == sorted(want)
    everything = uncommitted(broker.bootstrap, topic, 25)
    assert sorted(everything) == sorted(want | {f"a-{i}".encode() for i in range(10)})

    # The same after a clean restart (aborted index from the snapshot) and
    # after a kill -9 (rebuilt from the log).
    broker.restart()
    assert sorted(committed(broker.bootstrap, topic, 15)) == sorted(want)
    broker.crash_restart()
    assert sorted(committed(broker.bootstrap, topic, 15)) == sorted(want)


def test_open_transaction_holds_last_stable_offset(broker):
    topic = unique_topic("lso")
    ck_create_topic(broker.bootstrap, topic, partitions=1)
    ck_produce(broker.bootstrap, topic, [b"before-0", b"before-1"])
    p = txn_producer(broker.bootstrap)
    p.begin_transaction()
    send(p, topic, [b"open-0", b"open-1", b"open-2"])
    # Non-transactional records after the open transaction wait behind it.
    ck_produce(broker.bootstrap, topic, [b"after-0"])
    assert kp_end_offset(broker.bootstrap, topic, "read_uncommitted") == 6
    assert kp_end_offset(broker.bootstrap, topic, "read_committed") == 2
    assert committed(broker.bootstrap, topic, 2) == [b"before-0", b"before-1"]
    p.commit_transaction(30)
    got = committed(broker.bootstrap, topic, 6)
    assert got == [b"before-0", b"before-1", b"open-0", b"open-1", b"open-2", b"after-0"]
    # The commit marker takes an offset too.
    assert kp_end_offset(broker.bootstrap, topic, "read_committed") == 7


def test_second_producer_fences_the_first(broker):
    from confluent_kafka import KafkaException

    topic = unique_topic("fence")
    ck_create_topic(broker.bootstrap, topic, partitions=1)
    txn_id = f"fence-{uuid.uuid4().hex[:8]}"
    p1 = txn_producer(broker.bootstrap, txn_id)
    p1.begin_transaction()
    send(p1, topic, [b"zombie-0", b"zombie-1"])
    p2 = txn_producer(broker.bootstrap, txn_id)
    with pytest.raises(KafkaException) as e:
        p1.produce(topic, value=b"zombie-2")
        p1.flush(10)
        p1.commit_transaction(10)
    assert e.value.args[0].fatal() or "fenced" in str(e.value).lower(), str(e.value)
    p2.begin_transaction()
    send(p2, topic, [b"p2-0"])
    p2.commit_transaction(30)
    assert committed(broker.bootstrap, topic, 1) == [b"p2-0"]
    # The zombie's flushed records were aborted, not lost from the log.
    assert sorted(uncommitted(broker.bootstrap, topic, 3)) == [b"p2-0", b"zombie-0", b"zombie-1"]


def test_kill9_mid_transaction(broker):
    topic = unique_topic("crash")
    ck_create_topic(broker.bootstrap, topic, partitions=3)
    txn_id = f"crash-{uuid.uuid4().hex[:8]}"
    p = txn_producer(broker.bootstrap, txn_id)
    p.begin_transaction()
    send(p, topic, [f"ok-{i}".encode() for i in range(9)])
    p.commit_transaction(30)
    p.begin_transaction()
    send(p, topic, [f"half-{i}".encode() for i in range(9)])
    broker.kill9()
    broker.start()
    # The interrupted transaction stays open (its producer could still end
    # it) and is never visible meanwhile.
    want = sorted(f"ok-{i}".encode() for i in range(9))
    assert sorted(committed(broker.bootstrap, topic, 9)) == want
    assert len(uncommitted(broker.bootstrap, topic, 18)) == 18
    # A new producer with the same id fences the old one, which aborts the
    # open transaction; then it commits its own.
    p2 = txn_producer(broker.bootstrap, txn_id)
    p2.begin_transaction()
    send(p2, topic, [b"after-crash"])
    p2.commit_transaction(30)
    assert sorted(committed(broker.bootstrap, topic, 10)) == sorted(want + [b"after-crash"])


@pytest.mark.parametrize("how", ["restart", "kill9"])
def test_transaction_continues_across_a_broker_restart(broker, how):
    """An Ongoing transaction survives the coordinator reloading (as in
    Kafka): its producer adds a partition after the restart and commits;
    everything it wrote before and after is visible to read_committed."""
    first, second = unique_topic("cont-a"), unique_topic("cont-b")
    ck_create_topic(broker.bootstrap, first, partitions=1)
    ck_create_topic(broker.bootstrap, second, partitions=1)
    p = txn_producer(broker.bootstrap)
    p.begin_transaction()
    send(p, first, [f"before-{i}".encode() for i in range(5)])
    if how == "kill9":
        broker.crash_restart()
    else:
        broker.restart()
    send(p, first, [f"after-{i}".encode() for i in range(5)])
    send(p, second, [b"new-partition"])
    p.commit_transaction(30)
    want = sorted([f"before-{i}".encode() for i in range(5)] + [f"after-{i}".encode() for i in range(5)])
    assert sorted(committed(broker.bootstrap, first, 10)) == want
    assert committed(broker.bootstrap, second, 1) == [b"new-partition"]


def test_transaction_timeout_aborts(broker):
    topic = unique_topic("timeout")
    ck_create_topic(broker.bootstrap, topic, partitions=1)
    p = txn_producer(broker.bootstrap, **{"transaction.timeout.ms": 2000, "socket.timeout.ms": 2000, "message.timeout.ms": 2000})
    p.begin_transaction()
    send(p, topic, [b"abandoned"])
    ck_produce(broker.bootstrap, topic, [b"plain"])
    # The broker aborts the abandoned transaction, unblocking the LSO.
    assert committed(broker.bootstrap, topic, 1, timeout=20) == [b"plain"]


def test_transaction_timeout_above_maximum_is_refused(broker):
    from confluent_kafka import KafkaException

    with pytest.raises(KafkaException) as e:
        txn_producer(broker.bootstrap, **{"transaction.timeout.ms": 900001})
    assert "INVALID_TRANSACTION_TIMEOUT" in str(e.value) or "timeout" in str(e.value).lower()


def test_internal_topic_protected(broker):
    from confluent_kafka.admin import AdminClient

    txn_producer(broker.bootstrap)  # creates __transaction_state
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert "__transaction_state" in admin.list_topics(timeout=10).topics
    r = ck_produce(broker.bootstrap, "__transaction_state", [b"x"], check=False,
                   conf={"message.timeout.ms": 3000, "retries": 0})
    assert r[0].err is not None
    fs = admin.delete_topics(["__transaction_state"], request_timeout=10)
    with pytest.raises(Exception):
        fs["__transaction_state"].result(10)


class App:
    """txn_app.py as a subprocess, its JSON lines collected by a thread."""

    def __init__(self, broker, args):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "txn_app.py"), "--bootstrap", broker.bootstrap, *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[dict] = []
        self.raw: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.raw.append(line)
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                pass

    def committed(self) -> int:
        return sum(d.get("committed", 0) for d in self.lines)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        finally:
            self.thread.join(5)


def test_consume_transform_produce_exactly_once(broker):
    src, dst = unique_topic("in"), unique_topic("out")
    ck_create_topic(broker.bootstrap, src, partitions=2)
    ck_create_topic(broker.bootstrap, dst, partitions=2)
    n = 300
    ck_produce(broker.bootstrap, src, [{"key": str(i).encode(), "value": f"v-{i}".encode()} for i in range(n)])
    group, txn_id = f"eos-{uuid.uuid4().hex[:8]}", f"eos-{uuid.uuid4().hex[:8]}"
    args = ["--input", src, "--output", dst, "--group", group, "--txn-id", txn_id, "--batch", "20"]

    first = App(broker, args + ["--pause", "0.3"])
    try:
        wait_until(lambda: first.committed() >= 60, 60, 0.05, "the first app instance to commit some")
    finally:
        # Most likely between producing and committing a transaction.
        first.kill9()
    assert first.committed() < n, "the app finished before it could be killed"

    second = App(broker, args + ["--idle-exit", "6"])
    rc = second.wait(100)
    assert rc == 0, "".join(second.raw[-20:])
    assert first.committed() + second.committed() == n, (first.committed(), second.committed())

    got = committed(broker.bootstrap, dst, n, timeout=30)
    assert sorted(got) == sorted(f"V-{i}".encode() for i in range(n))
    assert len(set(got)) == n
    # The group's offsets, committed inside the transactions, survive a
    # broker kill -9 (replayed from __consumer_offsets with their markers).
    broker.crash_restart()
    assert group_committed_total(broker.bootstrap, group, src, 2) == n


def group_committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=15)
        return sum(max(tp.offset, 0) for tp in got)
    finally:
        c.close()


def test_aborted_offsets_are_not_committed(broker):
    from confluent_kafka import Consumer, TopicPartition

    src, dst = unique_topic("in"), unique_topic("out")
    ck_create_topic(broker.bootstrap, src, partitions=1)
    ck_create_topic(broker.bootstrap, dst, partitions=1)
    group = f"abort-{uuid.uuid4().hex[:8]}"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        meta = c.consumer_group_metadata()
        p = txn_producer(broker.bootstrap)
        p.begin_transaction()
        send(p, dst, [b"x"])
        p.send_offsets_to_transaction([TopicPartition(src, 0, 5)], meta, 30)
        p.abort_transaction(30)
        assert group_committed_total(broker.bootstrap, group, src, 1) == 0
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition(src, 0, 7)], meta, 30)
        p.commit_transaction(30)
        assert group_committed_total(broker.bootstrap, group, src, 1) == 7
        broker.restart()
        assert group_committed_total(broker.bootstrap, group, src, 1) == 7
    finally:
        c.close()


def test_admin_describe_and_list_transactions(broker):
    from kafka import KafkaAdminClient, TopicPartition

    topic = unique_topic("admin")
    ck_create_topic(broker.bootstrap, topic, partitions=2)
    txn_id = f"adm-{uuid.uuid4().hex[:8]}"
    p = txn_producer(broker.bootstrap, txn_id)
    p.begin_transaction()
    send(p, topic, [b"a", b"b"], partition=1)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
    try:
        d = admin.describe_transactions([txn_id])[txn_id]
        text = repr(d)
        assert "Ongoing" in text and topic in text, text
        listed = admin.list_transactions(state_filters=["Ongoing"])
        assert txn_id in repr(listed), listed
        assert d.producer_epoch == 0 and d.transaction_timeout_ms == 60000
        assert d.topic_partitions == {TopicPartition(topic, 1)}
        prods = admin.describe_producers([TopicPartition(topic, 1)])[TopicPartition(topic, 1)]
        (ps,) = prods.active_producers
        # The open transaction starts at offset 0 of partition 1.
        assert (ps.producer_id, ps.last_sequence, ps.current_transaction_start_offset) == \
            (d.producer_id, 1, 0), prods
        p.commit_transaction(30)
        d = admin.describe_transactions([txn_id])[txn_id]
        assert "CompleteCommit" in repr(d), repr(d)
        prods = admin.describe_producers([TopicPartition(topic, 1)])[TopicPartition(topic, 1)]
        assert prods.active_producers[0].current_transaction_start_offset == -1, prods
        assert txn_id not in repr(admin.list_transactions(state_filters=["Ongoing"]))
    finally:
        admin.close()


def test_transaction_max_timeout_is_configurable(broker_factory):
    from confluent_kafka import KafkaException

    b = broker_factory(config={"transaction.max.timeout.ms": 5000})
    with pytest.raises(KafkaException):
        txn_producer(b.bootstrap, **{"transaction.timeout.ms": 6000, "socket.timeout.ms": 5000,
                                     "message.timeout.ms": 5000})
    p = txn_producer(b.bootstrap, **{"transaction.timeout.ms": 5000, "socket.timeout.ms": 5000,
                                     "message.timeout.ms": 5000})
    p.begin_transaction()
    p.commit_transaction(10)


def kp_read(bootstrap: str, topic: str, isolation: str, partitions: int, count: int, timeout: float = 20.0):
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, group_id=None,
                      auto_offset_reset="earliest", enable_auto_commit=False, request_timeout_ms=10000)
    try:
        c.assign([TopicPartition(topic, p) for p in range(partitions)])
        c.seek_to_beginning()
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                out.extend(r.value for r in recs)
        # Nothing more arrives.
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            for recs in c.poll(timeout_ms=100).values():
                out.extend(r.value for r in recs)
        return out
    finally:
        c.close()


def test_interleaved_transactions_on_one_partition(broker):
    topic = unique_topic("inter")
    ck_create_topic(broker.bootstrap, topic, partitions=1)
    a = txn_producer(broker.bootstrap)
    b = txn_producer(broker.bootstrap)
    a.begin_transaction()
    b.begin_transaction()
    for i in range(5):
        send(a, topic, [f"a-{i}".encode()])
        send(b, topic, [f"b-{i}".encode()])
    a.abort_transaction(30)
    b.commit_transaction(30)
    a.begin_transaction()
    send(a, topic, [b"a-late"])
    a.commit_transaction(30)
    want = [f"b-{i}".encode() for i in range(5)] + [b"a-late"]
    assert committed(broker.bootstrap, topic, 6) == want
    # kafka-python filters aborted batches with the same index.
    assert kp_read(broker.bootstrap, topic, "read_committed", 1, 6) == want
    assert len(kp_read(broker.bootstrap, topic, "read_uncommitted", 1, 11)) == 11


def test_kafka_python_transactional_producer(broker):
    from kafka import KafkaProducer

    topic = unique_topic("kptxn")
    ck_create_topic(broker.bootstrap, topic, partitions=2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=f"kp-{uuid.uuid4().hex[:8]}",
                      request_timeout_ms=10000)
    try:
        p.init_transactions()
        p.begin_transaction()
        for i in range(10):
            p.send(topic, f"c-{i}".encode())
        p.commit_transaction()
        p.begin_transaction()
        for i in range(10):
            p.send(topic, f"x-{i}".encode())
        p.flush()
        p.abort_transaction()
    finally:
        p.close(timeout=10)
    want = sorted(f"c-{i}".encode() for i in range(10))
    assert sorted(kp_read(broker.bootstrap, topic, "read_committed", 2, 10)) == want
    assert sorted(committed(broker.bootstrap, topic, 10)) == want


def test_consume_transform_produce_across_broker_kill9(broker):
    src, dst = unique_topic("in"), unique_topic("out")
    ck_create_topic(broker.bootstrap, src, partitions=2)
    ck_create_topic(broker.bootstrap, dst, partitions=2)
    n = 200
    ck_produce(broker.bootstrap, src, [{"key": str(i).encode(), "value": f"w-{i}".encode()} for i in range(n)])
    group, txn_id = f"eosb-{uuid.uuid4().hex[:8]}", f"eosb-{uuid.uuid4().hex[:8]}"
    args = ["--input", src, "--output", dst, "--group", group, "--txn-id", txn_id, "--batch", "20"]

    first = App(broker, args + ["--pause", "0.3"])
    try:
        wait_until(lambda: first.committed() >= 40, 60, 0.05, "the app to commit some")
        # The broker dies, most likely mid-transaction; the app with it.
        broker.kill9()
    finally:
        first.kill9()
    broker.start()
    second = App(broker, args + ["--idle-exit", "6"])
    rc = second.wait(100)
    assert rc == 0, "".join(second.raw[-20:])
    got = committed(broker.bootstrap, dst, n, timeout=30)
    assert sorted(got) == sorted(f"W-{i}".encode() for i in range(n))
