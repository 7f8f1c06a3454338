"""A seeded generator of OCPP 1.6J frames for the fuzz test (seed 17): valid Calls built
from the JSON schemas the `ocpp` package ships, and every kind of wrong one, each with
what the Central System must answer, as far as the generator can tell.

Plain `random.Random(seed)`: the same seed gives the same frames.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from csms.protocol.schemas import ocpp_schema_dir

# OCPP 1.6J (with the security extension), by who initiates each action: the spec's lists.
CHARGER_INITIATED = (
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
    "StatusNotification", "StopTransaction", "LogStatusNotification",
    "SecurityEventNotification", "SignCertificate", "SignedFirmwareStatusNotification",
)
CSMS_INITIATED = (
    "CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache",
    "ClearChargingProfile", "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics",
    "GetLocalListVersion", "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow",
    "Reset", "SendLocalList", "SetChargingProfile", "TriggerMessage", "UnlockConnector",
    "UpdateFirmware", "CertificateSigned", "DeleteCertificate", "ExtendedTriggerMessage",
    "GetInstalledCertificateIds", "GetLog", "InstallCertificate", "SignedUpdateFirmware",
)

# What a reply must be. A CallError code of 1.6, or one of these:
RESULT = "CallResult"  # a CallResult with the frame's id
SILENT = "silent"  # a CallResult/CallError from the charger: nothing comes back
ANSWERED = "answered"  # a CallResult or any CallError, with the frame's id

FORMATION = "FormationViolation"
TYPE = "TypeConstraintViolation"
OCCURRENCE = "OccurenceConstraintViolation"  # 1.6's spelling
PROPERTY = "PropertyConstraintViolation"

ODD_TEXT = [
    "\u0000", "\u200b\u200d", "\u202eevil", "\ufeff", "e\u0301", "\U0001f50c\U0001f697",
    "\ud800", "\udfff", "\uffff", "\\", '"', "\u2028\u2029", "漢字", "\x7f",
]


@dataclass(frozen=True)
class Generated:
    """One frame, its kind, and the reply it must get."""

    kind: str
    data: str | bytes
    unique_id: str  # the id the reply must carry ("-1" when the frame has none to read)
    expect: str
    # A Call or an answer that reaches the message log as "in"
    logged_in: bool = False


def _inline_refs(node: Any, root: dict[str, Any]) -> Any:
    """The schema with its local "$ref"s (the security extension's definitions) replaced by
    what they point at."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _inline_refs(target, root)
        return {key: _inline_refs(value, root) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_refs(item, root) for item in node]
    return node


def _schemas() -> dict[str, dict[str, Any]]:
    directory: Path = ocpp_schema_dir("v16")
    loaded = {
        action: json.loads((directory / f"{action}.json").read_text(encoding="utf-8"))
        for action in CHARGER_INITIATED
        if (directory / f"{action}.json").exists()
    }
    return {action: _inline_refs(schema, schema) for action, schema in loaded.items()}


class FrameGenerator:
    def __init__(
        self, seed: int, id_prefix: str = "", lone_surrogates_in_payloads: bool = True
    ) -> None:
        self.rng = random.Random(seed)
        self._payload_text = ODD_TEXT if lone_surrogates_in_payloads else [
            t for t in ODD_TEXT if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]
        self.schemas = _schemas()
        self.actions = sorted(self.schemas)
        self._prefix = id_prefix
        self._counter = 0

    def frames(self, count: int) -> Iterator[Generated]:
        kinds = [
            (self.valid_call, 30), (self.wrong_type, 8), (self.missing_required, 6),
            (self.bad_enum, 4), (self.extra_property, 3), (self.huge_integer, 4),
            (self.unknown_action, 4), (self.csms_action, 3), (self.unknown_message_type, 3),
            (self.truncated, 6), (self.frame_shape, 6), (self.bad_unique_id, 3),
            (self.binary_garbage, 2), (self.binary_call, 2), (self.deeply_nested, 2),
            (self.odd_unicode_id, 3), (self.odd_unicode_payload, 4), (self.not_json, 3),
            (self.unmatched_answer, 4),
        ]
        makers = [maker for maker, _ in kinds]
        weights = [weight for _, weight in kinds]
        for _ in range(count):
            yield self.rng.choices(makers, weights)[0]()

    # ---------- ids and values ----------

    def _id(self) -> str:
        self._counter += 1
        return f"{self._prefix}{self._counter}"

    def _text(self, max_length: int) -> str:
        length = self.rng.randint(1, max(1, min(max_length, 20)))
        return "".join(self.rng.choice(string.ascii_letters + string.digits)
                       for _ in range(length))

    def value(self, schema: dict[str, Any], depth: int = 0) -> Any:
        """A value the schema accepts."""
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = kind[0]
        if kind == "object":
            return self.instance(schema, depth + 1)
        if kind == "array":
            items = schema.get("items", {})
            low = schema.get("minItems", 0)
            high = min(schema.get("maxItems", 3), max(low, 3))
            return [self.value(items, depth + 1) for _ in range(self.rng.randint(low, high))]
        if kind == "string":
            if schema.get("format") == "date-time":
                moment = datetime(2026, 11, 22, tzinfo=UTC) + timedelta(
                    seconds=self.rng.randint(0, 86_400))
                return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            return self._text(schema.get("maxLength", 20))
        if kind == "integer":
            return self.rng.randint(max(schema.get("minimum", 0), 0), 10_000)
        if kind == "number":
            return round(self.rng.uniform(0, 10_000), 1)
        if kind == "boolean":
            return self.rng.random() < 0.5
        return None

    def instance(self, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        chosen = {}
        for name, sub in properties.items():
            if name in required or (depth < 4 and self.rng.random() < 0.5):
                chosen[name] = self.value(sub, depth)
        return chosen

    def _call(self, action: str | None = None) -> tuple[str, str, dict[str, Any]]:
        action = action or self.rng.choice(self.actions)
        return self._id(), action, self.instance(self.schemas[action])

    def _with_property(self, kinds: tuple[str, ...]) -> tuple[str, str, dict[str, Any], str]:
        """A valid Call and one top-level property of it whose schema type is in kinds."""
        for _ in range(50):
            uid, action, payload = self._call()
            props = self.schemas[action].get("properties", {})
            names = [n for n, s in props.items() if s.get("type") in kinds and "enum" not in s]
            if names:
                name = self.rng.choice(names)
                payload.setdefault(name, self.value(props[name]))
                return uid, action, payload, name
        raise RuntimeError("no action with such a property")

    # ---------- the kinds ----------

    def valid_call(self) -> Generated:
        uid, action, payload = self._call()
        return Generated("valid", json.dumps([2, uid, action, payload]), uid, RESULT, True)

    def wrong_type(self) -> Generated:
        uid, action, payload, name = self._with_property(("string", "integer", "number"))
        kind = self.schemas[action]["properties"][name]["type"]
        payload[name] = self.rng.choice([[1, 2], {"x": 1}, True] + (
            [123] if kind == "string" else ["12"]))
        return Generated("wrong-type", json.dumps([2, uid, action, payload]), uid, TYPE, True)

    def missing_required(self) -> Generated:
        candidates = [a for a in self.actions if self.schemas[a].get("required")]
        uid, action, payload = self._call(self.rng.choice(candidates))
        del payload[self.rng.choice(self.schemas[action]["required"])]
        return Generated("missing-required", json.dumps([2, uid, action, payload]), uid,
                         OCCURRENCE, True)

    def bad_enum(self) -> Generated:
        for _ in range(50):
            uid, action, payload = self._call()
            props = self.schemas[action].get("properties", {})
            names = [n for n, s in props.items() if "enum" in s]
            if names:
                payload[self.rng.choice(names)] = "NotAValue"
                return Generated("bad-enum", json.dumps([2, uid, action, payload]), uid,
                                 PROPERTY, True)
        raise RuntimeError("no enum")

    def extra_property(self) -> Generated:
        uid, action, payload = self._call()
        payload["unexpected$.key"] = {"$set": 1}
        return Generated("extra-property", json.dumps([2, uid, action, payload]), uid,
                         FORMATION, True)

    def huge_integer(self) -> Generated:
        uid, action, payload, name = self._with_property(("integer",))
        payload[name] = self.rng.choice([2**64, 2**70, -(2**65), 10**30])
        return Generated("huge-integer", json.dumps([2, uid, action, payload]), uid, TYPE, True)

    def unknown_action(self) -> Generated:
        uid = self._id()
        action = self.rng.choice(["Fly", "heartbeat", "HEARTBEAT", "Bootnotification", "X" * 40])
        return Generated("unknown-action", json.dumps([2, uid, action, {}]), uid,
                         "NotImplemented", True)

    def csms_action(self) -> Generated:
        uid = self._id()
        action = self.rng.choice(CSMS_INITIATED)
        return Generated("csms-action", json.dumps([2, uid, action, {}]), uid, "NotSupported",
                         True)

    def unknown_message_type(self) -> Generated:
        uid = self._id()
        message_type = self.rng.choice([0, 1, 5, 9, -2, 2**70, "2", 2.0, None])
        text = json.dumps([message_type, uid, "Heartbeat", {}])
        # The id is read when the message type cannot be: it comes back on the error.
        return Generated("unknown-message-type", text, uid, FORMATION)

    def truncated(self) -> Generated:
        _, action, payload = self._call()
        text = json.dumps([2, self._id(), action, payload])
        cut = self.rng.randint(1, len(text) - 1)
        return Generated("truncated", text[:cut], "-1", FORMATION)

    def frame_shape(self) -> Generated:
        uid = self._id()
        text, reply_id = self.rng.choice([
            (json.dumps([2, uid, "Heartbeat"]), uid),
            (json.dumps([2, uid, "Heartbeat", {}, "extra"]), uid),
            (json.dumps([2, uid, "Heartbeat", []]), uid),
            (json.dumps([2, uid, "Heartbeat", "payload"]), uid),
            (json.dumps([2, uid, 17, {}]), uid),
            (json.dumps([2, uid, "", {}]), uid),
            (json.dumps([3, uid]), uid),
            (json.dumps([4, uid, "GenericError"]), uid),
            (json.dumps({"2": uid}), "-1"),
            (json.dumps([]), "-1"),
            (json.dumps("just a string"), "-1"),
            (json.dumps(42), "-1"),
        ])
        return Generated("frame-shape", text, reply_id, FORMATION)

    def bad_unique_id(self) -> Generated:
        self._id()
        bad = self.rng.choice([17, None, "", "x" * 37, ["a"], {"id": 1}, 2**70])
        return Generated("bad-unique-id", json.dumps([2, bad, "Heartbeat", {}]), "-1",
                         FORMATION)

    def binary_garbage(self) -> Generated:
        self._id()
        data = bytes([self.rng.choice([0x00, 0xFF, 0x80, 0xC3])]) + self.rng.randbytes(
            self.rng.randint(0, 64))
        return Generated("binary-garbage", data, "-1", FORMATION)

    def binary_call(self) -> Generated:
        uid = self._id()
        data = json.dumps([2, uid, "Heartbeat", {}]).encode()
        # OCPP-J is text: a binary frame is refused or read, never ignored.
        return Generated("binary-call", data, uid, ANSWERED, True)

    def deeply_nested(self) -> Generated:
        uid = self._id()
        depth = self.rng.choice([100, 1000, 5000])
        if self.rng.random() < 0.5:
            return Generated("deeply-nested", "[" * depth + "]" * depth, "-1", FORMATION)
        inner = '{"a":' * depth + "1" + "}" * depth
        text = f'[2,"{uid}","DataTransfer",{{"vendorId":"V","data":{inner}}}]'
        if depth >= 1000:  # beyond the parser: no id can be trusted
            return Generated("deeply-nested", text, "-1", FORMATION)
        return Generated("deeply-nested", text, uid, TYPE, True)

    def odd_unicode_id(self) -> Generated:
        uid = self._id() + self.rng.choice(ODD_TEXT)
        if len(uid) > 36:
            uid = uid[:36]
        text = json.dumps([2, uid, "Heartbeat", {}])
        return Generated("odd-unicode-id", text, uid, RESULT, True)

    def odd_unicode_payload(self) -> Generated:
        uid = self._id()
        odd = "".join(self.rng.choice(self._payload_text)
                      for _ in range(self.rng.randint(1, 4)))
        payload = {"vendorId": odd[:255], "messageId": odd[:50], "data": odd * 3}
        return Generated("odd-unicode-payload", json.dumps([2, uid, "DataTransfer", payload]),
                         uid, ANSWERED, True)

    def not_json(self) -> Generated:
        self._id()
        text = self.rng.choice(["", " ", "null", "[2,", "{", "[2 'x']", "NaN", "[2,\"a\",]",
                                "[2,\"a\",\"Heartbeat\",{}]]"])
        expect_id = "-1"
        return Generated("not-json", text, expect_id, FORMATION)

    def unmatched_answer(self) -> Generated:
        uid = self._id()
        text = self.rng.choice([
            json.dumps([3, uid, {"status": "Accepted"}]),
            json.dumps([4, uid, "GenericError", "no", {}]),
        ])
        return Generated("unmatched-answer", text, uid, SILENT, True)
