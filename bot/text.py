"""Text from outside (feeds, chat commands) made safe to show: no control characters that
drive a terminal (ESC, BEL, BS, NUL) and no bidirectional overrides that reorder what a reader
sees (U+202E "RIGHT-TO-LEFT OVERRIDE" turns "exe.txt" into "txt.exe").

Applied once, where the text enters: feed titles and summaries, command arguments.
"""

from __future__ import annotations

import re

_INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 and C1 controls but tab, newline, return
    "\u061c\u200e\u200f"  # Arabic letter mark, LRM, RLM
    "\u202a-\u202e"  # embeddings and overrides
    "\u2066-\u2069"  # isolates
    "]"
)


def visible_text(text: str) -> str:
    """``text`` without control and bidirectional-formatting characters."""
    return _INVISIBLE.sub("", text)
