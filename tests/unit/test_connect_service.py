"""$connect/$disconnect: identity, authentication, subprotocol, the connection registry."""

import base64

import pytest
from csms.domain.credentials import hash_password
from csms.domain.model import ConnectionStatus, RegisteredChargePoint, Tenant
from csms.services.connect import TENANT_CACHE_TTL, ConnectRequest, parse_basic_auth

from .conftest import TENANT

PASSWORD = "0123456789abcdef-pass"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def registered(world):
    world.directory.create_tenant(Tenant(TENANT, "A"))
    world.directory.add_charge_point(
        RegisteredChargePoint("CP-9", TENANT, hash_password(PASSWORD)))
    return world


def request(connection_id="new", cp="CP-9", auth=None, protocols=("ocpp1.6",)):
    return ConnectRequest(connection_id, cp, auth if auth is not None else basic(cp, PASSWORD),
                          tuple(protocols), "127.0.0.1")


def test_a_registered_charge_point_with_its_password_is_accepted(registered):
    decision = registered.connect.connect(request())
    assert (decision.status_code, decision.subprotocol) == (200, "ocpp1.6")
    assert registered.registry.connection_of("CP-9") == "new"
    assert registered.tenant.charge_points.state["CP-9"]["connection_status"] is (
        ConnectionStatus.CONNECTED)


@pytest.mark.parametrize(
    ("req", "status"),
    [
        pytest.param(request(auth=basic("CP-9", "wrong-password-123")), 401, id="wrong-password"),
        pytest.param(request(auth=""), 401, id="no-credentials"),
        pytest.param(request(auth=basic("CP-8", PASSWORD)), 401, id="username-not-the-cp"),
        pytest.param(request(cp="CP-UNKNOWN", auth=basic("CP-UNKNOWN", PASSWORD)), 401,
                     id="unknown-charge-point"),
        pytest.param(request(protocols=("ocpp1.5",)), 400, id="unsupported-subprotocol"),
        pytest.param(request(protocols=()), 400, id="no-subprotocol"),
        pytest.param(request(cp="bad/id"), 404, id="malformed-identity"),
    ],
)
def test_refusals(registered, req, status):
    assert registered.connect.connect(req).status_code == status
    assert registered.registry.connection_of("CP-9") is None


def test_a_disabled_charge_point_is_refused(registered):
    registered.directory.set_charge_point_enabled("CP-9", False)
    assert registered.connect.connect(request()).status_code == 401


def test_a_charge_point_of_a_suspended_tenant_is_refused(registered):
    registered.directory.create_tenant(Tenant(TENANT, "A", active=False))
    assert registered.connect.connect(request()).status_code == 401


def test_a_tenant_suspended_meanwhile_is_refused_once_its_cached_read_expires(registered):
    # Given a charger of an active tenant that connected (the tenant is read and kept)
    assert registered.connect.connect(request("first")).status_code == 200
    # When the tenant is suspended, and the tenant cache's time has passed
    registered.directory.create_tenant(Tenant(TENANT, "A", active=False))
    registered.clock.advance(TENANT_CACHE_TTL.total_seconds())
    # Then its chargers' new connections are refused
    assert registered.connect.connect(request("second")).status_code == 401


def test_a_reconnect_storm_reads_each_tenant_once_per_cache_period(registered, monkeypatch):
    reads: list[str] = []
    get_tenant = registered.directory.get_tenant
    monkeypatch.setattr(
        registered.directory, "get_tenant", lambda t: reads.append(t) or get_tenant(t)
    )
    assert registered.connect.connect(request("first")).status_code == 200
    assert TENANT in reads
    reads.clear()
    for n in range(5):
        assert registered.connect.connect(request(f"again-{n}")).status_code == 200
    assert reads == []


def test_the_clients_first_supported_subprotocol_is_chosen(registered):
    decision = registered.connect.connect(request(protocols=("ocpp2.1", "ocpp1.6")))
    assert decision.subprotocol == "ocpp1.6"


def test_a_reconnect_replaces_and_closes_the_old_connection(registered):
    registered.connect.connect(request("old"))
    registered.connect.connect(request("new"))
    assert registered.registry.connection_of("CP-9") == "new"
    assert registered.gateway.closed == ["old"]


def test_disconnect_of_a_replaced_connection_leaves_the_new_one(registered):
    registered.connect.connect(request("old"))
    registered.connect.connect(request("new"))
    registered.connect.disconnect("old", 1000, "bye")
    assert registered.registry.connection_of("CP-9") == "new"
    state = registered.tenant.charge_points.state["CP-9"]
    assert state["connection_status"] is ConnectionStatus.CONNECTED


def test_disconnect_records_the_session_and_marks_the_charge_point_offline(registered):
    registered.connect.connect(request("c1"))
    registered.connect.disconnect("c1", 1006, "gone")
    session = registered.tenant.sessions.sessions["c1"]
    assert (session["close_code"], session["close_reason"]) == (1006, "gone")
    assert registered.tenant.charge_points.state["CP-9"]["connection_status"] is (
        ConnectionStatus.DISCONNECTED)


def test_basic_auth_splits_at_the_first_colon_only():
    assert parse_basic_auth(basic("CP", "pa:ss")) == ("CP", "pa:ss")


def test_basic_auth_rejects_garbage():
    assert parse_basic_auth("Basic !!!") is None
    assert parse_basic_auth("Bearer abc") is None
