"""The install engine: a plan of changes to files, shown (dry run) or applied, atomically, with the backups that
make uninstall exact. Nothing here prints: a `Plan` is the result the front end renders as text or JSON.

How exact undo works, for every file format:

* Before install first changes a file, it saves the file's bytes (or that it was absent) in a manifest in the
  backup directory of that scope: the repository's state dir for project and local scope (ignored by git),
  the agent's own config directory for user scope.
* Uninstall takes out exactly our entries (recognised by their command, not by the manifest). When what is
  left equals the saved original minus our entries, it puts the original bytes back (or removes the file
  install created); otherwise it writes what is left, keeping the user's later changes.
* The directories install created are recorded too, and removed again once empty.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from agent_sync import paths
from agent_sync.errors import UsageError
from agent_sync.install import formats

DIRS_RECORD = "dirs.json"
PRESENT = {"created": "create", "updated": "update", "removed": "remove", "restored": "restore",
           "installed": "install"}


# -- places -----------------------------------------------------------------------------------------------

def home() -> str:
    """The user's home; an empty HOME means the account's home (as the agents' Node runtimes take it), not /."""
    if os.environ.get("HOME"):
        return os.path.expanduser("~")
    import pwd

    return pwd.getpwuid(os.getuid()).pw_dir


def tree(root: str) -> str:
    """The working tree the agents read their project config from: the caller's linked worktree, else the
    repository root. The state database stays shared in the main worktree."""
    return paths.worktree_root(os.getcwd(), root)


def display(path: str, root: str) -> str:
    path = os.path.abspath(path)
    for base, prefix in ((root, ""), (home(), "~/")):
        if base and (path == base or path.startswith(base.rstrip(os.sep) + os.sep)):
            rel = os.path.relpath(path, base)
            return prefix + rel if rel != "." else (prefix.rstrip("/") or ".")
    return path


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


# -- files ------------------------------------------------------------------------------------------------

def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def read_file(path: str, shown: str) -> bytes | None:
    try:
        if os.path.isdir(path):
            raise UsageError(f"{shown} is a directory; move it away, then run this again")
        return read_bytes(path)
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {exc.strerror or exc}") from None


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


def file_mode(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def missing_dirs(directory: str) -> list[str]:
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
    """The backup directory of one scope: one JSON manifest per file install changed, and `dirs.json`, the
    directories install created (removed again once empty; the backup directory itself once no manifest is
    left)."""

    def __init__(self, directory: str, root: str | None):
        self.dir = directory
        self.root = root  # set when the directory lives in the repository's state dir

    def ensure(self, will_create: list[str]) -> None:
        missing: list[str] = []
        for directory in [*will_create, self.dir]:
            missing += missing_dirs(directory)
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
        """Remove the created directories that are empty now; once no manifest is left, the backup dir too."""
        try:
            entries = set(os.listdir(self.dir))
        except OSError:
            return
        created = self.read(DIRS_RECORD) or []
        last = not (entries - {DIRS_RECORD})
        state = paths.state_dir(self.root) if self.root else None
        inside = self.dir.rstrip(os.sep) + os.sep
        kept = []
        if last:
            self.remove(DIRS_RECORD)
            try:
                os.rmdir(self.dir)
            except OSError:
                pass
        for directory in sorted(set(created), key=len, reverse=True):
            if not last and (os.path.abspath(directory) + os.sep).startswith(inside):
                kept.append(directory)
                continue
            try:
                if state and os.path.abspath(directory) == os.path.abspath(state):
                    if not last:
                        kept.append(directory)
                        continue
                    if os.listdir(directory) == [".gitignore"]:
                        os.unlink(os.path.join(directory, ".gitignore"))  # the state dir's own, written for install
                os.rmdir(directory)
            except OSError:
                if os.path.isdir(directory):
                    kept.append(directory)
        if not last and sorted(kept) != sorted(created):
            self.write(DIRS_RECORD, [d for d in created if d in kept])

    def manifest_name(self, path: str) -> str:
        """The manifest of a file: named after its absolute path."""
        digest = hashlib.sha256(os.path.abspath(path).encode("utf-8", "surrogateescape")).hexdigest()[:12]
        return f"file-{os.path.basename(path).lstrip('.')}-{digest}.json"


# -- plans ------------------------------------------------------------------------------------------------

@dataclass
class Change:
    verb: str  # created | updated | removed | restored | installed | unchanged | kept
    path: str
    detail: str = ""
    apply: Callable[[], None] | None = None
    agent: str = ""

    def action(self, dry: bool) -> str:
        return f"would {PRESENT[self.verb]}" if dry and self.apply and self.verb in PRESENT else self.verb

    def text(self, root: str, dry: bool) -> str:
        line = f"{self.action(dry)} {display(self.path, root)}"
        return f"{line}: {self.detail}" if self.detail else line


@dataclass
class Plan:
    """The result of install or uninstall: every change (applied, or only planned in a dry run) and notes."""
    root: str
    dry: bool
    action: str = "install"
    scope: str = "project"
    agents: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    agent: str = ""  # the agent whose changes are being planned
    needs: dict[str, tuple[Backups, set[str]]] = field(default_factory=dict)
    seen: set = field(default_factory=set)
    tidied: dict[str, Backups] = field(default_factory=dict)
    programs: dict[str, str] = field(default_factory=dict)  # the agent-sync program each agent's hooks name
    after: list[Callable[[], None]] = field(default_factory=list)

    def add(self, verb: str, path: str, detail: str = "", apply=None) -> Change:
        change = Change(verb, path, detail, apply, self.agent)
        self.changes.append(change)
        return change

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def need(self, backups: Backups, *dirs: str) -> None:
        """Before applying: the backup dir of `backups` exists, and it records which of `dirs` install creates."""
        entry = self.needs.setdefault(backups.dir, (backups, set()))
        entry[1].update(dirs)

    def tidy(self, backups: Backups) -> None:
        """After applying: clean up this backup dir (uninstall: empty directories install created)."""
        self.tidied.setdefault(backups.dir, backups)

    @property
    def pending(self) -> bool:
        return any(c.apply for c in self.changes)

    def tense(self, past: str, present: str) -> str:
        return present if self.dry else past

    def run(self) -> None:
        """Apply the changes (not in a dry run): backups first, then the files, in order."""
        if self.dry:
            return
        for backups, dirs in self.needs.values():
            backups.ensure(sorted(dirs))
        for change in self.changes:
            if change.apply:
                change.apply()
        for step in self.after:
            step()
        for backups in self.tidied.values():
            backups.cleanup()


# -- JSON settings documents ------------------------------------------------------------------------------

@dataclass
class JsonDoc:
    """One JSON document agent-sync writes into, and every part of ours that may live in it."""
    path: str
    backups: Backups
    parts: list  # formats.NestedHooks | FlatHooks | McpServers ...
    manifest: str = ""
    comments: bool = False  # the agent reads JSONC

    def __post_init__(self):
        self.manifest = self.manifest or self.backups.manifest_name(self.path)

    def load(self, shown: str) -> tuple[bytes | None, dict]:
        raw = read_file(self.path, shown)
        data = formats.parse_json(raw, shown, comments=self.comments)
        for part in self.parts:
            part.validate(data, shown)
        return raw, data

    def ours(self, data: dict) -> int:
        return sum(part.count(data) for part in self.parts)

    def strip_all(self, data: dict) -> dict:
        for part in self.parts:
            data = part.strip(data)[0]
        return data


def _save_backup(doc: JsonDoc, raw: bytes | None, current, mode) -> None:
    doc.backups.write(doc.manifest, {
        "path": os.path.abspath(doc.path), "existed": raw is not None,
        "original_b64": base64.b64encode(raw).decode("ascii") if raw is not None else None,
        "parsed": current if raw is not None and isinstance(current, dict) else None, "mode": mode,
    })


def _first_time(plan: Plan, path: str, kind: str) -> bool:
    """False when this run already planned `kind` for the file (a file several agents share)."""
    key = (os.path.realpath(path), kind)
    if key in plan.seen:
        return False
    plan.seen.add(key)
    return True


def plan_json_install(plan: Plan, doc: JsonDoc, parts: list, program: str, present: str) -> Change | None:
    """Merge each part (with `program` as the command) into the document, as one change. `present`: what an
    unchanged file already has ("all 8 agent-sync hooks present")."""
    parts = [p for p in parts if _first_time(plan, doc.path, type(p).__name__)]
    if not parts:
        return None
    root = plan.root
    shown = display(doc.path, root)
    raw, current = doc.load(shown)
    data, done = current, []
    for part in parts:
        merge = part.merge(data, program)
        if merge.kept:
            plan.add("kept", doc.path, merge.kept)
            continue
        data = merge.data
        done.append((part, merge))
    if not done:
        return None
    if raw is not None and formats.canonical(data) == formats.canonical(current):
        return plan.add("unchanged", doc.path, present)
    save = doc.backups.read(doc.manifest) is None or doc.ours(current) == 0
    mode = file_mode(doc.path) if raw is not None else None
    content = formats.dump_json(data)

    def apply():
        if save:
            _save_backup(doc, raw, current, mode)
        write_atomic(doc.path, content)

    said = []
    for part, merge in done:
        if merge.added:
            said.append(f"{plan.tense('added', 'add')} {plural(merge.added, part.noun)}")
        if merge.updated:
            said.append(f"{plan.tense('updated', 'update')} {plural(merge.updated, part.noun)}")
    detail = ", ".join(said) or plan.tense("formatted", "format")
    plan.need(doc.backups, os.path.dirname(os.path.realpath(doc.path)))
    return plan.add("updated" if raw is not None else "created", doc.path, detail, apply)


def plan_json_uninstall(plan: Plan, doc: JsonDoc, parts: list, absent: str) -> Change | None:
    """Take the parts out of the document, as one change; the original bytes come back when nothing else
    changed."""
    plan.tidy(doc.backups)
    parts = [p for p in parts if _first_time(plan, doc.path, type(p).__name__)]
    if not parts:
        return None
    root = plan.root
    shown = display(doc.path, root)
    raw, current = doc.load(shown)
    manifest = doc.backups.read(doc.manifest)
    stripped, said, removed = current, [], 0
    for part in parts:
        stripped, n = part.strip(stripped)
        if n:
            removed += n
            said.append(f"{plan.tense('removed', 'remove')} {plural(n, part.noun)}")
    if not removed:
        if manifest is not None and not plan.dry and doc.ours(current) == 0:
            doc.backups.remove(doc.manifest)  # stale: our entries went some other way
        return plan.add("unchanged", doc.path, absent if raw is not None else "absent")
    remaining = doc.ours(stripped)
    how, original = "write", b""

    def fresh(data: dict) -> dict:
        for part in doc.parts:
            data = part.merge(data, "agent-sync").data
        return doc.strip_all(data)

    if isinstance(manifest, dict) and not remaining:
        if not manifest.get("existed"):
            if formats.canonical(stripped, True) in (formats.canonical({}, True), formats.canonical(fresh({}), True)):
                how = "delete"
        else:
            try:
                original = base64.b64decode(manifest.get("original_b64") or "")
                parsed = formats.parse_json(original, shown, comments=doc.comments)
            except (ValueError, UsageError):
                pass
            else:
                references = {formats.canonical(doc.strip_all(parsed), True),
                              formats.canonical(fresh(parsed), True)}
                if formats.canonical(stripped, True) in references:
                    how = "restore"
    mode = manifest.get("mode") if isinstance(manifest, dict) else None
    removing = ", ".join(said)

    def apply():
        if how == "delete":
            os.unlink(os.path.realpath(doc.path))
        elif how == "restore":
            write_atomic(doc.path, original, mode if isinstance(mode, int) else None)
        else:
            write_atomic(doc.path, formats.dump_json(stripped))
        if not remaining:
            doc.backups.remove(doc.manifest)

    if how == "delete":
        return plan.add("removed", doc.path, f"install created it ({removing})", apply)
    if how == "restore":
        return plan.add("restored", doc.path, f"{removing}, original bytes back", apply)
    detail = removing
    if manifest is not None and not remaining:
        detail += " (the file changed since install: those changes stay; written as JSON, indent 2)"
    return plan.add("updated", doc.path, detail, apply)


# -- marked blocks in text files --------------------------------------------------------------------------

@dataclass
class TextDoc:
    """A text file agent-sync adds one marked block to (AGENTS.md, GEMINI.md, a TOML config)."""
    path: str
    backups: Backups
    block: formats.Block
    what: str  # "the agent-sync section", "the [mcp_servers.agent-sync] table"
    foreign: Callable[[str, str], str | None] | None = None  # (text without our block, shown) -> why not to add ours
    validate: Callable[[str, str], None] | None = None  # (new text, shown): raise UsageError when broken
    manifest: str = ""

    def __post_init__(self):
        self.manifest = self.manifest or self.backups.manifest_name(self.path)

    def load(self, shown: str) -> str | None:
        raw = read_file(self.path, shown)
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{shown} is not UTF-8 text; fix or move it, then run this again") from None

    def state(self) -> str:
        """absent | current | ours | edited, of our block in the file as it is now."""
        try:
            text = self.load(self.path)
        except UsageError:
            return "absent"
        found = self.block.find(text) if text is not None else None
        return found[2] if found else "absent"


def plan_block_install(plan: Plan, doc: TextDoc) -> Change | None:
    if not _first_time(plan, doc.path, "block"):
        return None
    shown = display(doc.path, plan.root)
    text = doc.load(shown)
    found = doc.block.find(text) if text is not None else None
    wanted = doc.block.text()
    if found and found[2] == "current":
        return plan.add("unchanged", doc.path, doc.what)
    if found and found[2] == "edited":
        return plan.add("kept", doc.path, f"{doc.what} was edited since install; delete it (between the agent-sync "
                        "markers) and run install again for the current one")
    if doc.foreign:
        rest = text[:found[0]] + text[found[1]:] if found else (text or "")
        refusal = doc.foreign(rest, shown)
        if refusal:
            return plan.add("kept", doc.path, refusal)
    if found:
        new = text[:found[0]] + wanted + text[found[1]:]
        sep = None
    else:
        new, sep = formats.append_block(text or "", wanted)
    if doc.validate:
        doc.validate(new, shown)
    raw = text.encode("utf-8") if text is not None else None
    manifest = doc.backups.read(doc.manifest)
    mode = file_mode(doc.path) if raw is not None else None

    def apply():
        if not found or manifest is None:
            doc.backups.write(doc.manifest, {
                "path": os.path.abspath(doc.path), "existed": raw is not None, "separator": sep,
                "original_b64": base64.b64encode(raw).decode("ascii") if raw is not None and not found else None,
                "mode": mode})
        write_atomic(doc.path, new.encode("utf-8"))

    plan.need(doc.backups, os.path.dirname(os.path.realpath(doc.path)))
    verb = "created" if text is None else "updated"
    detail = (f"{plan.tense('added', 'add')} {doc.what}" if not found else f"{plan.tense('updated', 'update')} {doc.what}")
    return plan.add(verb, doc.path, detail, apply)


def plan_block_uninstall(plan: Plan, doc: TextDoc, keep: str = "") -> Change | None:
    """Remove our block; `keep` names what still needs it (then the block stays)."""
    plan.tidy(doc.backups)
    if not _first_time(plan, doc.path, "block"):
        return None
    shown = display(doc.path, plan.root)
    text = doc.load(shown)
    found = doc.block.find(text) if text is not None else None
    manifest = doc.backups.read(doc.manifest)
    if not found:
        if manifest is not None and not plan.dry:
            doc.backups.remove(doc.manifest)
        return plan.add("unchanged", doc.path, f"no {doc.what.removeprefix('the ')}" if text is not None else "absent")
    if found[2] == "edited":
        return plan.add("kept", doc.path, f"{doc.what} was edited since install; remove it yourself if you no "
                        "longer want it")
    if keep:
        return plan.add("kept", doc.path, f"{doc.what} is still used by {keep}")
    sep = manifest.get("separator") if isinstance(manifest, dict) else None
    rest = formats.remove_block(text, found[0], found[1], sep)
    original = None
    if isinstance(manifest, dict) and isinstance(manifest.get("original_b64"), str):
        try:
            original = base64.b64decode(manifest["original_b64"])
        except ValueError:
            original = None
    existed = manifest.get("existed", True) if isinstance(manifest, dict) else True
    mode = manifest.get("mode") if isinstance(manifest, dict) else None
    removing = f"{plan.tense('removed', 'remove')} {doc.what}"
    if not existed and not rest.strip():
        how = "delete"
    elif original is not None and rest.encode("utf-8") == original:
        how = "restore"
    else:
        how = "write"

    def apply():
        if how == "delete":
            os.unlink(os.path.realpath(doc.path))
        elif how == "restore":
            write_atomic(doc.path, original, mode if isinstance(mode, int) else None)
        else:
            write_atomic(doc.path, rest.encode("utf-8"))
        doc.backups.remove(doc.manifest)

    if how == "delete":
        return plan.add("removed", doc.path, f"install created it ({removing})", apply)
    if how == "restore":
        return plan.add("restored", doc.path, f"{removing}, original bytes back", apply)
    return plan.add("updated", doc.path, removing, apply)
