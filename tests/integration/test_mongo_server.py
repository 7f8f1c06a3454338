"""make run's MongoDB-wire server (SecantusDB) expires documents on the interval the stack
gives it: its own command line ignores the value of its configuration file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from csms_local import services
from pymongo import MongoClient


@pytest.fixture
def quick_sweeping_mongo() -> Iterator[MongoClient]:
    server = services.mongo(services.free_port(), ttl_sweep_seconds=1).start()
    client: MongoClient = MongoClient(f"mongodb://127.0.0.1:{server.port}", tz_aware=True)
    yield client
    client.close()
    server.stop()


def test_expired_documents_go_on_the_sweep_interval_the_stack_sets(
    quick_sweeping_mongo: MongoClient,
) -> None:
    # Given a TTL collection holding a document already past its expiry
    log = quick_sweeping_mongo["ttl_check"]["ocpp_messages"]
    log.create_index("expire_at", expireAfterSeconds=0)
    log.insert_one({"_id": "old", "expire_at": datetime.now(UTC) - timedelta(minutes=1)})
    # When the server sweeps every second (its built-in default is every 60 s)
    deadline = time.monotonic() + 15
    while log.find_one({"_id": "old"}) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    # Then the document is gone within a few sweeps, far sooner than a 60 s sweep would
    assert log.find_one({"_id": "old"}) is None
