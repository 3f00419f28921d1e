"""Guarding writes: which tool calls and commits another agent's locks or presence forbid.

Shared by every agent adapter and the git pre-commit guard, so all of them give the same answer.
"""

import os

from agent_sync import targets as tg
from agent_sync.core import locks
from agent_sync.core.presence import status_of


def worktree_of(path: str) -> str:
    """The working tree that contains `path` (a linked worktree is its own tree here, unlike paths.find_root)."""
    from agent_sync.paths import tree_root

    return tree_root(path or ".") or os.path.realpath(path or ".")


def _dirty(cwd: str) -> bool:
    import subprocess

    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                             capture_output=True, timeout=3)
    except (OSError, subprocess.SubprocessError):
        return True  # cannot tell: assume there is work to lose
    return out.returncode != 0 or bool(out.stdout.strip())


def shell_effects(command: str, cwd: str, *, powershell: bool = False) -> tuple[list[str], list[tuple[str, str]]]:
    """(paths the command writes, as written; repository-wide destructive git commands)."""
    from agent_sync import shellwrites

    analysis = shellwrites.analyze_powershell(command) if powershell else shellwrites.analyze_bash(command)
    if analysis.unparsed:
        return [], []
    writes = list(analysis.writes)
    destructive = list(analysis.destructive)
    for candidate in analysis.maybe_branch_switch:
        if os.path.exists(os.path.join(cwd, candidate)):
            writes.append(candidate)
        else:
            destructive.append(("switch-branch", f"git checkout {candidate}"))
    if any(kind == "switch-branch" for kind, _ in destructive) and not _dirty(cwd):
        destructive = [d for d in destructive if d[0] != "switch-branch"]  # a clean tree loses nothing
    return writes, destructive


def others_in_worktree(tx, ctx) -> list:
    """Other active agents working in the caller's worktree."""
    mine = worktree_of(ctx.cwd or ctx.root)
    return [a for a in tx.agents()
            if a["id"] != ctx.me and status_of(a, tx.now, ctx.settings) == "active"
            and worktree_of(a["cwd"] or ctx.root) == mine]


def check_tool(tx, ctx, targets: list[tg.Target], destructive: list[tuple[str, str]], policy: str, *,
               write: bool) -> str | None:
    """None if the tool may run, else the reason it may not. Under `write`, renews locks and takes leases."""
    if destructive:
        others = others_in_worktree(tx, ctx)
        if others:
            names = ", ".join(f"{a['name']} ({a['id']})" for a in others)
            _kind, text = destructive[0]
            return (f"`{text}` would discard uncommitted work in this worktree, where {names} "
                    f"{'is' if len(others) == 1 else 'are'} active. Coordinate first: "
                    f"agent-sync send --to {others[0]['name']} --message '...', or use a path-limited command")
    for target in targets:
        if target.kind == "file":
            verdict, reason = locks.guard_edit(tx, ctx, target.key, policy, write=write)
            if verdict == "deny":
                return reason
        else:  # a directory or shell glob: anything another agent holds inside it stands in the way
            found = locks.find_conflicts(tx, ctx, [target], "exclusive")
            found = [f for f in found if not f[2]]
            if found:
                row, wanted, _ = found[0]
                return locks.describe_conflict(row, wanted)
    return None


def staged_conflicts(tx, ctx, paths: list[str]) -> list[str]:
    """For the git pre-commit guard: one line per staged path another active agent holds."""
    problems = []
    for path in paths:
        theirs = [r for r in locks.covering(tx, ctx, path) if r["holder"] != ctx.me]
        if theirs:
            problems.append(locks.describe_conflict(theirs[0], tg.Target("file", path)))
    return problems
