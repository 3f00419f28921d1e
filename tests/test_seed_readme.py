"""The original tool's README (claude-agent-sync 0.2.1): its "Quickstart" and "Example: three agents" shell blocks
run verbatim, one command at a time, with bash in a fresh git repository, and do what the README says."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from helpers import clean_env, make_repo, script_dir, store_where

# The original README, when a copy is at hand (`AGENT_SYNC_SEED_README=path/to/README.md`): the embedded blocks
# below are checked against it. Without it the tests run the embedded verbatim copies.
_SEED = os.environ.get("AGENT_SYNC_SEED_README")
SEED_README = Path(_SEED) if _SEED else None

# Verbatim copies of the two blocks of the original README.
QUICKSTART = """\
agent-sync init # create the database (optional; auto-runs)
agent-sync register --name frontend --role "React UI"
agent-sync create-task "Update login UI" --file src/login.tsx
agent-sync claim-task "Update login UI"
agent-sync lock src/login.tsx --reason "editing login page"
agent-sync status # full view
agent-sync status --compact # terse Markdown for Claude's context
agent-sync send --to all --message "Login UI task started"
agent-sync decision "Use SQLite for coordination state"
agent-sync complete-task "Update login UI"
agent-sync unlock src/login.tsx
agent-sync gc # drop expired locks, re-status agents
"""

THREE_AGENTS = """\
# everyone registers
AGENT_SYNC_ID=frontend agent-sync register --name frontend --role "React UI"
AGENT_SYNC_ID=backend agent-sync register --name backend --role "API + DB"
AGENT_SYNC_ID=tests agent-sync register --name tests --role "pytest + e2e"

# backend claims a task and locks its files
AGENT_SYNC_ID=backend agent-sync create-task "Add /login endpoint" --file src/api/auth.py
AGENT_SYNC_ID=backend agent-sync claim-task "Add /login endpoint"
AGENT_SYNC_ID=backend agent-sync lock src/api/auth.py --reason "writing /login"

# tests tries to edit the locked file -> the PreToolUse hook blocks it (exit 2)
printf '{"tool_name":"Edit","tool_input":{"file_path":"src/api/auth.py"}}' \\
| AGENT_SYNC_ID=tests agent-sync hook pre-tool-use
# [agent-sync] BLOCKED: src/api/auth.py is locked by backend ...

# backend announces the contract and finishes
AGENT_SYNC_ID=backend agent-sync send --to all --message "/login returns {token,user} in body"
AGENT_SYNC_ID=backend agent-sync complete-task "Add /login endpoint"
AGENT_SYNC_ID=backend agent-sync unlock src/api/auth.py
"""

EMBEDDED = {"Quickstart": QUICKSTART, "Example: three agents": THREE_AGENTS}


def seed_block(heading: str) -> str:
    """The first ```bash block under `## heading` in the seed README, or the embedded copy."""
    if SEED_README is None or not SEED_README.is_file():
        return EMBEDDED[heading]
    text = SEED_README.read_text(encoding="utf-8")
    start = text.index(f"## {heading}\n")
    match = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    assert match, f"no bash block under {heading!r}"
    return match.group(1)


def commands(block: str) -> list[str]:
    """Shell commands of a block: comment-only and blank lines dropped, backslash continuations kept together."""
    found, current = [], ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current = f"{current}\n{line}" if current else line
        if current.endswith("\\"):
            continue
        found.append(current)
        current = ""
    assert not current, "dangling line continuation"
    return found


class Shell:
    def __init__(self, tmp_path: Path):
        self.root = make_repo(tmp_path / "repo")
        home = tmp_path / "home"
        home.mkdir()
        self.env = clean_env(home, USER="dev", PATH=f"{script_dir()}{os.pathsep}{os.environ.get('PATH', '')}")

    def run(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "--noprofile", "--norc", "-c", command], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=60)

    def run_block(self, block: str) -> list[tuple[str, subprocess.CompletedProcess]]:
        results = []
        for command in commands(block):
            result = self.run(command)
            assert "Traceback" not in result.stderr, (command, result.stderr)
            results.append((command, result))
        return results

    def query(self, *args: str, agent: str | None = None):
        prefix = f"AGENT_SYNC_ID={agent} " if agent else ""
        result = self.run(prefix + "agent-sync " + " ".join(args) + " --json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENT_SYNC_ROOT", raising=False)
    sh = Shell(tmp_path)
    assert sh.run("command -v agent-sync").returncode == 0, "the console script is not on PATH"
    return sh


def test_the_embedded_copies_match_the_seed_readme():
    if SEED_README is None or not SEED_README.is_file():
        pytest.skip("no copy of the original README named by AGENT_SYNC_SEED_README")
    for heading, block in EMBEDDED.items():
        assert seed_block(heading) == block, heading


def test_the_blocks_split_into_the_expected_commands():
    assert len(commands(seed_block("Quickstart"))) == 12
    three = commands(seed_block("Example: three agents"))
    assert len(three) == 10
    assert three[6].startswith("printf ") and three[6].endswith("agent-sync hook pre-tool-use")


def test_quickstart_runs_verbatim(shell, store):
    results = shell.run_block(seed_block("Quickstart"))
    for command, result in results:
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        assert result.stderr == "", (command, result.stderr)
    out = {command.split(" #")[0].split('"')[0].split()[1] + (" --compact" if "--compact" in command else ""):
           result.stdout for command, result in results}
    assert out["init"] == f"agent-sync state ready at {store_where(shell.root)}\n"
    assert re.fullmatch(r"registered frontend \(local-[0-9a-f]+\), role React UI\n", out["register"])
    assert out["create-task"] == "created #1 [open] Update login UI\n"
    assert out["claim-task"] == "claimed #1 [in_progress] Update login UI @frontend\n"
    assert re.fullmatch(r"locked src/login\.tsx → frontend until \d\d:\d\d UTC — editing login page\n", out["lock"])
    assert "frontend [active] — React UI on #1" in out["status"]
    assert "src/login.tsx → frontend" in out["status"]
    assert out["status --compact"].startswith('<agent-sync-state trust="untrusted">\n')
    assert out["status --compact"].endswith("</agent-sync-state>\n")
    assert "Your task: #1 Update login UI [in_progress]" in out["status --compact"]
    assert out["send"] == "sent #1 to all\n"
    assert out["decision"] == "recorded decision #1\n"
    assert out["complete-task"] == "completed #1 [done] Update login UI @frontend\n"
    assert out["unlock"] == "unlocked src/login.tsx\n"
    assert out["gc"].startswith("dropped 0 expired lock(s)")
    # the state the README leaves behind
    assert [(t["title"], t["status"]) for t in shell.query("tasks")["tasks"]] == [("Update login UI", "done")]
    assert shell.query("locks")["locks"] == []
    assert [d["text"] for d in shell.query("decisions")["decisions"]] == ["Use SQLite for coordination state"]
    assert (shell.root / ".claude" / "coordination" / "state.sqlite").is_file() == (store == "sqlite")


def run_three_agents(shell):
    results = shell.run_block(seed_block("Example: three agents"))
    hook = [r for c, r in results if "hook pre-tool-use" in c]
    others = [(c, r) for c, r in results if "hook pre-tool-use" not in c]
    assert len(hook) == 1 and len(others) == 9
    return hook[0], others


def test_three_agents_run_verbatim_and_the_hook_blocks_the_tests_agent(shell):
    hook, others = run_three_agents(shell)
    for command, result in others:
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        assert result.stderr == "", (command, result.stderr)
    outs = [r.stdout for _, r in others]
    assert outs[:3] == ["registered frontend (frontend), role React UI\n", "registered backend (backend), role API + DB\n",
                        "registered tests (tests), role pytest + e2e\n"]
    assert outs[3] == "created #1 [open] Add /login endpoint\n"
    assert outs[4] == "claimed #1 [in_progress] Add /login endpoint @backend\n"
    assert outs[5].startswith("locked src/api/auth.py → backend until ")
    assert outs[6] == "sent #1 to all\n"
    assert outs[7] == "completed #1 [done] Add /login endpoint @backend\n"
    assert outs[8] == "unlocked src/api/auth.py\n"

    # The README: "[agent-sync] BLOCKED: src/api/auth.py is locked by backend ..."
    assert hook.returncode == 2, hook
    assert "BLOCKED: src/api/auth.py is locked by backend" in hook.stderr, hook.stderr
    assert "writing /login" in hook.stderr
    decision = json.loads(hook.stdout)["hookSpecificOutput"]  # and Claude Code's JSON form of the same block
    assert decision["permissionDecision"] == "deny"
    assert decision["permissionDecisionReason"] == hook.stderr.strip()

    # what the example leaves behind: the contract reached the others, the task is done, the file is free
    for agent in ("frontend", "tests"):
        bodies = [m["body"] for m in shell.query("inbox", agent=agent)["messages"]]
        assert bodies == ["/login returns {token,user} in body"], agent
    assert shell.query("inbox", agent="backend")["messages"] == []
    assert [(t["title"], t["status"]) for t in shell.query("tasks")["tasks"]] == [("Add /login endpoint", "done")]
    assert shell.query("locks")["locks"] == []
    blocked_again = shell.run(
        "printf '{\"tool_name\":\"Edit\",\"tool_input\":{\"file_path\":\"src/api/auth.py\"}}' "
        "| AGENT_SYNC_ID=tests agent-sync hook pre-tool-use")
    assert "BLOCKED" not in blocked_again.stdout + blocked_again.stderr  # unlocked: the edit goes through


def test_three_agents_hook_exits_2_as_the_seed_readme_says(shell):
    hook, _ = run_three_agents(shell)
    assert hook.returncode == 2, hook
