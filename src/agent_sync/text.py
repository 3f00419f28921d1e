"""Text that other agents wrote is data: make it safe to print to a terminal or put in a model's context."""

import re

# ANSI CSI and OSC sequences, C0/C1 control bytes, and the bidirectional overrides that can make text
# display as something other than what it says.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
                      "|[\u202a-\u202e\u2066-\u2069]")


def clean(value, limit: int | None = None, *, one_line: bool = False) -> str:
    """Strip ANSI/OSC escape sequences and control bytes; optionally fold to one line and cap the length."""
    text = _CONTROL.sub("", "" if value is None else str(value))
    if one_line:
        text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text
