"""agent-sync install / uninstall / doctor: exact undo, idempotence, scopes, the git guard, doctor's findings."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_sync import install
from agent_sync.agents import claude as claude_adapter
from helpers import run_cli

EVENTS = {
    "SessionStart": "session-start",
    "UserPromptSubmit": "user-prompt-submit",
    "PreToolUse": "pre-tool-use",
    "PostToolUse": "post-tool-use",
    "Stop": "stop",
    "SubagentStop": "subagent-stop",
    "PreCompact": "pre-compact",
    "SessionEnd": "session-end",
}
TOOL_MATCHER = claude_adapter.TOOL_MATCHER  # the installer takes it from the adapter

# Odd formatting on purpose: tabs, CRLF, no trailing newline, unicode, other keys, a foreign PreToolUse hook.
ODD_SETTINGS = (
    b'{\r\n\t"model" :"opus",  "permissions": {"allow": ["Bash(ls:*)"]},\r\n'
    b'\t"hooks": {"PreToolUse": [ {"matcher": "Bash", "hooks": [{"type": "command", "command": "echo \xc3\xa9 foreign"}]} ],\r\n'
    b'\t  "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}]},\r\n'
    b'  "env": {"A": "1"}, "zeta": [1, 2.50, true, null]}'
)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A fresh git repository as cwd, HOME in a tmp dir, no AGENT_SYNC_ROOT."""
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AGENT_SYNC_ROOT", raising=False)
    monkeypatch.delenv("AGENT_SYNC_SKIP_GIT_GUARD", raising=False)
    for var, value in (("GIT_AUTHOR_NAME", "t"), ("GIT_AUTHOR_EMAIL", "t@example.com"),
                       ("GIT_COMMITTER_NAME", "t"), ("GIT_COMMITTER_EMAIL", "t@example.com")):
        monkeypatch.setenv(var, value)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    return root


def cli(repo: Path, *args: str, expect: int | None = 0, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = run_cli(repo, *args, env=env, timeout=120, stdin="")
    if expect is not None:
        assert proc.returncode == expect, f"agent-sync {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def snapshot(*roots: Path, skip_git_objects: bool = True) -> dict[str, tuple[bytes | None, int]]:
    """Every file and directory under roots with its bytes and mode."""
    out = {}
    for base in roots:
        for dirpath, dirnames, filenames in os.walk(base):
            if skip_git_objects and ".git" in dirnames and dirpath == str(base):
                dirnames.remove(".git")
            for name in dirnames:
                path = os.path.join(dirpath, name)
                out[path] = (None, stat.S_IMODE(os.lstat(path).st_mode))
            for name in filenames:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as fh:
                    out[path] = (fh.read(), stat.S_IMODE(os.lstat(path).st_mode))
    return out


def git_hooks(repo: Path) -> Path:
    return repo / ".git" / "hooks"


def our_commands(settings: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event, groups in settings.get("hooks", {}).items():
        for group in groups:
            for handler in group.get("hooks", []):
                if install.command_slug(handler.get("command")):
                    found.setdefault(event, []).append(handler["command"])
    return found


# -- settings: exact undo, idempotence, what is kept -------------------------------------------------------

def test_install_then_uninstall_restores_odd_settings_byte_identical(repo):
    path = repo / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_bytes(ODD_SETTINGS)
    os.chmod(path, 0o640)
    cli(repo, "install")
    assert path.read_bytes() != ODD_SETTINGS
    out = cli(repo, "uninstall").stdout
    assert "restored .claude/settings.json" in out
    assert path.read_bytes() == ODD_SETTINGS
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not (repo / ".claude" / "skills").exists()
    assert not (repo / ".claude" / "coordination").exists()  # install made it for its backup only


def test_install_on_missing_settings_then_uninstall_leaves_nothing(repo):
    before = snapshot(repo)
    out = cli(repo, "install").stdout
    assert "created .claude/settings.json" in out
    assert "added 8 hooks" in out
    assert "session start" in out  # the restart reminder
    assert (repo / ".claude" / "settings.json").is_file()
    out = cli(repo, "uninstall").stdout
    assert "removed .claude/settings.json" in out
    assert not (repo / ".claude").exists()
    assert snapshot(repo) == before


def test_install_twice_equals_install_once(repo):
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_bytes(ODD_SETTINGS)
    cli(repo, "install", "--git-hook")
    once = snapshot(repo, skip_git_objects=False)
    out = cli(repo, "install", "--git-hook").stdout
    assert snapshot(repo, skip_git_objects=False) == once
    assert "unchanged .claude/settings.json" in out
    assert "unchanged .claude/skills/agent-sync/SKILL.md" in out
    assert "unchanged .git/hooks/pre-commit" in out
    # and the second install does not spoil the exact undo
    cli(repo, "uninstall", "--git-hook")
    assert (repo / ".claude" / "settings.json").read_bytes() == ODD_SETTINGS


def test_foreign_hooks_and_keys_kept_in_order(repo):
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_bytes(ODD_SETTINGS)
    original = json.loads(ODD_SETTINGS)
    cli(repo, "install")
    data = json.loads((repo / ".claude" / "settings.json").read_text())
    assert list(data) == list(original)  # no key added, none moved
    for key in original:
        if key != "hooks":
            assert data[key] == original[key]
    assert data["hooks"]["PreToolUse"][0] == original["hooks"]["PreToolUse"][0]  # foreign entry first, untouched
    assert data["hooks"]["Notification"] == original["hooks"]["Notification"]
    assert list(data["hooks"])[:2] == ["PreToolUse", "Notification"]
    assert set(our_commands(data)) == set(EVENTS)
    assert all(len(commands) == 1 for commands in our_commands(data).values())


def test_installed_handlers_are_absolute_and_well_formed(repo):
    # Where `agent-sync` on PATH is not this installation, the hooks name it absolutely (where it is, the
    # committed file gets the portable `agent-sync`: tests/test_install_agents.py).
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if not os.path.exists(os.path.join(d, "agent-sync")))
    cli(repo, "install", env={"PATH": path})
    data = json.loads((repo / ".claude" / "settings.json").read_text())
    assert list(data["hooks"]) == list(EVENTS)
    for event, slug in EVENTS.items():
        groups = data["hooks"][event]
        assert len(groups) == 1
        group = groups[0]
        if event in ("PreToolUse", "PostToolUse"):
            assert group["matcher"] == TOOL_MATCHER
        else:
            assert "matcher" not in group
        (handler,) = group["hooks"]
        assert handler["type"] == "command" and handler["timeout"] == 10
        words = shlex.split(handler["command"])
        assert words[-2:] == ["hook", slug]
        assert os.path.isabs(words[0]) and os.access(words[0], os.X_OK)
        assert "shims" not in words[0].split(os.sep)


def test_outdated_command_is_updated_in_place(repo):
    stale = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "/old/bin/agent-sync hook stop", "timeout": 5}]},
                                {"hooks": [{"type": "command", "command": "echo after"}]}]}}
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_text(json.dumps(stale))
    out = cli(repo, "install").stdout
    assert "added 7 hooks" in out and "updated 1 hook" in out
    data = json.loads((repo / ".claude" / "settings.json").read_text())
    stop = data["hooks"]["Stop"]
    assert len(stop) == 2 and stop[1]["hooks"][0]["command"] == "echo after"
    assert stop[0]["hooks"][0]["command"] == f"{install.hook_command()} hook stop"
    assert stop[0]["hooks"][0]["timeout"] == 10


def test_changes_made_after_install_survive_uninstall(repo):
    cli(repo, "install")
    path = repo / ".claude" / "settings.json"
    data = json.loads(path.read_text())
    data["model"] = "sonnet"
    data["hooks"]["Stop"].append({"hooks": [{"type": "command", "command": "echo mine"}]})
    path.write_text(json.dumps(data))
    out = cli(repo, "uninstall").stdout
    assert "updated .claude/settings.json: removed 8 hooks" in out
    assert json.loads(path.read_text()) == {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "echo mine"}]}]},
                                            "model": "sonnet"}


def test_dry_run_writes_nothing(repo):
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_bytes(ODD_SETTINGS)
    before = snapshot(repo, skip_git_objects=False)
    out = cli(repo, "install", "--dry-run", "--git-hook").stdout
    assert "would update .claude/settings.json: add 8 hooks" in out
    assert "would create .claude/skills/agent-sync/SKILL.md" in out
    assert "would create .git/hooks/pre-commit" in out
    assert snapshot(repo, skip_git_objects=False) == before
    cli(repo, "install", "--git-hook")
    installed = snapshot(repo, skip_git_objects=False)
    out = cli(repo, "uninstall", "--dry-run", "--git-hook").stdout
    assert "would restore .claude/settings.json" in out and "would remove .git/hooks/pre-commit" in out
    assert snapshot(repo, skip_git_objects=False) == installed


def test_json_output(repo):
    data = json.loads(cli(repo, "install", "--json").stdout)
    assert data["changed"] and {c["action"] for c in data["changes"]} == {"created"}
    data = json.loads(cli(repo, "install", "--json").stdout)
    assert not data["changed"] and {c["action"] for c in data["changes"]} == {"unchanged"}


def test_uninstall_with_nothing_installed_says_so(repo):
    out = cli(repo, "uninstall").stdout
    assert "nothing to do" in out
    assert not (repo / ".claude").exists()


def test_invalid_settings_is_a_one_line_error_and_untouched(repo):
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_bytes(b'{"hooks": [}')
    proc = cli(repo, "install", expect=1)
    assert "not valid JSON" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert (repo / ".claude" / "settings.json").read_bytes() == b'{"hooks": [}'
    assert not (repo / ".claude" / "skills").exists()


# -- scopes -----------------------------------------------------------------------------------------------

def test_local_scope_writes_settings_local_json(repo):
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_text('{"model": "x"}\n')
    cli(repo, "install", "--scope", "local")
    local = json.loads((repo / ".claude" / "settings.local.json").read_text())
    assert set(our_commands(local)) == set(EVENTS)
    assert (repo / ".claude" / "settings.json").read_text() == '{"model": "x"}\n'
    assert (repo / ".claude" / "skills" / "agent-sync" / "SKILL.md").is_file()
    cli(repo, "uninstall", "--scope", "local")
    assert not (repo / ".claude" / "settings.local.json").exists()
    assert not (repo / ".claude" / "skills").exists()
    assert sorted(os.listdir(repo / ".claude")) == ["settings.json"]


def test_user_scope_writes_home_files(repo, tmp_path):
    home = tmp_path / "home"
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_bytes(b'{ "theme":"dark" }')
    cli(repo, "install", "--scope", "user")
    user = json.loads((home / ".claude" / "settings.json").read_text())
    assert user["theme"] == "dark" and set(our_commands(user)) == set(EVENTS)
    assert (home / ".claude" / "skills" / "agent-sync" / "SKILL.md").is_file()
    assert not (repo / ".claude").exists()
    out = cli(repo, "uninstall", "--scope", "user").stdout
    assert "restored ~/.claude/settings.json" in out
    assert (home / ".claude" / "settings.json").read_bytes() == b'{ "theme":"dark" }'
    assert sorted(os.listdir(home / ".claude")) == ["settings.json"]


def test_user_scope_without_claude_dir_leaves_home_clean(repo, tmp_path):
    home = tmp_path / "home"
    cli(repo, "install", "--scope", "user")
    assert (home / ".claude" / "settings.json").is_file()
    cli(repo, "uninstall", "--scope", "user")
    assert os.listdir(home) == []


def test_two_scopes_keep_the_shared_skill_until_the_last(repo):
    cli(repo, "install")
    out = cli(repo, "install", "--scope", "local").stdout
    assert "also in .claude/settings.json" in out
    skill = repo / ".claude" / "skills" / "agent-sync" / "SKILL.md"
    out = cli(repo, "uninstall").stdout
    assert skill.is_file() and "kept .claude/skills/agent-sync/SKILL.md" in out
    cli(repo, "uninstall", "--scope", "local")
    assert not (repo / ".claude").exists()


# -- the skill --------------------------------------------------------------------------------------------

def test_skill_front_matter_and_edited_skill_kept(repo):
    cli(repo, "install")
    skill = repo / ".claude" / "skills" / "agent-sync" / "SKILL.md"
    text = skill.read_text()
    lines = text.splitlines()
    assert lines[0] == "---" and lines[1] == "name: agent-sync" and lines[2].startswith("description: ")
    assert len(lines) < 80
    for needle in ("status --compact", "claim-next", "claim-task", "--lock", "--reason", "--wait", "send",
                   "inbox", "ack", "decision", "complete-task", "unlock --all", "Never work around a lock"):
        assert needle in text, needle
    assert install.skill_state(text.encode()) == "current"
    skill.write_text(text + "\nmy own note\n")
    out = cli(repo, "uninstall").stdout
    assert "kept .claude/skills/agent-sync/SKILL.md" in out
    assert skill.read_text().endswith("my own note\n")


# -- the git guard ----------------------------------------------------------------------------------------

def test_git_hook_install_and_uninstall_without_foreign_hook(repo):
    before = snapshot(git_hooks(repo))
    cli(repo, "install", "--git-hook")
    hook = git_hooks(repo) / "pre-commit"
    text = hook.read_text()
    assert text.startswith("#!/bin/sh\n") and "# agent-sync pre-commit guard\n" in text
    assert f"{install.hook_command()} hook git-pre-commit" in text
    assert os.access(hook, os.X_OK)
    cli(repo, "uninstall", "--git-hook")
    assert snapshot(git_hooks(repo)) == before
    assert not (repo / ".claude").exists()


def test_git_hook_chains_foreign_hook_and_restores_it_exactly(repo):
    hook = git_hooks(repo) / "pre-commit"
    foreign = b"#!/bin/sh\n# someone else's hook\necho chained-ran > \"$(git rev-parse --show-toplevel)/chained.out\"\nexit \"${FAIL_CHAINED:-0}\"\n"
    hook.write_bytes(foreign)
    os.chmod(hook, 0o750)
    out = cli(repo, "install", "--git-hook").stdout
    assert "your existing hook runs first" in out
    chained = git_hooks(repo) / "pre-commit.agent-sync-chained"
    assert chained.read_bytes() == foreign
    assert "# agent-sync pre-commit guard" in hook.read_text()
    once = snapshot(git_hooks(repo))
    cli(repo, "install", "--git-hook")
    assert snapshot(git_hooks(repo)) == once

    # The chained hook runs first and its failure stops the commit; the guard itself is skipped by the env var.
    (repo / "a.txt").write_text("a\n")
    subprocess.run(["git", "add", "a.txt"], cwd=repo, check=True)
    env = {**os.environ, "AGENT_SYNC_SKIP_GIT_GUARD": "1", "FAIL_CHAINED": "3"}
    proc = subprocess.run(["git", "commit", "-qm", "x"], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and (repo / "chained.out").read_text() == "chained-ran\n"
    (repo / "chained.out").unlink()
    env["FAIL_CHAINED"] = "0"
    proc = subprocess.run(["git", "commit", "-qm", "x"], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (repo / "chained.out").is_file()

    out = cli(repo, "uninstall", "--git-hook").stdout
    assert "original hook is back" in out
    assert hook.read_bytes() == foreign
    assert stat.S_IMODE(hook.stat().st_mode) == 0o750
    assert not chained.exists()


def test_git_guard_is_kept_by_plain_uninstall(repo):
    cli(repo, "install", "--git-hook")
    out = cli(repo, "uninstall").stdout
    assert "guard stays installed" in out
    assert (git_hooks(repo) / "pre-commit").is_file()
    cli(repo, "uninstall", "--git-hook")
    assert not (git_hooks(repo) / "pre-commit").exists()
    assert not (repo / ".claude").exists()


def test_git_hook_respects_core_hooks_path(repo):
    subprocess.run(["git", "config", "core.hooksPath", "githooks/custom"], cwd=repo, check=True)
    cli(repo, "install", "--git-hook")
    assert "# agent-sync pre-commit guard" in (repo / "githooks" / "custom" / "pre-commit").read_text()
    assert not (git_hooks(repo) / "pre-commit").exists()
    cli(repo, "uninstall", "--git-hook")
    assert not (repo / "githooks").exists()


def test_git_hook_refuses_when_both_hook_and_chained_are_foreign(repo):
    (git_hooks(repo) / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (git_hooks(repo) / "pre-commit.agent-sync-chained").write_text("#!/bin/sh\nexit 0\n")
    proc = cli(repo, "install", "--git-hook", expect=1)
    assert "already exists" in proc.stderr
    assert not (repo / ".claude").exists()  # checked before anything was written


# -- doctor -----------------------------------------------------------------------------------------------

def test_doctor_passes_after_install(repo):
    cli(repo, "install")
    out = cli(repo, "doctor").stdout
    assert "FAIL" not in out
    for name in ("database", "state dir", "hooks", "hook command", "skill", "git guard"):
        assert f" {name}: " in out, name
    assert "all checks passed" in out


def test_doctor_fails_before_install(repo):
    proc = cli(repo, "doctor", expect=1)
    assert "FAIL  hooks" in proc.stdout and "FAIL  skill" in proc.stdout
    assert "fix: run `agent-sync install`" in proc.stdout


def test_doctor_fails_with_a_broken_command_path(repo, tmp_path):
    cli(repo, "install")
    path = repo / ".claude" / "settings.json"
    missing = tmp_path / "gone" / "agent-sync"
    path.write_text(path.read_text().replace(install.hook_command(), str(missing)))
    proc = cli(repo, "doctor", expect=1)
    line = next(line for line in proc.stdout.splitlines() if line.startswith("FAIL  hook command"))
    assert f"{missing} does not exist" in line and "fix: run `agent-sync install`" in line
    assert "ok    hooks" in proc.stdout  # the hooks are there, they just point nowhere
    data = json.loads(cli(repo, "doctor", "--json", expect=1).stdout)
    assert data["ok"] is False and any(c["status"] == "FAIL" and c["fix"] for c in data["checks"])
    cli(repo, "install")  # reinstall repairs it
    cli(repo, "doctor")


def test_doctor_fails_with_a_command_that_does_not_run(repo, tmp_path):
    cli(repo, "install")
    fake = tmp_path / "bin" / "agent-sync"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho broken >&2\nexit 1\n")
    fake.chmod(0o755)
    path = repo / ".claude" / "settings.json"
    path.write_text(path.read_text().replace(install.hook_command(), str(fake)))
    proc = cli(repo, "doctor", expect=1)
    assert "--version` failed: broken" in proc.stdout


# -- units ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command, slug", [
    ("/usr/bin/agent-sync hook stop", "stop"),
    ("'/path with space/agent-sync' hook pre-tool-use", "pre-tool-use"),
    ("/usr/bin/python3 -m agent_sync hook session-end", "session-end"),
    ("AGENT_SYNC_X=1 agent-sync hook pre-compact", "pre-compact"),
    ("echo agent-sync", None),
    ("my-agent-sync-wrapper hook stop", None),
    ("/x/agent-sync status", None),
    (None, None),
])
def test_command_slug(command, slug):
    assert install.command_slug(command) == slug


def test_hook_command_falls_back_to_module_when_no_script(monkeypatch, tmp_path):
    fake = tmp_path / "my env" / "bin" / "python3"
    fake.parent.mkdir(parents=True)
    fake.write_text("")
    monkeypatch.setattr(sys, "executable", str(fake))
    assert install.hook_command() == f"'{fake}' -m agent_sync"
    script = fake.parent / "agent-sync"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert install.hook_command() == f"'{script}'"
    assert install.command_slug(install.hook_command() + " hook stop") == "stop"


def test_matcher_covers():
    assert install.matcher_covers(TOOL_MATCHER, "Edit")
    assert not install.matcher_covers("Bash", "Edit")
    assert install.matcher_covers("Edit.*", "EditNotebook")
    assert install.matcher_covers(None, "Write") and install.matcher_covers("*", "Write")


_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
_foreign_handler = st.fixed_dictionaries({"type": st.just("command"), "command": st.text(max_size=20)})
_group = st.fixed_dictionaries({"hooks": st.lists(_foreign_handler, max_size=2)},
                               optional={"matcher": st.sampled_from(["Bash", "Edit|Write", "*", ""])})
_hooks = st.dictionaries(st.sampled_from([*EVENTS, "Notification"]), st.lists(_group, max_size=2), max_size=4)
_settings = st.dictionaries(st.sampled_from(["model", "env", "x"]), _json_leaf, max_size=3).flatmap(
    lambda other: st.one_of(st.just(other), _hooks.map(lambda hooks: {**other, "hooks": hooks})))


@settings(max_examples=200, deadline=None)
@given(_settings)
def test_strip_undoes_merge(original):
    cmd = "/opt/bin/agent-sync"
    merged, added, updated = install.merge_hooks(original, cmd)
    assert added == 8 and updated == 0
    assert install.merge_hooks(merged, cmd)[0] == merged
    stripped, removed = install.strip_hooks(merged)
    assert removed == 8
    assert install._canonical(stripped, True) == install._canonical(original, True)
