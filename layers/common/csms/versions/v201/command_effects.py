"""What an accepted command changes in the tenant's records (OCPP 2.0.1 responses)."""

from __future__ import annotations

from csms.services.commands import CommandEffect

EFFECTS: dict[str, CommandEffect] = {}
