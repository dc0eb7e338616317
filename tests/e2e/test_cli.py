"""The operator CLI (`fjord topic|produce|consume|group|cluster`) run as the real
`fjord` binary against a real broker.

Every verb is run with text and JSON output, and both are parsed and checked;
what the CLI reports is cross-checked with an independent client (kafka-python,
confluent-kafka) where that is cheap: topics it creates, records it produces
(key partitioning included), offsets a group commits. Failures (unreachable
broker, unknown topic, bad flags) must be one line on stderr with a non-zero exit
and never a Rust panic.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
import uuid

import pytest

from cli_runner import cli, cli_env, cli_json, cli_json_lines
from conftest import fjord_bin
from helpers import ck_admin, ck_consumer, kp_admin, kp_consume, kp_consumer, kp_producer, unique_topic, wait_until


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_one_line_failure(cp: subprocess.CompletedProcess, *needles: str, code: int | None = None):
    assert cp.returncode != 0, f"expected failure, got exit 0: {cp.stdout}"
    if code is not None:
        assert cp.returncode == code, (cp.returncode, cp.stderr)
    lines = [line for line in cp.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {cp.stderr!r}"
    assert lines[0].startswith("fjord: "), lines[0]
    assert "panicked" not in cp.stderr and "RUST_BACKTRACE" not in cp.stderr
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    assert cp.stdout == "", cp.stdout


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """Rows (split on 2+ spaces) of the table whose header line starts with header_start."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(header_start):
            rows = []
            for row in lines[i + 1:]:
                if not row.strip():
                    break
                rows.append(re.split(r"\s{2,}", row.strip()))
            return rows
    raise AssertionError(f"no table starting with {header_start!r} in:\n{text}")


def kp_partition_for(key: bytes, partitions: int) -> int:
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


def produce_lines(broker, topic: str, lines: list[str], *args: str) -> list[dict]:
    return cli_json_lines(broker, "produce", topic, *args, input="".join(f"{l}\n" for l in lines))


# ---------------------------------------------------------------- cluster and topics


def test_cluster_info(shared_broker):
    topic = unique_topic("cli-cluster")
    cli(shared_broker, "topic", "create", topic, "--partitions", "2")
    info = cli_json(shared_broker, "cluster", "info")
    port = int(shared_broker.bootstrap.rsplit(":", 1)[1])
    assert info["cluster_id"]
    assert [(b["node_id"], b["host"], b["port"]) for b in info["brokers"]] == [(1, "127.0.0.1", port)]
    assert info["controller_id"] == 1
    assert {"name": topic, "partitions": 2, "internal": False} in info["topics"]
    text = cli(shared_broker, "cluster", "info").stdout
    assert f"Cluster id:   {info['cluster_id']}" in text
    assert "Controller:   1" in text
    assert ["1", shared_broker.bootstrap, "-", "yes"] in table_rows(text, "ID")
    assert [topic, "2"] in table_rows(text, "TOPIC")


def test_topic_create_list_describe_delete(shared_broker):
    topic = unique_topic("cli-topic")
    out = cli(shared_broker, "topic", "create", topic, "--partitions", "3", "--replicas", "1",
              "--config", "retention.ms=3600000", "--config", "cleanup.policy=delete").stdout
    assert out.strip() == f"created topic {topic} (3 partitions, replication factor 1)"

    # An independent client sees the topic and its config.
    from confluent_kafka.admin import ConfigResource

    admin = ck_admin(shared_broker.bootstrap)
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 3
    configs = list(admin.describe_configs([ConfigResource("topic", topic)]).values())[0].result(15)
    assert configs["retention.ms"].value == "3600000"

    # Creating it again fails with Kafka's error name; --if-not-exists succeeds.
    cp = cli(shared_broker, "topic", "create", topic, "--partitions", "3", check=False)
    assert_one_line_failure(cp, f"topic {topic}", "TOPIC_ALREADY_EXISTS")
    doc = cli_json(shared_broker, "topic", "create", topic, "--partitions", "3", "--if-not-exists")
    assert doc == {"topic": topic, "created": False, "partitions": 3, "replication_factor": 1}

    listed = cli_json(shared_broker, "topic", "list")
    assert {"name": topic, "partitions": 3, "replication_factor": 1, "internal": False} in listed
    assert [topic, "3", "1"] in table_rows(cli(shared_broker, "topic", "list").stdout, "TOPIC")
    internal = [t["name"] for t in listed if t["internal"]]
    excluded = [t["name"] for t in cli_json(shared_broker, "topic", "list", "--exclude-internal")]
    assert topic in excluded and not set(internal) & set(excluded)

    # Records in partition 1 show up as its high watermark.
    produce_lines(shared_broker, topic, ["a", "b", "c"], "--partition", "1")
    d = cli_json(shared_broker, "topic", "describe", topic)
    assert d["name"] == topic and d["partition_count"] == 3 and d["replication_factor"] == 1
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", d["topic_id"]), d["topic_id"]
    configs = {c["name"]: c for c in d["configs"]}
    assert configs["retention.ms"]["value"] == "3600000"
    assert configs["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG"
    assert configs["segment.bytes"]["source"] in ("DEFAULT_CONFIG", "STATIC_BROKER_CONFIG")
    parts = {p["partition"]: p for p in d["partitions"]}
    assert sorted(parts) == [0, 1, 2]
    for p in parts.values():
        assert p["leader"] == 1 and p["replicas"] == [1] and p["isr"] == [1]
        assert p["leader_epoch"] >= 0 and p["log_start_offset"] == 0
    assert [parts[i]["high_watermark"] for i in range(3)] == [0, 3, 0]

    text = cli(shared_broker, "topic", "describe", topic).stdout
    assert text.startswith(f"Topic: {topic}  id: {d['topic_id']}  partitions: 3  replication factor: 1")
    assert ["retention.ms", "3600000", "DYNAMIC_TOPIC_CONFIG"] in table_rows(text, "NAME")
    rows = table_rows(text, "PARTITION")
    assert rows == [[str(i), "1", str(parts[i]["leader_epoch"]), "1", "1", "0", str([0, 3, 0][i])]
                    for i in range(3)]

    out = cli(shared_broker, "topic", "delete", topic).stdout
    assert out.strip() == f"deleted topic {topic}"
    wait_until(lambda: topic not in [t["name"] for t in cli_json(shared_broker, "topic", "list")],
               10, 0.2, "topic gone from the list")
    assert_one_line_failure(cli(shared_broker, "topic", "describe", topic, check=False),
                            f"topic {topic}", "UNKNOWN_TOPIC_OR_PARTITION")


def test_topic_delete_json_and_partial_failure(shared_broker):
    a, missing = unique_topic("cli-del"), unique_topic("cli-missing")
    cli(shared_broker, "topic", "create", a, "--partitions", "1")
    cp = cli(shared_broker, "topic", "delete", a, missing, "--format", "json", check=False)
    assert cp.returncode == 1
    docs = json.loads(cp.stdout)
    assert docs[0] == {"topic": a, "deleted": True}
    assert docs[1]["topic"] == missing and docs[1]["deleted"] is False
    assert "UNKNOWN_TOPIC_OR_PARTITION" in docs[1]["error"]
    assert cp.stderr.count("\n") == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in cp.stderr


def test_topic_alter_config_and_add_partitions(shared_broker):
    topic = unique_topic("cli-alter")
    cli(shared_broker, "topic", "create", topic, "--partitions", "1", "--config", "segment.ms=3600000")
    out = cli(shared_broker, "topic", "alter-config", topic, "--set", "retention.ms=120000",
              "--set", "max.message.bytes=2000000", "--delete", "segment.ms").stdout
    assert out.strip() == (f"topic {topic}: set retention.ms=120000, set max.message.bytes=2000000, "
                           "deleted segment.ms")
    configs = {c["name"]: c for c in cli_json(shared_broker, "topic", "describe", topic)["configs"]}
    assert (configs["retention.ms"]["value"], configs["retention.ms"]["source"]) == ("120000", "DYNAMIC_TOPIC_CONFIG")
    assert configs["max.message.bytes"]["value"] == "2000000"
    assert configs["segment.ms"]["source"] != "DYNAMIC_TOPIC_CONFIG"

    doc = cli_json(shared_broker, "topic", "alter-config", topic, "--delete", "retention.ms")
    assert doc == {"topic": topic, "set": {}, "deleted": ["retention.ms"]}
    configs = {c["name"]: c for c in cli_json(shared_broker, "topic", "describe", topic)["configs"]}
    assert configs["retention.ms"]["source"] != "DYNAMIC_TOPIC_CONFIG"

    assert_one_line_failure(cli(shared_broker, "topic", "alter-config", topic, "--set", "no.such.config=1",
                                check=False), f"topic {topic}", "INVALID_CONFIG")
    assert_one_line_failure(cli(shared_broker, "topic", "alter-config", topic, check=False),
                            "--set", code=2)

    out = cli(shared_broker, "topic", "add-partitions", topic, "--total", "3").stdout
    assert out.strip() == f"topic {topic} now has 3 partitions"
    assert cli_json(shared_broker, "topic", "add-partitions", topic, "--total", "4") == {"topic": topic, "partitions": 4}
    d = cli_json(shared_broker, "topic", "describe", topic)
    assert d["partition_count"] == 4 and [p["partition"] for p in d["partitions"]] == [0, 1, 2, 3]
    assert_one_line_failure(cli(shared_broker, "topic", "add-partitions", topic, "--total", "2", check=False),
                            "INVALID_PARTITIONS")


# ---------------------------------------------------------------- produce


def test_produce_keys_headers_and_where_records_land(shared_broker):
    topic = unique_topic("cli-produce")
    cli(shared_broker, "topic", "create", topic, "--partitions", "4")
    keys = [f"user-{i}" for i in range(12)]
    lines = [f"{k}:value {i}:with colon" for i, k in enumerate(keys)] + ["no separator here"]
    reports = produce_lines(shared_broker, topic, lines, "--key-separator", ":",
                            "--header", "source=cli", "-H", "trace=abc=1")
    assert len(reports) == len(lines)
    for k, r in zip(keys, reports):
        assert r["topic"] == topic
        # Kafka's default (murmur2) partitioner, as kafka-python computes it.
        assert r["partition"] == kp_partition_for(k.encode(), 4), (k, r)
        assert isinstance(r["offset"], int) and isinstance(r["timestamp"], int)
    # Offsets per partition are consecutive from 0.
    by_part: dict[int, list[int]] = {}
    for r in reports:
        by_part.setdefault(r["partition"], []).append(r["offset"])
    for offsets in by_part.values():
        assert offsets == list(range(len(offsets)))

    # An independent consumer reads exactly what the reports say.
    recs = kp_consume(shared_broker.bootstrap, topic, len(lines))
    seen = {(r.partition, r.offset): r for r in recs}
    for line, rep in zip(lines, reports):
        rec = seen[(rep["partition"], rep["offset"])]
        if line == "no separator here":
            assert rec.key is None and rec.value == line.encode()
        else:
            k, v = line.split(":", 1)
            assert rec.key == k.encode() and rec.value == v.encode()
        assert [(h[0], h[1]) for h in rec.headers] == [("source", b"cli"), ("trace", b"abc=1")]
        assert rec.timestamp == rep["timestamp"]

    # Text output: "partition P offset O" per record.
    out = cli(shared_broker, "produce", topic, "--partition", "2", input="x\ny\n").stdout
    start = by_part.get(2, [-1])[-1] + 1
    assert out.splitlines() == [f"partition 2 offset {start}", f"partition 2 offset {start + 1}"]


def test_produce_compression_and_acks(shared_broker):
    topic = unique_topic("cli-codecs")
    cli(shared_broker, "topic", "create", topic, "--partitions", "1")
    expected = []
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        for acks in ["1", "all"]:
            vals = [f"{codec}-{acks}-{i}" * 20 for i in range(5)]
            reports = produce_lines(shared_broker, topic, vals, "--compression", codec, "--acks", acks)
            assert [r["offset"] for r in reports] == list(range(len(expected), len(expected) + 5))
            expected += vals
    # acks=0: no offsets come back.
    reports = produce_lines(shared_broker, topic, ["fire", "forget"], "--acks", "0", "-z", "lz4")
    assert [(r["partition"], r["offset"]) for r in reports] == [(0, None), (0, None)]
    out = cli(shared_broker, "produce", topic, "--acks", "0", input="third\n").stdout
    assert out.strip() == "partition 0 offset unknown (acks=0)"
    expected += ["fire", "forget", "third"]
    recs = kp_consume(shared_broker.bootstrap, topic, len(expected))
    assert [r.value.decode() for r in recs] == expected
    # And the CLI reads every codec back.
    got = cli_json_lines(shared_broker, "consume", topic, "--exit-at-end")
    assert [g["value"] for g in got] == expected


def test_produce_is_idempotent_by_default(shared_broker):
    """With acks=all the CLI producer takes a producer id and numbers its
    batches (Kafka's enable.idempotence default); --no-idempotence and
    acks=1 do not."""
    from kafka import KafkaAdminClient, TopicPartition

    topic = unique_topic("cli-idem")
    cli(shared_broker, "topic", "create", topic, "--partitions", "2")
    produce_lines(shared_broker, topic, ["a", "b", "c"], "--partition", "0")
    produce_lines(shared_broker, topic, ["d", "e"], "--partition", "0")
    produce_lines(shared_broker, topic, ["x", "y"], "--partition", "1", "--no-idempotence")
    produce_lines(shared_broker, topic, ["z"], "--partition", "1", "--acks", "1")
    admin = KafkaAdminClient(bootstrap_servers=shared_broker.bootstrap, request_timeout_ms=10000)
    try:
        got = admin.describe_producers([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        p0 = sorted((p.producer_id, p.last_sequence) for p in got[TopicPartition(topic, 0)].active_producers)
        assert len(p0) == 2 and p0[0][0] != p0[1][0], p0
        assert sorted(seq for _, seq in p0) == [1, 2], p0
        assert got[TopicPartition(topic, 1)].active_producers == [], got
    finally:
        admin.close()
    recs = kp_consume(shared_broker.bootstrap, topic, 8)
    assert sorted(r.value.decode() for r in recs) == sorted("abcdexyz")


def test_produce_auto_creates_and_reports_bad_partition(shared_broker):
    topic = unique_topic("cli-auto")
    reports = produce_lines(shared_broker, topic, ["one"])
    assert reports[0]["partition"] == 0 and reports[0]["offset"] == 0
    cp = cli(shared_broker, "produce", topic, "--partition", "9", input="x\n", check=False)
    assert_one_line_failure(cp, f"topic {topic} has no partition 9")


# ---------------------------------------------------------------- consume


@pytest.fixture(scope="module")
def ten_records(shared_broker):
    """A 2-partition topic: partition 0 has values v0..v9 (keys k0..k9, header n=i,
    timestamps 1000*(i+1) ms after a base), partition 1 has w0..w2."""
    topic = unique_topic("cli-consume")
    cli(shared_broker, "topic", "create", topic, "--partitions", "2")
    base = int(time.time() * 1000) - 3_600_000
    p = kp_producer(shared_broker.bootstrap)
    try:
        for i in range(10):
            p.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=0,
                   headers=[("n", str(i).encode())], timestamp_ms=base + 1000 * (i + 1))
        for i in range(3):
            p.send(topic, value=f"w{i}".encode(), partition=1, timestamp_ms=base + 50_000)
        p.flush(15)
    finally:
        p.close()
    return topic, base


def test_consume_positions_and_counts(shared_broker, ten_records):
    topic, base = ten_records

    def values(*args):
        return cli(shared_broker, "consume", topic, "--format", "%p:%o:%v", *args).stdout.splitlines()

    assert values("-p", "0", "-e") == [f"0:{i}:v{i}" for i in range(10)]
    assert sorted(values("-e")) == sorted([f"0:{i}:v{i}" for i in range(10)] + [f"1:{i}:w{i}" for i in range(3)])
    assert values("--partitions", "0", "--from", "7", "-e") == ["0:7:v7", "0:8:v8", "0:9:v9"]
    assert values("--partitions", "0", "--from", "-2", "-e") == ["0:8:v8", "0:9:v9"]
    assert values("--partitions", "0", "--from", "+8", "-e") == ["0:8:v8", "0:9:v9"]
    assert values("--partitions", "0,1", "--from", "-1", "-e") == ["0:9:v9", "1:2:w2"]
    assert values("--partitions", "0", "--from", "end", "-e") == []
    assert values("--partitions", "0", "--from", "-50", "-e") == [f"0:{i}:v{i}" for i in range(10)]
    # By time: the first record at or after the timestamp.
    assert values("--partitions", "0", "--from", f"@{base + 6500}", "-e") == ["0:6:v6", "0:7:v7", "0:8:v8", "0:9:v9"]
    assert values("--partitions", "0", "--from", f"@{base + 10**9}", "-e") == []
    assert values("--partitions", "0", "--count", "3") == ["0:0:v0", "0:1:v1", "0:2:v2"]
    assert values("--partitions", "0", "--from", "4", "-n", "2") == ["0:4:v4", "0:5:v5"]
    assert values("--partitions", "0", "--read-committed", "--from", "-3", "-e") == ["0:7:v7", "0:8:v8", "0:9:v9"]


def test_consume_formats(shared_broker, ten_records):
    topic, base = ten_records
    out = cli(shared_broker, "consume", topic, "-p", "0", "-n", "2", "--format",
              r"%t|%p|%o|%T|%k|%v|%h|%K|%S|100%%\t!").stdout
    assert out.splitlines() == [
        f"{topic}|0|0|{base + 1000}|k0|v0|n=0|2|2|100%\t!",
        f"{topic}|0|1|{base + 2000}|k1|v1|n=1|2|2|100%\t!",
    ]
    # Default text: the value alone.
    assert cli(shared_broker, "consume", topic, "-p", "1", "-e").stdout == "w0\nw1\nw2\n"
    docs = cli_json_lines(shared_broker, "consume", topic, "-p", "0", "--from", "9", "-e")
    assert docs == [{"topic": topic, "partition": 0, "offset": 9, "timestamp": base + 10_000,
                     "key": "k9", "value": "v9", "headers": [{"key": "n", "value": "9"}]}]
    docs = cli_json_lines(shared_broker, "consume", topic, "-p", "1", "-n", "1")
    assert docs[0]["key"] is None and docs[0]["headers"] == []


def test_consume_binary_values_as_json(shared_broker):
    topic = unique_topic("cli-binary")
    cli(shared_broker, "topic", "create", topic, "--partitions", "1")
    p = kp_producer(shared_broker.bootstrap)
    try:
        p.send(topic, key=b"\xff\x00", value=b"\x80abc").get(15)
    finally:
        p.close()
    doc = cli_json_lines(shared_broker, "consume", topic, "-e")[0]
    assert doc["key_base64"] == "/wA=" and doc["value_base64"] == "gGFiYw=="


def test_consume_stops_when_stdout_closes(shared_broker, ten_records):
    topic, _ = ten_records
    proc = subprocess.Popen([str(fjord_bin()), "consume", topic], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env(shared_broker))
    try:
        first = proc.stdout.readline()
        assert first.strip() in (b"v0", b"w0")
        proc.stdout.close()
        rc = proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert rc == 0
    assert b"panicked" not in proc.stderr.read()


# ---------------------------------------------------------------- groups


def lag_rows(doc: dict, topic: str) -> dict[int, dict]:
    return {o["partition"]: o for o in doc["offsets"] if o["topic"] == topic}


@pytest.mark.groups
def test_group_lag_from_a_kafka_python_commit(shared_broker):
    """Produce 10, another client commits offset 4: describe shows lag 6."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    topic, group = unique_topic("cli-lag"), uid("cli-lag-group")
    cli(shared_broker, "topic", "create", topic, "--partitions", "1")
    produce_lines(shared_broker, topic, [f"m{i}" for i in range(10)])
    c = kp_consumer(shared_broker.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.commit({tp: OffsetAndMetadata(4, "", -1)})
    finally:
        c.close()

    doc = cli_json(shared_broker, "group", "describe", group)
    assert doc["group"] == group and doc["state"] == "Empty" and doc["members"] == []
    assert doc["coordinator"]["node_id"] == 1
    assert lag_rows(doc, topic) == {0: {"topic": topic, "partition": 0, "current_offset": 4, "log_end_offset": 10,
                                        "lag": 6, "member_id": None, "client_id": None, "host": None}}
    text = cli(shared_broker, "group", "describe", group).stdout
    assert f"Group:        {group}" in text and "State:        Empty" in text
    assert "Coordinator:  1 (" in text and "Members:      0" in text
    assert table_rows(text, "TOPIC") == [[topic, "0", "4", "10", "6", "-", "-", "-"]]

    # Offsets committed without joining: a group with no protocol type, as in Kafka.
    listed = cli_json(shared_broker, "group", "list")
    assert {"group": group, "state": "Empty", "protocol_type": "", "coordinator": 1} in listed
    assert [group, "Empty", "-", "1"] in table_rows(cli(shared_broker, "group", "list").stdout, "GROUP")


@pytest.mark.groups
def test_metrics_lag_equals_cli_lag(shared_broker):
    """/metrics (kafka_exporter names) reports the same per-partition lag as `fjord group describe`."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    topic, group = unique_topic("cli-mlag"), uid("cli-mlag-group")
    cli(shared_broker, "topic", "create", topic, "--partitions", "3")
    for p, n in enumerate([7, 12, 3]):
        produce_lines(shared_broker, topic, [f"p{p}-{i}" for i in range(n)], "--partition", str(p))
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    c = kp_consumer(shared_broker.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        c.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        c.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1),
                  TopicPartition(topic, 1): OffsetAndMetadata(9, "", -1)})
    finally:
        c.close()
    rows = lag_rows(cli_json(shared_broker, "group", "describe", group), topic)
    cli_lag = {p: r["lag"] for p, r in rows.items() if r["current_offset"] is not None}
    assert cli_lag == {0: 5, 1: 3}, rows

    with urllib.request.urlopen(f"{shared_broker.http_url}/metrics", timeout=10) as r:
        text = r.read().decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]

    def by_partition(name):
        return {int(s.labels["partition"]): int(s.value) for s in samples
                if s.name == name and s.labels.get("consumergroup") == group and s.labels.get("topic") == topic}

    assert by_partition("kafka_consumergroup_lag") == cli_lag
    assert by_partition("kafka_consumergroup_current_offset") == {p: rows[p]["current_offset"] for p in cli_lag}


@pytest.mark.groups
def test_group_consume_commits_and_resumes(shared_broker):
    topic, group = unique_topic("cli-gc"), uid("cli-gc-group")
    cli(shared_broker, "topic", "create", topic, "--partitions", "1")
    produce_lines(shared_broker, topic, [f"m{i}" for i in range(10)])
    out = cli(shared_broker, "consume", topic, "--group", group, "--count", "4", "--format", "%o").stdout
    assert out.splitlines() == ["0", "1", "2", "3"]
    # Lag 6 after the CLI's own commit, seen by kafka-python too.
    assert lag_rows(cli_json(shared_broker, "group", "describe", group), topic)[0]["lag"] == 6
    admin = kp_admin(shared_broker.bootstrap)
    try:
        offsets = admin.list_group_offsets(group)[group]
        assert {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic} == {0: 4}
    finally:
        admin.close()
    # The next member resumes at the committed offset; --from does not override it.
    out = cli(shared_broker, "consume", topic, "--group", group, "--from", "end", "-n", "3", "--format", "%o").stdout
    assert out.splitlines() == ["4", "5", "6"]
    out = cli(shared_broker, "consume", topic, "--group", group, "--exit-at-end", "--format", "%o").stdout
    assert out.splitlines() == ["7", "8", "9"]
    assert lag_rows(cli_json(shared_broker, "group", "describe", group), topic)[0]["lag"] == 0
    # A new group starts where --from says.
    out = cli(shared_broker, "consume", topic, "--group", uid("cli-gc-new"), "--from", "-2", "-e",
              "--format", "%o").stdout
    assert out.splitlines() == ["8", "9"]


def test_group_static_membership(shared_broker):
    """--group-instance-id (KIP-345): exiting keeps the member's place;
    coming back under the same id resumes without a second member."""
    topic, group = unique_topic("cli-static"), uid("cli-static-group")
    cli(shared_broker, "topic", "create", topic, "--partitions", "2")
    produce_lines(shared_broker, topic, [f"m{i}" for i in range(10)], "--partition", "0")
    args = ["consume", topic, "--group", group, "--group-instance-id", "inst-1", "--format", "%p:%o"]
    out = cli(shared_broker, *args, "-n", "4").stdout
    assert out.splitlines() == ["0:0", "0:1", "0:2", "0:3"]
    d = cli_json(shared_broker, "group", "describe", group)
    assert d["state"] == "Stable", d
    assert [m["group_instance_id"] for m in d["members"]] == ["inst-1"], d
    first_member = d["members"][0]["member_id"]
    assigned = sorted(p for a in d["members"][0]["assignment"] for p in a["partitions"])
    assert assigned == [0, 1], d
    out = cli(shared_broker, *args, "-n", "3").stdout
    assert out.splitlines() == ["0:4", "0:5", "0:6"]
    d = cli_json(shared_broker, "group", "describe", group)
    assert d["state"] == "Stable" and [m["group_instance_id"] for m in d["members"]] == ["inst-1"], d
    assert d["members"][0]["member_id"] != first_member, "the rejoin got a new member id"
    # A dynamic member that exits leaves the group at once.
    dyn = uid("cli-dynamic-group")
    cli(shared_broker, "consume", topic, "--group", dyn, "-n", "1")
    assert cli_json(shared_broker, "group", "describe", dyn)["members"] == []


def start_cli_consumer(broker, topic: str, group: str) -> subprocess.Popen:
    return subprocess.Popen([str(fjord_bin()), "consume", topic, "--group", group, "--format", "%p:%o"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=cli_env(broker))


def stop(proc: subprocess.Popen) -> tuple[int, bytes]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    err = proc.stderr.read()
    assert b"panicked" not in err, err
    return proc.returncode, err


@pytest.mark.groups
def test_group_with_live_members_describe_seek_refusal_and_clean_leave(shared_broker):
    topic, group = unique_topic("cli-live"), uid("cli-live-group")
    cli(shared_broker, "topic", "create", topic, "--partitions", "4")
    produce_lines(shared_broker, topic, [f"k{i}:v{i}" for i in range(40)], "-K", ":")
    a = start_cli_consumer(shared_broker, topic, group)
    b = None
    try:
        def described(n_members):
            cp = cli(shared_broker, "group", "describe", group, "--format", "json", check=False)
            if cp.returncode != 0:  # not created yet
                return None
            d = json.loads(cp.stdout)
            if d["state"] != "Stable" or len(d["members"]) != n_members:
                return None
            if sum(len(ps["partitions"]) for m in d["members"] for ps in m["assignment"]) != 4:
                return None
            return d

        d = wait_until(lambda: described(1), 30, 0.3, "one stable member with 4 partitions")
        m = d["members"][0]
        assert m["client_id"] == "fjord-cli" and m["member_id"].startswith("fjord-cli-")
        assert d["protocol_type"] == "consumer" and d["protocol"] == "range"
        b = start_cli_consumer(shared_broker, topic, group)
        d = wait_until(lambda: described(2), 40, 0.3, "two stable members with 2 partitions each")
        assigned = sorted(sorted(ps["partitions"]) for m in d["members"] for ps in m["assignment"])
        assert assigned == [[0, 1], [2, 3]]
        # Every row names its member; committed offsets reach the end.
        wait_until(lambda: all(r["lag"] == 0 and r["member_id"]
                               for r in lag_rows(cli_json(shared_broker, "group", "describe", group), topic).values())
                   and len(lag_rows(cli_json(shared_broker, "group", "describe", group), topic)) == 4,
                   30, 0.5, "all four partitions committed at their end")
        text = cli(shared_broker, "group", "describe", group).stdout
        assert "State:        Stable" in text and "Protocol:     consumer/range" in text
        rows = table_rows(text, "TOPIC")
        assert len(rows) == 4 and all(r[5].startswith("fjord-cli-") and r[6] == "fjord-cli" for r in rows)
        # Seek and delete need an empty group.
        cp = cli(shared_broker, "group", "seek", group, "--topic", topic, "--to", "start", check=False)
        assert_one_line_failure(cp, "Stable", "stop its consumers")
        cp = cli(shared_broker, "group", "delete", group, check=False)
        assert_one_line_failure(cp, f"group {group}", "NON_EMPTY_GROUP")
    finally:
        rc_a, _ = stop(a)
        if b is not None:
            rc_b, _ = stop(b)
            assert rc_b == 0
    assert rc_a == 0
    # Between them the two members printed every record exactly once... or
    # again after a rebalance, but never skipped one.
    d = cli_json(shared_broker, "group", "describe", group)
    assert d["state"] == "Empty" and d["members"] == []
    assert sum(r["current_offset"] for r in lag_rows(d, topic).values()) == 40


@pytest.mark.groups
def test_group_shared_with_librdkafka(shared_broker):
    """A CLI member and a confluent-kafka member split one topic's partitions."""
    topic, group = unique_topic("cli-mixed"), uid("cli-mixed-group")
    cli(shared_broker, "topic", "create", topic, "--partitions", "4")
    a = start_cli_consumer(shared_broker, topic, group)
    c = ck_consumer(shared_broker.bootstrap, **{"group.id": group, "partition.assignment.strategy": "range",
                                                "session.timeout.ms": 10000})
    try:
        wait_until(lambda: '"state":"Stable"' in cli(shared_broker, "group", "describe", group, "--format", "json",
                                                     check=False).stdout, 30, 0.3, "CLI member joined")
        c.subscribe([topic])

        def split():
            c.poll(0.2)
            d = cli_json(shared_broker, "group", "describe", group)
            if d["state"] != "Stable" or len(d["members"]) != 2:
                return None
            parts = sorted(sorted(p for a in m["assignment"] for p in a["partitions"]) for m in d["members"])
            return parts if parts == [[0, 1], [2, 3]] else None

        wait_until(split, 45, 0.1, "the partitions split between the CLI and librdkafka")

        # The group is Stable once the assignment is stored, when every
        # member's SyncGroup is answered; librdkafka applies its answer on
        # a later poll.
        def mine():
            c.poll(0.2)
            return sorted(tp.partition for tp in c.assignment()) or None

        assert wait_until(mine, 10, 0.1, "librdkafka applied its assignment") in ([0, 1], [2, 3])
    finally:
        c.close()
        rc, _ = stop(a)
    assert rc == 0


@pytest.mark.groups
def test_group_seek(shared_broker, ten_records):
    topic, base = ten_records
    group = uid("cli-seek")
    cli(shared_broker, "consume", topic, "--group", group, "-e")  # commits 10 and 3

    def committed():
        d = cli_json(shared_broker, "group", "describe", group)
        return {p: r["current_offset"] for p, r in lag_rows(d, topic).items()}

    assert committed() == {0: 10, 1: 3}
    plan = cli_json(shared_broker, "group", "seek", group, "--topic", topic, "--to", "start", "--dry-run")
    assert plan == {"group": group, "topic": topic, "dry_run": True, "partitions": [
        {"partition": 0, "previous_offset": 10, "new_offset": 0},
        {"partition": 1, "previous_offset": 3, "new_offset": 0}]}
    assert committed() == {0: 10, 1: 3}
    text = cli(shared_broker, "group", "seek", group, "--topic", topic, "--to", "start", "--dry-run").stdout
    assert table_rows(text, "TOPIC") == [[topic, "0", "10", "0"], [topic, "1", "3", "0"]]
    assert "(dry run: nothing committed)" in text

    cli(shared_broker, "group", "seek", group, "--topic", topic, "--to", "start")
    assert committed() == {0: 0, 1: 0}
    cli(shared_broker, "group", "seek", group, "--topic", topic, "--to", "end", "--partitions", "1")
    assert committed() == {0: 0, 1: 3}
    # An offset past the end is clamped to the end, as Kafka's tool does.
    cli(shared_broker, "group", "seek", group, "--topic", topic, "--to", "7")
    assert committed() == {0: 7, 1: 3}
    cli(shared_broker, "group", "seek", group, "--topic", topic, "--to", f"@{base + 3500}")
    assert committed() == {0: 3, 1: 0}
    # Records were written "an hour ago" (base + 1..10 s): 30 minutes ago is after all of them.
    cli(shared_broker, "group", "seek", group, "--topic", topic, "--to", "30m")
    assert committed() == {0: 10, 1: 3}
    cli(shared_broker, "group", "seek", group, "--topic", topic, "--to", "2h")
    assert committed() == {0: 0, 1: 0}
    # The group resumes where seek put it; kafka-python agrees.
    cli(shared_broker, "group", "seek", group, "--topic", topic, "--to", "8", "-p", "0")
    out = cli(shared_broker, "consume", topic, "--group", group, "-e", "--format", "%p:%o").stdout
    assert sorted(out.splitlines()) == ["0:8", "0:9", "1:0", "1:1", "1:2"]
    admin = kp_admin(shared_broker.bootstrap)
    try:
        offsets = admin.list_group_offsets(group)[group]
        assert {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic} == {0: 10, 1: 3}
    finally:
        admin.close()
    # Seeking a group that does not exist yet creates its offsets.
    fresh = uid("cli-seek-fresh")
    cli(shared_broker, "group", "seek", fresh, "--topic", topic, "--to", "5", "-p", "0")
    assert cli_json(shared_broker, "group", "describe", fresh)["offsets"][0]["current_offset"] == 5
    assert_one_line_failure(cli(shared_broker, "group", "seek", group, "--topic", unique_topic("nope"), "--to",
                                "start", check=False), "UNKNOWN_TOPIC_OR_PARTITION")


@pytest.mark.groups
def test_group_delete(shared_broker, ten_records):
    topic, _ = ten_records
    group = uid("cli-delete")
    cli(shared_broker, "consume", topic, "--group", group, "-n", "1")
    assert group in [g["group"] for g in cli_json(shared_broker, "group", "list")]
    assert cli(shared_broker, "group", "delete", group).stdout.strip() == f"deleted group {group}"
    assert group not in [g["group"] for g in cli_json(shared_broker, "group", "list")]
    assert_one_line_failure(cli(shared_broker, "group", "describe", group, check=False),
                            f"group {group} does not exist")
    cp = cli(shared_broker, "group", "delete", group, "--format", "json", check=False)
    assert cp.returncode == 1
    assert json.loads(cp.stdout)[0]["deleted"] is False
    assert "GROUP_ID_NOT_FOUND" in cp.stderr and cp.stderr.count("\n") == 1


# ---------------------------------------------------------------- failures


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("args", [
    ["cluster", "info"],
    ["topic", "list"],
    ["topic", "describe", "x"],
    ["group", "list"],
    ["group", "describe", "g"],
    ["consume", "x"],
])
def test_unreachable_broker_is_one_line(args):
    port = closed_port()
    cp = cli(None, *args, "--brokers", f"127.0.0.1:{port}", check=False, timeout=30)
    assert_one_line_failure(cp, f"cannot connect to 127.0.0.1:{port}", "connection refused", code=1)
    # The env var works the same way.
    cp = cli(None, *args, check=False, timeout=30, env=cli_env(None, {"FJORD_BROKERS": f"127.0.0.1:{port}"}))
    assert_one_line_failure(cp, f"127.0.0.1:{port}", code=1)


def test_unreachable_broker_for_produce():
    port = closed_port()
    cp = cli(None, "produce", "t", "--brokers", f"127.0.0.1:{port}", input="x\n", check=False)
    assert_one_line_failure(cp, "connection refused", code=1)


def test_several_bootstrap_brokers_fall_through(shared_broker):
    port = closed_port()
    info = cli_json(None, "cluster", "info", "--brokers", f"127.0.0.1:{port},{shared_broker.bootstrap}")
    assert info["brokers"][0]["node_id"] == 1


@pytest.mark.parametrize("args, needle", [
    (["consume", "{missing}", "-e"], "UNKNOWN_TOPIC_OR_PARTITION"),
    (["topic", "describe", "{missing}"], "does not exist"),
    (["topic", "delete", "{missing}"], "UNKNOWN_TOPIC_OR_PARTITION"),
    (["topic", "alter-config", "{missing}", "--set", "retention.ms=1"], "UNKNOWN_TOPIC_OR_PARTITION"),
    (["topic", "add-partitions", "{missing}", "--total", "3"], "UNKNOWN_TOPIC_OR_PARTITION"),
    (["group", "describe", "{missing}"], "does not exist"),
])
def test_unknown_topic_or_group_is_one_line(shared_broker, args, needle):
    missing = unique_topic("cli-missing")
    cp = cli(shared_broker, *[a.format(missing=missing) for a in args], check=False)
    assert_one_line_failure(cp, missing, needle, code=1)


@pytest.mark.parametrize("args, needle", [
    (["topic", "list", "--bogus"], "--bogus"),
    (["topic", "create"], "<NAME>"),
    (["topic", "create", "t", "--partitions", "zero"], "--partitions"),
    (["topic", "create", "t", "--config", "novalue"], "KEY=VALUE"),
    (["topic", "list", "--format", "yaml"], "--format"),
    (["consume", "t", "--from", "yesterday"], "--from"),
    (["consume", "t", "--format", "%q"], "%q"),
    (["consume", "t", "--group", "g", "--partitions", "1"], "--partitions"),
    (["produce", "t", "--acks", "2"], "--acks"),
    (["produce", "t", "--compression", "brotli"], "--compression"),
    (["group", "seek", "g", "--topic", "t"], "--to"),
    (["group", "seek", "g", "--topic", "t", "--to", "soon"], "--to"),
    (["topic", "list", "--brokers", "no-port"], "HOST:PORT"),
    (["nosuchverb"], "nosuchverb"),
])
def test_bad_flags_are_one_line(args, needle):
    cp = cli(None, *args, check=False, env=cli_env(None, {"FJORD_BROKERS": "127.0.0.1:1"}))
    assert_one_line_failure(cp, needle, code=2)


def test_help_still_works():
    cp = cli(None, "--help")
    for verb in ["broker", "topic", "produce", "consume", "group", "cluster", "schema"]:
        assert verb in cp.stdout
    cp = cli(None, "consume", "--help")
    assert "--read-committed" in cp.stdout and "%k" in cp.stdout
