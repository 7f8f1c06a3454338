"""csms-local: `run` the local stack, or `invoke` one function on one event file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def invoke(function: str, event_file: Path) -> dict[str, object]:
    """Like `sam local invoke -e`, without Docker, against the running local stack.

    `{{demo.<field>}}` in the event is replaced from .local/demo.json (the seeded demo
    charge point), `{{demo.authorization}}` by its HTTP Basic header and
    `{{demo.admin_token}}` by a fresh tenant API token of the demo tenant, so sample
    events never hold real credentials.
    """
    from csms_local.lambdas import LambdaContext, load_handler
    from csms_local.stack import StackConfig, apply_local_environment

    config = StackConfig.from_env()
    apply_local_environment(config)
    if "EVENTS_QUEUE_URL" not in os.environ:
        # As the stack's handlers do: records to the running stack's events queue, found
        # on its LocalStack through localstack-client; without one they are stored inline.
        from csms_local.sqs_poller import find_queues

        os.environ.update(find_queues())
    text = event_file.read_text()
    demo_file = config.data_dir / "demo.json"
    if "{{demo." in text:
        if not demo_file.exists():
            raise SystemExit("start the local stack once (make run) to seed the demo data")
        text = _fill_demo(text, json.loads(demo_file.read_text()))
    handler = load_handler(function)
    result = handler(json.loads(text), LambdaContext(function, "local-invoke"))
    return result


def _fill_demo(text: str, demo: dict[str, str]) -> str:
    import base64

    from csms_local.admin import issue_token

    def basic(password: str) -> str:
        credentials = f"{demo['charge_point_id']}:{password}".encode()
        return "Basic " + base64.b64encode(credentials).decode()

    values = dict(
        demo,
        authorization=basic(demo["password"]),
        wrong_authorization=basic("not-the-password-0000"),
        admin_token=issue_token(demo["tenant_id"], "admin", 300, "csms-local-invoke"),
    )
    for key, value in values.items():
        text = text.replace("{{demo." + key + "}}", value)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="csms-local")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole CSMS locally (Ctrl-C stops it)")
    inv = commands.add_parser("invoke", help="run one function on one event file")
    inv.add_argument("function", help="ws_connect, ws_message, ws_disconnect or tenant_api")
    inv.add_argument(
        "event", type=Path, help="an event file, e.g. events/ws_message/heartbeat.json"
    )
    args = parser.parse_args(argv)
    if args.command == "run":
        from csms_local.stack import run

        return run()
    print(json.dumps(invoke(args.function, args.event), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
