"""pytest fixtures that run the real `fjord broker` binary.

Fixtures
--------
broker          function-scoped: a fresh broker with an empty data dir.
shared_broker   module-scoped: one broker for all tests of a module (tests must
                use unique topic names; see helpers.unique_topic).
broker_factory  function-scoped factory: ``broker_factory(extra_args=[...],
                env={...}, config={...}, node_id=..., use_env=False, start=True)``
                for tests that need flags, a --config file, or several brokers.
cluster_factory function-scoped: ``cluster_factory(n=3, config={...})`` starts n
                ``fjord broker`` processes in cluster mode (node ids 1..n, one
                --controller-quorum, an explicit --cluster-id) and waits until every
                node lists all n brokers; returns a Cluster (``.nodes``,
                ``.bootstrap``, ``.voters``, ``.cluster_id``, ``wait_brokers()``).

Every Broker object has ``.bootstrap`` ("127.0.0.1:PORT"), ``.http``
("127.0.0.1:PORT"), ``.http_url``, ``.registry_url`` (its own schema
registry port, passed as ``--schema-registry 127.0.0.1:PORT``, so tests never
depend on 8081 being free; ``schema_registry="default"`` starts it without the
flag, any other string is passed as the flag's value), ``.data_dir``, ``.proc``, ``.log_path``, and
``stop()`` (SIGTERM + wait, returns the exit code), ``kill9()``, ``start()``,
``restart()`` (clean stop + start on the same data dir and ports),
``crash_restart()`` (kill -9 + start), ``log_text()``.

The binary is ``$FJORD_BIN`` (default: <repo>/target/release/fjord). The broker
is started with FJORD_LOG=info (override with FJORD_E2E_LOG=debug ...) and its
stdout+stderr go to <tmp>/broker.log, which is attached to the report of any
failing test. At teardown the process is always killed; a broker that died on
its own or logged a Rust panic turns the teardown into an error.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]

START_TIMEOUT_S = float(os.environ.get("FJORD_E2E_START_TIMEOUT", "20"))
STOP_TIMEOUT_S = float(os.environ.get("FJORD_E2E_STOP_TIMEOUT", "15"))
LOG_TAIL_LINES = 200

# Log text that means the broker hit a bug even if it kept running.
PANIC_MARKER = "panicked at"


class BrokerError(Exception):
    pass


def fjord_bin() -> Path:
    raw = os.environ.get("FJORD_BIN") or str(REPO_ROOT / "target" / "release" / "fjord")
    path = Path(raw)
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    return path


# Ports free_ports handed out in this test process: a port is released as
# soon as it is picked, so a later call could otherwise pick it again for
# another listener of the same, not yet started broker.
_HANDED_OUT: set[int] = set()


def free_ports(n: int) -> list[int]:
    """n free TCP ports on 127.0.0.1, distinct from each other and from every
    port handed out before in this process."""
    if len(_HANDED_OUT) > 10_000:
        _HANDED_OUT.clear()
    socks = []
    ports: list[int] = []
    try:
        for _ in range(n + 1000):
            if len(ports) == n:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            port = s.getsockname()[1]
            if port not in _HANDED_OUT:
                ports.append(port)
        if len(ports) < n:
            raise RuntimeError(f"no {n} fresh free ports on 127.0.0.1")
        _HANDED_OUT.update(ports)
        return ports
    finally:
        for s in socks:
            s.close()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def render_toml(config: dict) -> str:
    """Flat TOML with quoted Kafka config names: "log.retention.ms" = 1000."""
    return "".join(f'"{k}" = {toml_value(v)}\n' for k, v in config.items())


class Broker:
    """One fjord broker process (restartable on the same data dir and ports)."""

    def __init__(self, workdir: Path, *, extra_args=(), env=None, config=None, node_id=None,
                 use_env: bool = False, name: str = "broker", schema_registry=None):
        self.name = name
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "broker.log"
        self.bin = fjord_bin()
        self.kafka_port, self.http_port, self.registry_port = free_ports(3)
        self.host = "127.0.0.1"
        # None: this broker's own free port; "default": no flag (127.0.0.1:8081);
        # any other string: the flag's value ("off", "HOST:PORT").
        if schema_registry is None:
            self.schema_registry = f"127.0.0.1:{self.registry_port}"
        else:
            self.schema_registry = schema_registry
            if schema_registry == "default":
                self.registry_port = 8081
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.node_id = node_id
        self.use_env = use_env
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = self.workdir / "fjord.toml"
            text = config if isinstance(config, str) else render_toml(config)
            self.config_path.write_text(text)
        # A network namespace (netfaults.NetLab) the process runs in, if any.
        self.netns: str | None = None
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._expected_exit = True  # nothing running yet
        self.exit_codes: list[int] = []

    # ------------------------------------------------------------ addresses
    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def http(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.http}"

    @property
    def registry_url(self) -> str:
        return f"http://{self.host}:{self.registry_port}"

    # ------------------------------------------------------------ process
    def command(self) -> list[str]:
        # `ip netns exec` execs the broker in place: the pid stays the broker's.
        cmd = (["ip", "netns", "exec", self.netns] if self.netns else []) + [str(self.bin), "broker"]
        if not self.use_env:
            cmd += ["--data-dir", str(self.data_dir),
                    "--listen", self.bootstrap,
                    "--advertise", self.bootstrap,
                    "--http", self.http]
            if self.node_id is not None:
                cmd += ["--node-id", str(self.node_id)]
            if self.config_path is not None:
                cmd += ["--config", str(self.config_path)]
            if self.schema_registry != "default" and not any(a.startswith("--schema-registry") for a in self.extra_args):
                cmd += ["--schema-registry", self.schema_registry]
        return cmd + self.extra_args

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FJORD_")}
        env["FJORD_LOG"] = os.environ.get("FJORD_E2E_LOG", "info")
        env.setdefault("RUST_BACKTRACE", "1")
        if self.use_env:
            env["FJORD_DATA_DIR"] = str(self.data_dir)
            env["FJORD_LISTEN"] = self.bootstrap
            env["FJORD_ADVERTISE"] = self.bootstrap
            env["FJORD_HTTP"] = self.http
            if self.node_id is not None:
                env["FJORD_NODE_ID"] = str(self.node_id)
            if self.config_path is not None:
                env["FJORD_CONFIG"] = str(self.config_path)
            if self.schema_registry != "default":
                env["FJORD_SCHEMA_REGISTRY"] = self.schema_registry
        env.update(self.extra_env)
        return env

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT_S) -> "Broker":
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> "Broker":
        """Start the process without waiting for its Kafka port (nodes of a cluster
        start together: a fresh node waits for the quorum before it listens)."""
        if self.is_running():
            raise BrokerError(f"{self.name} is already running (pid {self.proc.pid})")
        if not self.bin.exists():
            raise BrokerError(f"fjord binary not found at {self.bin}: build it with "
                              "`cargo build --release --bins` or set FJORD_BIN")
        self.starts += 1
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== fjord e2e: start #{self.starts}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.environment(), cwd=str(self.workdir), start_new_session=True)
        self._expected_exit = False
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self._expected_exit = True
                self.exit_codes.append(rc)
                raise BrokerError(f"{self.name} exited with code {rc} during startup "
                                  f"(cmd: {' '.join(self.command())})\n{self.log_tail()}")
            if port_open(self.host, self.kafka_port):
                return
            if time.monotonic() > deadline:
                self._kill()
                raise BrokerError(f"{self.name}: Kafka port {self.bootstrap} not accepting connections "
                                  f"after {timeout:.0f}s (cmd: {' '.join(self.command())})\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait; returns the exit code. Raises if it does not exit in time."""
        if self.proc is None:
            raise BrokerError(f"{self.name} was never started")
        self._expected_exit = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise BrokerError(f"{self.name} did not exit within {timeout:.0f}s of SIGTERM\n{self.log_tail()}")
        rc = self.proc.returncode
        self.exit_codes.append(rc)
        return rc

    def kill9(self) -> None:
        if self.proc is None:
            raise BrokerError(f"{self.name} was never started")
        self._expected_exit = True
        self._kill()

    def _kill(self) -> None:
        """SIGKILL the broker's process group (it runs in its own session), so that any
        child it spawned dies with it. Only while the leader is unreaped, so the id is ours."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    self.proc.send_signal(signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def restart(self, timeout: float = START_TIMEOUT_S) -> "Broker":
        """Clean restart (SIGTERM, expect exit code 0) on the same data dir and ports."""
        rc = self.stop()
        if rc != 0:
            raise BrokerError(f"{self.name} exited with code {rc} after SIGTERM (expected 0)\n{self.log_tail()}")
        return self.start(timeout)

    def crash_restart(self, timeout: float = START_TIMEOUT_S) -> "Broker":
        self.kill9()
        return self.start(timeout)

    # ------------------------------------------------------------ inspection
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        text = self.log_text().splitlines()
        tail = "\n".join(text[-lines:])
        return f"----- {self.name} log ({self.log_path}), last {min(lines, len(text))} lines -----\n{tail}"

    def health(self, timeout: float = 5.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.http_url}/health", timeout=timeout) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def assert_alive(self) -> None:
        if not self.is_running():
            rc = self.proc.poll() if self.proc else None
            raise AssertionError(f"{self.name} is not running (exit code {rc})\n{self.log_tail()}")

    def problems(self) -> list[str]:
        out = []
        if self.proc is not None and not self._expected_exit and self.proc.poll() is not None:
            out.append(f"{self.name} exited unexpectedly with code {self.proc.returncode}")
        text = self.log_text()
        if PANIC_MARKER in text:
            out.append(f"{self.name} log contains '{PANIC_MARKER}' (a Rust panic)")
        return out

    def close(self) -> list[str]:
        """Kill the process (always) and return the problems found."""
        problems = self.problems()
        self._expected_exit = True
        self._kill()
        return problems

    def __repr__(self):
        return f"<Broker {self.name} {self.bootstrap} pid={self.proc.pid if self.proc else None}>"


class BrokerFactory:
    def __init__(self, basedir: Path):
        self.basedir = Path(basedir)
        self.brokers: list[Broker] = []

    def __call__(self, *, extra_args=(), env=None, config=None, node_id=None, use_env=False,
                 start=True, name=None, schema_registry=None) -> Broker:
        name = name or f"broker{len(self.brokers)}"
        b = Broker(self.basedir / name, extra_args=extra_args, env=env, config=config, node_id=node_id,
                   use_env=use_env, name=name, schema_registry=schema_registry)
        self.brokers.append(b)
        if start:
            error = None
            try:
                b.start()
            except BrokerError as e:
                error = str(e)
            if error:
                pytest.fail(error, pytrace=False)
        return b

    def close_all(self) -> list[str]:
        problems = []
        for b in self.brokers:
            problems += b.close()
        return problems


def _finish(factory: BrokerFactory) -> None:
    problems = factory.close_all()
    if problems:
        tails = "\n".join(b.log_tail(80) for b in factory.brokers)
        pytest.fail("; ".join(problems) + "\n" + tails, pytrace=False)


@pytest.fixture
def broker_factory(tmp_path):
    factory = BrokerFactory(tmp_path / "brokers")
    yield factory
    _finish(factory)


@pytest.fixture
def broker(broker_factory) -> Broker:
    return broker_factory(name="broker")


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory) -> Broker:
    factory = BrokerFactory(tmp_path_factory.mktemp("shared"))
    b = factory(name="shared")
    yield b
    _finish(factory)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when in ("call", "setup"):
        seen = set()
        for value in getattr(item, "funcargs", {}).values():
            brokers = value.brokers if isinstance(value, BrokerFactory) else [value] if isinstance(value, Broker) else []
            for b in brokers:
                if id(b) not in seen:
                    seen.add(id(b))
                    rep.sections.append((f"fjord {b.name} log", b.log_tail()))


class Cluster:
    """n fjord nodes in cluster mode (combined broker+controller) on 127.0.0.1."""

    def __init__(self, factory: BrokerFactory, n: int = 3, config=None, cluster_id: str | None = None,
                 lab=None):
        import uuid

        self.cluster_id = cluster_id or f"e2e-{uuid.uuid4().hex[:16]}"
        # netfaults.NetLab: each node in its own network namespace at its own
        # address (links between nodes can then be cut); else all on 127.0.0.1.
        self.lab = lab
        self.nodes: list[Broker] = [
            factory(name=f"node{i + 1}", node_id=i + 1, config=config, start=False, schema_registry="off")
            for i in range(n)
        ]
        # The nodes bind only once all are launched: draw every port of every
        # node in one call so that no two of them are the same.
        drawn = free_ports(3 * n)
        hosts = lab.addresses if lab else ["127.0.0.1"] * n
        for i, b in enumerate(self.nodes):
            b.kafka_port, b.http_port = drawn[3 * i], drawn[3 * i + 1]
            b.host = hosts[i]
            if lab:
                b.netns = lab.namespaces[i]
        ports = [drawn[3 * i + 2] for i in range(n)]
        self.controller_ports = ports
        self.voters = ",".join(f"{i + 1}@{hosts[i]}:{p}" for i, p in enumerate(ports))
        for i, b in enumerate(self.nodes):
            b.extra_args += ["--controller-quorum", self.voters,
                             "--controller-listen", f"{hosts[i]}:{ports[i]}",
                             "--cluster-id", self.cluster_id]

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.nodes)

    def start(self, timeout: float = 60.0) -> "Cluster":
        for b in self.nodes:
            b.launch()
        for b in self.nodes:
            b.wait_ready(timeout)
        self.wait_brokers([b.node_id for b in self.nodes], timeout)
        return self

    def broker_ids(self, node: Broker) -> list[int]:
        """The broker ids `node`'s Metadata lists (confluent-kafka admin client)."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": node.bootstrap, "socket.timeout.ms": 5000})
        return sorted(admin.list_topics(timeout=5).brokers)

    def wait_brokers(self, ids: list[int], timeout: float = 30.0, nodes=None) -> None:
        """Wait until every running node (or `nodes`) lists exactly `ids`."""
        deadline = time.monotonic() + timeout
        want = sorted(ids)
        last = None
        for node in nodes or [b for b in self.nodes if b.is_running()]:
            while True:
                try:
                    last = self.broker_ids(node)
                    if last == want:
                        break
                except Exception as e:  # noqa: BLE001 - reported below
                    last = repr(e)
                if time.monotonic() > deadline:
                    raise BrokerError(f"{node.name} lists brokers {last}, expected {want} after {timeout:.0f}s")
                time.sleep(0.2)


@pytest.fixture
def cluster_factory(broker_factory):
    labs = []

    def make(n: int = 3, config=None, cluster_id=None, start=True, netns=False) -> Cluster:
        lab = None
        if netns:
            import netfaults

            why = netfaults.available()
            if why:
                pytest.skip(why)
            lab = netfaults.NetLab(n)
            labs.append(lab)
        c = Cluster(broker_factory, n, config=config, cluster_id=cluster_id, lab=lab)
        if start:
            try:
                c.start()
            except BrokerError as e:
                pytest.fail(str(e) + "\n" + "\n".join(b.log_tail(60) for b in c.nodes), pytrace=False)
        return c
    yield make
    for lab in labs:
        lab.heal_all()
        # The namespaces go once the nodes in them are gone.
        for b in broker_factory.brokers:
            if b.netns in lab.namespaces and b.proc is not None:
                b.kill9()
        lab.close()
