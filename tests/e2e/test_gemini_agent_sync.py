"""agent-sync enforced through the real Gemini CLI (headless `gemini -p`), with a scripted stand-in model.

`agent-sync install --agent gemini` writes the project hooks (`.gemini/settings.json`). Another agent holds
held.txt, src/app.py and docs/. The scripted model overwrites a held file through `run_shell_command`, runs
`replace` on a held file by its relative path and `write_file` over another: each is refused and the model
is told who holds the file. Writes of free files go through, a message for the agent reaches it after a
tool call, and another holds its turn at the end (AfterAgent).
"""

from __future__ import annotations

import json

import pytest

from agent_sync.identity import session_agent_id

from .agents_e2e import OTHER_ID, REASON, agent_sync, blocked_text, client_process, hold, install, seed
from .fake_gemini import FakeGemini, FunctionCall, Text, text_of
from .gemini_harness import GeminiUnavailable, ensure_gemini, run_gemini, write_user_settings

# the harness's environment drops every AGENT_SYNC_* setting, so the agent's hooks use the SQLite store
pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

DIRECT = "please leave the parser tests to me"
AT_STOP = "reply to the reviewer before you stop"


@pytest.fixture(scope="session")
def gemini_binary():
    try:
        return ensure_gemini()
    except GeminiUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def fake_gemini():
    with FakeGemini() as server:
        yield server


def test_gemini_is_refused_held_files_and_writes_free_ones(gemini_binary, workspace, fake_gemini):
    ws = workspace
    seed(ws)
    install(ws, "gemini")
    write_user_settings(ws.home, ws.repo)
    hold(ws)

    seen: dict = {}

    def message_the_agent(server, body):
        agent = next(a for a in json.loads(agent_sync(ws, "status", "--json", agent_id=OTHER_ID).stdout)["agents"]
                     if a["client"] == "gemini")
        seen["agent"] = agent["id"]
        seen["process"] = client_process(ws, agent["id"])
        agent_sync(ws, "send", "--to", agent["id"], "--message", DIRECT, agent_id=OTHER_ID)

    def message_before_stop(server, body):
        agent_sync(ws, "send", "--to", seen["agent"], "--message", AT_STOP, agent_id=OTHER_ID)

    shell_overwrite = FunctionCall("run_shell_command", {"command": "echo changed > held.txt", "description": "w"})
    replace_held = FunctionCall("replace", {"file_path": "src/app.py", "old_string": "v1", "new_string": "v2",
                                            "instruction": "bump the version"})
    write_held = FunctionCall("write_file", {"file_path": str(ws.repo / "docs/guide.md"), "content": "edited\n"})
    free_write = FunctionCall("write_file", {"file_path": str(ws.repo / "new.txt"), "content": "new\n"})
    free_replace = FunctionCall("replace", {"file_path": "open.txt", "old_string": "original",
                                            "new_string": "replaced", "instruction": "edit"})
    free_shell = FunctionCall("run_shell_command", {"command": "echo hi > f.txt", "description": "w",
                                                    "dir_path": "sub"})
    fake_gemini.set_script([shell_overwrite, replace_held, write_held, free_write, free_replace, message_the_agent,
                            free_shell, message_before_stop, Text("All done."), Text("Replied to the reviewer.")])

    run = run_gemini(gemini_binary, ws.repo, ws.env, fake_gemini, "Do the scripted edits.")
    fake_gemini.check()
    assert run.returncode == 0, run.explain() + "\n" + fake_gemini.describe()
    assert run.result is not None, run.explain()
    me = session_agent_id(run.result["session_id"], "gemini")

    # the held files are untouched, and the model was told who holds each
    assert (ws.repo / "held.txt").read_text() == "original\n"
    assert (ws.repo / "src/app.py").read_text() == "print('v1')\n"
    assert (ws.repo / "docs/guide.md").read_text() == "guide\n"
    for call, path in ((shell_overwrite, "held.txt"), (replace_held, "src/app.py"), (write_held, "docs/guide.md")):
        response = fake_gemini.function_response(call)
        assert response is not None, fake_gemini.describe()
        error = response["response"].get("error", "")
        assert error.startswith("Tool execution blocked: agent-sync BLOCKED: "), response
        assert blocked_text(path) in error and REASON in error, error

    # free files are written
    assert (ws.repo / "new.txt").read_text() == "new\n"
    assert (ws.repo / "open.txt").read_text() == "replaced\n"
    assert (ws.repo / "sub" / "f.txt").read_text() == "hi\n"

    # the session start told the model what others hold; a message for it came with a tool's result
    first_prompt = json.dumps(fake_gemini.main_loop_bodies()[0]["contents"][0])
    assert "other-agent" in first_prompt and "held.txt" in first_prompt
    assert DIRECT in text_of(fake_gemini.function_response(free_shell)["response"])
    # the turn was held for the message sent before it ended, and then let go
    assert fake_gemini.any_main_loop_request_contains(AT_STOP)
    assert run.result["response"].endswith("Replied to the reviewer."), run.result

    # the hooks speak for the session, and recorded the gemini process (past `bash -c`) as its client
    assert seen["agent"] == me
    assert seen["process"] == "node", seen
