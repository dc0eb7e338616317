"""The schema registry served by `fjord broker` (Confluent's REST API, state in `_schemas`).

Every broker of the fixtures gets its own free registry port (``broker.registry_url``).
Driven with confluent-kafka's SchemaRegistryClient and its Avro, JSON Schema and
Protobuf serializers, with raw HTTP for the REST surface and bad input, and across
clean restarts and kill -9.
"""

import json
import socket
import subprocess
import time
import uuid

import pytest
import requests

from conftest import fjord_bin

CT = "application/vnd.schemaregistry.v1+json"

ORDER_AVRO = json.dumps({
    "type": "record", "name": "Order", "namespace": "fjord.test",
    "fields": [
        {"name": "order_id", "type": "int"},
        {"name": "user_id", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "currency", "type": "string", "default": "INR"},
    ],
})

ORDER_JSON = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order", "type": "object",
    "properties": {"order_id": {"type": "integer"}, "user_id": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["order_id"],
})


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Rest:
    def __init__(self, url):
        self.url = url
        self.s = requests.Session()

    def call(self, method, path, body=None, raw=None, **params):
        headers = {"Content-Type": CT}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        r = self.s.request(method, self.url + path, data=data, params=params or None, headers=headers, timeout=30)
        try:
            payload = r.json()
        except ValueError:
            payload = r.text
        return r.status_code, payload, r

    def get(self, path, **params):
        return self.call("GET", path, **params)

    def post(self, path, body=None, **params):
        return self.call("POST", path, body, **params)

    def put(self, path, body=None, **params):
        return self.call("PUT", path, body, **params)

    def delete(self, path, **params):
        return self.call("DELETE", path, **params)

    def register(self, subject, schema, schema_type=None, references=None, **params):
        body = {"schema": schema}
        if schema_type:
            body["schemaType"] = schema_type
        if references:
            body["references"] = references
        return self.post(f"/subjects/{subject}/versions", body, **params)


@pytest.fixture
def rest(broker):
    return Rest(broker.registry_url)


def avro_record(fields, name="Rec"):
    return json.dumps({"type": "record", "name": name, "fields": fields})


# ------------------------------------------------------------------ REST surface


def test_rest_surface_register_read_config_mode_compat(rest):
    st, types, r = rest.get("/schemas/types")
    assert st == 200 and sorted(types) == ["AVRO", "JSON", "PROTOBUF"]
    assert r.headers["Content-Type"] == CT

    subj = uniq("orders-value")
    st, body, _ = rest.register(subj, ORDER_AVRO)
    assert st == 200, body
    sid = body["id"]
    # The same schema again (even formatted differently) returns the same id, no new version.
    st, again, _ = rest.register(subj, json.dumps(json.loads(ORDER_AVRO), indent=2))
    assert (st, again["id"]) == (200, sid)
    assert rest.get(f"/subjects/{subj}/versions")[1] == [1]
    assert subj in rest.get("/subjects")[1]

    st, v, _ = rest.get(f"/subjects/{subj}/versions/latest")
    assert st == 200 and v["subject"] == subj and v["version"] == 1 and v["id"] == sid
    assert json.loads(v["schema"]) == json.loads(ORDER_AVRO)
    assert rest.get(f"/subjects/{subj}/versions/1")[1]["id"] == sid
    assert json.loads(rest.get(f"/subjects/{subj}/versions/1/schema")[1]["fields"][0]["name"] and
                      rest.get(f"/subjects/{subj}/versions/1/schema")[2].text) == json.loads(ORDER_AVRO)
    st, by_id, _ = rest.get(f"/schemas/ids/{sid}")
    assert st == 200 and json.loads(by_id["schema"]) == json.loads(ORDER_AVRO) and "schemaType" not in by_id
    assert json.loads(rest.get(f"/schemas/ids/{sid}/schema")[2].text) == json.loads(ORDER_AVRO)
    assert rest.get(f"/schemas/ids/{sid}/subjects")[1] == [subj]
    assert rest.get(f"/schemas/ids/{sid}/versions")[1] == [{"subject": subj, "version": 1}]
    st, found, _ = rest.post(f"/subjects/{subj}", {"schema": ORDER_AVRO})
    assert st == 200 and (found["id"], found["version"]) == (sid, 1)

    # Lookups that miss: Confluent's codes.
    assert rest.get("/subjects/nope/versions")[1]["error_code"] == 40401
    assert rest.get(f"/subjects/{subj}/versions/7")[1]["error_code"] == 40402
    assert rest.get("/schemas/ids/999999")[1]["error_code"] == 40403
    st, e, _ = rest.get(f"/subjects/{subj}/versions/zero")
    assert (st, e["error_code"]) == (422, 42202)
    st, e, _ = rest.post(f"/subjects/{subj}", {"schema": avro_record([{"name": "x", "type": "int"}])})
    assert (st, e["error_code"]) == (404, 40403)

    # Config: global default BACKWARD; per subject with defaultToGlobal.
    assert rest.get("/config")[1] == {"compatibilityLevel": "BACKWARD"}
    st, e, _ = rest.get(f"/config/{subj}")
    assert (st, e["error_code"]) == (404, 40408)
    assert rest.get(f"/config/{subj}", defaultToGlobal="true")[1] == {"compatibilityLevel": "BACKWARD"}
    assert rest.put(f"/config/{subj}", {"compatibility": "FULL"})[1] == {"compatibility": "FULL"}
    assert rest.get(f"/config/{subj}")[1] == {"compatibilityLevel": "FULL"}
    st, e, _ = rest.put(f"/config/{subj}", {"compatibility": "SIDEWAYS"})
    assert (st, e["error_code"]) == (422, 42203)

    # Compatibility: FULL refuses a field without default; verbose explains.
    added = json.loads(ORDER_AVRO)
    added["fields"].append({"name": "note", "type": "string"})
    st, c, _ = rest.post(f"/compatibility/subjects/{subj}/versions/latest", {"schema": json.dumps(added)}, verbose="true")
    assert st == 200 and c["is_compatible"] is False and c["messages"]
    st, e, _ = rest.register(subj, json.dumps(added))
    assert (st, e["error_code"]) == (409, 409)
    added["fields"][-1]["default"] = ""
    assert rest.post(f"/compatibility/subjects/{subj}/versions/latest", {"schema": json.dumps(added)})[1] == {"is_compatible": True}
    st, v2, _ = rest.register(subj, json.dumps(added))
    assert st == 200 and v2["id"] > sid
    assert rest.delete(f"/config/{subj}")[1] == {"compatibilityLevel": "FULL"}
    assert rest.get(f"/config/{subj}")[0] == 404

    # Modes.
    assert rest.get("/mode")[1] == {"mode": "READWRITE"}
    assert rest.put(f"/mode/{subj}", {"mode": "READONLY"})[1] == {"mode": "READONLY"}
    st, e, _ = rest.register(subj, avro_record([{"name": "y", "type": "int"}]))
    assert (st, e["error_code"]) == (422, 42205)
    assert rest.get(f"/mode/{subj}")[1] == {"mode": "READONLY"}
    rest.delete(f"/mode/{subj}")
    st, e, _ = rest.get(f"/mode/{subj}")
    assert (st, e["error_code"]) == (404, 40409)
    st, e, _ = rest.put("/mode", {"mode": "IMPORT"})
    assert (st, e["error_code"]) == (422, 42205)  # not empty
    st, e, _ = rest.put("/mode", {"mode": "WRITEONLY"})
    assert (st, e["error_code"]) == (422, 42204)


def test_soft_and_hard_delete(rest):
    subj = uniq("del")
    rest.put(f"/config/{subj}", {"compatibility": "NONE"})
    ids = [rest.register(subj, avro_record([{"name": f"f{i}", "type": "int"}]))[1]["id"] for i in range(3)]
    assert rest.get(f"/subjects/{subj}/versions")[1] == [1, 2, 3]

    # Hard delete before soft delete is refused.
    st, e, _ = rest.delete(f"/subjects/{subj}/versions/2", permanent="true")
    assert (st, e["error_code"]) == (404, 40407)
    assert rest.delete(f"/subjects/{subj}/versions/2")[1] == 2
    st, e, _ = rest.delete(f"/subjects/{subj}/versions/2")
    assert (st, e["error_code"]) == (404, 40406)
    assert rest.get(f"/subjects/{subj}/versions")[1] == [1, 3]
    assert rest.get(f"/subjects/{subj}/versions", deleted="true")[1] == [1, 2, 3]
    assert rest.get(f"/subjects/{subj}/versions/2")[0] == 404
    assert rest.get(f"/subjects/{subj}/versions/2", deleted="true")[1]["id"] == ids[1]
    # A soft-deleted version's id still resolves (old records stay readable).
    assert rest.get(f"/schemas/ids/{ids[1]}")[0] == 200
    assert rest.delete(f"/subjects/{subj}/versions/2", permanent="true")[1] == 2
    assert rest.get(f"/subjects/{subj}/versions", deleted="true")[1] == [1, 3]
    assert rest.get(f"/schemas/ids/{ids[1]}")[1]["error_code"] == 40403

    st, e, _ = rest.delete(f"/subjects/{subj}", permanent="true")
    assert (st, e["error_code"]) == (404, 40405)
    assert rest.delete(f"/subjects/{subj}")[1] == [1, 3]
    assert subj not in rest.get("/subjects")[1]
    assert subj in rest.get("/subjects", deleted="true")[1]
    st, e, _ = rest.delete(f"/subjects/{subj}")
    assert (st, e["error_code"]) == (404, 40404)
    assert rest.delete(f"/subjects/{subj}", permanent="true")[1] == [1, 3]
    assert subj not in rest.get("/subjects", deleted="true")[1]
    # Ids are never reused: a new schema gets a fresh one.
    new = rest.register(subj, avro_record([{"name": "z", "type": "long"}]))[1]["id"]
    assert new > max(ids)
    assert rest.get(f"/subjects/{subj}/versions")[1] == [1]


def test_same_schema_two_subjects_gets_one_id(rest):
    a, b = uniq("a"), uniq("b")
    ida = rest.register(a, ORDER_AVRO)[1]["id"]
    idb = rest.register(b, ORDER_AVRO)[1]["id"]
    assert ida == idb
    assert sorted(rest.get(f"/schemas/ids/{ida}/subjects")[1]) == sorted([a, b])
    # Different types with the same text are different schemas.
    idj = rest.register(uniq("j"), ORDER_JSON, "JSON")[1]["id"]
    assert idj != ida


def test_references_and_referencedby(rest):
    money = uniq("money")
    mid = rest.register(money, json.dumps({"type": "record", "name": "Money", "namespace": "fjord.ref",
                                           "fields": [{"name": "units", "type": "long"}]}))[1]["id"]
    order = uniq("order")
    refs = [{"name": "fjord.ref.Money", "subject": money, "version": 1}]
    schema = json.dumps({"type": "record", "name": "Order", "namespace": "fjord.ref",
                         "fields": [{"name": "total", "type": "fjord.ref.Money"}]})
    st, body, _ = rest.register(order, schema, references=refs)
    assert st == 200, body
    v = rest.get(f"/subjects/{order}/versions/1")[1]
    assert v["references"] == refs
    assert rest.get(f"/subjects/{money}/versions/1/referencedby")[1] == [body["id"]]
    assert rest.get(f"/schemas/ids/{body['id']}")[1]["references"] == refs
    # A referenced version cannot be deleted.
    st, e, _ = rest.delete(f"/subjects/{money}/versions/1")
    assert (st, e["error_code"]) == (422, 42206)
    assert mid != body["id"]

    # JSON Schema and Protobuf references.
    addr = uniq("addr")
    rest.register(addr, json.dumps({"type": "object", "properties": {"city": {"type": "string"}}}), "JSON")
    st, body, _ = rest.register(uniq("person"), json.dumps({"type": "object", "properties": {"home": {"$ref": "address.json"}}}),
                                "JSON", [{"name": "address.json", "subject": addr, "version": 1}])
    assert st == 200, body
    common = uniq("common")
    rest.register(common, 'syntax = "proto3";\npackage fjord.common;\nmessage Money { int64 units = 1; }\n', "PROTOBUF")
    st, body, _ = rest.register(uniq("pay"), 'syntax = "proto3";\npackage fjord.pay;\nimport "common.proto";\n'
                                'message Payment { fjord.common.Money amount = 1; string id = 2; }\n', "PROTOBUF",
                                [{"name": "common.proto", "subject": common, "version": 1}])
    assert st == 200, body


# ------------------------------------------------------------------ bad input


def test_bad_input_gets_confluent_codes_and_stores_nothing(rest):
    subj = uniq("bad")
    before = rest.get("/subjects", deleted="true")[1]

    st, e, r = rest.call("POST", f"/subjects/{subj}/versions", raw="{not json")
    assert st == 400 and e["error_code"] == 400 and r.headers["Content-Type"] == CT
    st, e, _ = rest.register(subj, '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nosuchtype"}]}')
    assert (st, e["error_code"]) == (422, 42201)
    st, e, _ = rest.register(subj, "this is not a schema")
    assert (st, e["error_code"]) == (422, 42201)
    st, e, _ = rest.register(subj, ORDER_AVRO, "XML")
    assert (st, e["error_code"]) == (422, 42201) and "XML" in e["message"]
    st, e, _ = rest.register(subj, ORDER_JSON, "JSON", [{"name": "x.json", "subject": uniq("missing"), "version": 1}])
    assert (st, e["error_code"]) == (422, 42201) and "does not exist" in e["message"]
    # A schema referencing itself: its own subject has no such version yet.
    st, e, _ = rest.register(subj, json.dumps({"type": "record", "name": "Self", "fields": [{"name": "me", "type": "Self2"}]}),
                             references=[{"name": "Self2", "subject": subj, "version": 1}])
    assert (st, e["error_code"]) == (422, 42201)
    st, e, _ = rest.register(subj, '{"type": "object", "properties": {"a": {"type": "strung"}}}', "JSON")
    assert (st, e["error_code"]) == (422, 42201)
    st, e, _ = rest.register(subj, 'syntax = "proto3"; message M { Missing m = 1; }', "PROTOBUF")
    assert (st, e["error_code"]) == (422, 42201)
    # Nesting deep enough to exhaust a recursive parser: refused, broker alive.
    st, e, _ = rest.register(subj, "message A {" * 100000, "PROTOBUF")
    assert (st, e["error_code"]) == (422, 42201)
    st, e, _ = rest.register(subj, "[" * 100000)
    assert (st, e["error_code"]) == (422, 42201)
    # 10 MB schema: refused before being read whole.
    big = json.dumps({"type": "record", "name": "Big", "doc": "x" * (10 * 1024 * 1024), "fields": []})
    st, e, _ = rest.register(subj, big)
    assert st == 413 and e["error_code"] == 413

    assert rest.get("/subjects", deleted="true")[1] == before
    assert rest.get(f"/subjects/{subj}/versions")[1]["error_code"] == 40401
    # Registry unharmed.
    assert rest.register(subj, ORDER_AVRO)[0] == 200


# ------------------------------------------------------------------ serializers


def _produce_consume(broker, topic, serializer, deserializer, values):
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.serialization import MessageField, SerializationContext

    p = Producer({"bootstrap.servers": broker.bootstrap})
    for v in values:
        p.produce(topic, value=serializer(v, SerializationContext(topic, MessageField.VALUE)))
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": uniq("g"), "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    out = []
    deadline = time.time() + 30
    while len(out) < len(values) and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        out.append(deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)))
    c.close()
    return out


def test_avro_serializer_roundtrip(broker):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

    client = SchemaRegistryClient({"url": broker.registry_url})
    topic = uniq("avro-orders")
    values = [{"order_id": i, "user_id": f"u{i}", "amount": i * 1.5, "currency": "EUR"} for i in range(5)]
    got = _produce_consume(broker, topic, AvroSerializer(client, ORDER_AVRO), AvroDeserializer(client), values)
    assert got == values
    latest = client.get_latest_version(f"{topic}-value")
    assert latest.version == 1 and latest.schema.schema_type == "AVRO"


def test_json_serializer_roundtrip(broker):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer

    client = SchemaRegistryClient({"url": broker.registry_url})
    topic = uniq("json-orders")
    values = [{"order_id": i, "user_id": f"u{i}", "amount": i * 2.5} for i in range(5)]
    ser = JSONSerializer(ORDER_JSON, client)
    de = JSONDeserializer(None, schema_registry_client=client)
    assert _produce_consume(broker, topic, ser, de, values) == values
    assert client.get_latest_version(f"{topic}-value").schema.schema_type == "JSON"


def _order_message_class():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    f = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name=f"order_{uuid.uuid4().hex[:6]}.proto", package="fjordtest", syntax="proto3")
    m = fdp.message_type.add(name="Order")
    m.field.add(name="order_id", number=1, type=f.TYPE_INT32, label=f.LABEL_OPTIONAL)
    m.field.add(name="user_id", number=2, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
    m.field.add(name="amount", number=3, type=f.TYPE_DOUBLE, label=f.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("fjordtest.Order"))


def test_protobuf_serializer_roundtrip(broker):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer

    Order = _order_message_class()
    client = SchemaRegistryClient({"url": broker.registry_url})
    topic = uniq("proto-orders")
    values = [Order(order_id=i, user_id=f"u{i}", amount=i * 0.5) for i in range(5)]
    ser = ProtobufSerializer(Order, client, {"use.deprecated.format": False})
    de = ProtobufDeserializer(Order, {"use.deprecated.format": False}, schema_registry_client=client)
    got = _produce_consume(broker, topic, ser, de, values)
    assert [(g.order_id, g.user_id, g.amount) for g in got] == [(v.order_id, v.user_id, v.amount) for v in values]
    latest = client.get_latest_version(f"{topic}-value")
    assert latest.schema.schema_type == "PROTOBUF"
    # The text form a tool browsing schemas sees, and the serialized form clients ask for.
    rest = Rest(broker.registry_url)
    assert rest.get(f"/schemas/ids/{latest.schema_id}", format="serialized")[0] == 200


# ------------------------------------------------------------------ durability


def test_ids_and_configs_survive_restart_and_kill9(broker):
    rest = Rest(broker.registry_url)
    a, b = uniq("dur-a"), uniq("dur-b")
    ida = rest.register(a, ORDER_AVRO)[1]["id"]
    rest.put(f"/config/{a}", {"compatibility": "FORWARD_TRANSITIVE"})
    rest.put("/config", {"compatibility": "FULL"})
    rest.put(f"/mode/{b}", {"mode": "READONLY"})
    gone = uniq("dur-gone")
    id_gone = rest.register(gone, avro_record([{"name": "g", "type": "int"}], "Gone"))[1]["id"]
    rest.delete(f"/subjects/{gone}")
    rest.delete(f"/subjects/{gone}", permanent="true")

    def check():
        r = Rest(broker.registry_url)
        assert r.get(f"/subjects/{a}/versions/1")[1]["id"] == ida
        assert json.loads(r.get(f"/schemas/ids/{ida}")[1]["schema"]) == json.loads(ORDER_AVRO)
        assert r.get(f"/config/{a}")[1] == {"compatibilityLevel": "FORWARD_TRANSITIVE"}
        assert r.get("/config")[1] == {"compatibilityLevel": "FULL"}
        assert r.get(f"/mode/{b}")[1] == {"mode": "READONLY"}
        assert gone not in r.get("/subjects", deleted="true")[1]
        return r

    broker.restart()
    check()
    broker.crash_restart()
    r = check()
    # The hard-deleted highest id is not handed out again.
    new = r.register(uniq("dur-new"), avro_record([{"name": "n", "type": "string"}], "New"))[1]["id"]
    assert new > id_gone > ida
    broker.crash_restart()
    r = Rest(broker.registry_url)
    assert r.get(f"/schemas/ids/{new}")[0] == 200
    # Same schema under a new subject after restarts: still the same id.
    assert r.register(uniq("dur-c"), ORDER_AVRO)[1]["id"] == ida


# ------------------------------------------------------------------ listener flag, metrics, CLI


def test_registry_off_and_explicit_address_taken(broker_factory):
    b = broker_factory(schema_registry="off")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{b.registry_port}/subjects", timeout=2)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        b2 = broker_factory(schema_registry=f"127.0.0.1:{port}", start=False)
        with pytest.raises(Exception):
            b2.start()
        assert b2.proc.poll() not in (None, 0)
        assert f"127.0.0.1:{port}" in b2.log_text()
    finally:
        holder.close()


def test_default_port_taken_runs_without_registry(broker_factory):
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8081))
        holder.listen(1)
    except OSError:
        holder.close()
        holder = None  # someone else holds 8081: the broker must still start
    try:
        b = broker_factory(schema_registry="default")
        b.assert_alive()
        assert "running without a schema registry" in b.log_text()
    finally:
        if holder:
            holder.close()


def test_metrics(broker):
    rest = Rest(broker.registry_url)
    rest.register(uniq("m"), ORDER_AVRO)
    rest.get("/schemas/ids/424242")
    text = requests.get(f"{broker.http_url}/metrics", timeout=10).text
    assert "fjord_schema_registry_schemas 1" in text
    assert "fjord_schema_registry_subjects 1" in text
    assert 'endpoint="/subjects/{subject}/versions",method="POST",status="200"' in text
    assert 'endpoint="/schemas/ids/{id}",method="GET",status="404"' in text


def fjord(*args, input=None, check=True):
    cp = subprocess.run([str(fjord_bin()), *args], capture_output=True, text=True, input=input, timeout=60)
    if check:
        assert cp.returncode == 0, f"fjord {' '.join(args)} failed: {cp.stderr}"
    return cp


def test_cli_schema_verbs_and_consume_decoding(broker, tmp_path):
    url = broker.registry_url
    subj = uniq("cli")
    path = tmp_path / "order.avsc"
    path.write_text(ORDER_AVRO)
    out = fjord("schema", "register", "--registry", url, subj, "--file", str(path))
    sid = int(out.stdout.split()[-1])
    assert subj in fjord("schema", "list", "--registry", url).stdout
    got = json.loads(fjord("schema", "get", "--registry", url, subj, "--format", "json").stdout)
    assert got["id"] == sid
    bad = tmp_path / "bad.avsc"
    added = json.loads(ORDER_AVRO)
    added["fields"].append({"name": "note", "type": "string"})
    bad.write_text(json.dumps(added))
    cp = fjord("schema", "check", "--registry", url, subj, "--file", str(bad), check=False)
    assert cp.returncode == 1 and "incompatible" in cp.stdout
    assert "FULL" in fjord("schema", "config", "--registry", url, subj, "--set", "FULL").stdout
    assert "FULL" in fjord("schema", "config", "--registry", url, subj).stdout
    cp = fjord("schema", "register", "--registry", url, subj, "--file", str(bad), check=False)
    assert cp.returncode != 0 and "409" in cp.stderr

    # consume --value-format avro/json/protobuf decodes through the registry.
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    client = SchemaRegistryClient({"url": url})
    Order = _order_message_class()
    cases = [
        ("avro", AvroSerializer(client, ORDER_AVRO), {"order_id": 7, "user_id": "u7", "amount": 1.5, "currency": "EUR"},
         {"order_id": 7, "user_id": "u7", "amount": 1.5, "currency": "EUR"}),
        ("json", JSONSerializer(ORDER_JSON, client), {"order_id": 8, "user_id": "u8", "amount": 2.0},
         {"order_id": 8, "user_id": "u8", "amount": 2.0}),
        ("protobuf", ProtobufSerializer(Order, client, {"use.deprecated.format": False}),
         Order(order_id=9, user_id="u9", amount=3.0), {"orderId": 9, "userId": "u9", "amount": 3.0}),
    ]
    from confluent_kafka import Producer
    from confluent_kafka.serialization import MessageField, SerializationContext
    for fmt, ser, value, expect in cases:
        topic = uniq(f"cli-{fmt}")
        p = Producer({"bootstrap.servers": broker.bootstrap})
        p.produce(topic, value=ser(value, SerializationContext(topic, MessageField.VALUE)))
        assert p.flush(30) == 0
        cp = fjord("consume", "-b", broker.bootstrap, topic, "-e", "-n", "1",
                   "--value-format", fmt, "--schema-registry", url)
        assert json.loads(cp.stdout.strip().splitlines()[-1]) == expect, cp.stdout

    assert fjord("schema", "delete", "--registry", url, subj).stdout.strip()
    assert subj not in fjord("schema", "list", "--registry", url).stdout
