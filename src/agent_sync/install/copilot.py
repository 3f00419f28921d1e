"""GitHub Copilot CLI: hooks in `.github/hooks/agent-sync.json` (project) or `~/.copilot/hooks/agent-sync.json`
(user), a file of agent-sync's own in Copilot's format
`{"version": 1, "hooks": {event: [{"type": "command", "bash", "timeoutSec"}]}}`; the agent-sync section in
AGENTS.md; the MCP server in the workspace `.mcp.json` (Claude Code's format, which Copilot reads) or
`~/.copilot/mcp-config.json`.

Copilot runs a repository's hooks only in a folder the user trusted. It also runs the hooks of the
repository's `.claude/settings.json` and `settings.local.json`, with no de-duplication; the Claude Code hook
hands Copilot's calls to the Copilot adapter, so the same agent answers twice. The installer and doctor say
so, and how to avoid it (Claude Code's hooks in user scope, which Copilot does not read)."""

from __future__ import annotations

import os

from agent_sync.install import engine, formats, guide
from agent_sync.install.integration import Integration

HOOK_TIMEOUT = 10


def copilot_dir() -> str:
    return os.path.join(engine.home(), ".copilot")


def _handler(program: str, spec: formats.HookSpec) -> dict:
    handler = {"type": "command", "bash": formats.hook_text(program, "copilot", spec.arg), "timeoutSec": spec.timeout}
    if spec.matcher is not None:
        handler["matcher"] = spec.matcher
    return handler


def _user_entry(program: str) -> dict:
    return {"type": "local", **formats.stdio_entry(program), "tools": ["*"]}


class Copilot(Integration):
    name = "copilot"
    scopes = ("project", "user")
    config_dir = ".copilot"
    repo_markers = (".github/hooks", ".github/copilot-instructions.md", ".github/copilot")
    binaries = ("copilot",)
    restart = "Copilot CLI reads hooks when a session starts: start new Copilot sessions to pick this up."
    tool_event = "preToolUse"

    def spec(self, arg, event, matcher):
        return formats.HookSpec(event, arg, matcher, HOOK_TIMEOUT)

    def hooks_format(self, specs):
        return formats.FlatHooks(self.name, specs, _handler, "bash")

    def user_dir(self):
        return copilot_dir()

    def hooks_path(self, scope, root):
        base = os.path.join(engine.tree(root), ".github") if scope == "project" else copilot_dir()
        return os.path.join(base, "hooks", "agent-sync.json")

    def instructions(self, scope, root):
        if scope != "project":
            return None
        return guide.section(engine.tree(root), "AGENTS.md", self.backups(scope, root))

    def mcp(self, scope, root):
        if scope == "project":
            from agent_sync.install.claude import MCP as CLAUDE_MCP

            path = os.path.join(engine.tree(root), ".mcp.json")
            return engine.JsonDoc(path, self.backups(scope, root), [CLAUDE_MCP]), CLAUDE_MCP
        path = os.path.join(copilot_dir(), "mcp-config.json")
        return engine.JsonDoc(path, self.backups(scope, root), [USER_MCP]), USER_MCP

    def notes(self, scope, root):
        notes = []
        if scope == "project":
            notes.append("Copilot CLI runs a repository's hooks only in a folder you trusted: trust this one when "
                         "copilot asks on its first start here (non-interactive runs: --trust-folder, or "
                         "COPILOT_ALLOW_ALL=true).")
        notes.append(self.restart)
        duplicate = claude_duplicate(root)
        if duplicate:
            notes.append(duplicate)
        return notes

    def checks(self, root):
        from agent_sync.install.doctor import Check

        duplicate = claude_duplicate(root) if self.installed_scopes(root) else ""
        return [Check("copilot", "info", duplicate)] if duplicate else []


def claude_duplicate(root: str, scopes: list[str] | None = None) -> str:
    """What to tell a user whose repository's Claude Code hooks (in `scopes`, default: where they are now)
    Copilot runs too ("" when there are none)."""
    from agent_sync.install import claude

    scopes = claude.INTEGRATION.installed_scopes(root) if scopes is None else scopes
    scopes = [s for s in scopes if s != "user"]  # Copilot does not read ~/.claude
    if not scopes:
        return ""
    files = ", ".join(engine.display(claude.settings_path(s, root), root) for s in scopes)
    return (f"Copilot CLI also runs the Claude Code hooks in {files}, with no de-duplication, so each Copilot "
            "event is handled twice. The Claude Code hook hands Copilot's calls to the Copilot adapter, so both "
            "answer as the same agent and nothing conflicts; it only costs a second hook per event. To avoid it, "
            "keep Claude Code's hooks in your user settings, which Copilot does not read: "
            "`agent-sync uninstall --agent claude && agent-sync install --agent claude --scope user`.")


USER_MCP = formats.McpServers(_user_entry)
INTEGRATION = Copilot()
