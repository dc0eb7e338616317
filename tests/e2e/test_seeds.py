"""Run the kafka-python examples from shared/seeds as written, with only the bootstrap address changed.

The scripts live verbatim in tests/e2e/seeds/ (see seeds/README.md: the published text
lost its indentation, which was restored; nothing else was changed). Every test runs
one script in a subprocess against a fresh broker after replacing the literal
'localhost:9092' with the broker's address, then checks what landed in the topic
(read back with kafka-python, group_id=None).

Scripts that consume through a consumer group are xfail until consumer groups land
(issue 4); they fail fast when the broker does not advertise the group APIs.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kafka_wire as kw

from helpers import kp_consume, kp_producer

SEEDS_DIR = Path(__file__).resolve().parent / "seeds"
REPO_ROOT = Path(__file__).resolve().parents[2]
LITERAL = "localhost:9092"

STUDENTS = [
    {"id": 1, "name": "Samwel", "course": "Data Engineering"},
    {"id": 2, "name": "Alice", "course": "AI Engineering"},
    {"id": 3, "name": "John", "course": "Cloud Computing"},
]


def seed_source(name: str, bootstrap: str, prelude: str = "", postlude: str = "") -> str:
    text = (SEEDS_DIR / name).read_text()
    full = prelude + text + postlude
    assert LITERAL in full, f"{name}: no '{LITERAL}' to replace"
    return full.replace(LITERAL, bootstrap)


def run_seed(name: str, broker, tmp_path, timeout: float = 60, **kw_) -> subprocess.CompletedProcess:
    script = tmp_path / name
    script.write_text(seed_source(name, broker.bootstrap, **kw_))
    try:
        cp = subprocess.run([sys.executable, "-u", str(script)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{name} did not finish within {timeout}s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}")
    assert cp.returncode == 0, f"{name} exited with {cp.returncode}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr[-5000:]}"
    return cp


def topic_records(broker, topic, count):
    return kp_consume(broker.bootstrap, topic, count, timeout=20)


# ------------------------------------------------------------------ producers (plain tests)


def test_s000_students_producer(broker, tmp_path):
    cp = run_seed("s000_students_producer.py", broker, tmp_path)
    assert cp.stdout.count("Message sent:") == 3
    recs = topic_records(broker, "students", 3)
    assert [json.loads(r.value) for r in recs] == STUDENTS


def test_s000_idempotent_producer_fragment(broker, tmp_path):
    """The article shows only the constructor; the harness adds the import it omits."""
    run_seed("s000_idempotent_producer_fragment.py", broker, tmp_path,
             prelude="from kafka import KafkaProducer\n",
             postlude="producer.send('idempotent-check', b'ok').get(timeout=30)\nproducer.close()\n")
    assert [r.value for r in topic_records(broker, "idempotent-check", 1)] == [b"ok"]


def test_s001_send_fragment(broker, tmp_path):
    """The article shows only producer.send(...) with str key/value; the harness supplies a
    producer with str serializers (kafka-python rejects str without one) and flushes."""
    run_seed("s001_send_fragment.py", broker, tmp_path,
             prelude=("from kafka import KafkaProducer\n"
                      f"producer = KafkaProducer(bootstrap_servers='{LITERAL}', "
                      "key_serializer=str.encode, value_serializer=str.encode)\n"),
             postlude="producer.flush()\nproducer.close()\n")
    (rec,) = topic_records(broker, "user-events", 1)
    assert (rec.key, rec.value) == (b"user-42", b"login-event")


def test_s002_orders_producer(broker, tmp_path):
    run_seed("s002_orders_producer.py", broker, tmp_path)
    assert [r.value for r in topic_records(broker, "orders", 1)] == [b"New order created"]


def test_s003_user_activity_producer(broker, tmp_path):
    cp = run_seed("s003_user_activity_producer.py", broker, tmp_path)
    assert "All messages sent." in cp.stdout
    msgs = [json.loads(r.value) for r in topic_records(broker, "user-activity", 10)]
    assert [m["user_id"] for m in msgs] == [f"user_{i % 3}" for i in range(10)]
    assert all(m["action"] == "click" for m in msgs)


def test_s004_keyed_producer(broker, tmp_path):
    run_seed("s004_keyed_producer.py", broker, tmp_path)
    (rec,) = topic_records(broker, "user-events", 1)
    assert rec.key == b"user_42"
    assert json.loads(rec.value) == {"event": "page_view", "url": "/pricing", "ts": 1720000000}


def test_s004_orders_producer_gzip_acks_all(broker, tmp_path):
    cp = run_seed("s004_orders_producer.py", broker, tmp_path)
    assert "100 messages sent" in cp.stdout
    recs = topic_records(broker, "orders", 100)
    assert [json.loads(r.value)["order_id"] for r in recs] == list(range(100))


# ------------------------------------------------------------------ consumers


class RunningSeed:
    """A long-running seed script (the consumers loop forever) with its output in a file."""

    def __init__(self, name, broker, tmp_path):
        self.name = name
        script = tmp_path / name
        script.write_text(seed_source(name, broker.bootstrap))
        self.out_path = tmp_path / f"{name}.out"
        self._out = open(self.out_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-u", str(script)], cwd=tmp_path, stdout=self._out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._out.close()


def feed_until_output(broker, seed: RunningSeed, topic, make_value, marker, timeout=30.0):
    """Produce a message every 0.5 s until the running seed prints `marker` (or exits)."""
    p = kp_producer(broker.bootstrap, enable_idempotence=False, acks=1)
    try:
        deadline = time.monotonic() + timeout
        i = 0
        while time.monotonic() < deadline:
            p.send(topic, make_value(i)).get(timeout=10)
            i += 1
            time.sleep(0.5)
            if marker in seed.output():
                return seed.output()
            if seed.proc.poll() is not None:
                break
        pytest.fail(f"{seed.name} printed no '{marker}' (exit code {seed.proc.poll()}); output:\n{seed.output()[-5000:]}")
    finally:
        p.close(timeout=5)


def test_s002_orders_consumer_without_group(broker, tmp_path):
    """No group_id: kafka-python subscribes without a coordinator, from the latest offset."""
    seed = RunningSeed("s002_orders_consumer.py", broker, tmp_path)
    try:
        out = feed_until_output(broker, seed, "orders", lambda i: b"New order created %d" % i, "New order created")
    finally:
        seed.stop()
    assert "Traceback" not in out


def require_group_apis(broker):
    resp = kw.api_versions(broker.bootstrap, version=0)
    missing = sorted(n for k, n in kw.GROUP_APIS.items() if k not in resp.apis)
    if missing:
        pytest.xfail(f"consumer groups: issue 4 (broker does not advertise {', '.join(missing)})")


GROUP_SEEDS = [
    ("s000_students_consumer.py", "students", lambda i: json.dumps(STUDENTS[i % 3]).encode(), "Received:"),
    ("s003_user_activity_consumer.py", "user-activity",
     lambda i: json.dumps({"user_id": f"user_{i % 3}", "action": "click", "timestamp": time.time()}).encode(),
     "Received: Topic=user-activity"),
    ("s004_orders_consumer.py", "orders",
     lambda i: json.dumps({"order_id": i, "user_id": i % 10, "amount": 1.0, "timestamp": time.time()}).encode(),
     "| Order: "),
]


@pytest.mark.groups
@pytest.mark.xfail(reason="consumer groups: issue 4", strict=False)
@pytest.mark.parametrize("name,topic,make_value,marker", GROUP_SEEDS, ids=[g[0] for g in GROUP_SEEDS])
def test_group_consumer_seed(broker, tmp_path, name, topic, make_value, marker):
    require_group_apis(broker)
    seed = RunningSeed(name, broker, tmp_path)
    try:
        out = feed_until_output(broker, seed, topic, make_value, marker)
    finally:
        seed.stop()
    assert "Traceback" not in out


def test_s000_etl_sqlite_consumer_is_not_valid_python():
    """Kept verbatim for reference; as published it cannot run (so it is not executed)."""
    src = (SEEDS_DIR / "s000_etl_sqlite_consumer.py").read_text()
    with pytest.raises(SyntaxError):
        compile(src, "s000_etl_sqlite_consumer.py", "exec")
    pytest.skip("published ETL seed is not valid Python (missing comma after auto_offset_reset, 'lamda', "
                "'bootstrap_server'); nothing to run")


def test_s004_avro_producer_out_of_scope():
    pytest.skip("confluent_kafka.avro example needs a Schema Registry at localhost:8081 and the avro extras; "
                "not a kafka-python example")


# ------------------------------------------------------------------ provenance


def _published_seeds_dir():
    for cand in (os.environ.get("FJORD_SEEDS_DIR"), REPO_ROOT.parent / "shared" / "seeds",
                 REPO_ROOT / "shared" / "seeds"):
        if cand and Path(cand).is_dir() and list(Path(cand).glob("*.txt")):
            return Path(cand)
    return None


def test_seed_files_match_published_text():
    """Each seed file equals a contiguous block of a published seed, ignoring leading whitespace."""
    src_dir = _published_seeds_dir()
    if src_dir is None:
        pytest.skip("shared/seeds not available")
    published = {p.name: [ln.strip() for ln in p.read_text().splitlines()] for p in src_dir.glob("*.txt")}
    for seed in sorted(SEEDS_DIR.glob("*.py")):
        lines = [ln.strip() for ln in seed.read_text().splitlines()]
        found = any(
            text[i:i + len(lines)] == lines
            for text in published.values()
            for i in range(len(text) - len(lines) + 1)
        )
        assert found, f"{seed.name} is not verbatim from {src_dir}"
