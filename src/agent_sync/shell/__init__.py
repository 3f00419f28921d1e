"""Which paths a shell command would write, and whether it is a repository-wide destructive git command.

Used by the PreToolUse hook when the tool is a shell (Bash or PowerShell).  This is a static, best-effort
reading of the command text; it never runs anything.  The contract:

* ``writes`` lists the paths a command would create, modify or delete, *as written* (quotes removed,
  ``~``, ``$VAR`` and glob characters left unexpanded), with a preceding ``cd DIR`` / ``pushd DIR`` /
  ``git -C DIR`` of the same command applied.  Relative paths stay relative (the caller resolves them
  against the command's cwd), absolute ones stay absolute.  Braces and globs are not expanded; a
  destination that is certainly a directory (``mv a b dir/``, ``cp -t dir a``) is reported as
  ``dir/a``, ``dir/b``.  ``mkdir`` / ``install -d`` / ``New-Item -ItemType Directory`` write no file.  A
  path may name a directory (``rm -r build``, ``git checkout -- src/``); callers should treat a written
  directory as covering what is under it.  Words whose value cannot be known statically (``$(...)``,
  backticks, ``$((...))``) are dropped, as are writes under ``/dev/``.  Codex's ``apply_patch`` /
  ``applypatch`` writes the paths of its patch (see :func:`patch_paths`).
* ``destructive`` lists ``(kind, command text)`` for repository-wide destructive git commands.
* ``maybe_branch_switch`` lists the ``X`` of ``git checkout X`` without ``--``: the caller decides
  (an existing file -> a path write, otherwise a branch switch).
* ``unparsed`` is True (with empty lists) when the text cannot be parsed (unbalanced quotes or
  parentheses, a redirection without a target, absurd nesting, too much work); callers fail open.
* ``error`` is None, or, with ``unparsed``, a one-line description of an unexpected internal error (a bug:
  ``"<ExceptionType>: <message> at <file>:<line>"``) for the caller to log.

Fails open, by design (reports nothing): commands whose effects depend on data (``python x.py``,
``make``, ``npm``, ``git apply``, ``git merge/pull/rebase``, ``find -delete``, ``xargs`` fed from stdin,
``patch`` without a target file), ``${x:-$(cmd)}`` defaults, ``find -execdir``, paths built from command
substitution, and a ``cd`` to an unknowable directory (relative writes after it are dropped).  Only the
first 100 KB of a command are analysed.

Layout: ``bash`` and ``powershell`` (lexers, and walkers that cut text into simple commands),
``commands`` (the command table, and the analyzer that dispatches to it), ``git``, ``patch`` (Codex
patches), ``common`` (limits, option parsing, declarative command specs).  To keep a hook process cheap,
submodules are imported on first use: a plain bash command loads ``common``, ``bash`` and ``commands``;
``git``, ``powershell`` and ``patch`` only when a command needs them.
"""

from __future__ import annotations

from .common import MAX_INPUT, UNKNOWN, ParseError

__all__ = ["ShellAnalysis", "analyze_bash", "analyze_powershell", "patch_paths"]


class ShellAnalysis:
    """What a command would do to the tree. A plain class: `dataclasses` costs the hook path ~7 ms."""

    __slots__ = ("writes", "destructive", "maybe_branch_switch", "unparsed", "error")

    def __init__(self, writes=None, destructive=None, maybe_branch_switch=None, unparsed: bool = False,
                 error: str | None = None):
        self.writes: list[str] = list(writes or [])
        self.destructive: list[tuple[str, str]] = list(destructive or [])
        self.maybe_branch_switch: list[str] = list(maybe_branch_switch or [])
        self.unparsed = unparsed
        self.error = error

    def __eq__(self, other):
        return isinstance(other, ShellAnalysis) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"ShellAnalysis({fields})"


def analyze_bash(command: str, *, start: str = "", is_dir=None) -> ShellAnalysis:
    """What a Bash command line would write, and whether it is a repository-wide destructive git command.

    `start` is the command's directory relative to the top of its working tree ("" at the top): relative
    writes then come back relative to the top, and `.` below the top is not the whole repository. `is_dir`,
    if given, tells whether such a path is an existing directory (`cp x src` writes `src/x`).
    Never raises: anything that cannot be parsed yields ``ShellAnalysis(unparsed=True)``; an internal error
    yields ``ShellAnalysis(unparsed=True, error=...)``.
    """
    return _analyze(command, "run_text", start, is_dir)


def analyze_powershell(command: str, *, start: str = "", is_dir=None) -> ShellAnalysis:
    """The PowerShell counterpart of :func:`analyze_bash`, for simple cmdlet and redirection cases.

    Never raises: as :func:`analyze_bash`.
    """
    return _analyze(command, "ps_run", start, is_dir)


def patch_paths(text) -> list[str]:
    """Every path a Codex ``apply_patch`` patch writes, in order, without duplicates, as written (a move
    writes both paths); ``[]`` when ``text`` holds no patch.  See :func:`agent_sync.shell.patch.patch_paths`.
    """
    from .patch import patch_paths

    return patch_paths(text)


def _prepare(command) -> str | None:
    if isinstance(command, bytes | bytearray):
        command = bytes(command[: MAX_INPUT * 4]).decode("utf-8", "replace")
    if not isinstance(command, str):
        return None
    if len(command) > MAX_INPUT:
        command = command[:MAX_INPUT]
        cut = command.rfind("\n")
        if cut > 0:
            command = command[:cut]
    return command.replace("\r\n", "\n").replace(UNKNOWN, "")


def _analyze(command, run: str, start: str, is_dir) -> ShellAnalysis:
    try:
        text = _prepare(command)
        if text is None:
            return ShellAnalysis(unparsed=True)
        from .commands import Analyzer

        an = Analyzer(is_dir)
        getattr(an, run)(text, start)
        return ShellAnalysis(an.writes, an.destructive, an.maybe)
    except (ParseError, RecursionError):  # the text is malformed, too deep or too much work: fail open
        return ShellAnalysis(unparsed=True)
    except Exception as exc:  # a bug: fail open too, but say so, so that the caller can log it
        try:
            error = _describe(exc)
        except Exception:
            error = type(exc).__name__
        return ShellAnalysis(unparsed=True, error=error)


def _describe(exc: BaseException) -> str:
    """``"<ExceptionType>: <message> at <file>:<line>"`` on one line, at the innermost frame inside this
    package (the file relative to ``agent_sync``)."""
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    place = "?"
    tb = exc.__traceback__
    while tb is not None:
        filename = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if filename.startswith(here + os.sep):
            place = f"{os.path.relpath(filename, os.path.dirname(here))}:{tb.tb_lineno}"
        tb = tb.tb_next
    message = " ".join(str(exc).split())
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{type(exc).__name__}: {message} at {place}"
