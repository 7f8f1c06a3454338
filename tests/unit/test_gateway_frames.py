"""The local gateway writes its text frames itself (docs/perf.md, tenth pass): byte for
byte what websockets would write for a server with no extension negotiated."""

from __future__ import annotations

import pytest
from csms_local.gateway import _text_frame
from websockets.frames import Frame, Opcode


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_a_text_frame_is_what_websockets_writes_for_a_server(size: int) -> None:
    data = b"x" * size

    expected = Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])

    assert _text_frame(data) == expected
