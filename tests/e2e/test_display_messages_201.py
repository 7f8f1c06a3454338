"""OCPP 2.0.1 block O through the local gateway: messages set, the station's report of
what it shows (NotifyDisplayMessages in parts) replacing them, cleared; the tenant API
lists them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import Api, api_for
from .test_commands_201 import Station, command, station

pytestmark = [pytest.mark.e2e]

Payload = dict[str, Any]


def message(message_id: int, content: str, priority: str = "NormalCycle") -> Payload:
    return {"id": message_id, "priority": priority,
            "message": {"format": "UTF8", "language": "en", "content": content}}


@pytest.fixture
def operator(gateway, fleet) -> Api:
    return api_for(gateway, fleet.tenant_id, "operator")


def shown(api: Api, cp_id: str) -> dict[int, Payload]:
    reply = api.get(f"/v1/charge-points/{cp_id}/display-messages")
    assert reply.status == 200, reply.text
    return {m["id"]: m for m in reply.json["items"]}


async def report_in_two_parts(cs: Station, request: Payload) -> None:
    await cs.call("NotifyDisplayMessages", {"requestId": request["requestId"], "tbc": True,
                                            "messageInfo": [message(1, "Welcome back")]})
    await cs.call("NotifyDisplayMessages", {"requestId": request["requestId"],
                                            "messageInfo": [message(3, "Set by the station")]})
    cs.reported.set()  # type: ignore[attr-defined]


async def test_messages_are_set_reported_and_cleared(gateway, fleet, operator):
    cp_id = fleet.add_charge_point("DISPLAY201")
    async with station(gateway, cp_id) as cs:
        for item in (message(1, "Welcome"), message(2, "Closed at night")):
            reply = await command(operator, cp_id, "SetDisplayMessage", {"message": item},
                                  wait=10)
            assert reply.json["status"] == "completed", reply.text
        cs.answers["SetDisplayMessage"] = lambda _: {"status": "NotSupportedPriority"}
        refused = await command(operator, cp_id, "SetDisplayMessage",
                                {"message": message(9, "x", "AlwaysFront")}, wait=10)
        after_set = shown(operator, cp_id)

        cs.reported = asyncio.Event()  # type: ignore[attr-defined]
        cs.after["GetDisplayMessages"] = lambda request: report_in_two_parts(cs, request)
        asked = await command(operator, cp_id, "GetDisplayMessages", {"requestId": 5}, wait=10)
        await asyncio.wait_for(cs.reported.wait(), 10)  # type: ignore[attr-defined]
        after_report = shown(operator, cp_id)

        cleared = await command(operator, cp_id, "ClearDisplayMessage", {"id": 1}, wait=10)

    assert refused.json["status"] == "rejected"
    assert sorted(after_set) == [1, 2]
    assert after_set[2]["source"] == "set"
    assert after_set[2]["message"]["message"]["content"] == "Closed at night"

    assert asked.json["status"] == "completed", asked.text
    # The complete report lists 1 (changed) and 3: 2 is no longer shown.
    assert sorted(after_report) == [1, 3]
    assert after_report[1]["message"]["message"]["content"] == "Welcome back"
    assert (after_report[3]["source"], after_report[3]["request_id"]) == ("reported", 5)

    assert cleared.json["status"] == "completed", cleared.text
    assert sorted(shown(operator, cp_id)) == [3]


async def test_a_filtered_report_drops_nothing(gateway, fleet, operator):
    cp_id = fleet.add_charge_point("DISPLAYFILTER")
    async with station(gateway, cp_id) as cs:
        for item in (message(1, "One"), message(2, "Two")):
            await command(operator, cp_id, "SetDisplayMessage", {"message": item}, wait=10)
        reported = asyncio.Event()

        async def report(request: Payload) -> None:
            await cs.call("NotifyDisplayMessages", {"requestId": request["requestId"],
                                                    "messageInfo": [message(2, "Two!")]})
            reported.set()

        cs.after["GetDisplayMessages"] = report
        await command(operator, cp_id, "GetDisplayMessages", {"requestId": 8, "id": [2]},
                      wait=10)
        await asyncio.wait_for(reported.wait(), 10)

    kept = shown(operator, cp_id)
    assert sorted(kept) == [1, 2]
    assert kept[2]["message"]["message"]["content"] == "Two!"
