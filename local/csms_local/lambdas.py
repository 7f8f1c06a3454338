"""Load the Lambda handlers from functions/<name>/app.py, as SAM would package them."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler(function: str) -> LambdaHandler:
    path = FUNCTIONS_DIR / function / "app.py"
    if not path.exists():
        raise FileNotFoundError(f"no function {function!r} (looked for {path})")
    spec = importlib.util.spec_from_file_location(f"functions.{function}.app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: LambdaHandler = module.lambda_handler
    return handler


class LambdaContext:
    """The attributes handlers and Powertools read from a Lambda context."""

    def __init__(self, function_name: str, request_id: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        )
        self.memory_limit_in_mb = 256
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
