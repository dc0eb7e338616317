"""The Kafka 4.0 API surface clients probe (issue 11 items 5 and 6): authorized operations."""

from confluent_kafka import TopicCollection
from confluent_kafka.admin import AclOperation

from helpers import ck_admin, ck_create_topic, unique_topic

TOPIC_OPERATIONS = {AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE,
                    AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS,
                    AclOperation.ALTER_CONFIGS}
CLUSTER_OPERATIONS = {AclOperation.CREATE, AclOperation.ALTER, AclOperation.DESCRIBE,
                      AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS,
                      AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE}


# ---------------------------------------------------------------- authorized operations (item 5)

def test_confluent_admin_sees_authorized_operations(shared_broker):
    bs = shared_broker.bootstrap
    topic = unique_topic("authz")
    ck_create_topic(bs, topic)
    admin = ck_admin(bs)
    desc = admin.describe_topics(TopicCollection([topic]), include_authorized_operations=True)[topic].result(15)
    assert set(desc.authorized_operations or []) == TOPIC_OPERATIONS
    cluster = admin.describe_cluster(include_authorized_operations=True).result(15)
    assert set(cluster.authorized_operations or []) == CLUSTER_OPERATIONS
    # Not asked for: not reported.
    desc = admin.describe_topics(TopicCollection([topic]), include_authorized_operations=False)[topic].result(15)
    assert not desc.authorized_operations
    cluster = admin.describe_cluster(include_authorized_operations=False).result(15)
    assert not cluster.authorized_operations
