"""csms-sim: a fleet of simulated OCPP 1.6, 2.0.1 or 2.1 charge points against a CSMS.

    csms-sim --url ws://127.0.0.1:9000/ocpp --chargers 50 --password <pw> --duration 20
    csms-sim --ocpp 2.0.1 --profile fleet --chargers 20 --password <pw> --duration 60
    csms-sim --profile fleet --chargers 500 --ramp 30 --duration 60 --register \\
             --mongodb-uri mongodb://127.0.0.1:27017 --tenant demo --verify

Charger ids are <prefix>-00001, ...; each logs in with HTTP Basic auth (user = its id).
Loopback targets only unless --allow-remote; at most 20,000 chargers and one hour.
A progress line goes to stderr each second; the summary to stdout (JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from csms_local.sim import register, verify
from csms_local.sim.config import (
    MAX_CHARGERS,
    MAX_DURATION,
    OCPP_VERSIONS,
    PROFILES,
    SimConfig,
    SimConfigError,
    load_passwords,
)
from csms_local.sim.runner import run
from csms_local.sim.stats import Summary


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="csms-sim", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    target = p.add_argument_group("target")
    target.add_argument(
        "--url", default="ws://127.0.0.1:9000/ocpp", help="base URL; the charger id is appended"
    )
    target.add_argument("--ca-file", type=Path, help="CA to trust for wss://")
    target.add_argument("--password", help="one password for every charger")
    target.add_argument("--passwords", type=Path, help="JSON file: charger id -> password")
    target.add_argument(
        "--allow-remote", action="store_true", help="allow a target that is not loopback"
    )

    fleet = p.add_argument_group("fleet")
    fleet.add_argument("--profile", choices=PROFILES, default="saturate")
    fleet.add_argument(
        "--ocpp", choices=OCPP_VERSIONS, default="1.6",
        help="the OCPP version the chargers speak (2.1: 2.0.1's messages as ocpp2.1)",
    )
    fleet.add_argument("--chargers", type=int, default=10, help=f"1 to {MAX_CHARGERS}")
    fleet.add_argument("--prefix", default="SIM", help="ids are PREFIX-00001, ...")
    fleet.add_argument("--first", type=int, default=1, help="number of the first charger")
    fleet.add_argument(
        "--duration", type=float, default=10.0, help=f"seconds, at most {MAX_DURATION:g}"
    )
    fleet.add_argument("--ramp", type=float, default=0.0, help="seconds to bring all chargers up")
    fleet.add_argument("--processes", type=int, default=1, help="worker processes")
    fleet.add_argument("--call-timeout", type=float, default=30.0)
    fleet.add_argument("--connect-timeout", type=float, default=30.0)
    fleet.add_argument("--heartbeat-interval", type=float, default=300.0, help="fleet, storm")
    fleet.add_argument("--meter-interval", type=float, default=60.0, help="fleet")
    fleet.add_argument(
        "--charging-share", type=float, default=0.5, help="fleet: share of chargers charging"
    )
    fleet.add_argument("--session-seconds", type=float, default=600.0, help="fleet")
    fleet.add_argument("--id-tag", default="SIM-TAG", help="fleet: the tag sessions use")
    fleet.add_argument("--storms", type=int, default=1, help="storm: how many")

    reg = p.add_argument_group("registration and verification")
    reg.add_argument("--register", action="store_true", help="create the chargers first")
    reg.add_argument("--api-url", help="tenant API, e.g. http://127.0.0.1:3000/v1")
    reg.add_argument("--token", help="tenant API token (admin)")
    reg.add_argument("--mongodb-uri", help="register (and verify) straight in MongoDB")
    reg.add_argument("--tenant", help="the tenant (with --mongodb-uri)")
    reg.add_argument("--verify", action="store_true", help="count stored messages afterwards")
    reg.add_argument("--verify-wait", type=float, default=30.0, help="seconds, at most")

    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    out.add_argument("--quiet", action="store_true", help="no progress line")
    return p


def config_from(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        url=args.url,
        chargers=args.chargers,
        prefix=args.prefix,
        first=args.first,
        profile=args.profile,
        ocpp=args.ocpp,
        duration=args.duration,
        ramp=args.ramp,
        processes=args.processes,
        password=args.password,
        passwords=load_passwords(args.passwords) if args.passwords else {},
        ca_file=args.ca_file,
        allow_remote=args.allow_remote,
        call_timeout=args.call_timeout,
        connect_timeout=args.connect_timeout,
        heartbeat_interval=args.heartbeat_interval,
        meter_interval=args.meter_interval,
        charging_share=args.charging_share,
        session_seconds=args.session_seconds,
        id_tag=args.id_tag,
        storms=args.storms,
        progress=not args.quiet,
    )


def _register(args: argparse.Namespace, config: SimConfig) -> dict[str, int]:
    ids = config.charger_ids()
    if config.password is None and not config.passwords:
        from csms.domain.credentials import generate_password

        config.password = generate_password()
    if args.api_url and args.token:
        return register.via_api(args.api_url, args.token, ids, config.password_of)
    if args.mongodb_uri and args.tenant:
        return register.via_mongodb(args.mongodb_uri, args.tenant, ids, config.password_of)
    raise SimConfigError("--register needs --api-url and --token, or --mongodb-uri and --tenant")


def execute(args: argparse.Namespace) -> Summary:
    config = config_from(args)
    config.check()
    if args.verify and not (args.mongodb_uri and args.tenant):
        raise SimConfigError("--verify needs --mongodb-uri and --tenant")
    if args.register:
        outcome = _register(args, config)
        print(f"csms-sim: registered {outcome}", file=sys.stderr)
    since = datetime.now(UTC)
    summary = run(config)
    if args.verify:
        summary.verify = verify.count_stored(
            args.mongodb_uri,
            args.tenant,
            config.charger_ids(),
            since,
            datetime.now(UTC),
            summary,
            args.verify_wait,
        )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        summary = execute(args)
    except SimConfigError as exc:
        print(f"csms-sim: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        print(summary.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
