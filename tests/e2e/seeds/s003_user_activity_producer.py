from kafka import KafkaProducer
import json
import time
# Create an instance of the Kafka producer
producer = KafkaProducer(
bootstrap_servers="localhost:9092",
# Encode messages as JSON
value_serializer=lambda v: json.dumps(v).encode("utf-8"),
)
print("Sending messages...")
for i in range(10):
    # Create a message
    message = {"user_id": f"user_{i % 3}", "action": "click", "timestamp": time.time()}
    # Send the message to the 'user-activity' topic
    producer.send("user-activity", value=message)
    print(f"Sent: {message}")
    time.sleep(1)
# Ensure all messages are sent before exiting
producer.flush()
print("All messages sent.")
