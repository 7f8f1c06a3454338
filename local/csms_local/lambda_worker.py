"""One warm "container" of a Lambda function: a process that loads the handler once and
then runs one event at a time, read as a JSON line on stdin, answered as a JSON line.

The handler's own output (logs) goes to stderr, so it cannot corrupt the answers.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

from csms_local.lambdas import LambdaContext, load_handler


def main(function: str) -> int:
    # A Ctrl-C in make run's terminal reaches every process of its group. The stack stops
    # its containers itself (it closes their stdin or kills them); left to the default
    # handler, each printed a KeyboardInterrupt traceback as an ERROR log line.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    handler = load_handler(function)
    for line in sys.stdin:
        event = json.loads(line)
        context = LambdaContext(function, event.get("requestContext", {}).get("requestId", "-"))
        answer: dict[str, Any]
        try:
            answer = {"result": handler(event, context)}
        except Exception as exc:
            traceback.print_exc()
            answer = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
