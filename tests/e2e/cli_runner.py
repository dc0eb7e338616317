"""Running the `fjord` CLI from tests: one subprocess per command, with
FJORD_BROKERS pointing at a broker (a fixture object with `.bootstrap`, or
a bootstrap string), text stdout/stderr, and a clear failure message."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import fjord_bin

TIMEOUT = 60


def cli_env(broker=None, extra: dict | None = None) -> dict:
    """The environment of a CLI run: none of the test's own FJORD_* settings,
    FJORD_BROKERS from `broker` (object or string), then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FJORD_")}
    env.setdefault("RUST_BACKTRACE", "1")
    if broker is not None:
        env["FJORD_BROKERS"] = broker if isinstance(broker, str) else broker.bootstrap
    env.update(extra or {})
    return env


def cli(broker, *args: str, input: str | bytes | None = None, check: bool = True, timeout: float = TIMEOUT,
        env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `fjord ARGS...` against `broker`; a panic, a timeout or (with
    `check`) a non-zero exit fails the test with the command's output."""
    if isinstance(input, str):
        input = input.encode()
    cmd = [str(fjord_bin()), *args]
    try:
        cp = subprocess.run(cmd, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                            capture_output=True, timeout=timeout, env=env or cli_env(broker))
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} timed out after {timeout}s\nstdout: {e.stdout!r}\nstderr: {e.stderr!r}",
                    pytrace=False)
    cp.stdout = cp.stdout.decode(errors="replace")
    cp.stderr = cp.stderr.decode(errors="replace")
    assert "panicked" not in cp.stderr, cp.stderr
    if check and cp.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed (exit {cp.returncode})\nstdout: {cp.stdout[-3000:]}\n"
                    f"stderr: {cp.stderr[-3000:]}", pytrace=False)
    return cp


def cli_json(broker, *args: str, **kw):
    return json.loads(cli(broker, *args, "--format", "json", **kw).stdout)


def cli_json_lines(broker, *args: str, **kw) -> list:
    out = cli(broker, *args, "--format", "json", **kw).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]
