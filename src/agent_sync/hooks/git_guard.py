"""The git pre-commit guard: refuse a commit that touches a path another active agent has locked."""

import os
import subprocess
import sys

BYPASS = "AGENT_SYNC_SKIP_GIT_GUARD"


def staged_paths(cwd: str) -> list[str] | None:
    try:
        out = subprocess.run(["git", "diff", "--cached", "--name-only", "-z", "--no-renames"], cwd=cwd,
                             capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return [p for p in out.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def run() -> int:
    if os.environ.get(BYPASS, "") not in ("", "0"):
        return 0
    from agent_sync.core import guard
    from agent_sync.core.context import open_context
    from agent_sync.text import clean

    cwd = os.getcwd()
    staged = staged_paths(cwd)
    if not staged:
        return 0
    ctx = open_context(cwd=cwd, busy_timeout="hook")
    with ctx.store.read() as tx:  # staged paths are relative to this worktree, like every lock key
        problems = guard.staged_conflicts(tx, ctx, staged)
    if not problems:
        return 0
    print("agent-sync: commit refused — it touches paths other active agents hold:", file=sys.stderr)
    for line in problems:
        print(f"  {clean(line, 400, one_line=True)}", file=sys.stderr)
    print(f"Coordinate with them, or bypass once with {BYPASS}=1 git commit ...", file=sys.stderr)
    return 1
