#!/usr/bin/env python3
"""Save the first request frame a Kafka client sends (its ApiVersions request), then hang up.

No broker is needed: this listens on a port, accepts a client connection, reads one
complete size-prefixed frame, writes it verbatim to a file, and closes the connection.

Single capture (run any client against the printed address yourself):

    python tests/e2e/capture_first_frames.py --port 19092 --out /tmp/first.bin
    kcat -b 127.0.0.1:19092 -L            # in another terminal

Capture the stock clients of this repo into tests/fixtures/golden/ (kcat from apt,
kafka-python / confluent-kafka / aiokafka from tests/e2e/requirements.txt):

    .venv/bin/python tests/e2e/capture_first_frames.py --clients --out-dir tests/fixtures/golden

which writes <client>-apiversions.bin for each and prints one README line per client.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

MAX_FRAME = 1 << 20


def read_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"client closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def read_first_frame(conn: socket.socket, timeout: float) -> bytes:
    conn.settimeout(timeout)
    head = read_exact(conn, 4)
    (size,) = struct.unpack(">i", head)
    if size < 0 or size > MAX_FRAME:
        raise ValueError(f"not a Kafka request frame (size {size})")
    return head + read_exact(conn, size)


def describe(frame: bytes) -> str:
    api_key, version, corr, cid_len = struct.unpack(">hhih", frame[4:14])
    cid = frame[14:14 + cid_len].decode(errors="replace") if cid_len >= 0 else None
    return f"api_key={api_key} v{version} correlation_id={corr} client_id={cid!r} size={len(frame)}"


class FirstFrameListener:
    """Accepts connections; the first complete frame of the first good connection is kept."""

    def __init__(self, host="127.0.0.1", port=0, timeout=10.0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.address = "%s:%d" % self.sock.getsockname()
        self.timeout = timeout
        self.frames: list[bytes] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with conn:
                try:
                    self.frames.append(read_first_frame(conn, self.timeout))
                except (OSError, ValueError, ConnectionError) as e:
                    self.errors.append(repr(e))

    def wait(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.frames:
                return self.frames[0]
            time.sleep(0.05)
        return None

    def close(self):
        self._stop.set()
        self.sock.close()
        self._thread.join(2)


def client_commands(addr: str) -> dict[str, tuple[list[str], str]]:
    py = sys.executable
    kcat = shutil.which("kcat") or "kcat"
    return {
        "kcat": ([kcat, "-b", addr, "-L", "-m", "3"], f"kcat -b {addr} -L"),
        "kafka-python": ([py, "-c", "from kafka import KafkaConsumer; "
                          f"KafkaConsumer(bootstrap_servers='{addr}', bootstrap_timeout_ms=3000)"],
                         f"KafkaConsumer(bootstrap_servers='{addr}')"),
        "confluent-kafka": ([py, "-c", "from confluent_kafka import Producer; "
                             f"Producer({{'bootstrap.servers': '{addr}'}}).list_topics(timeout=3)"],
                            f"Producer({{'bootstrap.servers': '{addr}'}}).list_topics()"),
        "aiokafka": ([py, "-c", "import asyncio\nfrom aiokafka import AIOKafkaProducer\n"
                      "async def m():\n"
                      f"    p = AIOKafkaProducer(bootstrap_servers='{addr}', request_timeout_ms=3000)\n"
                      "    try:\n        await p.start()\n    finally:\n        await p.stop()\n"
                      "asyncio.run(m())"],
                     f"AIOKafkaProducer(bootstrap_servers='{addr}').start()"),
    }


def client_version(client: str) -> str:
    try:
        if client == "kcat":
            out = subprocess.run([shutil.which("kcat") or "kcat", "-V"], capture_output=True, text=True, timeout=10)
            line = [ln for ln in out.stdout.splitlines() if ln.startswith("Version")]
            return line[0].split("(")[0].replace("Version", "kcat").strip() + \
                (" (librdkafka " + line[0].split("librdkafka ")[1].split()[0] + ")" if line else "")
        if client == "kafka-python":
            import kafka
            return f"kafka-python {kafka.__version__}"
        if client == "confluent-kafka":
            import confluent_kafka
            v = confluent_kafka.version()
            v = v[0] if isinstance(v, tuple) else v
            return f"confluent-kafka {v} (librdkafka {confluent_kafka.libversion()[0]})"
        if client == "aiokafka":
            import aiokafka
            return f"aiokafka {aiokafka.__version__}"
    except Exception as e:  # noqa: BLE001
        return f"{client} (version unknown: {e!r})"
    return client


def capture_clients(out_dir: Path, only: list[str] | None, timeout: float) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for client in only or ["kcat", "kafka-python", "confluent-kafka", "aiokafka"]:
        listener = FirstFrameListener(timeout=timeout)
        cmd, shown = client_commands(listener.address)[client]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        frame = listener.wait(timeout)
        proc.kill()
        proc.wait(10)
        listener.close()
        if frame is None:
            print(f"{client}: no frame captured ({listener.errors})", file=sys.stderr)
            failures += 1
            continue
        path = out_dir / f"{client}-apiversions.bin"
        path.write_bytes(frame)
        shown = shown.replace(listener.address, "127.0.0.1:PORT")
        print(f"- `{path.name}`: {client_version(client)}; `{shown}`; {describe(frame)}")
    return failures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=19092)
    ap.add_argument("--out", help="file for the first frame (single-capture mode)")
    ap.add_argument("--wait", type=float, default=120.0, help="seconds to wait for a client (single mode)")
    ap.add_argument("--clients", action="store_true", help="capture kcat/kafka-python/confluent-kafka/aiokafka")
    ap.add_argument("--only", nargs="*", help="with --clients: just these clients")
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parents[1] / "fixtures" / "golden"))
    ap.add_argument("--timeout", type=float, default=15.0)
    args = ap.parse_args(argv)
    if args.clients:
        sys.exit(1 if capture_clients(Path(args.out_dir), args.only, args.timeout) else 0)
    if not args.out:
        ap.error("--out is required without --clients")
    listener = FirstFrameListener(args.host, args.port, args.timeout)
    print(f"waiting for a Kafka client on {listener.address} ...", flush=True)
    frame = listener.wait(args.wait)
    listener.close()
    if frame is None:
        sys.exit(f"no frame within {args.wait}s ({listener.errors})")
    Path(args.out).write_bytes(frame)
    print(f"saved {args.out}: {describe(frame)}")


if __name__ == "__main__":
    main()
