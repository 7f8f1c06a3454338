"""Tenant isolation of the OCPP 2.0.1 block routes (local list, reservations, display
messages, diagnostics, data transfer, firmware): tenant A's admin, naming tenant B's
charger, vendor handler or rollout, gets 403 or 404 (or only its own, empty, lists) and
never sees B's data; B's data stays as it was. The routes for
tests/e2e/test_isolation.py's matrix are BLOCK_ROUTES."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .test_isolation import Victim, fill, intruder, victim  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

SOON = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

BLOCK_ROUTES: dict[str, dict | None] = {
    "POST /v1/charge-points/{charge_point_id}/local-list": {"update_type": "Full"},
    "GET /v1/charge-points/{charge_point_id}/local-list": None,
    "GET /v1/local-lists": None,
    "POST /v1/charge-points/{charge_point_id}/reservations": {
        "id_token": "{id_tag}", "expires_at": SOON},
    "DELETE /v1/charge-points/{charge_point_id}/reservations/{reservation_id}": None,
    "GET /v1/charge-points/{charge_point_id}/display-messages": None,
    "GET /v1/charge-points/{charge_point_id}/logs": None,
    "GET /v1/charge-points/{charge_point_id}/monitors": None,
    "GET /v1/charge-points/{charge_point_id}/events": None,
    "GET /v1/charge-points/{charge_point_id}/customer-information/{request_id}": None,
    "PUT /v1/data-transfer/vendors/{vendor_id}": {"mode": "store"},
    "GET /v1/data-transfer/vendors": None,
    "GET /v1/data-transfer/vendors/{vendor_id}": None,
    "DELETE /v1/data-transfer/vendors/{vendor_id}": None,
    "GET /v1/charge-points/{charge_point_id}/data-transfers": None,
    "POST /v1/firmware/rollouts": {"charge_point_ids": ["{charge_point_id}"],
                                   "location": "https://x.example.com/fw",
                                   "retrieve_at": SOON},
    "GET /v1/firmware/rollouts": None,
    "GET /v1/firmware/rollouts/{rollout_id}": None,
    "GET /v1/charge-points/{charge_point_id}/firmware": None,
}

# Routes acting on A's own tenant whatever the path names (a vendorId is per tenant).
OWN_TENANT = {"GET /v1/data-transfer/vendors",
              "PUT /v1/data-transfer/vendors/{vendor_id}",
              "GET /v1/data-transfer/vendors/{vendor_id}",
              "DELETE /v1/data-transfer/vendors/{vendor_id}"}


@pytest.fixture(scope="module")
def b_with_blocks(victim: Victim) -> Victim:  # noqa: F811
    """B also has a vendor handler and a firmware rollout, named with its marker."""
    b = victim
    b.vendor_id = f"zq{b.marker}"
    assert b.api.put(f"/v1/data-transfer/vendors/{b.vendor_id}", {"mode": "store"}
                     ).status == 200
    rollout = b.api.post("/v1/firmware/rollouts", {
        "charge_point_ids": [b.charge_point_id], "location": "https://b.example.com/fw",
        "retrieve_at": SOON})
    assert rollout.status == 201, rollout.text
    b.rollout_id = rollout.json["rollout_id"]
    return b


def snapshot(b: Victim) -> dict:
    db = b.admin.tenants.for_tenant(b.tenant_id).db
    return {**b.snapshot(), **{name: list(db[name].find()) for name in (
        "local_lists", "reservations", "display_messages", "data_transfer_vendors",
        "firmware", "firmware_rollouts")}}


@pytest.mark.parametrize("route", list(BLOCK_ROUTES))
def test_tenant_a_cannot_reach_tenant_bs_block_data(route, b_with_blocks, intruder):  # noqa: F811
    b = b_with_blocks
    before = snapshot(b)
    method, template = route.split(" ", 1)

    def filled(text: str) -> str:
        return (fill(text, b).replace("{vendor_id}", b.vendor_id)
                .replace("{rollout_id}", b.rollout_id).replace("{reservation_id}", "1")
                .replace("{request_id}", "1"))

    body = BLOCK_ROUTES[route]
    if body is not None:
        body = {k: filled(v) if isinstance(v, str)
                else [filled(i) for i in v] if isinstance(v, list) else v
                for k, v in body.items()}
    reply = intruder.request(method, filled(template), body)

    if route in OWN_TENANT:
        assert reply.status in {200, 204, 404}, reply.text
    elif "{" in template or route == "POST /v1/firmware/rollouts":
        assert reply.status in {403, 404}, reply.text
    else:
        assert reply.status == 200, reply.text
        assert reply.json["items"] == []
    shown = reply.text.lower()
    if route in OWN_TENANT:
        # A's own handler of that name (A may have made it): only the name repeats.
        shown = shown.replace(b.vendor_id, "")
    assert b.marker not in shown
    # B's own handler is untouched by A's PUT/DELETE of the same vendorId.
    assert snapshot(b) == before
