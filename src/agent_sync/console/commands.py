"""The operator command line: the original console's commands, each one an operation declaration
(`core.operations`) with its parameters filled in from what was typed. Nothing is validated, run or
rendered here: `OperatorSession.run` does that through `validate` and `invoke`, like every front end.

    send <to> <message>             send (to an agent id or name, a role, or all)
    directive <to|all> <message>    directive (one directed copy per agent: its Stop hook holds its turn)
    lock <path> [reason]            lock (a path, directory, glob, or resource:NAME)
    unlock <path>                   unlock --force (the operator may break anyone's lock)
    task new <title> [:: details]   create-task
    task done <task>                complete-task --force
    task block <task> :: <reason>   block-task --force
    decision <text>                 decision
    status                          status
    msgs [N]                        messages (the N newest, all agents)
    help, quit

Quotes group words (`send "my agent" hello`); a message or reason is the rest of the line as typed.
"""

import os

from agent_sync.errors import UsageError

# (command, usage, the operation it runs)
COMMANDS = (
    ("send", "send <to> <message>", "send"),
    ("directive", "directive <to|all> <message>", "directive"),
    ("lock", "lock <path> [reason]", "lock"),
    ("unlock", "unlock <path>", "unlock"),
    ("task", "task new <title> [:: details] | task done <task> | task block <task> :: <reason>", None),
    ("decision", "decision <text>", "decision"),
    ("status", "status", "status"),
    ("msgs", "msgs [N]", "messages"),
    ("help", "help", None),
    ("quit", "quit", None),
)
NAMES = tuple(c[0] for c in COMMANDS)
USAGE = {c[0]: c[1] for c in COMMANDS}
TASK_SUBCOMMANDS = (("new", "task new <title> [:: details]", "create-task"),
                    ("done", "task done <task>", "complete-task"),
                    ("block", "task block <task> :: <reason>", "block-task"))
ALIASES = {"?": "help", "exit": "quit", "q": "quit"}
RESOURCE = "resource:"


class Command:
    """What a line asks for: an operation and its parameter values, or a local action (help, quit)."""

    __slots__ = ("op", "values", "local")

    def __init__(self, op: str | None = None, values: dict | None = None, local: str | None = None):
        self.op, self.values, self.local = op, values or {}, local

    def __repr__(self) -> str:
        return f"Command({self.op or self.local!r}, {self.values!r})"


def take(text: str) -> tuple[str, str]:
    """The first word of `text` (quotes group words) and the rest, left-stripped."""
    text = text.lstrip()
    if not text:
        return "", ""
    if text[0] in "'\"":
        end = text.find(text[0], 1)
        if end > 0:
            return text[1:end], text[end + 1:].lstrip()
    word, _, rest = text.partition(" ")
    return word, rest.lstrip()


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _target(path: str) -> dict:
    if path.startswith(RESOURCE) and len(path) > len(RESOURCE):
        return {"resource": [path[len(RESOURCE):]]}
    return {"targets": [path]}


def _usage(name: str) -> UsageError:
    return UsageError(f"usage: {USAGE[name]}")


def parse(line: str) -> Command | None:
    """The command a line asks for; None for an empty line. Raises UsageError naming the usage."""
    name, rest = take(line)
    if not name:
        return None
    name = ALIASES.get(name, name)
    if name in ("help", "quit"):
        return Command(local=name)
    if name in ("send", "directive"):
        to, message = take(rest)
        message = unquote(message)
        if not to or not message:
            raise _usage(name)
        return Command(name, {"to": to, "message": message})
    if name == "lock":
        path, reason = take(rest)
        if not path:
            raise _usage(name)
        return Command("lock", {**_target(path), "reason": unquote(reason)})
    if name == "unlock":
        path, extra = take(rest)
        if not path or extra:
            raise _usage(name)
        return Command("unlock", {**_target(path), "force": True})
    if name == "task":
        return _task(rest)
    if name == "decision":
        text = unquote(rest)
        if not text:
            raise _usage(name)
        return Command("decision", {"text": text})
    if name == "status":
        return Command("status", {})
    if name == "msgs":
        return Command("messages", {"limit": rest.strip() or 20})
    raise UsageError(f"unknown command {name!r}; commands: {', '.join(NAMES)} (help explains them)")


def _task(rest: str) -> Command:
    sub, rest = take(rest)
    ref, _, extra = rest.partition("::")
    ref, extra = unquote(ref), unquote(extra)
    if sub == "new" and ref:
        return Command("create-task", {"title": ref, "description": extra or None})
    if sub == "done" and ref and not extra:
        return Command("complete-task", {"task": ref, "force": True})
    if sub == "block" and ref and extra:
        return Command("block-task", {"task": ref, "reason": extra, "force": True})
    raise _usage("task")


def help_text() -> str:
    """Each command, its usage and what it does (the operation's own help)."""
    from agent_sync.core.operations import by_name

    ops = by_name()
    lines = ["operator commands:"]
    for name, usage, op_name in COMMANDS:
        if name == "task":
            lines += [f"  {usage:<32} {ops[task_op].help}" for _sub, usage, task_op in TASK_SUBCOMMANDS]
            continue
        what = {"help": "this list", "quit": "leave (your locks are released)"}.get(name) or ops[op_name].help
        lines.append(f"  {usage:<32} {what}")
    lines.append("keys: l lock / u unlock the selected row, m message the selected agent, d complete the "
                 "selected task, / filter the feed, tab next pane, escape the command line, ctrl+q quit")
    return "\n".join(lines)


# -- completion ----------------------------------------------------------------------------------------------

class Vocabulary:
    """What completes: agent names and roles, unfinished tasks, lock targets and known files, and the
    directory entries below `cwd`."""

    def __init__(self, cwd: str = "."):
        self.cwd = cwd
        self.names: list[str] = []
        self.roles: list[str] = []
        self.tasks: list[tuple[int, str]] = []
        self.held: list[str] = []
        self.files: list[str] = []

    def paths(self, partial: str, limit: int = 2000) -> list[str]:
        """Entries of the directory `partial` points into, directories ending in "/"."""
        folder, _, start = partial.rpartition("/")
        where = os.path.join(self.cwd, folder) if folder else self.cwd
        found = []
        try:
            with os.scandir(where) as entries:
                for n, entry in enumerate(entries):
                    if n >= limit:
                        break
                    if entry.name == ".git" or not entry.name.startswith(start):
                        continue
                    slash = "/" if entry.is_dir() else ""
                    found.append((f"{folder}/" if folder else "") + entry.name + slash)
        except OSError:
            return []
        return sorted(found)


def _quoted(word: str) -> str:
    return f'"{word}"' if " " in word else word


def _first(partial: str, candidates, *, fold: bool = True) -> str | None:
    want = partial.lower() if fold else partial
    for candidate in candidates:
        have = candidate.lower() if fold else candidate
        if have.startswith(want) and candidate != partial:
            return candidate
    return None


def suggest(value: str, vocab: Vocabulary) -> str | None:
    """The whole line completed, or None: the command, then a recipient, a path or a task as the command
    takes it."""
    if not value or value[0].isspace():
        return None
    head, space, rest = value.partition(" ")
    if not space:
        found = _first(head, NAMES, fold=False)
        return None if found is None else found + ("" if found in ("status", "msgs", "help", "quit") else " ")
    if head in ("send", "directive") and " " not in rest:
        found = _first(rest, [_quoted(w) for w in [*vocab.names, *vocab.roles, "all"]])
        return None if found is None else f"{head} {found} "
    if head in ("lock", "unlock") and " " not in rest and rest:
        known = vocab.held if head == "unlock" else [*vocab.files, *vocab.held]
        found = (_first(rest, [*dict.fromkeys(known)], fold=False)
                 or _first(rest, vocab.paths(rest), fold=False))
        return None if found is None else f"{head} {found}"
    if head == "task":
        sub, space, ref = rest.partition(" ")
        if not space:
            found = _first(sub, [s[0] for s in TASK_SUBCOMMANDS], fold=False)
            return None if found is None else f"task {found} "
        if sub in ("done", "block") and ref and "::" not in ref:
            if ref.startswith("#"):
                found = _first(ref, [f"#{i}" for i, _ in vocab.tasks], fold=False)
            else:
                found = _first(ref, [title for _, title in vocab.tasks])
            return None if found is None else f"task {sub} {found}" + (" :: " if sub == "block" else "")
    return None
