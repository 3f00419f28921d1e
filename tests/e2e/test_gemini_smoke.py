"""Proves the Gemini harness: the real Gemini CLI, the scripted Gemini API and a logging hook.

Independent of agent-sync: a project hook (``.gemini/settings.json``) written as a tiny Python
script logs every payload it gets on every event and denies BeforeTool on ``guarded.txt``. The
scripted model (a) calls write_file on guarded.txt, then on a new file, (b) calls replace with a
relative path, (c) calls run_shell_command ``echo hi > f.txt`` with ``dir_path``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from .fake_gemini import FakeGemini, FunctionCall, Text, text_of
from .gemini_harness import (
    GeminiUnavailable,
    ensure_gemini,
    hook_settings,
    run_gemini,
    write_user_settings,
)

# independent of agent-sync's store: run once
pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

EVENTS = [
    "SessionStart",
    "SessionEnd",
    "BeforeAgent",
    "AfterAgent",
    "BeforeModel",
    "AfterModel",
    "BeforeToolSelection",
    "BeforeTool",
    "AfterTool",
    "PreCompress",
    "Notification",
]

DENY_REASON = "guarded.txt is held by another agent (smoke-test hook)"

LOG_HOOK = f"""
import json, os, sys
log = sys.argv[1]
payload = json.loads(sys.stdin.read() or "null")
env = {{k: v for k, v in os.environ.items() if k.startswith(("GEMINI_", "CLAUDE_"))}}
with open(log, "a") as f:
    f.write(json.dumps({{"payload": payload, "env": env, "cwd": os.getcwd()}}) + "\\n")
if payload.get("hook_event_name") == "BeforeTool" and "guarded.txt" in json.dumps(payload.get("tool_input")):
    print(json.dumps({{"decision": "deny", "reason": {DENY_REASON!r}}}))
sys.exit(0)
"""


@pytest.fixture(scope="session")
def gemini_binary() -> Path:
    try:
        return ensure_gemini()
    except GeminiUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def fake_gemini():
    with FakeGemini() as server:
        yield server


def test_real_gemini_runs_scripted_model_and_hook_blocks(gemini_binary, workspace, fake_gemini):
    ws = workspace
    ws.write("guarded.txt", "original\n")
    ws.write("open.txt", "before\n")
    ws.write("sub/.keep", "")
    hook = ws.write(".gemini/log_hook.py", LOG_HOOK)
    log = ws.home / "hook.log"
    command = " ".join(shlex.quote(str(p)) for p in (sys.executable, hook, log))
    ws.write(".gemini/settings.json", json.dumps(hook_settings(command, EVENTS), indent=2))
    write_user_settings(ws.home, ws.repo)
    ws.commit()

    denied = FunctionCall("write_file", {"file_path": str(ws.repo / "guarded.txt"), "content": "changed\n"})
    created = FunctionCall("write_file", {"file_path": str(ws.repo / "new.txt"), "content": "new\n"})
    replaced = FunctionCall(
        "replace",
        {"file_path": "open.txt", "old_string": "before", "new_string": "after", "instruction": "edit"},
    )
    shell = FunctionCall(
        "run_shell_command", {"command": "echo hi > f.txt", "description": "write f", "dir_path": "sub"}
    )
    fake_gemini.set_script([denied, created, replaced, shell, Text("All done.")])

    run = run_gemini(gemini_binary, ws.repo, ws.env, fake_gemini, "Do the scripted edits.")
    fake_gemini.check()
    assert run.returncode == 0, run.explain() + "\n" + fake_gemini.describe()
    assert run.result is not None and run.result.get("response") == "All done.", run.explain()

    # The deny blocked the write; everything else went through.
    assert (ws.repo / "guarded.txt").read_text() == "original\n"
    assert (ws.repo / "new.txt").read_text() == "new\n"
    assert (ws.repo / "open.txt").read_text() == "after\n"
    assert (ws.repo / "sub" / "f.txt").read_text() == "hi\n"

    # What the model was told: the reason, as the functionResponse's error.
    blocked = fake_gemini.function_response(denied)
    assert blocked is not None, fake_gemini.describe()
    assert blocked["name"] == "write_file"
    assert blocked["response"] == {"error": f"Tool execution blocked: {DENY_REASON}"}, blocked
    ok = fake_gemini.function_response(created)
    assert ok is not None and "output" in ok["response"] and "error" not in ok["response"], ok
    assert "Successfully" in text_of(fake_gemini.function_response(replaced)["response"])

    # The hook fired on each event of the session, with the payloads it documents.
    records = [json.loads(line) for line in log.read_text().splitlines()]
    events = [r["payload"]["hook_event_name"] for r in records]
    for event in ("SessionStart", "BeforeAgent", "BeforeModel", "BeforeToolSelection", "AfterModel"):
        assert event in events, events
    assert events[0] == "SessionStart" and events[-1] == "SessionEnd", events
    assert events.count("AfterAgent") == 1, events

    def tool_events(event: str) -> list[dict]:
        return [r["payload"] for r in records if r["payload"]["hook_event_name"] == event]

    before = tool_events("BeforeTool")
    assert [(p["tool_name"], p["tool_input"]) for p in before] == [
        ("write_file", denied.args),
        ("write_file", created.args),
        ("replace", replaced.args),  # the path as the model wrote it: relative, unresolved
        ("run_shell_command", shell.args),
    ]
    after = tool_events("AfterTool")
    assert [p["tool_name"] for p in after] == [
        "write_file",
        "replace",
        "run_shell_command",
    ]  # none for the denied one
    assert after[0]["tool_input"] == created.args and "llmContent" in after[0]["tool_response"]

    start = records[0]
    repo = str(ws.repo)
    assert start["payload"]["source"] == "startup"
    assert start["payload"]["cwd"] == repo and start["cwd"] == repo
    session_id = start["payload"]["session_id"]
    assert session_id and session_id == run.result.get("session_id")
    assert start["env"]["GEMINI_PROJECT_DIR"] == repo
    assert start["env"]["GEMINI_CWD"] == repo
    assert start["env"]["GEMINI_SESSION_ID"] == session_id
    assert tool_events("SessionEnd")[0]["reason"] == "exit"
    assert tool_events("AfterAgent")[0]["prompt_response"] == "All done."

    # A first run trusts the project's hooks by writing their fingerprints (name:command).
    trusted = json.loads((ws.home / ".gemini" / "trusted_hooks.json").read_text())
    assert f"e2e-BeforeTool:{command}" in trusted[repo], trusted
