"""OCPP 1.6's way to give a charger a new password: the security extension's
ChangeConfiguration of AuthorizationKey (the 1.6 security whitepaper, "Updating the
Charge Point password for HTTP Basic Authentication"). It belongs to the v16 plug-in;
until that package carries it, the command vocabularies are completed here. 2.0.1's
(SetVariables SecurityCtrlr.BasicAuthPassword) is in versions/v201/command_effects.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from csms.services.commands import CommandVocabulary, PasswordChange
from csms.versions import VersionPlugin, v16

AUTHORIZATION_KEY = "AuthorizationKey"
HIDDEN = "***"
# RebootRequired: the charger keeps the new key and uses it from its reboot on.
_KEY_TAKEN = frozenset({"Accepted", "RebootRequired"})


def _request(password: str) -> dict[str, Any]:
    return {"key": AUTHORIZATION_KEY, "value": password}


def _redacted(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "value": HIDDEN}


def _accepted(response: dict[str, Any]) -> bool:
    return response.get("status") in _KEY_TAKEN


V16_PASSWORD_CHANGE = PasswordChange(
    action="ChangeConfiguration", request=_request, redact=_redacted, accepted=_accepted
)


def command_vocabularies(plugins: Mapping[str, VersionPlugin]) -> dict[str, CommandVocabulary]:
    """Each version's commands by subprotocol, 1.6's with its password change."""
    vocabularies = {name: plugin.commands for name, plugin in plugins.items()}
    commands16 = vocabularies.get(v16.SUBPROTOCOL)
    if commands16 is not None and commands16.password_change is None:
        vocabularies[v16.SUBPROTOCOL] = replace(commands16, password_change=V16_PASSWORD_CHANGE)
    return vocabularies
