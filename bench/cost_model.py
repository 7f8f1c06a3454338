"""Paper cost model of the CSMS on AWS (docs/cost.md): the serverless stack as
template.yaml deploys it beside an always-on container gateway of the same capacity.

    .venv/bin/python bench/cost_model.py            # every table of docs/cost.md

Every input is a named constant below: prices (us-east-1 list prices as known to the
author on 2026-11-23, from memory, not fetched: check them against the AWS pricing
pages), the fleet profile, the handler times measured by `bench/run.py` on a 2-core
machine and how they are scaled to Lambda, and the per-message resource counts read
from the code. Change one and rerun; nothing here calls AWS.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

HOURS = 730.0  # per month
DAYS = HOURS / 24  # 30.42 days per month
GB = 1e9  # bytes, as AWS bills data

# ---------------------------------------------------------------- prices (USD)
# us-east-1 list prices as known on 2026-11-23 (no free tiers, no savings plans).
P_APIGW_WS_MSG = ((1e9, 1.00e-6), (math.inf, 0.80e-6))  # per message (32 KB unit), tiered
P_APIGW_WS_CONN_MIN = 0.25e-6  # per connection-minute
P_HTTP_API_REQ = 1.00e-6  # per request (512 KB unit), first 300 M
P_LAMBDA_REQ = 0.20e-6  # per invocation
P_LAMBDA_GBS = 0.0000166667  # per GB-second, x86_64 (template: Architectures x86_64)
P_SQS_FIFO_REQ = 0.50e-6  # per request (64 KB unit), FIFO incl. high throughput
P_IOT_MSG = ((1e9, 1.00e-6), (4e9, 0.80e-6), (math.inf, 0.70e-6))  # per message (5 KB unit)
P_CF_HTTPS_REQ = 0.01 / 10_000  # CloudFront HTTPS request, US/EU
P_CF_FUNCTION = 0.10e-6  # CloudFront Functions invocation
P_CF_OUT_GB = 0.085  # CloudFront to viewers, first 10 TB, US/EU
P_CF_ORIGIN_GB = 0.020  # CloudFront to origin, US/EU
P_EC2_OUT_GB = 0.09  # internet egress from a region (NLB), first 10 TB
P_CACHE_NODE_H = {"cache.t4g.small": 0.032, "cache.m7g.large": 0.158}
P_DOCDB_INSTANCE_H = {"db.t4g.medium": 0.073, "db.r6g.large": 0.26, "db.r6g.xlarge": 0.52}
P_DOCDB_STORAGE_GB_MONTH = 0.10
P_DOCDB_IO = 0.20e-6  # per I/O (standard storage configuration)
P_SECRET_MONTH = 0.40
P_SECRET_CALLS = 0.05 / 10_000
P_NAT_H = 0.045
P_NAT_GB = 0.045
P_PUBLIC_IPV4_H = 0.005
P_VPCE_H = 0.01  # interface endpoint, per AZ (the alternative to NAT, see the doc)
P_LOGS_INGEST_GB = 0.50
P_FARGATE_VCPU_H = 0.04048  # Linux x86
P_FARGATE_GB_H = 0.004445
P_NLB_H = 0.0225
P_NLCU_H = 0.006
P_ECR_GB_MONTH = 0.10

# ---------------------------------------------------------------- deployment (template.yaml)
LAMBDA_GB = 512 / 1024  # Globals.Function.MemorySize: 512 for every function
REDIS_NODES = 2  # RedisReplicationGroup.NumCacheClusters, node type RedisNodeType
DOCDB_INSTANCES = 1  # one DocDbInstance of DocDbInstanceClass
SECRETS = 2  # DocDbSecret and JwtSecret
AZS = 2  # PrivateSubnetIds: at least two; one NAT gateway per AZ
SWEEPS_PER_MONTH = 60 * HOURS  # CommandSweeperFunction: rate(1 minute)


def data_tier(chargers: int) -> tuple[str, str, int]:
    """Redis node type, DocumentDB instance class and count for a fleet (the same in
    both shapes). Up to 10k chargers the template's defaults; beyond, a step up."""
    if chargers <= 10_000:
        return "cache.t4g.small", "db.t4g.medium", DOCDB_INSTANCES
    if chargers <= 50_000:
        return "cache.m7g.large", "db.r6g.large", 2
    return "cache.m7g.large", "db.r6g.xlarge", 2


# ---------------------------------------------------------------- fleet profile
HEARTBEAT_S = 300  # HeartbeatIntervalSeconds, kept up during sessions too
SESSIONS_PER_DAY = 2
SESSION_HOURS = 2.0  # so 4 h of charging a day (17 % occupancy)
METER_INTERVAL_S = 60  # MeterValues while charging, one sampled set of 6 values
STATUS_PER_SESSION = 4  # Preparing, Charging, Finishing, Available
BOOTS_PER_MONTH = 4
OTHER_CALLS_PER_DAY = 1  # DataTransfer, firmware/diagnostics/security notifications
COMMANDS_PER_DAY = 1  # CSMS-initiated (tenant API), answered with a CallResult
RECONNECTS_PER_DAY_SERVERLESS = 24 / 2  # API Gateway ends a connection after 2 hours
RECONNECTS_PER_DAY_CONTAINER = 1.0  # nothing forces it; a network blip a day
PEAK_TO_MEAN = 3.0  # the evening peak over the monthly mean message rate

# ---------------------------------------------------------------- measured (bench/run.py)
# BENCH_SECTIONS=43 BENCH_RECORD_ITERATIONS=60 BENCH_WORKER_ENVELOPES=300 on a 2-core
# machine: section 4's "records dropped (handler only)" rows (the $default handler with
# real Redis on loopback, records handed to a queue that drops them) and the event
# worker's "decode + bulk store only" rate (4 records per envelope), section 3's cold start.
BENCH_US = {"Heartbeat": 867.0, "StatusNotification": 939.0, "MeterValues": 1028.0}
BENCH_WORKER_RECORDS_PER_S = 1180.0  # includes the local MongoDB server's time
BENCH_COLD_START_MS = 339.0
SCRYPT_MS = 45.0  # verify_password, 30-60 ms here (credentials.py); paid per $connect

# ---------------------------------------------------------------- scaling to AWS
# Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB; the
# handlers are single-threaded, so CPU-bound time at 512 MB is the local single-core time
# times 1769/512 (a Lambda vCPU taken as one core of the bench machine). Waiting on the
# network is not scaled: it is added from in-region round trips (assumed, not measured).
CPU_SCALE = 1769 / 512
REDIS_RTT_MS = 0.3  # ElastiCache with TLS, same region
DOCDB_RTT_MS = 1.5  # a find/update round trip to DocumentDB
DOCDB_BULK_MS = 5.0  # one bulk write of a batch
SQS_SEND_MS = 8.0  # SendMessage to a FIFO queue
IOT_PUBLISH_MS = 10.0  # iot-data Publish, QoS 1, sequential in the worker
MGMT_POST_MS = 15.0  # @connections POST
ENV_LIFETIME_H = 2.0  # how long an execution environment lives before a cold start
WORKER_BATCH = 10  # EventWorkerFunction BatchSize: average fill assumed at scale
CONTAINER_FRAME_US = 150.0  # WebSocket framing + asyncio per message in a task
CONTAINER_SQS_CPU_US = 500.0  # signing and sending the SQS request in a task

# ---------------------------------------------------------------- storage and logs
LOG_BYTES_PER_INVOCATION = 450  # Lambda START/END/REPORT lines (INFO logs nothing else
LOG_BYTES_APP_LINE = 300  # per hot message); one app JSON line where the code logs at INFO
WRITE_IOS_PER_DOC = 1.0  # DocumentDB write I/Os per document inserted or updated
READ_IOS_PER_MESSAGE = 0.2  # buffer-cache misses (tenant API reads, syncs)
INDEX_BYTES_PER_DOC = 300  # ocpp_messages has 4 indexes with _id, meter_values 4
MESSAGE_RETENTION_DAYS = 30  # tenant defaults (message_retention_days)
METER_RETENTION_DAYS = 90  # meter_value_retention_days
WS_OVERHEAD_BYTES = 40  # WebSocket frame header + TLS record per frame
HANDSHAKE_BYTES = 6_500  # TLS handshake (certificate chain) + HTTP upgrade per connect
NAT_BYTES_PER_MESSAGE = 3_000  # SQS send + IoT publish requests and their answers
CHARGERS_PER_TASK = 5_000  # 1 vCPU / 2 GB task: connections, not CPU, bound it
TASK_VCPU, TASK_GB = 1.0, 2.0
MIN_TASKS = 2  # one per AZ
NLB_TLS_CONNS_PER_NLCU = 3_000  # active TLS connections one NLCU covers
IMAGE_GB = 0.3


@dataclass(frozen=True)
class Kind:
    """One kind of frame a charger sends: a $default invocation each."""

    name: str
    per_day: float  # per charger
    bytes_in: int  # the frame (sizes of representative frames, compact JSON)
    bytes_out: int  # the route response (0: none)
    local_us: float  # handler CPU time on one local core
    redis_ops: int
    docdb_sync: int  # synchronous round trips (what a reply depends on)
    log_bytes: int  # BSON of its message log documents
    docs: float  # documents the worker (or the handler) writes or updates
    ttl_docs: float  # of them, deleted again by a TTL index (I/O) after retention
    meter_docs: float  # meter_values documents (kept 90 days)
    events: int  # IoT Core publishes


def kinds() -> list[Kind]:
    hb, sn, mv = (BENCH_US[k] for k in ("Heartbeat", "StatusNotification", "MeterValues"))
    sessions = SESSIONS_PER_DAY
    return [
        # A Call and its reply are one log document (an exchange).
        Kind("Heartbeat", 86_400 / HEARTBEAT_S, 57, 85, hb, 4, 0, 397, 2, 1, 0, 0),
        Kind("MeterValues", sessions * SESSION_HOURS * 3600 / METER_INTERVAL_S,
             683, 45, mv, 4, 0, 1055, 2, 2, 1, 1),
        Kind("StatusNotification", sessions * STATUS_PER_SESSION, 158, 45, sn, 4, 0, 461,
             2, 1, 0, 1),
        # Synchronous ones: CPU taken as MeterValues', plus their DocumentDB round trips.
        Kind("Authorize", sessions, 70, 110, mv, 4, 1, 480, 1, 1, 0, 0),
        Kind("StartTransaction", sessions, 160, 130, mv, 4, 7, 580, 4, 1, 0, 1),
        Kind("StopTransaction", sessions, 190, 110, mv, 4, 4, 580, 3, 1, 0, 1),
        Kind("BootNotification", BOOTS_PER_MONTH / DAYS, 200, 110, mv, 5, 0, 680, 2, 1, 0, 1),
        Kind("other Calls", OTHER_CALLS_PER_DAY, 200, 60, sn, 4, 0, 680, 2, 1, 0, 0),
        # The answer to a command: no route response; the command record is synchronous.
        Kind("CallResult (command)", COMMANDS_PER_DAY, 70, 0, sn, 4, 2, 350, 2, 1, 0, 1),
    ]


def tiered(quantity: float, tiers: Iterable[tuple[float, float]]) -> float:
    cost, below = 0.0, 0.0
    for upto, price in tiers:
        part = max(0.0, min(quantity, upto) - below)
        cost += part * price
        below = upto
    return cost


def lambda_cost(invocations: float, ms: float) -> float:
    """Requests plus GB-seconds, duration billed in whole milliseconds."""
    return invocations * (P_LAMBDA_REQ + LAMBDA_GB * math.ceil(ms) / 1000 * P_LAMBDA_GBS)


def default_ms(k: Kind) -> float:
    """Billed duration of one $default invocation on AWS."""
    return (k.local_us / 1000 * CPU_SCALE + k.redis_ops * REDIS_RTT_MS
            + k.docdb_sync * DOCDB_RTT_MS + SQS_SEND_MS)


CONNECT_MS = (SCRYPT_MS + 2.0) * CPU_SCALE + 3 * DOCDB_RTT_MS + 4 * REDIS_RTT_MS + SQS_SEND_MS
DISCONNECT_MS = 2.0 * CPU_SCALE + DOCDB_RTT_MS + 4 * REDIS_RTT_MS + SQS_SEND_MS
TENANT_API_MS = 3.0 * CPU_SCALE + 3 * DOCDB_RTT_MS + 6 * REDIS_RTT_MS + MGMT_POST_MS
SWEEP_MS = 2.0 * CPU_SCALE + 3 * REDIS_RTT_MS + DOCDB_RTT_MS


@dataclass
class Month:
    """What one charger causes in a month, in billable units, for one shape."""

    messages: float = 0.0  # charger frames ($default invocations)
    ws_messages: float = 0.0  # API Gateway messages, both directions
    events: float = 0.0  # IoT publishes
    sqs_sends: float = 0.0
    docs: float = 0.0
    ttl_docs: float = 0.0
    stored_bytes: float = 0.0  # steady-state DocumentDB storage
    bytes_in: float = 0.0
    bytes_out: float = 0.0
    connects: float = 0.0
    default_gbs_cost: float = 0.0  # $default Lambda, requests + GB-s
    worker_invocations: float = 0.0
    log_bytes: float = 0.0
    container_cpu_s: float = 0.0


def per_charger(reconnects_per_day: float) -> Month:
    m = Month()
    for k in kinds():
        n = k.per_day * DAYS
        m.messages += n
        m.ws_messages += n * (1 + (1 if k.bytes_out else 0))
        m.events += n * k.events
        m.sqs_sends += n
        m.docs += n * k.docs
        m.ttl_docs += n * k.ttl_docs
        per_doc = INDEX_BYTES_PER_DOC
        log_docs = k.ttl_docs - k.meter_docs
        m.stored_bytes += n * (k.log_bytes + log_docs * per_doc) * MESSAGE_RETENTION_DAYS / DAYS
        m.stored_bytes += n * k.meter_docs * (765 + per_doc) * METER_RETENTION_DAYS / DAYS
        m.bytes_in += n * (k.bytes_in + WS_OVERHEAD_BYTES)
        m.bytes_out += n * ((k.bytes_out + WS_OVERHEAD_BYTES) if k.bytes_out else 0)
        m.default_gbs_cost += lambda_cost(n, default_ms(k))
        m.log_bytes += n * LOG_BYTES_PER_INVOCATION
        m.container_cpu_s += n * (k.local_us + CONTAINER_FRAME_US + CONTAINER_SQS_CPU_US) / 1e6
    commands = COMMANDS_PER_DAY * DAYS
    m.ws_messages += commands  # the command itself, posted through @connections
    m.bytes_out += commands * (120 + WS_OVERHEAD_BYTES)
    connects = reconnects_per_day * DAYS
    m.connects = connects
    m.events += 2 * connects  # connected, disconnected
    m.sqs_sends += 2 * connects
    m.docs += 4 * connects  # session opened/closed, connection state twice
    m.stored_bytes += connects * 400 * 365 / 12  # sessions are kept (no TTL): a year's
    m.bytes_in += connects * HANDSHAKE_BYTES / 2
    m.bytes_out += connects * HANDSHAKE_BYTES / 2
    m.log_bytes += connects * (2 * LOG_BYTES_PER_INVOCATION + 2 * LOG_BYTES_APP_LINE)
    m.worker_invocations = m.sqs_sends / WORKER_BATCH
    m.log_bytes += m.worker_invocations * (LOG_BYTES_PER_INVOCATION + LOG_BYTES_APP_LINE)
    m.container_cpu_s += connects * (SCRYPT_MS + 2.0) / 1000
    return m


def worker_ms(events_per_batch: float) -> float:
    per_envelope_ms = 4 / BENCH_WORKER_RECORDS_PER_S * 1000  # 4 records an envelope
    return (WORKER_BATCH * per_envelope_ms * CPU_SCALE + DOCDB_RTT_MS + 3 * DOCDB_BULK_MS
            + events_per_batch * IOT_PUBLISH_MS)


def shared_variable(m: Month) -> dict[str, float]:
    """Per charger-month: what both shapes pay alike (queue, worker, storage, events,
    the tenant API's commands, NAT data)."""
    events_per_batch = m.events / m.worker_invocations
    return {
        "SQS FIFO (send, receive, delete)": m.sqs_sends * (1 + 2 / WORKER_BATCH)
        * P_SQS_FIFO_REQ,
        "Lambda event_worker": lambda_cost(m.worker_invocations, worker_ms(events_per_batch)),
        "IoT Core (publish + 1 delivery)": 2 * m.events,  # units, priced tiered below
        "DocumentDB I/O": ((m.docs + m.ttl_docs) * WRITE_IOS_PER_DOC
                           + m.messages * READ_IOS_PER_MESSAGE) * P_DOCDB_IO,
        "DocumentDB storage": m.stored_bytes / GB * P_DOCDB_STORAGE_GB_MONTH,
        "tenant API (HTTP API + Lambda)": COMMANDS_PER_DAY * DAYS
        * P_HTTP_API_REQ + lambda_cost(COMMANDS_PER_DAY * DAYS, TENANT_API_MS),
        "NAT data processing": m.messages * NAT_BYTES_PER_MESSAGE / GB * P_NAT_GB,
        "CloudWatch Logs (worker)": m.worker_invocations
        * (LOG_BYTES_PER_INVOCATION + LOG_BYTES_APP_LINE) / GB * P_LOGS_INGEST_GB,
    }


def serverless_variable(m: Month) -> dict[str, float]:
    """Per charger-month, the serverless gateway's own part."""
    lambda_logs = m.log_bytes - m.worker_invocations * (
        LOG_BYTES_PER_INVOCATION + LOG_BYTES_APP_LINE)
    return {
        "API Gateway messages": m.ws_messages,  # units, priced tiered below
        "API Gateway connection minutes": HOURS * 60 * P_APIGW_WS_CONN_MIN,
        "Lambda $default": m.default_gbs_cost,
        "Lambda $connect/$disconnect": lambda_cost(m.connects, CONNECT_MS)
        + lambda_cost(m.connects, DISCONNECT_MS),
        "CloudFront (requests, function, data)": m.connects * (P_CF_HTTPS_REQ + P_CF_FUNCTION)
        + m.bytes_out / GB * P_CF_OUT_GB + m.bytes_in / GB * P_CF_ORIGIN_GB,
        "CloudWatch Logs (WebSocket functions)": lambda_logs / GB * P_LOGS_INGEST_GB,
    }


def fixed_common(chargers: int) -> dict[str, float]:
    redis, docdb, instances = data_tier(chargers)
    return {
        f"ElastiCache {REDIS_NODES} x {redis}": REDIS_NODES * P_CACHE_NODE_H[redis] * HOURS,
        f"DocumentDB {instances} x {docdb}": instances * P_DOCDB_INSTANCE_H[docdb] * HOURS,
        f"NAT gateways ({AZS}, with their IPv4)": AZS * (P_NAT_H + P_PUBLIC_IPV4_H) * HOURS,
        f"Secrets Manager ({SECRETS} secrets)": SECRETS * P_SECRET_MONTH,
        "event worker's idle SQS polling": 5 * 3 * 60 * HOURS * P_SQS_FIFO_REQ,
    }


def cold_starts(chargers: int, ms_per_message: float, messages: float) -> float:
    """Execution environments of $default and the worker, each replaced every
    ENV_LIFETIME_H, with the init phase billed (as Lambda does since August 2025)."""
    peak_per_s = chargers * messages / (HOURS * 3600) * PEAK_TO_MEAN
    environments = 2 + math.ceil(peak_per_s * ms_per_message / 1000) * 2
    starts = environments * HOURS / ENV_LIFETIME_H
    init_ms = BENCH_COLD_START_MS * CPU_SCALE
    return lambda_cost(starts, init_ms) + starts * P_SECRET_CALLS


@dataclass
class Total:
    chargers: int
    lines: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def priced(lines: dict[str, float], chargers: int) -> dict[str, float]:
    """Lines per charger times the fleet; the unit-count lines priced in their tiers."""
    out = {}
    for name, value in lines.items():
        fleet = value * chargers
        if name == "API Gateway messages":
            fleet = tiered(fleet, P_APIGW_WS_MSG)
        elif name.startswith("IoT Core"):
            fleet = tiered(fleet, P_IOT_MSG)
        out[name] = fleet
    return out


def serverless(chargers: int) -> Total:
    m = per_charger(RECONNECTS_PER_DAY_SERVERLESS)
    lines = priced(serverless_variable(m) | shared_variable(m), chargers)
    lines |= fixed_common(chargers)
    lines["CommandSweeper (every minute)"] = lambda_cost(SWEEPS_PER_MONTH, SWEEP_MS)
    lines["cold starts (init billed)"] = cold_starts(
        chargers, mean_default_ms(), m.messages)
    return Total(chargers, lines)


def tasks_for(chargers: int) -> int:
    return max(MIN_TASKS, math.ceil(chargers / CHARGERS_PER_TASK) + 1)


def container(chargers: int) -> Total:
    m = per_charger(RECONNECTS_PER_DAY_CONTAINER)
    lines = priced(shared_variable(m), chargers)
    tasks = tasks_for(chargers)
    nlcu = max(chargers / NLB_TLS_CONNS_PER_NLCU, 0.0)
    lines |= {
        f"Fargate {tasks} x ({TASK_VCPU:g} vCPU, {TASK_GB:g} GB)": tasks * HOURS
        * (TASK_VCPU * P_FARGATE_VCPU_H + TASK_GB * P_FARGATE_GB_H),
        "NLB (hours, NLCU, 2 public IPv4)": HOURS * (P_NLB_H + nlcu * P_NLCU_H
                                                    + AZS * P_PUBLIC_IPV4_H),
        "internet egress to chargers": chargers * m.bytes_out / GB * P_EC2_OUT_GB,
        "CloudWatch Logs (tasks)": chargers * m.connects * LOG_BYTES_APP_LINE / GB
        * P_LOGS_INGEST_GB,
        "ECR image": IMAGE_GB * P_ECR_GB_MONTH,
    }
    lines |= fixed_common(chargers)
    lines["cold starts (init billed)"] = cold_starts(chargers, 0.0, m.messages)
    return Total(chargers, lines)


def mean_default_ms(kind_list: list[Kind] | None = None) -> float:
    ks = kind_list or kinds()
    n = sum(k.per_day for k in ks)
    return sum(k.per_day * default_ms(k) for k in ks) / n


def money(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:,.2f}"
    return f"{x:.3f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    if not BENCH_WORKER_RECORDS_PER_S:
        raise SystemExit("fill in the BENCH_* numbers from bench/run.py first")
    ks = kinds()
    m = per_charger(RECONNECTS_PER_DAY_SERVERLESS)

    print("## Messages per charger per month\n")
    rows = [[k.name, f"{k.per_day:,.1f}", f"{k.per_day * DAYS:,.0f}",
             f"{k.bytes_in} / {k.bytes_out}", f"{k.events}"] for k in ks]
    rows.append(["**total**", f"{m.messages / DAYS:,.0f}", f"**{m.messages:,.0f}**", "", ""])
    print(table(["frame from the charger", "per day", "per month", "bytes in / out",
                 "IoT events"], rows))
    print(f"\nAPI Gateway messages {m.ws_messages:,.0f}, IoT publishes {m.events:,.0f}, "
          f"SQS sends {m.sqs_sends:,.0f}, documents written {m.docs:,.0f}, "
          f"worker invocations {m.worker_invocations:,.0f}, connects {m.connects:,.0f}, "
          f"stored {m.stored_bytes / 1e6:,.1f} MB per charger")

    print("\n## Lambda durations (billed, ms at 512 MB)\n")
    rows = [[k.name, f"{k.local_us:,.0f}", f"{k.local_us / 1000 * CPU_SCALE:.2f}",
             f"{default_ms(k) - k.local_us / 1000 * CPU_SCALE:.1f}",
             f"{math.ceil(default_ms(k))}"] for k in ks[:5]]
    events_per_batch = m.events / m.worker_invocations
    batch_local_ms = WORKER_BATCH * 4e3 / BENCH_WORKER_RECORDS_PER_S
    batch_ms = worker_ms(events_per_batch)
    rows += [["$connect (scrypt + 2 ms)", f"{(SCRYPT_MS + 2) * 1000:,.0f}",
              f"{(SCRYPT_MS + 2) * CPU_SCALE:.1f}",
              f"{CONNECT_MS - (SCRYPT_MS + 2) * CPU_SCALE:.1f}", f"{math.ceil(CONNECT_MS)}"],
             [f"event_worker, batch of {WORKER_BATCH} ({events_per_batch:.1f} events)",
              f"{batch_local_ms * 1000:,.0f}", f"{batch_local_ms * CPU_SCALE:.1f}",
              f"{batch_ms - batch_local_ms * CPU_SCALE:.1f}", f"{math.ceil(batch_ms)}"]]
    print(table(["invocation", "local CPU us", "CPU ms x 3.46", "network ms", "billed ms"],
                rows))

    print("\n## Serverless: variable cost per million OCPP messages\n")
    per_msg = serverless_variable(m) | shared_variable(m)
    per_msg["API Gateway messages"] = m.ws_messages * P_APIGW_WS_MSG[0][1]
    per_msg["IoT Core (publish + 1 delivery)"] = 2 * m.events * P_IOT_MSG[0][1]
    scale = 1e6 / m.messages
    rows = [[name, money(value * scale)] for name, value in per_msg.items()]
    rows.append(["**total**", f"**{money(sum(per_msg.values()) * scale)}**"])
    print(table(["item", "USD per 1 M messages", "USD per 1,000 chargers a month"],
                [[*r, money(per_msg.get(r[0], sum(per_msg.values())) * 1000)] for r in rows]))

    print("\n## Monthly totals by fleet size\n")
    sizes = [100, 1_000, 5_000, 10_000, 50_000, 100_000]
    totals = [(serverless(n), container(n)) for n in sizes]
    names: list[str] = []
    for s, c in totals:
        for name in [*s.lines, *c.lines]:
            if name not in names:
                names.append(name)
    print(table(["fleet", "serverless", "per 1k chargers", "container", "per 1k chargers",
                 "Fargate tasks", "cheaper"],
                [[f"{n:,}", money(s.total), money(s.total / n * 1000), money(c.total),
                  money(c.total / n * 1000), str(tasks_for(n)),
                  "serverless" if s.total < c.total else "container"]
                 for n, (s, c) in zip(sizes, totals, strict=True)]))

    for n in (1_000, 10_000):
        s, c = serverless(n), container(n)
        print(f"\n### Line items at {n:,} chargers\n")
        rows = [[name, money(s.lines.get(name, 0.0)), money(c.lines.get(name, 0.0))]
                for name in [*dict.fromkeys([*s.lines, *c.lines])]]
        rows.append(["**total**", f"**{money(s.total)}**", f"**{money(c.total)}**"])
        print(table(["item", "serverless", "container"], rows))

    print("\n## Break-even\n")
    previous = None
    for n in range(100, 200_001, 100):
        cheaper = serverless(n).total < container(n).total
        if previous is not None and cheaper != previous:
            s, c = serverless(n), container(n)
            print(f"at {n:,} chargers: serverless {money(s.total)}, container {money(c.total)}"
                  f" ({'serverless' if cheaper else 'container'} cheaper from here)")
        previous = cheaper
    peak = 100_000 * m.messages / (HOURS * 3600) * PEAK_TO_MEAN
    busy = peak * m.container_cpu_s / m.messages / (tasks_for(100_000) - 1)
    print(f"\ncontainer CPU at 100k chargers, peak {peak:,.0f} msg/s: {busy:.0%} of a vCPU "
          f"per task (N-1 tasks)")


if __name__ == "__main__":
    main()
