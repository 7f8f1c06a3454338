"""`make bench`: where the time of a charger message goes, against baselines measured in
the same run on the same machine (ratios, not absolute numbers, are what carry over).

1. $default handler, warm, per message, with real Redis and MongoDB on loopback, beside
   the raw Redis/MongoDB round trips those messages need (the storage floor).
2. The protocol core (parse, validate, route, respond; no storage) beside the `ocpp`
   package's ChargePoint routing of the same frames.
3. Cold start of the $default function (import plus init) beside a plain import of the
   libraries a straightforward handler would load.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT / "local")]

from csms_local import services  # noqa: E402

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

    def start(i: int) -> None:
        moment = iso(base + timedelta(seconds=i))
        send([2, f"s{i}-{uuid.uuid4().hex[:6]}", "StartTransaction",
              {"connectorId": 1 + i % 8, "idTag": f"T{i % 10}", "meterStart": i,
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
    r = bootstrap._redis()
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
            before = db["transactions"].count_documents({})
            for k in range(5 * n + 1):
                start(10_000_000 + k)
            stop_ids[:] = [t["_id"] for t in db["transactions"].find(
                {"status": "Active"}, {"_id": 1}).sort("_id", 1).skip(before)][: 5 * n + 1]
        handler = per_op_us(fn, n)
        floor = per_op_us(floors[action], n)
        results.append((action, handler, floor))
    return results


def core_section() -> list[tuple[str, float, float, float]]:
    """Protocol core vs the ocpp package's ChargePoint.route_message, no storage."""
    from datetime import UTC as utc

    import ocpp.messages
    from csms.protocol import v16
    from csms.protocol.framing import Call, parse_frame, serialize
    from csms.protocol.router import CallContext, Router
    from csms.protocol.schemas import SchemaSet, ocpp_schema_dir
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
    env = dict(os.environ, MONGODB_URI="mongodb://127.0.0.1:1", REDIS_URL="redis://127.0.0.1:1",
               POWERTOOLS_TRACE_DISABLED="true", AWS_REGION="us-east-1")
    samples = []
    for _ in range(COLD_RUNS):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]) * 1000)
    return statistics.median(samples)


def main() -> None:
    print(f"# csms bench ({ITERATIONS} messages x 5 rounds per row, medians)\n")
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

    print("\n## 2. Protocol core vs ocpp package ChargePoint.route_message (no storage)")
    print(f"{'frame':<20}{'core us':>10}{'ocpp us':>10}{'speed-up':>10}"
          f"{'ocpp sync us':>14}{'speed-up':>10}")
    for action, ours, theirs, theirs_sync in core_section():
        print(f"{action:<20}{ours:>10.1f}{theirs:>10.1f}{theirs / ours:>9.1f}x"
              f"{theirs_sync:>14.1f}{theirs_sync / ours:>9.1f}x")

    print(f"\n## 3. Cold start, median of {COLD_RUNS} fresh interpreters")
    handler = cold(COLD_HANDLER)
    plain = cold(COLD_PLAIN)
    same = cold(COLD_SAME_LIBS)
    print(f"{'ws_message import + init':<48}{handler:>8.0f} ms")
    print(f"{'plain import boto3+pymongo+redis+ocpp+powertools':<48}{plain:>8.0f} ms"
          f"   ratio {handler / plain:.2f}x")
    print(f"{'plain import of the libraries it does load':<48}{same:>8.0f} ms"
          f"   ratio {handler / same:.2f}x")


if __name__ == "__main__":
    main()
