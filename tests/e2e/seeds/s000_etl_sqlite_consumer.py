import sqlite3
from kafka import KafkaConsumer
import json
consumer = KafkaConsumer(
'students',
bootstrap_server = 'localhost:9092',
group_id = 'etl-group-1',
auto_offset_reset = 'latest'
enable_auto_commit = True,
value_deserializer = lamda x: json.loads(x.decode('utf-8'))
)
conn=sqlite3.connect("kakfka_etl_db")
cursor =conn.cursor()
cursor.execute("""
CREATE TABLE IF NOT EXISTS students (
id INTEGER PRIMARY KEY AUTOINCREMENT,
name TEXT,
course TEXT,
UNIQUE(name, course)
)
""")
conn.commit()
print("Etl running..")
for message in consumer:
    data = message.value
    name = data["name"].upper()
    course=data["course"]
    cursor.execute("""
INSERT OR IGNORE INTO students(name, course)
VALUES (?, ?)""",(name,course))
    conn.commit()
    print("Inserted:", name, course)
