"""agent-sync install / uninstall / doctor for every agent: each config format undone byte for byte, idempotence,
the user's own entries kept, dry runs, the AGENTS.md / GEMINI.md section, --agent all, the MCP server entries,
the portable command of committed files, and doctor's findings. Real files in temp dirs, a throw-away HOME and
a PATH the test controls."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from agent_sync import agents
from agent_sync.install import codex as codex_install
from agent_sync.install import command, formats
from agent_sync.install.engine import Backups

pytestmark = pytest.mark.sqlite_only  # no store in these: the installer writes config files

AGENTS = ("claude", "codex", "gemini", "cursor", "copilot")
BINARIES = ("agent-sync", "claude", "codex", "gemini", "cursor", "cursor-agent", "copilot")

# The project-scope hooks file of each agent, and its format.
HOOKS_FILE = {"claude": ".claude/settings.json", "codex": ".codex/hooks.json", "gemini": ".gemini/settings.json",
              "cursor": ".cursor/hooks.json", "copilot": ".github/hooks/agent-sync.json"}
USER_FILE = {"claude": ".claude/settings.json", "codex": ".codex/hooks.json", "gemini": ".gemini/settings.json",
             "cursor": ".cursor/hooks.json", "copilot": ".copilot/hooks/agent-sync.json"}
FLAT = {"cursor": "command", "copilot": "bash"}

# A user's own file before install, oddly formatted (tabs, CRLF, no final newline, unicode), with their own hooks.
ODD = {
    "claude": (b'{\r\n\t"model" :"opus",  "hooks": {"PreToolUse": [ {"matcher": "Bash", "hooks": [{"type": "command",'
               b' "command": "echo \xc3\xa9 mine"}]} ]},\r\n  "env": {"A": "1"}}'),
    "codex": (b'{\n    "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "my-audit",'
              b' "timeout": 30}]}],\n  "Stop": [{"hooks": [{"type": "command", "command": "notify \xe2\x9c\x93"}]}]}}'),
    "gemini": (b'{"general": {"vimMode": true},\t"hooks": {"BeforeTool": [{"matcher": "run_shell_command", "hooks":'
               b' [{"name": "mine", "type": "command", "command": "audit.sh", "timeout": 5000}]}]},'
               b' "mcpServers": {"other": {"command": "x", "args": []}}}'),
    "cursor": b'{"version": 1, "hooks": {"afterFileEdit": [{"command": "./fmt.sh"}], "stop": [{"command": "notify"}]}}',
    "copilot": b'{"version":1,"hooks":{"sessionEnd":[{"type":"command","bash":"./log.sh","timeoutSec":5}]}}\r\n',
}


# -- fixtures and helpers ---------------------------------------------------------------------------------

def _clean_path(extra: list[str] = ()) -> str:
    """PATH without any agent-sync or agent program (so nothing of this machine leaks in), plus `extra` first."""
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(os.path.exists(os.path.join(d, b)) for b in BINARIES)]
    return os.pathsep.join([*extra, *keep])


@pytest.fixture
def world(tmp_path):
    """A git repository, a throw-away HOME, a bin dir first on a clean PATH, and a login shell that keeps PATH."""
    home = tmp_path / "home"
    home.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shell = tmp_path / "login-shell"
    shell.write_text('#!/bin/sh\n[ "$1" = "-lc" ] && shift\nexec /bin/sh -c "$@"\n')
    shell.chmod(0o755)
    return World(repo, home, bin_dir, {"HOME": str(home), "PATH": _clean_path([str(bin_dir)]), "SHELL": str(shell)})


class World:
    def __init__(self, repo: Path, home: Path, bin_dir: Path, env: dict):
        self.repo, self.home, self.bin, self.env = repo, home, bin_dir, env

    def run(self, *args: str, expect: int | None = 0, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
        full = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_SYNC_", "CODEX_", "GEMINI_"))}
        full.update(self.env)
        full.update(env or {})
        proc = subprocess.run([sys.executable, "-m", "agent_sync", *args], cwd=cwd or self.repo, env=full,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if expect is not None:
            assert proc.returncode == expect, f"agent-sync {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def portable(self) -> None:
        """Put this installation's agent-sync script on PATH (as pipx or uv tool would)."""
        program = command.absolute_program()
        if len(program) != 1:
            pytest.skip("this agent-sync runs as `python -m agent_sync` (no console script to put on PATH)")
        (self.bin / "agent-sync").symlink_to(program[0])

    def json(self, rel: str, base: Path | None = None) -> dict:
        return json.loads(((base or self.repo) / rel).read_text())

    def snapshot(self) -> dict:
        return snapshot(self.repo, self.home)


def snapshot(*roots: Path) -> dict[str, tuple[bytes | None, int]]:
    out = {}
    for base in roots:
        for dirpath, dirnames, filenames in os.walk(base):
            if dirpath == str(base) and ".git" in dirnames:
                dirnames.remove(".git")
            for name in dirnames:
                path = os.path.join(dirpath, name)
                out[path] = (None, stat.S_IMODE(os.lstat(path).st_mode))
            for name in filenames:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as fh:
                    out[path] = (fh.read(), stat.S_IMODE(os.lstat(path).st_mode))
    return out


def agent_args(name: str) -> list[str]:
    return ["--agent", name]


def ours(name: str, data: dict) -> list[tuple[str, str, object]]:
    """(event, command, matcher) of our hooks in a document of that agent's format."""
    found = []
    for event, entries in (data.get("hooks") or {}).items():
        for entry in entries:
            handlers = [entry] if name in FLAT else entry.get("hooks", [])
            for handler in handlers:
                cmd = handler.get(FLAT.get(name, "command"))
                parsed = command.parse_hook(cmd)
                if parsed and parsed[0] == name:
                    found.append((event, cmd, entry.get("matcher")))
    return found


# -- every format: exact undo, idempotence, what is kept --------------------------------------------------

@pytest.mark.parametrize("name", AGENTS)
def test_install_then_uninstall_on_no_config_leaves_nothing(world, name):
    before = world.snapshot()
    out = world.run("install", *agent_args(name)).stdout
    assert f"created {HOOKS_FILE[name]}" in out
    assert world.snapshot() != before
    out = world.run("uninstall", *agent_args(name)).stdout
    assert f"removed {HOOKS_FILE[name]}: install created it" in out
    assert world.snapshot() == before


@pytest.mark.parametrize("name", AGENTS)
def test_odd_config_restored_byte_identical_and_user_hooks_kept(world, name):
    path = world.repo / HOOKS_FILE[name]
    path.parent.mkdir(parents=True)
    path.write_bytes(ODD[name])
    os.chmod(path, 0o640)
    original = json.loads(ODD[name])
    before = world.snapshot()

    world.run("install", *agent_args(name))
    data = world.json(HOOKS_FILE[name])
    for key, value in original.items():  # every setting kept, and every one of the user's own entries first
        if key != "hooks":
            assert data[key] == value, key
    for event, entries in original.get("hooks", {}).items():
        assert data["hooks"][event][:len(entries)] == entries, event
    installed = world.snapshot()
    out = world.run("install", *agent_args(name)).stdout  # idempotent
    assert f"unchanged {HOOKS_FILE[name]}" in out
    assert world.snapshot() == installed

    out = world.run("uninstall", *agent_args(name)).stdout
    assert f"restored {HOOKS_FILE[name]}" in out
    assert path.read_bytes() == ODD[name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert world.snapshot() == before


@pytest.mark.parametrize("name", AGENTS)
def test_installed_hooks_are_the_adapters_events(world, name):
    world.portable()
    world.run("install", *agent_args(name))
    data = world.json(HOOKS_FILE[name])
    adapter = agents.load(name)
    found = ours(name, data)
    assert [e for e, _c, _m in found] == [event for _arg, event, _k, _i, _m in adapter.EVENTS]
    for (_found, cmd, matcher), (arg, _event, _kind, _inject, declared) in zip(found, adapter.EVENTS, strict=True):
        words = shlex.split(cmd)
        assert words[0] == "agent-sync"  # the committed file names the portable command
        assert words[1:] == (["hook", arg] if name == "claude" else ["hook", "--agent", name, arg])
        assert matcher == declared
    if name == "cursor":
        assert data["version"] == 1 and all(set(h) <= {"command", "matcher", "timeout"}
                                            for hs in data["hooks"].values() for h in hs)
    if name == "copilot":
        assert data["version"] == 1
        assert all(h["type"] == "command" and h["timeoutSec"] == 10 for hs in data["hooks"].values() for h in hs)
    if name in ("claude", "codex", "gemini"):
        handlers = [h for groups in data["hooks"].values() for g in groups for h in g["hooks"]]
        timeouts = {h["timeout"] for h in handlers}
        assert timeouts == ({10000} if name == "gemini" else {10, 3} if name == "codex" else {10})
        if name == "gemini":
            assert all(h["name"].startswith("agent-sync-") for h in handlers)
        if name == "codex":  # Codex clamps SessionEnd to 3 s; writing 3 avoids its warning and a second hash
            assert data["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"] == 3


@pytest.mark.parametrize("name", AGENTS)
def test_changes_made_after_install_survive_uninstall(world, name):
    world.run("install", *agent_args(name))
    path = world.repo / HOOKS_FILE[name]
    data = json.loads(path.read_text())
    data["mine"] = True
    path.write_text(json.dumps(data))
    out = world.run("uninstall", *agent_args(name)).stdout
    assert f"updated {HOOKS_FILE[name]}: removed" in out and "those changes stay" in out
    left = json.loads(path.read_text())
    assert left.get("mine") is True and not ours(name, left)


@pytest.mark.parametrize("name", AGENTS)
def test_dry_run_writes_nothing(world, name):
    path = world.repo / HOOKS_FILE[name]
    path.parent.mkdir(parents=True)
    path.write_bytes(ODD[name])
    before = world.snapshot()
    out = world.run("install", *agent_args(name), "--mcp", "--dry-run").stdout
    assert f"would update {HOOKS_FILE[name]}" in out and "dry run: nothing written" in out
    assert world.snapshot() == before
    world.run("install", *agent_args(name), "--mcp")
    installed = world.snapshot()
    out = world.run("uninstall", *agent_args(name), "--mcp", "--dry-run").stdout
    assert f"would restore {HOOKS_FILE[name]}" in out
    assert world.snapshot() == installed


@pytest.mark.parametrize("name", AGENTS)
def test_user_scope_writes_home_files_and_leaves_home_clean(world, name):
    out = world.run("install", *agent_args(name), "--scope", "user").stdout
    assert f"created ~/{USER_FILE[name]}" in out
    data = world.json(USER_FILE[name], world.home)
    found = ours(name, data)
    assert found and all(os.path.isabs(shlex.split(c)[0]) for _e, c, _m in found)  # this machine: absolute
    assert sorted(p.name for p in world.repo.iterdir()) == [".git"]
    world.run("uninstall", *agent_args(name), "--scope", "user")
    assert os.listdir(world.home) == []


def test_recognised_from_the_files_alone_when_the_backup_record_is_gone(world):
    for name in ("codex", "gemini", "cursor", "copilot"):
        path = world.repo / HOOKS_FILE[name]
        path.parent.mkdir(parents=True)
        path.write_bytes(ODD[name])
        world.run("install", *agent_args(name))
    import shutil

    shutil.rmtree(world.repo / ".claude" / "coordination" / "install")
    for name in ("codex", "gemini", "cursor", "copilot"):
        out = world.run("uninstall", *agent_args(name)).stdout
        assert f"updated {HOOKS_FILE[name]}: removed" in out
        left = world.json(HOOKS_FILE[name])
        assert not ours(name, left)
        original = json.loads(ODD[name])
        for event, entries in original.get("hooks", {}).items():
            assert left["hooks"][event] == entries


def test_local_scope_only_for_claude(world):
    proc = world.run("install", "--agent", "codex", "--scope", "local", expect=1)
    assert "Codex CLI has no local scope" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (world.repo / ".codex").exists()


def test_invalid_config_is_a_one_line_error_and_untouched(world):
    path = world.repo / ".cursor" / "hooks.json"
    path.parent.mkdir()
    path.write_bytes(b'{"version": 1, // my hooks\n "hooks": {}}')
    proc = world.run("install", "--agent", "cursor", expect=1)
    assert "comments" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == b'{"version": 1, // my hooks\n "hooks": {}}'
    assert not (world.repo / "AGENTS.md").exists()


# -- the instructions section ---------------------------------------------------------------------------

@pytest.mark.parametrize("original", [b"# Rules\n\nUse tabs.\n", b"# Rules\r\n\r\nno final newline", b""])
def test_agents_md_section_removed_exactly(world, original):
    path = world.repo / "AGENTS.md"
    path.write_bytes(original)
    world.run("install", "--agent", "codex")
    text = path.read_bytes().decode()
    assert text.startswith(original.decode()) and "<!-- agent-sync:begin sha256:" in text
    assert "agent-sync claim-next --lock" in text and text.endswith("<!-- agent-sync:end -->\n")
    out = world.run("uninstall", "--agent", "codex").stdout
    assert "restored AGENTS.md" in out or (not original and "removed AGENTS.md" in out)
    assert path.read_bytes() == original


def test_agents_md_shared_section_stays_until_the_last_agent_leaves(world):
    world.run("install", "--agent", "codex")
    world.run("install", "--agent", "cursor")
    world.run("install", "--agent", "copilot")
    assert (world.repo / "AGENTS.md").read_text().count("agent-sync:begin") == 1
    out = world.run("uninstall", "--agent", "codex").stdout
    assert "kept AGENTS.md: the agent-sync section is still used by Cursor" in out
    world.run("uninstall", "--agent", "cursor")
    assert (world.repo / "AGENTS.md").is_file()
    out = world.run("uninstall", "--agent", "copilot").stdout
    assert "removed AGENTS.md: install created it" in out
    assert not (world.repo / "AGENTS.md").exists()


def test_edited_section_is_kept(world):
    world.run("install", "--agent", "gemini")
    path = world.repo / "GEMINI.md"
    path.write_text(path.read_text().replace("Look first.", "Look first, always."))
    out = world.run("uninstall", "--agent", "gemini").stdout
    assert "kept GEMINI.md: the agent-sync section was edited since install" in out
    assert "Look first, always." in path.read_text()
    out = world.run("install", "--agent", "gemini").stdout
    assert "kept GEMINI.md" in out


def test_changes_around_the_section_survive_uninstall(world):
    path = world.repo / "AGENTS.md"
    path.write_text("# Rules\n")
    world.run("install", "--agent", "cursor")
    path.write_text(path.read_text() + "\n## Later notes\nkeep me\n")
    world.run("uninstall", "--agent", "cursor")
    text = path.read_text()
    assert "agent-sync" not in text and text.startswith("# Rules\n") and "keep me" in text


# -- --agent all ----------------------------------------------------------------------------------------

def test_agent_all_installs_for_the_agents_it_finds(world):
    (world.home / ".codex").mkdir()  # Codex: its directory in the home directory
    (world.repo / ".cursor").mkdir()  # Cursor: its directory in the repository
    fake = world.bin / "copilot"  # Copilot CLI: its program on PATH
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    proc = world.run("install", "--agent", "all", "--json")
    data = json.loads(proc.stdout)
    assert data["agents"] == ["codex", "cursor", "copilot"]
    assert any("found Codex CLI (~/.codex)" in n and "Cursor (.cursor in the repository)" in n
               and "GitHub Copilot CLI (`copilot` on PATH)" in n for n in data["notes"])
    for name in data["agents"]:
        assert ours(name, world.json(HOOKS_FILE[name]))
    assert not (world.repo / ".claude" / "settings.json").exists() and not (world.repo / ".gemini").exists()
    out = world.run("uninstall", "--agent", "all").stdout
    assert "removed .codex/hooks.json" in out and "removed .github/hooks/agent-sync.json" in out
    assert sorted(p.name for p in world.repo.iterdir()) == [".cursor", ".git"]


def test_agent_all_with_no_agent_is_an_error(world):
    proc = world.run("install", "--agent", "all", expect=1)
    assert "found no agent here" in proc.stderr
    assert sorted(p.name for p in world.repo.iterdir()) == [".git"]


def test_uninstall_all_with_nothing_installed_says_so(world):
    out = world.run("uninstall", "--agent", "all").stdout
    assert "nothing to do" in out


# -- MCP server entries ---------------------------------------------------------------------------------

MCP_FILE = {"claude": ".mcp.json", "codex": ".codex/config.toml", "gemini": ".gemini/settings.json",
            "cursor": ".cursor/mcp.json", "copilot": ".mcp.json"}


@pytest.mark.parametrize("name", AGENTS)
def test_mcp_entry_for_each_agent(world, name):
    world.portable()
    before = world.snapshot()
    world.run("install", *agent_args(name), "--mcp")
    path = world.repo / MCP_FILE[name]
    if name == "codex":
        entry = tomllib.loads(path.read_text())["mcp_servers"]["agent-sync"]
    else:
        entry = json.loads(path.read_text())["mcpServers"]["agent-sync"]
    assert entry == {"command": "agent-sync", "args": ["mcp"]}
    out = world.run("uninstall", *agent_args(name)).stdout  # without --mcp the entry stays, and it says so
    assert "MCP server entry stays" in out and path.exists()
    world.run("uninstall", *agent_args(name), "--mcp")
    assert world.snapshot() == before


def test_mcp_table_in_an_existing_codex_config_is_removed_exactly(world):
    config = world.repo / ".codex" / "config.toml"
    config.parent.mkdir()
    original = b'model = "o3"\n\n[mcp_servers.docs]\ncommand = "docs-server"\nargs = ["--stdio"]'  # no final newline
    config.write_bytes(original)
    world.run("install", "--agent", "codex", "--mcp")
    data = tomllib.loads(config.read_text())
    assert data["model"] == "o3" and set(data["mcp_servers"]) == {"docs", "agent-sync"}
    assert world.run("install", "--agent", "codex", "--mcp").stdout.count("unchanged") >= 2
    world.run("uninstall", "--agent", "codex", "--mcp")
    assert config.read_bytes() == original


def test_a_foreign_mcp_entry_of_that_name_is_left_alone(world):
    config = world.repo / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text('[mcp_servers.agent-sync]\ncommand = "my-own"\n')
    mcp = world.repo / ".mcp.json"
    mcp.write_text('{"mcpServers": {"agent-sync": {"command": "my-own"}}}')
    out = world.run("install", "--agent", "codex", "--mcp").stdout
    assert "kept .codex/config.toml: has its own [mcp_servers.agent-sync] table" in out
    out = world.run("install", "--agent", "claude", "--mcp").stdout
    assert 'kept .mcp.json: its own "agent-sync" MCP server' in out
    assert config.read_text() == '[mcp_servers.agent-sync]\ncommand = "my-own"\n'
    assert mcp.read_text() == '{"mcpServers": {"agent-sync": {"command": "my-own"}}}'


def test_mcp_user_scope_entries(world):
    world.run("install", "--agent", "copilot", "--scope", "user", "--mcp")
    entry = world.json(".copilot/mcp-config.json", world.home)["mcpServers"]["agent-sync"]
    assert entry["type"] == "local" and entry["tools"] == ["*"] and entry["args"][-1] == "mcp"
    assert os.path.isabs(entry["command"])
    out = world.run("install", "--agent", "claude", "--scope", "user", "--mcp").stdout
    assert "claude mcp add --scope user agent-sync --" in out  # Claude Code keeps these in its own ~/.claude.json
    world.run("uninstall", "--agent", "copilot", "--scope", "user", "--mcp")
    world.run("uninstall", "--agent", "claude", "--scope", "user", "--mcp")
    assert os.listdir(world.home) == []


def test_shared_mcp_json_stays_while_the_other_agent_is_installed(world):
    world.run("install", "--agent", "claude", "--mcp")
    world.run("install", "--agent", "copilot", "--mcp")
    out = world.run("uninstall", "--agent", "claude", "--mcp").stdout
    assert "kept .mcp.json: the agent-sync MCP server entry is still used by GitHub Copilot CLI" in out
    world.run("uninstall", "--agent", "copilot", "--mcp")
    assert not (world.repo / ".mcp.json").exists()


# -- the portable command -------------------------------------------------------------------------------

def test_committed_file_is_portable_and_local_file_absolute(world):
    world.portable()
    out = world.run("install").stdout
    assert "only this machine" not in out
    project = world.json(".claude/settings.json")
    assert {shlex.split(c)[0] for _e, c, _m in ours("claude", project)} == {"agent-sync"}
    world.run("install", "--scope", "local")
    local = world.json(".claude/settings.local.json")
    programs = {shlex.split(c)[0] for _e, c, _m in ours("claude", local)}
    assert len(programs) == 1 and os.path.isabs(programs.pop())
    doctor = world.run("doctor").stdout
    assert "ok    hook command: agent-sync runs" in doctor and f"found on PATH as {world.bin / 'agent-sync'}" in doctor


def test_without_this_agent_sync_on_path_the_committed_file_is_absolute_and_it_says_why(world):
    out = world.run("install", "--agent", "gemini").stdout
    assert ".gemini/settings.json is committed, but its hooks start agent-sync as" in out
    assert "`agent-sync` is not on PATH" in out and "pipx install ." in out
    programs = {shlex.split(c)[0] for _e, c, _m in ours("gemini", world.json(".gemini/settings.json"))}
    assert programs == {command.absolute_program()[0]}


def test_a_version_manager_shim_is_not_written_into_committed_files(world, tmp_path):
    shims = tmp_path / "pyenv" / "shims"
    shims.mkdir(parents=True)
    shim = shims / "agent-sync"
    shim.write_text('#!/usr/bin/env bash\nexec "$PYENV_ROOT/libexec/pyenv" exec "${0##*/}" "$@"\n')
    shim.chmod(0o755)
    out = world.run("install", env={"PATH": _clean_path([str(shims)])}).stdout
    assert "version-manager shim" in out
    programs = {shlex.split(c)[0] for _e, c, _m in ours("claude", world.json(".claude/settings.json"))}
    assert programs != {"agent-sync"}


def test_a_portable_file_stays_portable_when_reinstalled_from_a_machine_without_it(world):
    world.portable()
    world.run("install", "--agent", "cursor")
    (world.bin / "agent-sync").unlink()
    out = world.run("install", "--agent", "cursor").stdout
    assert "unchanged .cursor/hooks.json" in out and "keeps its portable" in out


def test_codex_checks_the_path_of_its_login_shell(world, tmp_path):
    world.portable()
    resetting = tmp_path / "resetting-shell"  # a login profile that sets its own PATH, as /etc/profile may
    resetting.write_text('#!/bin/sh\n[ "$1" = "-lc" ] && shift\nPATH=/usr/bin:/bin exec /bin/sh -c "$@"\n')
    resetting.chmod(0o755)
    out = world.run("install", "--agent", "codex", env={"SHELL": str(resetting)}).stdout
    assert "not on the PATH of a login shell" in out
    programs = {shlex.split(c)[0] for _e, c, _m in ours("codex", world.json(".codex/hooks.json"))}
    assert programs == {command.absolute_program()[0]}
    world.run("uninstall", "--agent", "codex")
    world.run("install", "--agent", "codex")  # the world's login shell keeps PATH: portable
    programs = {shlex.split(c)[0] for _e, c, _m in ours("codex", world.json(".codex/hooks.json"))}
    assert programs == {"agent-sync"}


# -- notes ------------------------------------------------------------------------------------------------

def test_trust_steps_are_said(world):
    out = world.run("install", "--agent", "codex").stdout
    assert "trusted project" in out and "/hooks" in out and "codex exec --trust" in out
    out = world.run("install", "--agent", "gemini").stdout
    assert "trust this repository" in out and "prints a warning" in out
    out = world.run("install", "--agent", "copilot").stdout
    assert "trusted" in out and "--trust-folder" in out


def test_copilot_and_cursor_say_they_also_run_the_claude_hooks(world):
    world.run("install", "--agent", "claude")
    out = world.run("install", "--agent", "copilot").stdout
    assert "Copilot CLI also runs the Claude Code hooks in .claude/settings.json" in out
    assert "--agent claude --scope user" in out
    out = world.run("install", "--agent", "cursor").stdout
    assert "Cursor also runs the Claude Code hooks" in out
    doctor = world.run("doctor").stdout
    assert "info  copilot: Copilot CLI also runs" in doctor and "info  cursor: Cursor also runs" in doctor
    out = world.run("install", "--agent", "claude", "--scope", "local").stdout  # and the other way round
    assert "Copilot CLI also runs the Claude Code hooks in .claude/settings.local.json" in out
    out = world.run("install", "--agent", "claude", "--scope", "user").stdout
    assert "Copilot CLI also runs" not in out and "Cursor also runs the Claude Code hooks in ~/.claude" in out


# -- doctor -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ("gemini", "cursor", "copilot"))
def test_doctor_passes_after_install(world, name):
    world.portable()
    world.run("install", *agent_args(name))
    out = world.run("doctor").stdout
    for check in ("hooks", "hook command", "instructions"):
        assert f"ok    {name} {check}: " in out, (check, out)
    assert "all checks passed" in out
    assert " hooks: " not in out.replace(f" {name} hooks: ", "")  # only installed agents are checked


def test_doctor_checks_codex_trust(world):
    world.portable()
    world.run("install", "--agent", "codex")
    proc = world.run("doctor", expect=1)
    assert "FAIL  codex trust: this project is not trusted" in proc.stdout
    count = len(agents.load("codex").EVENTS)
    assert f"{count} of the {count} agent-sync hooks in .codex/hooks.json are not trusted" in proc.stdout
    path = world.repo / ".codex" / "hooks.json"
    keys = codex_install.hook_keys(str(path), json.loads(path.read_text()), codex_install.INTEGRATION.hooks.ours)
    config = world.home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text(f'[projects.{json.dumps(str(world.repo))}]\ntrust_level = "trusted"\n'
                      + "".join(f'\n[hooks.state.{json.dumps(k)}]\ntrusted_hash = "{h}"\n' for k, h in keys))
    out = world.run("doctor").stdout
    assert f"ok    codex trust: all {len(keys)} agent-sync hooks in .codex/hooks.json are trusted" in out


def test_codex_trust_hash_matches_the_harness(world):
    """The hash doctor computes is the one the e2e harness verified against Codex's own `hooks/list`."""
    harness = pytest.importorskip("e2e.codex_harness")
    for event, matcher, handler in (("PreToolUse", "apply_patch|Edit|Write|Bash", {"command": "a b", "timeout": 10}),
                                    ("SessionEnd", None, {"command": "x", "timeout": 10}),
                                    ("Stop", None, {"command": "é", "statusMessage": "s"})):
        assert codex_install.trusted_hash(event, matcher, handler) == harness.hook_trusted_hash(event, matcher, handler)


@pytest.mark.parametrize("name", ("codex", "gemini", "cursor", "copilot"))
def test_doctor_fails_on_a_broken_command(world, tmp_path, name):
    world.portable()
    world.run("install", *agent_args(name))
    path = world.repo / HOOKS_FILE[name]
    missing = tmp_path / "gone" / "agent-sync"
    path.write_text(path.read_text().replace('"agent-sync hook', f'"{missing} hook'))
    proc = world.run("doctor", expect=1)
    line = next(line for line in proc.stdout.splitlines() if line.startswith(f"FAIL  {name} hook command"))
    assert f"{missing} does not exist" in line and f"agent-sync install --agent {name}" in line
    assert f"ok    {name} hooks" in proc.stdout


def test_doctor_fails_when_the_command_is_not_this_agent_sync(world, tmp_path):
    world.run("install", "--agent", "copilot")
    other = tmp_path / "other" / "agent-sync"  # some other program of that name (PyPI's agent-sync, say)
    other.parent.mkdir()
    other.write_text("#!/bin/sh\necho 'agent-sync 1.2.0'\n")
    other.chmod(0o755)
    path = world.repo / HOOKS_FILE["copilot"]
    data = json.loads(path.read_text())
    for handlers in data["hooks"].values():
        for h in handlers:
            h["bash"] = f"{other} " + h["bash"].split(" ", 1)[1]
    path.write_text(json.dumps(data))
    proc = world.run("doctor", "--agent", "copilot", expect=1)
    assert "does not take GitHub Copilot CLI hooks" in proc.stdout


def test_doctor_on_a_bare_command_not_on_path(world):
    world.portable()
    world.run("install", "--agent", "gemini")
    (world.bin / "agent-sync").unlink()
    proc = world.run("doctor", expect=1)
    assert "FAIL  gemini hook command: agent-sync is not an absolute path and not on PATH" in proc.stdout


# -- units ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cmd, parsed", [
    ("agent-sync hook --agent codex PreToolUse", ("codex", "PreToolUse")),
    ("'/a b/agent-sync' hook --agent=gemini BeforeTool", ("gemini", "BeforeTool")),
    ("/usr/bin/python3 -m agent_sync hook --agent cursor preToolUse", ("cursor", "preToolUse")),
    ("agent-sync hook stop", ("claude", "stop")),
    ("agent-sync hook --agent copilot", None),
    ("agent-sync status", None),
    ("my-agent-sync hook stop", None),
    ("agent-sync hook 'unterminated", ("claude", "unterminated")),
])
def test_parse_hook(cmd, parsed):
    assert command.parse_hook(cmd) == parsed


def test_block_states():
    block = formats.Block("body\n", "<!-- ", " -->", "- note")
    text = "before\n\n" + block.text()
    start, end, state = block.find(text)
    assert state == "current" and text[start:end] == block.text()
    older = formats.Block("old body\n", "<!-- ", " -->", "- note").text()
    assert block.find(older)[2] == "ours"
    assert block.find(older.replace("old body", "my body"))[2] == "edited"
    assert block.find("no block here") is None


def test_same_matcher_ignores_order_of_plain_names():
    assert formats.same_matcher("Edit|Write|Bash", "Bash|Write|Edit")
    assert not formats.same_matcher("Edit|Write", "Edit|Write|Bash")
    assert not formats.same_matcher("^(a|b)$", "^(b|a)$")


def test_backup_manifest_names_differ_per_file(tmp_path):
    backups = Backups(str(tmp_path / "b"), None)
    assert backups.manifest_name("/x/.cursor/hooks.json") != backups.manifest_name("/x/.codex/hooks.json")
