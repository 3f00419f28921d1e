"""The git pre-commit guard: refuses a commit that stages a path another active agent holds. It chains a
pre-commit hook that was there before (renamed `pre-commit.agent-sync-chained`, run first) and puts it back
on uninstall. The hook lives in `.git/hooks` (or `core.hooksPath`), on this machine only, so it names the
absolute agent-sync command."""

from __future__ import annotations

import os
import shlex
import subprocess

from agent_sync.errors import UsageError
from agent_sync.install import engine

GIT_MARKER = "# agent-sync pre-commit guard"
CHAINED_SUFFIX = ".agent-sync-chained"
RECORD = "git-hook.json"


def git_hooks_dir(root: str) -> str:
    try:
        proc = subprocess.run(["git", "rev-parse", "--git-path", "hooks"], cwd=root, capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"cannot run git for --git-hook: {exc}") from None
    if proc.returncode != 0 or not proc.stdout.strip():
        raise UsageError(f"{root} is not a git repository: --git-hook needs one "
                         f"({(proc.stderr.strip().splitlines() or ['git rev-parse failed'])[-1]})")
    return os.path.abspath(os.path.join(root, proc.stdout.strip()))


def git_script(cmd: str) -> str:
    words = shlex.split(cmd)
    program = shlex.quote(words[0])
    return f"""#!/bin/sh
{GIT_MARKER}
# Refuses a commit that stages a path another active agent has locked.
# Written by `agent-sync install --git-hook`; `agent-sync uninstall --git-hook` removes it and puts back
# any pre-commit hook it chained. Skip it once: AGENT_SYNC_SKIP_GIT_GUARD=1 git commit ...
chained="$(dirname "$0")/pre-commit{CHAINED_SUFFIX}"
if [ -x "$chained" ]; then
    "$chained" "$@" || exit $?
fi
if [ "${{AGENT_SYNC_SKIP_GIT_GUARD:-}}" = "1" ]; then
    exit 0
fi
program={program}
if [ ! -x "$program" ]; then
    echo "agent-sync pre-commit guard: $program is missing, commit not checked (run: agent-sync install --git-hook)" >&2
    exit 0
fi
exec {cmd} hook git-pre-commit
"""


def is_git_guard(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return GIT_MARKER.encode() in head.splitlines()


def installed(root: str) -> bool:
    try:
        return is_git_guard(os.path.join(git_hooks_dir(root), "pre-commit"))
    except UsageError:
        return False


def plan_install(plan: engine.Plan, cmd: str, backups: engine.Backups) -> None:
    root = plan.root
    hooks_dir = git_hooks_dir(root)
    hook = os.path.join(hooks_dir, "pre-commit")
    chained = hook + CHAINED_SUFFIX
    script = git_script(cmd).encode("utf-8")

    def write_guard():
        write = engine.write_atomic
        write(hook, script, 0o755)

    def record():
        if not backups.read(RECORD):
            backups.write(RECORD, {"hooks_dir": hooks_dir})

    if is_git_guard(hook):
        current = engine.read_bytes(hook)
        if current == script and os.access(hook, os.X_OK):
            plan.add("unchanged", hook, "git pre-commit guard")
            return
        plan.add("updated", hook, "git pre-commit guard", write_guard)
    elif os.path.lexists(hook):
        if os.path.lexists(chained):
            raise UsageError(f"{engine.display(hook, root)} is not agent-sync's and {engine.display(chained, root)} "
                             "already exists; move one of them away, then run install --git-hook again")

        def chain():
            os.rename(hook, chained)
            write_guard()

        plan.add("installed", hook, "git pre-commit guard; your existing hook runs first, now as "
                 f"pre-commit{CHAINED_SUFFIX}", chain)
    else:
        plan.add("created", hook, "git pre-commit guard", write_guard)
    plan.need(backups, hooks_dir)
    plan.changes[-1].apply = _then(record, plan.changes[-1].apply)


def _then(first, second):
    def run():
        first()
        second()
    return run


def plan_uninstall(plan: engine.Plan, backups: engine.Backups) -> None:
    root = plan.root
    hooks_dir = git_hooks_dir(root)
    hook = os.path.join(hooks_dir, "pre-commit")
    chained = hook + CHAINED_SUFFIX
    if is_git_guard(hook):
        if os.path.lexists(chained):
            def apply():
                os.replace(chained, hook)
            plan.add("restored", hook, f"removed the git guard, your original hook is back from "
                     f"pre-commit{CHAINED_SUFFIX}", apply)
        else:
            plan.add("removed", hook, "git pre-commit guard", lambda: os.unlink(hook))
    elif os.path.lexists(chained) and not os.path.lexists(hook):
        plan.add("restored", hook, f"your original hook is back from pre-commit{CHAINED_SUFFIX}",
                 lambda: os.rename(chained, hook))
    elif os.path.lexists(chained):
        plan.add("kept", chained, "another pre-commit hook replaced agent-sync's guard; merge or delete this "
                 "chained original yourself")
        return
    else:
        plan.add("unchanged", hook, "no agent-sync git guard")
    plan.after.append(lambda: backups.remove(RECORD))
    plan.tidy(backups)
