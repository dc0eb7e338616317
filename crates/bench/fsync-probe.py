#!/usr/bin/env python3
"""The disk's own fsync latency, for issue 16's "p99 <= 2x the disk's fsync p99".

    python3 crates/bench/fsync-probe.py [DIR] [COUNT]

Appends 120 bytes to a fresh file in DIR (default: the temp directory)
and fdatasyncs it, COUNT times (default 20000), as fjord does for one small
acks=all request in fsync mode; prints p50, p99 and max. Run it on the
filesystem that holds the broker's data directory.
"""
import os
import sys
import tempfile
import time

directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.gettempdir()
count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
path = os.path.join(directory, f"fsync-probe.{os.getpid()}.tmp")
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
record = b"x" * 120
latencies = []
try:
    pos = 0
    for _ in range(count):
        start = time.perf_counter()
        os.pwrite(fd, record, pos)
        os.fdatasync(fd)
        latencies.append((time.perf_counter() - start) * 1000)
        pos += len(record)
finally:
    os.close(fd)
    os.unlink(path)
latencies.sort()
print(
    f"pwrite + fdatasync of {len(record)} B, {count} times in {directory}: "
    f"p50 {latencies[count // 2]:.3f} ms, p99 {latencies[int(count * 0.99)]:.3f} ms, "
    f"max {latencies[-1]:.3f} ms"
)
