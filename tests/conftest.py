"""Real servers for the tests: Redis and a MongoDB-wire server (SecantusDB), started once
per test process on ports the kernel picks, so parallel runs never collide."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator

import pytest
import redis as redis_lib
from csms import bootstrap
from csms.adapters import mongo as mongo_adapter
from csms.adapters import redis_state
from csms_local import services
from pymongo import MongoClient


@pytest.fixture(scope="module", autouse=True)
def _close_what_the_module_left() -> Iterator[None]:
    """After each module (its gateways stopped: module fixtures it asked for end first),
    closes the clients of the Wirings its tests reset, then runs the collector: whatever
    the module dropped unclosed is finalized here, where pytest reports it against this
    module, and not at a random moment of some later test."""
    yield
    bootstrap.close_retired()
    gc.collect()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.Server]:
    server = services.redis(services.free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[services.Server]:
    server = services.mongo(services.free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server: a stand-in for SQS and Secrets Manager in integration tests that want
    an emulator of their own (make run and the e2e pipeline use LocalStack)."""
    server = services.moto(services.free_port()).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(scope="session")
def mqtt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MQTT broker (mosquitto where installed, else amqtt)."""
    server = services.mqtt(services.free_port(), tmp_path_factory.mktemp("mqtt")).start()
    yield f"mqtt://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: services.Server) -> str:
    return f"redis://127.0.0.1:{redis_server.port}/0"


@pytest.fixture(scope="session")
def mongodb_uri(mongo_server: services.Server) -> str:
    return f"mongodb://127.0.0.1:{mongo_server.port}"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_state.connect(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def mongo_client(mongodb_uri: str) -> Iterator[MongoClient]:
    client = mongo_adapter.connect(mongodb_uri)
    yield client
    client.close()


@pytest.fixture
def key_prefix() -> str:
    """A Redis key prefix no other test shares."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def tenant_id() -> str:
    """A tenant (and so a database) no other test shares."""
    return f"t{uuid.uuid4().hex[:12]}"
