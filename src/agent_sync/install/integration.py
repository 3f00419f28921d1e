"""What an agent integration declares, and the one way every integration is installed and uninstalled.

An integration (`install.claude`, `install.codex`, ...) declares: its hooks file per scope and that file's
format (the hooks themselves come from the adapter's `EVENTS` table in `agents/<name>.py`), its instructions
file, where its MCP server entry goes, the notes a user needs after installing (restart, trust), how to tell
that the agent is present, and its own doctor checks. `plan_install` / `plan_uninstall` turn that into changes
of a `Plan`, with the same guarantees for every agent.
"""

from __future__ import annotations

import os
import shutil

from agent_sync.errors import UsageError
from agent_sync.install import command, engine, formats

NAMES = ("claude", "codex", "gemini", "cursor", "copilot")


def load(name: str) -> Integration:
    import sys

    if name not in NAMES:
        raise UsageError(f"unknown agent {name!r}: use {', '.join(NAMES)} or all")
    module = f"agent_sync.install.{name}"
    __import__(module)
    return sys.modules[module].INTEGRATION


def every() -> list[Integration]:
    return [load(name) for name in NAMES]


class Integration:
    name = ""
    scopes: tuple[str, ...] = ("project", "user")
    config_dir = ""  # the agent's directory in a repository and in the home directory (".codex")
    repo_markers: tuple[str, ...] = ()  # what in a repository shows the agent is used there (default: config_dir)
    binaries: tuple[str, ...] = ()  # its programs, for --agent all
    restart = ""  # how the agent picks up new hooks
    tool_event = ""  # the pre-tool event whose matcher doctor checks
    jsonc = False  # the agent reads its JSON files with comments allowed

    # -- declared by each integration -------------------------------------------------------------------

    def adapter(self):
        from agent_sync import agents

        return agents.load(self.name)

    def spec(self, arg: str, event: str, matcher: str | None) -> formats.HookSpec:
        return formats.HookSpec(event, arg, matcher, 10)

    def hooks_format(self, specs: list[formats.HookSpec]):
        raise NotImplementedError

    def hooks_path(self, scope: str, root: str) -> str:
        raise NotImplementedError

    def user_dir(self) -> str:
        return os.path.join(engine.home(), self.config_dir)

    def instructions(self, scope: str, root: str) -> engine.TextDoc | None:
        return None

    def mcp(self, scope: str, root: str) -> tuple[object, object] | None:
        """(doc, part) of the MCP server entry for a scope: a JsonDoc with an McpServers part, or a TextDoc."""
        return None

    def mcp_hint(self, scope: str, program: str) -> str:
        return f"{self.title} has no {scope}-scope MCP file agent-sync writes"

    def notes(self, scope: str, root: str) -> list[str]:
        return [self.restart] if self.restart else []

    def extra_sources(self, root: str) -> list[tuple[str, dict]]:
        """Hooks the agent loads from elsewhere than its settings files (a plugin): (where, hooks document)."""
        return []

    def hook_path(self) -> tuple[str | None, str]:
        """(the PATH the agent's hooks run with, what to call it): None for the installer's own PATH."""
        return None, "PATH"

    def checks(self, root: str) -> list:
        """Agent-specific doctor checks (trust, duplicate hooks)."""
        return []

    # -- derived ----------------------------------------------------------------------------------------

    @property
    def title(self) -> str:
        return self.adapter().TITLE

    @property
    def events(self):
        return self.adapter().EVENTS

    @property
    def hooks(self):
        cached = self.__dict__.get("_hooks")
        if cached is None:
            specs = [self.spec(arg, event, matcher) for arg, event, _kind, _inject, matcher in self.events]
            cached = self.__dict__["_hooks"] = self.hooks_format(specs)
        return cached

    def check_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise UsageError(f"{self.title} has no {scope} scope; use --scope " + " or ".join(self.scopes))

    def backups(self, scope: str, root: str) -> engine.Backups:
        if scope == "user":
            return engine.Backups(os.path.join(self.user_dir(), "agent-sync-install"), None)
        import hashlib

        from agent_sync import paths

        base = os.path.join(paths.state_dir(root), "install")
        where = engine.tree(root)
        if where != root:  # each linked worktree has its own config files, so its own undo record
            base = os.path.join(base, "worktree-" + hashlib.sha256(
                where.encode("utf-8", "surrogateescape")).hexdigest()[:12])
        return engine.Backups(base, root)

    def hooks_doc(self, scope: str, root: str) -> engine.JsonDoc:
        path = self.hooks_path(scope, root)
        parts = [self.hooks]
        target = self.mcp(scope, root)
        if target and isinstance(target[0], engine.JsonDoc) and target[0].path == path:
            parts.append(target[1])
        return engine.JsonDoc(path, self.backups(scope, root), parts, comments=self.jsonc)

    def installed(self, scope: str, root: str) -> bool:
        """Our hooks are in this scope's file (read from the file itself, not from a record)."""
        if scope not in self.scopes:
            return False
        doc = self.hooks_doc(scope, root)
        try:
            _, data = doc.load(doc.path)
        except UsageError:
            return False
        return self.hooks.count(data) > 0

    def installed_scopes(self, root: str) -> list[str]:
        seen, out = set(), []
        for scope in self.scopes:
            real = os.path.realpath(self.hooks_path(scope, root))
            if real not in seen and self.installed(scope, root):
                out.append(scope)
            seen.add(real)
        return out

    def detect(self, root: str) -> str:
        """Why this agent looks present: its config in the repository or the home directory, or its program on
        PATH; "" when it does not."""
        where = engine.tree(root)
        for marker in self.repo_markers or (self.config_dir,):
            if os.path.exists(os.path.join(where, marker)):
                return f"{marker} in the repository"
        if self.user_dir() and os.path.isdir(self.user_dir()):
            return engine.display(self.user_dir(), root)
        for binary in self.binaries:
            if shutil.which(binary):
                return f"`{binary}` on PATH"
        return ""


# -- install and uninstall, for every integration alike ---------------------------------------------------

def program_for(plan: engine.Plan, integ: Integration, scope: str, existing: list[str], shown: str) -> str:
    """The agent-sync program a scope's file names: portable for committed (project) files, absolute for
    files that stay on this machine."""
    if scope != "project":
        return command.absolute_command()
    path, where = integ.hook_path()
    program = command.hook_command(existing, path)
    why = command.portability(path, where)
    if program != command.PROGRAM:
        plan.note(f"{shown} is committed, but its hooks start agent-sync as {program}, which only this machine "
                  f"has: {why.why}. For hooks that work in every checkout, {why.fix}")
    elif not why.ok:
        plan.note(f"{shown} keeps its portable `agent-sync hook ...` commands, but here {why.why}; {why.fix}")
    return program


def _same_file_mcp(integ: Integration, scope: str, root: str, path: str):
    """The MCP part when the agent keeps its MCP entry in the hooks file (Gemini's settings.json), else None."""
    target = integ.mcp(scope, root)
    if target and isinstance(target[0], engine.JsonDoc) and os.path.realpath(target[0].path) == os.path.realpath(path):
        return target[1]
    return None


def plan_install(plan: engine.Plan, integ: Integration, scope: str, root: str, with_mcp: bool) -> None:
    plan.agent = integ.name
    doc = integ.hooks_doc(scope, root)
    shown = engine.display(doc.path, root)
    _, current = doc.load(shown)
    existing = [c for _e, c, _m in integ.hooks.commands(current)]
    program = program_for(plan, integ, scope, existing, shown)
    plan.programs[integ.name] = program
    parts = [integ.hooks]
    inline = _same_file_mcp(integ, scope, root, doc.path)
    if with_mcp and inline is not None:
        parts.append(inline)
    engine.plan_json_install(plan, doc, parts, program, f"all {len(integ.hooks.specs)} agent-sync hooks present"
                             + (" and the MCP server entry" if len(parts) > 1 else ""))
    instructions = integ.instructions(scope, root)
    if instructions is not None:
        if isinstance(instructions, engine.TextDoc):
            engine.plan_block_install(plan, instructions)
        else:
            instructions.install(plan)
    if with_mcp and inline is None:
        plan_mcp(plan, integ, scope, root, program, install=True)
    for note in integ.notes(scope, root):
        plan.note(note)


def plan_mcp(plan: engine.Plan, integ: Integration, scope: str, root: str, program: str, install: bool,
             keep: str = "") -> None:
    target = integ.mcp(scope, root)
    if target is None:
        if install:
            plan.note(integ.mcp_hint(scope, program))
        return
    doc, part = target
    if isinstance(doc, engine.TextDoc):
        if install:
            engine.plan_block_install(plan, doc.with_program(program) if hasattr(doc, "with_program") else doc)
        else:
            engine.plan_block_uninstall(plan, doc, keep)
        return
    if install:
        engine.plan_json_install(plan, doc, [part], program, "the agent-sync MCP server entry")
    elif keep:
        plan.add("kept", doc.path, f"the agent-sync MCP server entry is still used by {keep}")
    else:
        engine.plan_json_uninstall(plan, doc, [part], "no agent-sync MCP server entry")


def users(path: str, kind: str, root: str, leaving: set[tuple[str, str]]) -> list[str]:
    """Who else needs a shared file agent-sync wrote (an AGENTS.md section, a .mcp.json entry): every other
    integration and scope whose hooks are installed and that uses the same file."""
    found = []
    for other in every():
        for scope in other.scopes:
            if (other.name, scope) in leaving:
                continue
            try:
                target = other.instructions(scope, root) if kind == "instructions" else other.mcp(scope, root)
            except UsageError:
                continue
            if target is None:
                continue
            other_path = target.path if kind == "instructions" else target[0].path
            if os.path.realpath(other_path) == os.path.realpath(path) and other.installed(scope, root):
                label = f"{other.title} ({engine.display(other.hooks_path(scope, root), root)})"
                if label not in found:
                    found.append(label)
    return found


def plan_uninstall(plan: engine.Plan, integ: Integration, scope: str, root: str, with_mcp: bool,
                   leaving: set[tuple[str, str]]) -> None:
    plan.agent = integ.name
    doc = integ.hooks_doc(scope, root)
    inline = _same_file_mcp(integ, scope, root, doc.path)
    parts = [integ.hooks] + ([inline] if with_mcp and inline is not None else [])
    engine.plan_json_uninstall(plan, doc, parts, "no agent-sync hooks")
    instructions = integ.instructions(scope, root)
    if instructions is not None:
        if isinstance(instructions, engine.TextDoc):
            others = users(instructions.path, "instructions", root, leaving)
            engine.plan_block_uninstall(plan, instructions, ", ".join(others))
        else:
            instructions.uninstall(plan, leaving)
    target = integ.mcp(scope, root)
    if with_mcp and inline is None:
        keep = ", ".join(users(target[0].path, "mcp", root, leaving)) if target is not None else ""
        plan_mcp(plan, integ, scope, root, "", install=False, keep=keep)
    elif not with_mcp and target is not None and mcp_present(target):
        plan.note(f"the agent-sync MCP server entry stays in {engine.display(target[0].path, root)} "
                  f"(agent-sync uninstall --mcp{agent_flag(integ)} removes it)")


def agent_flag(integ: Integration) -> str:
    return "" if integ.name == "claude" else f" --agent {integ.name}"


def mcp_present(target) -> bool:
    doc, part = target
    if isinstance(doc, engine.TextDoc):
        return doc.state() != "absent"
    try:
        _, data = doc.load(doc.path)
    except UsageError:
        return False
    return part.count(data) > 0
