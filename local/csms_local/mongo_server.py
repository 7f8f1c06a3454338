"""secantusd, the MongoDB-wire server, with the TTL sweep interval `make run` asks for.

SecantusDB 0.7.0b3's command line reads `ttl_sweep_seconds` from its configuration file
and then never hands it to the server: the sweeper kept running every 60 s whatever the
file said. Every other setting still comes from its command line and file; only the
server it builds gets the interval from `--ttl-sweep-seconds`, given first:

    python -m csms_local.mongo_server --ttl-sweep-seconds 3600 <secantusd arguments>
"""

from __future__ import annotations

import functools
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--ttl-sweep-seconds":
        print("usage: mongo_server --ttl-sweep-seconds N <secantusd arguments>", file=sys.stderr)
        return 2
    interval = float(argv[1])
    from secantus import cli
    from secantus.server import SecantusDBServer

    cli.SecantusDBServer = functools.partial(
        SecantusDBServer, ttl_sweep_seconds=interval
    )
    result: int = cli.main(argv[2:])
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
