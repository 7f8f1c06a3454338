"""The one place that reads settings and wires adapters into services.

`Wiring` is the composition root: it takes the settings and, optionally, any of its parts
(clients, stores, gateways, queues, the clock), and builds each service once, on first
use. Each Lambda container gets one Wiring built from the environment the first time a
handler asks for something, and reuses its clients (connection pools) across invocations.
Tests and the bench build a Wiring with fakes and install it with `use` / `using`.

The module-level functions (`message_service()`, `tenant_store()`, ...) are what the
entrypoints call; they delegate to the installed Wiring.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from csms.config import Settings, mongodb_uri_from_secret
from csms.protocol.router import Router
from csms.services.charging import ChargingService
from csms.services.commands import CommandService
from csms.services.connect import ConnectService
from csms.services.messages import MessageService, SeparateCallLookup
from csms.services.record_applier import RecordApplier, StoreNow
from csms.services.records import BufferedRecords
from csms.versions import CentralSystemParts, VersionPlugin, by_subprotocol, v16, v21, v201

if TYPE_CHECKING:  # adapters import their drivers; load them only when wired
    from csms.adapters.jwt_tokens import TokenVerifier
    from csms.adapters.mongo import MongoTenantStore
    from csms.adapters.mongo_queries import MongoTenantQueries
    from csms.domain.model import MeterValue
    from csms.ports import (
        CallLookup,
        CommandQueue,
        ConnectionGateway,
        ConnectionRegistry,
        CsrSigner,
        DeadLetters,
        Directory,
        EventPublisher,
        PendingCalls,
        RateLimiter,
        RecordQueue,
        ReplayCache,
        TenantStore,
        VerifiedCredentials,
    )
    from csms.services.command_sweep import CommandSweeper
    from csms.services.fleet import FleetService
    from csms.services.reservations import ReservationExpiry
    from csms.services.site_limit import SiteLimitController, Trigger
    from csms.services.tariffs import CostUpdates


def utc_now() -> datetime:
    return datetime.now(UTC)


class Wiring:
    """Every service of one container, built from `settings` and the parts given here.

    A part left out is built from the settings when first needed (real Redis, MongoDB,
    AWS clients); a part given is used as it is, so a test can swap exactly what it fakes.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        redis: Any = None,
        mongo: Any = None,
        secrets: Callable[[str], str] | None = None,
        directory: Directory | None = None,
        tenant_store: TenantStore | None = None,
        connection_registry: ConnectionRegistry | None = None,
        pending_calls: PendingCalls | None = None,
        command_queue: CommandQueue | None = None,
        replay_cache: ReplayCache | None = None,
        rate_limiter: RateLimiter | None = None,
        verified_credentials: VerifiedCredentials | None = None,
        gateway: Callable[[str | None], ConnectionGateway] | None = None,
        event_publisher: EventPublisher | None = None,
        record_queue: RecordQueue | None = None,
        dead_letters: DeadLetters | None = None,
        token_verifier: TokenVerifier | None = None,
        versions: Sequence[VersionPlugin] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._redis = redis
        self._mongo = mongo
        self._secrets = secrets
        self._directory = directory
        self._tenant_store = tenant_store
        self._connection_registry = connection_registry
        self._pending_calls = pending_calls
        self._command_queue = command_queue
        self._replay_cache = replay_cache
        self._rate_limiter = rate_limiter
        self._verified_credentials = verified_credentials
        self._gateway = gateway
        self._gateways: dict[str, ConnectionGateway] = {}
        self._lock = threading.Lock()
        # What this Wiring built that holds sockets or threads, for close().
        self._owned: list[Any] = []
        self._event_publisher = event_publisher
        self._record_queue = record_queue
        self._dead_letters = dead_letters
        self._token_verifier = token_verifier
        self._versions = versions

    # Clients and secrets

    @cached_property
    def redis(self) -> Any:
        if self._redis is not None:
            return self._redis
        from csms.adapters import redis_state

        return self._own(redis_state.connect(self.settings.redis_url))

    @cached_property
    def mongo(self) -> Any:
        if self._mongo is not None:
            return self._mongo
        from csms.adapters import mongo

        return self._own(mongo.connect(self._mongodb_uri()))

    def _own(self, client: Any) -> Any:
        self._owned.append(client)
        return client

    def close(self) -> None:
        """Closes the clients this Wiring built (Redis, MongoDB, the records queue); a
        part it was given belongs to whoever gave it. Only for a Wiring nobody uses any
        more: a client closed under a running handler fails that handler."""
        while self._owned:
            self._owned.pop().close()

    def _mongodb_uri(self) -> str:
        s = self.settings
        if not s.mongodb_secret_arn:
            return s.mongodb_uri
        import json

        secret = json.loads(self.secret(s.mongodb_secret_arn))
        return mongodb_uri_from_secret(secret, s.mongodb_tls_ca_file)

    def secret(self, arn: str) -> str:
        """The string value of a Secrets Manager secret."""
        if self._secrets is not None:
            return self._secrets(arn)
        import boto3  # only on AWS, once per container

        client = boto3.client("secretsmanager", region_name=self.settings.aws_region)
        value: str = client.get_secret_value(SecretId=arn)["SecretString"]
        return value

    # Adapters

    @cached_property
    def directory(self) -> Directory:
        if self._directory is not None:
            return self._directory
        from csms.adapters.mongo import MongoDirectory

        return MongoDirectory(self.mongo)

    @cached_property
    def tenant_store(self) -> TenantStore:
        if self._tenant_store is not None:
            return self._tenant_store
        from csms.adapters.mongo import MongoTenantStore

        return MongoTenantStore(self.mongo)

    def tenant_queries(self, tenant_id: str) -> MongoTenantQueries:
        # The tenant API's reads have no port: they are MongoDB queries by design.
        from csms.adapters.mongo import tenant_database_name
        from csms.adapters.mongo_queries import MongoTenantQueries

        return MongoTenantQueries(self.mongo[tenant_database_name(tenant_id)])

    @cached_property
    def connection_registry(self) -> ConnectionRegistry:
        if self._connection_registry is not None:
            return self._connection_registry
        from csms.adapters.redis_state import RedisConnectionRegistry

        s = self.settings
        return RedisConnectionRegistry(self.redis, s.redis_key_prefix, s.connection_ttl_seconds)

    @cached_property
    def pending_calls(self) -> PendingCalls:
        if self._pending_calls is not None:
            return self._pending_calls
        from csms.adapters.redis_state import RedisPendingCalls

        s = self.settings
        return RedisPendingCalls(self.redis, s.redis_key_prefix, s.pending_call_ttl_seconds)

    @cached_property
    def command_queue(self) -> CommandQueue:
        if self._command_queue is not None:
            return self._command_queue
        from csms.adapters.redis_state import RedisCommandQueue

        s = self.settings
        return RedisCommandQueue(
            self.redis, s.redis_key_prefix, s.pending_call_ttl_seconds,
            s.command_queue_ttl_seconds,
        )

    @cached_property
    def replay_cache(self) -> ReplayCache:
        if self._replay_cache is not None:
            return self._replay_cache
        from csms.adapters.redis_state import RedisReplayCache

        s = self.settings
        return RedisReplayCache(self.redis, s.redis_key_prefix, s.replay_ttl_seconds)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        if self._rate_limiter is not None:
            return self._rate_limiter
        from csms.adapters.redis_state import RedisRateLimiter

        return RedisRateLimiter(self.redis, self.settings.redis_key_prefix)

    @cached_property
    def verified_credentials(self) -> VerifiedCredentials | None:
        s = self.settings
        if s.credential_cache_seconds <= 0:
            return None
        if self._verified_credentials is not None:
            return self._verified_credentials
        from csms.adapters.redis_state import RedisVerifiedCredentials

        return RedisVerifiedCredentials(self.redis, s.redis_key_prefix, s.credential_cache_seconds)

    @cached_property
    def credential_key(self) -> bytes | None:
        s = self.settings
        if s.credential_cache_key_arn and not s.credential_cache_key:
            return self.secret(s.credential_cache_key_arn).strip().encode()
        return s.credential_cache_key.encode() if s.credential_cache_key else None

    def connection_gateway(self, endpoint: str | None) -> ConnectionGateway:
        """The @connections API: the configured endpoint, else the one of the event."""
        if self._gateway is not None:
            return self._gateway(endpoint)
        from csms.adapters.apigw import ApiGatewayConnections

        s = self.settings
        url = s.websocket_management_endpoint or endpoint
        if not url:
            raise RuntimeError("no @connections endpoint known")
        # A boto3 client costs ~7 ms of CPU to build and is thread-safe: one per endpoint
        # (a reconnect storm closes thousands of replaced connections through it).
        with self._lock:
            gateway = self._gateways.get(url)
            if gateway is None:
                gateway = self._gateways[url] = ApiGatewayConnections(url, s.aws_region)
        return gateway

    @cached_property
    def _configured_gateway(self) -> ConnectionGateway:
        return self.connection_gateway(None)

    def _gateway_from_settings(self) -> ConnectionGateway:
        # Built when first needed: only sending a command uses the @connections API.
        return self._configured_gateway

    @cached_property
    def event_publisher(self) -> EventPublisher:
        if self._event_publisher is not None:
            return self._event_publisher
        s = self.settings
        if s.mqtt_url:
            from csms.adapters.mqtt import MqttPublisher

            return MqttPublisher(s.mqtt_url)
        from csms.adapters.iot import IotDataPublisher

        return IotDataPublisher(s.iot_data_endpoint, s.aws_region)

    @cached_property
    def dead_letters(self) -> DeadLetters:
        if self._dead_letters is not None:
            return self._dead_letters
        from csms.adapters.sqs import SqsDeadLetters

        s = self.settings
        if not s.events_dead_letter_queue_url:
            raise RuntimeError("set EVENTS_DLQ_URL for the event worker")
        return SqsDeadLetters(s.events_dead_letter_queue_url, s.aws_region)

    @cached_property
    def token_verifier(self) -> TokenVerifier:
        if self._token_verifier is not None:
            return self._token_verifier
        from csms.adapters.jwt_tokens import TokenVerifier, jwks_key_resolver

        s = self.settings
        if s.jwt_jwks_url:
            keys = jwks_key_resolver(s.jwt_jwks_url)
            return TokenVerifier("RS256", keys, s.jwt_issuer, s.jwt_audience)
        secret = s.jwt_secret or (self.secret(s.jwt_secret_arn) if s.jwt_secret_arn else None)
        if not secret:
            raise RuntimeError("set JWT_SECRET, JWT_SECRET_ARN or JWT_JWKS_URL for the tenant API")
        return TokenVerifier("HS256", secret.strip(), s.jwt_issuer, s.jwt_audience)

    # Services

    @cached_property
    def versions(self) -> dict[str, VersionPlugin]:
        """The OCPP versions this CSMS speaks, by subprotocol; the first is the default."""
        plugins = (
            [v16.plugin(), v201.plugin(), v21.plugin()]
            if self._versions is None
            else self._versions
        )
        return by_subprotocol(plugins)

    @cached_property
    def record_applier(self) -> RecordApplier:
        return RecordApplier(
            self.tenant_store, self.directory, site_limits=self._site_change,
            cost_updates=self._cost_update, on_stored=self._records_stored,
        )

    def _cost_update(self, tenant_id: str, values: Sequence[MeterValue]) -> None:
        self.cost_updates.after_stored(tenant_id, values, self.clock())

    @cached_property
    def cost_updates(self) -> CostUpdates:
        """CostUpdated pushes to chargers in a session, from the event worker."""
        from csms.services.tariffs import CostUpdates

        return CostUpdates(self.tenant_store, self.command_service, records=self.records)
    def _records_stored(self, tenant_id: str, batch: Sequence[Any]) -> None:
        signing = self.certificate_signing
        if signing is not None:
            signing.react(tenant_id, batch)

    @cached_property
    def certificate_signing(self) -> Any:
        """CertificateSigned for stored SignCertificate requests; None without a CA."""
        from csms.services.certificates import CertificateSigning

        ca = self.certificate_authority
        if ca is None:
            return None
        return CertificateSigning(ca, self.command_service, self.clock)

    @cached_property
    def certificate_authority(self) -> Any:
        """The tenants' CA, the first configured of: an ACM Private CA, a Secrets Manager
        secret, a local CA directory; None without one."""
        from pathlib import Path

        from csms.adapters.certificate_authority import (
            LocalCertificateAuthority,
            SecretsManagerCertificateAuthority,
        )

        s = self.settings
        ca: CsrSigner
        if s.tenant_ca_private_ca_arn:
            import boto3

            from csms.adapters.acm_pca import AcmPrivateCertificateAuthority

            client = boto3.client("acm-pca", region_name=s.aws_region)
            ca = AcmPrivateCertificateAuthority(client, s.tenant_ca_private_ca_arn,
                                                s.tenant_ca_private_ca_validity_days)
        elif s.tenant_ca_secret_arn:
            import boto3

            client = boto3.client("secretsmanager", region_name=s.aws_region)
            ca = SecretsManagerCertificateAuthority(client, s.tenant_ca_secret_arn)
        elif s.local_ca_dir and s.local_ca_passphrase:
            ca = LocalCertificateAuthority(Path(s.local_ca_dir), s.local_ca_passphrase.encode())
        else:
            return None
        return ca

    def _site_change(self, tenant_id: str, triggers: Sequence[Trigger]) -> None:
        # Built on the first session change, not with the applier: most batches have none.
        controller = self.site_limits
        if controller is not None:
            controller.on_stored(tenant_id, triggers)

    @cached_property
    def site_limits(self) -> SiteLimitController | None:
        """The site limit controller: sites in MongoDB, SetChargingProfile in the charger's
        version (2.1's profile has 2.0.1's shape). None when the tenant data is not in
        MongoDB (a Wiring of fakes has no sites)."""
        from csms.adapters.mongo import MongoTenantStore
        from csms.adapters.mongo_sites import MongoSites, sites_database
        from csms.services.site_limit import SiteLimitController
        from csms.versions.v16.charging_profiles import build_set_request as set_16
        from csms.versions.v201.charging_profiles import build_set_request as set_201

        if not isinstance(self.tenant_store, MongoTenantStore):
            return None
        mongo = self.mongo
        return SiteLimitController(
            sites=lambda tenant_id: MongoSites(sites_database(mongo, tenant_id)),
            store=self.tenant_store,
            commands=self.command_service,
            requests={"ocpp1.6": set_16, "ocpp2.0.1": set_201, "ocpp2.1": set_201},
            clock=self.clock,
            records=self.records,
        )

    @cached_property
    def records(self) -> BufferedRecords:
        """This container's runtime records: to SQS when a queue is configured (or given),
        else stored (and published, when a broker is configured) in the same invocation."""
        s = self.settings
        queue: RecordQueue
        if self._record_queue is not None:
            queue = self._record_queue
        elif s.events_queue_url:
            from csms.adapters.sqs import SqsRecordQueue

            queue = self._own(SqsRecordQueue(
                s.events_queue_url, s.aws_region, s.event_groups_per_tenant
            ))
        else:
            # Inline, events go out only to a configured MQTT broker or a publisher given;
            # otherwise none are published (no queue means no deployed IoT Core either).
            publisher = self.event_publisher if s.mqtt_url or self._event_publisher else None
            queue = StoreNow(self.record_applier, publisher)
        return BufferedRecords(queue)

    @cached_property
    def charging_service(self) -> ChargingService:
        return ChargingService(self.tenant_store, self.records, self.directory)

    @cached_property
    def command_service(self) -> CommandService:
        s = self.settings
        return CommandService(
            registry=self.connection_registry,
            queue=self.command_queue,
            pending=self.pending_calls,
            store=self.tenant_store,
            gateway=self._gateway_from_settings,
            vocabularies={name: plugin.commands for name, plugin in self.versions.items()},
            directory=self.directory,
            clock=self.clock,
            answer_timeout=timedelta(seconds=s.pending_call_ttl_seconds),
            queue_timeout=timedelta(seconds=s.command_queue_ttl_seconds),
            records=self.records,
        )

    def routers(self) -> dict[str, Router]:
        parts = CentralSystemParts(
            charging=self.charging_service,
            directory=self.directory,
            clock=self.clock,
            heartbeat_interval=self.settings.heartbeat_interval_seconds,
            store=self.tenant_store,
            records=self.records,
        )
        return {name: plugin.router(parts) for name, plugin in self.versions.items()}

    @cached_property
    def call_lookup(self) -> CallLookup:
        from csms.adapters.redis_state import (
            RedisCallLookup,
            RedisConnectionRegistry,
            RedisReplayCache,
        )

        registry, replay = self.connection_registry, self.replay_cache
        # Both in Redis (not replaced by a test's fakes): read together, one round trip.
        if isinstance(registry, RedisConnectionRegistry) and isinstance(
            replay, RedisReplayCache
        ):
            return RedisCallLookup(registry, replay)
        return SeparateCallLookup(registry, replay)

    @cached_property
    def message_service(self) -> MessageService:
        return MessageService(
            registry=self.connection_registry,
            replay=self.replay_cache,
            calls=self.call_lookup,
            pending=self.pending_calls,
            routers=self.routers(),
            default_version=next(iter(self.versions.values())).version,
            clock=self.clock,
            commands=self.command_service,
            records=self.records,
        )

    @cached_property
    def connect_service(self) -> ConnectService:
        return ConnectService(
            directory=self.directory,
            registry=self.connection_registry,
            store=self.tenant_store,
            gateway=self.connection_gateway,
            supported_subprotocols=tuple(self.versions),
            clock=self.clock,
            records=self.records,
            commands=self.command_service,
            verified=self.verified_credentials,
            credential_key=self.credential_key,
        )

    @cached_property
    def fleet_service(self) -> FleetService:
        from csms.services.fleet import FleetService

        return FleetService(
            directory=self.directory,
            store=self.tenant_store,
            registry=self.connection_registry,
            gateway=self._gateway_from_settings,
            clock=self.clock,
            records=self.records,
        )

    @cached_property
    def command_sweeper(self) -> CommandSweeper:
        from csms.services.command_sweep import CommandSweeper

        return CommandSweeper(
            directory=self.directory, store=self.tenant_store, commands=self.command_service,
            clock=self.clock,
        )

    @cached_property
    def reservation_expiry(self) -> ReservationExpiry:
        from csms.services.reservations import ReservationExpiry

        return ReservationExpiry(self.directory, self.tenant_store, self.records, self.clock)


# The container's Wiring: built from the environment on first use, or installed by `use`.
_current: Wiring | None = None
# Handlers on several threads (the local stack) must all get the same Wiring: a second
# one would hold its own record buffers, and what a handler buffered there would be lost.
_building = threading.Lock()


def current() -> Wiring:
    global _current
    wiring = _current
    if wiring is None:
        with _building:
            if _current is None:
                _current = Wiring(Settings.from_env())
            wiring = _current
    return wiring


def use(wiring: Wiring | None) -> Wiring | None:
    """Install `wiring` (None: the next call builds one from the environment again);
    returns the one it replaces, for putting it back."""
    global _current
    previous, _current = _current, wiring
    return previous


@contextmanager
def using(wiring: Wiring) -> Iterator[Wiring]:
    """`wiring` installed for the block; what was installed before comes back after."""
    previous = use(wiring)
    try:
        yield wiring
    finally:
        use(previous)


# Wirings reset() put aside, kept (not left to the collector) until close_retired().
_retired: list[Wiring] = []


def reset() -> None:
    """Forget the installed Wiring, so the next call re-reads the environment (tests).
    Handlers still running may hold it, so it is put aside, not closed."""
    previous = use(None)
    if previous is not None:
        _retired.append(previous)


def close_retired() -> None:
    """Close the clients of the Wirings reset() put aside (tests, once no handler runs:
    a client dropped unclosed holds sockets and threads until the collector finds it)."""
    while _retired:
        _retired.pop().close()


# What the entrypoints call: thin delegates to the installed Wiring.


def settings() -> Settings:
    return current().settings


def token_verifier() -> TokenVerifier:
    return current().token_verifier


def fleet_service() -> FleetService:
    return current().fleet_service


def tenant_queries(tenant_id: str) -> MongoTenantQueries:
    return current().tenant_queries(tenant_id)


def directory() -> Directory:
    return current().directory


def tenant_store() -> MongoTenantStore:
    # Typed as MongoDB's because creating a tenant calls its ensure_indexes, which the
    # TenantData port lacks; a fake store given to a Wiring needs that method too.
    return cast("MongoTenantStore", current().tenant_store)


def connection_registry() -> ConnectionRegistry:
    return current().connection_registry


def pending_calls() -> PendingCalls:
    return current().pending_calls


def command_queue() -> CommandQueue:
    return current().command_queue


def rate_limiter() -> RateLimiter:
    return current().rate_limiter


def replay_cache() -> ReplayCache:
    return current().replay_cache


def verified_credentials() -> VerifiedCredentials | None:
    return current().verified_credentials


def connection_gateway(endpoint: str | None) -> ConnectionGateway:
    return current().connection_gateway(endpoint)


def versions() -> dict[str, VersionPlugin]:
    return current().versions


def event_publisher() -> EventPublisher:
    return current().event_publisher


def dead_letters() -> DeadLetters:
    return current().dead_letters


def record_applier() -> RecordApplier:
    return current().record_applier


def records() -> BufferedRecords:
    return current().records


def charging_service() -> ChargingService:
    return current().charging_service


def command_service() -> CommandService:
    return current().command_service


def message_service() -> MessageService:
    return current().message_service


def connect_service() -> ConnectService:
    return current().connect_service


def site_limits() -> SiteLimitController | None:
    return current().site_limits


def command_sweeper() -> CommandSweeper:
    return current().command_sweeper


def reservation_expiry() -> ReservationExpiry:
    return current().reservation_expiry
