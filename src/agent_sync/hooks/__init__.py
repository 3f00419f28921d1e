"""Hook entry points: `agent-sync hook EVENT` with the event's JSON on stdin.

Hooks fail open on our own faults (bad input, a broken or busy database, a bug) and fail closed only on a real
conflict with another agent. They never print a traceback and never wait long for the database.
"""

import json
import os
import sys

MAX_STDIN = 4 * 1024 * 1024


def _read_payload() -> dict:
    stream = sys.stdin
    if stream is None or stream.isatty():
        return {}
    data = stream.buffer.read(MAX_STDIN + 1)
    if len(data) > MAX_STDIN or not data.strip():
        return {}
    try:
        payload = json.loads(data)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _log_failure(event: str, exc: BaseException) -> None:
    """Keep a one-line trace of a swallowed failure where `agent-sync doctor` users can find it."""
    try:
        from agent_sync.paths import find_root, state_dir

        directory = state_dir(find_root())
        if os.path.isdir(directory):
            with open(os.path.join(directory, "hook-errors.log"), "a", encoding="utf-8") as fh:
                fh.write(f"{event}: {type(exc).__name__}: {exc}\n")
    except Exception:
        pass


def run_hook(argv: list[str]) -> int:
    event = argv[0] if argv else ""
    if event == "git-pre-commit":
        try:
            from agent_sync.hooks.git_guard import run

            return run()
        except Exception as exc:  # our fault: never stop a commit for it
            _log_failure(event, exc)
            return 0
    try:
        from agent_sync.hooks import claude
    except Exception as exc:  # pragma: no cover - a broken installation; still never block the agent
        _log_failure(event, exc)
        return 0
    try:
        payload = _read_payload()
        handler = claude.HANDLERS.get(event)
        if handler is None:
            print(f"agent-sync: unknown hook event {event!r}; known: {', '.join(claude.HANDLERS)}", file=sys.stderr)
            return 0
        out = handler(payload)
    except claude.NotARepository:
        return 0
    except Exception as exc:  # fail open, quietly
        _log_failure(event, exc)
        return 0
    if out.stdout:
        sys.stdout.write(out.stdout if out.stdout.endswith("\n") else out.stdout + "\n")
    if out.stderr:
        sys.stderr.write(out.stderr if out.stderr.endswith("\n") else out.stderr + "\n")
    return out.code
