"""agent-sync enforced through the real GitHub Copilot CLI (`copilot -p`), with a scripted stand-in model.

`agent-sync install --agent copilot` writes the repository hooks (`.github/hooks/`). Another agent holds
held.txt, src/app.py and docs/. The scripted model overwrites a held file through `bash`, edits one with
`edit` and writes another with `create`: each is refused and the model is told who holds the file. Writes of
free files go through, a message for the agent reaches it after a tool call, another holds its turn at the
end (agentStop), and the agent's shell commands (COPILOT_AGENT_SESSION_ID) are the agent of its hooks.
"""

from __future__ import annotations

import json
import sys

import pytest

from .agents_e2e import OTHER_ID, REASON, agent_sync, blocked_text, client_process, hold, install, seed
from .copilot_harness import CopilotUnavailable, ensure_copilot, run_copilot
from .fake_chat import FakeChat, FunctionCall, Text

# the harness's environment drops every AGENT_SYNC_* setting, so the agent's hooks use the SQLite store
pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

DIRECT = "please leave the parser tests to me"
AT_STOP = "reply to the reviewer before you stop"


@pytest.fixture(scope="session")
def copilot_binary():
    try:
        return ensure_copilot()
    except CopilotUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def fake_chat():
    with FakeChat() as server:
        yield server


def test_copilot_is_refused_held_files_and_writes_free_ones(copilot_binary, workspace, fake_chat):
    ws = workspace
    seed(ws)
    install(ws, "copilot")
    hold(ws)

    seen: dict = {}

    def message_the_agent(server, body):
        agent = next(a for a in json.loads(agent_sync(ws, "status", "--json", agent_id=OTHER_ID).stdout)["agents"]
                     if a["client"] == "copilot")
        seen["agent"] = agent["id"]
        seen["process"] = client_process(ws, agent["id"])
        agent_sync(ws, "send", "--to", agent["id"], "--message", DIRECT, agent_id=OTHER_ID)

    def message_before_stop(server, body):
        agent_sync(ws, "send", "--to", seen["agent"], "--message", AT_STOP, agent_id=OTHER_ID)

    shell_overwrite = FunctionCall("bash", {"command": "echo changed > held.txt", "description": "overwrite"})
    edit_held = FunctionCall("edit", {"path": str(ws.repo / "src/app.py"), "old_str": "v1", "new_str": "v2"})
    create_held = FunctionCall("create", {"path": "docs/new.md", "file_text": "new\n"})
    free_create = FunctionCall("create", {"path": str(ws.repo / "new.txt"), "file_text": "new\n"})
    free_edit = FunctionCall("edit", {"path": str(ws.repo / "open.txt"), "old_str": "original", "new_str": "edited"})
    free_shell = FunctionCall("bash", {"command": "echo hi > free.txt", "description": "write"})
    whoami = FunctionCall("bash", {"command": f"{sys.executable} -m agent_sync whoami --json", "description": "id"})
    fake_chat.set_script([shell_overwrite, edit_held, create_held, free_create, free_edit, message_the_agent,
                          free_shell, whoami, message_before_stop, Text("All done."), Text("Replied to the reviewer.")])

    run = run_copilot(copilot_binary, ws.repo, ws.env, fake_chat, "Do the scripted edits.")
    fake_chat.check()
    assert run.returncode == 0, run.explain() + "\n" + fake_chat.describe()

    # the held files are untouched, and the model was told who holds each
    assert (ws.repo / "held.txt").read_text() == "original\n"
    assert (ws.repo / "src/app.py").read_text() == "print('v1')\n"
    assert not (ws.repo / "docs/new.md").exists()
    for call, path in ((shell_overwrite, "held.txt"), (edit_held, "src/app.py"), (create_held, "docs/new.md")):
        told = fake_chat.tool_result(call) or ""
        assert "Denied by preToolUse hook: agent-sync BLOCKED: " in told, (told, fake_chat.describe())
        assert blocked_text(path) in told and REASON in told, told

    # free files are written
    assert (ws.repo / "new.txt").read_text() == "new\n"
    assert (ws.repo / "open.txt").read_text() == "edited\n"
    assert (ws.repo / "free.txt").read_text() == "hi\n"

    # the session start told the model what others hold; a message for it came after a tool call
    first = fake_chat.main_loop_bodies()[0]["messages"]
    assert any("<agent-sync-state" in text and "held.txt" in text and "other-agent" in text
               for text in (m.get("content") for m in first if m.get("role") == "user") if isinstance(text, str))
    assert DIRECT in (fake_chat.tool_result(free_shell) or ""), fake_chat.describe()
    # the turn was held for the message sent before it ended, and then let go
    assert any(AT_STOP in text for text in fake_chat.messages("user")), fake_chat.messages("user")

    # the agent's shell is the agent of its hooks, whose client process is copilot itself
    shell_id = json.JSONDecoder().raw_decode((fake_chat.tool_result(whoami) or "").strip())[0]["id"]
    assert shell_id == seen["agent"]
    assert seen["process"] == "copilot", seen
