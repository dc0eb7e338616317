from kafka import KafkaProducer
producer = KafkaProducer(
bootstrap_servers='localhost:9092'
)
producer.send(
'orders',
b'New order created'
)
producer.flush()
