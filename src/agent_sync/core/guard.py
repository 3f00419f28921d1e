"""Guarding writes: which tool calls and commits another agent's locks or presence forbid.

Shared by every agent adapter and the git pre-commit guard, so all of them give the same answer.
"""

import os

from agent_sync import targets as tg
from agent_sync.core import locks
from agent_sync.core.presence import roster


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


def _is_revision(name: str, cwd: str) -> bool:
    """Does `git checkout NAME` name a branch or commit (rather than a path, say a deleted tracked file)?"""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], cwd=cwd,
                             capture_output=True, timeout=3)
    except (OSError, subprocess.SubprocessError):
        return not os.path.exists(os.path.join(cwd, name))
    return out.returncode == 0


def shell_effects(command: str, cwd: str, tree: str | None = None, *,
                  powershell: bool = False) -> tuple[str, list[str], list[tuple[str, str]], str | None]:
    """(the directory relative writes start from, the paths the command writes as written, the
    repository-wide destructive git commands, and an internal error of the shell guard to log, if any).
    Inside `tree`, writes are relative to its top, so that `.` in a subdirectory means that subdirectory,
    not the whole repository."""
    from agent_sync import shell as shellwrites

    real_cwd = os.path.realpath(cwd)
    start, base = "", real_cwd
    if tree and (real_cwd == tree or real_cwd.startswith(tree.rstrip("/") + "/")):
        start = os.path.relpath(real_cwd, tree)
        start, base = ("" if start == "." else start), tree

    def is_dir(path: str) -> bool:
        return os.path.isdir(path if os.path.isabs(path) else os.path.join(base, path))

    analyze = shellwrites.analyze_powershell if powershell else shellwrites.analyze_bash
    analysis = analyze(command, start=start, is_dir=is_dir)
    if analysis.unparsed:
        return base, [], [], getattr(analysis, "error", None)
    writes = list(analysis.writes)
    destructive = list(analysis.destructive)
    for candidate in analysis.maybe_branch_switch:
        name = os.path.relpath(candidate, start) if start else candidate
        if _is_revision(name, real_cwd):
            destructive.append(("switch-branch", f"git checkout {name}"))
        else:
            writes.append(candidate)
    if any(kind == "switch-branch" for kind, _ in destructive) and not _dirty(cwd):
        destructive = [d for d in destructive if d[0] != "switch-branch"]  # a clean tree loses nothing
    return base, writes, destructive, None


def others_in_worktree(tx, ctx) -> list:
    """Other active agents working in the caller's worktree."""
    mine = worktree_of(ctx.cwd or ctx.root)
    return [a for a in roster(tx, ctx).active_agents()
            if a["id"] != ctx.me and worktree_of(a["cwd"] or ctx.root) == mine]


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
            found = [f for f in locks.find_conflicts(tx, ctx, [target], locks.EXCLUSIVE) if not f[2]]
            if found:
                return locks.conflict_text(tx, ctx, found)
    return None


def staged_conflicts(tx, ctx, paths: list[str]) -> list[str]:
    """For the git pre-commit guard: one line per staged path another active agent holds."""
    problems = []
    for path in paths:
        theirs = [r for r in locks.covering(tx, ctx, path) if r["holder"] != ctx.me]
        if theirs:
            problems.append(locks.describe_conflict(theirs, tg.Target("file", path), roster(tx, ctx)))
    return problems
