producer =KafkaProducer(
bootstrap_servers = 'localhost:9092',
acks = 'all',
retries = 5
)
