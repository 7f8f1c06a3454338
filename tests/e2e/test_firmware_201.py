"""Firmware (OCPP 2.0.1 block L, 1.6 alike) through the local gateway: a signed image
rolled out to 2.0.1 stations (UpdateFirmware with certificate and signature), a 1.6
charger (SignedUpdateFirmware) and an offline one (queued); each charger's statuses
followed in the rollout and published as firmware_status events; an unsigned update to
a 1.6 charger followed without a requestId; PublishFirmware followed through
PublishFirmwareStatusNotification."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from tests.event_schemas import validate_event
from tests.mqtt_subscriber import Subscriber

from .chargers import Charger
from .conftest import api_for, connected
from .test_commands_201 import command, post, station
from .test_events import evented_gateway  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e]

Payload = dict[str, Any]
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----"


class FirmwareCharger(Charger):
    """A 1.6 charger with the security extension's signed firmware update."""

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_):
        return call_result.UpdateFirmware()

    @on(Action.signed_update_firmware)
    def on_signed_update_firmware(self, request_id: int, firmware: dict, **_):
        return call_result.SignedUpdateFirmware(status="Accepted")


def soon(minutes: int = 1) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def wait_until(check, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_a_signed_rollout_is_followed_per_charger(
    evented_gateway, fleet, mqtt_url  # noqa: F811
):
    gateway = evented_gateway
    operator = api_for(gateway, fleet.tenant_id, "operator")
    first, second = fleet.add_charge_point("FW201A"), fleet.add_charge_point("FW201B")
    legacy, offline = fleet.add_charge_point("FW16"), fleet.add_charge_point("FWOFF")
    subscriber = Subscriber(mqtt_url, f"ocpp/events/{fleet.tenant_id}/{first}/firmware")
    async with connected(gateway, legacy, client=FirmwareCharger) as (cp16, _):
        await cp16.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        async with station(gateway, first) as a, station(gateway, second) as b:
            created = await post(operator, "/v1/firmware/rollouts", {
                "charge_point_ids": [first, second, legacy, offline],
                "location": "https://firmware.example.com/v2.bin", "retrieve_at": soon(),
                "signing_certificate": CERTIFICATE, "signature": "c2lnbmF0dXJl",
                "retries": 3})
            assert created.status == 201, created.text
            rollout_id = created.json["rollout_id"]
            request_id = created.json["request_id"]

            def sent_to_all() -> bool:
                view = operator.get(f"/v1/firmware/rollouts/{rollout_id}").json
                states = {c["charge_point_id"]: c["command_status"] for c in view["chargers"]}
                return states == {first: "completed", second: "completed",
                                  legacy: "completed", offline: "queued"}

            assert await wait_until(sent_to_all)
            for status in ("Downloading", "Downloaded", "SignatureVerified", "Installing",
                           "Installed"):
                await a.call("FirmwareStatusNotification",
                             {"status": status, "requestId": request_id})
            await b.call("FirmwareStatusNotification",
                         {"status": "InvalidSignature", "requestId": request_id})
            await cp16.call(call.SignedFirmwareStatusNotification(
                status="Downloading", request_id=request_id))
            # A status about some other update changes nothing of this rollout's.
            await b.call("FirmwareStatusNotification", {"status": "Idle"})

    [update] = a.asked("UpdateFirmware")
    assert update == {"requestId": request_id, "retries": 3, "firmware": {
        "location": "https://firmware.example.com/v2.bin", "retrieveDateTime": update[
            "firmware"]["retrieveDateTime"],
        "signingCertificate": CERTIFICATE, "signature": "c2lnbmF0dXJl"}}
    view = operator.get(f"/v1/firmware/rollouts/{rollout_id}").json
    by_charger = {c["charge_point_id"]: c for c in view["chargers"]}
    assert by_charger[first]["firmware_status"] == "Installed"
    assert by_charger[second]["firmware_status"] == "InvalidSignature"
    assert (by_charger[legacy]["action"], by_charger[legacy]["firmware_status"]) == (
        "SignedUpdateFirmware", "Downloading")
    assert by_charger[offline]["firmware_status"] is None
    assert view["summary"] == {"Installed": 1, "InvalidSignature": 1, "Downloading": 1,
                               "queued": 1}
    history = operator.get(f"/v1/charge-points/{first}/firmware").json["update"]
    assert [h["status"] for h in history["history"]][-1] == "Installed"
    assert history["signed"] is True
    assert operator.get("/v1/firmware/rollouts").json["items"][0]["rollout_id"] == rollout_id

    received = await asyncio.to_thread(subscriber.wait_for, lambda m: len(m) >= 5)
    subscriber.close()
    for _, event in received:
        validate_event(event)
    assert received[-1][1]["data"] == {"status": "Installed", "request_id": request_id,
                                       "final": True,
                                       "location": "https://firmware.example.com/v2.bin"}


async def test_an_unsigned_16_update_and_a_publication_are_followed(gateway, fleet):
    operator = api_for(gateway, fleet.tenant_id, "operator")
    legacy, controller = fleet.add_charge_point("FW16U"), fleet.add_charge_point("FWPUB")
    async with connected(gateway, legacy, client=FirmwareCharger) as (cp16, _):
        await cp16.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        created = await post(operator, "/v1/firmware/rollouts", {
            "charge_point_ids": [legacy], "location": "ftp://fw.example.com/1.bin",
            "retrieve_at": soon()})
        assert created.status == 201, created.text
        rollout_id = created.json["rollout_id"]
        assert await wait_until(lambda: operator.get(
            f"/v1/firmware/rollouts/{rollout_id}").json["chargers"][0]["command_status"]
            == "completed")
        await cp16.call(call.FirmwareStatusNotification(status="Installed"))

    async with station(gateway, controller) as cs:
        published = await command(operator, controller, "PublishFirmware", {
            "location": "https://fw.example.com/2.bin", "checksum": "0" * 32,
            "requestId": 77}, wait=10)
        await cs.call("PublishFirmwareStatusNotification", {
            "status": "Published", "requestId": 77,
            "location": ["http://192.168.1.2/fw.bin"]})

    view = operator.get(f"/v1/firmware/rollouts/{rollout_id}").json
    assert (view["chargers"][0]["action"], view["chargers"][0]["firmware_status"]) == (
        "UpdateFirmware", "Installed")
    assert published.json["status"] == "completed", published.text
    publication = operator.get(f"/v1/charge-points/{controller}/firmware").json["publication"]
    assert (publication["status"], publication["locations"]) == (
        "Published", ["http://192.168.1.2/fw.bin"])
    unknown = await post(operator, "/v1/firmware/rollouts", {
        "charge_point_ids": ["NOT-MINE"], "location": "x", "retrieve_at": soon()})
    assert unknown.status == 404
    half_signed = await post(operator, "/v1/firmware/rollouts", {
        "charge_point_ids": [legacy], "location": "x", "retrieve_at": soon(),
        "signature": "abc"})
    assert half_signed.status == 422
