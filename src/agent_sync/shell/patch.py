"""The paths a Codex ``apply_patch`` patch writes.

The format (Codex CLI's ``apply_patch`` tool, also run as a shell command)::

    *** Begin Patch
    *** Update File: src/app.py
    *** Move to: src/new_name.py
    @@ ...
    -old
    +new
    *** Add File: docs/new.md
    +text
    *** Delete File: old.txt
    *** End Patch
"""

from __future__ import annotations

_BEGIN = "*** Begin Patch"
_END = "*** End Patch"
_HEADERS = ("*** Update File:", "*** Add File:", "*** Delete File:", "*** Move to:")


def patch_paths(text) -> list[str]:
    """Every path the patch in ``text`` writes, in order, without duplicates, as written.

    Update, Add and Delete write their path; ``*** Move to:`` writes its destination as well (a move writes
    both paths).  Reading starts after the first ``*** Begin Patch`` line (text before it is ignored) and
    stops at ``*** End Patch`` or the end of the text (a truncated patch still reports its headers).
    Header lines may carry surrounding whitespace and CRLF line ends.  A context line whose text looks
    like a header is taken as one: it over-reports, the safe side for a guard.  No patch: ``[]``.
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    if not isinstance(text, str) or _BEGIN not in text:
        return []
    paths: list[str] = []
    started = False
    for line in text.split("\n"):
        line = line.strip()
        if not started:
            started = line == _BEGIN
            continue
        if line == _END:
            break
        if line.startswith("*** "):
            for header in _HEADERS:
                if line.startswith(header):
                    path = line[len(header) :].strip()
                    if path and path not in paths:
                        paths.append(path)
                    break
    return paths
