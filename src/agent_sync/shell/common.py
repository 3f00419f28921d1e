"""What the lexers and the command handlers share: limits, markers, option parsing, path joins, and the
declarative command specs (`Spec`) with the few generic functions that interpret them.

A handler is any callable ``handler(an, args, prefix, raw, stdin)``: ``an`` is the running
:class:`~agent_sync.shell.commands.Analyzer` (it records writes and runs nested commands), ``args`` the
words after the command name, ``prefix`` the current directory relative to the start (``""`` there),
``raw`` the command's source text, ``stdin`` the heredoc / here-string texts fed to it.  It may return a
new prefix (``cd``-like commands) or None.  A :class:`Spec` is such a callable described by data.
"""

from __future__ import annotations

import posixpath

MAX_INPUT = 100_000  # characters of a command that are analysed
MAX_DEPTH = 12  # nesting of $(...), backticks, bash -c, eval, heredoc scripts
MAX_WORK = 2_000_000  # characters lexed + commands analysed, across all nesting

UNKNOWN = "\x00"  # marks a part of a word whose value cannot be known statically
FOUND = "\x02found\x02"  # stands for the files `find ... -exec CMD {}` hands to CMD


class ParseError(Exception):
    """The text cannot be analysed (bad syntax, too deep, too much work): the caller fails open."""


# --------------------------------------------------------------------------- options


def getopt(args, short_req="", short_opt="", long_req=(), stop=False):
    """GNU-style option parsing.

    Returns ``(opts, operands, after)``: opts is a list of ``(name, value)`` ("-x" / "--long"),
    operands are the non-option words before ``--`` (or, with ``stop``, everything from the first
    operand on), ``after`` is the list after ``--`` or None.  Short options in ``short_req`` take a
    value (attached or the next word); in ``short_opt`` only an attached one.  Long options in
    ``long_req`` take a value (``--x=v`` or ``--x v``); other long options only ``--x=v``.
    """
    opts: list = []
    ops: list = []
    n = len(args)
    i = 0
    while i < n:
        a = args[i]
        if a == "--":
            return opts, ops, list(args[i + 1 :])
        if len(a) > 1 and a[0] == "-":
            if a[1] == "-":
                name, eq, val = a[2:].partition("=")
                if not eq and name in long_req:
                    i += 1
                    val = args[i] if i < n else ""
                    eq = "="
                opts.append(("--" + name, val if eq else None))
            else:
                j = 1
                while j < len(a):
                    ch = a[j]
                    if ch in short_req:
                        if j + 1 < len(a):
                            val = a[j + 1 :]
                        else:
                            i += 1
                            val = args[i] if i < n else ""
                        opts.append(("-" + ch, val))
                        break
                    if ch in short_opt:
                        opts.append(("-" + ch, a[j + 1 :]))
                        break
                    opts.append(("-" + ch, None))
                    j += 1
            i += 1
            continue
        if stop:
            return opts, list(args[i:]), None
        ops.append(a)
        i += 1
    return opts, ops, None


def names(opts) -> set:
    return {o for o, _ in opts}


def last(opts, *wanted):
    """The value of the last of the options ``wanted`` (None if absent or given without a value)."""
    val = None
    for o, v in opts:
        if o in wanted:
            val = v
    return val


# --------------------------------------------------------------------------- paths


def join(prefix: str, path: str) -> str:
    if not prefix or path.startswith(("/", "~", "$")):
        return path
    if UNKNOWN in prefix:
        return UNKNOWN
    return posixpath.normpath(prefix + "/" + path)


def base(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) or path


def quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def copy_into(an, opts, ops, prefix: str, srcs_written: bool) -> None:
    """``mv`` / ``cp`` / ``install`` / ``git mv``: the last operand (or ``-t DIR``) is the destination.

    A destination that is a directory (several sources, a trailing ``/``, ``.``/``..``, or an existing
    directory per ``an.is_dir``) receives ``dst/<basename of each source>``.
    """
    target = last(opts, "-t", "--target-directory")
    if target is not None:
        srcs, dst, is_dir = ops, target, True
    elif len(ops) >= 2:
        srcs, dst = ops[:-1], ops[-1]
        is_dir = (len(srcs) > 1 or dst.endswith("/") or base(dst) in (".", "..")
                  or (an.is_dir is not None and UNKNOWN not in dst and an.is_dir(join(prefix, dst))))
    else:
        return
    if srcs_written:
        for s in srcs:
            an.write(s, prefix)
    if is_dir:
        for s in srcs:
            if UNKNOWN not in s:
                an.write(posixpath.join(dst, base(s)), prefix)
    else:
        an.write(dst, prefix)


# --------------------------------------------------------------------------- declarative commands

RUN, WRITE, DEST, NONE = "run", "write", "dest", "none"  # what a Spec does with its operands


class Spec:
    """A command described by data: how its options parse, and what its operands are.

    ``operands`` is one of RUN (they are a command the wrapper runs, after ``skip`` leading ones), WRITE
    (each is a file written; ``skip`` leading ones are not, unless an option in ``keep_all`` is given),
    DEST (sources and a destination, as for ``cp``; ``srcs_written`` for ``mv``) or NONE.  The value of
    the last option in ``out`` is a file written.  The command does nothing we track when it has an
    option in ``quiet``, or (when ``needs`` is set) none of the options in ``needs``.  The value of the
    last option in ``chdir`` changes the directory.  With ``dash``, ``-`` (stdout) is not a file.  Without
    ``parse``, no options are parsed at all (``builtin CMD``).
    """

    __slots__ = ("operands", "short_req", "short_opt", "long_req", "quiet", "needs", "out", "chdir",
                 "skip", "keep_all", "dash", "srcs_written", "parse")

    def __init__(self, operands, short_req="", long_req=(), *, short_opt="", quiet=(), needs=(), out=(),
                 chdir=(), skip=0, keep_all=(), dash=False, srcs_written=False, parse=True):
        self.operands = operands
        self.short_req = short_req
        self.short_opt = short_opt
        self.long_req = tuple(long_req)
        self.quiet = frozenset(quiet)
        self.needs = frozenset(needs)
        self.out = tuple(out)
        self.chdir = tuple(chdir)
        self.skip = skip
        self.keep_all = frozenset(keep_all)
        self.dash = dash
        self.srcs_written = srcs_written
        self.parse = parse

    def __call__(self, an, args, prefix, raw, stdin):
        kind = self.operands
        if self.parse:
            opts, ops, after = getopt(args, self.short_req, self.short_opt, self.long_req, kind == RUN)
            if after:
                ops = ops + after
        else:
            opts, ops = [], list(args)
        given = names(opts)
        if given & self.quiet or (self.needs and not given & self.needs):
            return None
        if self.chdir:
            d = last(opts, *self.chdir)
            if d:
                prefix = join(prefix, d)
        if self.out:
            o = last(opts, *self.out)
            if o and not (self.dash and o == "-"):
                an.write(o, prefix)
        if kind == RUN:
            ops = ops[self.skip :]
            return an.command(ops, prefix, raw, stdin) if ops else None
        if kind == WRITE:
            for f in ops if given & self.keep_all else ops[self.skip :]:
                if not (self.dash and f == "-"):
                    an.write(f, prefix)
        elif kind == DEST:
            copy_into(an, opts, ops, prefix, self.srcs_written)
        return None

    def __repr__(self):
        return f"Spec({self.operands!r}, {self.short_req!r}, {self.long_req!r})"


def runs(short_req="", long_req=(), **kw) -> Spec:
    """A wrapper (``nohup CMD``, ``timeout 5 CMD``): options, then a command it runs."""
    return Spec(RUN, short_req, long_req, **kw)


def writes(short_req="", long_req=(), **kw) -> Spec:
    """Every operand is a file written (``rm``, ``touch``, ``tee``, formatters)."""
    return Spec(WRITE, short_req, long_req, **kw)


def outputs(short_req, long_req, out, **kw) -> Spec:
    """Only an option's value is written (``sort -o FILE``, ``curl -o FILE``)."""
    return Spec(NONE, short_req, long_req, out=out, **kw)


def copies(short_req="tS", long_req=("target-directory", "suffix"), **kw) -> Spec:
    """Sources and a destination (``cp``, ``mv``, ``install``)."""
    return Spec(DEST, short_req, long_req, **kw)


class Subcommands(dict):
    """A handler that dispatches on its first argument (``ruff format``, ``git stash``)."""

    __slots__ = ()

    def __call__(self, an, args, prefix, raw, stdin):
        handler = self.get(args[0]) if args else None
        return handler(an, args[1:], prefix, raw, stdin) if handler is not None else None
