"""Proves the harness itself: the real Claude Code binary, the scripted model, and a trivial hook.

Independent of agent-sync: a PreToolUse hook written as a tiny shell script blocks edits of one file.
"""

from __future__ import annotations

import json
import stat

import pytest

from .fake_model import Text, ToolUse, tool_result_text
from .harness import run_claude

pytestmark = pytest.mark.e2e

GUARD = """#!/bin/sh
# Block Edit/Write of guarded.txt; allow everything else.
input=$(cat)
case "$input" in
  *guarded.txt*) echo "guarded.txt is frozen by the smoke-test hook" >&2; exit 2 ;;
esac
exit 0
"""


def test_real_claude_runs_scripted_model_and_hook_blocks(claude_binary, workspace, fake_model):
    ws = workspace
    ws.write("guarded.txt", "original\n")
    ws.write("open.txt", "before\n")
    hook = ws.write(".claude/guard.sh", GUARD)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    settings = {
        "hooks": {
            "PreToolUse": [
                {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": str(hook)}]},
            ]
        }
    }
    ws.write(".claude/settings.json", json.dumps(settings, indent=2))
    ws.commit()

    guarded = ws.repo / "guarded.txt"
    blocked = ToolUse("Edit", {"file_path": str(guarded), "old_string": "original", "new_string": "changed"})
    allowed = ToolUse("Write", {"file_path": str(ws.repo / "open.txt"), "content": "after\n"})
    # Claude Code refuses to Edit/Write an existing file it has not Read in this session (and
    # checks that before the PreToolUse hooks run), so every edit is preceded by a Read.
    fake_model.set_script(
        [
            ToolUse("Read", {"file_path": str(guarded)}),
            blocked,
            ToolUse("Read", {"file_path": str(ws.repo / "open.txt")}),
            allowed,
            Text("All done."),
        ]
    )

    run = run_claude(claude_binary, ws, fake_model, "Edit the files.")
    fake_model.check()
    assert run.returncode == 0, run.explain() + "\n" + fake_model.describe()

    assert guarded.read_text() == "original\n"
    assert (ws.repo / "open.txt").read_text() == "after\n"

    result = fake_model.tool_result(blocked.id)
    assert result is not None, fake_model.describe()
    assert result.get("is_error") is True, result
    assert "guarded.txt is frozen by the smoke-test hook" in tool_result_text(result)

    ok = fake_model.tool_result(allowed.id)
    assert ok is not None and not ok.get("is_error"), ok

    assert run.result is not None and run.result.get("result") == "All done.", run.explain()
