"""The command tree: each command parses its flags, calls one core operation and renders the result."""

import argparse
import json
import os
import sys

from agent_sync import __version__
from agent_sync.cli import render
from agent_sync.errors import AgentSyncError, UsageError

DEFAULT_WAIT_SECONDS = 300.0
MAX_INT = 2**63 - 1  # SQLite's integers
WAIT_FLAGS = ("--wait",)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 1 (exit 2 means a conflict with another agent)."""

    def error(self, message):
        message = " ".join(str(message).split())  # one line, whatever the input held
        self.exit(1, f"agent-sync: error: {message} (see: {self.prog} --help)\n")


def _context(args, *, beat: bool = False):
    """Open the store for this command. Every command is the caller's heartbeat: the core operations that
    write beat inside their own transaction; read-only commands pass `beat` to get one here."""
    from agent_sync.core import presence
    from agent_sync.core.context import open_context
    from agent_sync.errors import StoreBusy

    ctx = open_context()
    if beat:
        try:
            presence.heartbeat(ctx)
        except StoreBusy:
            pass  # a read still works; the next command beats
    return ctx


def _emit(args, data, text: str | None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif text:
        print(text)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if abs(value) > MAX_INT:
        raise argparse.ArgumentTypeError(f"out of range: {text}")
    return value


def _message_id(text: str) -> int:
    value = _int(text.lstrip("#"))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a message id: {text!r}")
    return value


# -- handlers --------------------------------------------------------------------------------------------

def cmd_init(args):

    ctx = _context(args, beat=True)
    _emit(args, {"path": ctx.store.path, "schema_version": ctx.store.schema_version()},
          f"agent-sync state ready at {ctx.store.path}")


def cmd_path(args):
    from agent_sync import paths

    root = paths.find_root()
    _emit(args, {"root": root, "state": paths.db_path(root)}, paths.db_path(root))


def cmd_config(args):
    from agent_sync import paths
    from agent_sync.config import SPECS, load_settings

    root = paths.find_root()
    settings = load_settings(root)
    data = {k: {"value": settings.values[k], "source": settings.sources[k], "help": SPECS[k].help} for k in SPECS}
    _emit(args, data, render.config(data))


def cmd_whoami(args):
    from agent_sync.core import presence

    ctx = _context(args, beat=True)
    data = presence.whoami(ctx)
    _emit(args, data, render.whoami(data))


def cmd_register(args):
    from agent_sync.core import presence

    data = presence.register(_context(args), args.name, args.role)
    _emit(args, data, f"registered {render.c(data['name'])} ({data['id']})"
          + (f", role {render.c(data['role'])}" if data["role"] else ""))


def cmd_heartbeat(args):
    from agent_sync.core import presence

    data = presence.heartbeat(_context(args))
    _emit(args, data, f"{render.c(data['name'])} is {data['status']}")


def cmd_status(args):
    from agent_sync.core import status

    ctx = _context(args)
    if args.compact:
        text = status.compact(ctx)
        _emit(args, {"compact": text}, text)
        return
    data = status.full(ctx)
    _emit(args, data, render.status(data))


def cmd_gc(args):
    from agent_sync.core import presence

    data = presence.gc(_context(args, beat=True), args.keep_days)
    _emit(args, data, render.gc(data))


def cmd_lock(args):
    from agent_sync.core import locks

    data = locks.lock(_context(args), args.targets, resources=args.resource, shared=args.shared,
                      reason=args.reason, ttl_minutes=args.ttl, wait=args.wait)
    _emit(args, {"locks": data}, "\n".join(f"locked {render.lock_line(v)}" for v in data))


def cmd_unlock(args):
    from agent_sync.core import locks

    if not args.all and not args.targets and not args.resource:
        raise UsageError("name what to unlock, or use --all")
    data = locks.unlock(_context(args), args.targets, resources=args.resource, everything=args.all, force=args.force)
    text = "\n".join(f"unlocked {render.c(v['target'])}" + (f" (held by {render.c(v['holder_name'])})"
                                                           if args.force else "") for v in data)
    _emit(args, {"unlocked": data}, text or "you held no locks")


def cmd_renew(args):
    from agent_sync.core import locks

    if not args.all and not args.targets and not args.resource:
        raise UsageError("name what to renew, or use --all")
    data = locks.renew(_context(args), args.targets, resources=args.resource, everything=args.all,
                       ttl_minutes=args.ttl)
    _emit(args, {"locks": data}, "\n".join(f"renewed {render.lock_line(v)}" for v in data))


def cmd_locks(args):
    from agent_sync.core import locks

    data = locks.list_locks(_context(args, beat=True), include_all=args.all)
    _emit(args, {"locks": data}, render.locks(data))


def cmd_create_task(args):
    from agent_sync.core import tasks

    data = tasks.create(_context(args), args.title, description=args.description or "", files=args.file,
                        priority=args.priority, depends_on=args.depends_on)
    _emit(args, data, f"created {render.task_line(data)}")


def cmd_add_dependency(args):
    from agent_sync.core import tasks

    data = tasks.add_dependency(_context(args), args.task, args.dependency)
    _emit(args, data, f"#{data['id']} now waits on " + ", ".join(f"#{i}" for i in data["waiting_on"])
          if data["waiting_on"] else f"#{data['id']} dependency recorded (already finished)")


def cmd_tasks(args):
    from agent_sync.core import tasks

    statuses = [args.status] if args.status else None
    data = tasks.list_tasks(_context(args, beat=True), statuses)
    _emit(args, {"tasks": data}, render.tasks(data))


def cmd_task(args):
    from agent_sync.core import tasks

    data = tasks.show(_context(args, beat=True), args.task)
    _emit(args, data, render.task_detail(data))


def cmd_claim_task(args):
    from agent_sync.core import tasks

    data = tasks.claim(_context(args), args.task, lock_files=args.lock, force=args.force)
    _emit(args, data, f"claimed {render.task_line(data)}" + (" and locked its files" if args.lock else ""))


def cmd_claim_next(args):
    from agent_sync.core import tasks

    data = tasks.claim_next(_context(args), lock_files=args.lock)
    _emit(args, data, f"claimed {render.task_line(data)}")


def cmd_complete_task(args):
    from agent_sync.core import tasks

    data = tasks.complete(_context(args), args.task, force=args.force)
    text = f"completed {render.task_line(data)}"
    if data["unblocked"]:
        text += "\nunblocked: " + ", ".join(f"#{t['id']} {render.c(t['title'])}" for t in data["unblocked"])
    _emit(args, data, text)


def _simple_task_command(action):
    def handler(args):
        from agent_sync.core import tasks

        ctx = _context(args)
        if action == "block":
            data = tasks.block(ctx, args.task, args.reason, force=args.force)
        elif action == "reopen":
            data = tasks.reopen(ctx, args.task)
        else:
            data = getattr(tasks, action)(ctx, args.task, force=args.force)
        _emit(args, data, f"{render.task_line(data)}")

    return handler


def cmd_send(args):
    from agent_sync.core import messages

    data = messages.send(_context(args), args.to, args.message, reply_to=args.reply_to, urgent=args.urgent)
    _emit(args, data, f"sent #{data['id']} to {render.c(data['to'])}")


def cmd_inbox(args):
    from agent_sync.core import messages

    data = messages.inbox(_context(args), include_all=args.all, wait=args.wait)
    _emit(args, {"messages": data}, render.messages(data) or "no unread messages")


def cmd_read_message(args):
    from agent_sync.core import messages

    data = messages.read_message(_context(args), args.id)
    _emit(args, data, render.messages([data]))


def cmd_ack(args):
    from agent_sync.core import messages

    data = messages.ack(_context(args), args.id)
    _emit(args, data, f"acknowledged #{data['id']}")


def cmd_thread(args):
    from agent_sync.core import messages

    data = messages.thread(_context(args, beat=True), args.id)
    _emit(args, {"messages": data}, render.messages(data))


def cmd_decision(args):
    from agent_sync.core import journal

    data = journal.decide(_context(args), args.text)
    _emit(args, data, f"recorded decision #{data['id']}")


def cmd_decisions(args):
    from agent_sync.core import journal

    if args.limit is not None and args.limit <= 0:
        raise UsageError("--limit must be positive")
    data = journal.decisions(_context(args, beat=True), args.limit)
    _emit(args, {"decisions": data}, render.decisions(data) or "no decisions yet")


def cmd_log(args):
    from agent_sync.core import journal

    text = args.text or args.message
    if not text:
        raise UsageError("give the entry as an argument or with --message")
    data = journal.log(_context(args), text, type_=args.type, file=args.file)
    _emit(args, data, f"logged #{data['id']}")


def cmd_activity(args):
    from agent_sync.core import journal

    data = journal.activity(_context(args, beat=True), since=args.since, agent=args.agent, file=args.file, limit=args.limit)
    _emit(args, {"activity": data}, render.activity(data) or "no activity")


def cmd_append(args):
    from agent_sync.core import journal

    if args.content is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("give --content, or pipe the text to append on stdin")
        try:
            content = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("stdin is not UTF-8 text; append takes text only") from None
        if "\x00" in content:
            raise UsageError("stdin contains NUL bytes; append takes text only")
    else:
        content = args.content
    data = journal.append(_context(args), args.file, content, wait=args.wait, newline=not args.no_newline)
    _emit(args, data, f"appended {data['bytes']} bytes to {data['file']}")


def cmd_demo(args):
    from agent_sync.demo import run_demo

    return run_demo(keep=args.keep)


def cmd_install(args):
    from agent_sync import install

    return install.cli_install(args)


def cmd_uninstall(args):
    from agent_sync import install

    return install.cli_uninstall(args)


def cmd_doctor(args):
    from agent_sync import install

    return install.cli_doctor(args)


# -- the parser ------------------------------------------------------------------------------------------

def build_parser() -> Parser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    parser = Parser(prog="agent-sync", description="Coordinate several AI coding agents working in one repository.")
    parser.add_argument("--version", action="version", version=f"agent-sync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def add(name, handler, help_text, **kwargs):
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common], **kwargs)
        p.set_defaults(handler=handler)
        return p

    # state and identity
    add("init", cmd_init, "create the database (every command does this on first use)")
    add("path", cmd_path, "print where the shared state lives")
    add("config", cmd_config, "show each effective setting and where it came from")
    add("whoami", cmd_whoami, "show this agent's id and where it came from")
    p = add("register", cmd_register, "name this agent (and give it a role)")
    p.add_argument("--name", required=True)
    p.add_argument("--role")
    add("heartbeat", cmd_heartbeat, "mark this agent active now")
    p = add("status", cmd_status, "agents, tasks, locks, messages and recent activity")
    p.add_argument("--compact", action="store_true", help="the short brief injected into an agent's context")
    p = add("gc", cmd_gc, "drop expired locks; with --keep-days, prune old activity and read messages")
    p.add_argument("--keep-days", type=_float, metavar="N")

    # locks
    p = add("lock", cmd_lock, "lock files, directories, globs or named resources (all or none)")
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("--resource", action="append", default=[], metavar="KEY", help="a named resource (repeatable)")
    p.add_argument("--shared", action="store_true", help="a shared lock: other shared holders may coexist")
    p.add_argument("--reason", default="")
    p.add_argument("--ttl", type=_float, metavar="MIN", help="minutes until the lock expires (default 60)")
    p.add_argument("--wait", type=_float, metavar="SEC",
                   help=f"queue (first come, first served) up to SEC seconds; bare --wait waits {DEFAULT_WAIT_SECONDS:g}s")
    p = add("unlock", cmd_unlock, "release locks (owner only, unless --force)")
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("--resource", action="append", default=[], metavar="KEY")
    p.add_argument("--all", action="store_true", help="release every lock you hold")
    p.add_argument("--force", action="store_true", help="break another agent's lock")
    p = add("renew", cmd_renew, "extend locks you still hold")
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("--resource", action="append", default=[], metavar="KEY")
    p.add_argument("--all", action="store_true")
    p.add_argument("--ttl", type=_float, metavar="MIN")
    p = add("locks", cmd_locks, "list live locks")
    p.add_argument("--all", action="store_true", help="include expired locks and those of inactive holders")

    # tasks
    p = add("create-task", cmd_create_task, "create a task")
    p.add_argument("title")
    p.add_argument("--description")
    p.add_argument("--file", action="append", default=[], metavar="PATH")
    p.add_argument("--priority", type=_int, default=0)
    p.add_argument("--depends-on", action="append", default=[], metavar="TASK")
    p = add("add-dependency", cmd_add_dependency, "make TASK wait on DEPENDENCY")
    p.add_argument("task")
    p.add_argument("dependency")
    p = add("tasks", cmd_tasks, "list tasks")
    p.add_argument("--status", choices=["open", "in_progress", "blocked", "done", "cancelled"])
    p = add("task", cmd_task, "show one task")
    p.add_argument("task")
    p = add("claim-task", cmd_claim_task, "claim a task by id or title")
    p.add_argument("task")
    p.add_argument("--lock", action="store_true", help="also lock the task's files (all or nothing)")
    p.add_argument("--force", action="store_true", help="take it even from an active owner or before its dependencies")
    p = add("claim-next", cmd_claim_next, "claim the highest-priority ready task")
    p.add_argument("--lock", action="store_true")
    p = add("complete-task", cmd_complete_task, "mark a task done")
    p.add_argument("task")
    p.add_argument("--force", action="store_true")
    p = add("block-task", _simple_task_command("block"), "mark a task blocked")
    p.add_argument("task")
    p.add_argument("--reason", required=True)
    p.add_argument("--force", action="store_true")
    for name, action, text in (("release-task", "release", "give a task back to the board"),
                               ("cancel-task", "cancel", "cancel a task")):
        p = add(name, _simple_task_command(action), text)
        p.add_argument("task")
        p.add_argument("--force", action="store_true")
    p = add("reopen-task", _simple_task_command("reopen"), "reopen a done, cancelled or blocked task")
    p.add_argument("task")

    # messages
    p = add("send", cmd_send, "send a message to an agent id, name, role, or all")
    p.add_argument("--to", required=True)
    p.add_argument("--message", "-m", required=True)
    p.add_argument("--reply-to", type=_message_id, metavar="ID")
    p.add_argument("--urgent", action="store_true", help="the recipient's Stop hook holds its turn until it sees it")
    p = add("inbox", cmd_inbox, "unread messages addressed to you")
    p.add_argument("--all", action="store_true", help="read ones too")
    p.add_argument("--wait", type=_float, metavar="SEC", help="block until a message arrives")
    p = add("read-message", cmd_read_message, "show a message and mark it read")
    p.add_argument("id", type=_message_id)
    p = add("ack", cmd_ack, "acknowledge a message")
    p.add_argument("id", type=_message_id)
    p = add("thread", cmd_thread, "show the conversation a message belongs to")
    p.add_argument("id", type=_message_id)

    # decisions and activity
    p = add("decision", cmd_decision, "record a shared decision")
    p.add_argument("text")
    p = add("decisions", cmd_decisions, "list decisions")
    p.add_argument("--limit", type=_int)
    p = add("log", cmd_log, "append an entry to the activity log")
    p.add_argument("text", nargs="?")
    p.add_argument("--message", "-m")
    p.add_argument("--type", default="note")
    p.add_argument("--file")
    p = add("activity", cmd_activity, "show the activity log")
    p.add_argument("--since", help="an age like 30m, 2h, 1d")
    p.add_argument("--agent")
    p.add_argument("--file")
    p.add_argument("--limit", type=_int, default=50)
    p = add("append", cmd_append, "append to a shared file atomically, under a lock")
    p.add_argument("file")
    p.add_argument("--content")
    p.add_argument("--wait", type=_float, metavar="SEC")
    p.add_argument("--no-newline", action="store_true")

    # integration
    p = add("install", cmd_install, "install the hooks, skill (and optionally a git pre-commit guard)")
    p.add_argument("--scope", choices=["project", "local", "user"], default="project")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--git-hook", action="store_true", help="also install the git pre-commit guard")
    p = add("uninstall", cmd_uninstall, "remove exactly what install added")
    p.add_argument("--scope", choices=["project", "local", "user"], default="project")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--git-hook", action="store_true")
    add("doctor", cmd_doctor, "check the installation end to end")
    p = add("demo", cmd_demo, "watch three agents coordinate in a throw-away repository")
    p.add_argument("--keep", action="store_true", help="keep the demo repository")
    sub.add_parser("hook", help="hook entry points (agent-sync hook EVENT, JSON on stdin)")
    return parser


def _expand_bare_wait(argv: list[str]) -> list[str]:
    """`--wait` alone means the default wait; `--wait=SEC` or `--wait SEC` give one."""
    out = []
    for i, arg in enumerate(argv):
        if arg in WAIT_FLAGS:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            try:
                float(nxt) if nxt is not None else None
                if nxt is not None:
                    out.append(arg)
                    continue
            except ValueError:
                pass
            out.append(f"{arg}={DEFAULT_WAIT_SECONDS:g}")
            continue
        out.append(arg)
    return out


def _parse(parser: Parser, argv: list[str]) -> argparse.Namespace:
    """Parse a command's own flags intermixed with its targets (`lock a.py --reason x b.py`), which plain
    argparse refuses once a positional list has been consumed."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if argv and argv[0] in commands and argv[0] != "hook" and "--" not in argv:  # intermixing mishandles "--"
        args = commands[argv[0]].parse_intermixed_args(argv[1:])
        args.command = argv[0]
        return args
    return parser.parse_args(argv)


def _log_unexpected(exc: BaseException) -> str:
    import traceback

    try:
        from agent_sync import paths

        directory = paths.state_dir(paths.find_root())
        if not os.path.isdir(directory):
            return "(no state directory to log to)"
        log_path = os.path.join(directory, "error.log")
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write("".join(traceback.format_exception(exc)))
        return log_path
    except Exception:
        return "(could not write a log)"


def _terminate(signum, frame):
    """SIGTERM unwinds like Ctrl-C, so a queued waiter leaves the queue on its way out."""
    raise KeyboardInterrupt


def run(argv: list[str]) -> int:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    parser = build_parser()
    args = _parse(parser, _expand_bare_wait(argv))
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        return args.handler(args) or 0
    except AgentSyncError as exc:
        print(f"agent-sync: {render.one(str(exc), None)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("agent-sync: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line, keep the details in a log
        where = _log_unexpected(exc)
        print(f"agent-sync: internal error: {type(exc).__name__}: {exc} (details in {where})", file=sys.stderr)
        return 3
