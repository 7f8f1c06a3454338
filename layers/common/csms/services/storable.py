"""Message log entries that any document store takes, whatever a charger sent.

MongoDB and DocumentDB refuse integers beyond 64 bits, strings that are not valid
UTF-8 (lone surrogates), keys starting with `$` or holding `.` or NUL (DocumentDB), and
documents nested deeper than 100 levels. A frame carrying any of these is still
answered, so it is still logged: its payload is stored in a form they take, with the
original text beside it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Deeper structures are replaced by a marker; the raw text keeps them.
MAX_DEPTH = 32
# The raw text is kept up to this many characters (an SQS message holds 256 KB).
MAX_RAW_CHARS = 64 * 1024
TOO_DEEP = "<nested too deeply to store: see raw>"


def storable(value: Any) -> tuple[Any, bool]:
    """(a copy every document store takes, whether anything had to change)."""
    changed = False

    def fix_text(text: str) -> str:
        nonlocal changed
        if text.isascii():  # the usual case, and always valid UTF-8: no copy to check
            return text
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            changed = True
            return text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
        return text

    def fix_key(key: str) -> str:
        nonlocal changed
        fixed = fix_text(key)
        if fixed.startswith("$") or "." in fixed or "\x00" in fixed or "%" in fixed:
            escaped = (
                fixed.replace("%", "%25").replace("$", "%24").replace(".", "%2E")
                .replace("\x00", "%00")
            )
            changed = changed or escaped != fixed
            return escaped
        return fixed

    def fix(item: Any, depth: int) -> Any:
        nonlocal changed
        # Every message passes through here twice (the Call and its reply): the plain
        # JSON types are told apart by their exact type first, the rest below.
        kind = type(item)
        if kind is str:
            return fix_text(item)
        if kind is dict and depth < MAX_DEPTH:
            return {fix_key(k if type(k) is str else str(k)): fix(v, depth + 1)
                    for k, v in item.items()}
        if item is None or isinstance(item, bool | float | datetime):
            return item
        if isinstance(item, int):
            if INT64_MIN <= item <= INT64_MAX:
                return item
            changed = True
            return str(item)
        if isinstance(item, str):
            return fix_text(item)
        if depth >= MAX_DEPTH and isinstance(item, dict | list):
            changed = True
            return TOO_DEEP
        if isinstance(item, dict):
            return {fix_key(str(k)): fix(v, depth + 1) for k, v in item.items()}
        if isinstance(item, list):
            return [fix(v, depth + 1) for v in item]
        changed = True
        return repr(item)

    return fix(value, 0), changed


def storable_entry(entry: dict[str, Any], raw: str | None) -> dict[str, Any]:
    """The entry with every field storable; `raw` (the frame's text) is added when the
    stored payload differs from what the charger sent."""
    fixed, changed = storable(entry)
    if changed and raw is not None:
        text, _ = storable(raw[:MAX_RAW_CHARS])
        fixed["raw"] = text
        if len(raw) > MAX_RAW_CHARS:
            fixed["raw_truncated"] = True
    return fixed
