#!/usr/bin/env python3
"""Partition-scale benchmark: how fjord behaves with many partitions.

Starts the real broker on free loopback ports with a fresh data directory,
then measures, for N single-partition topics:

  1. creation: N topics with CreateTopics in batches (default 100), the
     time of the first and last batches and the total;
  2. Metadata latency: all topics, and one topic (median of 20);
  3. open file descriptors of the broker;
  4. clean stop (SIGTERM to exit) and its exit code;
  5. restart after the clean stop: time from spawn to /ready = 200;
  6. kill -9, then restart: time to /ready;
  7. that a record produced before each restart is still readable.

Needs only the fjord binary and confluent-kafka (the e2e venv has it):

    cargo build --release -p fjord
    /work/main/.venv/bin/python crates/bench/partitions.py 5000

Every wait is bounded (--timeout); the broker is always stopped and the
data directory removed (unless --keep).
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
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, binary: Path, workdir: Path, max_partitions: int):
        self.binary = binary
        self.data = workdir / "data"
        self.log = workdir / "broker.log"
        self.kafka = f"127.0.0.1:{free_port()}"
        self.http = f"127.0.0.1:{free_port()}"
        self.config = workdir / "fjord.toml"
        self.config.write_text(f'"fjord.max.broker.partitions" = {max_partitions}\n')
        self.proc: subprocess.Popen | None = None

    def spawn(self) -> float:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "broker", "--data-dir", str(self.data), "--listen", self.kafka,
                 "--http", self.http, "--schema-registry", "off", "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return time.monotonic()

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.http}/ready", timeout=1) as r:
                return r.status == 200
        except Exception:
            return False

    def start(self, timeout: float) -> float:
        """Spawns and returns seconds until /ready answers 200."""
        t0 = self.spawn()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}; see {self.log}")
            if self.ready():
                return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError(f"broker not ready within {timeout} s; see {self.log}")

    def stop(self, timeout: float) -> tuple[float, int]:
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise RuntimeError(f"clean stop took over {timeout} s (killed)")
        return time.monotonic() - t0, code

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def cleanup(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def produce_one(bootstrap: str, topic: str, value: bytes) -> None:
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 20000,
                  "log_level": 0})
    p.produce(topic, value)
    if p.flush(25) != 0:
        raise RuntimeError(f"produce to {topic} not acknowledged")


def read_back(bootstrap: str, topic: str) -> list[bytes]:
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-partitions",
                  "enable.auto.commit": False, "log_level": 0})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        out, deadline = [], time.monotonic() + 20
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                out.append(m.value())
            _, high = c.get_watermark_offsets(TopicPartition(topic, 0), cached=True) or (0, 0)
            if out and len(out) >= high:
                break
        return out
    finally:
        c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("topics", type=int, help="single-partition topics to create")
    ap.add_argument("--batch", type=int, default=100, help="topics per CreateTopics request")
    ap.add_argument("--bin", type=Path,
                    default=Path(__file__).resolve().parents[2] / "target/release/fjord")
    ap.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--timeout", type=float, default=600, help="bound on each step, seconds")
    ap.add_argument("--keep", action="store_true", help="keep the data directory and log")
    ap.add_argument("--json", type=Path, help="append the result as one JSON line here")
    args = ap.parse_args()
    from confluent_kafka.admin import AdminClient, NewTopic

    work = Path(tempfile.mkdtemp(prefix="fjord-partitions-", dir=args.tmp))
    broker = Broker(args.bin, work, max(100_000, args.topics + 1000))
    result: dict = {"topics": args.topics, "batch": args.batch}
    try:
        result["first_start_s"] = round(broker.start(args.timeout), 3)
        admin = AdminClient({"bootstrap.servers": broker.kafka, "socket.timeout.ms": 60000, "log_level": 0})
        batches = []
        t_all = time.monotonic()
        for start in range(0, args.topics, args.batch):
            names = [f"scale-{i:06d}" for i in range(start, min(start + args.batch, args.topics))]
            t0 = time.monotonic()
            fs = admin.create_topics([NewTopic(n, 1, 1) for n in names], request_timeout=args.timeout)
            for f in fs.values():
                f.result(args.timeout)
            batches.append(time.monotonic() - t0)
            if time.monotonic() - t_all > args.timeout:
                raise RuntimeError(f"creation exceeded {args.timeout} s after {start + len(names)} topics")
        result["create_total_s"] = round(time.monotonic() - t_all, 2)
        result["create_first_batch_s"] = round(batches[0], 3)
        result["create_last_batch_s"] = round(batches[-1], 3)
        tenth = max(1, len(batches) // 10)
        result["create_first_tenth_mean_s"] = round(statistics.mean(batches[:tenth]), 3)
        result["create_last_tenth_mean_s"] = round(statistics.mean(batches[-tenth:]), 3)

        t0 = time.monotonic()
        md = admin.list_topics(timeout=args.timeout)
        result["metadata_all_s"] = round(time.monotonic() - t0, 3)
        assert len([t for t in md.topics if t.startswith("scale-")]) == args.topics
        one = []
        for i in range(20):
            t0 = time.monotonic()
            admin.list_topics(f"scale-{(i * 7919) % args.topics:06d}", timeout=30)
            one.append(time.monotonic() - t0)
        result["metadata_one_topic_median_ms"] = round(statistics.median(one) * 1000, 2)
        result["open_fds"] = broker.open_fds()

        probe = f"scale-{args.topics // 2:06d}"
        produce_one(broker.kafka, probe, b"before-clean-stop")
        stop_s, code = broker.stop(args.timeout)
        result["clean_stop_s"] = round(stop_s, 3)
        result["clean_stop_exit_code"] = code
        result["ready_after_clean_stop_s"] = round(broker.start(args.timeout), 3)
        produce_one(broker.kafka, probe, b"before-kill-9")
        broker.kill9()
        result["ready_after_kill9_s"] = round(broker.start(args.timeout), 3)
        values = read_back(broker.kafka, probe)
        result["records_kept"] = values == [b"before-clean-stop", b"before-kill-9"]
        stop_s, code = broker.stop(args.timeout)
        result["final_stop_s"] = round(stop_s, 3)
    finally:
        broker.cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    line = json.dumps(result)
    print(line)
    if args.json:
        with open(args.json, "a") as f:
            f.write(line + "\n")
    return 0 if result.get("records_kept") and result.get("clean_stop_exit_code") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
