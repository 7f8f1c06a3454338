"""The simulator's options, their bounds, and the guard that keeps load on this machine."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

Profile = Literal["saturate", "fleet", "storm"]
PROFILES: tuple[Profile, ...] = ("saturate", "fleet", "storm")

# The OCPP versions a simulated charger speaks, and the subprotocol each asks for. 2.1
# chargers send 2.0.1's messages (2.1 kept them) under their own subprotocol.
OcppVersion = Literal["1.6", "2.0.1", "2.1"]
SUBPROTOCOLS: dict[OcppVersion, str] = {
    "1.6": "ocpp1.6",
    "2.0.1": "ocpp2.0.1",
    "2.1": "ocpp2.1",
}
OCPP_VERSIONS: tuple[OcppVersion, ...] = tuple(SUBPROTOCOLS)

MAX_CHARGERS = 20_000
MAX_DURATION = 3_600.0  # seconds; every run stops by itself within this
MAX_PROCESSES = 64


class SimConfigError(ValueError):
    """Options the simulator refuses to run with."""


@dataclass
class SimConfig:
    url: str = "ws://127.0.0.1:9000/ocpp"
    chargers: int = 10
    prefix: str = "SIM"
    first: int = 1
    profile: Profile = "saturate"
    ocpp: OcppVersion = "1.6"
    duration: float = 10.0
    ramp: float = 0.0
    processes: int = 1
    password: str | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    ca_file: Path | None = None
    allow_remote: bool = False
    call_timeout: float = 30.0
    connect_timeout: float = 30.0
    # fleet
    heartbeat_interval: float = 300.0
    meter_interval: float = 60.0
    charging_share: float = 0.5
    session_seconds: float = 600.0
    id_tag: str = "SIM-TAG"
    # storm
    storms: int = 1
    progress: bool = True

    def charger_ids(self) -> list[str]:
        return [f"{self.prefix}-{n:05d}" for n in range(self.first, self.first + self.chargers)]

    def password_of(self, charge_point_id: str) -> str | None:
        return self.passwords.get(charge_point_id, self.password)

    def check(self) -> None:
        """Raises SimConfigError for anything out of bounds or a target off this machine."""
        if not 1 <= self.chargers <= MAX_CHARGERS:
            raise SimConfigError(f"--chargers must be 1 to {MAX_CHARGERS}")
        if not 0 < self.duration <= MAX_DURATION:
            raise SimConfigError(f"--duration must be more than 0 and at most {MAX_DURATION:g} s")
        if not 0 <= self.ramp <= self.duration:
            raise SimConfigError("--ramp must be between 0 and --duration")
        if not 1 <= self.processes <= min(MAX_PROCESSES, self.chargers):
            raise SimConfigError(f"--processes must be 1 to min({MAX_PROCESSES}, --chargers)")
        if self.profile not in PROFILES:
            raise SimConfigError(f"--profile must be one of {', '.join(PROFILES)}")
        if self.ocpp not in OCPP_VERSIONS:
            raise SimConfigError(f"--ocpp must be one of {', '.join(OCPP_VERSIONS)}")
        if not 0 <= self.charging_share <= 1:
            raise SimConfigError("--charging-share must be between 0 and 1")
        for name in ("heartbeat_interval", "meter_interval", "session_seconds"):
            if getattr(self, name) <= 0:
                raise SimConfigError(f"--{name.replace('_', '-')} must be positive")
        if not 1 <= self.storms <= 100:
            raise SimConfigError("--storms must be 1 to 100")
        if self.call_timeout <= 0 or self.connect_timeout <= 0:
            raise SimConfigError("timeouts must be positive")
        parts = urlsplit(self.url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise SimConfigError(f"not a ws:// or wss:// URL: {self.url}")
        if parts.scheme == "wss" and self.ca_file is not None and not self.ca_file.is_file():
            raise SimConfigError(f"no CA file {self.ca_file}")
        if not self.allow_remote:
            check_loopback(parts.hostname)

    @property
    def subprotocol(self) -> str:
        return SUBPROTOCOLS[self.ocpp]

    def url_of(self, charge_point_id: str) -> str:
        return f"{self.url.rstrip('/')}/{charge_point_id}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """For wss://: TLS 1.2 or newer, trusting --ca-file (else the system's CAs)."""
        if urlsplit(self.url).scheme != "wss":
            return None
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file is not None else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


def check_loopback(host: str) -> None:
    """Every address `host` resolves to is a loopback address, or SimConfigError."""
    if host == "localhost":
        return
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        raise SimConfigError(f"cannot resolve {host}: {exc}") from None
    addresses = {info[4][0] for info in infos}
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
        if not ip.is_loopback:
            raise SimConfigError(
                f"{host} resolves to {ip}, not a loopback address; "
                "load goes to 127.0.0.0/8 or ::1 unless --allow-remote is given"
            )


def load_passwords(path: Path) -> dict[str, str]:
    """A JSON object of charge point id -> password."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SimConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise SimConfigError(f"{path} must hold a JSON object of charge point id -> password")
    return data
