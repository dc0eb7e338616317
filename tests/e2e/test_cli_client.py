"""The fjord CLI's producer and consumer as a Kafka user expects them (issue 11,
item 7): the idempotent producer (producer id, epoch and sequence numbers in
every batch, Kafka's acks rule, retries that the broker deduplicates, epoch
bumps when the broker lost the producer's sequence), consumer group
membership (assignors, cooperative incremental rebalancing, static members)
and fetches from several partition leaders at once.

Record batches are read back with raw Fetch frames (kafka_wire.py) so the
producer fields the CLI wrote are checked byte for byte; group assignments
are checked with `fjord group describe` and confluent-kafka.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import struct
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass

import pytest

import kafka_wire as kw
from cli_runner import cli, cli_env, cli_json
from conftest import fjord_bin
from helpers import unique_topic, wait_until


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- raw batches


@dataclass
class Batch:
    base_offset: int
    count: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    values: list[bytes | None]


def svarint(r: kw.Reader) -> int:
    """A zigzag varint (record fields)."""
    u = r.uvarint()
    return (u >> 1) ^ -(u & 1)


def take(r: kw.Reader, n: int) -> bytes:
    b = r.data[r.pos:r.pos + n]
    assert len(b) == n, "truncated record"
    r.pos += n
    return b


def parse_batches(data: bytes) -> list[Batch]:
    """Whole v2 batches of a fetch response (uncompressed records)."""
    out = []
    pos = 0
    while pos + 61 <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, pos)
        end = pos + 12 + length
        if end > len(data):
            break
        pid, epoch, seq, count = struct.unpack_from(">qhii", data, pos + 43)
        r = kw.Reader(data[pos + 61:end])
        values = []
        attributes = struct.unpack_from(">h", data, pos + 21)[0]
        assert attributes & 0x7 == 0, "compressed batch"
        for _ in range(count):
            svarint(r)  # record length
            r.int8()  # attributes
            svarint(r)  # timestamp delta
            svarint(r)  # offset delta
            klen = svarint(r)
            if klen >= 0:
                take(r, klen)
            vlen = svarint(r)
            values.append(take(r, vlen) if vlen >= 0 else None)
            for _ in range(svarint(r)):
                take(r, svarint(r))
                hv = svarint(r)
                if hv >= 0:
                    take(r, hv)
        out.append(Batch(base_offset, count, pid, epoch, seq, values))
        pos = end
    return out


def read_batches(bootstrap: str, topic: str, partition: int) -> list[Batch]:
    """Every batch of a partition, read with raw Fetch v4 frames."""
    batches: list[Batch] = []
    offset = 0
    for corr in range(1, 200):
        resp = kw.roundtrip(bootstrap, kw.fetch_request_v4(topic, partition, offset, correlation_id=corr))
        assert resp is not None, "no fetch response"
        _, topics = kw.parse_fetch_response_v4(resp)
        (part,) = topics[topic]
        assert part.error_code == 0, part
        got = [b for b in parse_batches(part.records or b"") if b.base_offset + b.count > offset]
        if not got:
            assert offset >= part.high_watermark, (offset, part.high_watermark)
            return batches
        batches += got
        offset = got[-1].base_offset + got[-1].count
    raise AssertionError("partition did not end")


class LineProducer:
    """`fjord produce` fed line by line through a pipe; its JSON delivery
    reports are collected by a reader thread."""

    def __init__(self, bootstrap: str, topic: str, *args: str):
        self.proc = subprocess.Popen([str(fjord_bin()), "produce", topic, "--format", "json", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=cli_env(bootstrap))
        self.reports: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                self.reports.put(json.loads(line))

    def send(self, *lines: str) -> None:
        self.proc.stdin.write("".join(f"{line}\n" for line in lines).encode())
        self.proc.stdin.flush()

    def acks(self, n: int, timeout: float = 30) -> list[dict]:
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{len(got)} of {n} deliveries reported; stderr: {self.stderr_so_far()}")
            try:
                got.append(self.reports.get(timeout=left))
            except queue.Empty:
                pass
        return got

    def stderr_so_far(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.reader.join(5)
        err = self.proc.stderr.read().decode(errors="replace")
        assert "panicked" not in err, err
        return self.proc.returncode, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


# ---------------------------------------------------------------- idempotent producer


def test_cli_batches_carry_producer_id_epoch_and_consecutive_sequences(shared_broker):
    """Every batch the CLI writes with the defaults has the producer id the
    broker gave it, and each partition's sequences continue where the last
    batch ended (the broker checks them, so a retry is stored once)."""
    topic = unique_topic("cli-seq")
    cli(shared_broker.bootstrap, "topic", "create", topic, "--partitions", "2")
    p = LineProducer(shared_broker.bootstrap, topic, "--partition", "0")
    try:
        sizes = [3, 1, 4, 2]
        n = 0
        for size in sizes:  # one batch per chunk: each waits for its acks
            p.send(*[f"v{n + i}" for i in range(size)])
            reports = p.acks(size)
            assert [r["offset"] for r in reports] == list(range(n, n + size))
            n += size
        rc, err = p.finish()
        assert rc == 0, err
    finally:
        p.kill()
    batches = read_batches(shared_broker.bootstrap, topic, 0)
    # At least one batch per chunk (a chunk may be split if its lines
    # reach the CLI apart); each batch's sequence continues the last one.
    assert len(batches) >= len(sizes)
    assert len({(b.producer_id, b.producer_epoch) for b in batches}) == 1
    assert batches[0].producer_id >= 0 and batches[0].producer_epoch >= 0
    expected, seq = [], 0
    for b in batches:
        expected.append(seq)
        seq += b.count
    assert [b.base_sequence for b in batches] == expected and seq == 10
    assert [v for b in batches for v in b.values] == [f"v{i}".encode() for i in range(10)]


def test_cli_acks_rule_is_kafkas(shared_broker):
    """acks 0/1 given explicitly turn the default idempotence off; asking
    for both is a usage error; --enable-idempotence with acks=all is on."""
    topic = unique_topic("cli-acks")
    cli(shared_broker.bootstrap, "topic", "create", topic, "--partitions", "1")
    cli(shared_broker.bootstrap, "produce", topic, "--acks", "1", input="a\n")
    cli(shared_broker.bootstrap, "produce", topic, "--acks", "all", "--enable-idempotence=false", input="b\n")
    cli(shared_broker.bootstrap, "produce", topic, "--acks", "all", "--enable-idempotence", input="c\n")
    cp = cli(shared_broker.bootstrap, "produce", topic, "--acks", "1", "--enable-idempotence", input="d\n",
             check=False)
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert cp.stderr.startswith("fjord: ") and "--acks all" in cp.stderr, cp.stderr
    batches = read_batches(shared_broker.bootstrap, topic, 0)
    assert [(b.values, b.producer_id >= 0) for b in batches] == [([b"a"], False), ([b"b"], False), ([b"c"], True)]


def test_cli_producer_bumps_its_epoch_when_the_broker_lost_its_sequence(shared_broker):
    """The topic is deleted and created again under a running producer: the
    new partition knows nothing of the producer, whose next batch (sequence
    > 0) gets UNKNOWN_PRODUCER_ID. As Kafka's producer, the CLI bumps its
    epoch, which restarts the sequence at 0, and the batch is stored."""
    topic = unique_topic("cli-bump")
    cli(shared_broker.bootstrap, "topic", "create", topic, "--partitions", "1")
    p = LineProducer(shared_broker.bootstrap, topic)
    try:
        p.send("a", "b")
        p.acks(2)
        before = read_batches(shared_broker.bootstrap, topic, 0)
        assert before[0].base_sequence == 0 and sum(b.count for b in before) == 2
        assert len({(b.producer_id, b.producer_epoch) for b in before}) == 1
        cli(shared_broker.bootstrap, "topic", "delete", topic)
        wait_until(lambda: cli(shared_broker.bootstrap, "topic", "create", topic, "--partitions", "1",
                               check=False).returncode == 0, 20, 0.3, "topic created again")
        p.send("c")
        (report,) = p.acks(1)
        assert report["offset"] == 0, report
        p.send("d")
        p.acks(1)
        rc, err = p.finish()
        assert rc == 0, err
    finally:
        p.kill()
    after = read_batches(shared_broker.bootstrap, topic, 0)
    assert [b.values for b in after] == [[b"c"], [b"d"]]
    assert {b.producer_id for b in after} == {before[0].producer_id}
    assert [(b.producer_epoch, b.base_sequence) for b in after] == [
        (before[0].producer_epoch + 1, 0), (before[0].producer_epoch + 1, 1)]


def test_cli_producer_rides_out_a_broker_crash_without_duplicates(broker_factory):
    """kill -9 of the broker in the middle of an acks=all produce: the CLI
    retries (same batches, same sequences) until the broker is back; every
    acknowledged record is there, and no record is stored twice."""
    b = broker_factory()
    topic = unique_topic("cli-crash")
    cli(b.bootstrap, "topic", "create", topic, "--partitions", "3")
    total, chunk = 3000, 100
    p = LineProducer(b.bootstrap, topic, "--acks", "all")
    acked = []
    try:
        sent = 0
        crashed = False
        while sent < total:
            p.send(*[f"r{sent + i:05d}" for i in range(chunk)])
            sent += chunk
            if not crashed and sent >= total // 3:
                # Acks for the earlier chunks are in; this chunk is in flight.
                acked += p.acks(sent - chunk - len(acked))
                b.crash_restart()
                crashed = True
        rc, err = p.finish(timeout=150)
        assert rc == 0, err
        while not p.reports.empty():
            acked.append(p.reports.get())
    finally:
        p.kill()
    assert len(acked) == total
    values = []
    for part in range(3):
        values += [v.decode() for batch in read_batches(b.bootstrap, topic, part) for v in batch.values]
    assert len(values) == len(set(values)), "a record was stored twice"
    assert sorted(values) == [f"r{i:05d}" for i in range(total)]
    # Every acknowledged offset holds that record.
    by_offset = {}
    for part in range(3):
        for batch in read_batches(b.bootstrap, topic, part):
            for k, v in enumerate(batch.values):
                by_offset[(part, batch.base_offset + k)] = v
    assert all((r["partition"], r["offset"]) in by_offset for r in acked)


# ---------------------------------------------------------------- group membership


class LineConsumer:
    """`fjord consume` as a long-running process: printed lines and the
    client's JSON log events (FJORD_LOG=fjord_client=info) are collected
    by reader threads."""

    def __init__(self, bootstrap: str, topic: str, *args: str):
        env = cli_env(bootstrap, {"FJORD_LOG": "fjord_client=info", "FJORD_LOG_FORMAT": "json"})
        self.proc = subprocess.Popen([str(fjord_bin()), "consume", topic, "--format", "%p:%o:%v", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env)
        self.lines: list[tuple[float, str]] = []
        self.events: list[dict] = []
        self.other_stderr: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _out(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append((time.monotonic(), line.decode(errors="replace").rstrip("\n")))

    def _err(self):
        for line in self.proc.stderr:
            text = line.decode(errors="replace").strip()
            try:
                ev = json.loads(text)
            except ValueError:
                with self.lock:
                    self.other_stderr.append(text)
                continue
            with self.lock:
                self.events.append(ev.get("fields", {}))

    def printed(self) -> list[str]:
        with self.lock:
            return [l for _, l in self.lines]

    def joins(self) -> list[dict]:
        """The "joined group" events: generation, assignment and revoked as sets of partitions."""
        return self.assignments("joined group")

    def assignments(self, *messages: str) -> list[dict]:
        """Log events with an assignment ("joined group", and "new assignment"
        under the consumer protocol), oldest first."""
        messages = messages or ("joined group", "new assignment")
        with self.lock:
            evs = [e for e in self.events if e.get("message") in messages]

        def parts(s):
            return {int(x.rsplit("-", 1)[1]) for x in s.split(",") if x}

        return [{"generation": int(e["generation"]), "member": e["member"],
                 "assignment": parts(e["assignment"]), "revoked": parts(e["revoked"])} for e in evs]

    def stop(self, sig=signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with self.lock:
            assert not any("panicked" in l for l in self.other_stderr), self.other_stderr
        return self.proc.returncode


def described_members(bootstrap: str, group: str) -> dict | None:
    """{member_id: set of partitions} once the group is Stable, else None."""
    cp = cli(bootstrap, "group", "describe", group, "--format", "json", check=False)
    if cp.returncode != 0:
        return None
    d = json.loads(cp.stdout)
    if d["state"] != "Stable":
        return None
    return {m["member_id"]: {p for a in m["assignment"] for p in a["partitions"]} for m in d["members"]}


def produce_per_partition(bootstrap: str, topic: str, partitions: int, per: int, tag: str) -> None:
    for p in range(partitions):
        cli(bootstrap, "produce", topic, "--partition", str(p),
            input="".join(f"{tag}{p}.{i}\n" for i in range(per)))


@pytest.mark.groups
def test_cooperative_sticky_moves_only_some_partitions_and_keeps_positions(shared_broker):
    """KIP-429 through two CLI consumers: the second member's arrival
    revokes only the partitions that move (the first keeps the others,
    with their positions), a second round hands them over, and between
    the two members every record is printed exactly once."""
    bs = shared_broker.bootstrap
    topic, group = unique_topic("cli-coop"), uid("cli-coop-group")
    cli(bs, "topic", "create", topic, "--partitions", "4")
    produce_per_partition(bs, topic, 4, 5, "a")
    args = ["--group", group, "--assignor", "cooperative-sticky", "--session-timeout-ms", "10000"]
    a = LineConsumer(bs, topic, *args)
    b = None
    try:
        wait_until(lambda: len(a.printed()) == 20, 30, 0.2, "the first member read all 20 records")
        (first,) = wait_until(lambda: a.joins() or None, 10, 0.1, "first join logged")
        assert first["assignment"] == {0, 1, 2, 3} and first["revoked"] == set()
        d = cli_json(bs, "group", "describe", group)
        assert d["protocol"] == "cooperative-sticky", d
        b = LineConsumer(bs, topic, *args)
        members = wait_until(lambda: (m := described_members(bs, group)) and len(m) == 2
                             and all(len(ps) == 2 for ps in m.values()) and m, 40, 0.3,
                             "two members with two partitions each")
        kept = members[first["member"]]
        # The first member: one round that revoked exactly the two partitions
        # that moved, then one that gave it the same two back unchanged.
        joins_a = wait_until(lambda: j if len(j := a.joins()) >= 3 else None, 20, 0.2, "three joins of a")
        assert joins_a[1]["revoked"] == {0, 1, 2, 3} - kept and joins_a[1]["assignment"] == kept, joins_a
        assert joins_a[2]["revoked"] == set() and joins_a[2]["assignment"] == kept, joins_a
        assert all(j["revoked"] <= first["assignment"] - kept for j in joins_a), joins_a
        # New records: each member prints only its partitions' new records,
        # from where it was (a) or from what a committed (b).
        produce_per_partition(bs, topic, 4, 5, "b")
        wait_until(lambda: len(a.printed()) + len(b.printed()) >= 40, 30, 0.2, "40 records printed in all")
        time.sleep(1)  # nothing more may come
        got_a, got_b = a.printed(), b.printed()
        assert len(got_a) + len(got_b) == 40, (got_a, got_b)
        assert sorted(got_a + got_b) == sorted(f"{p}:{o}:{t}{p}.{o % 5}" for p in range(4)
                                               for o, t in [(i, "a") for i in range(5)] + [(i, "b") for i in range(5, 10)])
        assert {int(l.split(":")[0]) for l in got_a[20:]} == kept
        assert {int(l.split(":")[0]) for l in got_b} == {0, 1, 2, 3} - kept
    finally:
        if b is not None:
            assert b.stop() == 0
        assert a.stop() == 0


@pytest.mark.groups
def test_cooperative_cli_member_and_librdkafka_member_share_a_group(shared_broker):
    """A confluent-kafka consumer with cooperative-sticky joins a group led
    by a CLI member of the same assignor: the partitions split 2/2."""
    from helpers import ck_consumer

    bs = shared_broker.bootstrap
    topic, group = unique_topic("cli-coop-ck"), uid("cli-coop-ck-group")
    cli(bs, "topic", "create", topic, "--partitions", "4")
    a = LineConsumer(bs, topic, "--group", group, "--assignor", "cooperative-sticky")
    c = None
    try:
        wait_until(lambda: (m := described_members(bs, group)) and len(m) == 1 and m, 30, 0.3, "CLI member joined")
        c = ck_consumer(bs, **{"group.id": group, "partition.assignment.strategy": "cooperative-sticky",
                               "session.timeout.ms": 10000})
        c.subscribe([topic])

        def split():
            c.poll(0.2)
            m = described_members(bs, group)
            if not m or len(m) != 2:
                return None
            return m if sorted(len(ps) for ps in m.values()) == [2, 2] else None

        m = wait_until(split, 45, 0.1, "two and two")
        assert set().union(*m.values()) == {0, 1, 2, 3}
    finally:
        if c is not None:
            c.close()
        assert a.stop() == 0


@pytest.mark.groups
@pytest.mark.parametrize("assignor", ["range", "roundrobin", "sticky"])
def test_eager_assignors_split_the_partitions(shared_broker, assignor):
    bs = shared_broker.bootstrap
    topic, group = unique_topic(f"cli-{assignor}"), uid(f"cli-{assignor}-group")
    cli(bs, "topic", "create", topic, "--partitions", "4")
    a = LineConsumer(bs, topic, "--group", group, "--assignor", assignor)
    b = None
    try:
        wait_until(lambda: (m := described_members(bs, group)) and len(m) == 1 and m, 30, 0.3, "first member")
        b = LineConsumer(bs, topic, "--group", group, "--assignor", assignor)
        m = wait_until(lambda: (m := described_members(bs, group)) and len(m) == 2
                       and sorted(len(ps) for ps in m.values()) == [2, 2] and m, 40, 0.3, "two and two")
        parts = sorted(sorted(ps) for ps in m.values())
        want = {"range": [[0, 1], [2, 3]], "roundrobin": [[0, 2], [1, 3]]}.get(assignor)
        if want is not None:
            assert parts == want, parts
        assert cli_json(bs, "group", "describe", group)["protocol"] == assignor
    finally:
        if b is not None:
            assert b.stop() == 0
        assert a.stop() == 0


@pytest.mark.groups
def test_static_member_killed_and_restarted_keeps_partitions_and_generation(shared_broker):
    """KIP-345: a static member killed with SIGKILL and started again under
    the same group.instance.id within session.timeout.ms gets its old
    partitions in the same generation; the other member sees no rebalance."""
    bs = shared_broker.bootstrap
    topic, group = unique_topic("cli-static-kill"), uid("cli-static-kill-group")
    cli(bs, "topic", "create", topic, "--partitions", "4")
    produce_per_partition(bs, topic, 4, 3, "a")

    def member(instance):
        return LineConsumer(bs, topic, "--group", group, "--group-instance-id", instance,
                            "--session-timeout-ms", "30000")

    a = member("inst-a")
    b = None
    a2 = None
    try:
        wait_until(lambda: len(a.printed()) == 12, 30, 0.2, "a read everything")
        b = member("inst-b")
        m = wait_until(lambda: (m := described_members(bs, group)) and len(m) == 2
                       and all(len(ps) == 2 for ps in m.values()) and m, 40, 0.3, "two static members")
        ja = wait_until(lambda: j if (j := a.joins()) and b.joins()
                        and j[-1]["generation"] == b.joins()[-1]["generation"] else None,
                        20, 0.2, "both in one generation")
        generation, a_parts = ja[-1]["generation"], ja[-1]["assignment"]
        b_joins = len(b.joins())

        def committed():
            d = cli_json(bs, "group", "describe", group)
            return sorted(o["current_offset"] for o in d["offsets"] if o["topic"] == topic) == [3] * 4

        wait_until(committed, 20, 0.3, "every partition committed at 3")
        a.stop(signal.SIGKILL)
        a2 = member("inst-a")
        (rejoined,) = wait_until(lambda: a2.joins() or None, 20, 0.2, "a rejoined")
        assert rejoined["generation"] == generation, (rejoined, generation)
        assert rejoined["assignment"] == a_parts
        time.sleep(2)
        assert len(b.joins()) == b_joins, "the other member went through a rebalance"
        m2 = described_members(bs, group)
        assert m2 is not None and sorted(map(sorted, m2.values())) == sorted(map(sorted, m.values()))
        # It resumes from the committed offsets: nothing new to print.
        produce_per_partition(bs, topic, 4, 1, "n")
        wait_until(lambda: len(a2.printed()) + len(b.printed()) >= 4, 20, 0.2, "new records")
        assert sorted(int(l.split(":")[1]) for l in a2.printed()) == [3, 3]
    finally:
        for c in (a2, b):
            if c is not None:
                c.stop()
        a.stop(signal.SIGKILL)


@pytest.mark.groups
def test_consumer_protocol_members_split_and_hand_over_partitions(shared_broker):
    """--group-protocol consumer (KIP-848): the first member gets every
    partition from the broker's assignor; a second member joins, the first
    gives up (after committing) only what the broker moves, and between
    them every record is printed once."""
    bs = shared_broker.bootstrap
    topic, group = unique_topic("cli-kip848"), uid("cli-kip848-group")
    cli(bs, "topic", "create", topic, "--partitions", "4")
    produce_per_partition(bs, topic, 4, 5, "a")
    args = ["--group", group, "--group-protocol", "consumer"]
    a = LineConsumer(bs, topic, *args)
    b = None
    try:
        wait_until(lambda: len(a.printed()) == 20, 30, 0.2, "the first member read all 20 records")
        assert a.assignments()[-1]["assignment"] == {0, 1, 2, 3}
        b = LineConsumer(bs, topic, *args)

        def split():
            ea, eb = a.assignments(), b.assignments()
            if not ea or not eb:
                return None
            pa, pb = ea[-1]["assignment"], eb[-1]["assignment"]
            return (pa, pb) if len(pa) == 2 and len(pb) == 2 and not pa & pb else None

        pa, pb = wait_until(split, 40, 0.2, "two partitions each")
        assert pa | pb == {0, 1, 2, 3}
        # The first member only ever lost partitions that went to b.
        assert all(e["revoked"] <= pb for e in a.assignments()), a.assignments()
        produce_per_partition(bs, topic, 4, 5, "b")
        wait_until(lambda: len(a.printed()) + len(b.printed()) >= 40, 30, 0.2, "40 records printed in all")
        time.sleep(1)
        got_a, got_b = a.printed(), b.printed()
        assert len(got_a) + len(got_b) == 40, (got_a, got_b)
        assert len(set(got_a + got_b)) == 40
        assert {int(l.split(":")[0]) for l in got_a[20:]} == pa
        assert {int(l.split(":")[0]) for l in got_b} == pb
    finally:
        if b is not None:
            assert b.stop() == 0
        assert a.stop() == 0


def test_group_flags_that_do_not_go_together_are_usage_errors(shared_broker):
    topic = unique_topic("cli-flags")
    for args in (["--group-protocol", "consumer", "--assignor", "range"],
                 ["--group-remote-assignor", "uniform"]):
        cp = cli(shared_broker.bootstrap, "consume", topic, "--group", "g", *args, check=False)
        assert cp.returncode == 2 and cp.stderr.startswith("fjord: "), (args, cp.returncode, cp.stderr)


# ---------------------------------------------------------------- several leaders


def partition_leaders(bootstrap: str, topic: str) -> dict[int, int]:
    from helpers import ck_admin

    md = ck_admin(bootstrap).list_topics(topic, timeout=5)
    t = md.topics.get(topic)
    if t is None or not t.partitions:
        return {}
    return {p: meta.leader for p, meta in t.partitions.items()}


def test_consume_fetches_from_three_leaders_at_once(cluster_factory):
    """A topic of 6 partitions led by three brokers: `fjord consume` reads
    every record; with one broker stopped (SIGSTOP), records produced to
    the partitions of the other two still arrive within a few seconds,
    because each broker has its own fetch in flight (before, the stopped
    broker's fetch held up the others until its 30 s request timeout)."""
    cluster = cluster_factory(3)
    first = cluster.nodes[0]
    bs = cluster.bootstrap
    topic = unique_topic("cli-leaders")
    cli(bs, "topic", "create", topic, "--partitions", "6", "--replicas", "1")
    leaders = wait_until(lambda: (l := partition_leaders(first.bootstrap, topic)) and len(l) == 6
                         and all(v >= 0 for v in l.values()) and l, 20, 0.2, "six leaders")
    assert set(leaders.values()) == {1, 2, 3}, leaders
    for p in range(6):
        cli(bs, "produce", topic, "--partition", str(p), input="".join(f"a{p}.{i}\n" for i in range(10)))
    out = cli(bs, "consume", topic, "--exit-at-end", "--format", "%p:%o:%v").stdout.splitlines()
    assert sorted(out) == sorted(f"{p}:{i}:a{p}.{i}" for p in range(6) for i in range(10))

    victim = next(n for n in cluster.nodes[1:] if n.node_id in leaders.values())
    others = sorted(p for p, l in leaders.items() if l != victim.node_id)
    mine = sorted(p for p, l in leaders.items() if l == victim.node_id)
    c = LineConsumer(bs, topic)
    try:
        wait_until(lambda: len(c.printed()) == 60, 30, 0.2, "the consumer caught up")
        os.kill(victim.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(0.7)  # the consumer's next fetch to the victim is now stuck
            for p in others:
                cli(first.bootstrap, "produce", topic, "--partition", str(p), input=f"b{p}\n")
            t0 = time.monotonic()
            wait_until(lambda: sum(1 for l in c.printed() if ":b" in l) == len(others), 5, 0.05,
                       "records of the two live leaders while the third is stopped")
            took = time.monotonic() - t0
        finally:
            os.kill(victim.proc.pid, signal.SIGCONT)
        print(f"live leaders records arrived {took:.2f}s after produce, victim stopped")
        assert took < 5
        # The stopped broker's partitions are read again once it runs.
        wait_until(lambda: partition_leaders(first.bootstrap, topic) == leaders, 30, 0.3, "leaders back")
        for p in mine:
            cli(bs, "produce", topic, "--partition", str(p), input=f"c{p}\n")
        wait_until(lambda: sum(1 for l in c.printed() if ":c" in l) == len(mine), 60, 0.2,
                   "records of the resumed broker")
        assert len(c.printed()) == 60 + len(others) + len(mine)
        assert len(set(c.printed())) == len(c.printed())
    finally:
        if victim.proc is not None and victim.proc.poll() is None:
            os.kill(victim.proc.pid, signal.SIGCONT)
        assert c.stop() == 0


def test_consume_follows_a_leader_that_restarted(cluster_factory):
    """kill -9 of a partition leader under a running `fjord consume`: its
    fetches fail (connection lost, then the leader is fenced and comes
    back with a new leader epoch); the consumer refreshes its metadata,
    retries, and reads what is produced to those partitions afterwards,
    while the other leaders' partitions keep flowing."""
    cluster = cluster_factory(3)
    first = cluster.nodes[0]
    bs = cluster.bootstrap
    topic = unique_topic("cli-restart")
    cli(bs, "topic", "create", topic, "--partitions", "6", "--replicas", "1")
    leaders = wait_until(lambda: (l := partition_leaders(first.bootstrap, topic)) and len(l) == 6
                         and all(v >= 0 for v in l.values()) and l, 20, 0.2, "six leaders")
    victim = next(n for n in cluster.nodes[1:] if n.node_id in leaders.values())
    mine = sorted(p for p, l in leaders.items() if l == victim.node_id)
    others = sorted(p for p, l in leaders.items() if l != victim.node_id)
    c = LineConsumer(bs, topic, "--from", "end")
    try:
        time.sleep(2)  # positioned at the (empty) end of every partition
        victim.crash_restart()
        for p in others:
            cli(first.bootstrap, "produce", topic, "--partition", str(p), input=f"o{p}\n")
        wait_until(lambda: sum(1 for l in c.printed() if ":o" in l) == len(others), 20, 0.1,
                   f"the live leaders' records (consumer: {c.other_stderr})")
        wait_until(lambda: partition_leaders(first.bootstrap, topic) == leaders, 60, 0.3, "the victim leads again")
        for p in mine:
            cli(bs, "produce", topic, "--partition", str(p), input=f"r{p}\n")
        wait_until(lambda: sum(1 for l in c.printed() if ":r" in l) == len(mine), 60, 0.2,
                   "records of the restarted leader")
        assert sorted(c.printed()) == sorted([f"{p}:0:o{p}" for p in others] + [f"{p}:0:r{p}" for p in mine])
    finally:
        assert c.stop() == 0
