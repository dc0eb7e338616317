# Python producer with partition key
from kafka import KafkaProducer
import json
producer = KafkaProducer(
bootstrap_servers=['localhost:9092'],
key_serializer=str.encode,
value_serializer=lambda v: json.dumps(v).encode('utf-8')
)
# All events for user_id=42 go to the same partition (ordered)
producer.send(
'user-events',
key='user_42',
value={'event': 'page_view', 'url': '/pricing', 'ts': 1720000000}
)
producer.flush()
