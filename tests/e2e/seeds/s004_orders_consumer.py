from kafka import KafkaConsumer
import json
consumer = KafkaConsumer(
'orders',
bootstrap_servers='localhost:9092',
group_id='order-processor', # Consumer group
auto_offset_reset='earliest', # Read from beginning if no offset stored
enable_auto_commit=True,
value_deserializer=lambda m: json.loads(m.decode('utf-8'))
)
print("Listening for orders...")
for message in consumer:
    order = message.value
    print(f"Partition {message.partition} | Offset {message.offset} | Order: {order['order_id']}")
