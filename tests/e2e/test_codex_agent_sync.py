"""agent-sync enforced through the real Codex CLI (`codex exec`), with a scripted stand-in model.

`agent-sync install --agent codex` writes the project hooks (`.codex/hooks.json`); the test then trusts them
in the user config, as a user does through `/hooks`. Another agent holds held.txt, src/app.py and docs/. The
scripted model overwrites a held file through the shell, patches one with `apply_patch`, moves a free file
onto a held path, and edits one with an `apply_patch` heredoc through the shell: each is refused and the model
is told who holds the file. Writes of free files go through, a message for the agent reaches it after a tool
call, another holds its turn at the end, and the agent's shell commands are the same agent as its hooks.
"""

from __future__ import annotations

import json
import sys

import pytest

from agent_sync.identity import session_agent_id

from .agents_e2e import OTHER_ID, REASON, agent_sync, blocked_text, client_process, hold, install, seed
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

# the harness's environment drops every AGENT_SYNC_* setting, so the agent's hooks use the SQLite store
pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

DIRECT = "please leave the parser tests to me"
AT_STOP = "reply to the reviewer before you stop"


@pytest.fixture(scope="session")
def codex_binary():
    return install_codex()


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as server:
        yield server


def trust_installed_hooks(ws, model: FakeOpenAI) -> None:
    """The user config: the scripted provider, the project trusted, and the installed hooks trusted (what a
    user does in Codex's `/hooks`)."""
    hooks_json = ws.repo / ".codex" / "hooks.json"
    hooks = json.loads(hooks_json.read_text())["hooks"]
    home = codex_home(ws)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    existing = config.read_text() if config.exists() else ""
    config.write_text(provider_config(model) + existing + project_trust_config(ws.repo)
                      + hook_trust_config(hook_trust_entries(hooks_json, hooks)))


def test_codex_is_refused_held_files_and_writes_free_ones(codex_binary, workspace, fake_openai):
    ws = workspace
    seed(ws)
    install(ws, "codex")
    trust_installed_hooks(ws, fake_openai)
    hold(ws)
    listed = list_hooks(codex_binary, ws)
    assert {h["trustStatus"] for h in listed.get("hooks", [])} == {"trusted"}, listed

    seen: dict = {}

    def message_the_agent(server, body):
        agent = next(a for a in json.loads(agent_sync(ws, "status", "--json", agent_id=OTHER_ID).stdout)["agents"]
                     if a["client"] == "codex")
        seen["agent"] = agent["id"]
        seen["process"] = client_process(ws, agent["id"])
        agent_sync(ws, "send", "--to", agent["id"], "--message", DIRECT, agent_id=OTHER_ID)

    def message_before_stop(server, body):
        agent_sync(ws, "send", "--to", seen["agent"], "--message", AT_STOP, agent_id=OTHER_ID)

    shell_overwrite = exec_command("echo changed > held.txt")
    patch_held = apply_patch(update_file_patch("src/app.py", "print('v1')", "print('v2')"))
    move_onto_held = apply_patch("*** Begin Patch\n*** Update File: open.txt\n*** Move to: docs/open.txt\n@@\n"
                                 "-original\n+moved\n*** End Patch\n")
    heredoc_edit = exec_command("apply_patch <<'EOF'\n" + update_file_patch("docs/guide.md", "guide", "edited")
                                + "EOF")
    free_patch = apply_patch(update_file_patch("open.txt", "original", "patched"))
    free_shell = exec_command("echo hi > free.txt")
    whoami = exec_command(f"{sys.executable} -m agent_sync whoami --json")
    fake_openai.set_script([shell_overwrite, patch_held, move_onto_held, heredoc_edit, free_patch,
                            message_the_agent, free_shell, whoami, message_before_stop, Text("All done."),
                            Text("Replied to the reviewer.")])

    run = run_codex(codex_binary, ws, fake_openai, "Edit the files.")
    fake_openai.check()
    assert run.returncode == 0, run.explain() + "\n" + fake_openai.describe()
    thread = next(e["thread_id"] for e in run.events if e.get("type") == "thread.started")
    me = session_agent_id(thread, "codex")

    # the held files are untouched, and the model was told who holds each
    assert (ws.repo / "held.txt").read_text() == "original\n"
    assert (ws.repo / "src/app.py").read_text() == "print('v1')\n"
    assert (ws.repo / "docs/guide.md").read_text() == "guide\n"
    assert not (ws.repo / "docs/open.txt").exists()
    for call, path in ((shell_overwrite, "held.txt"), (patch_held, "src/app.py"), (move_onto_held, "docs/open.txt"),
                       (heredoc_edit, "docs/guide.md")):
        told = fake_openai.tool_output_text(call.call_id) or ""
        assert told.startswith("Command blocked by PreToolUse hook: agent-sync BLOCKED: "), told
        assert blocked_text(path) in told and REASON in told, told

    # free files are written
    assert (ws.repo / "open.txt").read_text() == "patched\n"
    assert (ws.repo / "free.txt").read_text() == "hi\n"
    assert "Success. Updated the following files" in fake_openai.tool_output_text(free_patch.call_id)

    # the session start told the model what others hold; a message for it came after a tool call
    assert any("other-agent" in text and "held.txt" in text for text in fake_openai.messages("developer"))
    assert any(DIRECT in text for text in fake_openai.hook_context(free_shell.call_id)), fake_openai.describe()
    # the turn was held for the message sent before it ended, and then let go
    assert any(AT_STOP in text for text in fake_openai.messages("user")), fake_openai.messages("user")
    assert run.agent_messages()[-1] == "Replied to the reviewer."

    # the agent's shell (CODEX_THREAD_ID) is the agent of its hooks, whose client process is codex itself
    assert seen["agent"] == me
    assert json.loads(fake_openai.tool_output_text(whoami.call_id).split("Output:\n", 1)[1])["id"] == me
    assert seen["process"] == "codex", seen
