"""Claude Code hook events through the real CLI, with the payload shapes Claude Code sends."""

import json
import os
import subprocess
import sys

import pytest

from agent_sync.identity import session_agent_id
from helpers import hold_write_lock, run_cli

SESSION = "5f0c3c7e-1111-4e55-9a0b-7f6a2c1d9e01"
OTHER_SESSION = "9a8b7c6d-2222-4e55-9a0b-7f6a2c1d9e02"


def cli(repo, *args, agent="other", env=None, stdin=None):
    return run_cli(repo, *args, agent=agent, env=env, stdin=stdin)


def hook(repo, event, payload=None, *, raw=None, session=SESSION, env=None):
    if raw is None:
        body = {"session_id": session, "transcript_path": "/tmp/t.jsonl", "cwd": str(repo),
                "hook_event_name": event, "permission_mode": "acceptEdits"}
        body.update(payload or {})
        raw = json.dumps(body)
    result = cli(repo, "hook", event, agent=None, stdin=raw, env=env)
    assert "Traceback" not in result.stderr
    return result


def pre_tool(repo, tool, tool_input, **kw):
    return hook(repo, "pre-tool-use", {"tool_name": tool, "tool_input": tool_input, "tool_use_id": "toolu_1"},
                **kw)


def denied(result) -> str:
    """A block is exit 2 with the reason on stderr, and Claude's deny JSON on stdout saying the same."""
    assert result.returncode == 2, result.stderr
    out = json.loads(result.stdout)
    specific = out["hookSpecificOutput"]
    assert specific["hookEventName"] == "PreToolUse"
    assert specific["permissionDecision"] == "deny"
    assert result.stderr.strip() == specific["permissionDecisionReason"]
    return specific["permissionDecisionReason"]


def allowed(result) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", result.stdout


def locks_json(repo):
    return json.loads(cli(repo, "locks", "--json").stdout)["locks"]


@pytest.fixture
def held(repo):
    """Another agent, `other-agent`, holds src/app.py, docs/ and notes.ipynb."""
    (repo / "docs").mkdir()
    (repo / "notes.ipynb").write_text("{}")
    assert cli(repo, "register", "--name", "other-agent").returncode == 0
    result = cli(repo, "lock", "src/app.py", "docs/", "notes.ipynb", "--reason", "refactoring")
    assert result.returncode == 0, result.stderr
    return repo


# -- pre-tool-use -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("tool,tool_input", [
    ("Edit", {"file_path": "{repo}/src/app.py", "old_string": "hi", "new_string": "ho"}),
    ("Write", {"file_path": "{repo}/src/app.py", "content": "x"}),
    ("MultiEdit", {"file_path": "{repo}/src/app.py", "edits": [{"old_string": "a", "new_string": "b"}]}),
    ("NotebookEdit", {"notebook_path": "{repo}/notes.ipynb", "cell_id": "c1", "new_source": "1"}),
    ("Write", {"file_path": "{repo}/docs/guide.md", "content": "x"}),
    ("Edit", {"file_path": "src/app.py", "old_string": "a", "new_string": "b"}),
])
def test_edit_of_a_locked_path_is_denied_naming_the_holder(held, tool, tool_input):
    tool_input = {k: v.replace("{repo}", str(held)) if isinstance(v, str) else v for k, v in tool_input.items()}
    reason = denied(pre_tool(held, tool, tool_input))
    assert "other-agent" in reason
    assert "refactoring" in reason
    assert "agent-sync send --to other-agent" in reason


@pytest.mark.parametrize("command", [
    "echo hi > src/app.py",
    "cd src && sed -i 's/hi/ho/' app.py",
    "true && tee -a docs/x.md < /dev/null",
    "rm -rf docs",
    "git checkout -- .",
])
def test_bash_writes_to_locked_paths_are_denied(held, command):
    assert "other-agent" in denied(pre_tool(held, "Bash", {"command": command, "description": "d"}))


@pytest.mark.parametrize("command", ["cat src/app.py", "grep -r hi docs", "git diff src/app.py", "ls docs/"])
def test_bash_reads_are_never_blocked(held, command):
    allowed(pre_tool(held, "Bash", {"command": command}))


def test_a_session_is_never_blocked_by_its_own_locks(repo):
    me = session_agent_id(SESSION)
    assert cli(repo, "lock", "src/app.py", "src/", "src/**", agent=me).returncode == 0
    for tool in ("Edit", "Write"):
        allowed(pre_tool(repo, tool, {"file_path": str(repo / "src/app.py"), "content": "x"}))
    allowed(pre_tool(repo, "Bash", {"command": "echo x > src/app.py"}))
    # the same identity from the agent's shell (CLAUDE_CODE_SESSION_ID) is the same agent
    shell = cli(repo, "whoami", "--json", agent=None, env={"CLAUDE_CODE_SESSION_ID": SESSION})
    assert json.loads(shell.stdout)["id"] == me


def test_other_tools_and_paths_outside_the_repository_pass(held, tmp_path):
    allowed(pre_tool(held, "Read", {"file_path": str(held / "src/app.py")}))
    allowed(pre_tool(held, "Write", {"file_path": str(tmp_path / "elsewhere.txt"), "content": "x"}))
    allowed(pre_tool(held, "Edit", {"file_path": 42}))


def test_auto_policy_leases_a_free_file_for_the_turn(repo):
    first = pre_tool(repo, "Edit", {"file_path": str(repo / "README.md"), "old_string": "a", "new_string": "b"})
    allowed(first)
    leases = [lock for lock in locks_json(repo) if lock["target"] == "README.md"]
    assert len(leases) == 1 and leases[0]["lease"] is True
    assert leases[0]["holder"] == session_agent_id(SESSION)
    # a second session editing the same file in the same stretch of work is stopped
    reason = denied(pre_tool(repo, "Write", {"file_path": str(repo / "README.md")}, session=OTHER_SESSION))
    assert session_agent_id(SESSION) in reason
    # the turn ends: the lease goes, and the other session may edit
    allowed(hook(repo, "stop", {"stop_hook_active": False, "last_assistant_message": "done"}))
    assert not [lock for lock in locks_json(repo) if lock["target"] == "README.md"]
    allowed(pre_tool(repo, "Write", {"file_path": str(repo / "README.md")}, session=OTHER_SESSION))


def test_advisory_policy_takes_no_lease_and_strict_needs_a_lock(repo):
    path = str(repo / "README.md")
    allowed(pre_tool(repo, "Edit", {"file_path": path}, env={"AGENT_SYNC_EDIT_POLICY": "advisory"}))
    assert locks_json(repo) == []
    reason = denied(pre_tool(repo, "Edit", {"file_path": path}, env={"AGENT_SYNC_EDIT_POLICY": "strict"}))
    assert "strict" in reason and "agent-sync lock README.md" in reason
    assert cli(repo, "lock", "README.md", agent=session_agent_id(SESSION)).returncode == 0
    allowed(pre_tool(repo, "Edit", {"file_path": path}, env={"AGENT_SYNC_EDIT_POLICY": "strict"}))


def test_editing_under_your_own_lock_renews_it(repo):
    me = session_agent_id(SESSION)
    assert cli(repo, "lock", "README.md", "--ttl", "1", agent=me).returncode == 0
    before = locks_json(repo)[0]["expires_in_s"]
    allowed(pre_tool(repo, "Edit", {"file_path": str(repo / "README.md")}))
    after = locks_json(repo)[0]
    assert after["expires_in_s"] > before + 600 and after["lease"] is False


def test_destructive_git_is_denied_while_another_agent_works_in_the_worktree(repo):
    allowed(pre_tool(repo, "Bash", {"command": "git reset --hard HEAD"}))  # nobody else here
    assert cli(repo, "register", "--name", "other-agent").returncode == 0
    for command in ("git reset --hard", "git clean -fdx", "git stash", "git checkout ."):
        reason = denied(pre_tool(repo, "Bash", {"command": command}))
        assert "other-agent" in reason and "discard" in reason


# -- the other events -------------------------------------------------------------------------------------

def test_session_start_registers_and_injects_the_compact_state(held):
    result = hook(held, "session-start", {"source": "startup", "model": "claude"})
    out = json.loads(result.stdout)["hookSpecificOutput"]
    assert out["hookEventName"] == "SessionStart"
    context = out["additionalContext"]
    assert context.startswith('<agent-sync-state trust="untrusted">') and context.endswith("</agent-sync-state>")
    assert "other-agent" in context and len(context) < 2000
    agents = json.loads(cli(held, "status", "--json").stdout)["agents"]
    assert any(a["id"] == session_agent_id(SESSION) and a["client"] == "claude" for a in agents)


def test_user_prompt_submit_pushes_each_message_once(repo):
    hook(repo, "session-start", {"source": "startup"})
    assert cli(repo, "send", "--to", "all", "--message", "use tabs, not spaces").returncode == 0
    first = hook(repo, "user-prompt-submit", {"prompt": "go on"})
    out = json.loads(first.stdout)["hookSpecificOutput"]
    assert out["hookEventName"] == "UserPromptSubmit"
    assert "use tabs, not spaces" in out["additionalContext"]
    allowed(hook(repo, "user-prompt-submit", {"prompt": "again"}))


def test_stop_holds_the_turn_for_a_directed_message_then_lets_go(repo):
    hook(repo, "session-start", {"source": "startup"})
    me = session_agent_id(SESSION)
    assert cli(repo, "send", "--to", me, "--message", "stop touching the API").returncode == 0
    assert cli(repo, "send", "--to", "all", "--message", "fyi: lunch").returncode == 0
    blocked = json.loads(hook(repo, "stop", {"stop_hook_active": False}).stdout)
    assert blocked["decision"] == "block"
    assert "stop touching the API" in blocked["reason"] and "lunch" not in blocked["reason"]
    allowed(hook(repo, "stop", {"stop_hook_active": True}))


def test_post_tool_use_logs_the_edit(repo):
    payload = {"tool_name": "Write", "tool_input": {"file_path": str(repo / "src/new.py"), "content": "x"},
               "tool_response": {"filePath": str(repo / "src/new.py"), "success": True}}
    allowed(hook(repo, "post-tool-use", payload))
    entries = json.loads(cli(repo, "activity", "--json", "--file", "src/new.py").stdout)["activity"]
    assert [e["type"] for e in entries] == ["edit"]


def test_session_end_makes_the_agent_idle_and_its_locks_stop_holding(repo):
    me = session_agent_id(SESSION)
    hook(repo, "session-start", {"source": "startup"})
    assert cli(repo, "lock", "README.md", agent=me).returncode == 0
    assert cli(repo, "lock", "README.md").returncode == 2
    allowed(hook(repo, "session-end", {"reason": "prompt_input_exit"}))
    assert cli(repo, "lock", "README.md").returncode == 0


@pytest.mark.parametrize("event", ["subagent-stop", "pre-compact"])
def test_quiet_events_heartbeat(repo, event):
    allowed(hook(repo, event, {"trigger": "auto", "agent_id": "a1", "agent_type": "general"}))
    assert any(a["id"] == session_agent_id(SESSION)
               for a in json.loads(cli(repo, "status", "--json").stdout)["agents"])


# -- failing open -----------------------------------------------------------------------------------------

BAD_STDIN = {"empty": "", "text": "not json", "list": "[1, 2]", "truncated": '{"tool_name": ',
             "binary": "\x00\xff garbage", "object": "{}", "wrong-types": '{"tool_name": "Edit", "tool_input": "nope"}',
             "huge": '{"tool_name": "Edit", "tool_input": {"file_path": "' + "x" * (5 * 1024 * 1024) + '"}}'}


@pytest.mark.parametrize("raw", list(BAD_STDIN.values()), ids=list(BAD_STDIN))
def test_bad_stdin_fails_open_quietly(held, raw):
    for event in ("pre-tool-use", "post-tool-use", "stop", "session-start", "user-prompt-submit"):
        result = hook(held, event, raw=raw)
        assert result.returncode == 0
        assert result.stderr == ""


@pytest.mark.sqlite_only  # a damaged SQLite file (test_postgres.py: an unreachable server)
def test_a_broken_database_never_stops_an_agent(repo):
    state = repo / ".claude" / "coordination"
    state.mkdir(parents=True)
    (state / "state.sqlite").write_bytes(b"this is not a database" * 100)
    allowed(pre_tool(repo, "Edit", {"file_path": str(repo / "README.md")}))
    allowed(hook(repo, "stop", {}))


def test_unknown_event_is_harmless(repo):
    result = cli(repo, "hook", "no-such-event", agent=None, stdin="{}")
    assert result.returncode == 0 and result.stdout == ""


def test_a_busy_database_does_not_make_the_hook_wait(held):
    """Another process holds the write lock: the hook decides from a snapshot and spools its log entry."""
    with hold_write_lock(held):
        assert "other-agent" in denied(pre_tool(held, "Edit", {"file_path": str(held / "src/app.py")}))
        allowed(pre_tool(held, "Edit", {"file_path": str(held / "README.md")}))
        payload = {"tool_name": "Edit", "tool_input": {"file_path": str(held / "README.md")}}
        allowed(hook(held, "post-tool-use", payload))
        assert len(list((held / ".claude" / "coordination" / "spool").glob("*.json"))) == 1  # deferred
    allowed(hook(held, "pre-compact", {"trigger": "auto"}))  # the next hook replays the spooled entry
    entries = json.loads(cli(held, "activity", "--json", "--file", "README.md").stdout)["activity"]
    assert [e["type"] for e in entries] == ["edit"]


# -- git pre-commit guard ---------------------------------------------------------------------------------

def test_git_guard_refuses_a_commit_touching_a_locked_path(held):
    subprocess.run(["git", "add", "src/app.py", "README.md"], cwd=held, check=True)
    refused = cli(held, "hook", "git-pre-commit", agent="committer")
    assert refused.returncode == 1
    assert "src/app.py" in refused.stderr and "other-agent" in refused.stderr
    assert "AGENT_SYNC_SKIP_GIT_GUARD" in refused.stderr
    bypass = cli(held, "hook", "git-pre-commit", agent="committer", env={"AGENT_SYNC_SKIP_GIT_GUARD": "1"})
    assert bypass.returncode == 0
    own = cli(held, "hook", "git-pre-commit", agent="other")
    assert own.returncode == 0


# -- the hook path stays light ----------------------------------------------------------------------------

@pytest.mark.sqlite_only  # on PostgreSQL the hook path imports psycopg by design (test_postgres.py checks the rest)
def test_the_hook_path_imports_no_heavy_modules(held):
    payload = json.dumps({"session_id": SESSION, "cwd": str(held), "tool_name": "Edit",
                          "tool_input": {"file_path": str(held / "src/app.py")}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SYNC_")}
    code = ("import sys; sys.argv = ['agent-sync', 'hook', 'pre-tool-use']\n"
            "from agent_sync.cli import main\nmain()\n"
            "sys.stderr.write('MODULES ' + ' '.join(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=held, env=env, input=payload, capture_output=True,
                            text=True, timeout=60)
    assert "permissionDecision" in result.stdout
    modules = set(result.stderr.split("MODULES ", 1)[1].split())
    for heavy in ("argparse", "mcp", "textual", "starlette", "uvicorn", "psycopg", "pydantic", "asyncio",
                  "hashlib", "subprocess", "shlex", "tomllib"):
        assert heavy not in modules, heavy


def test_installed_git_guard_stops_a_real_commit(held):
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@example.invalid", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@example.invalid"}
    installed = cli(held, "install", "--git-hook", agent="committer")
    assert installed.returncode == 0, installed.stderr
    subprocess.run(["git", "add", "src/app.py"], cwd=held, check=True)
    commit = subprocess.run(["git", "commit", "-qm", "touch app"], cwd=held, capture_output=True, text=True,
                            env=dict(os.environ, AGENT_SYNC_ID="committer", **env))
    assert commit.returncode != 0
    assert "src/app.py" in commit.stderr and "other-agent" in commit.stderr
    bypass = subprocess.run(["git", "commit", "-qm", "touch app"], cwd=held, capture_output=True, text=True,
                            env=dict(os.environ, AGENT_SYNC_ID="committer", AGENT_SYNC_SKIP_GIT_GUARD="1", **env))
    assert bypass.returncode == 0, bypass.stderr


def test_a_lock_holds_in_every_worktree_of_the_repository(held, tmp_path):
    git = ["git", "-c", "user.name=a", "-c", "user.email=a@example.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=held, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=held, check=True)
    tree = tmp_path / "feature-tree"
    subprocess.run(["git", "worktree", "add", "-q", str(tree)], cwd=held, check=True)
    reason = denied(hook(tree, "pre-tool-use", {"tool_name": "Edit", "tool_input": {
        "file_path": str(tree / "src" / "app.py"), "old_string": "hi", "new_string": "ho"}}))
    assert "src/app.py" in reason and "other-agent" in reason
    assert not (tree / ".claude" / "coordination").exists()  # one shared state, in the main worktree


def test_hooks_outside_any_repository_do_nothing_and_create_nothing(tmp_path):
    outside = tmp_path / "scratch"
    outside.mkdir()
    for event, extra in (("session-start", {"source": "startup"}),
                         ("pre-tool-use", {"tool_name": "Write", "tool_input": {"file_path": str(outside / "a")}}),
                         ("stop", {})):
        allowed(hook(outside, event, extra))
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("encoding", ["utf-8-surrogate", "utf-16", "utf-8-bom"])
def test_a_payload_json_itself_accepts_is_read_whatever_its_bytes(held, encoding):
    """A lone surrogate in a Write's content (which json.loads takes as UTF-8 with surrogatepass), or a payload
    in UTF-16 or with a byte-order mark, is still read: an edit of a held file is refused, never let through
    because the bytes were stricter than json's."""
    body = json.dumps({"session_id": SESSION, "cwd": str(held), "hook_event_name": "PreToolUse",
                       "tool_name": "Write", "tool_input": {"file_path": str(held / "src" / "app.py"),
                                                            "content": "CONTENT"}})
    if encoding == "utf-8-surrogate":
        raw = body.encode().replace(b"CONTENT", b"\xed\xa0\x80")
    elif encoding == "utf-16":
        raw = body.encode("utf-16")
    else:
        raw = b"\xef\xbb\xbf" + body.encode()
    result = run_cli(held, "hook", "pre-tool-use", stdin=raw)
    assert result.returncode == 2 and b"other-agent" in result.stderr, result


def test_an_internal_error_fails_open_and_tells_the_agent_once_that_it_is_unguarded(repo, tmp_path, monkeypatch,
                                                                                   capsys):
    """A bug in our own code lets the call go on (never a traceback), and the agent hears once per session,
    in its context, that its edits are unguarded: as for a database we cannot use."""
    import io

    from agent_sync import hooks
    from agent_sync.core import engine

    def broken(ctx, event):
        raise RuntimeError("a bug")

    assert cli(repo, "init").returncode == 0
    monkeypatch.chdir(repo)  # where an agent runs its hooks
    monkeypatch.setitem(engine._HANDLERS, engine.PROMPT, broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    body = json.dumps({"session_id": SESSION, "cwd": str(repo), "hook_event_name": "UserPromptSubmit",
                       "prompt": "hi"}).encode()
    answers = []
    for _ in range(2):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body)))
        assert hooks.run_hook(["user-prompt-submit"]) == 0
        answers.append(capsys.readouterr())
    first = json.loads(answers[0].out)["hookSpecificOutput"]["additionalContext"]
    assert "UNGUARDED" in first and "RuntimeError: a bug" in first and answers[0].err == ""
    assert answers[1].out.strip() == ""  # told once
    assert "RuntimeError: a bug" in (repo / ".claude" / "coordination" / "hook-errors.log").read_text()
