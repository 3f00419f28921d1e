"""Gemini CLI: hooks and the MCP server entry in `.gemini/settings.json` (project) or `~/.gemini/settings.json`
(user; `$GEMINI_CLI_HOME/.gemini` when set), in Claude Code's nested format with a `name` per hook and
timeouts in MILLISECONDS; the agent-sync section in GEMINI.md.

Gemini runs no configured hook at all in an untrusted folder (folder trust is on by default), and prints a
warning listing project hooks the first time it sees them (fingerprinted by name and command). It reads the
project file only from the directory it was started in."""

from __future__ import annotations

import json
import os

from agent_sync.install import engine, formats, guide
from agent_sync.install.integration import Integration

HOOK_TIMEOUT_MS = 10000


def gemini_dir() -> str:
    return os.path.join(os.environ.get("GEMINI_CLI_HOME") or engine.home(), ".gemini")


def _kebab(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper() and out:
            out.append("-")
        out.append(ch.lower())
    return "".join(out).replace("_", "-")


def _handler(program: str, spec: formats.HookSpec) -> dict:
    return {"name": f"agent-sync-{_kebab(spec.arg)}", "type": "command",
            "command": formats.hook_text(program, "gemini", spec.arg), "timeout": spec.timeout}


class Gemini(Integration):
    name = "gemini"
    scopes = ("project", "user")
    config_dir = ".gemini"
    binaries = ("gemini",)
    restart = "Gemini CLI reads its settings when it starts: restart running Gemini sessions to pick this up."
    tool_event = "BeforeTool"

    def spec(self, arg, event, matcher):
        return formats.HookSpec(event, arg, matcher, HOOK_TIMEOUT_MS)

    def hooks_format(self, specs):
        return formats.NestedHooks(self.name, specs, _handler)

    def user_dir(self):
        return gemini_dir()

    def hooks_path(self, scope, root):
        base = os.path.join(engine.tree(root), ".gemini") if scope == "project" else gemini_dir()
        return os.path.join(base, "settings.json")

    def instructions(self, scope, root):
        base = engine.tree(root) if scope == "project" else gemini_dir()
        return guide.section(base, "GEMINI.md", self.backups(scope, root))

    def mcp(self, scope, root):
        path = self.hooks_path(scope, root)
        return engine.JsonDoc(path, self.backups(scope, root), [self.hooks, MCP]), MCP

    def notes(self, scope, root):
        notes = ["Gemini CLI runs no hooks in a folder you have not trusted: trust this repository when Gemini "
                 "asks on its first start here (or with /permissions)."]
        if scope == "project":
            shown = engine.display(self.hooks_path(scope, root), root)
            notes.append(f"The first time Gemini CLI sees the hooks in {shown} it prints a warning listing them, "
                         "and again whenever a hook's command changes; that is expected. It reads that file only "
                         "when started in the repository root: start gemini there, or install with --scope user.")
        notes.append(self.restart)
        return notes

    def checks(self, root):
        from agent_sync.install.doctor import Check

        if not self.installed_scopes(root):
            return []
        where = os.path.realpath(engine.tree(root))
        user = os.path.join(gemini_dir(), "settings.json")
        try:
            with open(user, encoding="utf-8") as fh:
                settings = json.load(fh)
            trust = settings.get("security", {}).get("folderTrust", {})
            if isinstance(trust, dict) and trust.get("enabled") is False:
                return [Check("gemini trust", "ok", "folder trust is off: Gemini runs hooks in every folder")]
        except (OSError, ValueError, AttributeError):
            pass
        folders = os.environ.get("GEMINI_CLI_TRUSTED_FOLDERS_PATH") or os.path.join(gemini_dir(), "trustedFolders.json")
        try:
            with open(folders, encoding="utf-8") as fh:
                entries = json.load(fh)
        except (OSError, ValueError):
            entries = {}
        verdict = folder_trust(where, entries if isinstance(entries, dict) else {})
        shown = engine.display(folders, root)
        if verdict == "trusted":
            return [Check("gemini trust", "ok", f"this repository is a trusted folder ({shown})")]
        detail = ("this repository is marked untrusted" if verdict == "distrusted" else
                  "this repository is not a trusted folder yet") + f" ({shown}): Gemini CLI runs no hooks here until it is"
        return [Check("gemini trust", "warn", detail, "start gemini here and trust the folder when it asks")]


def folder_trust(where: str, entries: dict) -> str:
    """trusted | distrusted | unknown for a directory, from trustedFolders.json ({path: TRUST_FOLDER |
    TRUST_PARENT | DO_NOT_TRUST}); the nearest entry wins."""
    best, verdict = -1, "unknown"
    for path, level in entries.items():
        if not isinstance(path, str):
            continue
        base = os.path.realpath(os.path.expanduser(path))
        if level == "TRUST_PARENT":
            base = os.path.dirname(base)
        if where == base or where.startswith(base.rstrip(os.sep) + os.sep):
            if len(base) > best:
                best = len(base)
                verdict = "distrusted" if level == "DO_NOT_TRUST" else "trusted"
    return verdict


MCP = formats.McpServers(formats.stdio_entry)
INTEGRATION = Gemini()
