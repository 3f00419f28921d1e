"""The command line, built from the operation declarations (`core.operations`) plus the front-end commands
(install, doctor, demo, mcp, console, watch, migrate, hook) declared the same way in `cli.commands`.

A command parses its flags into the declared parameters, lets the core validate and run it, and prints the
declared rendering (or JSON). Errors are one line: exit 1 for bad input, 2 for a conflict with another agent.
"""

import argparse
import json
import os
import sys

from agent_sync import __version__
from agent_sync.core import operations as ops
from agent_sync.errors import AgentSyncError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 1 (exit 2 means a conflict with another agent)."""

    def error(self, message):
        message = " ".join(str(message).split())  # one line, whatever the input held
        self.exit(1, f"agent-sync: error: {message} (see: {self.prog} --help)\n")


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
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _id(text: str) -> int:
    value = _int(text.strip().lstrip("#"))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a message id: {text!r}")
    return value


# Turning command-line text into numbers is the CLI's part; limits and choices are checked by the core.
_TYPES = {"float": _float, "int": _int, "id": _id}


def _add_param(parser: argparse.ArgumentParser, param: ops.Param) -> None:
    """One declared parameter as an argparse argument."""
    help_text = param.help or None
    if param.kind == "bool":
        parser.add_argument(param.cli, dest=param.name, action="store_true", help=help_text)
        return
    kwargs = {"help": help_text, "metavar": param.metavar, "type": _TYPES.get(param.kind)}
    if param.positional:
        if param.many:
            kwargs["nargs"] = "*"
        elif not param.required:
            kwargs["nargs"] = "?"
        parser.add_argument(param.name, **{k: v for k, v in kwargs.items() if v is not None or k == "help"})
        return
    flags = [param.cli] + ([param.short] if param.short else [])
    if param.many:
        kwargs["action"] = "append"
    if param.required:
        kwargs["required"] = True
    if param.choices is not None:
        kwargs["choices"] = param.choices
    parser.add_argument(*flags, dest=param.name, **{k: v for k, v in kwargs.items() if v is not None})


def build_parser(operations=None, only: str | None = None) -> Parser:
    """The whole parser; with `only`, just that command's subparser (building all ~45 costs a command
    about as much as its own work)."""
    from agent_sync.cli import commands

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    parser = Parser(prog="agent-sync", description="Coordinate several AI coding agents working in one repository.")
    parser.add_argument("--version", action="version", version=f"agent-sync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    declared = list(operations or ops.catalog()) + commands.front_end()
    if any(op.name == only for op in declared):
        declared = [op for op in declared if op.name == only]
    for op in declared:
        parents = [common] if op.text is not None else []  # front-end commands declare their own --json
        p = sub.add_parser(op.name, help=op.help, description=op.description, parents=parents)
        for param in op.params:
            _add_param(p, param)
        p.set_defaults(operation=op)
    sub.add_parser("hook", help="hook entry points (agent-sync hook [--agent NAME] EVENT, JSON on stdin)")
    return parser


def _bare_flags(argv: list[str], op: ops.Operation) -> list[str]:
    """A flag declared with a bare value (`--wait` alone) takes it when no number follows."""
    bare = {p.cli: p.bare for p in op.params if p.bare is not None}
    if not bare:
        return argv
    out = []
    for i, arg in enumerate(argv):
        if arg in bare:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            try:
                float(nxt) if nxt is not None else None
                if nxt is not None:
                    out.append(arg)
                    continue
            except ValueError:
                pass
            out.append(f"{arg}={bare[arg]:g}")
            continue
        out.append(arg)
    return out


def parser_commands(parser: Parser) -> dict:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _parse(parser: Parser, argv: list[str]) -> argparse.Namespace:
    """Parse a command's own flags intermixed with its targets (`lock a.py --reason x b.py`), which plain
    argparse refuses once a positional list has been consumed."""
    commands = parser_commands(parser)
    if argv and argv[0] in commands and argv[0] != "hook":
        command = commands[argv[0]]
        op = command.get_default("operation")
        rest = _bare_flags(argv[1:], op) if op is not None else argv[1:]
        if "--" not in rest:  # intermixing mishandles "--"
            args = command.parse_intermixed_args(rest)
        else:
            args = command.parse_args(rest)
        args.command = argv[0]
        return args
    return parser.parse_args(argv)


def _values(op: ops.Operation, args: argparse.Namespace) -> dict:
    values = {p.name: getattr(args, p.name, None) for p in op.params}
    if op.name == "append" and values.get("content") is None:
        values["content"] = _stdin_text()
    return values


def _stdin_text() -> str:
    from agent_sync.errors import UsageError

    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("give --content, or pipe the text to append on stdin")
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("stdin is not UTF-8 text; append takes text only") from None


def _on_wait(place: int, behind: list[str]) -> None:
    from agent_sync.render import one

    who = ", ".join(one(b, 40) for b in behind) or "the queue"
    print(f"agent-sync: waiting behind {who}; place {place} in the queue", file=sys.stderr, flush=True)


def execute(op: ops.Operation, values: dict, *, as_json: bool = False) -> int:
    """Validate, run and print one operation; returns the exit code."""
    args = ops.validate(op, values)
    if op.context:
        from agent_sync.core.context import open_context

        with open_context() as ctx:
            for note in getattr(ctx.store, "notes", ()):
                print(f"agent-sync: {note}", file=sys.stderr)
            ctx.on_wait = _on_wait
            data = ops.invoke(op, args, ctx)
    else:
        data = ops.invoke(op, args)
    if isinstance(data, int) and not isinstance(data, bool):
        return data  # a front-end command that printed its own answer
    if as_json:
        payload = {op.wrap: data} if op.wrap and isinstance(data, list) else data
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    elif op.text is not None:
        text = op.text(data, args)
        if text:
            print(text)
    return 0


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

    from agent_sync.render import one

    signal.signal(signal.SIGTERM, _terminate)
    try:
        parser = build_parser(only=argv[0] if argv else None)
        args = _parse(parser, argv)
        op = getattr(args, "operation", None)
        if op is None:
            parser.print_help()
            return 1
        return execute(op, _values(op, args), as_json=getattr(args, "json", False))
    except AgentSyncError as exc:
        print(f"agent-sync: {one(str(exc), None)}", file=sys.stderr)
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
