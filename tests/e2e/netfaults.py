"""Network faults between cluster nodes, made with Linux network namespaces.

Each node of a `Cluster(netns=True)` runs in a namespace of its own
(`ip netns exec`), reached through a veth pair on a bridge that only this
test creates; the nodes' addresses are in a private /24 that exists on
nothing but that bridge, so no packet leaves the machine. A link between
two nodes is cut by a blackhole route in both namespaces (packets to the
other node vanish, as on a real partition: open connections stall, new
ones time out) and healed by removing the routes. Clients of the test run
in the root namespace and reach every node through the bridge.

Needs root (CI runs as root) and the `ip` tool. Every object is named with
this process's id, removed at teardown, and stale ones of dead test
processes are removed at setup.
"""

from __future__ import annotations

import os
import re
import subprocess


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = (["ip", "netns", "exec", ns, "ip"] if ns else ["ip"]) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    return r


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        ip("-V")
    except (OSError, RuntimeError) as e:
        return f"the ip tool is missing: {e}"
    # A container without CAP_NET_ADMIN cannot make namespaces: probe once.
    probe = f"fjn{os.getpid()}x0"
    try:
        ip("netns", "add", probe)
    except RuntimeError as e:
        return f"cannot create a network namespace here: {e}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _remove_stale() -> None:
    """Namespaces and bridges left by test processes that no longer run."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for m in re.finditer(r"^fjn(\d+)x\d+", listed, re.M):
        if not os.path.exists(f"/proc/{m.group(1)}"):
            subprocess.run(["ip", "netns", "del", m.group(0)], capture_output=True)
    links = subprocess.run(["ip", "-o", "link", "show", "type", "bridge"], capture_output=True, text=True).stdout
    for m in re.finditer(r"^\d+: (fjb(\d+))[:@]", links, re.M):
        if not os.path.exists(f"/proc/{m.group(2)}"):
            subprocess.run(["ip", "link", "del", m.group(1)], capture_output=True)


class NetLab:
    """A bridge and one namespace per node; `cut`/`heal` links between nodes."""

    def __init__(self, n: int):
        _remove_stale()
        pid = os.getpid()
        self.subnet = f"10.251.{pid % 250}"
        self.bridge = f"fjb{pid}"[:15]
        self.namespaces = [f"fjn{pid}x{i + 1}" for i in range(n)]
        self.addresses = [f"{self.subnet}.{i + 1}" for i in range(n)]
        self.cuts: set[tuple[int, int]] = set()
        try:
            ip("link", "add", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.subnet}.254/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
            for i, ns in enumerate(self.namespaces):
                outer, inner = f"fjv{pid % 100000}a{i + 1}", f"fjv{pid % 100000}b{i + 1}"
                ip("netns", "add", ns)
                ip("link", "add", outer, "type", "veth", "peer", "name", inner)
                ip("link", "set", inner, "netns", ns)
                ip("link", "set", outer, "master", self.bridge)
                ip("link", "set", outer, "up")
                ip("link", "set", "lo", "up", ns=ns)
                ip("addr", "add", f"{self.addresses[i]}/24", "dev", inner, ns=ns)
                ip("link", "set", inner, "up", ns=ns)
        except Exception:
            self.close()
            raise

    def cut(self, a: int, b: int) -> None:
        """Drop every packet between node indexes a and b (both ways)."""
        ip("route", "add", "blackhole", f"{self.addresses[b]}/32", ns=self.namespaces[a])
        ip("route", "add", "blackhole", f"{self.addresses[a]}/32", ns=self.namespaces[b])
        self.cuts.add((min(a, b), max(a, b)))

    def heal(self, a: int, b: int) -> None:
        ip("route", "del", "blackhole", f"{self.addresses[b]}/32", ns=self.namespaces[a], check=False)
        ip("route", "del", "blackhole", f"{self.addresses[a]}/32", ns=self.namespaces[b], check=False)
        self.cuts.discard((min(a, b), max(a, b)))

    def heal_all(self) -> None:
        for a, b in list(self.cuts):
            self.heal(a, b)

    def close(self) -> None:
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
