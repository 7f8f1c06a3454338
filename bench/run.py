"""`make bench`: where the time of a charger message goes, against baselines measured in
the same run on the same machine (ratios, not absolute numbers, are what carry over).

1. $default handler, warm, per message, with real Redis and MongoDB on loopback, beside
   the raw Redis/MongoDB round trips those messages need (the storage floor). No events
   queue is configured here, so the runtime records are stored inline (the fallback
   wiring); section 4 compares that with the queue.
2. The protocol core (parse, validate, route, respond; no storage) beside the `ocpp`
   package's ChargePoint routing of the same frames.
3. Cold start of the $default function (import plus init) beside a plain import of the
   libraries a straightforward handler would load.
4. Queue-driven persistence: the $default handler's time per hot message with its
   runtime records stored in MongoDB inline (before) and sent to SQS (after) on
   LocalStack (make run's local AWS) and on moto's server (its fallback) in the same run,
   plus the MongoDB round trips each costs; the event worker's throughput into MongoDB
   through each beside one insert per record; and each emulator's own SQS FIFO rates.
5. A command's round trip through the local stack (tenant API POST with ?wait, the
   @connections hop, a real ocpp 1.6 client answering, the answer through $default)
   beside the same charger's own Heartbeat round trip through the same gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")  # before the Logger is made
sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT / "local")]

from csms_local import services  # noqa: E402
from pymongo import monitoring  # noqa: E402

ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "300"))
CORE_ITERATIONS = int(os.environ.get("BENCH_CORE_ITERATIONS", "3000"))
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "7"))


def per_op_us(fn: Callable[[int], object], n: int) -> float:
    """Median of five rounds of n calls, in microseconds per call."""
    fn(0)  # warm-up: compile schemas, open pools
    rounds = []
    for r in range(5):
        start = time.perf_counter()
        for i in range(n):
            fn(r * n + i + 1)
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(rounds)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


METER_VALUE = [{"timestamp": "2026-11-22T10:00:00Z", "sampledValue": [
    {"value": str(1000 + i), "measurand": m, "unit": u, "context": "Sample.Periodic"}
    for i, (m, u) in enumerate([
        ("Energy.Active.Import.Register", "Wh"), ("Power.Active.Import", "W"),
        ("Current.Import", "A"), ("Voltage", "V"), ("SoC", "Percent"),
        ("Temperature", "Celsius")])]}]


def handler_section(redis_url: str, mongodb_uri: str) -> list[tuple[str, float, float]]:
    os.environ.update(MONGODB_URI=mongodb_uri, REDIS_URL=redis_url,
                      REDIS_KEY_PREFIX=f"bench-{uuid.uuid4().hex[:6]}", LOG_LEVEL="ERROR",
                      POWERTOOLS_LOG_LEVEL="ERROR")
    from csms import bootstrap
    from csms.adapters.mongo import MongoTenantStore, connect
    from csms.domain.model import ConnectionInfo
    from csms.entrypoints.websocket import on_message
    from csms_local.admin import Admin

    tenant, cp, connection_id = "bench", "BENCH-CP", "bench-connection="
    admin = Admin(mongodb_uri)
    admin.create_tenant(tenant, "Bench")
    admin.add_id_tag(tenant, "TAG", "Accepted", None, None)
    bootstrap.connection_registry().register(
        ConnectionInfo(connection_id, cp, tenant, "ocpp1.6", datetime.now(UTC)))
    base = datetime(2026, 1, 1, tzinfo=UTC)

    def event(frame: list[object]) -> dict[str, object]:
        return {"requestContext": {"connectionId": connection_id, "routeKey": "$default"},
                "body": json.dumps(frame)}

    def send(frame: list[object]) -> None:
        reply = on_message(event(frame))["body"]
        assert reply.startswith("[3,"), reply

    # Transactions for StopTransaction to stop: one per measured call.
    stop_ids: list[int] = []

    def start(i: int, connector: int | None = None) -> None:
        moment = iso(base + timedelta(seconds=i))
        send([2, f"s{i}-{uuid.uuid4().hex[:6]}", "StartTransaction",
              {"connectorId": connector or 1 + i % 8, "idTag": f"T{i % 10}", "meterStart": i,
               "timestamp": moment}])

    frames: dict[str, Callable[[int], None]] = {
        "Heartbeat": lambda i: send([2, f"h{i}", "Heartbeat", {}]),
        "StatusNotification": lambda i: send([2, f"n{i}", "StatusNotification", {
            "connectorId": 1, "errorCode": "NoError", "status": "Charging",
            "timestamp": iso(base + timedelta(seconds=i))}]),
        "MeterValues": lambda i: send([2, f"m{i}", "MeterValues", {
            "connectorId": 1, "transactionId": 1,
            "meterValue": [dict(METER_VALUE[0], timestamp=iso(base + timedelta(seconds=i)))]}]),
        "StartTransaction": start,
        "StopTransaction": lambda i: send([2, f"x{i}", "StopTransaction", {
            "transactionId": stop_ids[i], "meterStop": 5000, "idTag": "TAG",
            "timestamp": iso(base + timedelta(days=1))}]),
    }

    # The raw round trips each message costs, issued directly with redis-py and pymongo.
    r = bootstrap.current().redis
    db = MongoTenantStore(connect(mongodb_uri)).for_tenant(tenant).db
    prefix = os.environ["REDIS_KEY_PREFIX"]

    def common(i: int) -> None:
        r.hgetall(f"{prefix}:conn:{connection_id}")
        r.get(f"{prefix}:replay:{cp}:f{i}")
        db["ocpp_messages"].insert_many([{"m": i, "d": "in"}, {"m": i, "d": "out"}])
        r.set(f"{prefix}:replay:{cp}:f{i}", "[3]", ex=600)

    def floor_start(i: int) -> None:
        common(i)
        db["id_tags"].find_one({"_id": "TAG"})
        db["transactions"].find_one({"id_tag": "TAG", "status": "Active"})
        db["transactions"].find_one({"dedup_key": f"floor{i}"})
        seq = db["counters"].find_one_and_update({"_id": "floor"}, {"$inc": {"seq": 1}},
                                                 upsert=True)
        db["floor_tx"].insert_one({"_id": f"{i}-{uuid.uuid4().hex}", "seq": seq})
        db["charge_points"].update_one({"_id": "floor"}, {"$set": {"c.1.t": i}}, upsert=True)

    def floor_stop(i: int) -> None:
        common(i)
        tx = db["transactions"].find_one({"_id": stop_ids[i]})
        assert tx is not None
        # The same indexed document rewritten with its stop fields, as the handler does
        # (the handler ran first, so these are already Completed).
        stop_fields = {k: tx[k] for k in ("meter_stop", "stop_timestamp", "stop_reason",
                                           "stop_id_tag", "energy_wh", "status")}
        db["transactions"].update_one({"_id": stop_ids[i], "status": "Completed"},
                                      {"$set": stop_fields})
        db["charge_points"].update_one({"_id": "floor"}, {"$set": {"c.1.t": None}}, upsert=True)
        db["id_tags"].find_one({"_id": "TAG"})

    def floor_heartbeat(i: int) -> None:
        common(i)
        db["charge_points"].update_one({"_id": "floor"}, {"$set": {"h": i}}, upsert=True)

    def floor_status(i: int) -> None:
        common(i)
        db["charge_points"].update_one(
            {"_id": "floor", "$or": [{"c.1.ts": {"$exists": False}}, {"c.1.ts": {"$lte": i}}]},
            {"$set": {"c.1.ts": i}}, upsert=True)

    def floor_meter(i: int) -> None:
        common(i)
        db["floor_mv"].insert_many([{"_id": f"{i}-{uuid.uuid4().hex}", "v": METER_VALUE}])

    floors: dict[str, Callable[[int], None]] = {
        "Heartbeat": floor_heartbeat,
        "StatusNotification": floor_status,
        "MeterValues": floor_meter,
        "StartTransaction": floor_start,
        "StopTransaction": floor_stop,
    }

    n = ITERATIONS
    results = []
    for action, fn in frames.items():
        if action == "StopTransaction":
            # Starts for the stops, with ids in call order (index 0 is the warm-up).
            newest = db["transactions"].find_one({}, {"_id": 1}, sort=[("_id", -1)])
            before = newest["_id"] if newest else 0
            # Each on a connector of its own: a start on a busy connector supersedes
            # (closes) the transaction there.
            for k in range(5 * n + 1):
                start(10_000_000 + k, connector=100 + k)
            stop_ids[:] = [t["_id"] for t in db["transactions"].find(
                {"status": "Active", "_id": {"$gt": before}}, {"_id": 1}).sort("_id", 1)]
        handler = per_op_us(fn, n)
        floor = per_op_us(floors[action], n)
        results.append((action, handler, floor))
    return results


def core_section() -> list[tuple[str, float, float, float]]:
    """Protocol core vs the ocpp package's ChargePoint.route_message, no storage."""
    from datetime import UTC as utc

    import ocpp.messages
    from csms.protocol.framing import Call, parse_frame, serialize
    from csms.protocol.router import CallContext, Router
    from csms.protocol.schemas import SchemaSet, ocpp_schema_dir
    from csms.versions import v16
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result

    now = "2026-11-22T10:00:00.000Z"
    responses: dict[str, dict[str, object]] = {"Heartbeat": {"currentTime": now}, "MeterValues": {},
                 "BootNotification": {"status": "Accepted", "currentTime": now, "interval": 300}}
    def constant(response: dict[str, object]) -> Callable[..., dict[str, object]]:
        return lambda ctx, payload: response

    router = Router(v16.VERSION, SchemaSet(ocpp_schema_dir("v16")),
                    {a: constant(r) for a, r in responses.items()})
    ctx = CallContext("CP", "t", "c", "1", datetime.now(utc))
    frames = {
        "Heartbeat": json.dumps([2, "1", "Heartbeat", {}]),
        "BootNotification": json.dumps([2, "1", "BootNotification", {
            "chargePointVendor": "Acme", "chargePointModel": "W1", "firmwareVersion": "1.0"}]),
        "MeterValues": json.dumps([2, "1", "MeterValues", {
            "connectorId": 1, "transactionId": 7, "meterValue": METER_VALUE}]),
    }

    class Sink:
        async def send(self, message: str) -> None:
            pass

        async def recv(self) -> str:
            raise RuntimeError

    class Central(ChargePoint):
        @on("Heartbeat")
        def heartbeat(self):
            return call_result.Heartbeat(current_time=now)

        @on("BootNotification")
        def boot(self, **kw):
            return call_result.BootNotification(current_time=now, interval=300,
                                                status="Accepted")

        @on("MeterValues")
        def meter(self, **kw):
            return call_result.MeterValues()

    central = Central("CP", Sink())
    loop = asyncio.new_event_loop()
    results = []
    for action, raw in frames.items():
        def core(i: int, raw: str = raw) -> None:
            frame = parse_frame(raw)
            assert isinstance(frame, Call)
            serialize(router.dispatch(ctx, frame))

        def library(i: int, raw: str = raw) -> None:
            loop.run_until_complete(central.route_message(raw))

        ours = per_op_us(core, CORE_ITERATIONS)
        ocpp.messages.ASYNC_VALIDATION = True   # the library's default
        theirs = per_op_us(library, max(CORE_ITERATIONS // 5, 200))
        ocpp.messages.ASYNC_VALIDATION = False  # its fastest setting
        theirs_sync = per_op_us(library, max(CORE_ITERATIONS // 5, 200))
        ocpp.messages.ASYNC_VALIDATION = True
        results.append((action, ours, theirs, theirs_sync))
    loop.close()
    return results


HOT = ("Heartbeat", "StatusNotification", "MeterValues")
RECORD_ITERATIONS = int(os.environ.get("BENCH_RECORD_ITERATIONS", "60"))
WORKER_ENVELOPES = int(os.environ.get("BENCH_WORKER_ENVELOPES", "300"))


class MongoCommands(monitoring.CommandListener):
    """Counts the commands pymongo sends from the measuring thread (clients created
    after registration); the event worker's own, on its poller thread, are not counted."""

    def __init__(self) -> None:
        self.count = 0
        self.thread = threading.get_ident()

    def started(self, event: object) -> None:
        if threading.get_ident() == self.thread:
            self.count += 1

    def succeeded(self, event: object) -> None:
        pass

    def failed(self, event: object) -> None:
        pass


def records_section(
    redis_url: str, mongodb_uri: str, emulators: dict[str, str], mqtt_url: str
) -> tuple[list[tuple[str, str, float, float]], dict[str, float]]:
    """$default per hot message with records inline, through SQS on each AWS emulator
    (`emulators`: name -> URL) and dropped; then the worker's throughput per emulator."""
    counter = MongoCommands()
    monitoring.register(counter)
    from csms import bootstrap
    from csms.config import Settings
    from csms.domain.model import ConnectionInfo
    from csms.entrypoints.websocket import on_message
    from csms_local.admin import Admin
    from csms_local.lambdas import load_handler
    from csms_local.sqs_poller import SqsPoller, create_queues

    os.environ.update(MONGODB_URI=mongodb_uri, REDIS_URL=redis_url, MQTT_URL=mqtt_url,
                      REDIS_KEY_PREFIX=f"bench4-{uuid.uuid4().hex[:6]}",
                      AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
                      AWS_REGION="us-east-1", POWERTOOLS_LOG_LEVEL="ERROR")
    queues = {name: create_queues(url, name=f"bench-{uuid.uuid4().hex[:6]}", visibility=30)
              for name, url in emulators.items()}
    tenant, cp, connection_id = "bench4", "BENCH4-CP", "bench4-connection="
    Admin(mongodb_uri).create_tenant(tenant, "Bench 4")
    base = datetime(2026, 1, 1, tzinfo=UTC)

    def frame(action: str, i: int) -> list[object]:
        at = iso(base + timedelta(seconds=i))
        payloads: dict[str, dict[str, object]] = {
            "Heartbeat": {},
            "StatusNotification": {"connectorId": 1, "errorCode": "NoError",
                                   "status": "Charging", "timestamp": at},
            "MeterValues": {"connectorId": 1, "transactionId": 1,
                            "meterValue": [dict(METER_VALUE[0], timestamp=at)]},
        }
        return [2, f"{action[:2]}{i}-{uuid.uuid4().hex[:6]}", action, payloads[action]]

    class NullQueue:
        def send(self, envelopes: object) -> None:
            pass

    def via(name: str) -> Callable[[], object]:
        return lambda: os.environ.update(AWS_ENDPOINT_URL=emulators[name], **queues[name])

    wirings: dict[str, Callable[[], object]] = {
        "MongoDB inline (before)": lambda: os.environ.pop("EVENTS_QUEUE_URL", None),
        **{f"SQS via {name} (after)": via(name) for name in emulators},
    }
    # As deployed, the worker drains the queue while chargers send (an emulator may slow
    # down as its queue grows, so an undrained queue would overstate the cost).
    rows = []
    for label, wire in [*wirings.items(), ("records dropped (handler only)", lambda: None)]:
        wire()
        bootstrap.reset()
        if label.startswith("records dropped"):
            # The same handler with a queue that drops what it gets: its own cost alone.
            bootstrap.use(bootstrap.Wiring(Settings.from_env(), record_queue=NullQueue()))
        bootstrap.connection_registry().register(
            ConnectionInfo(connection_id, cp, tenant, "ocpp1.6", datetime.now(UTC)))
        poller = None
        if label.startswith("SQS via "):
            name = label.removeprefix("SQS via ").removesuffix(" (after)")
            poller = SqsPoller(emulators[name], queues[name]["EVENTS_QUEUE_URL"],
                               load_handler("event_worker")).start()
        for action in HOT:
            def send(i: int, action: str = action) -> None:
                reply = on_message({"requestContext": {"connectionId": connection_id},
                                    "body": json.dumps(frame(action, i))})["body"]
                assert reply.startswith("[3,"), reply

            send(0)
            before = counter.count
            us = per_op_us(send, RECORD_ITERATIONS)
            ops = (counter.count - before) / (5 * RECORD_ITERATIONS + 1)
            rows.append((label, action, us, ops))
        if poller is not None:
            poller.stop()
    os.environ.pop("EVENTS_QUEUE_URL", None)
    os.environ.pop("EVENTS_DLQ_URL", None)
    bootstrap.reset()
    worker: dict[str, float] = {}
    for n, name in enumerate(emulators):
        worker[f"through SQS ({name})"] = worker_throughput(
            emulators[name], queues[name], tenant, load_handler, SqsPoller,
            # Recent: MongoDB's retention (TTL) would delete old records mid-count.
            datetime.now(UTC) - timedelta(hours=n + 1))
        worker.update(sqs_rates(emulators[name], name))
    worker.update(store_baselines(tenant))
    return rows, worker


SQS_MESSAGES = int(os.environ.get("BENCH_SQS_MESSAGES", "200"))


def sqs_rates(url: str, name: str) -> dict[str, float]:
    """The emulator alone: SQS_MESSAGES FIFO sends, then receive+delete, one at a time
    with boto3 (the local tools' client, from a localstack-client session)."""
    from csms_local import aws_local
    from csms_local.sqs_poller import create_queues

    queue = create_queues(url, name=f"rate-{uuid.uuid4().hex[:6]}")["EVENTS_QUEUE_URL"]
    sqs = aws_local.client("sqs", url)
    start = time.perf_counter()
    for i in range(SQS_MESSAGES):
        sqs.send_message(QueueUrl=queue, MessageBody=f"m{i}", MessageGroupId=f"g{i % 10}",
                         MessageDeduplicationId=f"d{i}")
    sends = SQS_MESSAGES / (time.perf_counter() - start)
    done = 0
    start = time.perf_counter()
    while done < SQS_MESSAGES:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1,
                                  WaitTimeSeconds=1).get("Messages", [])
        if not got:
            break
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=got[0]["ReceiptHandle"])
        done += 1
    receives = done / (time.perf_counter() - start)
    return {f"sends ({name})": sends, f"receive+delete ({name})": receives}


def worker_throughput(url: str, queues: dict[str, str], tenant: str, load_handler: Any,
                      poller_class: Any, base: datetime) -> float:
    """Records per second from SQS into MongoDB (and MQTT) through event_worker."""
    from csms import bootstrap
    from csms.adapters.mongo import MongoTenantStore, connect
    from csms.adapters.sqs import SqsRecordQueue
    from csms.domain.model import ConnectorStatus
    from csms.services.records import BufferedRecords
    from csms_local import aws_local

    os.environ.update(queues, AWS_ENDPOINT_URL=url)
    bootstrap.reset()
    sqs = aws_local.client("sqs", url)
    sqs.purge_queue(QueueUrl=queues["EVENTS_QUEUE_URL"])  # what section 4's handlers sent
    records = BufferedRecords(SqsRecordQueue(queues["EVENTS_QUEUE_URL"], "us-east-1"))
    for i in range(WORKER_ENVELOPES):
        at = base + timedelta(seconds=i)
        cp = f"W-{i % 20}"
        for direction in ("in", "out"):
            records.message(tenant, {"charge_point_id": cp, "timestamp": at, "direction": direction,
                                     "message_type": "Call", "payload": METER_VALUE[0]})
        records.connector_status(tenant, cp, ConnectorStatus(1, "Charging", "NoError", at))
        records.heartbeat(tenant, cp, at)
        records.flush()
    db = MongoTenantStore(connect(os.environ["MONGODB_URI"])).for_tenant(tenant).db
    stored_before = db["ocpp_messages"].count_documents({})
    poller = poller_class(url, queues["EVENTS_QUEUE_URL"], load_handler("event_worker"))
    start = time.perf_counter()
    while poller.poll_once(wait_seconds=0):
        pass
    elapsed = time.perf_counter() - start
    stored = db["ocpp_messages"].count_documents({}) - stored_before
    assert stored == 2 * WORKER_ENVELOPES, stored
    for name in ("EVENTS_QUEUE_URL", "EVENTS_DLQ_URL"):
        os.environ.pop(name, None)
    bootstrap.reset()
    return WORKER_ENVELOPES * RECORDS_PER_ENVELOPE / elapsed


RECORDS_PER_ENVELOPE = 4  # a Call, its reply, a state change and a meter value


def store_baselines(tenant: str) -> dict[str, float]:
    """The worker's own part, without any emulator's receive/delete (decode + bulk store),
    beside storing the same documents with one MongoDB write each."""
    from csms import bootstrap
    from csms.adapters.mongo import MongoTenantStore, connect
    from csms.domain.model import ConnectorStatus
    from csms.services.record_applier import decode
    from csms.services.records import BufferedRecords, encode

    class Keep:
        def __init__(self) -> None:
            self.envelopes: list[dict[str, Any]] = []

        def send(self, envelopes: Sequence[dict[str, Any]]) -> None:
            self.envelopes.extend(json.loads(encode(e)) for e in envelopes)

    bootstrap.reset()
    db = MongoTenantStore(connect(os.environ["MONGODB_URI"])).for_tenant(tenant).db
    base = datetime.now(UTC) - timedelta(hours=12)
    kept = Keep()
    local = BufferedRecords(kept)
    for i in range(WORKER_ENVELOPES):
        at = base + timedelta(seconds=i)
        for direction in ("in", "out"):
            local.message(tenant, {"charge_point_id": "X", "timestamp": at, "direction": direction,
                                   "message_type": "Call", "payload": METER_VALUE[0]})
        local.connector_status(tenant, "X", ConnectorStatus(1, "Charging", "NoError", at))
        local.heartbeat(tenant, "X", at)
        local.flush()
    applier = bootstrap.record_applier()
    tenant_config = applier.tenant(tenant)
    start = time.perf_counter()
    for chunk in range(0, len(kept.envelopes), 10):
        applier.store(tenant_config, [decode(e) for e in kept.envelopes[chunk:chunk + 10]])
    store_only = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(WORKER_ENVELOPES):
        at = base + timedelta(hours=1, seconds=i)
        for direction in ("in", "out"):
            db["baseline_messages"].insert_one({"charge_point_id": "X", "timestamp": at,
                                                "direction": direction})
        db["charge_points"].update_one({"_id": "X"}, {"$set": {"c.1.ts": at}}, upsert=True)
        db["charge_points"].update_one({"_id": "X"}, {"$max": {"hb": at}}, upsert=True)
    one_by_one = time.perf_counter() - start
    total = WORKER_ENVELOPES * RECORDS_PER_ENVELOPE
    return {"records": total, "store only": total / store_only,
            "one write per record": total / one_by_one}


COLD_HANDLER = f"""
import sys, time
t = time.perf_counter()
sys.path[:0] = [{str(ROOT / 'layers' / 'common')!r}]
import importlib.util
spec = importlib.util.spec_from_file_location('app', {str(ROOT / 'functions/ws_message/app.py')!r})
app = importlib.util.module_from_spec(spec); spec.loader.exec_module(app)
from csms import bootstrap
bootstrap.message_service()
print(time.perf_counter() - t)
"""

COLD_PLAIN = """
import time
t = time.perf_counter()
import boto3, pymongo, redis, ocpp.v16, jsonschema
from aws_lambda_powertools import Logger, Metrics, Tracer
Logger(); Metrics(namespace="x"); Tracer()
print(time.perf_counter() - t)
"""

COLD_SAME_LIBS = """
import time
t = time.perf_counter()
import pymongo, redis, fastjsonschema
from aws_lambda_powertools import Logger
print(time.perf_counter() - t)
"""


def cold(code: str) -> float:
    # As deployed: records go to SQS, so the handler's wiring creates an SQS client.
    env = dict(os.environ, MONGODB_URI="mongodb://127.0.0.1:1", REDIS_URL="redis://127.0.0.1:1",
               POWERTOOLS_TRACE_DISABLED="true", AWS_REGION="us-east-1",
               EVENTS_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/000000000000/e.fifo")
    samples = []
    for _ in range(COLD_RUNS):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]) * 1000)
    return statistics.median(samples)


SECTIONS = os.environ.get("BENCH_SECTIONS", "12345")
COMMAND_ROUND_TRIPS = int(os.environ.get("BENCH_COMMANDS", "40"))


def command_section(redis_url: str, mongodb_uri: str) -> tuple[float, float]:
    """Median milliseconds: (command via the tenant API, charger's own Heartbeat)."""
    import base64
    import secrets
    import urllib.request

    import websockets
    from csms import bootstrap
    from csms_local.admin import Admin, issue_token
    from csms_local.gateway import GatewayLimits, WebSocketGateway
    from csms_local.http_api import HandlerPool
    from csms_local.lambdas import load_handler
    from csms_local.management import ManagementServer
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call, call_result

    os.environ.update(MONGODB_URI=mongodb_uri, REDIS_URL=redis_url,
                      REDIS_KEY_PREFIX=f"bench5-{uuid.uuid4().hex[:6]}",
                      JWT_SECRET=secrets.token_urlsafe(32), AWS_ACCESS_KEY_ID="local",
                      AWS_SECRET_ACCESS_KEY="local", AWS_REGION="us-east-1")
    for name in ("EVENTS_QUEUE_URL", "EVENTS_DLQ_URL", "MQTT_URL", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    bootstrap.reset()
    tenant, cp_id, password = "bench5", "BENCH5-CP", "bench-password-0123456789"
    admin = Admin(mongodb_uri)
    admin.create_tenant(tenant, "Bench 5")
    admin.add_charge_point(tenant, cp_id, password)
    token = issue_token(tenant, "operator", 3600, None)

    class Charger(ChargePoint):
        @on("Reset")
        def reset(self, type: str) -> call_result.Reset:
            return call_result.Reset(status="Accepted")

    def post_reset(base: str) -> float:
        request = urllib.request.Request(
            f"{base}/v1/charge-points/{cp_id}/commands/Reset?wait=10",
            data=b'{"type": "Soft"}', method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["status"] == "completed"
        return (time.perf_counter() - start) * 1000

    async def measure() -> tuple[float, float]:
        gateway = WebSocketGateway(
            connect=load_handler("ws_connect"), default=load_handler("ws_message"),
            disconnect=load_handler("ws_disconnect"), port=0, limits=GatewayLimits())
        await gateway.start()
        management = ManagementServer(gateway, port=0, api=HandlerPool("tenant_api"))
        management.start()
        os.environ["WEBSOCKET_MANAGEMENT_ENDPOINT"] = f"http://127.0.0.1:{management.port}"
        bootstrap.reset()
        base = f"http://127.0.0.1:{management.port}"
        auth = base64.b64encode(f"{cp_id}:{password}".encode()).decode()
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{gateway.port}/ocpp/{cp_id}",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers={"Authorization": f"Basic {auth}"},
            ) as ws:
                charger = Charger(cp_id, ws)
                listener = asyncio.create_task(charger.start())
                await charger.call(call.BootNotification(charge_point_vendor="B",
                                                         charge_point_model="M"))
                commands, heartbeats = [], []
                await asyncio.to_thread(post_reset, base)  # warm-up: cold containers
                for _ in range(COMMAND_ROUND_TRIPS):
                    commands.append(await asyncio.to_thread(post_reset, base))
                    start = time.perf_counter()
                    await charger.call(call.Heartbeat())
                    heartbeats.append((time.perf_counter() - start) * 1000)
                listener.cancel()
        finally:
            management.stop()
            await gateway.stop()
        return statistics.median(commands), statistics.median(heartbeats)

    return asyncio.run(measure())


def main() -> None:
    print(f"# csms bench ({ITERATIONS} messages x 5 rounds per row, medians)\n")
    if "1" in SECTIONS:
        section_1()
    if "2" in SECTIONS:
        section_2()
    if "3" in SECTIONS:
        section_3()
    if "4" in SECTIONS:
        section_4()
    if "5" in SECTIONS:
        section_5()


def section_5() -> None:
    print(f"\n## 5. Command round trip through the local stack ({COMMAND_ROUND_TRIPS} each, "
          "medians)")
    redis_server = services.redis(services.free_port()).start()
    mongo_server = services.mongo(services.free_port()).start()
    try:
        command, heartbeat = command_section(f"redis://127.0.0.1:{redis_server.port}/0",
                                             f"mongodb://127.0.0.1:{mongo_server.port}")
    finally:
        mongo_server.stop()
        redis_server.stop()
    print(f"{'Reset via POST ...?wait=10, answered':<48}{command:>8.1f} ms")
    print(f"{'the same charger, its own Heartbeat round trip':<48}{heartbeat:>8.1f} ms"
          f"   command/heartbeat {command / heartbeat:.1f}x")


def section_1() -> None:
    redis_server = services.redis(services.free_port()).start()
    mongo_server = services.mongo(services.free_port()).start()
    try:
        rows = handler_section(f"redis://127.0.0.1:{redis_server.port}/0",
                               f"mongodb://127.0.0.1:{mongo_server.port}")
    finally:
        redis_server.stop()
        mongo_server.stop()
    print("## 1. $default handler (warm) vs its storage floor (same round trips, raw)")
    print(f"{'message':<20}{'handler us':>12}{'floor us':>12}{'ratio':>8}")
    for action, handler, floor in rows:
        print(f"{action:<20}{handler:>12.0f}{floor:>12.0f}{handler / floor:>8.2f}x")


def section_2() -> None:
    print("\n## 2. Protocol core vs ocpp package ChargePoint.route_message (no storage)")
    print(f"{'frame':<20}{'core us':>10}{'ocpp us':>10}{'speed-up':>10}"
          f"{'ocpp sync us':>14}{'speed-up':>10}")
    for action, ours, theirs, theirs_sync in core_section():
        print(f"{action:<20}{ours:>10.1f}{theirs:>10.1f}{theirs / ours:>9.1f}x"
              f"{theirs_sync:>14.1f}{theirs_sync / ours:>9.1f}x")


def section_3() -> None:
    print(f"\n## 3. Cold start, median of {COLD_RUNS} fresh interpreters")
    handler = cold(COLD_HANDLER)
    plain = cold(COLD_PLAIN)
    same = cold(COLD_SAME_LIBS)
    print(f"{'ws_message import + init':<48}{handler:>8.0f} ms")
    print(f"{'plain import boto3+pymongo+redis+ocpp+powertools':<48}{plain:>8.0f} ms"
          f"   ratio {handler / plain:.2f}x")
    print(f"{'plain import of the libraries it does load':<48}{same:>8.0f} ms"
          f"   ratio {handler / same:.2f}x")


def section_4() -> None:
    print(f"\n## 4. Queue-driven persistence ({RECORD_ITERATIONS} messages x 5 rounds per row)")
    redis_server = services.redis(services.free_port()).start()
    mongo_server = services.mongo(services.free_port()).start()
    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{uuid.uuid4().hex[:6]}"
    # LocalStack is make run's local AWS; moto's server, its fallback, is measured beside it.
    aws = {"moto": services.moto(services.free_port())}
    missing = services.localstack_missing()
    if missing:
        print(f"({missing}: LocalStack rows left out)")
    else:
        aws = {"LocalStack": services.localstack(services.free_port(), data, data / "ls.log"),
               **aws}
    mqtt_server = services.mqtt(services.free_port(), data / "mqtt")
    started = [redis_server, mongo_server]
    try:
        for server in [*aws.values(), mqtt_server]:
            started.append(server.start())
        rows4, worker = records_section(
            f"redis://127.0.0.1:{redis_server.port}/0",
            f"mongodb://127.0.0.1:{mongo_server.port}",
            {name: f"http://127.0.0.1:{server.port}" for name, server in aws.items()},
            f"mqtt://127.0.0.1:{mqtt_server.port}",
        )
    finally:
        for server in reversed(started):
            server.stop()
    print(f"{'wiring':<40}{'message':<20}{'us/message':>12}{'MongoDB ops':>13}")
    inline = {action: us for label, action, us, _ in rows4 if label.endswith("(before)")}
    for label, action, us, ops in rows4:
        print(f"{label:<40}{action:<20}{us:>12.0f}{ops:>13.1f}   {us / inline[action]:.2f}x")
    print(f"\nevent worker, {worker['records']:.0f} records "
          f"({WORKER_ENVELOPES} invocations' envelopes of 4):")
    for name in aws:
        label = f"through SQS ({name}) + MongoDB + MQTT"
        print(f"  {label:<44}{worker[f'through SQS ({name})']:>10.0f} records/s")
    print(f"  {'decode + bulk store only':<44}{worker['store only']:>10.0f} records/s")
    print(f"  {'baseline: one MongoDB write per record':<44}"
          f"{worker['one write per record']:>10.0f} records/s"
          f"   bulk/baseline {worker['store only'] / worker['one write per record']:.1f}x")
    print(f"\nthe emulator alone: {SQS_MESSAGES} FIFO messages, one boto3 call at a time")
    for name in aws:
        print(f"  {name:<12}{worker[f'sends ({name})']:>8.0f} sends/s"
              f"{worker[f'receive+delete ({name})']:>8.0f} receive+delete/s")
    if "LocalStack" in aws:
        ratio = worker["through SQS (LocalStack)"] / worker["through SQS (moto)"]
        print(f"  worker through LocalStack / through moto: {ratio:.1f}x")


if __name__ == "__main__":
    main()
