"""`agent-sync install | uninstall | doctor`: wire agent-sync into Claude Code and git, undo it exactly, check it.

* install merges eight hook handlers into a Claude Code settings file, writes the agent-sync skill and, with
  --git-hook, a git pre-commit guard. Our handlers are recognised by their command alone (`... agent-sync hook
  EVENT`), never by extra keys, so the settings schema stays valid.
* uninstall removes exactly that. Before install first changes a settings file it saves the file's bytes (or
  that it was absent) in a backup; when the file minus our handlers still equals the saved original, uninstall
  puts the original bytes back, so install + uninstall leaves the file byte-identical (or absent again).
* doctor checks the whole chain: database, state dir, hooks for every event, hook commands that run, skill.

Standard library only, imported lazily by these three commands.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from agent_sync import paths
from agent_sync.errors import UsageError

SCOPES = ("project", "local", "user")
HOOK_TIMEOUT = 10
TOOL_MATCHER = "Edit|Write|MultiEdit|NotebookEdit|Bash|PowerShell"
# (Claude Code event, matcher or None, `agent-sync hook` sub-command)
EVENTS = (
    ("SessionStart", None, "session-start"),
    ("UserPromptSubmit", None, "user-prompt-submit"),
    ("PreToolUse", TOOL_MATCHER, "pre-tool-use"),
    ("PostToolUse", TOOL_MATCHER, "post-tool-use"),
    ("Stop", None, "stop"),
    ("SubagentStop", None, "subagent-stop"),
    ("PreCompact", None, "pre-compact"),
    ("SessionEnd", None, "session-end"),
)
HOOK_SLUGS = frozenset(slug for _, _, slug in EVENTS)
GUARDED_TOOLS = ("Edit", "Write", "NotebookEdit", "Bash")

GIT_MARKER = "# agent-sync pre-commit guard"
CHAINED_SUFFIX = ".agent-sync-chained"
DIRS_RECORD = "dirs.json"
VERSION_TIMEOUT = 15.0

RESTART_NOTE = ("Claude Code reads hooks when a session starts: restart running Claude Code sessions "
                "(or start new ones) to pick this up.")


# -- the command hooks run --------------------------------------------------------------------------------

def hook_command() -> str:
    """The absolute command hooks run: the console script next to this interpreter, else `python -m agent_sync`.
    sys.executable is the real interpreter (never a pyenv/asdf shim), so no shim sits on the hook path."""
    exe = sys.executable
    if not exe:
        raise UsageError("cannot tell which Python runs agent-sync (sys.executable is empty); "
                         "run agent-sync install with a regular Python")
    exe = os.path.abspath(exe)
    script = os.path.join(os.path.dirname(exe), "agent-sync")
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return shlex.quote(script)
    return f"{shlex.quote(exe)} -m agent_sync"


def _split(command: str) -> list[str] | None:
    try:
        return shlex.split(command)
    except ValueError:
        return None


def _hook_index(words: list[str]) -> int | None:
    """Index of the `hook` word that follows an agent-sync program (`.../agent-sync` or `-m agent_sync`)."""
    for i in range(1, len(words) - 1):
        if words[i] != "hook":
            continue
        prev = words[i - 1]
        if os.path.basename(prev) in ("agent-sync", "agent-sync.exe"):
            return i
        if prev == "agent_sync" and i >= 2 and words[i - 2] == "-m":
            return i
    return None


_LOOSE_RE = re.compile(r"""(?:agent-sync|-m\s+['"]?agent_sync)['"]?\s+hook\s+['"]?([a-z][a-z-]*)""")


def command_slug(command) -> str | None:
    """`stop` for `/x/agent-sync hook stop`; None for any command that is not an agent-sync hook."""
    if not isinstance(command, str):
        return None
    words = _split(command)
    if words is None:
        match = _LOOSE_RE.search(command)
        return match.group(1) if match else None
    i = _hook_index(words)
    return words[i + 1] if i is not None else None


def command_program(command: str) -> list[str] | None:
    """The words that start agent-sync in a hook command (the part before `hook`), without VAR=value prefixes."""
    words = _split(command)
    if not words:
        return None
    i = _hook_index(words)
    if i is None:
        return None
    program = words[:i]
    while program and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", program[0]):
        program = program[1:]
    return program or None


def _is_ours(handler, slug: str) -> bool:
    return isinstance(handler, dict) and command_slug(handler.get("command")) == slug


def _handler(cmd: str, slug: str) -> dict:
    return {"type": "command", "command": f"{cmd} hook {slug}", "timeout": HOOK_TIMEOUT}


def _group(cmd: str, matcher: str | None, slug: str) -> dict:
    group: dict = {}
    if matcher is not None:
        group["matcher"] = matcher
    group["hooks"] = [_handler(cmd, slug)]
    return group


def _matcher_ok(group: dict, matcher: str | None) -> bool:
    if matcher is None:
        return group.get("matcher") in (None, "", "*")
    return group.get("matcher") == matcher


# -- settings files ---------------------------------------------------------------------------------------

def home() -> str:
    """The user's home; an empty HOME means the account's home (as Claude Code's Node runtime takes it), not /."""
    if os.environ.get("HOME"):
        return os.path.expanduser("~")
    import pwd

    return pwd.getpwuid(os.getuid()).pw_dir


def tree(root: str) -> str:
    """The working tree Claude Code reads `.claude/` from: the caller's linked worktree, else the repository
    root. The state database stays shared in the main worktree."""
    return paths.worktree_root(os.getcwd(), root)


def settings_path(scope: str, root: str) -> str:
    if scope == "user":
        return os.path.join(home(), ".claude", "settings.json")
    name = "settings.local.json" if scope == "local" else "settings.json"
    return os.path.join(tree(root), ".claude", name)


def skill_path(scope: str, root: str) -> str:
    base = home() if scope == "user" else tree(root)
    return os.path.join(base, ".claude", "skills", "agent-sync", "SKILL.md")


def backup_dir(scope: str, root: str) -> str:
    if scope == "user":
        return os.path.join(home(), ".claude", "agent-sync-install")
    base = os.path.join(paths.state_dir(root), "install")
    where = tree(root)
    if where != root:  # each linked worktree has its own settings files, so its own undo record
        base = os.path.join(base, "worktree-" + hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:12])
    return base


def _display(path: str, root: str) -> str:
    path = os.path.abspath(path)
    for base, prefix in ((root, ""), (home(), "~/")):
        if base and (path == base or path.startswith(base.rstrip(os.sep) + os.sep)):
            rel = os.path.relpath(path, base)
            return prefix + rel if rel != "." else (prefix.rstrip("/") or ".")
    return path


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def parse_settings(raw: bytes | None, shown: str) -> dict:
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
        raise UsageError(f"{shown} is not valid JSON ({exc}); fix it, then run this again") from None
    if not isinstance(data, dict):
        raise UsageError(f"{shown} does not hold a JSON object; fix it, then run this again")
    if not _finite(data):
        raise UsageError(f"{shown} has a number too large for JSON to write back; fix it, then run this again")
    hooks = data.get("hooks")
    if hooks is not None and not isinstance(hooks, dict):
        raise UsageError(f'"hooks" in {shown} is not an object; fix it, then run this again')
    for event, _, _ in EVENTS:
        if isinstance(hooks, dict) and event in hooks and not isinstance(hooks[event], list):
            raise UsageError(f'"hooks.{event}" in {shown} is not a list; fix it, then run this again')
    return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite(value) -> bool:
    """Numbers JSON can carry: Python reads 1e999 as inf, which would be written back as `Infinity`."""
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def load_settings_file(path: str, shown: str) -> tuple[bytes | None, dict]:
    try:
        raw = _read_bytes(path)
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {exc.strerror or exc}") from None
    return raw, parse_settings(raw, shown)


def _remove_identical(items: list, item) -> None:
    for i, candidate in enumerate(items):
        if candidate is item:
            del items[i]
            return


def merge_hooks(settings: dict, cmd: str) -> tuple[dict, int, int]:
    """Settings with our eight handlers present and current; returns (new settings, added, updated).
    Everything else, including the order of existing entries, stays as it was."""
    data = copy.deepcopy(settings)
    if data.get("hooks") is None:
        data["hooks"] = {}
    hooks = data["hooks"]
    added = updated = 0
    for event, matcher, slug in EVENTS:
        groups = hooks.setdefault(event, [])
        want = _handler(cmd, slug)
        found = [(group, handler) for group in groups if isinstance(group, dict) and isinstance(group.get("hooks"), list)
                 for handler in group["hooks"] if _is_ours(handler, slug)]
        if not found:
            groups.append(_group(cmd, matcher, slug))
            added += 1
            continue
        changed = False
        group, handler = found[0]
        for key, value in want.items():
            if handler.get(key) != value:
                handler[key] = value
                changed = True
        if not _matcher_ok(group, matcher):
            if all(_is_ours(h, slug) for h in group["hooks"]):
                if matcher is None:
                    group.pop("matcher", None)
                else:
                    group["matcher"] = matcher
            else:  # our handler shares a group whose matcher is not ours: give it a group of its own
                _remove_identical(group["hooks"], handler)
                groups.append(_group(cmd, matcher, slug))
            changed = True
        for dup_group, dup in found[1:]:  # the same handler twice: keep one
            _remove_identical(dup_group["hooks"], dup)
            if not dup_group["hooks"]:
                _remove_identical(groups, dup_group)
            changed = True
        updated += changed
    return data, added, updated


def strip_hooks(settings: dict) -> tuple[dict, int]:
    """Settings without our handlers (and without groups, event lists or a hooks object that only they filled)."""
    data = copy.deepcopy(settings)
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return data, 0
    removed = 0
    for event, _, slug in EVENTS:
        groups = hooks.get(event)
        if not isinstance(groups, list):
            continue
        kept = []
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                rest = [h for h in group["hooks"] if not _is_ours(h, slug)]
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
    return data, removed


def count_ours(settings: dict) -> int:
    return strip_hooks(settings)[1]


def _canonical(data, lenient: bool = False) -> str:
    """A comparable form: key order ignored; with lenient, empty event lists and an empty hooks object too."""
    if lenient and isinstance(data, dict) and isinstance(data.get("hooks"), dict):
        data = dict(data)
        hooks = {k: v for k, v in data["hooks"].items() if v != []}
        if hooks:
            data["hooks"] = hooks
        else:
            del data["hooks"]
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _dump(data: dict) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


# -- files ------------------------------------------------------------------------------------------------

def write_atomic(path: str, content: bytes, mode: int | None = None) -> None:
    """Temp file + os.replace; keeps the mode of the file it replaces unless mode is given."""
    path = os.path.realpath(path)  # a symlinked settings file (dotfiles) stays a symlink
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = None
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _missing_dirs(directory: str) -> list[str]:
    missing = []
    directory = os.path.abspath(directory)
    while not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return missing


class Backups:
    """The backup directory of one scope: one JSON manifest per settings file and git guard, and `dirs.json`,
    the directories install created (removed again, when empty, once the last manifest is gone)."""

    def __init__(self, directory: str, root: str | None):
        self.dir = directory
        self.root = root  # set when the directory lives in the repository's state dir

    def ensure(self, will_create: list[str]) -> None:
        missing: list[str] = []
        for directory in [*will_create, self.dir]:
            missing += _missing_dirs(directory)
        if self.root is not None:
            paths.ensure_state_dir(self.root)
        os.makedirs(self.dir, exist_ok=True)
        if missing:
            recorded = self.read(DIRS_RECORD) or []
            merged = list(dict.fromkeys([*recorded, *missing]))
            if merged != recorded:
                self.write(DIRS_RECORD, merged)

    def read(self, name: str):
        try:
            with open(os.path.join(self.dir, name), encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    def write(self, name: str, data) -> None:
        write_atomic(os.path.join(self.dir, name), json.dumps(data, indent=2).encode("utf-8"))

    def remove(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.dir, name))
        except FileNotFoundError:
            pass

    def cleanup(self) -> None:
        """Once no manifest is left, remove the backup dir and every directory install created, if empty."""
        try:
            entries = set(os.listdir(self.dir))
        except OSError:
            return
        if entries - {DIRS_RECORD}:
            return
        created = self.read(DIRS_RECORD) or []
        self.remove(DIRS_RECORD)
        state = paths.state_dir(self.root) if self.root else None
        for directory in [self.dir, *sorted(set(created), key=len, reverse=True)]:
            try:
                if state and os.path.abspath(directory) == os.path.abspath(state) and \
                        os.listdir(directory) == [".gitignore"]:
                    os.unlink(os.path.join(directory, ".gitignore"))  # the state dir's own, written for install
                os.rmdir(directory)
            except OSError:
                pass


def backups_for(scope: str, root: str) -> Backups:
    return Backups(backup_dir(scope, root), None if scope == "user" else root)


# -- the skill --------------------------------------------------------------------------------------------

SKILL_TEXT = """\
---
name: agent-sync
description: Coordinate with the other AI coding agents working in this same repository - shared locks, tasks, messages and decisions. Use at the start of a session, before editing files (especially larger or multi-file changes), when an edit or commit is blocked by another agent's lock, when messages arrive, and when you finish a task.
---
{marker}
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

_SKILL_MARK_RE = re.compile(r"^<!-- agent-sync skill\b[^\n]*?sha256:([0-9a-f]{12,64}) -->\n", re.M)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def skill_text() -> str:
    body = SKILL_TEXT.replace("{marker}\n", "")
    marker = (f"<!-- agent-sync skill: written by `agent-sync install`; `agent-sync uninstall` removes it "
              f"unless edited. sha256:{_digest(body)} -->")
    return SKILL_TEXT.replace("{marker}", marker)


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
    return "ours" if _digest(rest).startswith(match.group(1)) else "edited"


# -- the git guard ----------------------------------------------------------------------------------------

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


def _is_git_guard(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return GIT_MARKER.encode() in head.splitlines()


# -- planning and applying changes -------------------------------------------------------------------------

PRESENT = {"created": "create", "updated": "update", "removed": "remove", "restored": "restore",
           "installed": "install"}


@dataclass
class Change:
    verb: str  # created | updated | removed | restored | installed | unchanged | kept
    path: str
    detail: str = ""
    apply: Callable[[], None] | None = None

    def text(self, root: str, dry: bool) -> str:
        verb = f"would {PRESENT[self.verb]}" if dry and self.apply and self.verb in PRESENT else self.verb
        line = f"{verb} {_display(self.path, root)}"
        return f"{line}: {self.detail}" if self.detail else line


@dataclass
class Plan:
    root: str
    dry: bool
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, verb: str, path: str, detail: str = "", apply=None) -> Change:
        change = Change(verb, path, detail, apply)
        self.changes.append(change)
        return change

    @property
    def pending(self) -> bool:
        return any(c.apply for c in self.changes)

    def tense(self, past: str, present: str) -> str:
        return present if self.dry else past


def _root_for(scope: str) -> str:
    root = paths.find_root()
    if scope != "user" and not os.environ.get("AGENT_SYNC_ROOT"):
        if not (os.path.exists(os.path.join(root, ".git")) or os.path.isdir(paths.state_dir(root))):
            raise UsageError(f"{root} is not inside a git repository; run this in your repository "
                             "(or set AGENT_SYNC_ROOT, or use --scope user)")
    return root


def _scope(args) -> str:
    scope = getattr(args, "scope", None) or "project"
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r}: use project, local or user")
    return scope


def _other_scopes_with_hooks(scope: str, root: str) -> list[str]:
    found = []
    seen = {os.path.realpath(settings_path(scope, root))}
    for other in SCOPES:
        path = settings_path(other, root)
        if other == scope or os.path.realpath(path) in seen:
            continue
        seen.add(os.path.realpath(path))
        try:
            _, data = load_settings_file(path, path)
        except UsageError:
            continue
        if count_ours(data):
            found.append(other)
    return found


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _plan_install_settings(plan: Plan, scope: str, cmd: str, backups: Backups) -> None:
    root = plan.root
    path = settings_path(scope, root)
    shown = _display(path, root)
    raw, current = load_settings_file(path, shown)
    merged, added, updated = merge_hooks(current, cmd)
    if raw is not None and _canonical(merged) == _canonical(current):
        plan.add("unchanged", path, "all 8 agent-sync hooks present")
        return
    manifest_name = f"hooks-{scope}.json"
    save_backup = backups.read(manifest_name) is None or count_ours(current) == 0
    mode = None
    if raw is not None:
        mode = stat.S_IMODE(os.stat(path).st_mode)

    def apply():
        if save_backup:
            backups.write(manifest_name, {
                "path": os.path.abspath(path), "existed": raw is not None,
                "original_b64": base64.b64encode(raw).decode("ascii") if raw is not None else None,
                "parsed": current if raw is not None else None, "mode": mode,
            })
        write_atomic(path, _dump(merged))

    parts = []
    if added:
        parts.append(f"{plan.tense('added', 'add')} {_plural(added, 'hook')}")
    if updated:
        parts.append(f"{plan.tense('updated', 'update')} {_plural(updated, 'hook')}")
    detail = ", ".join(parts) or plan.tense("formatted", "format")
    plan.add("updated" if raw is not None else "created", path, detail, apply)


def _plan_install_skill(plan: Plan, scope: str) -> None:
    path = skill_path(scope, plan.root)
    content = _read_bytes(path) if not os.path.isdir(path) else b""
    state = skill_state(content)
    wanted = skill_text().encode("utf-8")
    if state == "current":
        plan.add("unchanged", path, "the agent-sync skill")
    elif state in ("absent", "ours"):
        plan.add("created" if state == "absent" else "updated", path, "the agent-sync skill", lambda: write_atomic(path, wanted))
    elif state == "edited":
        plan.add("kept", path, "edited since agent-sync wrote it; delete it and run install again for the current skill")
    else:
        plan.add("kept", path, "not agent-sync's skill file; move it away and run install again to write ours")


def _plan_install_git(plan: Plan, cmd: str) -> str:
    root = plan.root
    hooks_dir = git_hooks_dir(root)
    hook = os.path.join(hooks_dir, "pre-commit")
    chained = hook + CHAINED_SUFFIX
    script = git_script(cmd).encode("utf-8")

    def write_guard():
        write_atomic(hook, script, 0o755)

    if _is_git_guard(hook):
        current = _read_bytes(hook)
        executable = os.access(hook, os.X_OK)
        if current == script and executable:
            plan.add("unchanged", hook, "git pre-commit guard")
        else:
            plan.add("updated", hook, "git pre-commit guard", write_guard)
    elif os.path.lexists(hook):
        if os.path.lexists(chained):
            raise UsageError(f"{_display(hook, root)} is not agent-sync's and {_display(chained, root)} already "
                             "exists; move one of them away, then run install --git-hook again")

        def chain():
            os.rename(hook, chained)
            write_guard()

        plan.add("installed", hook, "git pre-commit guard; your existing hook runs first, now as "
                 f"pre-commit{CHAINED_SUFFIX}", chain)
    else:
        plan.add("created", hook, "git pre-commit guard", write_guard)
    return hooks_dir


def cli_install(args) -> int:
    scope = _scope(args)
    dry = bool(getattr(args, "dry_run", False))
    root = _root_for(scope)
    cmd = hook_command()
    plan = Plan(root, dry)
    backups = backups_for(scope, root)
    _plan_install_settings(plan, scope, cmd, backups)
    _plan_install_skill(plan, scope)
    scope_pending = plan.pending
    git_changes_from = len(plan.changes)
    hooks_dir = _plan_install_git(plan, cmd) if getattr(args, "git_hook", False) else None
    git_pending = any(c.apply for c in plan.changes[git_changes_from:])

    others = _other_scopes_with_hooks(scope, root)
    if others:
        plan.notes.append("agent-sync hooks are also in " + ", ".join(_display(settings_path(o, root), root) for o in others)
                          + " (Claude Code runs an identical command once)")
    plan.notes.append(RESTART_NOTE)

    if not dry:
        if scope_pending:
            backups.ensure([os.path.dirname(os.path.realpath(settings_path(scope, root))),
                            os.path.dirname(skill_path(scope, root))])
        if git_pending and hooks_dir:
            git_backups = backups_for("project", root)
            git_backups.ensure([hooks_dir])
            if not git_backups.read("git-hook.json"):
                git_backups.write("git-hook.json", {"hooks_dir": hooks_dir})
        for change in plan.changes:
            if change.apply:
                change.apply()
    return _report(args, plan, scope, "install")


def _plan_uninstall_settings(plan: Plan, scope: str, backups: Backups) -> None:
    root = plan.root
    path = settings_path(scope, root)
    shown = _display(path, root)
    raw, current = load_settings_file(path, shown)
    manifest_name = f"hooks-{scope}.json"
    manifest = backups.read(manifest_name)
    stripped, removed = strip_hooks(current)
    if not removed:
        plan.add("unchanged", path, "no agent-sync hooks" if raw is not None else "absent")
        if manifest is not None and not plan.dry:
            backups.remove(manifest_name)  # stale: the hooks went some other way
        return

    # Undo exactly when nothing else changed since install: original bytes back, or no file, as before.
    how = "write"
    original = b""
    if isinstance(manifest, dict):
        if not manifest.get("existed"):
            if _canonical(stripped, True) == _canonical({}, True):
                how = "delete"
        else:
            try:
                original = base64.b64decode(manifest.get("original_b64") or "")
                parsed = parse_settings(original, shown)
            except (ValueError, UsageError):
                pass
            else:
                if _canonical(stripped, True) == _canonical(strip_hooks(parsed)[0], True):
                    how = "restore"
    mode = manifest.get("mode") if isinstance(manifest, dict) else None
    removing = f"{plan.tense('removed', 'remove')} {_plural(removed, 'hook')}"

    def apply():
        if how == "delete":
            os.unlink(os.path.realpath(path))
        elif how == "restore":
            write_atomic(path, original, mode if isinstance(mode, int) else None)
        else:
            write_atomic(path, _dump(stripped))
        backups.remove(manifest_name)

    if how == "delete":
        plan.add("removed", path, f"install created it ({removing})", apply)
    elif how == "restore":
        plan.add("restored", path, f"{removing}, original bytes back", apply)
    else:
        detail = removing
        if manifest is not None:
            detail += " (the file changed since install: those changes stay; written as JSON, indent 2)"
        plan.add("updated", path, detail, apply)


def _plan_uninstall_skill(plan: Plan, scope: str) -> None:
    path = skill_path(scope, plan.root)
    content = _read_bytes(path) if not os.path.isdir(path) else b""
    state = skill_state(content)
    if state == "absent":
        plan.add("unchanged", path, "no skill")
        return
    if state == "foreign":
        plan.add("kept", path, "not written by agent-sync")
        return
    if state == "edited":
        plan.add("kept", path, "edited since install; delete it yourself if you no longer want it")
        return
    users = [o for o in _other_scopes_with_hooks(scope, plan.root) if skill_path(o, plan.root) == path]
    if users:
        plan.add("kept", path, "still used by the hooks in "
                 + ", ".join(_display(settings_path(o, plan.root), plan.root) for o in users))
        return

    def apply():
        os.unlink(path)
        try:
            os.rmdir(os.path.dirname(path))  # .claude/skills/agent-sync/ holds nothing else of anyone's
        except OSError:
            pass
    plan.add("removed", path, "the agent-sync skill", apply)


def _plan_uninstall_git(plan: Plan) -> None:
    root = plan.root
    hooks_dir = git_hooks_dir(root)
    hook = os.path.join(hooks_dir, "pre-commit")
    chained = hook + CHAINED_SUFFIX
    if _is_git_guard(hook):
        if os.path.lexists(chained):
            def apply():
                os.replace(chained, hook)
            plan.add("restored", hook, f"removed the git guard, your original hook is back from pre-commit{CHAINED_SUFFIX}",
                     apply)
        else:
            plan.add("removed", hook, "git pre-commit guard", lambda: os.unlink(hook))
    elif os.path.lexists(chained) and not os.path.lexists(hook):
        plan.add("restored", hook, f"your original hook is back from pre-commit{CHAINED_SUFFIX}",
                 lambda: os.rename(chained, hook))
    elif os.path.lexists(chained):
        plan.add("kept", chained, "another pre-commit hook replaced agent-sync's guard; merge or delete this "
                 "chained original yourself")
    else:
        plan.add("unchanged", hook, "no agent-sync git guard")


def cli_uninstall(args) -> int:
    scope = _scope(args)
    dry = bool(getattr(args, "dry_run", False))
    root = paths.find_root()
    plan = Plan(root, dry)
    backups = backups_for(scope, root)
    _plan_uninstall_settings(plan, scope, backups)
    _plan_uninstall_skill(plan, scope)
    git = bool(getattr(args, "git_hook", False))
    if git:
        _plan_uninstall_git(plan)
    elif _guard_installed(root):
        plan.notes.append("the git pre-commit guard stays installed (agent-sync uninstall --git-hook removes it)")
    others = _other_scopes_with_hooks(scope, root)
    if others:
        plan.notes.append("agent-sync hooks remain in " + ", ".join(_display(settings_path(o, root), root) for o in others)
                          + " (agent-sync uninstall --scope " + "/".join(others) + ")")
    if plan.pending:
        plan.notes.append("running Claude Code sessions keep the old hooks until they restart")
    if not dry:
        for change in plan.changes:
            if change.apply:
                change.apply()
        backups.cleanup()
        if git:
            git_backups = backups_for("project", root)
            git_backups.remove("git-hook.json")
            git_backups.cleanup()
    return _report(args, plan, scope, "uninstall")


def _guard_installed(root: str) -> bool:
    try:
        return _is_git_guard(os.path.join(git_hooks_dir(root), "pre-commit"))
    except UsageError:
        return False


def _report(args, plan: Plan, scope: str, action: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({
            "action": action, "scope": scope, "dry_run": plan.dry, "changed": plan.pending,
            "changes": [{"action": c.verb if not (plan.dry and c.apply) else f"would {PRESENT.get(c.verb, c.verb)}",
                         "path": c.path, "detail": c.detail} for c in plan.changes],
            "notes": plan.notes,
        }, indent=2, ensure_ascii=False))
        return 0
    lines = [c.text(plan.root, plan.dry) for c in plan.changes]
    if action == "uninstall" and not plan.pending:
        lines.append(f"agent-sync is not installed ({scope} scope): nothing to do")
    if plan.dry:
        lines.append("dry run: nothing written" if plan.pending else "dry run: nothing would change")
    lines += [f"note: {n}" for n in plan.notes]
    print("\n".join(lines))
    return 0


# -- doctor -----------------------------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    status: str  # ok | FAIL | info | skip
    detail: str
    fix: str = ""

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


def _check_database(root: str) -> list[Check]:
    from agent_sync.core.context import open_context

    try:
        ctx = open_context(cwd=root)
        try:
            version = ctx.store.schema_version()
            where = getattr(ctx.store, "path", paths.db_path(root))
        finally:
            close = getattr(ctx.store, "close", None)
            if close:
                close()
    except Exception as exc:  # any failure is the finding
        return [Check("database", "FAIL", f"{type(exc).__name__}: {exc}",
                      "follow the message above; `agent-sync init` creates a missing database")]
    return [Check("database", "ok", f"{_display(where, root)} opens (schema {version})")]


def _check_state_dir(root: str) -> list[Check]:
    ignore = os.path.join(paths.state_dir(root), ".gitignore")
    try:
        with open(ignore, encoding="utf-8") as fh:
            lines = [line.strip() for line in fh]
    except OSError:
        return [Check("state dir", "FAIL", f"{_display(ignore, root)} is missing: the state could be committed",
                      "run `agent-sync init` (it writes the .gitignore)")]
    if "*" not in lines:
        return [Check("state dir", "FAIL", f"{_display(ignore, root)} does not ignore everything (`*`)",
                      f"add a line `*` to {_display(ignore, root)}")]
    return [Check("state dir", "ok", f"{_display(ignore, root)} keeps the state out of git")]


def _settings_files(root: str) -> list[tuple[str, str]]:
    out, seen = [], set()
    for scope in SCOPES:
        path = settings_path(scope, root)
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append((scope, path))
    return out


def _check_hooks(root: str) -> tuple[list[Check], dict[str, list[tuple[str, str]]]]:
    """Hook checks, and every agent-sync hook command found: {command: [(scope, event), ...]}."""
    checks: list[Check] = []
    commands: dict[str, list[tuple[str, str]]] = {}
    covered: dict[str, list[str]] = {event: [] for event, _, _ in EVENTS}
    tools_seen: set[str] = set()
    event_slugs = {event: slug for event, _, slug in EVENTS}
    for scope, path in _settings_files(root):
        shown = _display(path, root)
        try:
            _, data = load_settings_file(path, shown)
        except UsageError as exc:
            checks.append(Check("settings", "FAIL", str(exc), f"repair {shown} (it must be a JSON object)"))
            continue
        hooks = data.get("hooks") or {}
        for event, groups in hooks.items():
            if not isinstance(groups, list):
                continue
            for group in groups:
                if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
                    continue
                for handler in group["hooks"]:
                    command = handler.get("command") if isinstance(handler, dict) else None
                    slug = command_slug(command)
                    if slug not in HOOK_SLUGS:
                        continue
                    commands.setdefault(command, []).append((scope, event))
                    if event_slugs.get(event) == slug:
                        if shown not in covered[event]:
                            covered[event].append(shown)
                        if event == "PreToolUse":
                            tools_seen.update(t for t in GUARDED_TOOLS if matcher_covers(group.get("matcher"), t))
    missing = [event for event, where in covered.items() if not where]
    if missing:
        have = len(EVENTS) - len(missing)
        checks.append(Check("hooks", "FAIL", f"{have}/{len(EVENTS)} events have an agent-sync hook; missing "
                            + ", ".join(missing), "run `agent-sync install` (add --scope local or user if you prefer)"))
    else:
        files = sorted({f for where in covered.values() for f in where})
        unguarded = [t for t in GUARDED_TOOLS if t not in tools_seen]
        if unguarded:
            checks.append(Check("hooks", "FAIL", "the PreToolUse matcher lets " + ", ".join(unguarded)
                                + " through unchecked", "run `agent-sync install` to reset the matcher"))
        else:
            checks.append(Check("hooks", "ok", f"all {len(EVENTS)} events in " + ", ".join(files)))
    return checks, commands


def _check_commands(root: str, commands: dict[str, list[tuple[str, str]]]) -> list[Check]:
    if not commands:
        return [Check("hook commands", "skip", "no agent-sync hook commands installed")]
    programs: dict[tuple[str, ...], set[str]] = {}
    for command, uses in commands.items():
        program = command_program(command)
        key = tuple(program) if program else (command,)
        programs.setdefault(key, set()).update(scope for scope, _ in uses)
    checks = []
    for program, scopes in programs.items():
        shown = shlex.join(program)
        scope_list = sorted(scopes, key=SCOPES.index)
        flag = "" if scope_list[0] == "project" else f" --scope {scope_list[0]}"
        rewrite = f"run `agent-sync install{flag}` with the agent-sync the hooks should use, to rewrite the command path"
        fix = rewrite
        where = "used by hooks in " + ", ".join(_display(settings_path(s, root), root) for s in scope_list)
        exe = program[0]
        found = exe if os.path.isabs(exe) else None
        if not found:
            import shutil

            found = shutil.which(exe)
            if not found:
                checks.append(Check("hook command", "FAIL", f"{exe} is not an absolute path and not on PATH ({where})", fix))
                continue
        if not os.path.exists(found):
            checks.append(Check("hook command", "FAIL", f"{found} does not exist ({where})", fix))
            continue
        if not (os.path.isfile(found) and os.access(found, os.X_OK)):
            checks.append(Check("hook command", "FAIL", f"{found} is not an executable file ({where})", fix))
            continue
        try:
            proc = subprocess.run([*program, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT,
                                  stdin=subprocess.DEVNULL, cwd=root)
        except subprocess.TimeoutExpired:
            checks.append(Check("hook command", "FAIL", f"`{shown} --version` took over {VERSION_TIMEOUT:g}s ({where})",
                                "check that interpreter; hooks time out after 10 s and then do nothing"))
            continue
        except OSError as exc:
            checks.append(Check("hook command", "FAIL", f"`{shown} --version` cannot start: {exc.strerror or exc} "
                                f"({where})", fix))
            continue
        output = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0 or "agent-sync" not in output:
            last = output.splitlines()[-1] if output else f"exit {proc.returncode}"
            checks.append(Check("hook command", "FAIL", f"`{shown} --version` failed: {last} ({where})",
                                f"reinstall agent-sync into that interpreter, or {rewrite}"))
            continue
        note = "" if os.path.isabs(exe) else " (found on PATH; hooks may run with another PATH: reinstall for an absolute path)"
        checks.append(Check("hook command", "ok", f"{shown} runs ({output.splitlines()[0]}){note}"))
    return checks


def _check_skill(root: str) -> list[Check]:
    found = [p for p in dict.fromkeys((skill_path("project", root), skill_path("user", root))) if os.path.isfile(p)]
    if not found:
        return [Check("skill", "FAIL", "no agent-sync skill in .claude/skills/ or ~/.claude/skills/",
                      "run `agent-sync install`")]
    states = {p: skill_state(_read_bytes(p)) for p in found}
    detail = ", ".join(_display(p, root) + ("" if s == "current" else f" ({s})") for p, s in states.items())
    return [Check("skill", "ok", detail)]


def _check_git_guard(root: str) -> list[Check]:
    try:
        hooks_dir = git_hooks_dir(root)
    except UsageError:
        return [Check("git guard", "info", "not a git repository")]
    hook = os.path.join(hooks_dir, "pre-commit")
    shown = _display(hook, root)
    if _is_git_guard(hook):
        chained = os.path.lexists(hook + CHAINED_SUFFIX)
        if not os.access(hook, os.X_OK):
            return [Check("git guard", "info", f"{shown} is not executable, git skips it (agent-sync install --git-hook)")]
        return [Check("git guard", "info", f"installed in {shown}" + (" (chains your earlier hook)" if chained else ""))]
    if os.path.lexists(hook):
        return [Check("git guard", "info", f"not installed; {shown} is another hook (agent-sync install --git-hook chains it)")]
    return [Check("git guard", "info", "not installed (optional: agent-sync install --git-hook)")]


def cli_doctor(args) -> int:
    root = paths.find_root()
    checks: list[Check] = []
    checks += _check_database(root)
    checks += _check_state_dir(root)
    hook_checks, commands = _check_hooks(root)
    checks += hook_checks
    checks += _check_commands(root, commands)
    checks += _check_skill(root)
    checks += _check_git_guard(root)
    ok = all(c.status != "FAIL" for c in checks)
    if getattr(args, "json", False):
        print(json.dumps({"ok": ok, "root": root, "checks": [
            {"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix} for c in checks]},
            indent=2, ensure_ascii=False))
    else:
        failed = sum(c.status == "FAIL" for c in checks)
        print("\n".join(c.text() for c in checks))
        print("all checks passed" if ok else f"{_plural(failed, 'check')} failed")
    return 0 if ok else 1
