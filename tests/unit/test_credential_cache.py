"""Reconnect storms: a login verified lately skips the scrypt check, never weakening it."""

from __future__ import annotations

import base64

import pytest
from csms.domain.credentials import hash_password
from csms.domain.model import RegisteredChargePoint, Tenant
from csms.services import connect as connect_module
from csms.services.connect import ConnectRequest, ConnectService

from tests.fakes.memory import MemoryVerifiedCredentials

from .conftest import TENANT, World

PASSWORD = "0123456789abcdef-pass"
KEY = b"k" * 32


def login(cp: str = "CP-9", password: str = PASSWORD, connection_id: str = "c") -> ConnectRequest:
    auth = "Basic " + base64.b64encode(f"{cp}:{password}".encode()).decode()
    return ConnectRequest(connection_id, cp, auth, ("ocpp1.6",), "127.0.0.1")


@pytest.fixture
def scrypt_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = connect_module.verify_password

    def counting(password, stored):
        calls.append(password)
        return real(password, stored)

    monkeypatch.setattr(connect_module, "verify_password", counting)
    return calls


@pytest.fixture
def cache() -> MemoryVerifiedCredentials:
    return MemoryVerifiedCredentials()


@pytest.fixture
def service(world: World, cache) -> ConnectService:
    world.directory.create_tenant(Tenant(TENANT, "A"))
    world.directory.add_charge_point(RegisteredChargePoint("CP-9", TENANT, hash_password(PASSWORD)))
    return ConnectService(world.directory, world.registry, world.store, lambda e: world.gateway,
                          ("ocpp1.6",), world.clock, world.records, world.commands,
                          verified=cache, credential_key=KEY)


def test_a_reconnect_with_the_same_password_skips_the_scrypt_check(service, scrypt_calls):
    assert service.connect(login(connection_id="c1")).status_code == 200
    assert service.connect(login(connection_id="c2")).status_code == 200

    assert len(scrypt_calls) == 1


def test_a_wrong_password_is_checked_in_full_and_refused(service, scrypt_calls):
    service.connect(login())

    assert service.connect(login(password="another-password-123")).status_code == 401
    assert len(scrypt_calls) == 2


def test_a_new_password_invalidates_the_cached_login(world: World, service, scrypt_calls):
    service.connect(login())
    world.directory.set_charge_point_password("CP-9", hash_password("a-brand-new-password"))

    assert service.connect(login()).status_code == 401
    assert service.connect(login(password="a-brand-new-password")).status_code == 200


def test_a_disabled_charger_is_refused_despite_its_cached_login(world: World, service):
    service.connect(login())
    world.directory.set_charge_point_enabled("CP-9", False)

    assert service.connect(login()).status_code == 401


def test_the_cache_holds_a_keyed_hash_never_the_password(service, cache):
    service.connect(login())

    (tag,) = cache.tags.values()
    assert PASSWORD not in tag and len(tag) == 64


def test_without_a_key_nothing_is_cached(world: World, cache, scrypt_calls):
    world.directory.create_tenant(Tenant(TENANT, "A"))
    world.directory.add_charge_point(RegisteredChargePoint("CP-9", TENANT, hash_password(PASSWORD)))
    keyless = ConnectService(world.directory, world.registry, world.store, lambda e: world.gateway,
                             ("ocpp1.6",), world.clock, world.records, world.commands,
                             verified=cache, credential_key=None)

    keyless.connect(login())
    keyless.connect(login())

    assert cache.tags == {} and len(scrypt_calls) == 2
