"""Codex CLI: hooks in `.codex/hooks.json` (project) or `$CODEX_HOME/hooks.json` (user, default `~/.codex`), in
Claude Code's format with timeouts in seconds; the agent-sync section in AGENTS.md; the MCP server as a marked
`[mcp_servers.agent-sync]` table in `config.toml`.

Codex runs a hook only behind two gates, both silent when closed: the project must be trusted
(`[projects."<root>"] trust_level = "trusted"` in the user config, for project hooks), and each hook must be
trusted by its hash (`[hooks.state."<file>:<event>:<group>:<handler>"] trusted_hash = ...`, written when the
user reviews it in `/hooks`). The installer says so; doctor computes the hashes and says which are trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from agent_sync.errors import UsageError
from agent_sync.install import engine, formats, guide
from agent_sync.install.integration import Integration

HOOK_TIMEOUT = 10
SHORT_TIMEOUT = {"SessionEnd": 3, "Interrupt": 3}  # Codex clamps these (with a warning) and hashes the clamped value


def codex_home() -> str:
    return os.environ.get("CODEX_HOME") or os.path.join(engine.home(), ".codex")


def _handler(program: str, spec: formats.HookSpec) -> dict:
    return {"type": "command", "command": formats.hook_text(program, "codex", spec.arg), "timeout": spec.timeout}


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string: JSON's escapes are TOML's


def mcp_table(program: str) -> str:
    from agent_sync.install.command import mcp_command

    command, args = mcp_command(program)
    return (f"[mcp_servers.agent-sync]\ncommand = {_toml_string(command)}\n"
            f"args = [{', '.join(_toml_string(a) for a in args)}]\n")


def _parse_toml(text: str, shown: str) -> dict:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{shown} is not valid TOML ({exc}); fix it, then run this again") from None


def _foreign_table(rest: str, shown: str) -> str | None:
    data = _parse_toml(rest, shown)
    servers = data.get("mcp_servers")
    if isinstance(servers, dict) and "agent-sync" in servers:
        return "has its own [mcp_servers.agent-sync] table, which agent-sync leaves alone"
    return None


def _valid_toml(text: str, shown: str) -> None:
    import tomllib

    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"cannot add [mcp_servers.agent-sync] to {shown}: the result would not be valid TOML "
                         f"({exc}); add it by hand") from None


class Codex(Integration):
    name = "codex"
    scopes = ("project", "user")
    config_dir = ".codex"
    binaries = ("codex",)
    restart = "Codex CLI reads hooks when a session starts: start new Codex sessions to pick this up."
    tool_event = "PreToolUse"

    def spec(self, arg, event, matcher):
        return formats.HookSpec(event, arg, matcher, min(HOOK_TIMEOUT, SHORT_TIMEOUT.get(event, HOOK_TIMEOUT)))

    def hooks_format(self, specs):
        return formats.NestedHooks(self.name, specs, _handler)

    def user_dir(self):
        return codex_home()

    def hooks_path(self, scope, root):
        base = os.path.join(engine.tree(root), ".codex") if scope == "project" else codex_home()
        return os.path.join(base, "hooks.json")

    def instructions(self, scope, root):
        base = engine.tree(root) if scope == "project" else codex_home()
        return guide.section(base, "AGENTS.md", self.backups(scope, root))

    def mcp(self, scope, root):
        base = os.path.join(engine.tree(root), ".codex") if scope == "project" else codex_home()
        return McpTable(os.path.join(base, "config.toml"), self.backups(scope, root)), None

    def hook_path(self):
        from agent_sync.install.command import login_path

        return login_path(), "the PATH of a login shell (Codex runs its hooks with `$SHELL -lc`)"

    def notes(self, scope, root):
        count = len(self.hooks.specs)
        shown = engine.display(self.hooks_path(scope, root), root)
        if scope == "project":
            trust = (f"Codex CLI runs the hooks in {shown} only in a trusted project and only hooks you have "
                     "trusted, and skips the others silently: start `codex` in this repository and accept its "
                     "trust prompt (or run `codex exec --trust` here once), then open `/hooks` and trust the "
                     f"{count} agent-sync hooks. A hook whose command changes (a reinstall from another "
                     "agent-sync) needs trusting again; `agent-sync doctor` shows which are trusted.")
        else:
            trust = (f"Codex CLI skips hooks you have not trusted, silently: open `codex`, run `/hooks` and trust "
                     f"the {count} agent-sync hooks in {shown}; `agent-sync doctor` shows which are trusted.")
        return [trust, self.restart]

    def checks(self, root):
        return trust_checks(self, root)


class McpTable(engine.TextDoc):
    """The `[mcp_servers.agent-sync]` table, a marked block at the end of a config.toml."""

    def __init__(self, path: str, backups: engine.Backups, program: str = "agent-sync"):
        super().__init__(path, backups, table_block(program), "the [mcp_servers.agent-sync] table",
                         foreign=_foreign_table, validate=_valid_toml)

    def with_program(self, program: str) -> McpTable:
        return McpTable(self.path, self.backups, program)


def table_block(program: str) -> formats.Block:
    return formats.Block(mcp_table(program), "# ", "",
                         "- written by `agent-sync install --mcp`; `agent-sync uninstall --mcp` removes it")


INTEGRATION = Codex()


# -- trust ------------------------------------------------------------------------------------------------

def event_label(event: str) -> str:
    """`PreToolUse` -> `pre_tool_use`: the label in Codex's hook-state keys and trust hashes."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", event).lower()


def trusted_hash(event: str, matcher, handler: dict) -> str:
    """The `trusted_hash` Codex computes for one command hook: SHA-256 of the canonical JSON of the hook's
    normalized identity (event label, matcher, command, effective timeout, async, statusMessage)."""
    try:
        timeout = max(1, int(handler.get("timeout", handler.get("timeoutSec", 600))))
    except (TypeError, ValueError):
        timeout = 600
    if event in SHORT_TIMEOUT:
        timeout = min(timeout, SHORT_TIMEOUT[event])
    normalized = {"type": "command", "command": handler.get("command"), "timeout": timeout,
                  "async": bool(handler.get("async", False))}
    if handler.get("statusMessage") is not None:
        normalized["statusMessage"] = handler["statusMessage"]
    identity = {"event_name": event_label(event), "hooks": [normalized]}
    if matcher is not None:
        identity["matcher"] = matcher
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def hook_keys(path: str, data: dict, ours) -> list[tuple[str, str]]:
    """(hook-state key, expected trusted_hash) of each of our hooks in a hooks.json document."""
    out = []
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return out
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            continue
        for gi, group in enumerate(groups):
            if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
                continue
            for hi, handler in enumerate(group["hooks"]):
                if ours(handler):
                    key = f"{os.path.abspath(path)}:{event_label(event)}:{gi}:{hi}"
                    out.append((key, trusted_hash(event, group.get("matcher"), handler)))
    return out


def trust_checks(integ: Codex, root: str) -> list:
    import tomllib

    from agent_sync.install.doctor import Check

    config_path = os.path.join(codex_home(), "config.toml")
    shown_config = engine.display(config_path, root)
    try:
        with open(config_path, "rb") as fh:
            config = tomllib.load(fh)
    except FileNotFoundError:
        config = {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [Check("codex trust", "info", f"cannot read {shown_config} ({exc}); cannot tell which hooks Codex trusts")]
    state = config.get("hooks", {}).get("state", {}) if isinstance(config.get("hooks"), dict) else {}
    state = state if isinstance(state, dict) else {}
    checks = []
    for scope in integ.installed_scopes(root):
        path = integ.hooks_path(scope, root)
        shown = engine.display(path, root)
        try:
            _, data = integ.hooks_doc(scope, root).load(shown)
        except UsageError:
            continue
        problems = []
        if scope == "project":
            projects = config.get("projects") if isinstance(config.get("projects"), dict) else {}
            where = engine.tree(root)
            entry = next((v for k, v in projects.items() if isinstance(v, dict) and
                          os.path.realpath(k) == os.path.realpath(where)), None)
            if not entry or entry.get("trust_level") != "trusted":
                problems.append(f"this project is not trusted in {shown_config}, so Codex ignores {shown}")
        keys = hook_keys(path, data, integ.hooks.ours)
        untrusted = [k for k, h in keys if not isinstance(state.get(k), dict) or state[k].get("trusted_hash") != h]
        disabled = [k for k, _h in keys if isinstance(state.get(k), dict) and state[k].get("enabled") is False]
        if untrusted:
            problems.append(f"{len(untrusted)} of the {len(keys)} agent-sync hooks in {shown} are not trusted "
                            "(new, or changed since you trusted them), and Codex skips them silently")
        if disabled:
            problems.append(f"{len(disabled)} agent-sync hooks in {shown} are disabled in {shown_config}")
        if problems:
            fix = ("start `codex` in this repository, accept the trust prompt (or `codex exec --trust`), then trust "
                   "the agent-sync hooks in `/hooks`" if scope == "project" else
                   "open `codex`, run `/hooks` and trust the agent-sync hooks")
            checks.append(Check("codex trust", "FAIL", "; ".join(problems), fix))
        else:
            checks.append(Check("codex trust", "ok", f"all {len(keys)} agent-sync hooks in {shown} are trusted"))
    return checks
