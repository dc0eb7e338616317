"""Configs as Kafka handles them: one catalogue (file keys are all described),
sources and synonyms, list configs, topic configs never read-only, the
message timestamp bounds, dynamic broker configs (per broker and cluster
default, persisted, applied at runtime) and fjord.log.flush.before.ack."""

import json
import subprocess
import time

import pytest
from confluent_kafka import KafkaException, KafkaError
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

import kafka_wire as kw
from conftest import fjord_bin
from helpers import ck_admin, ck_create_topic, unique_topic

# DescribeConfigsResponse.ConfigSource
DYNAMIC_TOPIC, DYNAMIC_BROKER, DYNAMIC_DEFAULT_BROKER, STATIC_BROKER, DEFAULT = 1, 2, 3, 4, 5
INVALID_REQUEST, INVALID_TIMESTAMP, MESSAGE_TOO_LARGE = 42, 32, 10
RESOURCE_TOPIC, RESOURCE_BROKER = 2, 4


# ------------------------------------------------------------- raw frames

def describe_raw(bootstrap: str, rtype: int, name: str, synonyms: bool = True) -> dict:
    """DescribeConfigs v1 over a raw socket: {name: (value, read_only, source,
    [(syn_name, syn_value, syn_source), ...])}; raises on a resource error."""
    body = (kw.int32(1) + kw.int8(rtype) + kw.string(name) + kw.int32(-1)
            + kw.int8(1 if synonyms else 0))
    payload = kw.roundtrip(bootstrap, kw.encode_request(32, 1, 7, body))
    assert payload is not None, "no DescribeConfigs response"
    r = kw.Reader(payload)
    assert r.int32() == 7
    r.int32()  # throttle
    assert r.int32() == 1
    err, msg = r.int16(), r.string()
    r.int8()
    r.string()
    if err:
        raise AssertionError(f"DescribeConfigs error {err}: {msg}")
    out = {}
    for _ in range(r.int32()):
        cname, value = r.string(), r.string()
        read_only, source, _sensitive = r.int8(), r.int8(), r.int8()
        syns = []
        for _ in range(r.int32()):
            syns.append((r.string(), r.string(), r.int8()))
        out[cname] = (value, bool(read_only), source, syns)
    return out


def incremental_raw(bootstrap: str, rtype: int, name: str, ops: list[tuple[str, int, str | None]]) -> tuple[int, str]:
    """IncrementalAlterConfigs v0: ops are (name, op, value); returns (error, message)."""
    body = kw.int32(1) + kw.int8(rtype) + kw.string(name) + kw.int32(len(ops))
    for cname, op, value in ops:
        body += kw.string(cname) + kw.int8(op) + kw.string(value)
    body += kw.int8(0)  # validate_only
    payload = kw.roundtrip(bootstrap, kw.encode_request(44, 0, 9, body))
    assert payload is not None, "no IncrementalAlterConfigs response"
    r = kw.Reader(payload)
    assert r.int32() == 9
    r.int32()
    assert r.int32() == 1
    return r.int16(), r.string()


def produce_raw(bootstrap: str, topic: str, batch: bytes) -> int:
    payload = kw.roundtrip(bootstrap, kw.produce_request_v3(topic, 0, batch, acks=-1))
    assert payload is not None, "no Produce response"
    _, parts = kw.parse_produce_response_v3(payload)
    return parts[(topic, 0)][0]


SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


# ------------------------------------------------------------- catalogue

def test_file_keys_are_described_with_static_source(broker_factory):
    b = broker_factory(config={"fjord.slow.request.ms": 777, "group.consumer.session.timeout.ms": 31000})
    admin = ck_admin(b.bootstrap)
    res = ConfigResource(ResourceType.BROKER, "1")
    cfg = admin.describe_configs([res], request_timeout=10)[res].result(15)
    for name, value in (("fjord.slow.request.ms", "777"), ("group.consumer.session.timeout.ms", "31000")):
        assert name in cfg, f"{name} not described"
        assert cfg[name].value == value
        assert cfg[name].source == STATIC_BROKER, (name, cfg[name].source)


def test_every_listed_config_is_described(shared_broker):
    out = subprocess.run([str(fjord_bin()), "config", "list", "--format", "json"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    listed = json.loads(out)
    described = describe_raw(shared_broker.bootstrap, RESOURCE_BROKER, "1")
    broker_names = {c["name"] for c in listed if c["scope"] == "broker"}
    assert broker_names == set(described), broker_names ^ set(described)
    topic = unique_topic("cfg-all")
    ck_create_topic(shared_broker.bootstrap, topic)
    topic_cfg = describe_raw(shared_broker.bootstrap, RESOURCE_TOPIC, topic)
    assert {c["name"] for c in listed if c["scope"] == "topic"} == set(topic_cfg)
    # Kafka never marks topic configs read-only.
    assert not [n for n, v in topic_cfg.items() if v[1]]
    # fjord's durable default is its own, visible key; Kafka's flush
    # settings keep Kafka's defaults.
    assert described["fjord.log.flush.before.ack"][0] == "true"
    assert described["log.flush.interval.messages"][0] == "9223372036854775807"
    assert topic_cfg["fjord.flush.before.ack"][0] == "true"
    assert topic_cfg["flush.messages"][0] == "9223372036854775807"


def test_kafka_flush_default_keeps_fsync_before_ack_and_is_reported(broker_factory):
    b = broker_factory(config={"log.flush.interval.messages": 9223372036854775807})
    described = describe_raw(b.bootstrap, RESOURCE_BROKER, "1")
    value, _, source, _ = described["log.flush.interval.messages"]
    assert (value, source) == ("9223372036854775807", STATIC_BROKER)
    assert described["fjord.log.flush.before.ack"][:3] == ("true", False, DEFAULT)


# ------------------------------------------------------------- list configs

def test_empty_cleanup_policy_is_accepted(shared_broker):
    bs = shared_broker.bootstrap
    created = unique_topic("cfg-empty-create")
    ck_create_topic(bs, created, config={"cleanup.policy": ""})
    assert describe_raw(bs, RESOURCE_TOPIC, created)["cleanup.policy"][:3] == ("", False, DYNAMIC_TOPIC)

    set_empty = unique_topic("cfg-empty-set")
    ck_create_topic(bs, set_empty)
    assert incremental_raw(bs, RESOURCE_TOPIC, set_empty, [("cleanup.policy", SET, "")]) == (0, None)
    assert describe_raw(bs, RESOURCE_TOPIC, set_empty)["cleanup.policy"][0] == ""

    subtracted = unique_topic("cfg-empty-sub")
    ck_create_topic(bs, subtracted, config={"cleanup.policy": "compact"})
    admin = ck_admin(bs)
    res = ConfigResource(ResourceType.TOPIC, subtracted, incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SUBTRACT)])
    admin.incremental_alter_configs([res], request_timeout=10)[res].result(15)
    assert describe_raw(bs, RESOURCE_TOPIC, subtracted)["cleanup.policy"][0] == ""


def test_append_keeps_list_order(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("cfg-append")
    ck_create_topic(bs, topic, config={"cleanup.policy": "delete"})
    admin = ck_admin(bs)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)])
    admin.incremental_alter_configs([res], request_timeout=10)[res].result(15)
    assert describe_raw(bs, RESOURCE_TOPIC, topic)["cleanup.policy"][0] == "delete,compact"


# ------------------------------------------------------------- synonyms

def test_default_topic_configs_have_no_extra_synonyms(shared_broker):
    topic = unique_topic("cfg-syn-default")
    ck_create_topic(shared_broker.bootstrap, topic)
    cfg = describe_raw(shared_broker.bootstrap, RESOURCE_TOPIC, topic)
    value, _, source, syns = cfg["retention.ms"]
    # log.retention.ms has no default of its own in Kafka (it comes from
    # log.retention.hours), so a default retention.ms has no synonym.
    assert (value, source, syns) == ("604800000", DEFAULT, [])
    assert cfg["segment.bytes"][2:] == (DEFAULT, [("log.segment.bytes", "1073741824", DEFAULT)])
    assert cfg["remote.storage.enable"][2:] == (DEFAULT, [])
    for name, (_, _, source, syns) in cfg.items():
        assert source == DEFAULT, name
        assert all(s[2] == DEFAULT for s in syns) and len(syns) <= 1, (name, syns)


def test_synonyms_of_static_and_topic_values(broker_factory):
    b = broker_factory(config={"log.segment.bytes": 2097152, "log.retention.ms": 3600000})
    topic = unique_topic("cfg-syn")
    ck_create_topic(b.bootstrap, topic, config={"segment.bytes": 1048576})
    cfg = describe_raw(b.bootstrap, RESOURCE_TOPIC, topic)
    assert cfg["segment.bytes"][0] == "1048576"
    assert cfg["segment.bytes"][2:] == (DYNAMIC_TOPIC, [
        ("segment.bytes", "1048576", DYNAMIC_TOPIC),
        ("log.segment.bytes", "2097152", STATIC_BROKER),
        ("log.segment.bytes", "1073741824", DEFAULT)])
    assert cfg["retention.ms"][0] == "3600000"
    assert cfg["retention.ms"][2:] == (STATIC_BROKER, [
        ("log.retention.ms", "3600000", STATIC_BROKER),
        ("log.retention.hours", "168", DEFAULT)])


# ------------------------------------------------------------- timestamps

def test_message_timestamp_bounds_refuse_out_of_range_records(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("cfg-ts")
    ck_create_topic(bs, topic, config={"message.timestamp.before.max.ms": 3_600_000,
                                       "message.timestamp.after.max.ms": 60_000,
                                       "local.retention.ms": 1000, "local.retention.bytes": 4096})
    cfg = describe_raw(bs, RESOURCE_TOPIC, topic)
    for name in ("message.timestamp.before.max.ms", "message.timestamp.after.max.ms",
                 "local.retention.ms", "local.retention.bytes"):
        assert cfg[name][1:3] == (False, DYNAMIC_TOPIC), (name, cfg[name])
    now = int(time.time() * 1000)
    assert produce_raw(bs, topic, kw.encode_record_batch([b"old"], timestamp_ms=now - 2 * 3_600_000)) \
        == INVALID_TIMESTAMP
    assert produce_raw(bs, topic, kw.encode_record_batch([b"future"], timestamp_ms=now + 600_000)) \
        == INVALID_TIMESTAMP
    assert produce_raw(bs, topic, kw.encode_record_batch([b"now"], timestamp_ms=now)) == 0
    # LogAppendTime topics take the broker's time: no bound applies.
    lat = unique_topic("cfg-ts-lat")
    ck_create_topic(bs, lat, config={"message.timestamp.type": "LogAppendTime",
                                     "message.timestamp.before.max.ms": 1000})
    assert produce_raw(bs, lat, kw.encode_record_batch([b"old"], timestamp_ms=now - 3_600_000)) == 0


# ------------------------------------------------------------- dynamic broker configs

def test_dynamic_broker_configs(broker):
    bs = broker.bootstrap
    plain, overridden = unique_topic("cfg-dyn-plain"), unique_topic("cfg-dyn-over")
    ck_create_topic(bs, plain)
    ck_create_topic(bs, overridden, config={"retention.ms": 1000})

    # Cluster default: topics without an override inherit it at once.
    assert incremental_raw(bs, RESOURCE_BROKER, "", [("log.retention.ms", SET, "3600000"),
                                                     ("message.max.bytes", SET, "2000")]) == (0, None)
    assert describe_raw(bs, RESOURCE_TOPIC, plain)["retention.ms"][:3] == \
        ("3600000", False, DYNAMIC_DEFAULT_BROKER)
    assert describe_raw(bs, RESOURCE_TOPIC, overridden)["retention.ms"][:3] == ("1000", False, DYNAMIC_TOPIC)
    big = kw.encode_record_batch([b"x" * 5000])
    assert produce_raw(bs, plain, big) == MESSAGE_TOO_LARGE
    assert produce_raw(bs, plain, kw.encode_record_batch([b"small"])) == 0

    # Per broker beats the cluster default.
    assert incremental_raw(bs, RESOURCE_BROKER, "1", [("log.retention.ms", SET, "7200000")]) == (0, None)
    value, _, source, syns = describe_raw(bs, RESOURCE_TOPIC, plain)["retention.ms"]
    assert (value, source) == ("7200000", DYNAMIC_BROKER)
    assert syns == [("log.retention.ms", "7200000", DYNAMIC_BROKER),
                    ("log.retention.ms", "3600000", DYNAMIC_DEFAULT_BROKER),
                    ("log.retention.hours", "168", DEFAULT)]
    described = describe_raw(bs, RESOURCE_BROKER, "1")
    assert described["log.retention.ms"][:3] == ("7200000", False, DYNAMIC_BROKER)
    assert described["num.partitions"][1] is True
    default = describe_raw(bs, RESOURCE_BROKER, "")
    assert {n: (v[0], v[2]) for n, v in default.items()} == {
        "log.retention.ms": ("3600000", DYNAMIC_DEFAULT_BROKER),
        "message.max.bytes": ("2000", DYNAMIC_DEFAULT_BROKER)}

    # Read-only configs and other brokers are refused, as Kafka refuses them.
    err, msg = incremental_raw(bs, RESOURCE_BROKER, "1", [("num.partitions", SET, "3")])
    assert err == INVALID_REQUEST and "num.partitions" in msg, (err, msg)
    assert incremental_raw(bs, RESOURCE_BROKER, "2", [("log.retention.ms", SET, "1")])[0] == INVALID_REQUEST
    assert incremental_raw(bs, RESOURCE_BROKER, "", [("log.retention.ms", SET, "soon")])[0] == INVALID_REQUEST
    assert describe_raw(bs, RESOURCE_TOPIC, plain)["retention.ms"][0] == "7200000"

    # Persisted: a restart keeps both layers.
    broker.restart()
    assert (broker.data_dir / "meta" / "dynamic-configs.json").exists()
    assert describe_raw(bs, RESOURCE_TOPIC, plain)["retention.ms"][:3] == ("7200000", False, DYNAMIC_BROKER)
    assert produce_raw(bs, plain, big) == MESSAGE_TOO_LARGE

    # DELETE falls back to the next layer; legacy AlterConfigs replaces a layer.
    assert incremental_raw(bs, RESOURCE_BROKER, "1", [("log.retention.ms", DELETE, None)]) == (0, None)
    assert describe_raw(bs, RESOURCE_TOPIC, plain)["retention.ms"][:3] == \
        ("3600000", False, DYNAMIC_DEFAULT_BROKER)
    admin = ck_admin(bs)
    res = ConfigResource(ResourceType.BROKER, "1", set_config={"log.segment.bytes": "2097152"})
    admin.alter_configs([res], request_timeout=10)[res].result(15)
    assert describe_raw(bs, RESOURCE_TOPIC, plain)["segment.bytes"][:3] == ("2097152", False, DYNAMIC_BROKER)
    res = ConfigResource(ResourceType.BROKER, "1", set_config={"num.partitions": "4"})
    with pytest.raises(KafkaException) as ei:
        admin.alter_configs([res], request_timeout=10)[res].result(15)
    assert ei.value.args[0].code() == KafkaError.INVALID_REQUEST
