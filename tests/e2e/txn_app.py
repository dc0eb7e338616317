"""Consume-transform-produce application for test_transactions.py.

Reads `input` in group `group` (read_committed), writes each value
upper-cased to `output` inside a transaction together with the consumed
offsets (send_offsets_to_transaction), one transaction per poll batch, and
prints one JSON line per committed transaction. It exits once it has been
idle for `idle_exit` seconds. `--pause` sleeps between producing and
committing, so that a kill -9 from the test lands mid-transaction.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--txn-id", required=True)
    ap.add_argument("--pause", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--idle-exit", type=float, default=5.0)
    a = ap.parse_args()

    consumer = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": 100,
    })
    producer = Producer({
        "bootstrap.servers": a.bootstrap,
        "transactional.id": a.txn_id,
        "transaction.timeout.ms": 60000,
        "linger.ms": 5,
    })
    producer.init_transactions(30)
    consumer.subscribe([a.input])
    last = time.monotonic()
    while time.monotonic() - last < a.idle_exit:
        msgs = consumer.consume(a.batch, 0.5)
        msgs = [m for m in msgs if m.error() is None]
        if not msgs:
            continue
        last = time.monotonic()
        producer.begin_transaction()
        for m in msgs:
            producer.produce(a.output, key=m.key(), value=m.value().upper())
        producer.flush(30)
        if a.pause:
            time.sleep(a.pause)
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()),
            consumer.consumer_group_metadata(), 30)
        try:
            producer.commit_transaction(30)
        except KafkaException as e:
            print(json.dumps({"error": str(e)}), flush=True)
            return 2
        print(json.dumps({"committed": len(msgs)}), flush=True)
        last = time.monotonic()
    consumer.close()
    print(json.dumps({"done": True}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
