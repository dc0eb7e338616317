from confluent_kafka.avro import AvroProducer
from confluent_kafka.avro.serializer import SerializerError
schema_str = """
{
"type": "record",
"name": "Order",
"fields": [
{"name": "order_id", "type": "int"},
{"name": "user_id", "type": "string"},
{"name": "amount", "type": "double"},
{"name": "currency", "type": "string", "default": "INR"}
]
}
"""
producer = AvroProducer(
{'bootstrap.servers': 'localhost:9092', 'schema.registry.url': 'http://localhost:8081'},
default_value_schema=schema_str
)
