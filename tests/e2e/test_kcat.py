"""kcat (librdkafka, Debian package) against the real broker."""

import json
import time

import pytest

from helpers import ck_create_topic, kcat, unique_topic


def produce_lines(bootstrap, topic, lines, *extra):
    kcat("-b", bootstrap, "-P", "-t", topic, *extra, input="".join(f"{ln}\n" for ln in lines))


def consume_all(bootstrap, topic, *extra, fmt=None):
    args = ["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-m", "10"]
    if fmt:
        args += ["-f", fmt]
    return kcat(*args, *extra).stdout.decode()


def test_produce_consume_roundtrip_autocreate(shared_broker):
    topic = unique_topic("kcat")
    lines = [f"line-{i}" for i in range(20)]
    produce_lines(shared_broker.bootstrap, topic, lines)
    out = consume_all(shared_broker.bootstrap, topic)
    assert out.splitlines() == lines


def test_consume_offsets_and_partition_format(shared_broker):
    topic = unique_topic("kcat-fmt")
    produce_lines(shared_broker.bootstrap, topic, ["a", "b", "c"])
    out = consume_all(shared_broker.bootstrap, topic, fmt="%p:%o:%s\n")
    assert out.splitlines() == ["0:0:a", "0:1:b", "0:2:c"]
    # relative offset from the end ("latest minus 2")
    out = kcat("-b", shared_broker.bootstrap, "-C", "-t", topic, "-o", "-2", "-e", "-q", "-f", "%o:%s\n").stdout
    assert out.decode().splitlines() == ["1:b", "2:c"]
    # absolute offset
    out = kcat("-b", shared_broker.bootstrap, "-C", "-t", topic, "-o", "1", "-c", "1", "-q", "-f", "%o:%s\n").stdout
    assert out.decode().splitlines() == ["1:b"]


def test_metadata_list(shared_broker):
    topic = unique_topic("kcat-md")
    produce_lines(shared_broker.bootstrap, topic, ["x"])
    md = json.loads(kcat("-b", shared_broker.bootstrap, "-L", "-J", "-m", "10").stdout)
    assert [b["name"] for b in md["brokers"]] == [shared_broker.bootstrap]
    topics = {t["topic"]: t for t in md["topics"]}
    assert topic in topics
    parts = topics[topic]["partitions"]
    assert len(parts) == 1
    assert parts[0]["leader"] == md["brokers"][0]["id"]
    # plain-text listing as a human would run it
    text = kcat("-b", shared_broker.bootstrap, "-L", "-t", topic, "-m", "10").stdout.decode()
    assert f'topic "{topic}" with 1 partitions' in text


def test_keys_same_partition_and_order(shared_broker):
    topic = unique_topic("kcat-keys")
    ck_create_topic(shared_broker.bootstrap, topic, partitions=4)
    keys = [f"key{k}" for k in range(8)]
    lines = [f"{keys[i % 8]}:{i}" for i in range(80)]
    produce_lines(shared_broker.bootstrap, topic, lines, "-K", ":")
    out = consume_all(shared_broker.bootstrap, topic, fmt="%k|%p|%o|%s\n")
    rows = [ln.split("|") for ln in out.splitlines()]
    assert len(rows) == 80
    by_key = {}
    for k, p, o, v in rows:
        by_key.setdefault(k, []).append((int(p), int(o), int(v)))
    assert set(by_key) == set(keys)
    for k, recs in by_key.items():
        assert len({p for p, _, _ in recs}) == 1, f"key {k} spread over partitions {recs}"
        recs.sort(key=lambda r: r[1])
        assert [v for _, _, v in recs] == sorted(v for _, _, v in recs), f"order broken for {k}"
    assert len({recs[0][0] for recs in by_key.values()}) > 1, "all keys hashed to one partition"


def test_headers_roundtrip(shared_broker):
    topic = unique_topic("kcat-hdr")
    produce_lines(shared_broker.bootstrap, topic, ["with-headers"], "-H", "h1=v1", "-H", "trace-id=abc123")
    out = consume_all(shared_broker.bootstrap, topic, fmt="%h|%s\n")
    assert out.splitlines() == ["h1=v1,trace-id=abc123|with-headers"]


def test_timestamps_and_query_by_time(shared_broker):
    topic = unique_topic("kcat-ts")
    before = int(time.time() * 1000)
    produce_lines(shared_broker.bootstrap, topic, ["first"])
    time.sleep(0.05)
    middle = int(time.time() * 1000)
    time.sleep(0.05)
    produce_lines(shared_broker.bootstrap, topic, ["second"])
    after = int(time.time() * 1000)
    out = consume_all(shared_broker.bootstrap, topic, fmt="%T|%s\n")
    rows = [ln.split("|") for ln in out.splitlines()]
    assert [r[1] for r in rows] == ["first", "second"]
    ts = [int(r[0]) for r in rows]
    assert before - 5000 <= ts[0] <= middle and middle <= ts[1] <= after + 5000, (before, middle, after, ts)
    # -Q: offsets for a timestamp
    # kcat -Q -J prints {"<topic>": {"topic": "<topic>", "<partition>": {"partition": 0, "offset": N}}}
    q = kcat("-b", shared_broker.bootstrap, "-Q", "-t", f"{topic}:0:{middle}", "-J").stdout.decode()
    assert json.loads(q)[topic]["0"]["offset"] == 1, f"unexpected -Q output: {q}"
    # consume starting at a timestamp
    out = kcat("-b", shared_broker.bootstrap, "-C", "-t", topic, "-o", f"s@{middle}", "-e", "-q").stdout
    assert out.decode().splitlines() == ["second"]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression(shared_broker, codec):
    topic = unique_topic(f"kcat-{codec}")
    lines = [f"{codec}-message-{i}-" + "x" * 100 for i in range(50)]
    extra = ["-X", f"compression.codec={codec}", "-X", "linger.ms=50"]
    produce_lines(shared_broker.bootstrap, topic, lines, *extra)
    assert consume_all(shared_broker.bootstrap, topic).splitlines() == lines


def test_produce_to_explicit_partition(shared_broker):
    topic = unique_topic("kcat-part")
    ck_create_topic(shared_broker.bootstrap, topic, partitions=3)
    produce_lines(shared_broker.bootstrap, topic, ["p2-a", "p2-b"], "-p", "2")
    out = kcat("-b", shared_broker.bootstrap, "-C", "-t", topic, "-p", "2", "-o", "beginning", "-e", "-q",
               "-f", "%p:%o:%s\n").stdout.decode()
    assert out.splitlines() == ["2:0:p2-a", "2:1:p2-b"]
    out = kcat("-b", shared_broker.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q").stdout
    assert out == b""
