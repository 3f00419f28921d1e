"""The file formats agent-sync writes into, each written once: reading a settings document, putting our entries
in, taking exactly them out again.

* `NestedHooks`: Claude Code's `{"hooks": {Event: [{"matcher", "hooks": [{"type", "command", "timeout"}]}]}}`,
  which Codex (`hooks.json`) and Gemini (`settings.json`) copy.
* `FlatHooks`: `{"version": 1, "hooks": {event: [{...handler}]}}`: Cursor (`command`) and Copilot CLI (`bash`).
* `McpServers`: an `mcpServers.agent-sync` entry in a JSON document.
* `Block`: a marked block of text appended to a text file (a section of AGENTS.md or GEMINI.md, a table of a
  TOML file), with a digest in its first line so an edited block is recognised and kept.

Every part finds our entries by their command (`... agent-sync hook ...`, `agent-sync mcp`), never by a key
of our own, so the files stay valid for their agents.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from agent_sync.errors import UsageError
from agent_sync.install.command import mcp_program, parse_hook


def event_key(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


# -- JSON documents ---------------------------------------------------------------------------------------

def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def finite(value) -> bool:
    """Numbers JSON can carry: Python reads 1e999 as inf, which would be written back as `Infinity`."""
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return True


_COMMENT_RE = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/', re.S)


def strip_comments(text: str) -> str:
    """JSONC: `//` and `/* */` comments outside strings removed (Cursor reads its hooks.json that way)."""
    return _COMMENT_RE.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)


def parse_json(raw: bytes | None, shown: str, *, comments: bool = False) -> dict:
    """A settings document as a dict ({} for an absent or empty file); UsageError, one line, for anything
    that cannot be written back faithfully."""
    if raw is None:
        return {}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{shown} is not UTF-8 text; fix or move it, then run this again") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        if comments and strip_comments(text) != text:
            raise UsageError(f"{shown} has comments, which agent-sync cannot write back; remove them "
                             "(or add agent-sync's entries by hand), then run this again") from None
        raise UsageError(f"{shown} is not valid JSON ({exc}); fix it, then run this again") from None
    if not isinstance(data, dict):
        raise UsageError(f"{shown} does not hold a JSON object; fix it, then run this again")
    if not finite(data):
        raise UsageError(f"{shown} has a number too large for JSON to write back; fix it, then run this again")
    return data


def dump_json(data: dict) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


CONTAINERS = ("hooks", "mcpServers")


def canonical(data, lenient: bool = False) -> str:
    """A comparable form: key order ignored; with lenient, empty event lists and empty containers too."""
    if lenient and isinstance(data, dict):
        data = dict(data)
        if isinstance(data.get("hooks"), dict):
            data["hooks"] = {k: v for k, v in data["hooks"].items() if v != []}
        for key in CONTAINERS:
            if data.get(key) == {}:
                del data[key]
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


@dataclass
class Merge:
    """What merging our entries did: the new document, how many entries were added and updated, and why a
    name we need was left alone (`kept`)."""
    data: dict
    added: int = 0
    updated: int = 0
    kept: str = ""


# -- hooks ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HookSpec:
    """One hook to install: the event as the agent's config names it, the `agent-sync hook` argument, the
    tool matcher (None: every tool / not a tool event) and the timeout in the agent's unit."""
    event: str
    arg: str
    matcher: str | None
    timeout: int


_NAMES_RE = re.compile(r"[A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)*")


def same_matcher(have, want: str) -> bool:
    """Equal matchers; a plain list of names equals the same names in another order (an earlier install's)."""
    if have == want:
        return True
    if isinstance(have, str) and _NAMES_RE.fullmatch(have) and _NAMES_RE.fullmatch(want):
        return set(have.split("|")) == set(want.split("|"))
    return False


def hook_text(program: str, agent: str, arg: str) -> str:
    """`PROGRAM hook EVENT` for Claude Code (its original form), `PROGRAM hook --agent NAME EVENT` for others."""
    return f"{program} hook {arg}" if agent == "claude" else f"{program} hook --agent {agent} {arg}"


class Hooks:
    """What both hook formats share: our specs, and how a command is recognised as one of ours."""

    noun = "hook"

    def __init__(self, agent: str, specs: list[HookSpec], handler: Callable[[str, HookSpec], dict]):
        self.agent, self.specs, self.handler = agent, list(specs), handler
        self._by_event = {spec.event: spec for spec in self.specs}

    def command_of(self, handler) -> str | None:
        value = handler.get("command") if isinstance(handler, dict) else None
        return value if isinstance(value, str) else None

    def ours(self, handler, spec: HookSpec | None = None) -> bool:
        """One of our handlers (for `spec`'s event when given)."""
        parsed = parse_hook(self.command_of(handler))
        if not parsed or parsed[0] != self.agent:
            return False
        return spec is None or event_key(parsed[1]) in (event_key(spec.arg), event_key(spec.event))

    def commands(self, data: dict) -> list[tuple[str, str, object]]:
        """(event, command, matcher) of every one of our handlers in a document."""
        raise NotImplementedError

    def count(self, data: dict) -> int:
        return len(self.commands(data))

    def validate(self, data: dict, shown: str) -> None:
        hooks = data.get("hooks")
        if hooks is not None and not isinstance(hooks, dict):
            raise UsageError(f'"hooks" in {shown} is not an object; fix it, then run this again')
        for spec in self.specs:
            if isinstance(hooks, dict) and spec.event in hooks and not isinstance(hooks[spec.event], list):
                raise UsageError(f'"hooks.{spec.event}" in {shown} is not a list; fix it, then run this again')


def _remove_identical(items: list, item) -> None:
    for i, candidate in enumerate(items):
        if candidate is item:
            del items[i]
            return


class NestedHooks(Hooks):
    """`{"hooks": {Event: [{"matcher": M, "hooks": [handler, ...]}]}}` (Claude Code, Codex, Gemini)."""

    def _group(self, cmd: str, spec: HookSpec) -> dict:
        group: dict = {}
        if spec.matcher is not None:
            group["matcher"] = spec.matcher
        group["hooks"] = [self.handler(cmd, spec)]
        return group

    @staticmethod
    def _matcher_ok(group: dict, matcher: str | None) -> bool:
        if matcher is None:
            return group.get("matcher") in (None, "", "*")
        return same_matcher(group.get("matcher"), matcher)

    @staticmethod
    def _groups(groups):
        return [g for g in groups if isinstance(g, dict) and isinstance(g.get("hooks"), list)] \
            if isinstance(groups, list) else []

    def commands(self, data: dict) -> list[tuple[str, str, object]]:
        hooks = data.get("hooks")
        if not isinstance(hooks, dict):
            return []
        return [(event, self.command_of(h), group.get("matcher")) for event, groups in hooks.items()
                for group in self._groups(groups) for h in group["hooks"] if self.ours(h)]

    def merge(self, settings: dict, cmd: str) -> Merge:
        """Our handlers present and current; everything else, including the order of entries, as it was."""
        data = copy.deepcopy(settings)
        if data.get("hooks") is None:
            data["hooks"] = {}
        hooks = data["hooks"]
        added = updated = 0
        for spec in self.specs:
            groups = hooks.setdefault(spec.event, [])
            want = self.handler(cmd, spec)
            found = [(group, handler) for group in self._groups(groups) for handler in group["hooks"]
                     if self.ours(handler, spec)]
            if not found:
                groups.append(self._group(cmd, spec))
                added += 1
                continue
            changed = False
            group, handler = found[0]
            for key, value in want.items():
                if handler.get(key) != value:
                    handler[key] = value
                    changed = True
            if not self._matcher_ok(group, spec.matcher):
                if all(self.ours(h, spec) for h in group["hooks"]):
                    if spec.matcher is None:
                        group.pop("matcher", None)
                    else:
                        group["matcher"] = spec.matcher
                else:  # our handler shares a group whose matcher is not ours: give it a group of its own
                    _remove_identical(group["hooks"], handler)
                    groups.append(self._group(cmd, spec))
                changed = True
            for dup_group, dup in found[1:]:  # the same handler twice: keep one
                _remove_identical(dup_group["hooks"], dup)
                if not dup_group["hooks"]:
                    _remove_identical(groups, dup_group)
                changed = True
            updated += changed
        stale = self._strip(data, keep=True)  # ours under an event we no longer install
        return Merge(data, added, updated + stale)

    def _strip(self, data: dict, keep: bool = False) -> int:
        """Remove our handlers in place: all of them, or (keep) those that are not where a spec puts them."""
        hooks = data.get("hooks")
        if not isinstance(hooks, dict):
            return 0
        removed = 0
        for event in list(hooks):
            groups = hooks[event]
            if not isinstance(groups, list):
                continue
            spec = self._by_event.get(event) if keep else None
            kept = []
            for group in groups:
                if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                    rest = [h for h in group["hooks"] if not self.ours(h) or (spec and self.ours(h, spec))]
                    if len(rest) != len(group["hooks"]):
                        removed += len(group["hooks"]) - len(rest)
                        if not rest:
                            continue
                        group["hooks"] = rest
                kept.append(group)
            if len(kept) != len(groups):
                if kept:
                    hooks[event] = kept
                else:
                    del hooks[event]
        if removed and not hooks:
            del data["hooks"]
        return removed

    def strip(self, settings: dict) -> tuple[dict, int]:
        """The document without our handlers (and without groups, event lists or a hooks object only they filled)."""
        data = copy.deepcopy(settings)
        return data, self._strip(data)


class FlatHooks(Hooks):
    """`{"version": 1, "hooks": {event: [handler, ...]}}`: one flat handler object per hook (Cursor, Copilot CLI).
    `command_key` names the handler's command field (`command`, or Copilot's `bash`)."""

    def __init__(self, agent: str, specs: list[HookSpec], handler, command_key: str = "command"):
        super().__init__(agent, specs, handler)
        self.command_key = command_key

    def command_of(self, handler) -> str | None:
        if not isinstance(handler, dict):
            return None
        for key in (self.command_key, "command"):
            if isinstance(handler.get(key), str):
                return handler[key]
        return None

    def commands(self, data: dict) -> list[tuple[str, str, object]]:
        hooks = data.get("hooks")
        if not isinstance(hooks, dict):
            return []
        return [(event, self.command_of(h), h.get("matcher")) for event, handlers in hooks.items()
                if isinstance(handlers, list) for h in handlers if self.ours(h)]

    def merge(self, settings: dict, cmd: str) -> Merge:
        data = copy.deepcopy(settings)
        if "version" not in data:
            data["version"] = 1
        if data.get("hooks") is None:
            data["hooks"] = {}
        hooks = data["hooks"]
        added = updated = 0
        for spec in self.specs:
            handlers = hooks.setdefault(spec.event, [])
            want = self.handler(cmd, spec)
            found = [h for h in handlers if self.ours(h, spec)]
            if not found:
                handlers.append(want)
                added += 1
                continue
            handler, changed = found[0], False
            for key, value in want.items():
                if key == "matcher" and same_matcher(handler.get(key), value):
                    continue
                if handler.get(key) != value:
                    handler[key] = value
                    changed = True
            if "matcher" not in want and handler.get("matcher") not in (None, "", "*"):
                del handler["matcher"]
                changed = True
            for dup in found[1:]:
                _remove_identical(handlers, dup)
                changed = True
            updated += changed
        stale = 0
        for event in list(hooks):
            if event in self._by_event or not isinstance(hooks[event], list):
                continue
            rest = [h for h in hooks[event] if not self.ours(h)]
            stale += len(hooks[event]) - len(rest)
            if len(rest) != len(hooks[event]):
                if rest:
                    hooks[event] = rest
                else:
                    del hooks[event]
        return Merge(data, added, updated + stale)

    def strip(self, settings: dict) -> tuple[dict, int]:
        data = copy.deepcopy(settings)
        hooks = data.get("hooks")
        if not isinstance(hooks, dict):
            return data, 0
        removed = 0
        for event in list(hooks):
            handlers = hooks[event]
            if not isinstance(handlers, list):
                continue
            rest = [h for h in handlers if not self.ours(h)]
            if len(rest) != len(handlers):
                removed += len(handlers) - len(rest)
                if rest:
                    hooks[event] = rest
                else:
                    del hooks[event]
        if removed and not hooks:
            del data["hooks"]
        return data, removed


# -- MCP server entries -----------------------------------------------------------------------------------

class McpServers:
    """`{"mcpServers": {"agent-sync": {"command": ..., "args": [..., "mcp"]}}}` in a JSON document."""

    noun = "MCP server entry"
    NAME = "agent-sync"

    def __init__(self, entry: Callable[[str], dict]):
        self.entry = entry  # program -> the entry's JSON object

    def _servers(self, data: dict, shown: str = "the file"):
        servers = data.get("mcpServers")
        if servers is not None and not isinstance(servers, dict):
            raise UsageError(f'"mcpServers" in {shown} is not an object; fix it, then run this again')
        return servers

    def validate(self, data: dict, shown: str) -> None:
        self._servers(data, shown)

    def count(self, data: dict) -> int:
        servers = data.get("mcpServers")
        return int(isinstance(servers, dict) and mcp_program(servers.get(self.NAME)) is not None)

    def commands(self, data: dict) -> list[list[str]]:
        servers = data.get("mcpServers")
        program = mcp_program(servers.get(self.NAME)) if isinstance(servers, dict) else None
        return [program] if program else []

    def merge(self, settings: dict, program: str) -> Merge:
        data = copy.deepcopy(settings)
        if data.get("mcpServers") is None:
            data["mcpServers"] = {}
        servers = data["mcpServers"]
        want = self.entry(program)
        current = servers.get(self.NAME)
        if current is None:
            servers[self.NAME] = want
            return Merge(data, added=1)
        if mcp_program(current) is None:
            if not settings.get("mcpServers"):
                del data["mcpServers"]
            return Merge(data, kept=f'its own "{self.NAME}" MCP server, which agent-sync leaves alone')
        changed = False
        for key, value in want.items():
            if current.get(key) != value:
                current[key] = value
                changed = True
        return Merge(data, updated=int(changed))

    def strip(self, settings: dict) -> tuple[dict, int]:
        data = copy.deepcopy(settings)
        servers = data.get("mcpServers")
        if not isinstance(servers, dict) or mcp_program(servers.get(self.NAME)) is None:
            return data, 0
        del servers[self.NAME]
        if not servers:
            del data["mcpServers"]
        return data, 1


def stdio_entry(program: str) -> dict:
    """The plain stdio entry (Claude Code's .mcp.json, Gemini, Cursor)."""
    from agent_sync.install.command import mcp_command

    command, args = mcp_command(program)
    return {"command": command, "args": args}


# -- marked text blocks -----------------------------------------------------------------------------------

def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Block:
    """A block of text between two marker lines, in a file others write too. `opening`/`closing` wrap a marker
    in the file's comment syntax (`<!-- ... -->`, `# ...`). The first line carries the digest of the body
    written, so uninstall tells our unedited block (removed) from an edited one (kept)."""

    def __init__(self, body: str, opening: str, closing: str, note: str):
        self.body = body if body.endswith("\n") else body + "\n"
        self.opening, self.closing, self.note = opening, closing, note
        o, c = re.escape(opening), re.escape(closing)
        self._re = re.compile(rf"^{o}agent-sync:begin sha256:([0-9a-f]{{12,64}})\b[^\n]*\n(.*?)^{o}agent-sync:end"
                              rf"{c}[ \t]*(?:\n|\Z)", re.M | re.S)

    def text(self) -> str:
        head = f"{self.opening}agent-sync:begin sha256:{digest(self.body)} {self.note}{self.closing}\n"
        return f"{head}{self.body}{self.opening}agent-sync:end{self.closing}\n"

    def find(self, text: str) -> tuple[int, int, str] | None:
        """(start, end, state) of our block: state is current | ours (unedited, maybe an older version) | edited."""
        match = self._re.search(text)
        if not match:
            return None
        if match.group(0) == self.text() or match.group(0) + "\n" == self.text():
            state = "current"
        else:
            state = "ours" if digest(match.group(2)).startswith(match.group(1)) else "edited"
        return match.start(), match.end(), state


def append_block(text: str, block: str) -> tuple[str, str]:
    """(new text, the separator put before the block): a blank line after existing text."""
    if not text:
        return block, ""
    sep = "\n" if text.endswith("\n") else "\n\n"
    return text + sep + block, sep


def remove_block(text: str, start: int, end: int, sep: str | None) -> str:
    """The text without the block at [start, end) and the separator install put before it."""
    before, after = text[:start], text[end:]
    if sep and before.endswith(sep) and not after:
        before = before[:-len(sep)]
    elif before.endswith("\n\n") and not after:
        before = before[:-1]
    return before + after
