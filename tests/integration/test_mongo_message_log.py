"""The message log, written and read against a real MongoDB-wire server (SecantusDB): a
Call and its reply are one document (an exchange), and the API reads them as two
entries."""

from datetime import UTC, datetime, timedelta

import pytest
from csms.adapters.mongo_queries import MongoTenantQueries
from csms.domain.message_log import exchange

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


@pytest.fixture
def queries(data):
    return MongoTenantQueries(data.db)


def frame(n, direction, message_type, action="Heartbeat", cp="CP1", **extra):
    return {"_id": f"e{n:03d}:{direction}", "charge_point_id": cp, "connection_id": "c1",
            "timestamp": T0 + timedelta(seconds=n), "direction": direction,
            "message_type": message_type, "message_id": f"m{n}", "action": action,
            "payload": {"n": n}, **extra}


def answered(n, action="Heartbeat", reply_type="CallResult", cp="CP1"):
    return exchange(frame(n, "in", "Call", action, cp, raw="[2,..."),
                    frame(n, "out", reply_type, action, cp))


@pytest.fixture
def log(data):
    """Newest first: an exchange (4), a command's Call out (3) and its answer in (3,
    logged later with its own document), an exchange answered with a CallError (2), and
    an exchange (1)."""
    data.messages.record([
        answered(1, "BootNotification"),
        answered(2, "DataTransfer", reply_type="CallError"),
        frame(3, "out", "Call", "Reset"),
        answered(4),
    ])
    answer = frame(3, "in", "CallResult", "Reset")
    data.messages.record([{**answer, "timestamp": answer["timestamp"] + timedelta(seconds=0.5)}])
    return data


def listed(page):
    return [(e["message_id"], e["direction"], e["message_type"]) for e in page.items]


ALL = [("m4", "out", "CallResult"), ("m4", "in", "Call"),
       ("m3", "in", "CallResult"), ("m3", "out", "Call"),
       ("m2", "out", "CallError"), ("m2", "in", "Call"),
       ("m1", "out", "CallResult"), ("m1", "in", "Call")]


def test_an_exchange_is_stored_as_one_document(data):
    data.messages.record([answered(1)])

    assert data.db["ocpp_messages"].count_documents({}) == 1


def test_every_entry_is_listed_newest_first_with_a_reply_before_its_call(log, queries):
    assert listed(queries.messages(limit=50, offset=0)) == ALL


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_pages_of_any_size_list_each_entry_once(log, queries, size):
    pages = [queries.messages(limit=size, offset=offset) for offset in range(0, 10, size)]

    assert [entry for page in pages for entry in listed(page)] == ALL


def test_a_page_that_begins_inside_an_exchange_begins_with_its_call(log, queries):
    assert listed(queries.messages(limit=2, offset=1)) == [ALL[1], ALL[2]]


def test_a_reply_reads_as_its_own_entry_without_the_calls_raw_text(log, queries):
    reply, call = queries.messages(limit=2, offset=0).items

    assert reply["payload"] == {"n": 4} and "raw" not in reply
    assert call["raw"] == "[2,..."
    assert reply["charge_point_id"] == call["charge_point_id"] == "CP1"
    assert reply["timestamp"] == call["timestamp"]
    assert "reply" not in call


def test_direction_out_lists_replies_and_the_csms_calls(log, queries):
    assert listed(queries.messages(limit=50, offset=0, direction="out")) == [
        e for e in ALL if e[1] == "out"
    ]


def test_direction_in_lists_the_chargers_frames(log, queries):
    assert listed(queries.messages(limit=50, offset=0, direction="in")) == [
        e for e in ALL if e[1] == "in"
    ]


@pytest.mark.parametrize("message_type", ["Call", "CallResult", "CallError"])
def test_a_message_type_lists_only_that_type(log, queries, message_type):
    assert listed(queries.messages(limit=50, offset=0, message_type=message_type)) == [
        e for e in ALL if e[2] == message_type
    ]


def test_filtered_pages_list_each_entry_once(log, queries):
    pages = [queries.messages(limit=1, offset=n, direction="out") for n in range(5)]

    assert [e for page in pages for e in listed(page)] == [e for e in ALL if e[1] == "out"]


def test_a_direction_and_a_type_that_no_reply_has_exclude_exchanges(log, queries):
    assert listed(queries.messages(limit=50, offset=0, direction="out",
                                   message_type="Call")) == [("m3", "out", "Call")]


def test_an_action_lists_the_call_and_its_reply(log, queries):
    assert listed(queries.messages(limit=50, offset=0, action="DataTransfer")) == [
        ("m2", "out", "CallError"), ("m2", "in", "Call"),
    ]


def test_entries_logged_one_per_document_before_exchanges_are_still_listed(data, queries):
    # Given a log written by an earlier version: the Call and its reply apart
    data.messages.record([frame(1, "in", "Call"), frame(1, "out", "CallResult")])

    assert listed(queries.messages(limit=50, offset=0)) == [
        ("m1", "out", "CallResult"), ("m1", "in", "Call"),
    ]
    assert listed(queries.messages(limit=50, offset=0, message_type="CallResult")) == [
        ("m1", "out", "CallResult"),
    ]


def test_an_exchange_tells_that_the_charger_was_heard_from(data):
    data.messages.record([answered(1)])

    assert data.charge_points.heard_from_since("CP1", T0)
    assert not data.charge_points.heard_from_since("CP2", T0)
