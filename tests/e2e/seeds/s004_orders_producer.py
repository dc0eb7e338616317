from kafka import KafkaProducer
import json, time
producer = KafkaProducer(
bootstrap_servers='localhost:9092',
value_serializer=lambda v: json.dumps(v).encode('utf-8'),
# Performance tuning
acks='all', # Wait for all replicas to confirm
retries=3,
linger_ms=10, # Batch for 10ms before sending
batch_size=16384, # 16 KB batch size
compression_type='gzip'
)
for i in range(100):
    producer.send('orders', {
    'order_id': i,
    'user_id': i % 10,
    'amount': round(100 + i * 1.5, 2),
    'timestamp': time.time()
    })
producer.flush()
print("100 messages sent")
