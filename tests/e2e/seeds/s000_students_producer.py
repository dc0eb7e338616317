from kafka import KafkaProducer
import json
import time
producer = KafkaProducer(
bootstrap_servers='localhost:9092',
value_serializer=lambda v: json.dumps(v).encode('utf-8')
)
students = [
{"id": 1, "name": "Samwel", "course": "Data Engineering"},
{"id": 2, "name": "Alice", "course": "AI Engineering"},
{"id": 3, "name": "John", "course": "Cloud Computing"}
]
for student in students:
    producer.send("students", value=student)
    print("Message sent:", student)
    time.sleep(1)
producer.flush()
producer.close()
