"""How domain objects and stored documents look in API responses."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from csms.adapters.mongo_queries import Page
from csms.domain.commands import Command
from csms.domain.model import IdTag, RegisteredChargePoint, Tenant

Json = dict[str, Any]


def page(result: Page) -> Json:
    return {
        "items": result.items,
        "limit": result.limit,
        "offset": result.offset,
        "next_offset": result.next_offset,
    }


def tenant(t: Tenant) -> Json:
    return asdict(t)


def charge_point(
    registered: RegisteredChargePoint, state: Json | None, connection_id: str | None
) -> Json:
    # Never the password hash; the live connection comes from Redis, the rest from MongoDB.
    return {
        "charge_point_id": registered.charge_point_id,
        "description": registered.description,
        "enabled": registered.enabled,
        "ocpp_version": registered.ocpp_version,
        "registration_status": registered.registration_status,
        "connected": connection_id is not None,
        "state": state or {},
    }


def id_tag(tag: IdTag) -> Json:
    view = asdict(tag)
    view["status"] = tag.status.value
    return view


def command(c: Command) -> Json:
    view = asdict(c)
    view.pop("new_password_hash")  # server-side only
    view["status"] = c.status.value
    return view
