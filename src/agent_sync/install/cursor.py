"""Cursor: hooks in `.cursor/hooks.json` (project) or `~/.cursor/hooks.json` (user), flat
`{"version": 1, "hooks": {event: [{"command", "matcher"?, "timeout"}]}}` (seconds; an unknown event name makes
Cursor reject the whole file, so only the adapter's events are written); the agent-sync section in AGENTS.md;
the MCP server in `.cursor/mcp.json`.

Cursor also runs Claude Code's hooks (`.claude/settings*.json`, `~/.claude/settings.json`), skipping only a
command identical to one of its own. The Claude Code hook hands a Cursor call to the Cursor adapter, so the
same agent answers twice: harmless, but twice the work. The installer and doctor say so."""

from __future__ import annotations

import os

from agent_sync.install import engine, formats, guide
from agent_sync.install.integration import Integration

HOOK_TIMEOUT = 10


def _handler(program: str, spec: formats.HookSpec) -> dict:
    handler = {"command": formats.hook_text(program, "cursor", spec.arg)}
    if spec.matcher is not None:
        handler["matcher"] = spec.matcher
    handler["timeout"] = spec.timeout
    return handler


class Cursor(Integration):
    name = "cursor"
    scopes = ("project", "user")
    config_dir = ".cursor"
    binaries = ("cursor-agent", "cursor")
    restart = "Cursor reloads hooks.json by itself; project hooks run only in a trusted workspace."
    tool_event = "preToolUse"
    jsonc = True

    def spec(self, arg, event, matcher):
        return formats.HookSpec(event, arg, matcher, HOOK_TIMEOUT)

    def hooks_format(self, specs):
        return formats.FlatHooks(self.name, specs, _handler, "command")

    def hooks_path(self, scope, root):
        base = engine.tree(root) if scope == "project" else engine.home()
        return os.path.join(base, ".cursor", "hooks.json")

    def instructions(self, scope, root):
        if scope != "project":
            return None
        return guide.section(engine.tree(root), "AGENTS.md", self.backups(scope, root))

    def mcp(self, scope, root):
        base = engine.tree(root) if scope == "project" else engine.home()
        path = os.path.join(base, ".cursor", "mcp.json")
        return engine.JsonDoc(path, self.backups(scope, root), [MCP], comments=True), MCP

    def notes(self, scope, root):
        notes = [self.restart]
        duplicate = claude_duplicate(root)
        if duplicate:
            notes.append(duplicate)
        return notes

    def checks(self, root):
        from agent_sync.install.doctor import Check

        duplicate = claude_duplicate(root) if self.installed_scopes(root) else ""
        return [Check("cursor", "info", duplicate)] if duplicate else []


def claude_duplicate(root: str, scopes: list[str] | None = None) -> str:
    """What to tell a user whose Claude Code hooks (in `scopes`, default: where they are now) Cursor runs too
    ("" when there are none)."""
    from agent_sync.install import claude

    scopes = claude.INTEGRATION.installed_scopes(root) if scopes is None else scopes
    if not scopes:
        return ""
    files = ", ".join(engine.display(claude.settings_path(s, root), root) for s in scopes)
    return (f"Cursor also runs the Claude Code hooks in {files} (it skips only commands identical to its own), "
            "so each Cursor event is handled twice. The Claude Code hook hands Cursor's calls to the Cursor "
            "adapter, so both answer as the same agent and nothing conflicts; it only costs a second hook per "
            "event. To avoid it, turn off Cursor's use of Claude Code settings, or install for one of the two.")


MCP = formats.McpServers(formats.stdio_entry)
INTEGRATION = Cursor()
