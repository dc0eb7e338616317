#!/usr/bin/env python3
"""One consumer-group member, run as a subprocess by the group tests (test_groups.py).

Each member is its own process, as in a real deployment, so a test can stop it
cleanly (SIGTERM: the client closes, which leaves the group) or kill it with
SIGKILL (no goodbye: the coordinator must notice the missed session timeout).

    group_member.py --client {kafka-python,confluent,aiokafka} --bootstrap HOST:PORT
                    --group G --topic T [--topic T2] [--conf key=value ...]

--conf values are given to the client as written (confluent-kafka: librdkafka
names with dots; kafka-python/aiokafka: keyword arguments, e.g.
session_timeout_ms=6000); values that parse as JSON (numbers, true/false) are
passed parsed. Defaults: auto.offset.reset=earliest, auto commit off.

It writes one JSON object per line to stdout, each with "t" (time.monotonic()):
  {"event": "subscribed"}                          right after subscribe()
  {"event": "assign"|"revoke"|"lost", "partitions": [[topic, p], ...]}
                                                   from the rebalance callbacks
  {"event": "assignment", "partitions": [...]}     whenever assignment() changes
  {"event": "record", "topic", "partition", "offset", "key", "value"}
  {"event": "error", "name", "fatal", "message"}
  {"event": "closed"}                              after a clean close on SIGTERM
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

stop = False


def emit(**ev):
    ev["t"] = time.monotonic()
    sys.stdout.write(json.dumps(ev) + "\n")
    sys.stdout.flush()


def on_sigterm(*_):
    global stop
    stop = True


def parse_conf(items):
    conf = {}
    for item in items:
        key, _, raw = item.partition("=")
        try:
            conf[key] = json.loads(raw)
        except ValueError:
            conf[key] = raw
    return conf


def text(b):
    return None if b is None else b.decode("utf-8", "replace")


def tps(parts):
    return sorted([tp.topic, tp.partition] for tp in parts)


class AssignmentTracker:
    def __init__(self):
        self.last = None

    def update(self, parts):
        cur = tps(parts)
        if cur != self.last:
            self.last = cur
            emit(event="assignment", partitions=cur)


def run_confluent(args, conf):
    from confluent_kafka import Consumer, KafkaError, KafkaException

    base = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "socket.timeout.ms": 10000,
        "fetch.wait.max.ms": 100,
        "error_cb": lambda err: emit(event="error", name=err.name(), fatal=err.fatal(), message=str(err)),
    }
    base.update(conf)
    c = Consumer(base)
    tracker = AssignmentTracker()

    def on_assign(consumer, parts):
        emit(event="assign", partitions=tps(parts))

    def on_revoke(consumer, parts):
        emit(event="revoke", partitions=tps(parts))

    def on_lost(consumer, parts):
        emit(event="lost", partitions=tps(parts))

    c.subscribe(args.topic, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit(event="subscribed")
    fatal = False
    while not stop:
        try:
            m = c.poll(0.1)
        except KafkaException as e:
            err = e.args[0]
            emit(event="error", name=err.name(), fatal=err.fatal(), message=str(err))
            fatal = fatal or err.fatal()
            m = None
        try:
            tracker.update(c.assignment())
        except KafkaException:
            pass
        if m is None:
            continue
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                emit(event="error", name=m.error().name(), fatal=m.error().fatal(), message=str(m.error()))
            continue
        emit(event="record", topic=m.topic(), partition=m.partition(), offset=m.offset(), key=text(m.key()),
             value=text(m.value()))
    if not fatal:
        c.close()
    emit(event="closed")


class Stop(Exception):
    """Raised from the SIGTERM handler to leave a blocking kafka-python iteration."""


def run_kafka_python(args, conf):
    from kafka import KafkaConsumer
    from kafka.consumer.subscription_state import ConsumerRebalanceListener

    tracker = AssignmentTracker()

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            emit(event="revoke", partitions=tps(revoked))

        def on_partitions_assigned(self, assigned):
            emit(event="assign", partitions=tps(assigned))
            tracker.update(c.assignment())

        def on_partitions_lost(self, lost):
            emit(event="lost", partitions=tps(lost))
            tracker.update(c.assignment())

    base = dict(bootstrap_servers=args.bootstrap, group_id=args.group, auto_offset_reset="earliest",
                enable_auto_commit=False, request_timeout_ms=15000, fetch_max_wait_ms=100)
    base.update(conf)
    c = KafkaConsumer(**base)
    c.subscribe(args.topic, listener=Listener())
    emit(event="subscribed")

    # Iterate (as the seed scripts do) rather than poll(timeout_ms=...): with a
    # short poll timeout, kafka-python 3.0.12 can lose a join. When its first
    # assignment was computed before the topic's metadata arrived (fjord answers
    # a new group's first JoinGroup at once: group.initial.rebalance.delay.ms=0),
    # the metadata update makes it rejoin; if poll() times out while that
    # JoinGroup is held, the leader's assignment step then clears need_rejoin()
    # and the finished join is never applied: no partitions, forever. The
    # iterator's poll has no timeout, so the join always completes; SIGTERM
    # breaks out of it with an exception.
    def on_term(*_):
        raise Stop()

    signal.signal(signal.SIGTERM, on_term)
    while True:
        try:
            for r in c:
                emit(event="record", topic=r.topic, partition=r.partition, offset=r.offset, key=text(r.key),
                     value=text(r.value))
        except Stop:
            break
        except Exception as e:  # noqa: BLE001 - e.g. connection refused while the broker restarts
            emit(event="error", name=type(e).__name__, fatal=False, message=str(e))
            try:
                time.sleep(0.2)
            except Stop:
                break
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    c.close()
    emit(event="closed")


def run_aiokafka(args, conf):
    import asyncio

    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            emit(event="revoke", partitions=tps(revoked))

        def on_partitions_assigned(self, assigned):
            emit(event="assign", partitions=tps(assigned))

    async def main():
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        base = dict(bootstrap_servers=args.bootstrap, group_id=args.group, auto_offset_reset="earliest",
                    enable_auto_commit=False, request_timeout_ms=15000, fetch_max_wait_ms=100)
        base.update(conf)
        c = AIOKafkaConsumer(**base)
        await c.start()
        tracker = AssignmentTracker()
        c.subscribe(args.topic, listener=Listener())
        emit(event="subscribed")
        try:
            while not stop:
                try:
                    batch = await c.getmany(timeout_ms=100)
                except Exception as e:  # noqa: BLE001 - reported to the test
                    emit(event="error", name=type(e).__name__, fatal=False, message=str(e))
                    await asyncio.sleep(0.1)
                    continue
                tracker.update(c.assignment())
                for recs in batch.values():
                    for r in recs:
                        emit(event="record", topic=r.topic, partition=r.partition, offset=r.offset,
                             key=text(r.key), value=text(r.value))
        finally:
            await c.stop()
        emit(event="closed")

    asyncio.run(main())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True, choices=["kafka-python", "confluent", "aiokafka"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", action="append", required=True)
    ap.add_argument("--conf", action="append", default=[])
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    if os.environ.get("GROUP_MEMBER_DEBUG"):
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    conf = parse_conf(args.conf)
    {"confluent": run_confluent, "kafka-python": run_kafka_python, "aiokafka": run_aiokafka}[args.client](args, conf)


if __name__ == "__main__":
    main()
