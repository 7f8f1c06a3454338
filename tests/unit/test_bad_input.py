"""Frames a fuzzer finds: each gets its spec-correct CallError, and every frame that was
answered lands in the message log in a form any document store takes."""

from __future__ import annotations

import json

import pytest
from csms.services.storable import MAX_DEPTH, TOO_DEEP, storable

from .conftest import World

START = {"connectorId": 1, "idTag": "DEMO", "timestamp": "2026-11-22T11:00:00Z"}


def test_a_frame_nested_deeper_than_the_parser_goes_gets_formation_violation(world: World):
    reply = world.send("[" * 100_000)

    assert reply[:3] == [4, "-1", "FormationViolation"]


def test_a_message_id_nested_990_deep_gets_formation_violation(world: World):
    reply = world.send("[2," + "[" * 990 + "]" * 990 + ',"Heartbeat",{}]')

    assert reply[:3] == [4, "-1", "FormationViolation"]


@pytest.mark.parametrize("meter_start", [2**31, 2**70, -(2**31) - 1])
def test_an_integer_beyond_32_bits_gets_type_constraint_violation(world: World, meter_start):
    reply = world.call("StartTransaction", dict(START, meterStart=meter_start))

    assert reply[:3] == [4, "m1", "TypeConstraintViolation"]
    assert "meterStart" in reply[3]


def test_the_largest_32_bit_integer_is_accepted(world: World):
    reply = world.call("StartTransaction", dict(START, meterStart=2**31 - 1))

    assert reply[0] == 3


def test_a_frame_with_a_huge_integer_is_logged_with_its_raw_text(world: World):
    raw = json.dumps([2, "m1", "StartTransaction", dict(START, meterStart=2**70)])

    world.send(raw)

    incoming = world.tenant.messages.entries[0]
    assert incoming["payload"]["meterStart"] == str(2**70)
    assert incoming["raw"] == raw


def test_a_lone_surrogate_in_the_message_id_comes_back_as_valid_utf8(world: World):
    raw = '[2,"id-\\ud800","Heartbeat",{}]'

    reply = world.messages.handle("conn-1", raw)

    assert reply is not None
    reply.encode("utf-8")  # strict: would raise on a lone surrogate
    assert json.loads(reply)[:2] == [3, "id-\ud800"]
    assert all("\ud800" not in e["message_id"] for e in world.tenant.messages.entries)


def test_keys_a_document_store_refuses_are_escaped_in_the_log(world: World):
    world.call("DataTransfer", {"vendorId": "V", "data": "x", "$where": 1, "a.b": 2})

    payload = world.tenant.messages.entries[0]["payload"]
    assert {"%24where", "a%2Eb"} <= set(payload)


def test_storable_leaves_ordinary_payloads_untouched():
    payload = {"connectorId": 1, "meterValue": [{"sampledValue": [{"value": "1.5"}]}]}

    assert storable(payload) == (payload, False)


def test_storable_replaces_structures_nested_too_deeply():
    deep: list = []
    node = deep
    for _ in range(MAX_DEPTH + 5):
        node.append([])
        node = node[0]

    fixed, changed = storable(deep)

    assert changed
    assert json.dumps(fixed).count("[") == MAX_DEPTH
    assert TOO_DEEP in json.dumps(fixed)
