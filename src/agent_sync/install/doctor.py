"""`agent-sync doctor`: the whole chain, for every installed agent: the database and state dir, the hooks for
every event the agent's adapter declares (and a tool matcher that lets no guarded tool through), hook commands
that really start this agent-sync and its adapter, the instructions, the agent's own gates (Codex's hook
trust, Gemini's folder trust, duplicate hooks), and the git guard. Returns checks; the CLI prints them."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from agent_sync import paths
from agent_sync.errors import UsageError
from agent_sync.install import command, engine, formats, gitguard
from agent_sync.install.integration import Integration, agent_flag, mcp_present

VERSION_TIMEOUT = 15.0
PROBE_EVENT = "agent-sync-doctor-probe"


@dataclass
class Check:
    name: str
    status: str  # ok | FAIL | warn | info | skip
    detail: str
    fix: str = ""
    agent: str = ""

    def text(self) -> str:
        line = f"{self.status:<5} {self.name}: {self.detail}"
        return f"{line}; fix: {self.fix}" if self.fix else line


def matcher_covers(matcher, tool: str) -> bool:
    if matcher in (None, "", "*"):
        return True
    if not isinstance(matcher, str):
        return False
    if re.fullmatch(r"[A-Za-z0-9_,| -]+", matcher):
        return tool in {part.strip() for part in re.split(r"[|,]", matcher)}
    try:
        return re.search(matcher, tool) is not None
    except re.error:
        return False


def matcher_tools(matcher: str | None) -> list[str]:
    """The tool names a declared matcher lists (`^(a|b)$` -> [a, b])."""
    if not matcher:
        return []
    inner = matcher.strip().removeprefix("^").removesuffix("$").removeprefix("(").removesuffix(")")
    return [t for t in (p.strip() for p in re.split(r"[|,]", inner)) if re.fullmatch(r"[A-Za-z0-9_:.-]+", t)]


def _label(integ: Integration, name: str) -> str:
    return name if integ.name == "claude" else f"{integ.name} {name}"


# -- common checks ----------------------------------------------------------------------------------------

def check_database(root: str) -> list[Check]:
    """The database opens, has a schema we know, and passes the store's integrity check."""
    from agent_sync.core.context import open_context

    try:
        with open_context(cwd=root) as ctx:
            version = ctx.store.schema_version()
            where = ctx.store.where
            damage = ctx.store.check()
    except Exception as exc:  # any failure is the finding
        return [Check("database", "FAIL", f"{exc}",
                      "follow the message above; `agent-sync init` creates a missing database")]
    shown = engine.display(where, root) if os.path.isabs(where) else where
    if damage:
        return [Check("database", "FAIL", damage, "move the damaged file aside; agent-sync starts a new one")]
    return [Check("database", "ok", f"{shown} opens and is intact (schema {version})")]


HOOK_ERRORS = "hook-errors.log"
RECENT_HOOK_ERRORS = 5
RECENT_HOURS = 24


def check_hook_errors(root: str) -> list[Check]:
    """Hooks fail open on our own faults and log them: recent entries mean an agent may have gone unguarded."""
    log = os.path.join(paths.state_dir(root), HOOK_ERRORS)
    try:
        with open(log, encoding="utf-8", errors="replace") as fh:
            lines = [line.rstrip("\n") for line in fh if line.strip()]
    except FileNotFoundError:
        return [Check("hook errors", "ok", "none logged")]
    except OSError as exc:
        return [Check("hook errors", "FAIL", f"cannot read {engine.display(log, root)}: {exc.strerror or exc}")]
    import time

    from agent_sync.text import clean

    shown = engine.display(log, root)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - RECENT_HOURS * 3600))
    recent = [line for line in lines if line[:20] >= since]  # entries start with their UTC time
    if not recent:
        return [Check("hook errors", "info" if lines else "ok",
                      f"{len(lines)} older than {RECENT_HOURS} h in {shown}" if lines else "none logged")]
    latest = "; ".join(clean(line, 200, one_line=True) for line in recent[-RECENT_HOOK_ERRORS:])
    return [Check("hook errors", "FAIL",
                  f"{len(recent)} in the last {RECENT_HOURS} h in {shown} (hooks let those calls through); "
                  f"latest: {latest}", f"fix what they say, then delete {shown}")]


def check_state_dir(root: str) -> list[Check]:
    ignore = os.path.join(paths.state_dir(root), ".gitignore")
    shown = engine.display(ignore, root)
    try:
        with open(ignore, encoding="utf-8") as fh:
            lines = [line.strip() for line in fh]
    except OSError:
        return [Check("state dir", "FAIL", f"{shown} is missing: the state could be committed",
                      "run `agent-sync init` (it writes the .gitignore)")]
    if "*" not in lines:
        return [Check("state dir", "FAIL", f"{shown} does not ignore everything (`*`)", f"add a line `*` to {shown}")]
    return [Check("state dir", "ok", f"{shown} keeps the state out of git")]


def check_git_guard(root: str) -> list[Check]:
    try:
        hooks_dir = gitguard.git_hooks_dir(root)
    except UsageError:
        return [Check("git guard", "info", "not a git repository")]
    hook = os.path.join(hooks_dir, "pre-commit")
    shown = engine.display(hook, root)
    if gitguard.is_git_guard(hook):
        chained = os.path.lexists(hook + gitguard.CHAINED_SUFFIX)
        if not os.access(hook, os.X_OK):
            return [Check("git guard", "info", f"{shown} is not executable, git skips it (agent-sync install --git-hook)")]
        return [Check("git guard", "info", f"installed in {shown}" + (" (chains your earlier hook)" if chained else ""))]
    if os.path.lexists(hook):
        return [Check("git guard", "info", f"not installed; {shown} is another hook (agent-sync install --git-hook chains it)")]
    return [Check("git guard", "info", "not installed (optional: agent-sync install --git-hook)")]


# -- per agent --------------------------------------------------------------------------------------------

def _files(integ: Integration, root: str) -> list[tuple[str, str]]:
    out, seen = [], set()
    for scope in integ.scopes:
        path = integ.hooks_path(scope, root)
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append((scope, path))
    return out


def check_hooks(integ: Integration, root: str) -> tuple[list[Check], dict[tuple[str, ...], list[tuple[str, str]]]]:
    """Hook checks, and every agent-sync program the agent's files start (hooks and the MCP server entry),
    with the (scope, file) of each use."""
    checks: list[Check] = []
    programs: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    specs = integ.hooks.specs
    covered: dict[str, list[str]] = {spec.event: [] for spec in specs}
    keys = {spec.event: {formats.event_key(spec.arg), formats.event_key(spec.event)} for spec in specs}
    tool_spec = next((s for s in specs if s.event == integ.tool_event), None)
    guarded = matcher_tools(tool_spec.matcher) if tool_spec else []
    tools_seen: set[str] = set()
    flag = agent_flag(integ)

    def use(program, scope, shown):
        uses = programs.setdefault(tuple(program), [])
        if (scope, shown) not in uses:
            uses.append((scope, shown))

    sources = []
    for scope, path in _files(integ, root):
        shown = engine.display(path, root)
        try:
            sources.append((scope, shown, integ.hooks_doc(scope, root).load(shown)[1]))
        except UsageError as exc:
            checks.append(Check(_label(integ, "settings"), "FAIL", str(exc), f"repair {shown} (it must be a JSON object)",
                                integ.name))
            continue
        target = integ.mcp(scope, root)
        if target is not None and not isinstance(target[0], engine.TextDoc) and mcp_present(target):
            try:
                _, mcp_data = target[0].load(target[0].path)
                for program in target[1].commands(mcp_data):
                    use(program, scope, engine.display(target[0].path, root))
            except UsageError:
                pass
    sources += [("plugin", label, data) for label, data in integ.extra_sources(root)]
    for scope, shown, data in sources:
        for event, cmd, matcher in integ.hooks.commands(data):
            use(command.command_program(cmd) or [cmd], scope, shown)
            parsed = command.parse_hook(cmd)
            if event in covered and parsed and formats.event_key(parsed[1]) in keys[event]:
                if shown not in covered[event]:
                    covered[event].append(shown)
                if tool_spec and event == tool_spec.event:
                    tools_seen.update(t for t in guarded if matcher_covers(matcher, t))
    missing = [event for event, where in covered.items() if not where]
    name = _label(integ, "hooks")
    if missing:
        have = len(specs) - len(missing)
        checks.append(Check(name, "FAIL", f"{have}/{len(specs)} events have an agent-sync hook; missing "
                            + ", ".join(missing), f"run `agent-sync install{flag}` (add --scope "
                            + " or ".join(s for s in integ.scopes if s != "project") + " if you prefer)", integ.name))
    else:
        files = sorted({f for where in covered.values() for f in where})
        unguarded = [t for t in guarded if t not in tools_seen]
        if unguarded:
            checks.append(Check(name, "FAIL", f"the {integ.tool_event} matcher lets " + ", ".join(unguarded)
                                + " through unchecked", f"run `agent-sync install{flag}` to reset the matcher",
                                integ.name))
        else:
            checks.append(Check(name, "ok", f"all {len(specs)} events in " + ", ".join(files), agent=integ.name))
    return checks, programs


class _Runs:
    """Each distinct program is started once per doctor run, whichever agents use it."""

    def __init__(self):
        self.cache: dict[tuple, tuple] = {}

    def run(self, argv: list[str], root: str):
        key = tuple(argv)
        if key not in self.cache:
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT,
                                      stdin=subprocess.DEVNULL, cwd=root)
                self.cache[key] = ("done", proc.returncode, (proc.stdout + proc.stderr).strip())
            except subprocess.TimeoutExpired:
                self.cache[key] = ("timeout", None, "")
            except OSError as exc:
                self.cache[key] = ("error", None, exc.strerror or str(exc))
        return self.cache[key]


def check_commands(integ: Integration, root: str, programs: dict[tuple[str, ...], list[tuple[str, str]]],
                   runs: _Runs) -> list[Check]:
    name = _label(integ, "hook command")
    if not programs:
        return [Check(name, "skip", "no agent-sync hook commands installed", agent=integ.name)]
    checks = []
    flag = agent_flag(integ)
    for program, uses in programs.items():
        shown = shlex.join(program)
        scope_list = sorted({s for s, _ in uses}, key=lambda s: integ.scopes.index(s) if s in integ.scopes else 9)
        scope_flag = "" if scope_list[0] in ("project", "plugin") else f" --scope {scope_list[0]}"
        rewrite = (f"run `agent-sync install{flag}{scope_flag}` with the agent-sync the hooks should use, to "
                   "rewrite the command path")
        if scope_list == ["plugin"]:
            rewrite = "install agent-sync so that `agent-sync` is on PATH (pipx install . / uv tool install .)"
        where = "used by " + ", ".join(dict.fromkeys(f for _, f in uses))

        def fail(detail, fix=rewrite, where=where):
            checks.append(Check(name, "FAIL", f"{detail} ({where})", fix, integ.name))

        exe = program[0]
        path, path_name = integ.hook_path()
        found = exe if os.path.isabs(exe) else shutil.which(exe, path=path)
        if not found:
            fail(f"{exe} is not an absolute path and not on {path_name}",
                 "install agent-sync so that `agent-sync` is on PATH (pipx install . / uv tool install .), or "
                 + rewrite)
            continue
        if not os.path.exists(found):
            fail(f"{found} does not exist")
            continue
        if not (os.path.isfile(found) and os.access(found, os.X_OK)):
            fail(f"{found} is not an executable file")
            continue
        state, code, output = runs.run([*program, "--version"], root)
        if state == "timeout":
            fail(f"`{shown} --version` took over {VERSION_TIMEOUT:g}s",
                 f"check that interpreter; {integ.title} gives up on a slow hook and then nothing is checked")
            continue
        if state == "error":
            fail(f"`{shown} --version` cannot start: {output}")
            continue
        if code != 0 or "agent-sync" not in output:
            last = output.splitlines()[-1] if output else f"exit {code}"
            fail(f"`{shown} --version` failed: {last}", f"reinstall agent-sync into that interpreter, or {rewrite}")
            continue
        version = output.splitlines()[0]
        probe = [*program, "hook", PROBE_EVENT] if integ.name == "claude" else \
            [*program, "hook", "--agent", integ.name, PROBE_EVENT]
        state, code, said = runs.run(probe, root)
        if state != "done" or "hook event" not in said:
            last = said.splitlines()[-1] if said else (f"exit {code}" if code is not None else state)
            fail(f"`{shown} hook` does not take {integ.title} hooks ({version}: {last})",
                 f"upgrade that agent-sync, or {rewrite}")
            continue
        note = ""
        if not os.path.isabs(exe):
            note = f"; found on {path_name} as {found}"
            if command.is_shim(found):
                checks.append(Check(name, "warn", f"{shown} runs ({version}), but `{exe}` on PATH is a "
                                    f"version-manager shim ({found}), about 100 ms more per hook ({where})",
                                    command.portability().fix, integ.name))
                continue
            note += " (the agent resolves it with its own PATH)"
        checks.append(Check(name, "ok", f"{shown} runs ({version}){note}", agent=integ.name))
    return checks


def check_instructions(integ: Integration, root: str) -> list[Check]:
    if integ.name == "claude":
        return check_skill(integ, root)
    docs = []
    for scope in integ.installed_scopes(root) or ["project"]:
        doc = integ.instructions(scope, root)
        if doc is not None and doc.path not in [d.path for d in docs]:
            docs.append(doc)
    if not docs:
        return []
    name = _label(integ, "instructions")
    found = [(d, d.state()) for d in docs]
    present = [(d, s) for d, s in found if s != "absent"]
    if not present:
        shown = ", ".join(engine.display(d.path, root) for d in docs)
        return [Check(name, "FAIL", f"no agent-sync section in {shown}", f"run `agent-sync install{agent_flag(integ)}`",
                      integ.name)]
    detail = ", ".join(engine.display(d.path, root) + ("" if s == "current" else f" ({s})") for d, s in present)
    return [Check(name, "ok", f"the agent-sync section in {detail}", agent=integ.name)]


def check_skill(integ: Integration, root: str) -> list[Check]:
    from agent_sync.install.claude import skill_path, skill_state

    found = [p for p in dict.fromkeys((skill_path("project", root), skill_path("user", root))) if os.path.isfile(p)]
    plugins = [label for label, _ in integ.extra_sources(root)]
    if not found and plugins:
        return [Check("skill", "ok", f"from {', '.join(plugins)}", agent=integ.name)]
    if not found:
        return [Check("skill", "FAIL", "no agent-sync skill in .claude/skills/ or ~/.claude/skills/",
                      "run `agent-sync install`", integ.name)]
    states = {p: skill_state(engine.read_bytes(p)) for p in found}
    detail = ", ".join(engine.display(p, root) + ("" if s == "current" else f" ({s})") for p, s in states.items())
    return [Check("skill", "ok", detail, agent=integ.name)]


def run(root: str, agents: list[Integration]) -> list[Check]:
    checks: list[Check] = []
    checks += check_database(root)
    checks += check_state_dir(root)
    checks += check_hook_errors(root)
    runs = _Runs()
    for integ in agents:
        hook_checks, programs = check_hooks(integ, root)
        checks += hook_checks
        checks += check_commands(integ, root, programs, runs)
        checks += check_instructions(integ, root)
        checks += integ.checks(root)
    checks += check_git_guard(root)
    return checks
