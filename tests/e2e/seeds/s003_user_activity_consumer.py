from kafka import KafkaConsumer
import json
# Create an instance of the Kafka consumer
consumer = KafkaConsumer(
"user-activity", # The topic to subscribe to
bootstrap_servers="localhost:9092",
auto_offset_reset="earliest", # Start reading at the earliest message
group_id="my-consumer-group", # A unique name for the consumer group
# Decode messages from JSON
value_deserializer=lambda m: json.loads(m.decode("utf-8")),
)
print("Waiting for messages...")
# The consumer is an iterator that will block and wait for new messages
for message in consumer:
    # message value and key are raw bytes -- decode if necessary!
    # e.g., for unicode: `message.value.decode('utf-8')`
    print(
    f"Received: Topic={message.topic}, Partition={message.partition}, Offset={message.offset}, Key={message.key}, Value={message.value}"
    )
