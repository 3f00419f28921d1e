"""The hook front end: `agent-sync hook [--agent NAME] EVENT` with the event's JSON on stdin.

Reads the payload, lets the agent's adapter translate it, lets the engine decide, and writes the adapter's
answer. Hooks fail open on our own faults (bad input, a broken or busy database, a bug) and fail closed only on
a real conflict with another agent; they never print a traceback and never wait long for the database.
"""

import os
import sys

from agent_sync import jsonwire

MAX_PARSE = 8 * 1024 * 1024  # payloads up to this size are parsed whole; larger ones are read for what matters
# Keys whose string values a decision needs, wherever they sit in the payload.
SALVAGE_KEYS = ("session_id", "sessionId", "conversation_id", "cwd", "hook_event_name", "hookEventName",
                "tool_name", "toolName", "file_path", "notebook_path", "path", "filePath", "command",
                "dir_path", "workspace_root")


def _string_values(data: bytes, keys) -> dict[str, list[str]]:
    """Every string value of each of `keys` in raw JSON, however large the document, in one pass. A key inside
    a string value has escaped quotes, so `[{,] "key" :` can only match a real key."""
    import re

    names = b"|".join(re.escape(key.encode()) for key in keys)
    # the string body as an unrolled loop (runs of plain characters at a time): megabytes stay fast
    pattern = re.compile(rb'[{,]\s*"(' + names + rb')"\s*:\s*"([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
    found: dict[str, list[str]] = {}
    for match in pattern.finditer(data):
        try:
            value = jsonwire.loads(b'"' + match.group(2) + b'"')
        except ValueError:
            continue
        found.setdefault(match.group(1).decode(), []).append(value)
    return found


ENCODED_KEYS = ("toolArgs", "tool_input")  # Copilot may send its tool input as a JSON string, or a raw patch


def salvage(data: bytes) -> dict:
    """The fields a decision needs from a payload too large to parse whole (a Write of a huge file): the
    tool, its paths and command, the session and the directory. A size cap never turns a conflict into an
    allow."""
    top, tool_input = {}, {}
    found = _string_values(data, SALVAGE_KEYS + ENCODED_KEYS)
    for key in SALVAGE_KEYS:
        values = found.get(key)
        if not values:
            continue
        if key in ("file_path", "notebook_path", "path", "filePath", "command", "dir_path"):
            tool_input[key] = values[0]
        else:
            top[key] = values[0]
    patch = None
    for key in ENCODED_KEYS:
        for encoded in found.get(key, ()):
            if encoded.lstrip().startswith("{"):
                inner = salvage(encoded.encode("utf-8", "surrogatepass"))
                tool_input.update(inner.get("tool_input", {}))
            elif "*** " in encoded:
                patch = patch or encoded
    if tool_input:
        top["tool_input"] = tool_input
        top["toolArgs"] = tool_input
    elif patch is not None:  # only the paths matter: keep the patch's header lines
        headers = "\n".join(line for line in patch.splitlines() if line.lstrip().startswith("***"))
        top["tool_input"] = top["toolArgs"] = headers
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
        payload = jsonwire.loads(data)
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
    event = None
    try:
        payload = read_payload()
        event = adapter.parse(event_name, payload, os.environ)
        if event is None:
            known = ", ".join(e[0] for e in adapter.EVENTS)
            print(f"agent-sync: unknown {adapter.TITLE} hook event {event_name!r}; known: {known}", file=sys.stderr)
            return 0
        verdict = engine.handle(event, close=False)  # the process ends right after answering
        return _write(adapter.render(event, verdict))
    except engine.NotARepository:
        return _allow(adapter, event)
    except Exception as exc:  # fail open, leave a trace for `agent-sync doctor`, and tell the agent once
        engine.log_failure(f"{agent_name} {event_name}", exc)
        if event is not None:
            try:
                return _write(adapter.render(event, engine.failed_open(event, exc)))
            except Exception:
                pass
        return _allow(adapter, event)


def _allow(adapter, event) -> int:
    """Let the call go on, in the agent's own words (some agents take a missing answer as a refusal)."""
    if event is None:
        return 0
    try:
        from agent_sync.core.engine import ALLOW

        out = adapter.render(event, ALLOW)
    except Exception:
        return 0
    if out.code != 0:
        return 0
    return _write(out)
