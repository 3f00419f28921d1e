"""The Codex, Gemini, Cursor and Copilot hook adapters through the real CLI, with the payloads those agents send.

Payloads come from tests/fixtures/payloads/AGENT/ (captured from the real clients, except Cursor's, which are
built from Cursor's shipped hook code; see the README there), with the repository path filled in. Every answer
is checked in the agent's own output contract: what blocks there, what it takes as an allow, where context
goes, how a turn is held.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent_sync.identity import session_agent_id
from helpers import agent_env, run_cli

# The adapters only translate; the engine and the stores under them are tested on every store elsewhere.
pytestmark = pytest.mark.sqlite_only

PAYLOADS = Path(__file__).parent / "fixtures" / "payloads"
CODEX_SESSION = "01a2328f-acc6-76e3-a665-f14fd930eb92"
GEMINI_SESSION = "0d38b951-c930-4473-8e93-dd584395c610"
CURSOR_SESSION = "6f1d2c3b-4a59-4e7e-9c1d-2b3a4c5d6e7f"
COPILOT_CAMEL_SESSION = "69a9b7e2-1b85-4aea-8306-e84e01d5319c"
COPILOT_PASCAL_SESSION = "489464a2-a4f0-437e-92a7-d86aa306ef79"


def payload(agent: str, name: str, repo: Path, **changes) -> dict:
    """A captured payload with /REPO and /HOME filled in; `changes` replace top-level fields."""
    raw = (PAYLOADS / agent / f"{name}.json").read_text()
    raw = raw.replace("/REPO", str(repo)).replace("/HOME", str(repo.parent / "home"))
    body = json.loads(raw)
    body.update(changes)
    return body


def hook(repo: Path, agent: str, event: str, body, *, env=None) -> subprocess.CompletedProcess:
    stdin = body if isinstance(body, str) else json.dumps(body)
    result = run_cli(repo, "hook", "--agent", agent, event, stdin=stdin, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def cli(repo: Path, *args, agent="other", env=None):
    return run_cli(repo, *args, agent=agent, env=env)


def send(repo: Path, to: str, message: str) -> None:
    result = cli(repo, "send", "--to", to, "--message", message)
    assert result.returncode == 0, result.stderr


def whoami(repo: Path, env: dict) -> str:
    result = run_cli(repo, "whoami", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["id"]


def lock_holders(repo: Path) -> dict:
    locks = json.loads(cli(repo, "locks", "--json").stdout)["locks"]
    return {lock["target"]: lock["holder"] for lock in locks}


@pytest.fixture
def held(repo):
    """Another agent, `other-agent`, holds src/app.py and docs/, and works in the worktree."""
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("guide\n")
    (repo / "open.txt").write_text("original\n")
    assert cli(repo, "register", "--name", "other-agent").returncode == 0
    result = cli(repo, "lock", "src/app.py", "docs/", "--reason", "refactoring")
    assert result.returncode == 0, result.stderr
    return repo


def names_holder(reason: str) -> str:
    assert reason.startswith("agent-sync BLOCKED: ")
    assert "other-agent" in reason and "refactoring" in reason, reason
    return reason


# -- Codex CLI -----------------------------------------------------------------------------------------------

def codex_denied(result) -> str:
    """Codex: exit 2 with the reason on stderr (the model reads it), and the same deny as JSON."""
    assert result.returncode == 2, result
    specific = json.loads(result.stdout)["hookSpecificOutput"]
    assert specific["hookEventName"] == "PreToolUse" and specific["permissionDecision"] == "deny"
    assert result.stderr.strip() == specific["permissionDecisionReason"]
    return specific["permissionDecisionReason"]


def codex_allowed(result) -> None:
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result


def codex_patch(repo, patch: str, **changes):
    body = payload("codex", "pre_tool_use.apply_patch.update", repo, **changes)
    body["tool_input"] = {"command": patch}
    return hook(repo, "codex", "PreToolUse", body)


def codex_bash(repo, command: str, **changes):
    body = payload("codex", "pre_tool_use.bash.redirect", repo, **changes)
    body["tool_input"] = {"command": command}
    return hook(repo, "codex", "PreToolUse", body)


def test_codex_apply_patch_of_a_locked_file_is_denied_naming_the_holder(held):
    names_holder(codex_denied(codex_patch(
        held, "*** Begin Patch\n*** Update File: src/app.py\n@@\n-print('hi')\n+print('ho')\n*** End Patch\n")))
    # the captured multi-file patch (update, add, delete, move) touches src/app.py too
    names_holder(codex_denied(hook(held, "codex", "PreToolUse",
                                   payload("codex", "pre_tool_use.apply_patch.multi", held))))


def test_codex_apply_patch_heredoc_through_bash_is_denied(held):
    body = payload("codex", "pre_tool_use.bash.apply_patch_heredoc", held)
    assert body["tool_name"] == "Bash"
    body["tool_input"]["command"] = body["tool_input"]["command"].replace("*** Add File: viashell.txt",
                                                                          "*** Add File: docs/new.md")
    names_holder(codex_denied(hook(held, "codex", "PreToolUse", body)))
    allowed_heredoc = payload("codex", "pre_tool_use.bash.apply_patch_heredoc", held)  # viashell.txt is free
    codex_allowed(hook(held, "codex", "PreToolUse", allowed_heredoc))


@pytest.mark.parametrize("patch", [
    "*** Begin Patch\n*** Update File: open.txt\n*** Move to: src/app.py\n@@\n-original\n+moved\n*** End Patch\n",
    "*** Begin Patch\n*** Update File: src/app.py\n*** Move to: elsewhere.py\n@@\n-print('hi')\n+x\n*** End Patch\n",
])
def test_codex_patch_moving_onto_or_off_a_locked_path_is_denied(held, patch):
    names_holder(codex_denied(codex_patch(held, patch)))


@pytest.mark.parametrize("command,cwd", [
    ("echo hi > src/app.py", "."),
    ("cd src && sed -i 's/hi/ho/' app.py", "."),
    ("echo hi > app.py", "src"),  # Codex gives the command's workdir as the payload cwd
    ("rm -rf docs", "."),
])
def test_codex_shell_writes_to_locked_paths_are_denied(held, command, cwd):
    names_holder(codex_denied(codex_bash(held, command, cwd=str(held / cwd))))


def test_codex_free_writes_are_allowed_and_reads_never_blocked(held):
    codex_allowed(hook(held, "codex", "PreToolUse", payload("codex", "pre_tool_use.apply_patch.update", held)))
    codex_allowed(hook(held, "codex", "PreToolUse", payload("codex", "pre_tool_use.bash.redirect", held)))
    codex_allowed(codex_bash(held, "cat src/app.py && git diff docs"))
    codex_allowed(hook(held, "codex", "PreToolUse", payload("codex", "pre_tool_use.bash.redirect", held,
                                                             tool_name="mcp__files__write")))


def test_codex_destructive_git_is_denied(held):
    for command in ("git reset --hard", "git checkout -- .", "git clean -fdx"):
        reason = codex_denied(codex_bash(held, command))
        assert "other-agent" in reason and "discard" in reason


def test_codex_context_messages_and_the_held_turn(held):
    me = session_agent_id(CODEX_SESSION, "codex")
    start = json.loads(hook(held, "codex", "SessionStart", payload("codex", "session_start", held)).stdout)
    assert start["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    assert "other-agent" in start["hookSpecificOutput"]["additionalContext"]

    send(held, "all", "use tabs, not spaces")
    prompt = json.loads(hook(held, "codex", "UserPromptSubmit", payload("codex", "user_prompt_submit", held)).stdout)
    assert prompt["hookSpecificOutput"]["hookEventName"] == "UserPromptSubmit"
    assert "use tabs, not spaces" in prompt["hookSpecificOutput"]["additionalContext"]

    send(held, me, "leave the API alone")
    post = json.loads(hook(held, "codex", "PostToolUse", payload("codex", "post_tool_use.bash.redirect", held)).stdout)
    assert post["hookSpecificOutput"]["hookEventName"] == "PostToolUse"
    assert "leave the API alone" in post["hookSpecificOutput"]["additionalContext"]

    send(held, me, "reply before you stop")
    stop = hook(held, "codex", "Stop", payload("codex", "stop", held))
    assert stop.returncode == 0 and stop.stderr == ""  # Stop answers JSON on exit 0
    held_turn = json.loads(stop.stdout)
    assert held_turn["decision"] == "block" and "reply before you stop" in held_turn["reason"]
    codex_allowed(hook(held, "codex", "Stop", payload("codex", "stop.after_continuation", held)))


def test_codex_post_tool_use_logs_the_patched_files(repo):
    assert hook(repo, "codex", "PostToolUse", payload("codex", "post_tool_use.apply_patch.multi", repo)).returncode == 0
    logged = json.loads(cli(repo, "activity", "--json").stdout)["activity"]
    edits = {entry["file"] for entry in logged if entry["type"] == "edit"}
    assert edits == {"src/app.py", "src/new.py", "src/old.py", "open.txt", "moved.txt"}


def test_codex_shell_and_hooks_are_one_agent(repo):
    me = session_agent_id(CODEX_SESSION, "codex")
    assert whoami(repo, {"CODEX_THREAD_ID": CODEX_SESSION}) == me
    assert cli(repo, "lock", "src/app.py", agent=None, env={"CODEX_THREAD_ID": CODEX_SESSION}).returncode == 0
    assert lock_holders(repo) == {"src/app.py": me}
    codex_allowed(codex_bash(repo, "echo hi > src/app.py"))  # its own lock
    codex_denied(codex_bash(repo, "echo hi > src/app.py", session_id="another-codex-session"))


# -- Gemini CLI ----------------------------------------------------------------------------------------------

def gemini_denied(result) -> str:
    """Gemini: `{"decision": "deny", "reason"}` on exit 0 and nothing on stderr (exit 2 with JSON would not
    block)."""
    assert result.returncode == 0 and result.stderr == "", result
    out = json.loads(result.stdout)
    assert set(out) == {"decision", "reason"} and out["decision"] == "deny"
    return out["reason"]


def gemini_allowed(result) -> None:
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result


def gemini_tool(repo, name: str, tool_input: dict, **changes):
    body = payload("gemini", f"BeforeTool.{name}", repo, **changes)
    body["tool_input"] = tool_input
    return hook(repo, "gemini", "BeforeTool", body)


def test_gemini_replace_on_a_relative_locked_path_is_denied(held):
    replace = {"file_path": "src/app.py", "old_string": "hi", "new_string": "ho", "instruction": "change hi"}
    names_holder(gemini_denied(gemini_tool(held, "replace", replace)))
    # relative to the payload's cwd, which is where gemini was started
    names_holder(gemini_denied(gemini_tool(held, "replace", dict(replace, file_path="app.py"), cwd=str(held / "src"))))


def test_gemini_write_file_of_a_locked_file_is_denied(held):
    names_holder(gemini_denied(gemini_tool(held, "write_file", {"file_path": str(held / "docs/new.md"),
                                                                "content": "x"})))


@pytest.mark.parametrize("command,dir_path", [
    ("echo hi > src/app.py", None), ("echo hi > app.py", "src"), ("tee guide.md < /dev/null", "docs"),
    ("rm -rf docs", None),
])
def test_gemini_shell_writes_to_locked_paths_are_denied(held, command, dir_path):
    tool_input = {"command": command, "description": "write"}
    if dir_path:
        tool_input["dir_path"] = dir_path
    names_holder(gemini_denied(gemini_tool(held, "run_shell_command", tool_input)))


def test_gemini_free_writes_are_allowed(held):
    gemini_allowed(hook(held, "gemini", "BeforeTool", payload("gemini", "BeforeTool.write_file.new-file", held)))
    gemini_allowed(hook(held, "gemini", "BeforeTool", payload("gemini", "BeforeTool.replace", held)))
    gemini_allowed(gemini_tool(held, "run_shell_command", {"command": "echo hi > f.txt", "dir_path": "sub"}))
    gemini_allowed(gemini_tool(held, "run_shell_command", {"command": "cat app.py", "dir_path": "src"}))


def test_gemini_destructive_git_is_denied(held):
    reason = gemini_denied(gemini_tool(held, "run_shell_command", {"command": "git stash"}))
    assert "other-agent" in reason and "discard" in reason


def test_gemini_context_messages_and_the_held_turn(held):
    me = session_agent_id(GEMINI_SESSION, "gemini")

    def context(event, name):
        out = json.loads(hook(held, "gemini", event, payload("gemini", name, held)).stdout)["hookSpecificOutput"]
        assert out["hookEventName"] == event
        return out["additionalContext"]

    assert "other-agent" in context("SessionStart", "SessionStart")
    send(held, "all", "use tabs, not spaces")
    assert "use tabs, not spaces" in context("BeforeAgent", "BeforeAgent")
    send(held, me, "leave the API alone")
    assert "leave the API alone" in context("AfterTool", "AfterTool.replace")

    send(held, me, "reply before you stop")
    held_turn = gemini_denied(hook(held, "gemini", "AfterAgent", payload("gemini", "AfterAgent", held)))
    assert "reply before you stop" in held_turn
    gemini_allowed(hook(held, "gemini", "AfterAgent", payload("gemini", "AfterAgent.stop_hook_active", held)))
    gemini_allowed(hook(held, "gemini", "SessionEnd", payload("gemini", "SessionEnd", held)))


def test_gemini_hooks_and_its_session_variable_are_one_agent(repo):
    me = session_agent_id(GEMINI_SESSION, "gemini")
    assert whoami(repo, {"GEMINI_SESSION_ID": GEMINI_SESSION}) == me
    assert cli(repo, "lock", "src/app.py", agent=None, env={"GEMINI_SESSION_ID": GEMINI_SESSION}).returncode == 0
    gemini_allowed(gemini_tool(repo, "write_file", {"file_path": "src/app.py", "content": "x"}))
    # a payload without the id: the hook environment's GEMINI_SESSION_ID names the session
    body = payload("gemini", "BeforeTool.write_file", repo, tool_input={"file_path": "src/app.py"})
    del body["session_id"]
    gemini_allowed(hook(repo, "gemini", "BeforeTool", body, env={"GEMINI_SESSION_ID": GEMINI_SESSION}))
    gemini_denied(hook(repo, "gemini", "BeforeTool", body, env={"GEMINI_SESSION_ID": "another-gemini"}))


# -- Cursor --------------------------------------------------------------------------------------------------

def cursor_answer(result) -> dict:
    assert result.returncode == 0 and result.stderr == "", result
    return json.loads(result.stdout)


def cursor_denied(result) -> str:
    """Cursor: `permission: deny`, with the reason in both `user_message` (the model sees it) and
    `agent_message`."""
    out = cursor_answer(result)
    assert out["permission"] == "deny" and out["user_message"] == out["agent_message"], out
    return out["user_message"]


def cursor_allowed(result) -> None:
    """A permission event always gets valid JSON back: Cursor takes a missing or broken answer as a deny."""
    assert cursor_answer(result) == {"permission": "allow"}


def cursor_tool(repo, tool: str, tool_input: dict, **changes):
    body = payload("cursor", f"preToolUse.{tool}", repo, **changes)
    body["tool_input"] = tool_input
    return hook(repo, "cursor", "preToolUse", body)


def test_cursor_before_shell_execution_writing_a_locked_file_is_denied(held):
    names_holder(cursor_denied(hook(held, "cursor", "beforeShellExecution", payload("cursor", "beforeShellExecution",
                                                                                    held))))
    body = payload("cursor", "beforeShellExecution", held, command="echo x >> guide.md", cwd=str(held / "docs"))
    names_holder(cursor_denied(hook(held, "cursor", "beforeShellExecution", body)))


def test_cursor_pre_tool_use_writes_of_locked_files_are_denied(held):
    for name in ("Write", "Delete", "Shell"):
        names_holder(cursor_denied(hook(held, "cursor", "preToolUse", payload("cursor", f"preToolUse.{name}", held))))
    names_holder(cursor_denied(cursor_tool(held, "Write", {"file_path": "docs/guide.md", "content": "x"})))


def test_cursor_free_writes_and_reads_get_an_allow(held):
    cursor_allowed(cursor_tool(held, "Write", {"file_path": str(held / "README.md"), "content": "x"}))
    cursor_allowed(hook(held, "cursor", "preToolUse", payload("cursor", "preToolUse.Read", held)))
    cursor_allowed(hook(held, "cursor", "beforeShellExecution",
                        payload("cursor", "beforeShellExecution", held, command="ls src && cat src/app.py")))


def test_cursor_destructive_git_is_denied(held):
    body = payload("cursor", "beforeShellExecution", held, command="git reset --hard HEAD")
    reason = cursor_denied(hook(held, "cursor", "beforeShellExecution", body))
    assert "other-agent" in reason and "discard" in reason


def test_cursor_context_messages_and_the_held_turn(held):
    me = session_agent_id(CURSOR_SESSION, "cursor")
    start = cursor_answer(hook(held, "cursor", "sessionStart", payload("cursor", "sessionStart", held)))
    assert "other-agent" in start["additional_context"]
    send(held, "all", "use tabs, not spaces")
    prompt = cursor_answer(hook(held, "cursor", "beforeSubmitPrompt", payload("cursor", "beforeSubmitPrompt", held)))
    assert "use tabs, not spaces" in prompt["additional_context"]
    send(held, me, "leave the API alone")
    post = cursor_answer(hook(held, "cursor", "postToolUse", payload("cursor", "postToolUse.Write", held)))
    assert "leave the API alone" in post["additional_context"]

    send(held, me, "reply before you stop")
    stop = cursor_answer(hook(held, "cursor", "stop", payload("cursor", "stop", held)))
    assert "reply before you stop" in stop["followup_message"]
    assert cursor_answer(hook(held, "cursor", "stop", payload("cursor", "stop", held, loop_count=1))) == {}
    assert cursor_answer(hook(held, "cursor", "sessionEnd", payload("cursor", "sessionEnd", held))) == {}


def test_cursor_after_file_edit_logs_the_edit(repo):
    assert cursor_answer(hook(repo, "cursor", "afterFileEdit", payload("cursor", "afterFileEdit", repo))) == {}
    logged = json.loads(cli(repo, "activity", "--json", "--file", "src/new.py").stdout)["activity"]
    assert [entry["type"] for entry in logged] == ["edit"]


@pytest.mark.parametrize("conversation,shell_value", [
    (CURSOR_SESSION, CURSOR_SESSION),
    ("chat 7/ü", "chat_207_2F_C3_BC"),  # as Cursor encodes it for the environment
])
def test_cursor_shell_and_hooks_are_one_agent(repo, conversation, shell_value):
    me = session_agent_id(shell_value, "cursor")
    assert whoami(repo, {"CURSOR_CONVERSATION_ID": shell_value}) == me
    assert cli(repo, "lock", "src/app.py", agent=None, env={"CURSOR_CONVERSATION_ID": shell_value}).returncode == 0
    assert lock_holders(repo) == {"src/app.py": me}
    cursor_allowed(hook(repo, "cursor", "preToolUse", payload("cursor", "preToolUse.Write", repo,
                                                              conversation_id=conversation, session_id=conversation)))
    cursor_denied(hook(repo, "cursor", "preToolUse", payload("cursor", "preToolUse.Write", repo,
                                                             conversation_id="x", session_id="x")))


def test_cursor_always_answers_a_permission_event(repo, tmp_path):
    for raw in ("", "not json", "[1]", '{"tool_name": "Write", "tool_input": "nope"}'):
        cursor_allowed(hook(repo, "cursor", "preToolUse", raw))
        cursor_allowed(hook(repo, "cursor", "beforeShellExecution", raw))
    outside = tmp_path / "scratch"
    outside.mkdir()
    body = payload("cursor", "preToolUse.Write", outside, workspace_roots=[str(outside)])
    result = run_cli(outside, "hook", "--agent", "cursor", "preToolUse", stdin=json.dumps(body))
    cursor_allowed(result)
    assert list(outside.iterdir()) == []


# -- Copilot CLI ---------------------------------------------------------------------------------------------

def copilot_denied(result) -> str:
    """Copilot: `permissionDecision: deny` with its reason on exit 0 (exit 2 would hide the reason)."""
    assert result.returncode == 0 and result.stderr == "", result
    out = json.loads(result.stdout)
    assert out["permissionDecision"] == "deny"
    assert out["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert out["hookSpecificOutput"]["permissionDecisionReason"] == out["permissionDecisionReason"]
    return out["permissionDecisionReason"]


def copilot_allowed(result) -> None:
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result


def copilot_tool(repo, style: str, tool: str, arguments, *, event=None, **changes):
    if style == "camel":
        body = payload("copilot", "camel.preToolUse.bash", repo, toolName=tool, toolArgs=arguments, **changes)
        return hook(repo, "copilot", event or "preToolUse", body)
    body = payload("copilot", "pascal.PreToolUse.Bash", repo, tool_name=tool, tool_input=arguments, **changes)
    return hook(repo, "copilot", event or "PreToolUse", body)


SHELL_WRITE = {"command": "echo hi > src/app.py", "description": "write"}


@pytest.mark.parametrize("style,tool,arguments", [
    ("camel", "bash", SHELL_WRITE),
    ("camel", "bash", json.dumps(SHELL_WRITE)),
    ("pascal", "Bash", SHELL_WRITE),
    ("pascal", "Bash", json.dumps(SHELL_WRITE)),
], ids=["camel-object", "camel-json-string", "pascal-object", "pascal-json-string"])
def test_copilot_shell_write_of_a_locked_file_is_denied_in_both_styles(held, style, tool, arguments):
    names_holder(copilot_denied(copilot_tool(held, style, tool, arguments)))


PATCH = "*** Begin Patch\n*** Update File: src/app.py\n@@\n-print('hi')\n+print('ho')\n*** End Patch\n"


@pytest.mark.parametrize("style,tool,arguments", [
    ("camel", "create", {"path": "src/app.py", "file_text": "x"}),
    ("camel", "edit", {"path": "{repo}/docs/guide.md", "old_str": "guide", "new_str": "x"}),
    ("camel", "apply_patch", PATCH),
    ("pascal", "Write", {"path": "src/app.py", "file_text": "x"}),
    ("pascal", "Edit", {"path": "docs/guide.md", "old_str": "guide", "new_str": "x"}),
    ("pascal", "Edit", PATCH),
])
def test_copilot_file_tool_writes_of_locked_files_are_denied(held, style, tool, arguments):
    if isinstance(arguments, dict):
        arguments = {k: v.replace("{repo}", str(held)) for k, v in arguments.items()}
    names_holder(copilot_denied(copilot_tool(held, style, tool, arguments)))


def test_copilot_captured_payloads_pass_or_block_by_their_paths(held):
    (held / "locked.txt").write_text("locked\n")
    assert cli(held, "lock", "locked.txt", "--reason", "refactoring").returncode == 0
    for name in ("camel.preToolUse.create", "pascal.PreToolUse.Write"):  # new.txt: free (one session, two styles)
        body = payload("copilot", name, held)
        body["sessionId" if "sessionId" in body else "session_id"] = COPILOT_CAMEL_SESSION
        copilot_allowed(hook(held, "copilot", name.split(".")[1], body))
    for name in ("camel.preToolUse.edit", "camel.preToolUse.bash", "pascal.PreToolUse.Edit"):  # locked.txt
        names_holder(copilot_denied(hook(held, "copilot", name.split(".")[1], payload("copilot", name, held))))
    # apply_patch (codex models): toolArgs / tool_input is the raw patch text, and PascalCase calls it Edit
    patches = ("camel.preToolUse.apply_patch", "pascal.PreToolUse.Edit.apply_patch")  # open.txt, added.txt
    for name in patches:
        copilot_allowed(hook(held, "copilot", name.split(".")[1], payload("copilot", name, held)))
    for name in patches:
        body = json.loads(json.dumps(payload("copilot", name, held)).replace("Update File: open.txt",
                                                                              "Update File: locked.txt"))
        assert "locked.txt" in names_holder(copilot_denied(hook(held, "copilot", name.split(".")[1], body)))


def test_copilot_free_writes_are_allowed(held):
    copilot_allowed(copilot_tool(held, "camel", "create", {"path": "new.txt", "file_text": "x"}))
    copilot_allowed(copilot_tool(held, "pascal", "Bash", json.dumps({"command": "echo hi > other.txt"})))
    copilot_allowed(copilot_tool(held, "camel", "view", {"path": "src/app.py"}))


def test_copilot_destructive_git_is_denied(held):
    reason = copilot_denied(copilot_tool(held, "camel", "bash", {"command": "git checkout ."}))
    assert "other-agent" in reason and "discard" in reason


@pytest.mark.parametrize("style", ["camel", "pascal"])
def test_copilot_context_messages_and_the_held_turn(held, style):
    session = COPILOT_CAMEL_SESSION if style == "camel" else COPILOT_PASCAL_SESSION
    me = session_agent_id(session, "copilot")
    names = {"camel": ("sessionStart", "userPromptSubmitted", "postToolUse", "agentStop", "sessionEnd"),
             "pascal": ("SessionStart", "UserPromptSubmit", "PostToolUse", "Stop", "SessionEnd")}[style]
    post_name = "camel.postToolUse.create" if style == "camel" else "pascal.PostToolUse.Write"

    def context(event, name):
        result = hook(held, "copilot", event, payload("copilot", name, held))
        assert result.returncode == 0, result
        out = json.loads(result.stdout)
        assert set(out) == {"additionalContext"}  # top-level in both styles (what Copilot injects)
        return out["additionalContext"]

    start, prompt, post, stop, end = names
    assert "other-agent" in context(start, f"{style}.{start}")
    send(held, "all", "use tabs, not spaces")
    assert "use tabs, not spaces" in context(prompt, f"{style}.{prompt}")
    send(held, me, "leave the API alone")
    assert "leave the API alone" in context(post, post_name)

    send(held, me, "reply before you stop")
    result = hook(held, "copilot", stop, payload("copilot", f"{style}.{stop}", held))
    assert result.returncode == 0
    held_turn = json.loads(result.stdout)
    assert held_turn["decision"] == "block" and "reply before you stop" in held_turn["reason"]
    copilot_allowed(hook(held, "copilot", stop, payload("copilot", f"{style}.{stop}", held, stop_hook_active=True)))
    copilot_allowed(hook(held, "copilot", end, payload("copilot", f"{style}.{end}", held)))


def test_copilot_shell_and_hooks_are_one_agent(repo):
    me = session_agent_id(COPILOT_CAMEL_SESSION, "copilot")
    env = {"COPILOT_AGENT_SESSION_ID": COPILOT_CAMEL_SESSION}
    assert whoami(repo, env) == me
    assert cli(repo, "lock", "src/app.py", agent=None, env=env).returncode == 0
    copilot_allowed(copilot_tool(repo, "camel", "bash", SHELL_WRITE))
    copilot_denied(copilot_tool(repo, "camel", "bash", SHELL_WRITE, sessionId="another-copilot"))


def test_oversized_payloads_still_block(held):
    """Past the size parsed whole, a payload is read for what a decision needs, a raw patch included: a size cap
    never turns a conflict into an allow."""
    filler = "+" + "x" * (8 * 1024 * 1024 + 1000) + "\n"
    patch = "*** Begin Patch\n*** Update File: src/app.py\n@@\n-print('hi')\n" + filler + "*** End Patch\n"
    for name in ("camel.preToolUse.apply_patch", "pascal.PreToolUse.Edit.apply_patch"):
        body = payload("copilot", name, held)
        body["toolArgs" if "toolArgs" in body else "tool_input"] = patch
        names_holder(copilot_denied(hook(held, "copilot", name.split(".")[1], body)))


def test_copilot_never_exits_non_zero_unless_it_blocks(held):
    """Copilot takes any non-zero exit as a deny."""
    for raw in ("", "not json", '{"toolName": "bash", "toolArgs": 7}', '{"toolArgs": "{broken"}'):
        for event in ("sessionStart", "preToolUse", "PreToolUse", "agentStop"):
            result = hook(held, "copilot", event, raw)
            assert result.returncode == 0 and result.stderr == "", (event, raw, result)


# -- the hooks of .claude/settings.json, which Cursor and Copilot CLI run too ----------------------------------

def test_a_claude_settings_hook_run_by_copilot_speaks_for_the_same_agent(repo):
    """Copilot runs the project's Claude Code hooks as well as its own: both must be the one Copilot agent, or
    the lease one takes would block the other, and the answer must be Copilot's."""
    body = payload("copilot", "pascal.PreToolUse.Bash", repo, tool_input={"command": "echo x > README.md"})
    env = {"COPILOT_CLI": "1"}
    copilot_allowed(hook(repo, "copilot", "PreToolUse", body, env=env))
    assert lock_holders(repo) == {"README.md": session_agent_id(COPILOT_PASCAL_SESSION, "copilot")}
    claude_hook = run_cli(repo, "hook", "pre-tool-use", stdin=json.dumps(body), env=env)
    assert claude_hook.returncode == 0 and claude_hook.stdout == "", claude_hook
    other = dict(body, session_id="another-copilot")
    claude_denied = run_cli(repo, "hook", "pre-tool-use", stdin=json.dumps(other), env=env)
    assert claude_denied.returncode == 0 and json.loads(claude_denied.stdout)["permissionDecision"] == "deny"


def test_a_claude_settings_hook_run_by_cursor_speaks_for_the_same_agent(repo):
    body = payload("cursor", "preToolUse.Write", repo, tool_input={"file_path": str(repo / "README.md")})
    cursor_allowed(hook(repo, "cursor", "preToolUse", body))
    claude_hook = run_cli(repo, "hook", "pre-tool-use", stdin=json.dumps(body))
    cursor_allowed(claude_hook)
    claude_denied = run_cli(repo, "hook", "pre-tool-use", stdin=json.dumps(dict(body, conversation_id="x")))
    assert cursor_denied(claude_denied).startswith("agent-sync BLOCKED: ")


def test_a_claude_code_hook_stays_claude_code(repo):
    body = {"session_id": "s-claude", "cwd": str(repo), "hook_event_name": "PreToolUse", "tool_name": "Bash",
            "tool_input": {"command": "echo x > README.md"}, "timestamp": "2026-12-01T17:01:04.401Z"}
    env = {"COPILOT_CLI": "1", "CLAUDE_CODE_SESSION_ID": "s-claude"}  # a Claude Code started from Copilot's shell
    result = run_cli(repo, "hook", "pre-tool-use", stdin=json.dumps(body), env=env)
    assert result.returncode == 0 and result.stdout == ""
    assert lock_holders(repo) == {"README.md": session_agent_id("s-claude", "claude")}


# -- every adapter ---------------------------------------------------------------------------------------------

EVENTS_OF = {
    "codex": ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd"),
    "gemini": ("SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "AfterAgent", "SessionEnd"),
    "cursor": ("sessionStart", "beforeSubmitPrompt", "preToolUse", "beforeShellExecution", "afterFileEdit", "stop",
               "sessionEnd"),
    "copilot": ("sessionStart", "userPromptSubmitted", "preToolUse", "postToolUse", "agentStop", "sessionEnd"),
}


@pytest.mark.parametrize("agent", list(EVENTS_OF))
def test_each_adapter_declares_its_events_and_takes_any_spelling(agent):
    from agent_sync import agents

    adapter = agents.load(agent)
    assert adapter.NAME == agent and adapter.TITLE
    names = [entry[1] for entry in adapter.EVENTS]
    assert set(EVENTS_OF[agent]) <= set(names)
    for slug, name, kind, inject, matcher in adapter.EVENTS:
        assert slug == name and isinstance(inject, bool) and (matcher is None or isinstance(matcher, str))
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
        for spelling in (name, name.lower(), name.upper(), snake, snake.replace("_", "-")):
            event = adapter.parse(spelling, {}, {})
            assert event is not None and event.kind == kind and event.client == agent, spelling
    assert adapter.parse("NoSuchEvent", {}, {}) is None


@pytest.mark.parametrize("agent", list(EVENTS_OF))
def test_odd_payload_shapes_never_crash_an_adapter(agent):
    from agent_sync import agents
    from agent_sync.core.engine import ALLOW, Verdict

    adapter = agents.load(agent)
    odd = [{}, {"tool_name": 5, "tool_input": [1]}, {"toolName": None, "toolArgs": {"path": 3}},
           {"tool_name": "Write", "tool_input": {"file_path": {"x": 1}}}, {"workspace_roots": "nope", "cwd": 4},
           {"tool_name": "run_shell_command", "tool_input": {"dir_path": 9, "command": ["ls"]}},
           {"toolName": "bash", "toolArgs": "{\"command\": 5}"}, {"conversation_id": 12, "session_id": []},
           {"tool_name": "apply_patch", "tool_input": "raw text"}, {"toolName": "edit", "toolArgs": "[1, 2]"}]
    for _slug, name, _kind, _inject, _matcher in adapter.EVENTS:
        for body in odd:
            event = adapter.parse(name, body, {})
            for verdict in (ALLOW, Verdict(deny="no"), Verdict(context="c"), Verdict(hold="h")):
                out = adapter.render(event, verdict)
                assert isinstance(out.code, int) and isinstance(out.stdout, str)


# -- the hook path stays light -----------------------------------------------------------------------------------

IMPORT_PROBE = """
import sys
before = set(sys.modules)
from agent_sync.cli import main  # what the console script runs (it then leaves with os._exit)
main(['hook', '--agent', sys.argv[1], sys.argv[2]])
sys.stdout.flush()
sys.stderr.write('MODULES ' + ' '.join(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("agent,event,body", [
    ("codex", "PreToolUse", {"session_id": "s", "tool_name": "apply_patch",
                             "tool_input": {"command": "*** Begin Patch\n*** Update File: src/app.py\n*** End Patch"}}),
    ("gemini", "BeforeTool", {"session_id": "s", "tool_name": "run_shell_command",
                              "tool_input": {"command": "echo x > app.py", "dir_path": "src"}}),
    ("cursor", "beforeShellExecution", {"conversation_id": "s", "command": "echo x > src/app.py"}),
    ("copilot", "preToolUse", {"sessionId": "s", "toolName": "bash", "toolArgs": "{\"command\": \"echo x > src/app.py\"}"}),
])
def test_the_hook_path_imports_only_the_standard_library_core_and_its_adapter(held, agent, event, body):
    body = dict(body, cwd=str(held), workspace_roots=[str(held)])
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE, agent, event], cwd=held, env=agent_env(),
                            input=json.dumps(body), capture_output=True, text=True, timeout=60)
    assert "other-agent" in result.stdout, result  # it did decide, and denied
    modules = set(result.stderr.split("MODULES ", 1)[1].split())
    foreign = {m for m in modules if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "agent_sync"}
    assert foreign == set(), foreign
    adapters = {m for m in modules if m.startswith("agent_sync.agents.")}
    assert adapters == {f"agent_sync.agents.{agent}"}
    for front_end in ("agent_sync.install", "agent_sync.render", "agent_sync.demo", "agent_sync.cli.app",
                      "agent_sync.cli.commands", "agent_sync.core.operations"):
        assert front_end not in modules, front_end
    for heavy in ("argparse", "asyncio", "hashlib", "subprocess", "tomllib", "urllib", "urllib.parse"):
        assert heavy not in modules, heavy
