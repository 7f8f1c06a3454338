"""Fixtures of the integration tests' own: a tenant's database on the real MongoDB-wire
server, with its indexes, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from csms.adapters.mongo import MongoTenantData, MongoTenantStore
from pymongo import MongoClient


@pytest.fixture
def data(mongo_client: MongoClient, tenant_id: str) -> Iterator[MongoTenantData]:
    tenant = MongoTenantStore(mongo_client).for_tenant(tenant_id)
    tenant.ensure_indexes()
    yield tenant
    mongo_client.drop_database(tenant.db.name)
