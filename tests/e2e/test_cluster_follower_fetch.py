"""Fetch from the closest replica (KIP-392, issue 12): three real nodes in
racks r1, r2, r3 with replica.selector.class set to Kafka's
RackAwareReplicaSelector; a confluent-kafka consumer with client.rack
names a follower's rack and reads everything through that follower (its
/metrics count the bytes it served), then carries on through the leader
when that follower is killed."""

from __future__ import annotations

import time

from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic

from helpers import ck_admin, ck_consumer, ck_producer, unique_topic, wait_until
from test_cluster_ops import topic_state
from test_metrics import metrics

SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"


def produce(bootstrap: str, topic: str, start: int, n: int) -> None:
    p = ck_producer(bootstrap, acks="all")
    errors = []
    for i in range(start, start + n):
        p.produce(topic, value=b"m%05d" % i, partition=0,
                  on_delivery=lambda err, _m: errors.append(err) if err else None)
    assert p.flush(30) == 0 and not errors, errors[:3]


def bytes_out(node, topic: str) -> float:
    return metrics(node).total("fjord_topic_bytes_out_total", topic=topic)


def test_a_consumer_reads_from_the_replica_in_its_rack(cluster_factory):
    cluster = cluster_factory(3, config={"replica.selector.class": SELECTOR,
                                         "broker.session.timeout.ms": 3000}, start=False)
    for i, node in enumerate(cluster.nodes):
        node.extra_args += ["--rack", f"r{i + 1}"]
    cluster.start()
    topic = unique_topic("closest")
    admin = ck_admin(cluster.bootstrap)
    admin.create_topics([NewTopic(topic, 1, 3)])[topic].result(20)
    nodes = {b.node_id: b for b in cluster.nodes}
    wait_until(lambda: (s := topic_state(cluster.nodes[0], topic)) and s[0][2] == [1, 2, 3],
               20, 0.2, "a full ISR")
    leader = topic_state(cluster.nodes[0], topic)[0][0]
    near, other = [i for i in (1, 2, 3) if i != leader]
    produce(cluster.bootstrap, topic, 0, 500)

    # The consumer is in the rack of follower `near`, which serves it; the
    # other follower serves nothing.
    c = ck_consumer(cluster.bootstrap, **{"client.rack": f"r{near}", "fetch.wait.max.ms": 100,
                                          "topic.metadata.refresh.interval.ms": 1000})
    c.assign([TopicPartition(topic, 0, 0)])
    got: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < 500 and time.monotonic() < deadline:
            got += [m.value() for m in c.consume(500, 0.5) if m.error() is None]
        assert got == [b"m%05d" % i for i in range(500)]
        served = bytes_out(nodes[near], topic)
        assert served >= 500 * 6, f"broker {near} served {served} bytes"
        assert bytes_out(nodes[other], topic) == 0, f"broker {other} served the r{near} consumer"

        # The near follower dies: the consumer goes back to the leader and
        # misses nothing.
        nodes[near].kill9()
        produce(nodes[leader].bootstrap, topic, 500, 200)
        deadline = time.monotonic() + 40
        while len(got) < 700 and time.monotonic() < deadline:
            got += [m.value() for m in c.consume(500, 0.5) if m.error() is None]
        assert got == [b"m%05d" % i for i in range(700)]
    finally:
        c.close()
