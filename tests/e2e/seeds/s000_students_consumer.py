from kafka import KafkaConsumer
import json
consumer = KafkaConsumer(
'students',
bootstrap_servers='localhost:9092',
group_id='etl-group',
auto_offset_reset='latest',
enable_auto_commit=True,
value_deserializer=lambda x: json.loads(x.decode('utf-8'))
)
print("Consumer running...")
for message in consumer:
    data = message.value
    print("Received:", data)
