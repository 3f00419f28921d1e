"""Claude Code: hooks in `.claude/settings.json` (project, committed), `.claude/settings.local.json` (local) or
`~/.claude/settings.json` (user); the agent-sync skill in `.claude/skills/agent-sync/SKILL.md`; the MCP server
in `.mcp.json`. The hook commands keep their original form, `agent-sync hook pre-tool-use` (no --agent)."""

from __future__ import annotations

import os
import re

from agent_sync.install import engine, formats
from agent_sync.install.integration import Integration

HOOK_TIMEOUT = 10
RESTART_NOTE = ("Claude Code reads hooks when a session starts: restart running Claude Code sessions "
                "(or start new ones) to pick this up.")


def settings_path(scope: str, root: str) -> str:
    if scope == "user":
        return os.path.join(engine.home(), ".claude", "settings.json")
    name = "settings.local.json" if scope == "local" else "settings.json"
    return os.path.join(engine.tree(root), ".claude", name)


def skill_path(scope: str, root: str) -> str:
    base = engine.home() if scope == "user" else engine.tree(root)
    return os.path.join(base, ".claude", "skills", "agent-sync", "SKILL.md")


def _handler(program: str, spec: formats.HookSpec) -> dict:
    return {"type": "command", "command": formats.hook_text(program, "claude", spec.arg), "timeout": spec.timeout}


class Claude(Integration):
    name = "claude"
    scopes = ("project", "local", "user")
    config_dir = ".claude"
    repo_markers = (".claude/settings.json", ".claude/settings.local.json")  # .claude/ alone may be our state dir
    binaries = ("claude",)
    restart = RESTART_NOTE
    tool_event = "PreToolUse"

    def spec(self, arg, event, matcher):
        return formats.HookSpec(event, arg, matcher, HOOK_TIMEOUT)

    def hooks_format(self, specs):
        return formats.NestedHooks(self.name, specs, _handler)

    def hooks_path(self, scope, root):
        return settings_path(scope, root)

    def hooks_doc(self, scope, root):
        doc = super().hooks_doc(scope, root)
        doc.manifest = f"hooks-{scope}.json"  # the name the first installer used: its undo records stay valid
        return doc

    def instructions(self, scope, root):
        return Skill(scope, root)

    def extra_sources(self, root):
        """The agent-sync plugin's hooks, where a settings file enables the plugin."""
        import json

        out = []
        for scope in self.scopes:
            try:
                with open(settings_path(scope, root), encoding="utf-8") as fh:
                    enabled = json.load(fh).get("enabledPlugins") or {}
            except (OSError, ValueError, AttributeError):
                continue
            for key, on in (enabled.items() if isinstance(enabled, dict) else ()):
                if isinstance(key, str) and key.startswith("agent-sync@") and on is True:
                    label = f"the {key} plugin"
                    if label not in [o[0] for o in out]:
                        out.append((label, _plugin_hooks(key)))
        return out

    def notes(self, scope, root):
        from agent_sync.install import copilot, cursor

        notes = [self.restart]
        for other in (copilot, cursor):
            if other.INTEGRATION.installed_scopes(root):
                notes.append(other.claude_duplicate(root, [scope]))
        return [n for n in notes if n]

    def mcp(self, scope, root):
        if scope != "project":
            return None
        path = os.path.join(engine.tree(root), ".mcp.json")
        return engine.JsonDoc(path, self.backups(scope, root), [MCP]), MCP

    def mcp_hint(self, scope, program):
        from agent_sync.install.command import mcp_command

        command, args = mcp_command(program)
        return (f"Claude Code keeps {scope}-scope MCP servers in its own ~/.claude.json: add agent-sync there with "
                f"`claude mcp add --scope {scope} agent-sync -- {command} {' '.join(args)}`")


def _plugin_hooks(key: str) -> dict:
    """The hooks of an installed agent-sync plugin (from Claude Code's plugin cache), else the ones this
    version ships."""
    import json

    try:
        with open(os.path.join(engine.home(), ".claude", "plugins", "installed_plugins.json"), encoding="utf-8") as fh:
            installs = json.load(fh)["plugins"][key]
        with open(os.path.join(installs[0]["installPath"], "hooks", "hooks.json"), encoding="utf-8") as fh:
            data = json.load(fh)
        if isinstance(data, dict):
            return data
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        pass
    from agent_sync.install import plugin

    return plugin.hooks()


MCP = formats.McpServers(formats.stdio_entry)
INTEGRATION = Claude()


# -- the skill --------------------------------------------------------------------------------------------

SKILL_FRONT = """\
---
name: agent-sync
description: Coordinate with the other AI coding agents working in this same repository - shared locks, tasks, messages and decisions. Use at the start of a session, before editing files (especially larger or multi-file changes), when an edit or commit is blocked by another agent's lock, when messages arrive, and when you finish a task.
---
"""

SKILL_BODY = """\
# Working alongside other agents (agent-sync)

Several agents share this repository. agent-sync keeps the shared record of who is active, which files are
locked, which tasks are claimed, and the messages between agents. Hooks already register you, show a short
status at session start and refuse edits of files another agent holds. Your part:

## Start
1. `agent-sync status --compact`: active agents, open tasks, live locks, unread messages.
2. Take work: `agent-sync claim-next --lock` (highest-priority ready task, its files locked) or
   `agent-sync claim-task T --lock` (T = id or title). Don't start a task another agent has claimed.
3. Optional: `agent-sync register --name NAME --role ROLE` so others can address you.

## Before editing
- Lock before a larger or multi-file change (all or nothing):
  `agent-sync lock src/api/ 'src/**/*.ts' README.md --reason "refactor auth"`
  Targets are files, directories (trailing `/`) or globs; `--resource KEY` names a non-file thing.
- If someone holds it, `--wait` (or `--wait 120`) queues for it instead of failing.
- Locks expire (60 min by default): `agent-sync renew --all` during long work.

## When an edit is blocked
A hook refuses edits of a file another active agent has locked and names the holder. Then:
- Message the holder: `agent-sync send --to HOLDER -m "need src/x.py for ...; when free?"`.
- Meanwhile pick other work, or queue with `agent-sync lock PATH --wait`.
- Never work around a lock: no shell commands (sed -i, cat >, cp, mv, git checkout) or other tools on
  that path. Never `unlock --force` another agent's lock unless the user says so.

## Messages and decisions
- `agent-sync inbox` lists unread messages; `agent-sync read-message ID`, then `agent-sync ack ID` once handled.
- `agent-sync send --to NAME|ROLE|all -m "..."` (`--reply-to ID`; `--urgent` holds the recipient's turn).
- `agent-sync decision "all timestamps are UTC"` records a rule every agent follows; `agent-sync decisions`.

## Finishing
- `agent-sync complete-task T` marks it done and lists the tasks it unblocked (tell their owners, or claim one).
- Can't finish? `agent-sync block-task T --reason "..."` or `agent-sync release-task T`.
- `agent-sync unlock --all` as soon as your edits are done: don't sit on locks.

## Exit codes
0 ok. 1 error (bad input, not found; the message says what to fix). 2 conflict: another active agent holds
it (the message names the holder). Add `--json` for machine-readable output.
"""

SKILL_TEXT = SKILL_FRONT + "{marker}\n" + SKILL_BODY

_SKILL_MARK_RE = re.compile(r"^<!-- agent-sync skill\b[^\n]*?sha256:([0-9a-f]{12,64}) -->\n", re.M)


def skill_text() -> str:
    body = SKILL_FRONT + SKILL_BODY
    marker = (f"<!-- agent-sync skill: written by `agent-sync install`; `agent-sync uninstall` removes it "
              f"unless edited. sha256:{formats.digest(body)} -->")
    return SKILL_FRONT + marker + "\n" + SKILL_BODY


def plugin_skill_text() -> str:
    """The skill as the Claude Code plugin ships it: no install marker (the plugin manager owns the file)."""
    return SKILL_FRONT + SKILL_BODY


def skill_state(content: bytes | None) -> str:
    """absent | current | ours (unedited, maybe an older version) | edited | foreign."""
    if content is None:
        return "absent"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return "foreign"
    if text == skill_text():
        return "current"
    match = _SKILL_MARK_RE.search(text)
    if not match:
        return "foreign"
    rest = text[:match.start()] + text[match.end():]
    return "ours" if formats.digest(rest).startswith(match.group(1)) else "edited"


class Skill:
    """The skill file: written whole by install, removed by uninstall unless edited or still needed."""

    def __init__(self, scope: str, root: str):
        self.scope, self.root = scope, root
        self.path = skill_path(scope, root)

    def _content(self) -> bytes | None:
        return engine.read_bytes(self.path) if not os.path.isdir(self.path) else b""

    def install(self, plan: engine.Plan) -> None:
        path = self.path
        state = skill_state(self._content())
        wanted = skill_text().encode("utf-8")
        if state == "current":
            plan.add("unchanged", path, "the agent-sync skill")
        elif state in ("absent", "ours"):
            plan.need(INTEGRATION.backups(self.scope, self.root), os.path.dirname(path))
            plan.add("created" if state == "absent" else "updated", path, "the agent-sync skill",
                     lambda: engine.write_atomic(path, wanted))
        elif state == "edited":
            plan.add("kept", path, "edited since agent-sync wrote it; delete it and run install again for the "
                     "current skill")
        else:
            plan.add("kept", path, "not agent-sync's skill file; move it away and run install again to write ours")

    def uninstall(self, plan: engine.Plan, leaving: set) -> None:
        path = self.path
        state = skill_state(self._content())
        if state == "absent":
            plan.add("unchanged", path, "no skill")
            return
        if state == "foreign":
            plan.add("kept", path, "not written by agent-sync")
            return
        if state == "edited":
            plan.add("kept", path, "edited since install; delete it yourself if you no longer want it")
            return
        users = [o for o in INTEGRATION.scopes if o != self.scope and ("claude", o) not in leaving
                 and skill_path(o, self.root) == path and INTEGRATION.installed(o, self.root)]
        if users:
            plan.add("kept", path, "still used by the hooks in "
                     + ", ".join(engine.display(settings_path(o, self.root), self.root) for o in users))
            return

        def apply():
            os.unlink(path)
            try:
                os.rmdir(os.path.dirname(path))  # .claude/skills/agent-sync/ holds nothing else of anyone's
            except OSError:
                pass
        plan.add("removed", path, "the agent-sync skill", apply)


# -- what the first installer offered as functions --------------------------------------------------------

def merge_hooks(settings: dict, cmd: str) -> tuple[dict, int, int]:
    merge = INTEGRATION.hooks.merge(settings, cmd)
    return merge.data, merge.added, merge.updated


def strip_hooks(settings: dict) -> tuple[dict, int]:
    return INTEGRATION.hooks.strip(settings)


def count_ours(settings: dict) -> int:
    return INTEGRATION.hooks.count(settings)
