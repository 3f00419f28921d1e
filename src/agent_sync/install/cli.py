"""The command-line front end of the installer: `agent-sync install | uninstall | doctor [--agent NAME|all]`.
It picks the agents, lets the engine plan and apply, and prints the result (text, or JSON with --json)."""

from __future__ import annotations

import json
import os

from agent_sync import paths
from agent_sync.errors import UsageError
from agent_sync.install import command, doctor, engine, gitguard
from agent_sync.install.integration import (
    Integration,
    agent_flag,
    every,
    load,
    mcp_present,
    plan_install,
    plan_uninstall,
)

SCOPES = ("project", "local", "user")


def _scope(args) -> str:
    scope = getattr(args, "scope", None) or "project"
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r}: use project, local or user")
    return scope


def _root_for(scope: str) -> str:
    root = paths.find_root()
    if scope != "user" and not os.environ.get("AGENT_SYNC_ROOT"):
        if not (os.path.exists(os.path.join(root, ".git")) or os.path.isdir(paths.state_dir(root))):
            raise UsageError(f"{root} is not inside a git repository; run this in your repository "
                             "(or set AGENT_SYNC_ROOT, or use --scope user)")
    return root


def _named(args) -> str:
    return getattr(args, "agent", None) or "claude"


def _install_agents(plan: engine.Plan, args, scope: str, root: str) -> list[Integration]:
    name = _named(args)
    if name != "all":
        integ = load(name)
        integ.check_scope(scope)
        return [integ]
    found, skipped = [], []
    for integ in every():
        why = integ.detect(root)
        if not why:
            continue
        if scope in integ.scopes:
            found.append((integ, why))
        else:
            skipped.append(integ.title)
    if not found:
        raise UsageError("found no agent here (no .claude/, .codex/, .gemini/, .cursor/ or .github/hooks/ in the "
                         "repository or the home directory, and no claude, codex, gemini, cursor-agent or copilot on "
                         "PATH); name one with --agent")
    plan.note("found " + ", ".join(f"{i.title} ({why})" for i, why in found))
    if skipped:
        plan.note(", ".join(skipped) + f" {'has' if len(skipped) == 1 else 'have'} no {scope} scope: skipped")
    return [i for i, _ in found]


def _has_any(integ: Integration, scope: str, root: str, with_mcp: bool) -> bool:
    if integ.installed(scope, root):
        return True
    instructions = integ.instructions(scope, root)
    if instructions is not None and os.path.isfile(instructions.path):
        state = instructions.state() if isinstance(instructions, engine.TextDoc) else "present"
        if state != "absent":
            return True
    target = integ.mcp(scope, root)
    return bool(with_mcp and target is not None and mcp_present(target))


def _other_scopes(integ: Integration, scope: str, root: str) -> list[str]:
    seen = {os.path.realpath(integ.hooks_path(scope, root))}
    found = []
    for other in integ.scopes:
        path = os.path.realpath(integ.hooks_path(other, root))
        if other != scope and path not in seen and integ.installed(other, root):
            found.append(other)
        seen.add(path)
    return found


def _commands(integ: Integration, scope: str, root: str) -> set[str]:
    doc = integ.hooks_doc(scope, root)
    try:
        return {c for _e, c, _m in integ.hooks.commands(doc.load(doc.path)[1])}
    except UsageError:
        return set()


def _program(cmd: str) -> str:
    import shlex

    return shlex.join(command.command_program(cmd) or [cmd])


def cli_install(args) -> int:
    scope = _scope(args)
    dry = bool(getattr(args, "dry_run", False))
    root = _root_for(scope)
    plan = engine.Plan(root, dry, "install", scope)
    agents = _install_agents(plan, args, scope, root)
    plan.agents = [i.name for i in agents]
    with_mcp = bool(getattr(args, "mcp", False))
    for integ in agents:
        plan_install(plan, integ, scope, root, with_mcp)
        others = _other_scopes(integ, scope, root)
        if others:
            files = ", ".join(engine.display(integ.hooks_path(o, root), root) for o in others)
            plan.agent = integ.name
            if integ.name == "claude":
                same = {_program(c) for o in others for c in _commands(integ, o, root)} == \
                    {_program(plan.programs.get(integ.name, "") + " hook x")}
                how = ("Claude Code runs an identical command once" if same else
                       "their command differs, so Claude Code runs both; remove one with agent-sync uninstall --scope "
                       + "/".join(others))
            else:
                how = f"{integ.title} runs both; remove one with agent-sync uninstall{agent_flag(integ)} --scope " \
                      + "/".join(others)
            plan.note(f"agent-sync hooks are also in {files} ({how})")
    if getattr(args, "git_hook", False):
        plan.agent = ""
        gitguard.plan_install(plan, command.absolute_command(), load("claude").backups("project", root))
    plan.run()
    return _report(args, plan)


def cli_uninstall(args) -> int:
    scope = _scope(args)
    dry = bool(getattr(args, "dry_run", False))
    root = paths.find_root()
    plan = engine.Plan(root, dry, "uninstall", scope)
    with_mcp = bool(getattr(args, "mcp", False))
    name = _named(args)
    if name == "all":
        agents = [i for i in every() if scope in i.scopes and _has_any(i, scope, root, with_mcp)]
    else:
        agents = [load(name)]
        agents[0].check_scope(scope)
    plan.agents = [i.name for i in agents]
    leaving = {(i.name, scope) for i in agents}
    for integ in agents:
        start = len(plan.changes)
        plan_uninstall(plan, integ, scope, root, with_mcp, leaving)
        others = [o for o in _other_scopes(integ, scope, root) if (integ.name, o) not in leaving]
        if others:
            plan.note("agent-sync hooks remain in " + ", ".join(engine.display(integ.hooks_path(o, root), root)
                                                                for o in others)
                      + f" (agent-sync uninstall{agent_flag(integ)} --scope " + "/".join(others) + ")")
        if any(c.apply for c in plan.changes[start:]):
            plan.note(f"running {integ.title} sessions keep what they loaded until they restart")
    backups = load("claude").backups("project", root)
    if getattr(args, "git_hook", False):
        plan.agent = ""
        gitguard.plan_uninstall(plan, backups)
    elif gitguard.installed(root):
        plan.note("the git pre-commit guard stays installed (agent-sync uninstall --git-hook removes it)")
    plan.run()
    return _report(args, plan)


def _report(args, plan: engine.Plan) -> int:
    if getattr(args, "json", False):
        print(json.dumps(result_json(plan), indent=2, ensure_ascii=False))
        return 0
    print(result_text(plan))
    return 0


def result_json(plan: engine.Plan) -> dict:
    return {
        "action": plan.action, "scope": plan.scope, "agents": plan.agents, "dry_run": plan.dry,
        "changed": plan.pending,
        "changes": [{"action": c.action(plan.dry), "path": c.path, "detail": c.detail, "agent": c.agent}
                    for c in plan.changes],
        "notes": plan.notes,
    }


def result_text(plan: engine.Plan) -> str:
    lines = [c.text(plan.root, plan.dry) for c in plan.changes]
    if plan.action == "uninstall" and not plan.pending:
        lines.append(f"agent-sync is not installed ({plan.scope} scope): nothing to do")
    if plan.dry:
        lines.append("dry run: nothing written" if plan.pending else "dry run: nothing would change")
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)


def cli_doctor(args) -> int:
    root = paths.find_root()
    name = getattr(args, "agent", None)
    if not name:
        agents = [i for i in every() if i.installed_scopes(root) or i.extra_sources(root)] or [load("claude")]
    elif name == "all":
        agents = every()
    else:
        agents = [load(name)]
    checks = doctor.run(root, agents)
    ok = all(c.status != "FAIL" for c in checks)
    if getattr(args, "json", False):
        print(json.dumps({"ok": ok, "root": root, "agents": [i.name for i in agents], "checks": [
            {"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix, "agent": c.agent}
            for c in checks]}, indent=2, ensure_ascii=False))
    else:
        failed = sum(c.status == "FAIL" for c in checks)
        print("\n".join(c.text() for c in checks))
        print("all checks passed" if ok else f"{engine.plural(failed, 'check')} failed")
    return 0 if ok else 1
