"""OCPP 2.0.1 block H through the local gateway: reservations made through the tenant
API (ReserveNow on an EVSE or the whole station), used by a TransactionEvent, cancelled,
removed by the station, expired by the CSMS's own check; each of these three ends a
reservation_status event on MQTT matching its schema."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from csms import bootstrap
from csms.services.reservations import ReservationExpiry

from tests.event_schemas import validate_event
from tests.mqtt_subscriber import Subscriber

from .conftest import Api, api_for
from .test_commands_201 import post, station
from .test_events import evented_gateway  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e]

Payload = dict[str, Any]


def later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def reservations(api: Api, cp_id: str) -> dict[int, Payload]:
    listed = api.get(f"/v1/charge-points/{cp_id}/reservations").json["items"]
    return {r["reservation_id"]: r for r in listed}


def expire_now(tenant_id: str) -> int:
    """The scheduled sweep's reservation step, for this tenant only."""
    expiry = ReservationExpiry(bootstrap.directory(), bootstrap.tenant_store(),
                               bootstrap.records(), bootstrap.utc_now,
                               tenant_ids=lambda: iter([tenant_id]))
    try:
        return expiry.sweep()
    finally:
        bootstrap.records().flush()


async def test_reservations_are_used_cancelled_removed_and_expired(
    evented_gateway, fleet, mqtt_url  # noqa: F811
):
    gateway = evented_gateway
    cp_id = fleet.add_charge_point("RESERVE201")
    operator = api_for(gateway, fleet.tenant_id, "operator")
    subscriber = Subscriber(mqtt_url, f"ocpp/events/{fleet.tenant_id}/{cp_id}/reservations")
    path = f"/v1/charge-points/{cp_id}/reservations"
    async with station(gateway, cp_id) as cs:
        on_evse = await post(operator, path, {"id_token": "ACCEPTED", "evse_id": 1,
                                              "expires_at": later(3600)}, wait=10)
        whole = await post(operator, path, {"id_token": "ACCEPTED", "expires_at": later(1),
                                            "group_id_token": "GROUP-1"}, wait=10)
        removed = await post(operator, path, {"id_token": "ACCEPTED", "expires_at": later(3600)},
                             wait=10)
        cancelled = await post(operator, path, {"id_token": "ACCEPTED", "evse_id": 2,
                                                "expires_at": later(3600)}, wait=10)
        first, second, third, fourth = (r.json["request"]["id"]
                                        for r in (on_evse, whole, removed, cancelled))
        assert all(r.status == 200 and r.json["status"] == "completed"
                   for r in (on_evse, whole, removed, cancelled)), on_evse.text
        assert reservations(operator, cp_id)[first]["status"] == "Active"

        await cs.call("TransactionEvent", {
            "eventType": "Started", "timestamp": datetime.now(UTC).isoformat(),
            "triggerReason": "Authorized", "seqNo": 0, "reservationId": first,
            "transactionInfo": {"transactionId": "tx-reserved"},
            "idToken": {"idToken": "ACCEPTED", "type": "ISO14443"},
            "evse": {"id": 1, "connectorId": 1}})
        await cs.call("ReservationStatusUpdate", {"reservationId": third,
                                                  "reservationUpdateStatus": "Removed"})
        cancel = await asyncio.to_thread(
            operator.request, "DELETE", f"{path}/{fourth}", None, wait=10)
        unknown = await asyncio.to_thread(operator.request, "DELETE", f"{path}/999", None)
        await asyncio.sleep(1.2)
        expired = await asyncio.to_thread(expire_now, fleet.tenant_id)

    asked = cs.asked("ReserveNow")
    assert asked[0]["evseId"] == 1 and asked[0]["idToken"] == {
        "idToken": "ACCEPTED", "type": "ISO14443"}
    assert "evseId" not in asked[1]  # the whole station
    assert asked[1]["groupIdToken"] == {"idToken": "GROUP-1", "type": "Central"}
    assert cancel.status == 200 and cancel.json["status"] == "completed", cancel.text
    assert cs.asked("CancelReservation") == [{"reservationId": fourth}]
    assert unknown.status == 404
    assert expired == 1

    kept = reservations(operator, cp_id)
    assert (kept[first]["status"], kept[first]["transaction_id"]) == ("Used", "tx-reserved")
    assert kept[second]["status"] == "Expired"
    assert kept[second]["evse_id"] is None
    assert kept[third]["status"] == "Removed"
    assert kept[fourth]["status"] == "Cancelled"

    # A cancellation is the CancelReservation's command_completed event.
    received = await asyncio.to_thread(subscriber.wait_for, lambda m: len(m) >= 3)
    subscriber.close()
    for _, event in received:
        validate_event(event)
    assert sorted((e["data"]["reservation_id"], e["data"]["status"]) for _, e in received) == [
        (first, "Used"), (second, "Expired"), (third, "Removed")]


async def test_the_sweep_leaves_reservations_of_the_future_alone(gateway, fleet):
    cp_id = fleet.add_charge_point("RESERVEKEEP")
    operator = api_for(gateway, fleet.tenant_id, "operator")
    async with station(gateway, cp_id):
        made = await post(operator, f"/v1/charge-points/{cp_id}/reservations",
                          {"id_token": "ACCEPTED", "expires_at": later(3600)}, wait=10)
    assert made.status == 200, made.text
    assert await asyncio.to_thread(expire_now, fleet.tenant_id) == 0
    [kept] = reservations(operator, cp_id).values()
    assert kept["status"] == "Active"
