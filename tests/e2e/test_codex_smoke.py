"""Proves the Codex harness: the real Codex CLI, the scripted Responses-API model, and a trivial hook.

Independent of agent-sync: a logging PreToolUse/PostToolUse/... hook, installed as a project
hook (``<repo>/.codex/hooks.json``) and trusted through the user config, records every payload
and blocks writes to two files, one with exit code 2 + stderr, one with a JSON
``permissionDecision: "deny"``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from .codex_harness import (
    codex_home,
    hook_trust_config,
    hook_trust_entries,
    install_codex,
    list_hooks,
    project_trust_config,
    provider_config,
    run_codex,
)
from .fake_openai import FakeOpenAI, Text, apply_patch, exec_command, update_file_patch
from .harness import Workspace

# independent of agent-sync's store: run once
pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

LOG_HOOK = r'''
import json, os, sys

log_path, event = sys.argv[1], sys.argv[2]
payload = json.load(sys.stdin)
with open(log_path, "a") as log:
    log.write(json.dumps({"event": event, "payload": payload, "cwd": os.getcwd(),
                          "codex_thread_id": os.environ.get("CODEX_THREAD_ID")}) + "\n")
tool_input = json.dumps(payload.get("tool_input") or {})
if event == "PreToolUse" and "guarded.txt" in tool_input:
    print("guarded.txt is frozen by the smoke-test hook", file=sys.stderr)
    sys.exit(2)
if event == "PreToolUse" and "frozen.txt" in tool_input:
    print(json.dumps({"hookSpecificOutput": {
        "hookEventName": "PreToolUse",
        "permissionDecision": "deny",
        "permissionDecisionReason": "frozen.txt is frozen by the smoke-test hook (JSON deny)",
    }}))
    sys.exit(0)
if event == "PostToolUse" and "open.txt" in tool_input:
    print(json.dumps({"hookSpecificOutput": {
        "hookEventName": "PostToolUse", "additionalContext": "smoke-hook saw the open.txt patch"}}))
if event == "SessionStart":
    print(json.dumps({"hookSpecificOutput": {
        "hookEventName": "SessionStart", "additionalContext": "smoke-hook session context"}}))
'''

EVENTS = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd"]
WITH_MATCHER = {"PreToolUse", "PostToolUse"}


@pytest.fixture(scope="session")
def codex_binary() -> Path:
    return install_codex()


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as server:
        yield server


def install_logging_hooks(ws: Workspace, model: FakeOpenAI, *, trust_hooks: bool) -> Path:
    """Project hooks for every event, the provider config, project trust and (maybe) hook trust."""
    hook = ws.home / "hooks" / "log_hook.py"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(LOG_HOOK)
    log = ws.home / "hook-log.jsonl"
    hooks = {}
    for event in EVENTS:
        command = " ".join(shlex.quote(part) for part in (sys.executable, str(hook), str(log), event))
        group: dict = {"hooks": [{"type": "command", "command": command, "timeout": 30}]}
        if event in WITH_MATCHER:
            group["matcher"] = "*"
        hooks[event] = [group]
    hooks_json = ws.write(".codex/hooks.json", json.dumps({"hooks": hooks}, indent=2))
    config = provider_config(model) + project_trust_config(ws.repo)
    if trust_hooks:
        config += hook_trust_config(hook_trust_entries(hooks_json, hooks))
    home = codex_home(ws)
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config)
    return log


def read_log(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_real_codex_runs_scripted_model_and_hook_blocks(codex_binary, workspace, fake_openai):
    ws = workspace
    ws.write("open.txt", "original\n")
    ws.write("guarded.txt", "original\n")
    ws.write("frozen.txt", "original\n")
    log = install_logging_hooks(ws, fake_openai, trust_hooks=True)
    ws.commit()

    guarded = ws.repo / "guarded.txt"
    edit_open = apply_patch(update_file_patch("open.txt", "original", "patched"))
    edit_guarded = apply_patch(update_file_patch("guarded.txt", "original", "changed by apply_patch"))
    shell_write = exec_command("echo hi > f.txt")
    shell_guarded = exec_command("echo changed > guarded.txt")
    shell_patch_guarded = exec_command(
        "apply_patch <<'EOF'\n" + update_file_patch("guarded.txt", "original", "changed via shell") + "EOF"
    )
    edit_frozen = apply_patch(update_file_patch("frozen.txt", "original", "changed"))
    fake_openai.set_script(
        [
            edit_open,
            edit_guarded,
            lambda server, body: guarded.read_text(),  # right after the blocked apply_patch
            shell_write,
            shell_guarded,
            shell_patch_guarded,
            edit_frozen,
            Text("All done."),
        ]
    )

    # Codex sees the hooks and trusts them (the hashes computed here match its own).
    listed = list_hooks(codex_binary, ws)
    statuses = {h["eventName"]: h["trustStatus"] for h in listed.get("hooks", [])}
    assert statuses and set(statuses.values()) == {"trusted"}, listed

    run = run_codex(codex_binary, ws, fake_openai, "Edit the files.")
    fake_openai.check()
    assert run.returncode == 0, run.explain() + "\n" + fake_openai.describe()
    assert run.agent_messages()[-1:] == ["All done."], run.explain()
    assert "apply_patch" in fake_openai.tool_names(), fake_openai.tool_names()

    # The allowed writes happened, the blocked ones did not.
    assert (ws.repo / "open.txt").read_text() == "patched\n"
    assert (ws.repo / "f.txt").read_text() == "hi\n"
    assert guarded.read_text() == "original\n"
    assert (ws.repo / "frozen.txt").read_text() == "original\n"
    assert fake_openai.callable_results == ["original\n"]

    # What the model was told about each call.
    assert "Success. Updated the following files" in fake_openai.tool_output_text(edit_open.call_id)
    assert "smoke-hook saw the open.txt patch" in fake_openai.hook_context(edit_open.call_id)
    reason = "guarded.txt is frozen by the smoke-test hook"
    assert fake_openai.tool_output_text(edit_guarded.call_id) == (
        f"Command blocked by PreToolUse hook: {reason}. Command: {edit_guarded.input}"
    )
    assert fake_openai.tool_output_text(shell_guarded.call_id) == (
        f"Command blocked by PreToolUse hook: {reason}. Command: echo changed > guarded.txt"
    )
    assert fake_openai.tool_output_text(shell_patch_guarded.call_id).startswith(
        f"Command blocked by PreToolUse hook: {reason}. Command: apply_patch <<'EOF'"
    )
    assert fake_openai.tool_output_text(edit_frozen.call_id).startswith(
        "Command blocked by PreToolUse hook: frozen.txt is frozen by the smoke-test hook (JSON deny). Command: "
    )
    assert "smoke-hook session context" in fake_openai.messages("developer")

    # The hook saw every event, with Claude-Code-shaped payloads.
    records = read_log(log)
    events = [r["event"] for r in records]
    assert events[:2] == ["SessionStart", "UserPromptSubmit"], events
    assert events[-2:] == ["Stop", "SessionEnd"], events
    session_ids = {r["payload"]["session_id"] for r in records}
    assert len(session_ids) == 1, session_ids
    for r in records:
        assert r["payload"]["hook_event_name"] == r["event"]
        assert r["cwd"] == str(ws.repo)
        assert r["codex_thread_id"] is None  # hooks get the id only in the payload

    pre = {r["payload"]["tool_use_id"]: r["payload"] for r in records if r["event"] == "PreToolUse"}
    post = {r["payload"]["tool_use_id"]: r["payload"] for r in records if r["event"] == "PostToolUse"}
    assert pre[edit_open.call_id]["tool_name"] == "apply_patch"
    assert pre[edit_open.call_id]["tool_input"] == {"command": edit_open.input}
    assert pre[shell_write.call_id]["tool_name"] == "Bash"
    assert pre[shell_write.call_id]["tool_input"] == {"command": "echo hi > f.txt"}
    assert pre[shell_patch_guarded.call_id]["tool_name"] == "Bash"
    assert set(post) == {edit_open.call_id, shell_write.call_id}  # blocked calls get no PostToolUse
    assert post[shell_write.call_id]["tool_response"] == ""
    assert "M open.txt" in post[edit_open.call_id]["tool_response"]
    stop = next(r["payload"] for r in records if r["event"] == "Stop")
    assert stop["last_assistant_message"] == "All done." and stop["stop_hook_active"] is False


def test_untrusted_project_hooks_are_skipped(codex_binary, workspace, fake_openai):
    """Without ``[hooks.state.*] trusted_hash`` entries Codex runs no project hook, and says nothing."""
    ws = workspace
    ws.write("guarded.txt", "original\n")
    log = install_logging_hooks(ws, fake_openai, trust_hooks=False)
    ws.commit()
    fake_openai.set_script([exec_command("echo changed > guarded.txt"), Text("All done.")])

    listed = list_hooks(codex_binary, ws)
    assert {h["trustStatus"] for h in listed.get("hooks", [])} == {"untrusted"}, listed

    run = run_codex(codex_binary, ws, fake_openai, "Edit the files.")
    fake_openai.check()
    assert run.returncode == 0, run.explain() + "\n" + fake_openai.describe()
    assert read_log(log) == []
    assert (ws.repo / "guarded.txt").read_text() == "changed\n"
