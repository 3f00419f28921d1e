"""Realistic Bash commands (and odd Write/Edit paths) through the real PreToolUse hook, run as a subprocess.

Another agent, `other-agent` (AGENT_SYNC_ID=other), holds files, directories or globs; the hook's own session
must be blocked from writing them, must never be blocked from reading or from its own work, and must stop
repository-wide destructive git commands only while another agent is active in the same worktree.
"""

import json
import os
import subprocess

import pytest

from helpers import run_cli

SESSION = "3c2b1a00-aaaa-4e55-9a0b-7f6a2c1d9e77"


def cli(repo, *args, agent="other", cwd=None):
    return run_cli(cwd or repo, *args, agent=agent)


def run_hook(repo, tool, tool_input, *, cwd=None):
    payload = {"session_id": SESSION, "transcript_path": "/tmp/t.jsonl", "cwd": str(cwd or repo),
               "hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": tool_input}
    result = run_cli(cwd or repo, "hook", "pre-tool-use", stdin=json.dumps(payload))
    assert "Traceback" not in result.stderr
    return result


def bash(repo, command, *, cwd=None):
    return run_hook(repo, "Bash", {"command": command, "description": "d"}, cwd=cwd)


def is_blocked(result, holder="other-agent"):
    return result.returncode == 2 and holder in result.stderr


def is_allowed(result):
    return result.returncode == 0 and result.stdout.strip() == ""


def git(repo, *args):
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo,
                   check=True, capture_output=True)


def committed(repo):
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("guide\n")
    (repo / "lib").mkdir()
    (repo / "lib" / "util.py").write_text("u\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    return repo


def other_holds(repo, *targets):
    assert cli(repo, "register", "--name", "other-agent").returncode == 0
    result = cli(repo, "lock", *targets, "--reason", "refactoring")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def held(repo):
    """A committed repository where other-agent holds src/app.py, docs/ and *.lock."""
    committed(repo)
    other_holds(repo, "src/app.py", "docs/", "*.lock")
    return repo


# -- (a) harmless commands agents run all the time --------------------------------------------------------

HARMLESS = [
    "python -m pytest -q",
    "npm install",
    "pip install -e .",
    "git add -A && git commit -m wip",
    "git commit -am 'wip'",
    "git log --oneline -5 && git status && git diff src/app.py && git stash list",
    "mkdir -p src/new docs/sub",
    "ls > /tmp/x; ls docs 2>/dev/null",
    "echo $(cat src/app.py)",
    "cat > /tmp/notes.md <<'EOF'\nx > src/app.py\nEOF",
    "cd src && python -m pytest",
    "git checkout -b feature/x",
    "git switch -c feature/y",
    "pytest tests/ -x 2>&1 | tee /tmp/log.txt",
    "git show HEAD:src/app.py > /tmp/app.py",
    "cd /tmp && echo x > app.py && rm -rf docs",
    "cp ../other/config.json ./",
]


@pytest.mark.parametrize("command", HARMLESS)
def test_harmless_commands_pass(held, command):
    result = bash(held, command)
    assert is_allowed(result), result.stderr


# -- (b) writes of a held path in common idioms ----------------------------------------------------------

WRITES = [
    "cat > src/app.py <<'EOF'\nprint('x')\nEOF",
    "printf 'x\\n' > ./docs/../src/app.py",
    "sed -i.bak 's/a/b/' src/app.py",
    "mv /tmp/tmp.py src/app.py",
    "cp -r lib/ docs/",
    "echo x | tee -a docs/guide.md >/dev/null",
    "git checkout HEAD -- src/app.py",
    "git restore --source=HEAD src/app.py",
    "rm -rf src",
    "truncate -s 0 src/app.py",
    "> src/app.py",
    "echo x > {repo}/src/app.py",
    "echo x > yarn.lock",
]


@pytest.mark.parametrize("command", WRITES)
def test_writes_of_held_paths_are_blocked(held, command):
    assert is_blocked(bash(held, command.replace("{repo}", str(held))))


def test_writes_from_a_subdirectory_cwd_are_resolved_against_it(held):
    src = held / "src"
    assert is_blocked(bash(held, "echo x > app.py", cwd=src))
    assert is_blocked(bash(held, "rm -rf ../docs", cwd=src))
    assert is_allowed(bash(held, "echo x > /tmp/y && ls ../docs", cwd=src))


# -- (c) repository-wide destructive git commands --------------------------------------------------------

DESTRUCTIVE = ["git reset --hard origin/main", "git clean -xdf", "git checkout -- .", "git restore .",
               "git stash -u"]


@pytest.mark.parametrize("command", DESTRUCTIVE)
def test_destructive_git_blocked_only_while_another_agent_is_active(repo, command):
    committed(repo)
    assert is_allowed(bash(repo, command))  # nobody else here
    assert cli(repo, "register", "--name", "other-agent").returncode == 0
    assert is_blocked(bash(repo, command))


def test_switching_branch_is_blocked_only_with_a_dirty_tree(repo):
    committed(repo)
    assert cli(repo, "register", "--name", "other-agent").returncode == 0
    assert is_allowed(bash(repo, "git switch main"))
    (repo / "lib" / "util.py").write_text("dirty\n")
    assert is_blocked(bash(repo, "git switch main"))
    assert is_allowed(bash(repo, "git switch -c topic"))


# -- (d) Write/Edit with odd paths -----------------------------------------------------------------------

def test_write_edit_odd_paths_of_a_held_file_are_blocked(held):
    os.symlink(held / "src", held / "srclink")
    for path in ("src/app.py", "./src/app.py", f"{held}//src/../src/app.py", f"{held}/srclink/app.py"):
        assert is_blocked(run_hook(held, "Write", {"file_path": path, "content": "x"})), path
    assert is_blocked(run_hook(held, "Edit", {"file_path": "app.py", "old_string": "a", "new_string": "b"},
                               cwd=held / "src"))


# -- bugs ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command,cwd", [
    ("cp /tmp/notes.txt .", ""),
    ("mv /tmp/data.csv .", ""),
    ("cd src && cp /tmp/x .", ""),
    ("cp /tmp/x .", "src"),
    ("mv lib/util.py src", ""),
])
def test_copy_into_a_directory_is_not_a_write_of_everything_in_it(repo, command, cwd):
    committed(repo)
    other_holds(repo, "src/app.py")
    assert is_allowed(bash(repo, command, cwd=repo / cwd if cwd else None))


def test_restoring_a_deleted_file_with_git_checkout_is_not_a_branch_switch(held):
    (held / "lib" / "util.py").unlink()
    assert is_allowed(bash(held, "git checkout lib/util.py"))


@pytest.mark.parametrize("command", [
    "echo x > ~/notes.md",
    "echo x > \"$HOME/notes.md\"",
    "cat > \"${TMPDIR:-/tmp}/plan.md\" <<'EOF'\nplan\nEOF",
])
def test_writes_under_home_or_tmpdir_are_not_repository_writes(repo, command):
    committed(repo)
    other_holds(repo, "**/*.md")
    assert is_allowed(bash(repo, command))


@pytest.mark.parametrize("from_tree,path_tree", [("main", "wt"), ("wt", "main")])
def test_a_held_path_in_another_worktree_of_the_repository_is_guarded(held, from_tree, path_tree):
    wt = held.parent / "wt"
    git(held, "worktree", "add", "-q", str(wt), "-b", "wt")
    trees = {"main": held, "wt": wt.resolve()}
    # from inside the linked worktree, src/app.py is guarded (the same repo-relative file)
    assert is_blocked(run_hook(held, "Edit", {"file_path": f"{wt}/src/app.py"}, cwd=wt))
    result = run_hook(held, "Edit", {"file_path": f"{trees[path_tree]}/src/app.py"}, cwd=trees[from_tree])
    assert is_blocked(result)


@pytest.mark.parametrize("command", ["git checkout -- .", "git restore .", "git clean -fd"])
def test_path_limited_git_in_a_subdirectory_is_not_repository_wide(held, command):
    (held / "lib" / "util.py").write_text("dirty\n")
    (held / "lib" / "scratch.txt").write_text("untracked\n")
    # git scopes these to the cwd (lib/), where nobody holds anything: like `git checkout -- lib/` from the top
    assert is_allowed(bash(held, command, cwd=held / "lib"))


def test_git_stash_pop_on_a_clean_tree_is_not_destructive(held):
    assert is_allowed(bash(held, "git stash pop"))


@pytest.mark.parametrize("command", [
    pytest.param("for f in src/*.py; do sed -i 's/a/b/' \"$f\"; done", marks=pytest.mark.xfail(
        strict=True, reason="loop variables are not expanded: a path held in `$f` is not seen")),
    "find src -name '*.py' -exec sed -i 's/a/b/' {} +",
    "sort -o src/app.py src/app.py",
    "curl -sSLo src/app.py https://example.com/app.py",
    "gofmt -w src/app.py",
    "ruff format src/app.py",
])
def test_less_common_writes_of_a_held_path_are_blocked(held, command):
    assert is_blocked(bash(held, command))
