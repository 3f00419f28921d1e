"""agent-sync enforced through the real Claude Code CLI, with a scripted stand-in model.

One `claude -p` run in a throw-away repository where `agent-sync install` wrote the hooks and
another agent ("other") holds locks and has broadcast a message. The scripted model tries to
change each locked file through Edit, Write, NotebookEdit and Bash, then edits a free file.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from typing import Any

import pytest

from .fake_model import FakeModel, Text, ToolUse, tool_result_text
from .harness import Workspace, run_claude

pytestmark = pytest.mark.e2e

# The console script next to the interpreter; AGENT_SYNC_E2E_CLI may name another executable.
AGENT_SYNC = os.environ.get("AGENT_SYNC_E2E_CLI") or os.path.join(
    os.path.dirname(sys.executable), "agent-sync"
)

HOOK_EVENTS = {
    "SessionStart": "session-start",
    "UserPromptSubmit": "user-prompt-submit",
    "PreToolUse": "pre-tool-use",
    "PostToolUse": "post-tool-use",
    "Stop": "stop",
    "SubagentStop": "subagent-stop",
    "PreCompact": "pre-compact",
    "SessionEnd": "session-end",
}

OTHER_ID = "other"
OTHER_NAME = "other-agent"
BROADCAST = "hello from other-agent: use tabs"

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "c1",
            "metadata": {},
            "outputs": [],
            "source": ["print('original')"],
        }
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def agent_sync(ws: Workspace, *args: str, agent_id: str | None = None, check: bool = True):
    """Run the agent-sync CLI in the workspace repo (as `agent_id`, or with no AGENT_SYNC_ID)."""
    if not os.path.exists(AGENT_SYNC):
        pytest.fail(
            f"the agent-sync console script is missing at {AGENT_SYNC}: install the package (pip install -e .)"
        )
    env = dict(ws.env)
    if agent_id is not None:
        env["AGENT_SYNC_ID"] = agent_id
    proc = subprocess.run(
        [AGENT_SYNC, *args],
        cwd=ws.repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"agent-sync {' '.join(args)} (AGENT_SYNC_ID={agent_id}) exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def locks_json(ws: Workspace) -> list[dict[str, Any]]:
    proc = agent_sync(ws, "locks", "--json")
    try:
        data = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(
            f"`agent-sync locks --json` printed no JSON:\n{proc.stdout}\n{proc.stderr}"
        ) from exc
    assert isinstance(data, dict) and isinstance(data.get("locks"), list), data
    return data["locks"]


def check_installed_hooks(ws: Workspace) -> None:
    settings_path = ws.repo / ".claude" / "settings.json"
    assert settings_path.is_file(), "agent-sync install wrote no .claude/settings.json"
    settings = json.loads(settings_path.read_text())
    hooks = settings.get("hooks", {})
    real_cli = os.path.realpath(AGENT_SYNC)
    for event, kebab in HOOK_EVENTS.items():
        commands = [
            handler.get("command", "")
            for group in hooks.get(event, [])
            for handler in group.get("hooks", [])
            if handler.get("type", "command") == "command"
        ]
        wanted = []
        for command in commands:
            words = shlex.split(command)
            if len(words) >= 3 and words[-2:] == ["hook", kebab]:
                # absolute, or the portable bare `agent-sync` the committed file gets when PATH finds this one
                program = words[0] if os.path.isabs(words[0]) else shutil.which(words[0], path=ws.env.get("PATH"))
                if program and os.path.realpath(program) == real_cli:
                    wanted.append(command)
        assert wanted, f"{event}: no `{AGENT_SYNC} hook {kebab}` handler in settings.json; found {commands}"


def test_locks_messages_and_leases_through_real_claude(
    claude_binary, workspace: Workspace, fake_model: FakeModel
):
    ws = workspace
    repo = ws.repo
    ws.write("locked.txt", "locked content\n")
    ws.write("free.txt", "free content\n")
    ws.write("notes.ipynb", json.dumps(NOTEBOOK, indent=1) + "\n")
    ws.write("script_target.txt", "script target\n")
    ws.commit()

    # -- setup: install the hooks; another agent locks three files and broadcasts -------------
    agent_sync(ws, "install")
    check_installed_hooks(ws)
    agent_sync(ws, "register", "--name", OTHER_NAME, "--role", "reviewer", agent_id=OTHER_ID)
    agent_sync(
        ws,
        "lock",
        "locked.txt",
        "notes.ipynb",
        "script_target.txt",
        "--reason",
        "other is refactoring",
        agent_id=OTHER_ID,
    )
    agent_sync(ws, "send", "--to", "all", "--message", BROADCAST, agent_id=OTHER_ID)

    protected = {
        name: (repo / name).read_bytes() for name in ("locked.txt", "notes.ipynb", "script_target.txt")
    }
    free_before = (repo / "free.txt").read_bytes()

    # -- the scripted turn -------------------------------------------------------------------
    locked = str(repo / "locked.txt")
    notebook = str(repo / "notes.ipynb")
    free = str(repo / "free.txt")
    snapshots: list[Any] = []

    def snapshot_locks(server: FakeModel, body: dict) -> None:
        # Runs when the tool_result of the free.txt Edit arrives: the turn is still going on.
        snapshots.append(locks_json(ws))

    # Claude Code refuses an Edit/Write/NotebookEdit of a file not Read in the session (and checks
    # that before the PreToolUse hooks run), so each file is Read first.
    read_locked = ToolUse("Read", {"file_path": locked})
    edit_locked = ToolUse(
        "Edit", {"file_path": locked, "old_string": "locked content", "new_string": "CHANGED"}
    )
    write_locked = ToolUse("Write", {"file_path": locked, "content": "OVERWRITTEN\n"})
    read_notebook = ToolUse("Read", {"file_path": notebook})
    edit_notebook = ToolUse(
        "NotebookEdit",
        {
            "notebook_path": notebook,
            "cell_id": "c1",
            "new_source": "print('changed')",
            "edit_mode": "replace",
        },
    )
    bash_redirect = ToolUse(
        "Bash", {"command": "echo hi > script_target.txt", "description": "Write the file"}
    )
    read_free = ToolUse("Read", {"file_path": free})
    edit_free = ToolUse(
        "Edit", {"file_path": free, "old_string": "free content", "new_string": "free EDITED"}
    )
    fake_model.set_script(
        [
            read_locked,
            edit_locked,
            write_locked,
            read_notebook,
            edit_notebook,
            bash_redirect,
            read_free,
            edit_free,
            snapshot_locks,
            Text("Finished: the locked files belong to other-agent."),
        ]
    )

    # Bash is allowed up front so that, were the hook not to block it, the command would really run.
    run = run_claude(
        claude_binary,
        ws,
        fake_model,
        "Please update the files in this repository.",
        extra_args=["--allowedTools", "Bash"],
    )
    traffic = fake_model.describe()
    fake_model.check()
    assert run.returncode == 0, run.explain() + "\n" + traffic

    # -- the locked files were not touched, whatever the tool ------------------------------------
    for name, before in protected.items():
        assert (repo / name).read_bytes() == before, f"{name} changed although other-agent locked it"

    for step in (read_locked, read_notebook, read_free):
        result = fake_model.tool_result(step.id)
        assert result is not None, f"no tool_result for the Read of {step.input['file_path']}\n{traffic}"
        assert not result.get("is_error"), f"the Read of {step.input['file_path']} failed: {result}"

    for step in (edit_locked, write_locked, edit_notebook, bash_redirect):
        result = fake_model.tool_result(step.id)
        assert result is not None, f"no tool_result for {step.name}\n{traffic}"
        text = tool_result_text(result)
        assert result.get("is_error") is True, f"{step.name} of a locked file was not refused: {text!r}"
        assert OTHER_NAME in text, (
            f"{step.name} was refused without naming the holder {OTHER_NAME!r}: {text!r}"
        )

    # -- the free file was edited, under a turn lease that Stop released ------------------------
    result = fake_model.tool_result(edit_free.id)
    assert result is not None and not result.get("is_error"), f"the Edit of free.txt failed: {result}"
    assert (repo / "free.txt").read_bytes() != free_before
    assert (repo / "free.txt").read_text() == "free EDITED\n"

    assert len(snapshots) == 1, f"the mid-turn snapshot did not run\n{traffic}"
    mid_turn = [lock for lock in snapshots[0] if lock.get("target") == "free.txt"]
    assert mid_turn, f"no lock on free.txt while the turn was going on: {snapshots[0]}"
    lease = mid_turn[0]
    assert lease.get("lease") is True, lease
    assert lease.get("kind") == "file", lease
    assert lease.get("holder") and lease.get("holder") != OTHER_ID, lease

    after = locks_json(ws)
    assert not [lock for lock in after if lock.get("target") == "free.txt"], (
        f"the turn's lease outlived Stop: {after}"
    )
    others = {lock.get("target") for lock in after if lock.get("holder") == OTHER_ID}
    assert {"locked.txt", "notes.ipynb", "script_target.txt"} <= others, after

    # -- the broadcast reached the model's context ----------------------------------------------
    assert fake_model.any_main_loop_request_contains(BROADCAST), (
        "no main-loop request carried other-agent's message; the SessionStart/UserPromptSubmit hooks "
        "did not inject it\n" + traffic
    )
