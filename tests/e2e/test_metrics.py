"""/metrics, /ready and the slow-request log against the real broker.

Produces 10 records, consumes them in a consumer group that commits offset 4,
then checks what /metrics says about it: per-topic counters, partition offsets
(kafka_exporter names), the group's committed offset and lag (10 - 4 = 6),
per-API request counts, open connections and process memory.
"""

import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from helpers import ck_admin, ck_consumer, ck_create_topic, ck_produce, unique_topic, wait_until

PROMETHEUS_TEXT = "text/plain; version=0.0.4"


def scrape(b, accept=None):
    req = urllib.request.Request(f"{b.http_url}/metrics")
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        return r.headers.get("Content-Type", ""), r.read().decode()


class Samples:
    """Samples of one scrape, looked up by name and a subset of labels."""

    def __init__(self, text):
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def find(self, name, **labels):
        want = {k: str(v) for k, v in labels.items()}
        return [s for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in want.items())]

    def value(self, name, **labels):
        found = self.find(name, **labels)
        assert len(found) == 1, f"{name}{labels}: expected one sample, found {found}"
        return found[0].value

    def total(self, name, **labels):
        return sum(s.value for s in self.find(name, **labels))


def metrics(b):
    content_type, text = scrape(b)
    assert content_type.startswith(PROMETHEUS_TEXT), content_type
    return Samples(text)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_metrics_after_produce_and_group_commit(broker):
    topic = unique_topic("metrics")
    group = unique_topic("metrics-group")
    admin = ck_admin(broker.bootstrap)
    ck_create_topic(broker.bootstrap, topic, partitions=1)
    ck_produce(broker.bootstrap, topic, [b"value-%02d" % i for i in range(10)])

    from confluent_kafka import TopicPartition

    consumer = ck_consumer(broker.bootstrap, **{"group.id": group, "fetch.wait.max.ms": 100})
    try:
        consumer.subscribe([topic])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 10 and time.monotonic() < deadline:
            m = consumer.poll(0.2)
            if m is not None and not m.error():
                got.append(m.value())
        assert len(got) == 10, f"consumed {len(got)} of 10"
        committed = consumer.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)
        assert [tp.error for tp in committed] == [None]

        m = metrics(broker)
        # Partition offsets under kafka_exporter's names.
        part = {"topic": topic, "partition": 0}
        assert m.value("kafka_topic_partition_current_offset", **part) == 10
        assert m.value("kafka_topic_partition_oldest_offset", **part) == 0
        assert m.value("fjord_partition_log_end_offset", **part) == 10
        assert m.value("fjord_partition_high_watermark", **part) == 10
        assert m.value("kafka_topic_partition_under_replicated_partition", **part) == 0
        assert m.value("kafka_topic_partition_replicas", **part) == 1
        assert m.value("kafka_topic_partition_in_sync_replica", **part) == 1
        assert m.value("kafka_topic_partitions", topic=topic) == 1
        assert m.value("kafka_brokers") == 1

        # The group: committed 4 of 10.
        g = {"consumergroup": group, "topic": topic, "partition": 0}
        assert m.value("kafka_consumergroup_current_offset", **g) == 4
        assert m.value("kafka_consumergroup_lag", **g) == 6
        assert m.value("kafka_consumergroup_lag_sum", consumergroup=group, topic=topic) == 6
        assert m.value("kafka_consumergroup_members", consumergroup=group) == 1

        # Per-topic traffic: batches are stored verbatim, so bytes in equal
        # the partition's log size.
        log_size = m.value("fjord_partition_log_size_bytes", **part)
        assert log_size > 10 * len(b"value-00")
        assert m.value("fjord_topic_messages_in_total", topic=topic) == 10
        assert m.value("fjord_topic_bytes_in_total", topic=topic) == log_size
        assert m.value("fjord_topic_messages_out_total", topic=topic) >= 10
        assert m.value("fjord_topic_bytes_out_total", topic=topic) >= log_size
        assert m.value("fjord_log_dir_size_bytes", dir=str(broker.data_dir)) >= log_size

        # Requests per API (Kafka's names) with latency histograms.
        for api in ("ApiVersions", "Metadata", "CreateTopics", "Produce", "Fetch",
                    "FindCoordinator", "JoinGroup", "SyncGroup", "OffsetCommit"):
            assert m.total("fjord_requests_total", api=api) >= 1, api
            assert m.value("fjord_request_duration_seconds_count", api=api) >= 1, api
            assert m.value("fjord_request_duration_seconds_bucket", api=api, le="+Inf") >= 1, api
        assert m.families["fjord_requests"].type == "counter"
        assert m.families["fjord_request_duration_seconds"].type == "histogram"
        produce_versions = {s.labels["version"] for s in m.find("fjord_requests_total", api="Produce")}
        assert produce_versions and all(v.isdigit() for v in produce_versions)

        # The consumer (and the admin client) are connected right now.
        assert m.value("fjord_connections") >= 1
        assert m.value("fjord_connections_opened_total") >= m.value("fjord_connections")

        # Process memory agrees with the kernel's view.
        rss = m.value("process_resident_memory_bytes")
        actual = rss_bytes(broker.proc.pid)
        assert 0.5 * actual < rss < 2 * actual, (rss, actual)
        assert m.value("process_cpu_seconds_total") >= 0
        assert m.value("process_open_fds") > 0
    finally:
        consumer.close()
    del admin

    # Once the group is empty it has no members, and its offsets and lag stay.
    def empty():
        s = metrics(broker)
        if s.value("kafka_consumergroup_members", consumergroup=group) != 0:
            return None
        return s
    m = wait_until(empty, 15, 0.2, "group to have no members")
    assert m.value("kafka_consumergroup_lag", consumergroup=group, topic=topic, partition=0) == 6


def test_connections_gauge_drops_when_clients_leave(broker):
    import socket

    # A fresh broker: the fixture's readiness probe may still be counted until the
    # broker sees it close, so start from zero open connections.
    wait_until(lambda: metrics(broker).value("fjord_connections") == 0, 10, 0.1, "no open connections")
    before = 0
    socks = [socket.create_connection((broker.host, broker.kafka_port), timeout=5) for _ in range(3)]
    try:
        wait_until(lambda: metrics(broker).value("fjord_connections") == before + 3, 10, 0.1,
                   "three more open connections")
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: metrics(broker).value("fjord_connections") == before, 10, 0.1,
               "connections to close")


def test_openmetrics_when_asked(broker):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families

    content_type, text = scrape(broker, accept="application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text"), content_type
    assert text.endswith("# EOF\n")
    names = {f.name for f in om_families(text)}
    assert "process_resident_memory_bytes" in names
    assert "fjord_connections" in names


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode().strip()


def test_ready_and_health(broker):
    # The Kafka port is bound before log recovery, so /ready may still say
    # 503 for a moment after the port accepts connections; /health never does.
    assert http_get(f"{broker.http_url}/health") == (200, "ok")
    wait_until(lambda: http_get(f"{broker.http_url}/ready") == (200, "ready"), 10, 0.05, "/ready")
    assert http_get(f"{broker.http_url}/ready") == (200, "ready")


def test_slow_requests_are_logged_but_not_long_polls(broker_factory):
    """With fjord.slow.request.ms = 10, a consumer's idle 500 ms long polls
    and its JoinGroup/SyncGroup are not logged; a slow CreateTopics is, with
    its API, client id, address and duration."""
    b = broker_factory(config={"fjord.slow.request.ms": 10})
    topic = unique_topic("slowlog")
    ck_create_topic(b.bootstrap, topic, partitions=1)
    consumer = ck_consumer(b.bootstrap, **{"group.id": unique_topic("slow-group"),
                                           "fetch.wait.max.ms": 500,
                                           "client.id": "slow-log-consumer"})
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            consumer.poll(0.2)
        idle_fetches = metrics(b).total("fjord_requests_total", api="Fetch")
        assert idle_fetches >= 2, "the consumer should have long-polled"
    finally:
        consumer.close()
    log = b.log_text()
    slow = [line for line in log.splitlines() if "slow request" in line]
    assert not [line for line in slow if "Fetch" in line or "JoinGroup" in line or "SyncGroup" in line], slow

    # Creating 200 partitions (directories, files, an fsynced topics.json)
    # takes well over 10 ms.
    admin = ck_admin(b.bootstrap, **{"client.id": "slow-log-admin"})
    from confluent_kafka.admin import NewTopic

    big = unique_topic("slowlog-big")
    admin.create_topics([NewTopic(big, num_partitions=200, replication_factor=1)])[big].result(30)
    line = wait_until(lambda: next((l for l in b.log_text().splitlines()
                                    if "slow request" in l and "slow-log-admin" in l), None),
                      10, 0.2, "a slow request line from the admin client")
    assert "CreateTopics" in line and "127.0.0.1:" in line and "ms" in line, line


def test_metrics_endpoint_is_prometheus_text(broker):
    content_type, text = scrape(broker)
    assert content_type.startswith(PROMETHEUS_TEXT)
    families = list(text_string_to_metric_families(text))
    assert families
    # Counters parse as counters (the classic format names them *_total).
    types = {f.name: f.type for f in families}
    assert types.get("fjord_connections_opened") == "counter", types
    assert "# EOF" not in text


def test_unknown_metrics_path_still_404(broker):
    try:
        urllib.request.urlopen(f"{broker.http_url}/metrics/nope", timeout=5)
    except urllib.error.HTTPError as e:
        assert e.code == 404
    else:
        raise AssertionError("expected 404")
