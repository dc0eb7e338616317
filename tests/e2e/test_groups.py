"""Consumer groups (classic protocol) with real clients against the real broker (issue 4).

Group members run as subprocesses (group_member.py), one process per member, so a
test can stop one cleanly (SIGTERM: the client closes and leaves the group) or kill
it with SIGKILL and let the coordinator notice the missed session timeout. Each
member reports its rebalance callbacks, assignment changes and records as JSON
lines; the tests wait on those with deadlines, never fixed sleeps.

Covered: one partition per member for kafka-python, confluent-kafka and aiokafka
(and an idle extra member), a clean leave and a kill -9 moving partitions, two
groups reading one topic independently, a mixed-client group, committed offsets
(with metadata) surviving a clean restart and a kill -9 of the broker, cooperative
rebalancing (cooperative-sticky), static membership (group.instance.id) including
fencing, the admin views (ListGroups, DescribeGroups, DeleteGroups, OffsetDelete),
__consumer_offsets protection, subscribe-to-first-record latency, and
group.initial.rebalance.delay.ms from the config file.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import kafka_wire as kw
from helpers import ck_admin, ck_create_topic, ck_produce, kp_admin, kp_producer, wait_until

pytestmark = pytest.mark.groups

E2E_DIR = Path(__file__).resolve().parent
GROUP_MEMBER = E2E_DIR / "group_member.py"
CLIENTS = ["kafka-python", "confluent", "aiokafka"]

# Short sessions so a killed member is noticed quickly (the broker's
# group.min.session.timeout.ms is 6000); heartbeats well inside them.
FAST_SESSION = {
    "kafka-python": {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
    "aiokafka": {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
    "confluent": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- member processes


class Member:
    """A group_member.py subprocess and what it has reported so far."""

    def __init__(self, client: str, bootstrap: str, group: str, topics, conf: dict | None, name: str,
                 logdir: Path):
        self.client = client
        self.name = name
        self.group = group
        cmd = [sys.executable, "-u", str(GROUP_MEMBER), "--client", client, "--bootstrap", bootstrap,
               "--group", group]
        for t in topics:
            cmd += ["--topic", t]
        for k, v in (conf or {}).items():
            cmd += ["--conf", f"{k}={v if isinstance(v, str) else json.dumps(v)}"]
        self.stderr_path = logdir / f"{name}.stderr"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
                                     text=True, start_new_session=True)
        self.events: list[dict] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "output", "line": line.rstrip()}
            with self._lock:
                self.events.append(ev)

    # -------------------------------------------------- views
    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.events)

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def since(self, mark: int, kind: str | None = None) -> list[dict]:
        return [e for e in self.snapshot()[mark:] if kind is None or e["event"] == kind]

    @property
    def assignment(self) -> set[tuple[str, int]]:
        cur: set = set()
        for e in self.snapshot():
            if e["event"] == "assignment":
                cur = {tuple(p) for p in e["partitions"]}
        return cur

    def records(self, mark: int = 0) -> list[dict]:
        return self.since(mark, "record")

    def errors(self) -> list[dict]:
        return [e for e in self.snapshot() if e["event"] == "error"]

    def first(self, kind: str) -> dict | None:
        return next((e for e in self.snapshot() if e["event"] == kind), None)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def describe(self) -> str:
        evs = [e for e in self.snapshot() if e["event"] != "record"]
        try:
            err = self.stderr_path.read_text(errors="replace")[-3000:]
        except OSError:
            err = ""
        return (f"{self.name} ({self.client}, pid {self.proc.pid}, exit {self.proc.poll()}): "
                f"{len(self.records())} records; last events {json.dumps(evs[-12:])}\nstderr: {err}")

    # -------------------------------------------------- control
    def stop(self, timeout: float = 40.0) -> None:
        """SIGTERM: the member closes its consumer (leaving the group) and exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                pytest.fail(f"member did not close within {timeout}s of SIGTERM\n{self.describe()}", pytrace=False)
        self._reader.join(5)
        assert self.first("closed") is not None, f"member exited without closing cleanly\n{self.describe()}"

    def kill9(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self._stderr.close()


@pytest.fixture
def members(tmp_path):
    """Factory: members(client, bootstrap, group, topics, conf=None, name=None) -> Member."""
    started: list[Member] = []

    def start(client, bootstrap, group, topics, conf=None, name=None) -> Member:
        m = Member(client, bootstrap, group, topics, conf, name or f"m{len(started)}-{client}", tmp_path)
        started.append(m)
        return m

    start.all = started
    yield start
    for m in started:
        m.kill9()


def describe_all(ms) -> str:
    return "\n".join(m.describe() for m in ms)


def wait_for(pred, timeout: float, desc: str, ms=(), interval: float = 0.1):
    """wait_until with the members' state in the failure message."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        for m in ms:
            if not m.alive() and m.first("closed") is None and m.proc.returncode not in (None, -9):
                pytest.fail(f"member {m.name} died while waiting for {desc}\n{describe_all(ms)}", pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {desc}\n{describe_all(ms)}", pytrace=False)
        time.sleep(interval)


def balanced(ms, partitions: set, sizes: list[int]) -> bool:
    """The members' assignments are disjoint, cover `partitions`, and have these sizes."""
    assigns = [m.assignment for m in ms]
    union = set().union(*assigns) if assigns else set()
    return (sorted(len(a) for a in assigns) == sorted(sizes) and union == partitions
            and sum(len(a) for a in assigns) == len(partitions))


def wait_rebalanced(ms, marks, partitions: set, sizes: list[int], timeout: float = 60.0, what: str = "rebalance"):
    """Every member finished a rebalance after its mark (an assign callback), and the
    assignments then split `partitions` in the given sizes."""
    def done():
        if any(not m.since(mk, "assign") for m, mk in zip(ms, marks)):
            return False
        return balanced(ms, partitions, sizes)
    wait_for(done, timeout, f"{what}: assignments of sizes {sizes} over {sorted(partitions)}", ms)


def settle(ms, quiet: float = 2.0, timeout: float = 30.0) -> None:
    """Wait until no member has had a rebalance callback for `quiet` seconds (a client
    may rebalance once more right after joining, e.g. kafka-python when its topic
    metadata arrives after its first assignment). Event times are CLOCK_MONOTONIC,
    shared by all processes."""
    def quiet_now():
        last = max((e["t"] for m in ms for e in m.snapshot() if e["event"] in ("assign", "revoke", "lost")),
                   default=0.0)
        return time.monotonic() - last >= quiet
    wait_for(quiet_now, timeout, f"the group to stay unchanged for {quiet}s", ms, interval=0.2)


def produce_to_partitions(bootstrap: str, topic: str, partitions, per_partition: int, tag: str) -> set[str]:
    """Produce `per_partition` records to each partition; returns the values."""
    msgs = [{"value": f"{tag}-{p}-{i}".encode(), "partition": p} for p in partitions for i in range(per_partition)]
    ck_produce(bootstrap, topic, msgs)
    return {m["value"].decode() for m in msgs}


def received_values(ms, topic: str | None = None, mark: list[int] | None = None) -> list[str]:
    out = []
    for i, m in enumerate(ms):
        for r in m.records(mark[i] if mark else 0):
            if topic is None or r["topic"] == topic:
                out.append(r["value"])
    return out


def wait_all_received(ms, expected: set[str], timeout: float = 60.0, topic=None, exactly_once=False, marks=None):
    wait_for(lambda: expected <= set(received_values(ms, topic, marks)), timeout,
             f"all {len(expected)} records to be consumed", ms)
    if exactly_once:
        got = [v for v in received_values(ms, topic, marks) if v in expected]
        dups = sorted({v for v in got if got.count(v) > 1})
        assert not dups, f"records consumed twice: {dups[:10]}"


def create_topic(bootstrap: str, partitions: int) -> str:
    topic = uid("grp")
    ck_create_topic(bootstrap, topic, partitions)
    return topic


# ---------------------------------------------------------------- membership


@pytest.mark.parametrize("client", CLIENTS)
def test_members_share_partitions_leave_and_kill9(broker, members, client):
    """Three members on a 3-partition topic hold one partition each, a fourth holds
    none; a member that leaves (close) and one killed with kill -9 (after its session
    timeout) hand their partitions to the others; every record is consumed."""
    bs = broker.bootstrap
    topic = create_topic(bs, 3)
    group = uid(f"g-{client}")
    parts = {(topic, p) for p in range(3)}
    conf = FAST_SESSION[client]

    ms = []
    for i in range(3):
        ms.append(members(client, bs, group, [topic], conf, name=f"{client}-{i}"))
    wait_rebalanced(ms, [0, 0, 0], parts, [1, 1, 1], what="three members")

    sent = produce_to_partitions(bs, topic, range(3), 10, "a")
    wait_all_received(ms, sent, exactly_once=True)
    # Each member got exactly the records of its own partition.
    for m in ms:
        (tp,) = m.assignment
        assert {r["partition"] for r in m.records()} == {tp[1]}, m.describe()

    # A fourth member: the group rebalances and one member is left without a
    # partition (which one is the range assignor's choice: members sort by id).
    marks = [m.mark() for m in ms]
    ms.append(members(client, bs, group, [topic], conf, name=f"{client}-3"))
    wait_rebalanced(ms, marks + [0], parts, [0, 1, 1, 1], what="fourth member joins")

    # A member leaves cleanly: its partition moves to another member.
    leaver = next(m for m in ms if m.assignment)
    (moved,) = leaver.assignment
    t_leave = time.monotonic()
    leaver.stop()
    ms.remove(leaver)
    marks = [m.mark() for m in ms]
    wait_rebalanced(ms, marks, parts, [1, 1, 1], what="after a member left")
    leave_s = time.monotonic() - t_leave
    assert any(moved in m.assignment for m in ms)

    # A member is killed with kill -9: after its session timeout (6 s) the rest take over.
    victim = next(m for m in ms if m.assignment)
    (lost,) = victim.assignment
    marks = [m.mark() for m in ms if m is not victim]
    t_kill = time.monotonic()
    victim.kill9()
    ms.remove(victim)
    wait_rebalanced(ms, marks, parts, [1, 2], timeout=60, what="after kill -9 of a member")
    kill_s = time.monotonic() - t_kill
    assert any(lost in m.assignment for m in ms)
    assert kill_s >= 4.0, f"partition moved {kill_s:.1f}s after kill -9, before the 6 s session timeout"

    sent2 = produce_to_partitions(bs, topic, range(3), 10, "b")
    wait_all_received(ms, sent2)
    print(f"\n[{client}] leave -> reassigned in {leave_s:.1f}s; kill -9 -> reassigned in {kill_s:.1f}s")


def test_two_groups_read_the_same_topic_independently(broker, members):
    """Two groups (one of three mixed clients, one of a single member) each get every record."""
    bs = broker.bootstrap
    topic = create_topic(bs, 3)
    parts = {(topic, p) for p in range(3)}
    ga, gb = uid("ga"), uid("gb")
    group_a = [members(c, bs, ga, [topic], name=f"a-{c}") for c in CLIENTS]
    group_b = [members("confluent", bs, gb, [topic], name="b-confluent")]
    wait_rebalanced(group_a, [0, 0, 0], parts, [1, 1, 1], what="mixed-client group")
    wait_rebalanced(group_b, [0], parts, [3], what="single-member group")

    sent = produce_to_partitions(bs, topic, range(3), 20, "x")
    wait_all_received(group_a, sent, exactly_once=True)
    wait_all_received(group_b, sent, exactly_once=True)


# ---------------------------------------------------------------- committed offsets


def _kp_group_consumer(bs, group, **kw):
    from kafka import KafkaConsumer

    base = dict(bootstrap_servers=bs, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
                request_timeout_ms=15000, fetch_max_wait_ms=100)
    base.update(kw)
    return KafkaConsumer(**base)


def _ck_group_consumer(bs, group, **conf):
    from confluent_kafka import Consumer

    base = {"bootstrap.servers": bs, "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "socket.timeout.ms": 10000, "fetch.wait.max.ms": 100}
    base.update(conf)
    return Consumer(base)


def consume_group(client: str, bs: str, group: str, topic: str, until, commit: dict | None,
                  timeout: float = 45.0) -> list[tuple[int, int]]:
    """Subscribe as a group member, read until until(records) is true, commit
    `commit` ({partition: (offset, metadata)}) synchronously, then close.
    Returns (partition, offset) of every record read, in order."""
    got: list[tuple[int, int]] = []
    deadline = time.monotonic() + timeout
    if client == "kafka-python":
        from kafka import OffsetAndMetadata, TopicPartition

        # Iterated with a long consumer_timeout_ms rather than poll(timeout_ms=200):
        # see group_member.py for the kafka-python join that a short poll can lose.
        c = _kp_group_consumer(bs, group, consumer_timeout_ms=int(timeout * 1000))
        try:
            c.subscribe([topic])
            for r in c:
                got.append((r.partition, r.offset))
                if until(got):
                    break
            assert until(got), f"kafka-python read only {got[-5:]} ({len(got)} records)"
            if commit:
                c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, md, -1) for p, (o, md) in commit.items()})
        finally:
            c.close()
    else:
        from confluent_kafka import TopicPartition

        c = _ck_group_consumer(bs, group)
        try:
            c.subscribe([topic])
            while not until(got):
                assert time.monotonic() < deadline, f"confluent read only {got[-5:]} ({len(got)} records)"
                m = c.poll(0.2)
                if m is None or m.error():
                    continue
                got.append((m.partition(), m.offset()))
            if commit:
                c.commit(offsets=[TopicPartition(topic, p, o, metadata=md) for p, (o, md) in commit.items()],
                         asynchronous=False)
        finally:
            c.close()
    return got


def committed(client: str, bs: str, group: str, topic: str, partitions) -> dict[int, tuple[int, str]]:
    """Committed offsets and metadata through OffsetFetch."""
    if client == "kafka-python":
        from kafka import TopicPartition

        admin = kp_admin(bs)
        try:
            res = admin.list_group_offsets({group: [TopicPartition(topic, p) for p in partitions]})[group]
        finally:
            admin.close()
        return {tp.partition: (om.offset, om.metadata) for tp, om in res.items()}
    from confluent_kafka import TopicPartition

    c = _ck_group_consumer(bs, group)
    try:
        res = c.committed([TopicPartition(topic, p) for p in partitions], timeout=15)
    finally:
        c.close()
    return {tp.partition: (tp.offset, tp.metadata) for tp in res}


@pytest.mark.parametrize("restart", ["restart", "crash_restart"])
@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_committed_offsets_survive_broker_restart(broker, client, restart):
    """Commits (with metadata) survive a clean restart and a kill -9 of the broker, and a
    new consumer in the group resumes exactly at the committed positions."""
    bs = broker.bootstrap
    topic = create_topic(bs, 2)
    group = uid("resume")
    produce_to_partitions(bs, topic, [0, 1], 30, "r")

    first = {0: (17, f"{client} p0 at 17"), 1: (23, "métadonnées p1 ✓")}
    got = consume_group(client, bs, group, topic, lambda g: len(g) >= 60, first)
    assert sorted(got) == [(p, o) for p in (0, 1) for o in range(30)]
    assert committed(client, bs, group, topic, [0, 1]) == first

    getattr(broker, restart)()
    assert committed(client, bs, group, topic, [0, 1]) == first, f"commits lost by {restart}"

    # Resume: everything from the commit on, in order, nothing before it.
    got = consume_group(client, bs, group, topic, lambda g: len(g) >= (30 - 17) + (30 - 23),
                        {0: (29, "second"), 1: (30, "")})
    for p, (start, _) in first.items():
        offs = [o for q, o in got if q == p]
        assert offs == list(range(start, 30)), f"partition {p}: resumed with {offs[:5]}..., expected from {start}"

    getattr(broker, restart)()
    assert committed(client, bs, group, topic, [0, 1]) == {0: (29, "second"), 1: (30, "")}
    # One record left on partition 0, none on 1.
    got = consume_group(client, bs, group, topic, lambda g: len(g) >= 1, None)
    assert got == [(0, 29)]


AUTO_COMMIT = {
    "kafka-python": {"enable_auto_commit": True, "auto_commit_interval_ms": 200},
    "aiokafka": {"enable_auto_commit": True, "auto_commit_interval_ms": 200},
    "confluent": {"enable.auto.commit": True, "auto.commit.interval.ms": 200},
}


@pytest.mark.parametrize("restart", ["restart", "crash_restart"])
@pytest.mark.parametrize("client", CLIENTS)
def test_live_member_keeps_consuming_across_broker_restart(broker, members, client, restart):
    """A member that stays up through a broker restart (clean or kill -9) carries on:
    records produced after the restart reach it, none is lost or read twice."""
    bs = broker.bootstrap
    topic = create_topic(bs, 1)
    group = uid("live")
    m = members(client, bs, group, [topic], AUTO_COMMIT[client])
    wait_rebalanced([m], [0], {(topic, 0)}, [1])
    before = produce_to_partitions(bs, topic, [0], 10, "before")
    wait_all_received([m], before)
    wait_until(lambda: committed("confluent", bs, group, topic, [0])[0][0] == 10, 20, 0.3, "auto commit of 10")
    getattr(broker, restart)()
    after = produce_to_partitions(bs, topic, [0], 10, "after")
    wait_all_received([m], after, timeout=60)
    values = received_values([m])
    assert sorted(values) == sorted(before | after), "records lost or read twice across the broker restart"
    wait_until(lambda: committed("confluent", bs, group, topic, [0])[0][0] == 20, 30, 0.3, "auto commit of 20")


def test_member_lost_with_the_broker_is_expired_after_restart(broker, members):
    """The member and the broker are both killed; the group comes back from
    __consumer_offsets with that member, which then misses its session timeout, and a
    new member takes over, resuming at the committed offset."""
    bs = broker.bootstrap
    topic = create_topic(bs, 1)
    group = uid("lost")
    conf = {**AUTO_COMMIT["confluent"], **FAST_SESSION["confluent"]}
    old = members("confluent", bs, group, [topic], conf, name="old")
    wait_rebalanced([old], [0], {(topic, 0)}, [1])
    first = produce_to_partitions(bs, topic, [0], 10, "one")
    wait_all_received([old], first)
    wait_until(lambda: committed("confluent", bs, group, topic, [0])[0][0] == 10, 20, 0.3, "auto commit of 10")
    old.kill9()
    broker.crash_restart()
    t0 = time.monotonic()
    new = members("confluent", bs, group, [topic], conf, name="new")
    wait_rebalanced([new], [0], {(topic, 0)}, [1], timeout=60, what="new member after the old one expired")
    took = time.monotonic() - t0
    assert took >= 4.0, f"the loaded member should have held the group until its 6 s session expired ({took:.1f}s)"
    second = produce_to_partitions(bs, topic, [0], 5, "two")
    wait_all_received([new], second)
    assert set(received_values([new])) == second, "the new member re-read committed records"


# ---------------------------------------------------------------- cooperative / static


class Ticker:
    """Produces numbered records to a topic until stopped (a background producer)."""

    def __init__(self, bs: str, topic: str, tag: str, interval: float = 0.02):
        from confluent_kafka import Producer

        self.p = Producer({"bootstrap.servers": bs, "linger.ms": 5, "message.timeout.ms": 30000})
        self.topic, self.tag, self.interval = topic, tag, interval
        self.sent: list[str] = []
        self.failed: list = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _cb(self, err, msg):
        if err is not None:
            self.failed.append(err)

    def _run(self):
        i = 0
        while not self._stop.is_set():
            v = f"{self.tag}-{i}"
            self.p.produce(self.topic, value=v.encode(), key=str(i).encode(), on_delivery=self._cb)
            self.sent.append(v)
            self.p.poll(0)
            i += 1
            time.sleep(self.interval)

    def stop(self) -> set[str]:
        self._stop.set()
        self.thread.join(10)
        left = self.p.flush(30)
        assert left == 0 and not self.failed, f"producer: {left} undelivered, errors {self.failed[:3]}"
        return set(self.sent)


def test_cooperative_sticky_rebalancing(broker, members):
    """confluent-kafka with cooperative-sticky: members join and leave while records
    flow; rebalances are incremental (a member only gives up what moves), and every
    record is consumed."""
    bs = broker.bootstrap
    topic = create_topic(bs, 6)
    parts = {(topic, p) for p in range(6)}
    group = uid("coop")
    conf = {"partition.assignment.strategy": "cooperative-sticky", "enable.auto.commit": True,
            "auto.commit.interval.ms": 500, **FAST_SESSION["confluent"]}
    ticker = Ticker(bs, topic, "coop")
    try:
        m1 = members("confluent", bs, group, [topic], conf, name="coop-1")
        wait_rebalanced([m1], [0], parts, [6], what="first member")
        before = m1.assignment

        mk1 = m1.mark()
        m2 = members("confluent", bs, group, [topic], conf, name="coop-2")
        wait_rebalanced([m1, m2], [mk1, 0], parts, [3, 3], what="second member joins")
        revoked = [tuple(p) for e in m1.since(mk1, "revoke") for p in e["partitions"]]
        # Incremental: m1 gave up exactly what m2 got, and kept the rest throughout.
        assert set(revoked) == m2.assignment, (revoked, m2.assignment)
        assert m1.assignment <= before

        mk = [m1.mark(), m2.mark()]
        m3 = members("confluent", bs, group, [topic], conf, name="coop-3")
        ms = [m1, m2, m3]
        wait_for(lambda: balanced(ms, parts, [2, 2, 2]) and m3.since(0, "assign"), 60,
                 "third member joins: 2/2/2", ms)
        for m, k, kept in ((m1, mk[0], m1.assignment), (m2, mk[1], m2.assignment)):
            for e in m.since(k, "revoke"):
                assert not ({tuple(p) for p in e["partitions"]} & kept), f"{m.name} revoked a partition it kept"

        m1.stop()
        wait_for(lambda: balanced([m2, m3], parts, [3, 3]), 60, "m1 left: 3/3", [m2, m3])
        m2.stop()
        wait_for(lambda: balanced([m3], parts, [6]), 60, "m2 left: m3 holds all", [m3])
    finally:
        sent = ticker.stop()
    assert len(sent) > 100
    wait_all_received(members.all, sent, timeout=60)
    for m in members.all:
        assert not [e for e in m.errors() if e["fatal"]], m.describe()


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_static_member_restart_gets_its_partitions_back_without_rebalance(broker, members, client):
    """group.instance.id: a member killed and restarted within its session timeout gets
    its partitions back; the other member sees no rebalance at all."""
    bs = broker.bootstrap
    topic = create_topic(bs, 2)
    parts = {(topic, p) for p in range(2)}
    group = uid("static")
    if client == "confluent":
        conf = lambda inst: {"group.instance.id": inst, "session.timeout.ms": 30000}  # noqa: E731
    else:
        conf = lambda inst: {"group_instance_id": inst, "session_timeout_ms": 30000}  # noqa: E731
    a = members(client, bs, group, [topic], conf("inst-a"), name="static-a")
    b = members(client, bs, group, [topic], conf("inst-b"), name="static-b")
    wait_rebalanced([a, b], [0, 0], parts, [1, 1], what="two static members")
    settle([a, b])
    assert balanced([a, b], parts, [1, 1]), describe_all([a, b])
    a_parts = a.assignment
    mark_b = b.mark()
    rebalances_before = broker.log_text().count("preparing to rebalance")

    a.kill9()
    a2 = members(client, bs, group, [topic], conf("inst-a"), name="static-a2")
    wait_for(lambda: a2.assignment == a_parts, 30, "restarted static member to get its partitions back", [a2, b])
    sent = produce_to_partitions(bs, topic, [0, 1], 5, "s")
    wait_all_received([a2, b], sent, marks=[0, mark_b])
    assert b.since(mark_b, "assign") == [] and b.since(mark_b, "revoke") == [], \
        f"the other member was rebalanced\n{b.describe()}"
    assert broker.log_text().count("preparing to rebalance") == rebalances_before, "the group rebalanced"


def test_static_member_duplicate_instance_id_is_fenced(broker, members):
    """A second live member with the same group.instance.id takes over; the first is
    fenced (FENCED_INSTANCE_ID, fatal in librdkafka)."""
    bs = broker.bootstrap
    topic = create_topic(bs, 1)
    group = uid("fence")
    conf = {"group.instance.id": "dup", "session.timeout.ms": 30000, "heartbeat.interval.ms": 500}
    first = members("confluent", bs, group, [topic], conf, name="first")
    wait_rebalanced([first], [0], {(topic, 0)}, [1])
    second = members("confluent", bs, group, [topic], conf, name="second")
    wait_for(lambda: second.assignment == {(topic, 0)}, 30, "second instance to get the partition", [first, second])
    wait_for(lambda: [e for e in first.errors() if "FENCED" in e["name"].upper() or "fenced" in e["message"]],
             30, "the first instance to be fenced", [first, second])
    sent = produce_to_partitions(bs, topic, [0], 5, "f")
    wait_all_received([second], sent)


# ---------------------------------------------------------------- admin views


def test_admin_list_describe_delete_groups_and_offsets(broker, members):
    from confluent_kafka import ConsumerGroupState, TopicPartition
    from confluent_kafka import KafkaError as CKError
    from confluent_kafka import ConsumerGroupTopicPartitions
    from kafka import TopicPartition as KTP
    from kafka.errors import GroupSubscribedToTopicError

    bs = broker.bootstrap
    topic = create_topic(bs, 2)
    live, idle = uid("live"), uid("idle")
    m = members("confluent", bs, live, [topic], name="live-member")
    wait_rebalanced([m], [0], {(topic, 0), (topic, 1)}, [2])

    admin = ck_admin(bs)
    # An Empty group with offsets, committed through the admin API (generation -1).
    fs = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(
        idle, [TopicPartition(topic, 0, 5, metadata="five"), TopicPartition(topic, 1, 7)])])
    fs[idle].result(15)

    listed = admin.list_consumer_groups(request_timeout=15).result(15)
    states = {g.group_id: g.state for g in listed.valid}
    assert states.get(live) == ConsumerGroupState.STABLE, states
    assert states.get(idle) == ConsumerGroupState.EMPTY, states
    stable = admin.list_consumer_groups(states={ConsumerGroupState.STABLE}, request_timeout=15).result(15)
    ids = {g.group_id for g in stable.valid}
    assert live in ids and idle not in ids
    empty = admin.list_consumer_groups(states={ConsumerGroupState.EMPTY}, request_timeout=15).result(15)
    ids = {g.group_id for g in empty.valid}
    assert idle in ids and live not in ids

    desc = admin.describe_consumer_groups([live, idle], request_timeout=15)
    d = desc[live].result(15)
    assert d.state == ConsumerGroupState.STABLE and not d.is_simple_consumer_group
    assert d.partition_assignor == "range"
    assert len(d.members) == 1
    (mem,) = d.members
    assert mem.client_id and mem.host
    assert sorted((tp.topic, tp.partition) for tp in mem.assignment.topic_partitions) == [(topic, 0), (topic, 1)]
    e = desc[idle].result(15)
    assert e.state == ConsumerGroupState.EMPTY and e.members == []

    offs = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(idle)])[idle].result(15)
    got = {tp.partition: (tp.offset, tp.metadata or "") for tp in offs.topic_partitions}
    assert got == {0: (5, "five"), 1: (7, "")}

    # kafka-python's admin: ListGroups with a state filter, DescribeGroups, OffsetDelete.
    kadmin = kp_admin(bs)
    try:
        kp_listed = {g["group_id"]: g["group_state"] for g in kadmin.list_groups(states_filter=["Stable"])}
        assert kp_listed.get(live) == "Stable" and idle not in kp_listed, kp_listed
        kd = kadmin.describe_groups([live, idle])
        assert kd[live]["group_state"] == "Stable" and kd[live]["protocol_data"] == "range", kd[live]
        assert len(kd[live]["members"]) == 1
        assert kd[idle]["group_state"] == "Empty" and kd[idle]["members"] == []
        # OffsetDelete: refused for a topic the live group consumes, done for the idle group.
        res = kadmin.delete_group_offsets(live, [KTP(topic, 0)])
        assert res[KTP(topic, 0)] is GroupSubscribedToTopicError, res
        res = kadmin.delete_group_offsets(idle, [KTP(topic, 0)])
        assert all(err.errno == 0 for err in res.values()), res
        after = kadmin.list_group_offsets({idle: None})[idle]
        assert {tp.partition: om.offset for tp, om in after.items()} == {1: 7}
    finally:
        kadmin.close()

    # DeleteGroups: refused while the group has members, done for the Empty one.
    res = admin.delete_consumer_groups([live, idle], request_timeout=15)
    with pytest.raises(Exception) as exc:
        res[live].result(15)
    assert exc.value.args[0].code() == CKError.NON_EMPTY_GROUP
    res[idle].result(15)
    listed = admin.list_consumer_groups(request_timeout=15).result(15)
    assert idle not in {g.group_id for g in listed.valid}
    after = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(idle)])[idle].result(15)
    assert all(tp.offset < 0 for tp in after.topic_partitions)

    # Once the member leaves, the group is Empty and can be deleted.
    m.stop()
    wait_until(lambda: {g.group_id: g.state for g in admin.list_consumer_groups(request_timeout=15).result(15).valid}
               .get(live) == ConsumerGroupState.EMPTY, 20, 0.3, "live group to become Empty")
    admin.delete_consumer_groups([live], request_timeout=15)[live].result(15)
    listed = admin.list_consumer_groups(request_timeout=15).result(15)
    assert live not in {g.group_id for g in listed.valid}
    with pytest.raises(Exception) as exc:
        admin.delete_consumer_groups([live], request_timeout=15)[live].result(15)
    assert exc.value.args[0].code() == CKError.GROUP_ID_NOT_FOUND


# ---------------------------------------------------------------- __consumer_offsets


def test_consumer_offsets_is_protected(broker):
    from confluent_kafka import KafkaError as CKError
    from confluent_kafka.admin import NewPartitions
    from kafka.errors import InvalidTopicError

    bs = broker.bootstrap
    admin = ck_admin(bs)
    md = admin.list_topics(timeout=10)
    assert "__consumer_offsets" in md.topics
    n = len(md.topics["__consumer_offsets"].partitions)
    assert n == 8

    # Produce: refused with INVALID_TOPIC_EXCEPTION (librdkafka: TOPIC_EXCEPTION).
    reports = ck_produce(bs, "__consumer_offsets", [{"value": b"x", "partition": 0}],
                         conf={"message.timeout.ms": 10000}, check=False)
    assert reports[0].err is not None and reports[0].err.code() == CKError.TOPIC_EXCEPTION, reports[0].err
    # The same with a raw Produce v3: the broker itself answers INVALID_TOPIC_EXCEPTION (17).
    batch = kw.encode_record_batch([b"not a group record"])
    resp = kw.roundtrip(bs, kw.produce_request_v3("__consumer_offsets", 0, batch))
    assert resp is not None
    _, parts = kw.parse_produce_response_v3(resp)
    assert parts[("__consumer_offsets", 0)][0] == 17, parts
    # kafka-python does not even try: metadata marks the topic internal.
    p = kp_producer(bs, enable_idempotence=False, acks=1, retries=0)
    try:
        with pytest.raises((InvalidTopicError, ValueError)):
            p.send("__consumer_offsets", b"x", partition=0).get(timeout=15)
    finally:
        p.close(timeout=5)
    assert md.topics["__consumer_offsets"].partitions[0].leader == 1

    # Metadata auto-creation never creates internal topics.
    md = admin.list_topics("__transaction_state", timeout=10)
    t = md.topics.get("__transaction_state")
    assert t is not None and t.error is not None and t.error.code() == CKError.UNKNOWN_TOPIC_OR_PART
    assert "__transaction_state" not in admin.list_topics(timeout=10).topics

    # DeleteTopics and CreatePartitions are refused.
    fs = admin.delete_topics(["__consumer_offsets"], operation_timeout=10, request_timeout=15)
    with pytest.raises(Exception) as exc:
        fs["__consumer_offsets"].result(15)
    assert exc.value.args[0].code() in (CKError.INVALID_REQUEST, CKError.TOPIC_AUTHORIZATION_FAILED), exc.value
    fs = admin.create_partitions([NewPartitions("__consumer_offsets", n + 2)], request_timeout=15)
    with pytest.raises(Exception) as exc:
        fs["__consumer_offsets"].result(15)
    assert exc.value.args[0].code() in (CKError.INVALID_REQUEST, CKError.TOPIC_AUTHORIZATION_FAILED,
                                        CKError.INVALID_PARTITIONS), exc.value
    md = admin.list_topics(timeout=10)
    assert len(md.topics["__consumer_offsets"].partitions) == n
    del admin
    broker.restart()
    admin = ck_admin(bs)
    assert len(admin.list_topics(timeout=10).topics["__consumer_offsets"].partitions) == n


# ---------------------------------------------------------------- latency / config


def time_to_first_record(members, bs: str, client: str, topic: str, conf=None) -> float:
    m = members(client, bs, uid(f"lat-{client}"), [topic], conf, name=uid(f"lat-{client}"))
    wait_for(lambda: m.first("record"), 30, f"{client}: first record", [m])
    t = m.first("record")["t"] - m.first("subscribed")["t"]
    m.stop()
    return t


def test_subscribe_to_first_record_latency(broker, members):
    """A new member's time from subscribe() to its first record (records already there,
    auto.offset.reset=earliest): printed per client, bounded generously."""
    bs = broker.bootstrap
    topic = create_topic(bs, 1)
    produce_to_partitions(bs, topic, [0], 20, "lat")
    results = {}
    for client in CLIENTS:
        results[client] = [time_to_first_record(members, bs, client, topic) for _ in range(3)]
    print("\nsubscribe -> first record (s), 3 runs each, new group each time:")
    for client, ts in results.items():
        print(f"  {client:13s} median {statistics.median(ts):.3f}  runs {', '.join(f'{t:.3f}' for t in ts)}")
    for client, ts in results.items():
        assert statistics.median(ts) < 10.0, f"{client}: {ts}"


def test_group_initial_rebalance_delay_from_config(broker_factory, members):
    """group.initial.rebalance.delay.ms = 3000 in the config file delays the first
    assignment of a new group by about 3 s; the default (0) does not."""
    fast = broker_factory(name="default")
    slow = broker_factory(name="delayed", config={"group.initial.rebalance.delay.ms": 3000})
    out = {}
    for b in (fast, slow):
        topic = create_topic(b.bootstrap, 1)
        produce_to_partitions(b.bootstrap, topic, [0], 1, "d")
        out[b.name] = time_to_first_record(members, b.bootstrap, "confluent", topic)
    print(f"\nfirst record after subscribe: default {out['default']:.2f}s, "
          f"group.initial.rebalance.delay.ms=3000: {out['delayed']:.2f}s")
    assert out["delayed"] >= 2.8, out
    assert out["delayed"] - out["default"] >= 2.0, out
    # JoinGroup is held for the delay by design: that is not a "slow request".
    slow_lines = [ln for ln in slow.log_text().splitlines() if "slow request" in ln and "Group" in ln]
    assert not slow_lines, slow_lines

    # DescribeConfigs on the broker shows the setting and where it came from.
    from confluent_kafka.admin import ConfigResource, ResourceType

    for b, value in ((fast, "0"), (slow, "3000")):
        res = ConfigResource(ResourceType.BROKER, "1")
        admin = ck_admin(b.bootstrap)
        cfg = admin.describe_configs([res])[res].result(15)
        assert cfg["group.initial.rebalance.delay.ms"].value == value
        assert cfg["offsets.topic.num.partitions"].value == "8"
