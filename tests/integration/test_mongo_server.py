"""make run's MongoDB-wire server (SecantusDB, through csms_local.mongo_server) expires
documents on the interval the stack gives it (its own command line ignores the value of
its configuration file), and keeps every index right while its write transactions read
the index catalog once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from csms_local import services
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError


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


@pytest.fixture
def collection(mongo_client: MongoClient) -> Iterator[Collection]:
    db = mongo_client[f"catalog_{time.monotonic_ns()}"]
    yield db["things"]
    mongo_client.drop_database(db.name)


def test_an_index_created_between_writes_holds_for_the_next_ones(collection: Collection) -> None:
    collection.insert_many([{"_id": 1, "serial": "A"}, {"_id": 2, "serial": "B"}])
    collection.create_index("serial", unique=True)

    with pytest.raises(DuplicateKeyError):
        collection.insert_one({"_id": 3, "serial": "A"})
    collection.insert_one({"_id": 4, "serial": "C"})
    found = collection.find({"serial": "C"}).hint([("serial", ASCENDING)])
    assert [d["_id"] for d in found] == [4]


def test_an_index_dropped_between_writes_no_longer_holds(collection: Collection) -> None:
    collection.create_index("serial", unique=True)
    collection.insert_one({"_id": 1, "serial": "A"})
    collection.drop_index("serial_1")

    collection.insert_one({"_id": 2, "serial": "A"})

    assert collection.count_documents({"serial": "A"}) == 2


def test_a_unique_index_checks_each_document_of_one_batch(collection: Collection) -> None:
    collection.create_index("serial", unique=True)

    with pytest.raises(BulkWriteError) as refused:
        collection.insert_many(
            [{"_id": 1, "serial": "A"}, {"_id": 2, "serial": "A"}, {"_id": 3, "serial": "B"}],
            ordered=False,
        )

    assert [e["index"] for e in refused.value.details["writeErrors"]] == [1]
    assert sorted(d["_id"] for d in collection.find()) == [1, 3]


def test_a_field_that_turns_into_an_array_mid_batch_is_found_by_its_elements(
    collection: Collection,
) -> None:
    # The index becomes multikey in the middle of one write transaction.
    collection.create_index("tags")
    collection.insert_many(
        [{"_id": 1, "tags": "a"}, {"_id": 2, "tags": ["b", "c"]}, {"_id": 3, "tags": "c"}]
    )

    found = collection.find({"tags": "c"}).hint([("tags", ASCENDING)])
    assert sorted(d["_id"] for d in found) == [2, 3]


def test_an_update_that_makes_an_array_keeps_the_index_right(collection: Collection) -> None:
    collection.create_index("tags")
    collection.insert_many([{"_id": 1, "tags": "a"}, {"_id": 2, "tags": "b"}])

    collection.update_many({}, {"$set": {"tags": ["x", "y"]}})
    collection.update_one({"_id": 1}, {"$set": {"tags": "z"}})

    assert [d["_id"] for d in collection.find({"tags": "y"}).hint([("tags", ASCENDING)])] == [2]
    assert [d["_id"] for d in collection.find({"tags": "z"}).hint([("tags", ASCENDING)])] == [1]
