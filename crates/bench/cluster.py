#!/usr/bin/env python3
"""Cluster benchmarks: what replication costs, how fast metadata spreads,
and how a 3-node cluster copes with many partitions.

Starts real `fjord` processes on free loopback ports (127.0.0.1) with fresh
data directories, each run its own; every wait is bounded (--timeout) and
every process is killed and every directory removed at the end.

  throughput   1 KiB records to 16 partitions, acks=all: RF=3 on three
               nodes (min.insync.replicas=2) against RF=1 on one node,
               rounds interleaved (order alternated), a fresh cluster or
               broker per round; then each at 50% of the rate it reached
               (`fjord-bench produce --rate`) for produce latency at half
               load; brokers' CPU (user+system from /proc) per GB.
  propagation  3 nodes: a topic (16 partitions, RF=3) created through node
               1, time until every node's own Metadata answer shows every
               partition with a leader and a full ISR, and until one
               acks=all record per partition is acknowledged.
  scale        3 nodes, N partitions (RF=3) in topics of --per-topic
               partitions: creation time, time until every ISR is full,
               RSS of the active controller and of the others, metadata
               log and snapshot sizes on disk, restart time of one node
               (spawn to /ready and to back in every ISR), and the time
               from kill -9 of a broker until no partition names it as
               leader (its share re-elected), minus nothing: the figure
               includes the broker session timeout (printed beside it).

Needs the fjord binary, fjord-bench for `throughput`, and confluent-kafka
(the e2e venv has it):

    cargo build --release -p fjord -p fjord-bench
    .venv/bin/python crates/bench/cluster.py throughput --rounds 3
    .venv/bin/python crates/bench/cluster.py propagation --topics 20
    .venv/bin/python crates/bench/cluster.py scale --partitions 10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------ raw requests

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import kafka_wire as kw  # noqa: E402  (the e2e tests' wire helpers)


def metadata(bootstrap: str, topics: list[str] | None, timeout: float = 10.0):
    """One Metadata v4 request (no auto-creation) to exactly this node;
    returns {topic: {partition: (error, leader, replicas, isr)}} or None
    when the node does not answer."""
    try:
        payload = kw.roundtrip(bootstrap, kw.metadata_request_v4(topics, False), timeout)
    except OSError:
        return None
    if payload is None:
        return None
    r = kw.Reader(payload)
    r.int32()  # correlation id
    r.int32()  # throttle time
    for _ in range(r.int32()):  # brokers: id, host, port, rack
        r.int32(), r.string(), r.int32(), r.string()
    r.string()  # cluster id
    r.int32()  # controller id
    topics_out = {}
    for _ in range(r.int32()):
        err, name, _internal = r.int16(), r.string(), r.int8()
        parts = {}
        for _ in range(r.int32()):
            perr, pid, leader = r.int16(), r.int32(), r.int32()
            replicas = [r.int32() for _ in range(r.int32())]
            isr = [r.int32() for _ in range(r.int32())]
            parts[pid] = (perr, leader, replicas, isr)
        if err == 0:
            topics_out[name] = parts
    return topics_out


def produce_one(bootstrap: str, topic: str, partition: int) -> int | None:
    """One acks=all record to `partition` through this node (raw Produce
    v3); the error code, or None when the node does not answer."""
    batch = kw.encode_record_batch([b"x"])
    try:
        payload = kw.roundtrip(bootstrap, kw.produce_request_v3(topic, partition, batch, acks=-1), 10)
    except OSError:
        return None
    if payload is None:
        return None
    return kw.parse_produce_response_v3(payload)[1][(topic, partition)][0]


# ------------------------------------------------------------ processes


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def dir_bytes(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total


def toml_value(v) -> str:
    """A TOML value: numbers and booleans as they are (also when given as
    text on the command line), anything else a string."""
    if isinstance(v, str) and v in ("true", "false"):
        return v
    if isinstance(v, str):
        try:
            return str(int(v))
        except ValueError:
            return json.dumps(v)
    return json.dumps(v)


class Node:
    def __init__(self, binary: Path, workdir: Path, node_id: int | None, config: dict):
        self.binary = binary
        self.node_id = node_id
        self.dir = workdir / (f"node{node_id}" if node_id else "single")
        self.data = self.dir / "data"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "broker.log"
        kafka, http, ctrl = free_ports(3)
        self.bootstrap = f"127.0.0.1:{kafka}"
        self.http = f"127.0.0.1:{http}"
        self.controller = f"127.0.0.1:{ctrl}"
        self.config = self.dir / "fjord.toml"
        self.config.write_text("".join(f'"{k}" = {toml_value(v)}\n' for k, v in config.items()))
        self.cluster_args: list[str] = []
        self.proc: subprocess.Popen | None = None

    def spawn(self) -> float:
        cmd = [str(self.binary), "broker", "--data-dir", str(self.data), "--listen", self.bootstrap,
               "--advertise", self.bootstrap, "--http", self.http, "--schema-registry", "off",
               "--config", str(self.config)]
        if self.node_id is not None:
            cmd += ["--node-id", str(self.node_id)] + self.cluster_args
        env = {k: v for k, v in os.environ.items() if not k.startswith("FJORD_")}
        env["FJORD_LOG"] = "warn"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        return time.monotonic()

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.http}/ready", timeout=1) as r:
                return r.status == 200
        except Exception:
            return False

    def wait_ready(self, t0: float, timeout: float) -> float:
        while time.monotonic() - t0 < timeout:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"fjord exited; see {self.log}")
            if self.ready():
                return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError(f"not ready after {timeout:.0f}s; see {self.log}")

    def metric(self, name: str) -> float | None:
        try:
            with urllib.request.urlopen(f"http://{self.http}/metrics", timeout=5) as r:
                text = r.read().decode()
        except Exception:
            return None
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else -1

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, timeout: float = 30) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()


class Fleet:
    """One broker (n=1, single-node mode) or n nodes of a cluster."""

    def __init__(self, binary: Path, workdir: Path, n: int, config: dict, timeout: float):
        self.timeout = timeout
        if n == 1:
            self.nodes = [Node(binary, workdir, None, config)]
        else:
            self.nodes = [Node(binary, workdir, i + 1, config) for i in range(n)]
            voters = ",".join(f"{b.node_id}@{b.controller}" for b in self.nodes)
            cluster_id = f"bench-{uuid.uuid4().hex[:12]}"
            for b in self.nodes:
                b.cluster_args = ["--controller-quorum", voters, "--controller-listen", b.controller,
                                  "--cluster-id", cluster_id]

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.nodes)

    def start(self) -> None:
        starts = [b.spawn() for b in self.nodes]
        for b, t0 in zip(self.nodes, starts):
            b.wait_ready(t0, self.timeout)
        want = len(self.nodes)
        deadline = time.monotonic() + self.timeout
        while True:
            from confluent_kafka.admin import AdminClient

            try:
                seen = len(AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=5).brokers)
            except Exception:
                seen = 0
            if seen == want:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{seen} of {want} brokers registered after {self.timeout:.0f}s")
            time.sleep(0.2)

    def cpu(self) -> float:
        return sum(cpu_seconds(b.pid) for b in self.nodes)

    def close(self) -> None:
        for b in self.nodes:
            b.kill9()


def create_topics(bootstrap: str, names: list[str], partitions: int, rf: int, configs: dict | None = None,
                  timeout: float = 120) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(n, partitions, rf, config=configs or {}) for n in names],
                             operation_timeout=timeout, request_timeout=timeout)
    for f in fs.values():
        f.result(timeout)


def wait_for(cond, timeout: float, what: str, interval: float = 0.01) -> float:
    t0 = time.monotonic()
    while True:
        if cond():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def all_led_in_sync(node: Node, topics: list[str] | None, partitions: int | None, rf: int,
                    not_led_by: int | None = None) -> bool:
    md = metadata(node.bootstrap, topics, timeout=30)
    if md is None:
        return False
    names = topics if topics is not None else list(md)
    for t in names:
        parts = md.get(t)
        if not parts or (partitions is not None and len(parts) != partitions):
            return False
        for err, leader, replicas, isr in parts.values():
            if err != 0 or leader < 0 or leader == not_led_by or len(isr) < min(rf, len(replicas)):
                return False
    return True


# ------------------------------------------------------------ throughput


def bench_produce(bench: Path, bootstrap: str, topic: str, args, rf: int, rate: int = 0,
                  duration: float | None = None) -> dict:
    cmd = [str(bench), "produce", "--json", "--quiet", "--brokers", bootstrap, "--topic", topic,
           "--partitions", str(args.partitions), "--replication-factor", str(rf),
           "--record-size", str(args.record_size), "--acks", "all", "--no-create"]
    if rate:
        cmd += ["--rate", str(rate), "--duration", str(duration), "--count", str(10**9)]
    else:
        cmd += ["--count", str(args.count)]
    out = subprocess.run(cmd, capture_output=True, timeout=args.timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"fjord-bench failed ({out.returncode}): {out.stderr.decode()[-2000:]}")
    return json.loads(out.stdout)


def cmd_throughput(args, binary: Path, work: Path) -> dict:
    bench = Path(args.bench)
    if not bench.exists():
        sys.exit(f"{bench} missing: cargo build --release -p fjord-bench")
    shapes = {"rf1": (1, 1), "rf3": (3, 3)}
    results: dict[str, list[dict]] = {k: [] for k in shapes}
    for r in range(args.rounds):
        order = list(shapes) if r % 2 == 0 else list(reversed(shapes))
        for shape in order:
            n, rf = shapes[shape]
            fleet = Fleet(binary, work / f"r{r}-{shape}", n, dict(args.broker_config), args.timeout)
            try:
                fleet.start()
                topic = f"bench-{shape}-{r}"
                configs = {"min.insync.replicas": "2"} if rf == 3 else {}
                create_topics(fleet.bootstrap, [topic], args.partitions, rf, configs)
                wait_for(lambda: all_led_in_sync(fleet.nodes[0], [topic], args.partitions, rf), 30,
                         "full ISRs")
                cpu0 = fleet.cpu()
                full = bench_produce(bench, fleet.bootstrap, topic, args, rf)
                cpu = fleet.cpu() - cpu0
                half_rate = max(1, int(full["msgs_per_sec"] / 2))
                half = bench_produce(bench, fleet.bootstrap, topic, args, rf, rate=half_rate,
                                     duration=args.half_seconds)
                gb = full["delivered"] * args.record_size / 1e9
                row = {"mb_per_sec": full["mb_per_sec"], "p50_ms": full["latency"]["p50_ms"],
                       "p99_ms": full["latency"]["p99_ms"], "cpu_s_per_gb": cpu / gb if gb else 0,
                       "half_rate": half_rate, "half_p50_ms": half["latency"]["p50_ms"],
                       "half_p99_ms": half["latency"]["p99_ms"], "half_errors": half["errors"]}
                results[shape].append(row)
                log(f"round {r} {shape}: {json.dumps(row)}")
            finally:
                fleet.close()
                shutil.rmtree(work / f"r{r}-{shape}", ignore_errors=True)

    def med(shape, key):
        return statistics.median(x[key] for x in results[shape])

    summary = {k: {key: med(k, key) for key in results[k][0]} for k in results}
    summary["ratio_rf3_over_rf1"] = {
        key: summary["rf3"][key] / summary["rf1"][key] if summary["rf1"][key] else None
        for key in ("mb_per_sec", "cpu_s_per_gb", "p99_ms", "half_p99_ms")
    }
    summary["rounds"] = results
    return summary


# ------------------------------------------------------------ propagation


def cmd_propagation(args, binary: Path, work: Path) -> dict:
    fleet = Fleet(binary, work / "prop", 3, {}, args.timeout)
    created, visible, usable = [], [], []
    by_id = {b.node_id: b for b in fleet.nodes}
    try:
        fleet.start()
        for i in range(args.topics):
            topic = f"prop-{i}-{uuid.uuid4().hex[:6]}"
            t0 = time.monotonic()
            create_topics(fleet.nodes[0].bootstrap, [topic], 16, 3)
            created.append(time.monotonic() - t0)
            for node in fleet.nodes:
                wait_for(lambda: all_led_in_sync(node, [topic], 16, 3), 30, f"{topic} on {node.bootstrap}",
                         interval=0.002)
            visible.append(time.monotonic() - t0)
            leaders = {p: v[1] for p, v in (metadata(fleet.nodes[0].bootstrap, [topic]) or {})[topic].items()}
            for p, leader in leaders.items():
                wait_for(lambda: produce_one(by_id[leader].bootstrap, topic, p) == 0, 30,
                         f"an acks=all record on {topic}-{p}", interval=0.002)
            usable.append(time.monotonic() - t0)
            log(f"{topic}: CreateTopics answered {created[-1] * 1000:.1f} ms, on every node "
                f"{visible[-1] * 1000:.1f} ms, an acks=all record on each partition {usable[-1] * 1000:.1f} ms")
    finally:
        fleet.close()

    def stats(xs):
        return {"median": statistics.median(xs) * 1000, "max": max(xs) * 1000}

    return {"topics": args.topics, "partitions_each": 16, "replication_factor": 3,
            "create_topics_answered_ms": stats(created), "visible_on_every_node_ms": stats(visible),
            "acks_all_record_on_every_partition_ms": stats(usable)}


# ------------------------------------------------------------ scale


def cmd_scale(args, binary: Path, work: Path) -> dict:
    per = args.per_topic
    ntopics = (args.partitions + per - 1) // per
    session_ms = args.session_ms
    # A snapshot within seconds of the last change, so its size can be read.
    config = {"broker.session.timeout.ms": session_ms, "fjord.max.broker.partitions": args.partitions * 2 + 1000,
              "metadata.log.max.snapshot.interval.ms": 2000}
    fleet = Fleet(binary, work / "scale", 3, config, args.timeout)
    out: dict = {"partitions": ntopics * per, "topics": ntopics, "session_timeout_ms": session_ms}
    try:
        fleet.start()
        idle = {b.node_id: rss_kib(b.pid) for b in fleet.nodes}
        names = [f"scale-{i:05d}" for i in range(ntopics)]
        t0 = time.monotonic()
        batch = max(1, args.batch // per)
        for i in range(0, ntopics, batch):
            create_topics(fleet.nodes[0].bootstrap, names[i:i + batch], per, 3, timeout=args.timeout)
        out["create_s"] = time.monotonic() - t0
        log(f"created {ntopics * per} partitions in {out['create_s']:.1f} s")
        out["all_isr_full_s"] = out["create_s"] + wait_for(
            lambda: all(all_led_in_sync(b, None, per, 3) and len(metadata(b.bootstrap, None, 30) or {}) >= ntopics
                        for b in fleet.nodes), args.timeout, "every ISR full", interval=1)
        log(f"every ISR full {out['all_isr_full_s']:.1f} s after the first CreateTopics")
        time.sleep(2)
        active = next((b for b in fleet.nodes if (b.metric("fjord_controller_active") or 0) >= 1), None)
        out["rss_mib"] = {
            str(b.node_id): {"idle": idle[b.node_id] / 1024, "loaded": rss_kib(b.pid) / 1024,
                             "peak": rss_kib(b.pid, "VmHWM") / 1024, "active_controller": b is active}
            for b in fleet.nodes}
        for b in fleet.nodes:
            meta = next((p for p in b.data.rglob("snapshot.json")), None)
            out.setdefault("snapshot_bytes", {})[str(b.node_id)] = meta.stat().st_size if meta else None
            logs = [p for p in b.data.rglob("log") if p.is_dir() and (p.parent / "vote.json").exists()]
            out.setdefault("metadata_log_bytes", {})[str(b.node_id)] = sum(dir_bytes(p) for p in logs)
        # Restart a node that is not the active controller.
        victim = next(b for b in fleet.nodes if b is not active)
        observer = next(b for b in fleet.nodes if b is not victim)
        victim.stop()
        t0 = victim.spawn()
        out["restart_ready_s"] = victim.wait_ready(t0, args.timeout)
        wait_for(lambda: all_led_in_sync(observer, None, per, 3), args.timeout, "back in every ISR", interval=0.5)
        out["restart_back_in_every_isr_s"] = time.monotonic() - t0
        log(f"restart: ready {out['restart_ready_s']:.2f} s, back in every ISR {out['restart_back_in_every_isr_s']:.1f} s")
        # kill -9 a broker (not the active controller): how long until none
        # of its partitions names it as leader. First give every partition
        # back to its preferred leader (the restart left it leading none).
        from confluent_kafka import ElectionType
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": observer.bootstrap})
        admin.elect_leaders(ElectionType.PREFERRED, None).result(args.timeout)
        wait_for(lambda: sum(1 for parts in (metadata(observer.bootstrap, None, 30) or {}).values()
                             for p in parts.values() if p[1] == p[2][0]) == ntopics * per,
                 args.timeout, "every partition led by its preferred replica", interval=0.5)
        md = metadata(observer.bootstrap, None, 30) or {}
        led = sum(1 for parts in md.values() for p in parts.values() if p[1] == victim.node_id)
        t0 = time.monotonic()
        victim.kill9()
        wait_for(lambda: all_led_in_sync(observer, None, per, 2, not_led_by=victim.node_id), args.timeout,
                 "its partitions re-elected", interval=0.05)
        out["kill9_reelect"] = {"partitions_it_led": led, "seconds": time.monotonic() - t0,
                                "minus_session_timeout_s": time.monotonic() - t0 - session_ms / 1000}
        log(f"kill -9: {led} partitions re-elected in {out['kill9_reelect']['seconds']:.2f} s")
    finally:
        fleet.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fjord", default=str(ROOT / "target/release/fjord"))
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--bench", default=str(ROOT / "target/release/fjord-bench"))
    t.add_argument("--rounds", type=int, default=3)
    t.add_argument("--count", type=int, default=300_000)
    t.add_argument("--record-size", type=int, default=1024)
    t.add_argument("--partitions", type=int, default=16)
    t.add_argument("--half-seconds", type=float, default=10)
    t.add_argument("--broker-config", metavar="KEY=VALUE", action="append", default=[],
                   type=lambda kv: tuple(kv.split("=", 1)),
                   help="a broker config for every node (repeatable), e.g. fjord.log.flush.before.ack=false")
    p = sub.add_parser("propagation")
    p.add_argument("--topics", type=int, default=20)
    s = sub.add_parser("scale")
    s.add_argument("--partitions", type=int, default=10_000)
    s.add_argument("--per-topic", type=int, default=100)
    s.add_argument("--batch", type=int, default=1000, help="partitions per CreateTopics request")
    s.add_argument("--session-ms", type=int, default=9000)
    args = ap.parse_args()
    binary = Path(args.fjord)
    if not binary.exists():
        sys.exit(f"{binary} missing: cargo build --release -p fjord")
    work = Path(tempfile.mkdtemp(prefix=f"fjord-cluster-{args.cmd}-"))
    try:
        result = {"throughput": cmd_throughput, "propagation": cmd_propagation, "scale": cmd_scale}[args.cmd](
            args, binary, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
