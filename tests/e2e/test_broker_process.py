"""The `fjord broker` process: flags, env vars, --config, /health, SIGTERM."""

import json
import urllib.error
import urllib.request

import pytest

import kafka_wire as kw
from helpers import ck_admin, ck_produce, ck_consume, kcat, unique_topic, wait_until


def metadata_json(bootstrap, topic=None):
    args = ["-b", bootstrap, "-L", "-J", "-m", "10"]
    if topic:
        args += ["-t", topic]
    return json.loads(kcat(*args).stdout)


def test_health_endpoint(broker):
    status, _body = broker.health()
    assert status == 200


def test_unknown_http_path_is_404(broker):
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(f"{broker.http_url}/definitely-not-a-path", timeout=5)
    assert ei.value.code == 404


def test_metrics_endpoint(broker):
    """/metrics serves Prometheus text (its contents: test_metrics.py)."""
    with urllib.request.urlopen(f"{broker.http_url}/metrics", timeout=5) as r:
        assert r.status == 200
        text = r.read().decode()
    from prometheus_client.parser import text_string_to_metric_families

    families = list(text_string_to_metric_families(text))
    assert families, "empty /metrics"


def test_sigterm_exits_zero(broker):
    # make the broker do some work first, so shutdown has something to flush
    topic = unique_topic("sigterm")
    ck_produce(broker.bootstrap, topic, [b"a", b"b"])
    assert broker.stop() == 0


def test_clean_restart_serves_same_ports(broker):
    topic = unique_topic("restart")
    ck_produce(broker.bootstrap, topic, [b"x%d" % i for i in range(5)])
    broker.restart()
    got = ck_consume(broker.bootstrap, topic, 5)
    assert got.values() == [b"x%d" % i for i in range(5)]


def test_metadata_advertises_address_and_node_id(broker_factory):
    b = broker_factory(node_id=7)
    md = metadata_json(b.bootstrap)
    brokers = md["brokers"]
    assert len(brokers) == 1, brokers
    assert brokers[0]["id"] == 7
    assert brokers[0]["name"] == b.bootstrap
    admin = ck_admin(b.bootstrap)  # keep a reference: a destroyed client fails its futures
    cluster = admin.describe_cluster(request_timeout=10).result(15)
    assert [n.id for n in cluster.nodes] == [7]
    assert cluster.controller is not None and cluster.controller.id == 7


def test_env_vars_instead_of_flags(broker_factory):
    """FJORD_DATA_DIR / FJORD_LISTEN / FJORD_ADVERTISE / FJORD_HTTP / FJORD_NODE_ID."""
    b = broker_factory(use_env=True, node_id=3)
    topic = unique_topic("envcfg")
    ck_produce(b.bootstrap, topic, [b"hello"])
    assert b.health()[0] == 200
    md = metadata_json(b.bootstrap)
    assert md["brokers"][0]["id"] == 3
    assert b.data_dir.is_dir() and any(b.data_dir.iterdir()), "nothing written under FJORD_DATA_DIR"


def test_config_file_num_partitions(broker_factory):
    b = broker_factory(config={"num.partitions": 3})
    topic = unique_topic("numparts")
    ck_produce(b.bootstrap, topic, [b"v"])  # auto-creates
    md = metadata_json(b.bootstrap, topic)
    t = [t for t in md["topics"] if t["topic"] == topic][0]
    assert len(t["partitions"]) == 3


def test_config_file_via_env(broker_factory):
    b = broker_factory(config={"num.partitions": 2}, use_env=True)
    topic = unique_topic("numparts-env")
    ck_produce(b.bootstrap, topic, [b"v"])
    md = metadata_json(b.bootstrap, topic)
    t = [t for t in md["topics"] if t["topic"] == topic][0]
    assert len(t["partitions"]) == 2


def test_config_file_auto_create_disabled(broker_factory):
    b = broker_factory(config={"auto.create.topics.enable": False})
    topic = unique_topic("noauto")
    payload = kw.roundtrip(b.bootstrap, kw.metadata_request_v4([topic], allow_auto_create=True))
    _corr, errors, _counts = kw.parse_metadata_response_v4_topics(payload)
    assert errors.get(topic) == kw.ERROR_UNKNOWN_TOPIC_OR_PARTITION
    # explicit creation still works
    from helpers import ck_create_topic

    ck_create_topic(b.bootstrap, topic, partitions=1)
    ck_produce(b.bootstrap, topic, [b"ok"])


def test_default_num_partitions_is_one(broker):
    topic = unique_topic("defparts")
    payload = kw.roundtrip(broker.bootstrap, kw.metadata_request_v4([topic], allow_auto_create=True))
    _corr, errors, counts = kw.parse_metadata_response_v4_topics(payload)
    # Kafka may answer the auto-creating request with LEADER_NOT_AVAILABLE (5) while creating.
    assert errors.get(topic) in (0, 5), errors

    def created():
        p = kw.roundtrip(broker.bootstrap, kw.metadata_request_v4([topic], allow_auto_create=False))
        _c, e, c = kw.parse_metadata_response_v4_topics(p)
        return e.get(topic) == 0 and c.get(topic)
    assert wait_until(created, 10, 0.1, f"auto-created {topic}") == 1


def test_data_dir_layout(broker):
    """Partition directories are <data-dir>/<topic>-<partition> (the crash tests rely on it)."""
    topic = unique_topic("layout")
    ck_produce(broker.bootstrap, topic, [b"v"])
    d = broker.data_dir / f"{topic}-0"
    assert d.is_dir(), f"missing {d}; data dir has {sorted(p.name for p in broker.data_dir.iterdir())}"
    assert list(d.glob("*.log")), f"no .log segment in {d}: {sorted(p.name for p in d.iterdir())}"
