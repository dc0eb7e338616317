"""Run the kafka-python examples from shared/seeds as written, with only the bootstrap address changed.

The scripts live verbatim in tests/e2e/seeds/ (see seeds/README.md: the published text
lost its indentation, which was restored; nothing else was changed). Every test runs
one script in a subprocess against a fresh broker after replacing the literal
'localhost:9092' with the broker's address, then checks what landed in the topic
(read back with kafka-python, group_id=None).

The consumer scripts that join a consumer group run next to the producer scripts
they were written for (students, user-activity, orders) and must print every record
the producer sent. The published ETL consumer is not valid Python; it runs with its
three typos corrected (see test_s000_etl_sqlite_consumer_with_typos_fixed).
"""

import ast
import json
import os
import re
import sqlite3
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
    assert not missing, f"broker does not advertise the consumer group APIs {', '.join(missing)}"


def parse_students(out: str) -> list[dict]:
    """s000_students_consumer prints `Received: {python dict}` per record."""
    return [ast.literal_eval(m) for m in re.findall(r"^Received: (\{.*\})$", out, re.M)]


def parse_user_activity(out: str) -> list[tuple[int, dict]]:
    """s003 prints `Received: Topic=..., Partition=P, Offset=O, Key=..., Value={dict}`."""
    return [(int(o), ast.literal_eval(v)) for o, v in
            re.findall(r"^Received: Topic=user-activity, Partition=0, Offset=(\d+), Key=None, Value=(\{.*\})$",
                       out, re.M)]


def parse_orders(out: str) -> list[int]:
    """s004 prints `Partition P | Offset O | Order: <order_id>`."""
    return [int(i) for i in re.findall(r"^Partition \d+ \| Offset \d+ \| Order: (\d+)$", out, re.M)]


def warm_up(broker, seed: RunningSeed, topic: str, value: bytes, printed, timeout=40.0) -> None:
    """For consumers that start at the latest offset: produce `value` until the seed has
    printed it, so its group has joined and its position is fixed before the real
    producer runs."""
    p = kp_producer(broker.bootstrap, enable_idempotence=False, acks=1)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p.send(topic, value).get(timeout=10)
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                if printed(seed.output()):
                    return
                if seed.proc.poll() is not None:
                    pytest.fail(f"{seed.name} exited with {seed.proc.returncode}:\n{seed.output()[-5000:]}")
                time.sleep(0.1)
        pytest.fail(f"{seed.name} never printed its warm-up record; output:\n{seed.output()[-5000:]}")
    finally:
        p.close(timeout=5)


def wait_output(seed: RunningSeed, done, desc: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = seed.output()
        if done(out):
            return out
        if seed.proc.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"{seed.name}: {desc} (exit code {seed.proc.poll()}); output:\n{seed.output()[-5000:]}")


@pytest.mark.groups
def test_s000_students_consumer_with_students_producer(broker, tmp_path):
    """Group 'etl-group', auto_offset_reset='latest': once it has joined (it printed a
    warm-up record), the students producer seed runs and all 3 students arrive, once each."""
    require_group_apis(broker)
    warm = {"id": 0, "name": "warm-up", "course": "none"}
    seed = RunningSeed("s000_students_consumer.py", broker, tmp_path)
    try:
        warm_up(broker, seed, "students", json.dumps(warm).encode(), lambda out: warm in parse_students(out))
        run_seed("s000_students_producer.py", broker, tmp_path)
        out = wait_output(seed, lambda o: len([s for s in parse_students(o) if s != warm]) >= 3,
                          "did not print all 3 students")
        time.sleep(0.5)  # anything extra (a duplicate) would show up by now
        out = seed.output()
    finally:
        seed.stop()
    assert [s for s in parse_students(out) if s != warm] == STUDENTS
    assert "Traceback" not in out


@pytest.mark.groups
def test_s003_user_activity_consumer_with_its_producer(broker, tmp_path):
    """Group 'my-consumer-group', earliest: consumer and producer seed start together;
    the consumer prints all 10 records, offsets 0..9, in order."""
    require_group_apis(broker)
    seed = RunningSeed("s003_user_activity_consumer.py", broker, tmp_path)
    try:
        run_seed("s003_user_activity_producer.py", broker, tmp_path)
        out = wait_output(seed, lambda o: len(parse_user_activity(o)) >= 10, "did not print all 10 records")
        time.sleep(0.5)
        out = seed.output()
    finally:
        seed.stop()
    got = parse_user_activity(out)
    assert [o for o, _ in got] == list(range(10))
    assert [v["user_id"] for _, v in got] == [f"user_{i % 3}" for i in range(10)]
    assert "Traceback" not in out


@pytest.mark.groups
def test_s004_orders_consumer_with_orders_producer(broker, tmp_path):
    """Group 'order-processor', earliest, auto commit: consumer and the gzip/acks=all
    producer seed run together; all 100 orders are printed exactly once."""
    require_group_apis(broker)
    seed = RunningSeed("s004_orders_consumer.py", broker, tmp_path)
    try:
        run_seed("s004_orders_producer.py", broker, tmp_path)
        out = wait_output(seed, lambda o: len(parse_orders(o)) >= 100, "did not print all 100 orders")
        time.sleep(0.5)
        out = seed.output()
    finally:
        seed.stop()
    assert parse_orders(out) == list(range(100))
    assert "Traceback" not in out


# The published ETL consumer, corrected by exactly these textual replacements (each
# must match once) and nothing else besides the bootstrap address.
ETL_TYPO_FIXES = [
    ("bootstrap_server = ", "bootstrap_servers = "),          # KafkaConsumer has no bootstrap_server
    ("auto_offset_reset = 'latest'\n", "auto_offset_reset = 'latest',\n"),  # missing comma
    ("lamda x:", "lambda x:"),                                # 'lamda'
]


def test_s000_etl_sqlite_consumer_is_not_valid_python():
    """As published the ETL seed cannot even be compiled (it runs with fixes below)."""
    src = (SEEDS_DIR / "s000_etl_sqlite_consumer.py").read_text()
    with pytest.raises(SyntaxError):
        compile(src, "s000_etl_sqlite_consumer.py", "exec")


@pytest.mark.groups
def test_s000_etl_sqlite_consumer_with_typos_fixed(broker, tmp_path):
    """Group 'etl-group-1', latest, auto commit, SQLite: with only ETL_TYPO_FIXES applied
    (plus the bootstrap address) it runs; after a warm-up record, the students producer
    seed runs and the database holds every student, upper-cased, once."""
    require_group_apis(broker)
    name = "s000_etl_sqlite_consumer.py"
    src = (SEEDS_DIR / name).read_text()
    for old, new in ETL_TYPO_FIXES:
        assert src.count(old) == 1, f"typo fix {old!r} must match exactly once"
        src = src.replace(old, new)
    compile(src, name, "exec")
    fixed = "s000_etl_sqlite_consumer_fixed.py"
    script_dir = tmp_path / "etl"
    script_dir.mkdir()
    (script_dir / fixed).write_text(src.replace(LITERAL, broker.bootstrap))
    db = script_dir / "kakfka_etl_db"  # the name the script uses, in its working directory

    class EtlSeed(RunningSeed):
        def __init__(self):
            self.name = fixed
            self.out_path = script_dir / f"{fixed}.out"
            self._out = open(self.out_path, "w")
            self.proc = subprocess.Popen([sys.executable, "-u", fixed], cwd=script_dir, stdout=self._out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    seed = EtlSeed()
    try:
        warm = {"id": 0, "name": "warm-up", "course": "none"}
        warm_up(broker, seed, "students", json.dumps(warm).encode(), lambda out: "Inserted: WARM-UP none" in out)
        run_seed("s000_students_producer.py", broker, tmp_path)
        wait_output(seed, lambda o: all(f"Inserted: {s['name'].upper()} {s['course']}" in o for s in STUDENTS),
                    "did not insert all 3 students")
    finally:
        seed.stop()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, course FROM students ORDER BY id").fetchall()
    assert rows == [("WARM-UP", "none")] + [(s["name"].upper(), s["course"]) for s in STUDENTS]
    assert "Traceback" not in seed.output()


def test_s004_avro_producer(broker_factory, tmp_path):
    """The seed's confluent_kafka.avro AvroProducer, as written (registry URL
    http://localhost:8081 included), against fjord's registry on its default
    address. The article shows only the constructor; the harness sends one
    order after it and flushes, then reads it back through the registry."""
    import socket
    from urllib.request import urlopen

    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 8081))
    except OSError:
        pytest.skip("127.0.0.1:8081 is taken: the seed's registry URL cannot be served")
    finally:
        probe.close()
    broker = broker_factory(schema_registry="default")
    if "running without a schema registry" in broker.log_text():
        pytest.skip("127.0.0.1:8081 was taken before the broker bound it")
    order = {"order_id": 1, "user_id": "u-1", "amount": 99.5}
    cp = run_seed("s004_avro_producer.py", broker, tmp_path,
                  postlude=f"producer.produce(topic='orders-avro', value={order!r})\nproducer.flush()\n")
    assert "Traceback" not in cp.stderr
    with urlopen("http://127.0.0.1:8081/subjects/orders-avro-value/versions/latest", timeout=10) as r:
        latest = json.loads(r.read())
    assert latest["version"] == 1 and json.loads(latest["schema"])["name"] == "Order"

    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    (rec,) = topic_records(broker, "orders-avro", 1)
    de = AvroDeserializer(SchemaRegistryClient({"url": "http://127.0.0.1:8081"}))
    value = de(rec.value, SerializationContext("orders-avro", MessageField.VALUE))
    assert value == {**order, "currency": "INR"}


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
