#!/usr/bin/env python3
"""Capturing TCP proxy for the Kafka protocol (asyncio, standard library only).

Listens on --listen, forwards every connection byte-for-byte to --target, and writes
each complete client->broker request frame (4-byte size prefix + header + body) to

    <out-dir>/<client>-<seq>-<apikey>-v<version>.bin

<client> is --name if given, else the request header's client_id (sanitised), and
<seq> a zero-padded counter per client across all its connections. With --responses
the matching broker->client frames are saved as ...-response.bin too (matched by
correlation id; responses carry no api key of their own).

Clients connect to the broker's *advertised* address after bootstrapping, so to keep
all their traffic flowing through the proxy run the broker with --advertise set to the
proxy's address, e.g.

    fjord broker --listen 127.0.0.1:19093 --advertise 127.0.0.1:19092 --http 127.0.0.1:19644 &
    python tests/e2e/capture_proxy.py --listen 127.0.0.1:19092 --target 127.0.0.1:19093 --out-dir /tmp/frames
    kcat -b 127.0.0.1:19092 -L

Stop it with Ctrl-C (or --duration N seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import struct
import sys
from collections import defaultdict
from pathlib import Path

MAX_FRAME = 256 * 1024 * 1024


def sanitize(name: str | None) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name or "")
    return name.strip("_")[:60] or "client"


def parse_header(payload: bytes):
    """(api_key, api_version, correlation_id, client_id) of a request frame payload."""
    if len(payload) < 10:
        return None
    api_key, api_version, corr, cid_len = struct.unpack(">hhih", payload[:10])
    client_id = None
    if cid_len >= 0 and 10 + cid_len <= len(payload):
        client_id = payload[10:10 + cid_len].decode("utf-8", "replace")
    return api_key, api_version, corr, client_id


class FrameSplitter:
    """Accumulates a byte stream and yields complete size-prefixed frames (with the prefix)."""

    def __init__(self):
        self.buf = bytearray()
        self.broken = False

    def feed(self, data: bytes):
        if self.broken:
            return []
        self.buf += data
        frames = []
        while len(self.buf) >= 4:
            (size,) = struct.unpack(">i", self.buf[:4])
            if size < 0 or size > MAX_FRAME:
                self.broken = True  # not Kafka framing; keep forwarding, stop capturing
                break
            if len(self.buf) < 4 + size:
                break
            frames.append(bytes(self.buf[:4 + size]))
            del self.buf[:4 + size]
        return frames


class Capture:
    def __init__(self, out_dir: Path, name: str | None, responses: bool, quiet: bool):
        self.out_dir = out_dir
        self.name = name
        self.responses = responses
        self.quiet = quiet
        self.counters = defaultdict(itertools.count)
        self.conn_ids = itertools.count(1)

    def save(self, filename: str, frame: bytes):
        path = self.out_dir / filename
        path.write_bytes(frame)
        if not self.quiet:
            print(f"captured {path} ({len(frame)} bytes)", flush=True)

    async def handle(self, reader, writer, target_host, target_port):
        conn = next(self.conn_ids)
        try:
            up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        except OSError as e:
            print(f"conn {conn}: cannot reach target {target_host}:{target_port}: {e}", file=sys.stderr)
            writer.close()
            return
        pending = {}  # correlation id -> file stem
        state = {"client": self.name}

        async def client_to_broker():
            splitter = FrameSplitter()
            try:
                while data := await reader.read(65536):
                    up_writer.write(data)
                    for frame in splitter.feed(data):
                        hdr = parse_header(frame[4:])
                        if hdr is None:
                            continue
                        api_key, version, corr, client_id = hdr
                        if state["client"] is None:
                            state["client"] = sanitize(client_id)
                        client = state["client"]
                        seq = next(self.counters[client])
                        stem = f"{client}-{seq:04d}-{api_key}-v{version}"
                        self.save(f"{stem}.bin", frame)
                        pending[corr] = stem
                    await up_writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                try:
                    up_writer.write_eof()
                except (OSError, RuntimeError):
                    pass

        async def broker_to_client():
            splitter = FrameSplitter()
            try:
                while data := await up_reader.read(65536):
                    writer.write(data)
                    if self.responses:
                        for frame in splitter.feed(data):
                            if len(frame) >= 8:
                                (corr,) = struct.unpack(">i", frame[4:8])
                                stem = pending.pop(corr, None)
                                if stem:
                                    self.save(f"{stem}-response.bin", frame)
                    await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass

        await asyncio.gather(client_to_broker(), broker_to_client())
        for w in (writer, up_writer):
            w.close()


async def main_async(args):
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lhost, lport = args.listen.rsplit(":", 1)
    thost, tport = args.target.rsplit(":", 1)
    cap = Capture(out_dir, args.name, args.responses, args.quiet)
    server = await asyncio.start_server(lambda r, w: cap.handle(r, w, thost, int(tport)), lhost, int(lport))
    addr = server.sockets[0].getsockname()
    print(f"capture proxy listening on {addr[0]}:{addr[1]} -> {args.target}, frames to {out_dir}", flush=True)
    async with server:
        if args.duration:
            await asyncio.sleep(args.duration)
        else:
            await server.serve_forever()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:19092", help="HOST:PORT to accept clients on")
    ap.add_argument("--target", required=True, help="HOST:PORT of the broker")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--name", help="file-name label for the client (default: its client_id)")
    ap.add_argument("--responses", action="store_true", help="also save the broker's response frames")
    ap.add_argument("--duration", type=float, help="exit after this many seconds")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
