"""The Claude Code plugin in the repository: its files are what the generator makes from the installer's sources
(a stale file fails here), its manifest is valid (structurally always; by `claude plugin validate` and a real
offline install when the Claude Code binary is in the test cache), and its hook commands resolve."""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from agent_sync import __version__, agents
from agent_sync.install import command, plugin

pytestmark = pytest.mark.sqlite_only  # no store in these: the installer writes config files

CHECKOUT = Path(__file__).resolve().parent.parent
PLUGIN = CHECKOUT / "plugins" / "agent-sync"
REAL_HOME = pwd.getpwuid(os.getuid()).pw_dir


def _claude_binary() -> Path | None:
    cache = os.environ.get("AGENT_SYNC_E2E_CACHE") or os.path.join(REAL_HOME, ".cache", "agent-sync-tests", "claude-code")
    for candidate in Path(cache).glob("node_modules/@anthropic-ai/claude-code-*/claude"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def test_committed_plugin_files_are_current():
    stale = [rel for rel, content in plugin.files().items()
             if not (CHECKOUT / rel).is_file() or (CHECKOUT / rel).read_bytes() != content]
    assert not stale, f"stale plugin files {stale}: run `python -m agent_sync.install.plugin`"


def test_manifest_and_marketplace_structure():
    manifest = json.loads((PLUGIN / ".claude-plugin" / "plugin.json").read_text())
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", manifest["name"])  # kebab-case, as Claude Code requires
    assert manifest["version"] == __version__
    assert "hooks" not in manifest  # hooks/hooks.json loads by itself; naming it again is a duplicate
    market = json.loads((CHECKOUT / ".claude-plugin" / "marketplace.json").read_text())
    assert market["name"] and market["owner"]["name"]
    (entry,) = market["plugins"]
    assert entry["name"] == manifest["name"] and entry["version"] == __version__
    assert entry["source"].startswith("./") and (CHECKOUT / entry["source"] / ".claude-plugin" / "plugin.json").is_file()
    skill = (PLUGIN / "skills" / "agent-sync" / "SKILL.md").read_text()
    lines = skill.splitlines()
    assert lines[0] == "---" and lines[1] == "name: agent-sync" and lines[2].startswith("description: ")
    assert "agent-sync install" not in skill.split("---", 2)[2][:200]  # no installer marker in the plugin's copy
    mcp = json.loads((PLUGIN / ".mcp.json").read_text())
    assert mcp == {"mcpServers": {"agent-sync": {"command": "agent-sync", "args": ["mcp"]}}}


def test_hooks_are_the_claude_adapters_events():
    data = json.loads((PLUGIN / "hooks" / "hooks.json").read_text())
    adapter = agents.load("claude")
    assert list(data["hooks"]) == [event for _a, event, _k, _i, _m in adapter.EVENTS]
    for arg, event, _kind, _inject, matcher in adapter.EVENTS:
        (group,) = data["hooks"][event]
        assert group.get("matcher") == matcher
        (handler,) = group["hooks"]
        assert handler["type"] == "command" and handler["timeout"] == 10
        assert command.parse_hook(handler["command"]) == ("claude", arg)
        assert shlex.split(handler["command"])[0] == "agent-sync"  # portable: found on PATH


def test_hook_commands_resolve_and_name_known_events(tmp_path):
    """Each command, run through a shell with this agent-sync on PATH, starts the hook entry point and names
    an event the adapter knows (an unknown one would say so on stderr)."""
    program = command.absolute_program()
    if len(program) != 1:
        pytest.skip("this agent-sync runs as `python -m agent_sync` (no console script to put on PATH)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "agent-sync").symlink_to(program[0])
    outside = tmp_path / "not-a-repo"  # outside any repository a hook has nothing to coordinate: it only parses
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_SYNC_", "CLAUDE"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    data = json.loads((PLUGIN / "hooks" / "hooks.json").read_text())
    commands = [h["command"] for groups in data["hooks"].values() for g in groups for h in g["hooks"]]
    for cmd in commands:
        proc = subprocess.run(["/bin/sh", "-c", cmd], cwd=outside, env=env, input="{}", capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0 and "unknown" not in proc.stderr and "not found" not in proc.stderr, (cmd, proc)
    bad = subprocess.run(["/bin/sh", "-c", "agent-sync hook no-such-event"], cwd=outside, env=env, input="{}",
                         capture_output=True, text=True, timeout=60)
    assert "unknown Claude Code hook event" in bad.stderr  # the check above can fail


@pytest.fixture
def claude(tmp_path):
    binary = _claude_binary()
    if binary is None:
        pytest.skip("the Claude Code binary is not in the test cache (the e2e tests install it)")
    home = tmp_path / "claude-home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "DISABLE_AUTOUPDATER": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, cwd=tmp_path)
    return run


def test_claude_plugin_validate(claude):
    for target in (PLUGIN, CHECKOUT):  # the plugin, and the marketplace at the repository root
        proc = claude("plugin", "validate", "--strict", str(target))
        assert proc.returncode == 0 and "Validation passed" in proc.stdout, proc.stdout + proc.stderr


def test_claude_installs_the_plugin_from_the_repository(claude):
    proc = claude("plugin", "marketplace", "add", str(CHECKOUT))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    market = json.loads((CHECKOUT / ".claude-plugin" / "marketplace.json").read_text())["name"]
    proc = claude("plugin", "install", f"agent-sync@{market}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    details = claude("plugin", "details", f"agent-sync@{market}").stdout
    count = len(agents.load("claude").EVENTS)
    assert re.search(rf"Hooks \({count}\)", details), details
    assert re.search(r"Skills \(1\)\s+agent-sync", details) and re.search(r"MCP servers \(1\)\s+agent-sync", details)
