"""The hook front end: `agent-sync hook [--agent NAME] EVENT` with the event's JSON on stdin.

Reads the payload, lets the agent's adapter translate it, lets the engine decide, and writes the adapter's
answer. Hooks fail open on our own faults (bad input, a broken or busy database, a bug) and fail closed only on
a real conflict with another agent; they never print a traceback and never wait long for the database.
"""

import json
import os
import sys

MAX_PARSE = 8 * 1024 * 1024  # payloads up to this size are parsed whole; larger ones are read for what matters
# Keys whose string values a decision needs, wherever they sit in the payload.
SALVAGE_KEYS = ("session_id", "sessionId", "conversation_id", "cwd", "hook_event_name", "hookEventName",
                "tool_name", "toolName", "file_path", "notebook_path", "path", "filePath", "command",
                "dir_path", "workspace_root")


def _string_values(data: bytes, key: str) -> list[str]:
    """Every string value of `key` in raw JSON, however large the document. A key inside a string value
    has escaped quotes, so `[{,] "key" :` can only match a real key."""
    import re

    pattern = re.compile(rb'[{,]\s*"' + re.escape(key.encode()) + rb'"\s*:\s*"((?:[^"\\]|\\.)*)"', re.S)
    found = []
    for match in pattern.finditer(data):
        try:
            found.append(json.loads(b'"' + match.group(1) + b'"'))
        except ValueError:
            continue
    return found


def salvage(data: bytes) -> dict:
    """The fields a decision needs from a payload too large to parse whole (a Write of a huge file): the
    tool, its paths and command, the session and the directory. A size cap never turns a conflict into an
    allow."""
    top, tool_input = {}, {}
    for key in SALVAGE_KEYS:
        values = _string_values(data, key)
        if not values:
            continue
        if key in ("file_path", "notebook_path", "path", "filePath", "command", "dir_path"):
            tool_input[key] = values[0]
        else:
            top[key] = values[0]
    for encoded in _string_values(data, "toolArgs"):  # Copilot may send its tool input as a JSON string
        inner = salvage(encoded.encode("utf-8", "surrogatepass"))
        tool_input.update(inner.get("tool_input", {}))
    if tool_input:
        top["tool_input"] = tool_input
        top["toolArgs"] = tool_input
    return top


def read_payload(stream=None) -> dict:
    stream = sys.stdin if stream is None else stream
    if stream is None or stream.isatty():
        return {}
    data = stream.buffer.read()  # all of it: the agent waits until we have read what it wrote
    if not data.strip():
        return {}
    if len(data) > MAX_PARSE:
        return salvage(data)
    try:
        payload = json.loads(data)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _arguments(argv: list[str]) -> tuple[str, str]:
    """(agent, event) from `[--agent NAME] EVENT` (also `--agent=NAME`); Claude Code when no agent is named."""
    from agent_sync.agents import DEFAULT

    agent, rest = DEFAULT, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--agent" and i + 1 < len(argv):
            agent, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--agent="):
            agent = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return agent, (rest[0] if rest else "")


def _write(out) -> int:
    if out.stdout:
        sys.stdout.write(out.stdout if out.stdout.endswith("\n") else out.stdout + "\n")
    if out.stderr:
        sys.stderr.write(out.stderr if out.stderr.endswith("\n") else out.stderr + "\n")
    return out.code


def run_hook(argv: list[str]) -> int:
    from agent_sync.core import engine

    agent_name, event_name = _arguments(argv)
    if event_name == "git-pre-commit":
        try:
            from agent_sync.hooks.git_guard import run

            return run()
        except Exception as exc:  # our fault: never stop a commit for it
            engine.log_failure(event_name, exc)
            return 0
    try:
        from agent_sync import agents

        adapter = agents.load(agent_name)
    except ValueError as exc:
        print(f"agent-sync: {exc}", file=sys.stderr)
        return 0
    except Exception as exc:  # pragma: no cover - a broken installation; still never block the agent
        engine.log_failure(event_name, exc)
        return 0
    try:
        payload = read_payload()
        event = adapter.parse(event_name, payload, os.environ)
        if event is None:
            known = ", ".join(e[0] for e in adapter.EVENTS)
            print(f"agent-sync: unknown {adapter.TITLE} hook event {event_name!r}; known: {known}", file=sys.stderr)
            return 0
        verdict = engine.handle(event)
        return _write(adapter.render(event, verdict))
    except engine.NotARepository:
        return 0
    except Exception as exc:  # fail open, quietly, but leave a trace for `agent-sync doctor`
        engine.log_failure(f"{agent_name} {event_name}", exc)
        return 0
