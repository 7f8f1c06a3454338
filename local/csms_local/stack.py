"""`make run`: the whole CSMS on one machine, no Docker, no AWS account."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csms_local import services
from csms_local.event_worker_process import EventWorkerProcess
from csms_local.gateway import GatewayLimits, WebSocketGateway
from csms_local.http_api import HandlerPool
from csms_local.lambdas import load_handler
from csms_local.management import ManagementServer
from csms_local.scheduler import Schedule, Scheduler
from csms_local.sqs_poller import create_queues
from csms_local.tls import ensure_certificates, server_context

logger = logging.getLogger("csms_local")

DEMO_TENANT = "demo"
DEMO_CHARGE_POINT = "DEMO-CP-1"
DEMO_ID_TAG = "DEMO-TAG-1"
# At most this many $connect invocations at once (each a process of its own). A connect
# is ~3 ms of its own CPU in ~17 ms of waiting on MongoDB, Redis and SQS (more under
# load): with 6, one reconnect storm in three left the cores at 150-170 % for its first
# 20 s while 2,000 handshakes waited past their timeout; with 12 they stayed full in every
# storm (docs/perf.md).
# Two cores still run at most two scrypt checks at a time.
CONNECT_CONTAINERS = 12
# The gateway's process holds every charger's connection: thousands of websockets
# connections, each a few hundred objects in reference cycles that only a full collection
# frees. Under CPython's default thresholds (700, 10, 10) a reconnect storm of 5,000
# chargers ran a dozen full collections of 0.5-2 s each, with the event loop stopped for
# all of them: 11 s of garbage collection in a 70 s storm, 2.7-5.6 s with these
# (docs/perf.md).
GATEWAY_GC_THRESHOLDS = (5_000, 10, 20)


@dataclass(frozen=True)
class StackConfig:
    """Every value can be changed with the environment variable named in from_env."""

    ws_port: int = 9000
    wss_port: int = 9443
    http_port: int = 3000
    redis_port: int = 6379
    mongo_port: int = 27017
    mqtt_port: int = 1883
    aws_port: int = 4566
    # A LocalStack already running (its URL) instead of one of the stack's own.
    aws_url: str | None = None
    data_dir: Path = Path(".local")
    idle_timeout: float = 600.0
    max_duration: float = 7200.0
    sweep_interval: float = 60.0

    @classmethod
    def from_env(cls) -> StackConfig:
        env = os.environ
        d = cls()
        return cls(
            ws_port=int(env.get("LOCAL_WS_PORT", d.ws_port)),
            wss_port=int(env.get("LOCAL_WSS_PORT", d.wss_port)),
            http_port=int(env.get("LOCAL_HTTP_PORT", d.http_port)),
            redis_port=int(env.get("LOCAL_REDIS_PORT", d.redis_port)),
            mongo_port=int(env.get("LOCAL_MONGO_PORT", d.mongo_port)),
            mqtt_port=int(env.get("LOCAL_MQTT_PORT", d.mqtt_port)),
            aws_port=int(env.get("LOCAL_AWS_PORT", d.aws_port)),
            aws_url=env.get("LOCAL_AWS_URL") or None,
            data_dir=Path(env.get("LOCAL_DATA_DIR", str(d.data_dir))),
            idle_timeout=float(env.get("LOCAL_WS_IDLE_TIMEOUT", d.idle_timeout)),
            max_duration=float(env.get("LOCAL_WS_MAX_DURATION", d.max_duration)),
            sweep_interval=float(env.get("LOCAL_SWEEP_INTERVAL_SECONDS", d.sweep_interval)),
        )

    @property
    def aws_endpoint(self) -> str:
        """The local AWS: LocalStack on aws_port (moto's server when LocalStack is not
        installed), or the one at aws_url."""
        return self.aws_url or f"http://127.0.0.1:{self.aws_port}"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    def schedules(self) -> list[Schedule]:
        """The functions template.yaml runs on EventBridge schedules, at the same rates."""
        return [Schedule("command_sweeper", self.sweep_interval)]

    def handler_environment(self) -> dict[str, str]:
        """What the Lambda handlers read on AWS, pointed at the local servers."""
        return {
            "MONGODB_URI": f"mongodb://127.0.0.1:{self.mongo_port}",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "WEBSOCKET_MANAGEMENT_ENDPOINT": f"http://127.0.0.1:{self.http_port}",
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "MQTT_URL": f"mqtt://127.0.0.1:{self.mqtt_port}",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            # The local AWS takes any credentials; these are not secrets.
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "POWERTOOLS_SERVICE_NAME": "csms",
            "POWERTOOLS_METRICS_NAMESPACE": "csms-local",
            # The gateway runs every $default invocation in one process: records of
            # several charge points sent in the same round share SQS messages (bundles).
            # One group per tenant makes a round one message: in `make load`, 20 % less
            # CPU per message than 8 groups (docs/perf.md, sixth pass).
            "EVENT_GROUPS_PER_TENANT": os.environ.get("EVENT_GROUPS_PER_TENANT", "1"),
        }


def apply_local_environment(config: StackConfig, override: bool = False) -> None:
    """The handlers' settings, pointed at the local servers. `override`: the stack that
    starts those servers owns these values; a variable inherited from the shell (say
    AWS_ENDPOINT_URL of another emulator) must not redirect its handlers. Without it
    (`csms-local invoke`), values already set win, so an invocation can be aimed
    elsewhere."""
    values = config.handler_environment() | {
        "JWT_SECRET": _local_secret(config.data_dir / "jwt-secret"),
        # Keys the verified-login cache of $connect (a Secrets Manager secret on AWS).
        "CREDENTIAL_CACHE_KEY": _local_secret(config.data_dir / "credential-cache-key"),
        # The tenants' CAs for CertificateSigned (a Secrets Manager secret on AWS).
        "LOCAL_CA_DIR": str(config.data_dir / "tenant-ca"),
        "LOCAL_CA_PASSPHRASE": _local_secret(config.data_dir / "tenant-ca-passphrase"),
    }
    for key, value in values.items():
        if override:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)


def _local_secret(path: Path) -> str:
    """A random secret kept in the data dir (readable by its owner only), made once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def seed_demo(config: StackConfig) -> dict[str, Any]:
    """On first start: a demo tenant, charge point and id tag; later starts reuse them."""
    from csms_local.admin import Admin

    record = config.data_dir / "demo.json"
    admin = Admin(os.environ["MONGODB_URI"])
    if record.exists() and admin.directory.get_charge_point(DEMO_CHARGE_POINT) is not None:
        demo: dict[str, Any] = json.loads(record.read_text())
        return demo
    if admin.directory.get_tenant(DEMO_TENANT) is None:
        admin.create_tenant(DEMO_TENANT, "Demo operator")
    if admin.directory.get_charge_point(DEMO_CHARGE_POINT) is None:
        cp = admin.add_charge_point(DEMO_TENANT, DEMO_CHARGE_POINT, None)
    else:
        cp = admin.set_password(DEMO_CHARGE_POINT, None)
    admin.add_id_tag(DEMO_TENANT, DEMO_ID_TAG, "Accepted", None, None)
    demo = {
        "tenant_id": DEMO_TENANT,
        "charge_point_id": DEMO_CHARGE_POINT,
        "password": cp["password"],
        "id_tag": DEMO_ID_TAG,
    }
    record.write_text(json.dumps(demo, indent=2))
    record.chmod(0o600)
    return demo


def _ensure_free(name: str, port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(
                f"port {port} ({name}) is in use; stop what uses it or set another port "
                "(see README, Configuration)"
            ) from None


def start_services(config: StackConfig) -> list[services.Server]:
    logs = config.data_dir / "logs"
    wanted = [
        services.redis(config.redis_port, config.data_dir / "redis", logs / "redis.log"),
        services.mongo(config.mongo_port, config.data_dir / "mongodb", logs / "mongodb.log"),
        services.mqtt(config.mqtt_port, config.data_dir / "mqtt", logs / "mqtt.log"),
    ]
    if config.aws_url is None:
        missing = services.localstack_missing()
        if missing and os.environ.get("LOCAL_AWS_EMULATOR") != "moto":
            print(f"  {missing}", flush=True)
        # LocalStack's state under data_dir/localstack, its log in logs/aws.log.
        wanted.append(services.local_aws(config.aws_port, config.data_dir, logs / "aws.log"))
    listeners = [
        ("WebSocket", config.ws_port),
        ("WebSocket TLS", config.wss_port),
        ("HTTP", config.http_port),
    ]
    ports = listeners + [(s.name, s.port) for s in wanted]
    taken: dict[int, str] = {}
    for name, port in ports:
        if port in taken:
            raise SystemExit(f"port {port} is set for both {taken[port]} and {name}")
        taken[port] = name
        _ensure_free(name, port)
    started: list[services.Server] = []
    try:
        for server in wanted:
            print(f"  starting {server.name:10} on 127.0.0.1:{server.port}", flush=True)
            started.append(server.start())
    except BaseException:  # Ctrl-C included: stop what did start
        stop_services(started)
        raise
    return started


def stop_services(started: list[services.Server]) -> None:
    for server in reversed(started):
        server.stop()


def start_event_worker(config: StackConfig) -> EventWorkerProcess:
    """The events queue and its dead-letter queue on the local AWS, with template.yaml's
    attributes, and a poller feeding event_worker as Lambda's SQS trigger would, in a
    process of its own (see event_worker_process)."""
    endpoint = config.aws_endpoint
    for name, url in create_queues(endpoint).items():
        os.environ[name] = url  # before any handler reads its settings
    return EventWorkerProcess(endpoint)


def start_scheduler(config: StackConfig) -> Scheduler:
    """The scheduled functions, each on its schedule; their runs are logged to
    logs/scheduler.log, failures also to the terminal."""
    log = logging.getLogger("csms_local.scheduler")
    log.setLevel(logging.INFO)
    log.propagate = False
    (config.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(config.data_dir / "logs" / "scheduler.log", encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(logging.WARNING)
    log.handlers = [to_file, to_terminal]
    return Scheduler(config.schedules()).start()


def stop_scheduler(scheduler: Scheduler) -> None:
    scheduler.stop()
    log = logging.getLogger("csms_local.scheduler")
    for handler in log.handlers:
        handler.close()


async def serve_gateway(
    config: StackConfig,
    stop: asyncio.Event,
    ready_message: str,
    tls: ssl.SSLContext | None = None,
) -> None:
    """ws:// on ws_port and, given a server SSL context, wss:// on wss_port."""
    # $connect runs in "containers" of its own (processes, as on Lambda), not in the
    # gateway's threads: its scrypt check of a login not verified lately holds the GIL for
    # 50-150 ms, and in the gateway's process that stalled every charger's messages
    # meanwhile (new chargers connecting by the thousand spiralled into timeouts).
    connects = HandlerPool("ws_connect", size=CONNECT_CONTAINERS)
    gateway = WebSocketGateway(
        connect=lambda event, _context: connects.invoke(event),
        default=load_handler("ws_message"),
        disconnect=load_handler("ws_disconnect"),
        port=config.ws_port,
        limits=GatewayLimits(idle_timeout=config.idle_timeout, max_duration=config.max_duration),
        ssl=tls,
        tls_port=config.wss_port if tls is not None else None,
        connect_concurrency=CONNECT_CONTAINERS,
    )
    await gateway.start()
    tune_garbage_collection()
    api_log = (config.data_dir / "logs" / "tenant_api.log").open("a", encoding="utf-8")
    api = HandlerPool("tenant_api", log=api_log)
    management = ManagementServer(gateway, port=config.http_port, api=api)
    management.start()
    try:
        # Announced only now: whoever reads the banner can connect at once.
        print(ready_message, flush=True)
        await stop.wait()
    finally:
        management.stop()
        api_log.close()
        await gateway.stop()
        connects.close()


def tune_garbage_collection() -> None:
    """Fewer, larger collections in the gateway's process: a young object is examined
    after 5,000 allocations (not 700), a full collection considered after 1,000,000 (not
    70,000), and run only once the heap has grown by a quarter, as CPython always does."""
    gc.set_threshold(*GATEWAY_GC_THRESHOLDS)


def aws_name(config: StackConfig) -> str:
    if config.aws_url is not None:
        return "LocalStack, shared"
    if services.localstack_missing() or os.environ.get("LOCAL_AWS_EMULATOR") == "moto":
        return "moto"
    return f"LocalStack {services.LOCALSTACK_VERSION}"


def banner(config: StackConfig, demo: dict[str, Any]) -> str:
    url = f"ws://127.0.0.1:{config.ws_port}/ocpp/{demo['charge_point_id']}"
    secure = f"wss://127.0.0.1:{config.wss_port}/ocpp/{demo['charge_point_id']}"
    schedules = ", ".join(f"{s.function} every {s.interval:g} s" for s in config.schedules())
    return "\n".join(
        [
            "",
            "CSMS local stack is up.",
            f"  Charge point URL : {url}",
            f"  Charge point wss : {secure}  (trust CA file {config.tls_dir / 'ca.pem'})",
            "  Subprotocol      : ocpp1.6 (or ocpp2.0.1, ocpp2.1)",
            f"  Basic auth       : user {demo['charge_point_id']}  password {demo['password']}",
            f"  Accepted id tag  : {demo['id_tag']}",
            f"  Tenant           : {demo['tenant_id']}",
            f"  Tenant API       : http://127.0.0.1:{config.http_port}/v1  "
            f"(docs: http://127.0.0.1:{config.http_port}/v1/docs)",
            "  API token        : .venv/bin/csms-admin token issue --tenant "
            f"{demo['tenant_id']} --role admin",
            f"  @connections API : http://127.0.0.1:{config.http_port}/@connections/<id>",
            f"  MongoDB          : mongodb://127.0.0.1:{config.mongo_port}  "
            f"(database ocpp_tenant_{demo['tenant_id']})",
            f"  Redis            : redis://127.0.0.1:{config.redis_port}",
            f"  MQTT events      : mqtt://127.0.0.1:{config.mqtt_port}  (topics ocpp/#)",
            f"  Local AWS        : {config.aws_endpoint}  "
            f"({aws_name(config)}: SQS, Secrets Manager)",
            f"  Scheduled        : {schedules}",
            f"  Logs             : {config.data_dir / 'logs'}",
            "Press Ctrl-C to stop.",
            "",
        ]
    )


def run() -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    config = StackConfig.from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    apply_local_environment(config, override=True)
    # Made (or renewed) before any server starts: a broken certificate fails fast.
    tls = server_context(ensure_certificates(config.tls_dir))
    print("Starting the CSMS local stack", flush=True)
    try:
        started = start_services(config)
    except KeyboardInterrupt:
        return 130  # start_services stopped what it had started
    poller: EventWorkerProcess | None = None
    scheduler: Scheduler | None = None
    try:
        demo = seed_demo(config)
        poller = start_event_worker(config)
        scheduler = start_scheduler(config)
        asyncio.run(_main(config, banner(config, demo), tls))
    except KeyboardInterrupt:
        pass  # Ctrl-C before the signal handlers were in place: stop all the same
    finally:
        print("Stopping the local stack", flush=True)
        if scheduler is not None:
            stop_scheduler(scheduler)
        if poller is not None:
            poller.stop()
        stop_services(started)
    return 0


async def _main(config: StackConfig, ready_message: str, tls: ssl.SSLContext) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve_gateway(config, stop, ready_message, tls)
