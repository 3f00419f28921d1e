"""Which paths a shell command would write, and whether it is a repository-wide destructive git command.

Used by the PreToolUse hook when the tool is a shell (Bash or PowerShell).  This is a static, best-effort
reading of the command text; it never runs anything.  The contract:

* ``writes`` lists the paths a command would create, modify or delete, *as written* (quotes removed,
  ``~``, ``$VAR`` and glob characters left unexpanded), with a preceding ``cd DIR`` / ``pushd DIR`` /
  ``git -C DIR`` of the same command applied.  Relative paths stay relative (the caller resolves them
  against the command's cwd), absolute ones stay absolute.  Braces and globs are not expanded; a
  destination that is certainly a directory (``mv a b dir/``, ``cp -t dir a``) is reported as
  ``dir/a``, ``dir/b``.  ``mkdir`` / ``install -d`` / ``New-Item -ItemType Directory`` write no file.  A path may name a directory (``rm -r build``,
  ``git checkout -- src/``); callers should treat a written directory as covering what is under it.
  Words whose value cannot be known statically (``$(...)``, backticks, ``$((...))``) are dropped, as are
  writes under ``/dev/``.
* ``destructive`` lists ``(kind, command text)`` for repository-wide destructive git commands.
* ``maybe_branch_switch`` lists the ``X`` of ``git checkout X`` without ``--``: the caller decides
  (an existing file -> a path write, otherwise a branch switch).
* ``unparsed`` is True (with empty lists) when the text cannot be parsed (unbalanced quotes or
  parentheses, a redirection without a target, absurd nesting); callers fail open.

Fails open, by design (reports nothing): commands whose effects depend on data (``python x.py``,
``make``, ``npm``, ``git apply``, ``git merge/pull/rebase``, ``find -delete``, ``xargs`` fed from stdin,
``patch`` without a target file), ``${x:-$(cmd)}`` defaults, ``find -execdir``, paths built from command substitution, and a ``cd``
to an unknowable directory (relative writes after it are dropped).  Only the first 100 KB of a command are
analysed.
"""

from __future__ import annotations

import posixpath
import re

__all__ = ["ShellAnalysis", "analyze_bash", "analyze_powershell"]

MAX_INPUT = 100_000  # characters of a command that are analysed
MAX_DEPTH = 12  # nesting of $(...), backticks, bash -c, eval, heredoc scripts
MAX_WORK = 2_000_000  # characters lexed + commands analysed, across all nesting

_UNKNOWN = "\x00"  # marks a part of a word whose value cannot be known statically
_FOUND = "\x02found\x02"  # stands for the files `find ... -exec CMD {}` hands to CMD


class ShellAnalysis:
    """What a command would do to the tree. A plain class: `dataclasses` costs the hook path ~7 ms."""

    __slots__ = ("writes", "destructive", "maybe_branch_switch", "unparsed")

    def __init__(self, writes=None, destructive=None, maybe_branch_switch=None, unparsed: bool = False):
        self.writes: list[str] = list(writes or [])
        self.destructive: list[tuple[str, str]] = list(destructive or [])
        self.maybe_branch_switch: list[str] = list(maybe_branch_switch or [])
        self.unparsed = unparsed

    def __eq__(self, other):
        return isinstance(other, ShellAnalysis) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"ShellAnalysis({fields})"


class _ParseError(Exception):
    pass


# --------------------------------------------------------------------------- bash lexer


class _Word:
    __slots__ = ("text", "raw", "subs")

    def __init__(self, text: str, raw: str, subs: list):
        self.text = text  # value after quote removal; _UNKNOWN marks substitutions
        self.raw = raw  # the source text of the word
        self.subs = subs  # token lists of the command/process substitutions inside the word


class _Op:
    __slots__ = ("op",)

    def __init__(self, op: str):
        self.op = op


class _Redir:
    __slots__ = ("op", "strip", "body")

    def __init__(self, op: str):
        self.op = op
        self.strip = op == "<<-"
        self.body = ""  # heredoc body (for << and <<-)


_META = frozenset(" \t\n;&|()<>")
_REDIR_OPS = ("<<<", "<<-", "<<", "<>", "<&", "<", ">>", ">|", ">&", ">")
_FDVAR = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}\Z")
_ANSI_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "e": "\x1b", "a": "\a"}


class _Lexer:
    """Splits bash source into words, operators and redirections; substitutions are lexed recursively."""

    def __init__(self, s: str, depth: int, budget: list[int]):
        if depth > MAX_DEPTH:
            raise _ParseError("nested too deeply")
        budget[0] -= len(s) + 1
        if budget[0] < 0:
            raise _ParseError("too much work")
        self.s = s
        self.n = len(s)
        self.i = 0
        self.depth = depth
        self.budget = budget
        self.pending: list[tuple[_Redir, str]] = []  # heredocs whose bodies start at the next newline
        self.hd_wait: _Redir | None = None  # a << whose delimiter word comes next

    def tokens(self, sub: bool = False) -> list:
        """Lex to the end of input, or (sub) to the ')' that closes a ``$(`` / ``<(``."""
        s, n = self.s, self.n
        toks: list = []
        paren = 0
        while True:
            i = self.i
            if i >= n:
                if sub:
                    raise _ParseError("unterminated substitution")
                return toks
            c = s[i]
            if c == " " or c == "\t":
                self.i = i + 1
            elif c == "\\" and s.startswith("\\\n", i):
                self.i = i + 2
            elif c == "#":
                j = s.find("\n", i)
                self.i = n if j < 0 else j
            elif c == "\n":
                self.i = i + 1
                toks.append(_Op("\n"))
                self._read_heredocs()
            elif c == ";":
                op = next(o for o in (";;&", ";;", ";&", ";") if s.startswith(o, i))
                toks.append(_Op(op))
                self.i = i + len(op)
            elif c == "&":
                if s.startswith("&>>", i):
                    self._redir(toks, "&>>")
                elif s.startswith("&>", i):
                    self._redir(toks, "&>")
                else:
                    op = "&&" if s.startswith("&&", i) else "&"
                    toks.append(_Op(op))
                    self.i = i + len(op)
            elif c == "|":
                op = "||" if s.startswith("||", i) else "|&" if s.startswith("|&", i) else "|"
                toks.append(_Op(op))
                self.i = i + len(op)
            elif c == "(":
                if s.startswith("((", i):  # arithmetic command (( ... )): no effects we track
                    self.i = self._skip_group(i, "(", ")")
                else:
                    paren += 1
                    toks.append(_Op("("))
                    self.i = i + 1
            elif c == ")":
                self.i = i + 1
                if sub and paren == 0:
                    return toks
                paren = max(0, paren - 1)
                toks.append(_Op(")"))
            elif (c == "<" or c == ">") and not s.startswith("(", i + 1):
                self._redir(toks, next(o for o in _REDIR_OPS if s.startswith(o, i)))
            else:
                w = self._read_word()
                j = self.i
                if (
                    j < n
                    and s[j] in "<>"
                    and not s.startswith("(", j + 1)
                    and (w.raw.isdigit() or _FDVAR.match(w.raw))
                ):
                    continue  # the fd of the redirection that follows (2>, {fd}>)
                if self.hd_wait is not None:
                    self.pending.append((self.hd_wait, w.text))
                    self.hd_wait = None
                toks.append(w)

    def _redir(self, toks: list, op: str) -> None:
        r = _Redir(op)
        toks.append(r)
        self.i += len(op)
        if op in ("<<", "<<-"):
            self.hd_wait = r

    def _read_heredocs(self) -> None:
        s, n = self.s, self.n
        for r, delim in self.pending:
            lines = []
            while self.i < n:
                j = s.find("\n", self.i)
                end = n if j < 0 else j
                line = s[self.i : end]
                self.i = n if j < 0 else j + 1
                if (line.lstrip("\t") if r.strip else line) == delim:
                    break
                lines.append(line)
            r.body = "\n".join(lines)
        self.pending = []

    def _read_word(self) -> _Word:
        s, n = self.s, self.n
        start = i = self.i
        parts: list[str] = []
        subs: list = []
        while i < n:
            c = s[i]
            if c in _META:
                if (c == "<" or c == ">") and i == start and s.startswith("(", i + 1):
                    self.i = i + 2  # process substitution <(...) / >(...)
                    subs.append(self._nested())
                    i = self.i
                    parts.append(_UNKNOWN)
                    continue
                if c == "(" and i > start and s[i - 1] in "@!+*?=":  # extglob @(a|b), array a=(1 2)
                    j = self._skip_group(i, "(", ")")
                    parts.append(s[i:j])
                    i = j
                    continue
                break
            if c == "\\":
                if i + 1 < n and s[i + 1] != "\n":
                    parts.append(s[i + 1])
                i += 2
            elif c == "'":
                j = s.find("'", i + 1)
                if j < 0:
                    raise _ParseError("unterminated single quote")
                parts.append(s[i + 1 : j])
                i = j + 1
            elif c == '"':
                i = self._dquote(i + 1, parts, subs)
            elif c == "$":
                i = self._dollar(i, parts, subs, False)
            elif c == "`":
                i = self._backtick(i, parts, subs)
            else:
                parts.append(c)
                i += 1
        if i <= start:
            raise _ParseError("lexer made no progress")
        self.i = min(i, n)
        return _Word("".join(parts), s[start : self.i], subs)

    def _nested(self) -> list:
        if self.depth >= MAX_DEPTH:
            raise _ParseError("nested too deeply")
        self.depth += 1
        try:
            return self.tokens(sub=True)
        finally:
            self.depth -= 1

    def _dquote(self, i: int, parts: list, subs: list) -> int:
        s, n = self.s, self.n
        while i < n:
            c = s[i]
            if c == '"':
                return i + 1
            if c == "\\":
                if i + 1 < n and s[i + 1] in '$`"\\\n':
                    if s[i + 1] != "\n":
                        parts.append(s[i + 1])
                    i += 2
                else:
                    parts.append("\\")
                    i += 1
            elif c == "$":
                i = self._dollar(i, parts, subs, True)
            elif c == "`":
                i = self._backtick(i, parts, subs)
            else:
                parts.append(c)
                i += 1
        raise _ParseError("unterminated double quote")

    def _dollar(self, i: int, parts: list, subs: list, in_dq: bool) -> int:
        s, n = self.s, self.n
        nxt = s[i + 1] if i + 1 < n else ""
        if nxt == "(":
            if s.startswith("((", i + 1):  # $(( arithmetic ))
                parts.append(_UNKNOWN)
                return self._skip_group(i + 1, "(", ")")
            self.i = i + 2
            subs.append(self._nested())
            parts.append(_UNKNOWN)
            return self.i
        if nxt == "{":
            j = self._skip_group(i + 1, "{", "}")
            parts.append(s[i:j])
            return j
        if nxt == "'" and not in_dq:  # $'ANSI-C'
            j = i + 2
            while j < n and s[j] != "'":
                if s[j] == "\\" and j + 1 < n:
                    parts.append(_ANSI_ESC.get(s[j + 1], s[j : j + 2]))
                    j += 2
                else:
                    parts.append(s[j])
                    j += 1
            if j >= n:
                raise _ParseError("unterminated $'")
            return j + 1
        if nxt == '"' and not in_dq:  # $"locale string": an ordinary double-quoted string for us
            return i + 1
        parts.append("$")
        return i + 1

    def _backtick(self, i: int, parts: list, subs: list) -> int:
        s, n = self.s, self.n
        j = i + 1
        buf = []
        while j < n:
            c = s[j]
            if c == "`":
                break
            if c == "\\" and j + 1 < n and s[j + 1] in "$`\\":
                buf.append(s[j + 1])
                j += 2
            else:
                buf.append(c)
                j += 1
        else:
            raise _ParseError("unterminated backtick")
        subs.append(_Lexer("".join(buf), self.depth + 1, self.budget).tokens())
        parts.append(_UNKNOWN)
        return j + 1

    def _skip_group(self, i: int, open_: str, close: str) -> int:
        """Index just past the ``close`` matching the ``open_`` at ``i`` (quotes respected)."""
        s, n = self.s, self.n
        depth = 0
        while i < n:
            c = s[i]
            if c == "\\":
                i += 2
                continue
            if c == "'":
                j = s.find("'", i + 1)
                if j < 0:
                    raise _ParseError("unterminated single quote")
                i = j + 1
                continue
            if c == '"':
                i += 1
                while i < n and s[i] != '"':
                    i += 2 if s[i] == "\\" else 1
                if i >= n:
                    raise _ParseError("unterminated double quote")
                i += 1
                continue
            if c == open_:
                depth += 1
            elif c == close:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise _ParseError(f"unterminated {open_}")


# --------------------------------------------------------------------------- helpers


def _getopt(args, short_req="", short_opt="", long_req=(), stop=False):
    """GNU-style option parsing.

    Returns ``(opts, operands, after)``: opts is a list of ``(name, value)`` ("-x" / "--long"),
    operands are the non-option words before ``--`` (or, with ``stop``, everything from the first
    operand on), ``after`` is the list after ``--`` or None.  Short options in ``short_req`` take a
    value (attached or the next word); in ``short_opt`` only an attached one.  Long options in
    ``long_req`` take a value (``--x=v`` or ``--x v``); other long options only ``--x=v``.
    """
    opts: list[tuple[str, str | None]] = []
    ops: list[str] = []
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


def _names(opts) -> set[str]:
    return {o for o, _ in opts}


def _last(opts, *names):
    val = None
    for o, v in opts:
        if o in names:
            val = v
    return val


def _join(prefix: str, path: str) -> str:
    if not prefix or path.startswith(("/", "~", "$")):
        return path
    if _UNKNOWN in prefix:
        return _UNKNOWN
    return posixpath.normpath(prefix + "/" + path)


_PS_ABS = re.compile(r"(?:[A-Za-z][A-Za-z0-9]*:|[\\/]|~|\$)")


def _ps_join(prefix: str, path: str) -> str:
    if not prefix or _PS_ABS.match(path):
        return path
    if _UNKNOWN in prefix:
        return _UNKNOWN
    sep = "\\" if "\\" in prefix else "/"
    return prefix.rstrip("\\/") + sep + path


def _single_name_filter(args) -> str | None:
    """The pattern of a lone `-name PATTERN` test, when nothing else could widen what `find` matches."""
    widening = {"-o", "-or", "!", "-not", "(", "-path", "-wholename", "-regex", "-iregex", "-iname", "-ipath",
                "-lname", "-ilname"}
    if any(a in widening for a in args):
        return None
    names = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-name"]
    if len(names) != 1 or "/" in names[0] or _UNKNOWN in names[0]:
        return None
    return names[0]


def _base(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) or path


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_DUP = re.compile(r"\d*-?")
_WRITE_REDIRS = frozenset((">", ">>", ">|", "&>", "&>>", "<>"))
_KEYWORDS = frozenset(
    ("if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac")
)
_SHELLS = frozenset(("bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "yash"))
_ROOT_SPECS = frozenset((":/", ":/.", ":/*", ":(top)", ":(top).", ":(top)*"))
_HERE_SPECS = frozenset((".", "./", "*", "./*"))
_REVISION = re.compile(r"HEAD|FETCH_HEAD|ORIG_HEAD|[0-9a-f]{7,40}|.*[~^@].*")


# --------------------------------------------------------------------------- analysis


class _Analyzer:
    def __init__(self, is_dir=None) -> None:
        self.is_dir = is_dir  # optional: does this (prefix-joined) path name an existing directory?
        self.writes: list[str] = []
        self.destructive: list[tuple[str, str]] = []
        self.maybe: list[str] = []
        self.budget = [MAX_WORK]
        self.depth = 0
        self.dirstack: list[str] = []

    def result(self) -> ShellAnalysis:
        return ShellAnalysis(list(self.writes), list(self.destructive), list(self.maybe))

    # ---- recording

    def write(self, path: str, prefix: str, join=_join) -> None:
        if not path or _UNKNOWN in path:
            return
        p = join(prefix, path)
        if not p or _UNKNOWN in p or p == "/dev" or p.startswith("/dev/"):
            return
        if p not in self.writes:
            self.writes.append(p)

    def destroy(self, kind: str, raw: str) -> None:
        entry = (kind, raw.replace(_UNKNOWN, "?"))
        if entry not in self.destructive:
            self.destructive.append(entry)

    def _tick(self, cost: int = 1) -> None:
        self.budget[0] -= cost
        if self.budget[0] < 0:
            raise _ParseError("too much work")

    # ---- bash: walking tokens

    def run_text(self, text: str, prefix: str) -> None:
        self.run(_Lexer(text, self.depth, self.budget).tokens(), prefix)

    def run(self, toks: list, prefix: str) -> None:
        if self.depth >= MAX_DEPTH:
            raise _ParseError("nested too deeply")
        self.depth += 1
        try:
            self._run(toks, prefix)
        finally:
            self.depth -= 1

    def _run(self, toks: list, prefix: str) -> None:
        stack: list[str] = []
        words: list[_Word] = []
        redirs: list = []
        pending = None
        in_pipe = False
        for t in toks:
            tt = type(t)
            if tt is _Word:
                if pending is not None:
                    redirs.append((pending, t, len(words)))
                    pending = None
                else:
                    words.append(t)
                continue
            if pending is not None:
                raise _ParseError("redirection without a target")
            if tt is _Redir:
                pending = t
                continue
            op = t.op
            piped = op == "|" or op == "|&"
            prefix = self._finish(words, redirs, prefix, in_pipe or piped or op == "&")
            words, redirs = [], []
            if op == "(":
                stack.append(prefix)
            elif op == ")" and stack:
                prefix = stack.pop()
            in_pipe = piped
        if pending is not None:
            raise _ParseError("redirection without a target")
        if stack:
            raise _ParseError("unbalanced (")
        self._finish(words, redirs, prefix, in_pipe)

    def _finish(self, words: list, redirs: list, prefix: str, isolated: bool) -> str:
        """Analyse one simple command; returns the prefix (cwd) for the commands that follow."""
        if not words and not redirs:
            return prefix
        self._tick()
        for w in words:
            for sub in w.subs:
                self.run(sub, prefix)
        for _, w, _ in redirs:
            for sub in w.subs:
                self.run(sub, prefix)
        limit = -1  # inside [[ ... ]], < and > compare strings
        if any(w.text == "[[" for w in words):
            limit = max((k for k, w in enumerate(words) if w.text == "]]"), default=len(words))
        stdin: list[str] = []
        for r, w, idx in redirs:
            if idx <= limit:
                continue
            op = r.op
            if op in _WRITE_REDIRS or (op == ">&" and not _DUP.fullmatch(w.text)):
                self.write(w.text, prefix)
            elif op == "<<" or op == "<<-":
                stdin.append(r.body)
            elif op == "<<<":
                stdin.append(w.text)
        k = 0
        while k < len(words) and _ASSIGN.match(words[k].raw):
            k += 1
        if k == len(words):
            return prefix
        raw = " ".join(w.raw for w in words)
        new = self.command([w.text for w in words[k:]], prefix, raw, stdin)
        return prefix if new is None or isolated else new

    def command(self, argv: list[str], prefix: str, raw: str, stdin: list[str]) -> str | None:
        """Analyse one command given as words; returns a new cwd prefix for cd-like commands."""
        self._tick()
        i = 0
        while i < len(argv) and (argv[i] in _KEYWORDS or _ASSIGN.match(argv[i])):
            i += 1
        argv = argv[i:]
        if not argv:
            return None
        name = argv[0]
        if name == "function":
            return self.command(argv[2:], prefix, raw, stdin)
        if _UNKNOWN in name:
            return None
        handler = _HANDLERS.get(name.rsplit("/", 1)[-1])
        if handler is None:
            return None
        return handler(self, argv[1:], prefix, raw, stdin)

    # ---- prefixes and wrappers

    def _h_sudo(self, args, prefix, raw, stdin):
        opts, ops, after = _getopt(
            args,
            short_req="CDghpRrTtUu",
            long_req=(
                "user",
                "group",
                "host",
                "prompt",
                "chroot",
                "chdir",
                "role",
                "type",
                "close-from",
                "command-timeout",
                "other-user",
            ),
            stop=True,
        )
        ops = ops + (after or [])
        names = _names(opts)
        chdir = _last(opts, "-D", "--chdir")
        if chdir:
            prefix = _join(prefix, chdir)
        if names & {"-e", "--edit"}:
            for f in ops:
                self.write(f, prefix)
            return None
        if names & {"-l", "--list", "-v", "--validate", "-V", "--version"} or not ops:
            return None
        return self.command(ops, prefix, raw, stdin)

    def _h_sudoedit(self, args, prefix, raw, stdin):
        return self._h_sudo(["-e", *args], prefix, raw, stdin)

    def _h_doas(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args, short_req="uC", stop=True)
        ops = ops + (after or [])
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_env(self, args, prefix, raw, stdin):
        opts, ops, after = _getopt(
            args, short_req="uCSP", long_req=("unset", "chdir", "split-string", "default-signal"), stop=True
        )
        ops = ops + (after or [])
        if ops and ops[0] == "-":
            ops = ops[1:]
        chdir = _last(opts, "-C", "--chdir")
        if chdir:
            prefix = _join(prefix, chdir)
        split = _last(opts, "-S", "--split-string")
        if split:
            self.run_text(" ".join([split, *map(_quote, ops)]), prefix)
            return None
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_command(self, args, prefix, raw, stdin):
        opts, ops, after = _getopt(args, stop=True)
        if _names(opts) & {"-v", "-V"}:
            return None
        ops = ops + (after or [])
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_builtin(self, args, prefix, raw, stdin):
        return self.command(args, prefix, raw, stdin)

    def _h_simple_prefix(self, args, prefix, raw, stdin):  # nohup, chronic, unbuffer
        _, ops, after = _getopt(args, stop=True)
        ops = ops + (after or [])
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_time(self, args, prefix, raw, stdin):
        opts, ops, after = _getopt(args, short_req="fo", long_req=("format", "output"), stop=True)
        out = _last(opts, "-o", "--output")
        if out:
            self.write(out, prefix)
        ops = ops + (after or [])
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_nice(self, args, prefix, raw, stdin):
        if args and re.fullmatch(r"-\d+", args[0]):
            args = args[1:]
        _, ops, after = _getopt(args, short_req="n", long_req=("adjustment",), stop=True)
        ops = ops + (after or [])
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_ionice(self, args, prefix, raw, stdin):
        opts, ops, after = _getopt(
            args, short_req="cnpPu", long_req=("class", "classdata", "pid", "pgid", "uid"), stop=True
        )
        if _names(opts) & {"-p", "-P", "-u", "--pid", "--pgid", "--uid"}:
            return None
        ops = ops + (after or [])
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_timeout(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args, short_req="sk", long_req=("signal", "kill-after"), stop=True)
        ops = (ops + (after or []))[1:]  # drop the duration
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_stdbuf(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args, short_req="ioe", long_req=("input", "output", "error"), stop=True)
        ops = ops + (after or [])
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_exec(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args, short_req="a", stop=True)
        ops = ops + (after or [])
        return self.command(ops, prefix, raw, stdin) if ops else None

    def _h_xargs(self, args, prefix, raw, stdin):
        opts, ops, after = _getopt(
            args,
            short_req="adEILnPs",
            short_opt="eil",
            long_req=("arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var"),
            stop=True,
        )
        cmd = ops + (after or [])
        rep = None
        for o, v in opts:
            if o == "-I":
                rep = v
            elif o in ("-i", "--replace"):
                rep = v or "{}"
        if rep:
            cmd = cmd[:1] + [a for a in cmd[1:] if rep not in a]
        return self.command(cmd, prefix, raw, []) if cmd else None

    def _h_eval(self, args, prefix, raw, stdin):
        self.run_text(" ".join(args), prefix)
        return None

    def _h_shell(self, args, prefix, raw, stdin):
        i = 0
        has_c = False
        while i < len(args):
            a = args[i]
            if a in ("--", "-"):
                i += 1
                break
            if a.startswith("--"):
                i += 2 if a in ("--rcfile", "--init-file") else 1
                continue
            if len(a) > 1 and a[0] in "-+":
                letters = a[1:]
                if a[0] == "-" and "c" in letters:
                    has_c = True
                i += 2 if ("o" in letters or "O" in letters) else 1
                continue
            break
        ops = args[i:]
        if has_c:
            if ops:
                self.run_text(ops[0], prefix)
        elif not ops:  # the script comes on stdin: analyse heredoc / here-string scripts
            for text in stdin:
                self.run_text(text, prefix)
        return None

    def _h_busybox(self, args, prefix, raw, stdin):
        return self.command(args, prefix, raw, stdin) if args else None

    def _h_pwsh(self, args, prefix, raw, stdin):
        for k, a in enumerate(args):
            low = a.lower()
            if low in ("-c", "/c", "-command", "/command") or (len(low) >= 4 and "-command".startswith(low)):
                if k + 1 < len(args) and args[k + 1] != "-":
                    self.ps_run(" ".join(args[k + 1 :]), prefix)
                return None
            if low in ("-f", "-file", "-encodedcommand", "-e", "-ec"):
                return None
        return None

    def _h_find(self, args, prefix, raw, stdin):
        roots = []
        for a in args:
            if a.startswith(("-", "(", "!", ")")):
                break
            roots.append(a)
        i = 0
        n = len(args)
        while i < n:
            a = args[i]
            if a in ("-exec", "-ok", "-execdir", "-okdir"):
                j = i + 1
                while j < n and args[j] not in (";", "+"):
                    j += 1
                if a in ("-exec", "-ok"):  # -execdir runs in each file's directory: unknowable
                    cmd = [x.replace("{}", _FOUND) for x in args[i + 1 : j]]
                    before = len(self.writes)
                    if cmd:
                        self.command(cmd, prefix, raw, [])
                    found = [w for w in self.writes[before:] if _FOUND in w]
                    if found:  # the command writes what find finds: what the search can match
                        self.writes = [w for w in self.writes if _FOUND not in w]
                        name = _single_name_filter(args)
                        for root in roots or ["."]:
                            root = root.rstrip("/") or "."
                            self.write(f"{root}/**/{name}" if name else root + "/", prefix)
                i = j + 1
                continue
            if a in ("-fprint", "-fprint0", "-fls", "-fprintf") and i + 1 < n:
                self.write(args[i + 1], prefix)
                i += 2
                continue
            i += 1
        return None

    # ---- cwd

    def _h_cd(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args)
        ops = ops + (after or [])
        target = ops[0] if ops else "~"
        if target == "-" or not target:
            return None
        return _join(prefix, target)

    def _h_pushd(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args)
        ops = ops + (after or [])
        if not ops or ops[0][:1] in "+-":
            return None
        self.dirstack.append(prefix)
        return _join(prefix, ops[0])

    def _h_popd(self, args, prefix, raw, stdin):
        return self.dirstack.pop() if self.dirstack else None

    # ---- writers

    def _h_remove(self, args, prefix, raw, stdin):  # rm, rmdir, unlink
        _, ops, after = _getopt(args)
        for f in ops + (after or []):
            self.write(f, prefix)

    def _h_shred(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args, short_req="ns", long_req=("iterations", "size", "random-source"))
        for f in ops + (after or []):
            self.write(f, prefix)

    def _h_touch(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args, short_req="dtr", long_req=("date", "reference", "time"))
        for f in ops + (after or []):
            self.write(f, prefix)

    def _h_truncate(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args, short_req="sr", long_req=("size", "reference"))
        for f in ops + (after or []):
            self.write(f, prefix)

    def _h_sort(self, args, prefix, raw, stdin):
        opts, _, _ = _getopt(args, short_req="okStT", long_req=("output", "key", "field-separator",
                                                                "buffer-size", "temporary-directory"))
        out = _last(opts, "-o", "--output")
        if out:
            self.write(out, prefix)

    def _h_curl(self, args, prefix, raw, stdin):
        opts, _, _ = _getopt(args, short_req="oXHdeuAbcEFKmrTwxyzY", long_req=("output", "request", "header",
                                                                              "data", "user", "url"))
        out = _last(opts, "-o", "--output")
        if out and out != "-":
            self.write(out, prefix)

    def _h_wget(self, args, prefix, raw, stdin):
        opts, _, _ = _getopt(args, short_req="OoaPt", long_req=("output-document", "directory-prefix"))
        out = _last(opts, "-O", "--output-document")
        if out and out != "-":
            self.write(out, prefix)

    def _h_formatter(self, args, prefix, raw, stdin, needs=None):
        """Formatters that rewrite the files they are given (some only with a flag, in `needs`)."""
        opts, ops, after = _getopt(args)
        if _names(opts) & {"--check", "--diff", "-l", "--list-different", "-d"}:
            return
        if needs is not None and not (_names(opts) & needs):
            return
        for f in ops + (after or []):
            if f != "-":
                self.write(f, prefix)

    def _h_gofmt(self, args, prefix, raw, stdin):
        self._h_formatter(args, prefix, raw, stdin, needs={"-w"})

    def _h_prettier(self, args, prefix, raw, stdin):
        self._h_formatter(args, prefix, raw, stdin, needs={"--write", "-w"})

    def _h_ruff(self, args, prefix, raw, stdin):
        if not args:
            return
        if args[0] == "format":
            self._h_formatter(args[1:], prefix, raw, stdin)
        elif args[0] == "check":
            self._h_formatter(args[1:], prefix, raw, stdin, needs={"--fix"})

    def _h_tee(self, args, prefix, raw, stdin):
        _, ops, after = _getopt(args)
        for f in ops + (after or []):
            if f != "-":
                self.write(f, prefix)

    def _h_chmod(self, args, prefix, raw, stdin):
        ops: list[str] = []
        ref = False
        i = 0
        while i < len(args):
            a = args[i]
            if a == "--":
                ops.extend(args[i + 1 :])
                break
            if a.startswith("--"):
                if a.startswith("--reference"):
                    ref = True
                    i += 0 if "=" in a else 1
            elif not (re.fullmatch(r"-[RcfvHLPh]+", a)):
                ops.append(a)  # includes symbolic modes such as -w
            i += 1
        for f in ops if ref else ops[1:]:
            self.write(f, prefix)

    def _h_chown(self, args, prefix, raw, stdin):  # chown, chgrp
        opts, ops, after = _getopt(args, long_req=("reference", "from"))
        ops = ops + (after or [])
        ref = any(o == "--reference" for o, _ in opts)
        for f in ops if ref else ops[1:]:
            self.write(f, prefix)

    def _h_sed(self, args, prefix, raw, stdin):
        args = list(args)
        for k in range(len(args) - 1):  # BSD sed: -i '' (empty backup suffix)
            if args[k] == "-i" and args[k + 1] == "":
                del args[k + 1]
                break
        opts, ops, after = _getopt(
            args, short_req="efl", short_opt="i", long_req=("expression", "file", "line-length")
        )
        names = _names(opts)
        if not names & {"-i", "--in-place"}:
            return None
        ops = ops + (after or [])
        files = ops if names & {"-e", "-f", "--expression", "--file"} else ops[1:]
        for f in files:
            if f != "-":
                self.write(f, prefix)
        return None

    def _h_perl(self, args, prefix, raw, stdin):
        inplace = script = False
        i = 0
        n = len(args)
        while i < n:
            a = args[i]
            if a == "--":
                i += 1
                break
            if len(a) < 2 or a[0] != "-":
                break
            j = 1
            while j < len(a):
                ch = a[j]
                if ch == "i":
                    inplace = True
                    break
                if ch in "eE":
                    script = True
                    if j + 1 == len(a):
                        i += 1
                    break
                if ch in "IMm":
                    if j + 1 == len(a):
                        i += 1
                    break
                if ch in "l0xCdDF":
                    break
                j += 1
            i += 1
        rest = args[i:]
        if not script:
            rest = rest[1:]  # the script file
        if inplace:
            for f in rest:
                if f != "-":
                    self.write(f, prefix)

    def _copy_like(
        self, args, prefix, srcs_written: bool, short_req="tS", long_req=("target-directory", "suffix")
    ):
        opts, ops, after = _getopt(args, short_req=short_req, long_req=long_req)
        ops = ops + (after or [])
        target = _last(opts, "-t", "--target-directory")
        if target is not None:
            srcs, dst, is_dir = ops, target, True
        elif len(ops) >= 2:
            srcs, dst = ops[:-1], ops[-1]
            is_dir = (len(srcs) > 1 or dst.endswith("/") or _base(dst) in (".", "..")
                      or (self.is_dir is not None and _UNKNOWN not in dst and self.is_dir(_join(prefix, dst))))
        else:
            return
        if srcs_written:
            for s in srcs:
                self.write(s, prefix)
        if is_dir:
            for s in srcs:
                if _UNKNOWN not in s:
                    self.write(posixpath.join(dst, _base(s)), prefix)
        else:
            self.write(dst, prefix)

    def _h_mv(self, args, prefix, raw, stdin):
        self._copy_like(args, prefix, True)

    def _h_cp(self, args, prefix, raw, stdin):
        self._copy_like(args, prefix, False)

    def _h_install(self, args, prefix, raw, stdin):
        opts, _, _ = _getopt(
            args,
            short_req="gmoSt",
            long_req=("group", "mode", "owner", "suffix", "target-directory", "strip-program"),
        )
        if _names(opts) & {"-d", "--directory"}:
            return  # creates directories only
        self._copy_like(
            args,
            prefix,
            False,
            short_req="gmoSt",
            long_req=("group", "mode", "owner", "suffix", "target-directory", "strip-program"),
        )

    def _h_ln(self, args, prefix, raw, stdin):
        opts, ops, after = _getopt(args, short_req="tS", long_req=("target-directory", "suffix"))
        ops = ops + (after or [])
        target = _last(opts, "-t", "--target-directory")
        if target is None and len(ops) == 1:
            target = "."
        if target is None and len(ops) == 2 and not ops[1].endswith("/"):
            self.write(ops[1], prefix)
            return
        srcs = ops if target is not None else ops[:-1]
        dst = target if target is not None else (ops[-1] if ops else ".")
        for s in srcs:
            if _UNKNOWN not in s:
                self.write(posixpath.normpath(posixpath.join(dst, _base(s))), prefix)

    def _h_rsync(self, args, prefix, raw, stdin):
        opts, ops, after = _getopt(
            args,
            short_req="efTBM",
            long_req=(
                "exclude",
                "include",
                "exclude-from",
                "include-from",
                "filter",
                "rsh",
                "files-from",
                "compare-dest",
                "copy-dest",
                "link-dest",
                "log-file",
                "password-file",
                "temp-dir",
                "partial-dir",
                "backup-dir",
                "suffix",
                "chmod",
                "timeout",
                "bwlimit",
                "max-size",
                "min-size",
                "rsync-path",
                "out-format",
                "block-size",
                "remote-option",
            ),
        )
        if _names(opts) & {"-n", "--dry-run", "--list-only"}:
            return
        ops = ops + (after or [])
        if len(ops) >= 2 and not re.match(r"[^/]*:", ops[-1]):  # host:path and rsync:// are remote
            self.write(ops[-1], prefix)

    def _h_dd(self, args, prefix, raw, stdin):
        for a in args:
            if a.startswith("of="):
                self.write(a[3:], prefix)

    def _h_patch(self, args, prefix, raw, stdin):
        opts, ops, after = _getopt(
            args,
            short_req="BdDFgioprVYzx",
            long_req=(
                "prefix",
                "directory",
                "ifdef",
                "fuzz",
                "get",
                "input",
                "output",
                "strip",
                "reject-file",
                "version-control",
                "basename-prefix",
                "suffix",
                "quoting-style",
            ),
        )
        names = _names(opts)
        if names & {"--dry-run", "-C", "--check"}:
            return
        directory = _last(opts, "-d", "--directory")
        if directory:
            prefix = _join(prefix, directory)
        out = _last(opts, "-o", "--output")
        ops = ops + (after or [])
        if out:
            if out != "-":
                self.write(out, prefix)
        elif ops:
            self.write(ops[0], prefix)

    # ---- git

    def _h_git(self, args, prefix, raw, stdin):
        i = 0
        n = len(args)
        while i < n:
            a = args[i]
            if a == "-C":
                if i + 1 < n and args[i + 1]:
                    prefix = _join(prefix, args[i + 1])
                i += 2
            elif a in ("-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env"):
                i += 2
            elif a.startswith("-"):
                i += 1
            else:
                break
        if i >= n:
            return None
        sub, rest = args[i], args[i + 1 :]
        handler = _GIT.get(sub)
        if handler is not None:
            handler(self, rest, prefix, raw)
        return None

    def _pathspecs(self, specs, prefix, kind, raw) -> None:
        for p in specs:
            if p in _ROOT_SPECS or (p in _HERE_SPECS and not prefix):
                self.destroy(kind, raw)
            elif p in _HERE_SPECS:
                self.write(".", prefix)
            elif p.startswith((":!", ":^", ":(exclude)", ":(exc")):
                continue
            elif p.startswith(":/"):
                self.write(p[2:], "")
            else:
                self.write(p, prefix)

    def _git_checkout(self, rest, prefix, raw):
        opts, ops, after = _getopt(rest, short_req="bBU", long_req=("orphan",))
        names = _names(opts)
        creating = bool(names & {"-b", "-B", "--orphan"})
        if after is not None:
            if after:
                self._pathspecs(after, prefix, "checkout-all", raw)
            elif ops and not creating:
                self.destroy("switch-branch", raw)  # git checkout BRANCH --
            return
        if creating:
            if ops:
                self.destroy("switch-branch", raw)  # a start point other than HEAD changes files
            return
        if names & {"--detach"}:
            if ops:
                self.destroy("switch-branch", raw)
            return
        if not ops:
            if names & {"-f", "--force", "-p", "--patch"}:
                self.destroy("checkout-all", raw)
            return
        if len(ops) == 1:
            x = ops[0]
            if x == "-" or x.startswith("@{-"):
                self.destroy("switch-branch", raw)
            elif x in _HERE_SPECS or x in _ROOT_SPECS:
                self._pathspecs([x], prefix, "checkout-all", raw)
            elif _UNKNOWN not in x:
                p = _join(prefix, x)
                if p not in self.maybe:
                    self.maybe.append(p)
            return
        # git checkout REF PATH...: the first word is a ref when it resolves, else a path too
        if _REVISION.fullmatch(ops[0]):
            ops = ops[1:]
        self._pathspecs(ops, prefix, "checkout-all", raw)

    def _git_switch(self, rest, prefix, raw):
        opts, ops, _ = _getopt(rest, short_req="cC", long_req=("create", "force-create", "orphan"))
        names = _names(opts)
        if "--orphan" in names:
            self.destroy("switch-branch", raw)
        elif names & {"-c", "-C", "--create", "--force-create"}:
            if ops:
                self.destroy("switch-branch", raw)  # created from a start point other than HEAD
        elif ops:
            self.destroy("switch-branch", raw)

    def _git_restore(self, rest, prefix, raw):
        opts, ops, after = _getopt(rest, short_req="sU", long_req=("source", "pathspec-from-file"))
        names = _names(opts)
        if names & {"-S", "--staged"} and not names & {"-W", "--worktree"}:
            return
        specs = ops + (after or [])
        if not specs and names & {"-p", "--patch"}:
            self.destroy("restore-all", raw)
        self._pathspecs(specs, prefix, "restore-all", raw)

    def _git_reset(self, rest, prefix, raw):
        opts = rest[: rest.index("--")] if "--" in rest else rest
        if "--hard" in opts:
            self.destroy("reset-hard", raw)

    def _git_clean(self, rest, prefix, raw):
        opts, ops, after = _getopt(rest, short_req="e", long_req=("exclude",))
        names = _names(opts)
        if names & {"-n", "--dry-run"} or not names & {"-f", "--force", "-i", "--interactive"}:
            return
        specs = ops + (after or [])
        if specs:
            self._pathspecs(specs, prefix, "clean", raw)
        elif prefix:  # git clean works below the directory it runs in
            self._pathspecs(["."], prefix, "clean", raw)
        else:
            self.destroy("clean", raw)

    def _git_stash(self, rest, prefix, raw):
        if not rest or rest[0].startswith("-"):
            sub, sargs = "push", rest
        else:
            sub, sargs = rest[0], rest[1:]
        if sub == "push":
            _, ops, after = _getopt(sargs, short_req="m", long_req=("message", "pathspec-from-file"))
            specs = ops + (after or [])
            if specs:
                self._pathspecs(specs, prefix, "stash", raw)
            else:
                self.destroy("stash", raw)
        elif sub == "save":
            self.destroy("stash", raw)
        # pop, apply and branch bring work back; git refuses them rather than overwrite local changes

    def _git_rm(self, rest, prefix, raw):
        opts, ops, after = _getopt(rest, long_req=("pathspec-from-file",))
        if _names(opts) & {"--cached", "-n", "--dry-run"}:
            return
        for p in ops + (after or []):
            self.write(p, prefix)

    def _git_mv(self, rest, prefix, raw):
        opts, _, _ = _getopt(rest)
        if _names(opts) & {"-n", "--dry-run"}:
            return
        self._copy_like(rest, prefix, True, short_req="", long_req=())

    # ---- PowerShell

    def ps_run(self, text: str, prefix: str) -> None:
        if self.depth >= MAX_DEPTH:
            raise _ParseError("nested too deeply")
        self.budget[0] -= len(text) + 1
        if self.budget[0] < 0:
            raise _ParseError("too much work")
        self.depth += 1
        try:
            for stmt in _ps_split(text):
                new = self._ps_stmt(stmt, prefix)
                if new is not None:
                    prefix = new
        finally:
            self.depth -= 1

    def _ps_stmt(self, items: list, prefix: str) -> str | None:
        self._tick()
        args: list[list[str]] = []
        join_next = False
        for it in items:
            if isinstance(it, tuple):
                _, op, tgt = it
                if tgt is not None and tgt.lower() not in ("$null", "nul"):
                    self.write(tgt, prefix, _ps_join)
            elif it is _PS_COMMA:
                join_next = True
            else:
                if join_next and args:
                    args[-1].append(it)
                else:
                    args.append([it])
                join_next = False
        while args and args[0][0] in (".", "&"):
            args = args[1:]
        if not args:
            return None
        name = args[0][0]
        low = re.split(r"[\\/]", name.lower())[-1]
        if low.endswith(".exe"):
            low = low[:-4]
        spec = _PS_CMDLETS.get(low)
        if spec is None:
            if low in _PS_NATIVE:
                flat = [w for a in args[1:] for w in a]
                raw = " ".join([name, *flat])
                return self.command([low, *flat], prefix, raw, [])
            return None
        kind, params, positional = spec
        bound = _ps_bind(args[1:], params, positional)
        if "whatif" in bound:
            return None
        paths = bound.get("path", [])
        if kind == "write":
            for p in paths:
                self.write(p, prefix, _ps_join)
        elif kind == "tee":
            if "variable" not in bound:
                for p in paths:
                    self.write(p, prefix, _ps_join)
        elif kind == "newitem":
            itemtype = "".join(bound.get("itemtype", [])).lower()
            if itemtype.startswith("d"):
                return None
            names = bound.get("name", [])
            if names:
                for nm in names:
                    for p in paths or [""]:
                        self.write(p.rstrip("\\/") + "/" + nm if p else nm, prefix, _ps_join)
            else:
                for p in paths:
                    self.write(p, prefix, _ps_join)
        elif kind == "move":
            for p in paths + bound.get("destination", []):
                self.write(p, prefix, _ps_join)
        elif kind == "copy":
            for p in bound.get("destination", []):
                self.write(p, prefix, _ps_join)
        elif kind == "rename":
            for p in paths:
                self.write(p, prefix, _ps_join)
                for nn in bound.get("newname", []):
                    head = re.split(r"[\\/](?=[^\\/]*\Z)", p)
                    self.write(head[0] + "/" + nn if len(head) == 2 else nn, prefix, _ps_join)
        elif kind == "cd":
            if paths and paths[0] not in ("-", "+") and _UNKNOWN not in paths[0]:
                return _ps_join(prefix, paths[0])
        elif kind == "pushd":
            if paths and _UNKNOWN not in paths[0]:
                self.dirstack.append(prefix)
                return _ps_join(prefix, paths[0])
        elif kind == "popd":
            return self.dirstack.pop() if self.dirstack else None
        return None


_HANDLERS = {
    "sudo": _Analyzer._h_sudo,
    "sudoedit": _Analyzer._h_sudoedit,
    "doas": _Analyzer._h_doas,
    "env": _Analyzer._h_env,
    "command": _Analyzer._h_command,
    "builtin": _Analyzer._h_builtin,
    "nohup": _Analyzer._h_simple_prefix,
    "chronic": _Analyzer._h_simple_prefix,
    "unbuffer": _Analyzer._h_simple_prefix,
    "time": _Analyzer._h_time,
    "nice": _Analyzer._h_nice,
    "ionice": _Analyzer._h_ionice,
    "timeout": _Analyzer._h_timeout,
    "stdbuf": _Analyzer._h_stdbuf,
    "exec": _Analyzer._h_exec,
    "xargs": _Analyzer._h_xargs,
    "eval": _Analyzer._h_eval,
    "busybox": _Analyzer._h_busybox,
    "pwsh": _Analyzer._h_pwsh,
    "powershell": _Analyzer._h_pwsh,
    "pwsh.exe": _Analyzer._h_pwsh,
    "powershell.exe": _Analyzer._h_pwsh,
    "find": _Analyzer._h_find,
    "cd": _Analyzer._h_cd,
    "pushd": _Analyzer._h_pushd,
    "popd": _Analyzer._h_popd,
    "rm": _Analyzer._h_remove,
    "rmdir": _Analyzer._h_remove,
    "unlink": _Analyzer._h_remove,
    "shred": _Analyzer._h_shred,
    "touch": _Analyzer._h_touch,
    "truncate": _Analyzer._h_truncate,
    "tee": _Analyzer._h_tee,
    "chmod": _Analyzer._h_chmod,
    "chown": _Analyzer._h_chown,
    "chgrp": _Analyzer._h_chown,
    "sed": _Analyzer._h_sed,
    "gsed": _Analyzer._h_sed,
    "perl": _Analyzer._h_perl,
    "mv": _Analyzer._h_mv,
    "cp": _Analyzer._h_cp,
    "install": _Analyzer._h_install,
    "ln": _Analyzer._h_ln,
    "rsync": _Analyzer._h_rsync,
    "dd": _Analyzer._h_dd,
    "patch": _Analyzer._h_patch,
    "git": _Analyzer._h_git,
    "sort": _Analyzer._h_sort,
    "curl": _Analyzer._h_curl,
    "wget": _Analyzer._h_wget,
    "gofmt": _Analyzer._h_gofmt,
    "black": _Analyzer._h_formatter,
    "isort": _Analyzer._h_formatter,
    "prettier": _Analyzer._h_prettier,
    "ruff": _Analyzer._h_ruff,
}
_HANDLERS.update(dict.fromkeys(_SHELLS, _Analyzer._h_shell))

_GIT = {
    "checkout": _Analyzer._git_checkout,
    "switch": _Analyzer._git_switch,
    "restore": _Analyzer._git_restore,
    "reset": _Analyzer._git_reset,
    "clean": _Analyzer._git_clean,
    "stash": _Analyzer._git_stash,
    "rm": _Analyzer._git_rm,
    "mv": _Analyzer._git_mv,
}


# --------------------------------------------------------------------------- PowerShell lexer

_PS_COMMA = object()
_PS_REDIR = re.compile(r"[1-6*]?>>?(?:&[1-6])?")
_PS_WORD_END = frozenset(" \t\r\n;|{}(),>")


def _ps_skip_group(s: str, i: int) -> int:
    """Index just past the ')' matching the '(' at i (PowerShell quotes respected, roughly)."""
    n = len(s)
    depth = 0
    while i < n:
        c = s[i]
        if c == "`":
            i += 2
            continue
        if c in "'\"":
            j = s.find(c, i + 1)
            if j < 0:
                raise _ParseError("unterminated quote")
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise _ParseError("unterminated (")


def _ps_word(s: str, i: int) -> tuple[str, int]:
    n = len(s)
    start = i
    parts: list[str] = []
    while i < n:
        c = s[i]
        if c in _PS_WORD_END:
            break
        if c == "&" and s.startswith("&&", i):
            break
        if c == "`":
            if i + 1 < n and s[i + 1] not in "\r\n":
                parts.append(s[i + 1])
            i += 2
        elif c == "'":
            i += 1
            while True:
                j = s.find("'", i)
                if j < 0:
                    raise _ParseError("unterminated single quote")
                parts.append(s[i:j])
                if s.startswith("''", j):
                    parts.append("'")
                    i = j + 2
                    continue
                i = j + 1
                break
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    raise _ParseError("unterminated double quote")
                d = s[i]
                if d == "`" and i + 1 < n:
                    parts.append(s[i + 1])
                    i += 2
                elif d == '"':
                    if s.startswith('""', i):
                        parts.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                elif d == "$" and s.startswith("(", i + 1):
                    parts.append(_UNKNOWN)
                    i = _ps_skip_group(s, i + 1)
                else:
                    parts.append(d)
                    i += 1
        elif c in "$@" and s.startswith("(", i + 1):
            parts.append(_UNKNOWN)
            i = _ps_skip_group(s, i + 1)
        elif c == "$" and s.startswith("{", i + 1):
            j = s.find("}", i)
            if j < 0:
                raise _ParseError("unterminated ${")
            parts.append(s[i : j + 1])
            i = j + 1
        else:
            parts.append(c)
            i += 1
    if i == start:
        i += 1
    return "".join(parts), i


def _ps_split(s: str) -> list[list]:
    """Statements of a PowerShell command: lists of words, commas and ("r", op, target) redirections."""
    stmts: list[list] = [[]]
    n = len(s)
    i = 0
    while i < n:
        c = s[i]
        if c in " \t\r":
            i += 1
        elif s.startswith("<#", i):
            j = s.find("#>", i + 2)
            if j < 0:
                raise _ParseError("unterminated block comment")
            i = j + 2
        elif c == "#":
            j = s.find("\n", i)
            i = n if j < 0 else j
        elif c in ";|\n{}()" or s.startswith("&&", i):
            i += 2 if c == "&" else 1
            if stmts[-1]:
                stmts.append([])
        elif c == ",":
            stmts[-1].append(_PS_COMMA)
            i += 1
        elif c == "&":
            i += 1  # call operator / background
        elif (m := _PS_REDIR.match(s, i)) is not None and (c == ">" or s.startswith(">", i + 1)):
            op = m.group()
            i = m.end()
            if "&" in op:
                stmts[-1].append(("r", op, None))
                continue
            while i < n and s[i] in " \t":
                i += 1
            tgt = None
            if i < n and s[i] not in ";|\n{}(),":
                tgt, i = _ps_word(s, i)
            stmts[-1].append(("r", op, tgt))
        else:
            w, i = _ps_word(s, i)
            stmts[-1].append(w)
    return [st for st in stmts if st]


_PS_SWITCHES = frozenset(
    (
        "force",
        "whatif",
        "confirm",
        "verbose",
        "debug",
        "recurse",
        "passthru",
        "append",
        "noclobber",
        "nonewline",
        "container",
        "asbytestream",
        "usetransaction",
    )
)
_PS_ALIASES = {
    "literalpath": "path",
    "lp": "path",
    "pspath": "path",
    "filepath": "path",
    "type": "itemtype",
    "fullname": "path",
}


def _ps_bind(
    args: list[list[str]], params: tuple[str, ...], positional: tuple[str, ...]
) -> dict[str, list[str]]:
    """Bind PowerShell arguments to parameter names (lower case); values are lists of strings."""
    known = list(params) + list(_PS_ALIASES) + sorted(_PS_SWITCHES)
    named: dict[str, list[str]] = {}
    pos: list[list[str]] = []
    k = 0
    while k < len(args):
        a = args[k]
        t = a[0]
        if len(a) == 1 and len(t) > 1 and t[0] == "-" and not t[1].isdigit() and t[1] != ".":
            pname, colon, val = t[1:].partition(":")
            pname = pname.lower()
            full = pname if pname in known else next((p for p in known if p.startswith(pname)), pname)
            full = _PS_ALIASES.get(full, full)
            if colon:
                named[full] = [val] if val else []
                k += 1
                continue
            nxt = args[k + 1] if k + 1 < len(args) else None
            if (
                full in _PS_SWITCHES
                or nxt is None
                or (len(nxt) == 1 and nxt[0][:1] == "-" and len(nxt[0]) > 1)
            ):
                named[full] = []
                k += 1
                continue
            named[full] = nxt
            k += 2
            continue
        pos.append(a)
        k += 1
    free = [p for p in positional if p not in named]
    for pname, val in zip(free, pos, strict=False):
        named[pname] = val
    return named


_PS_CONTENT = (
    "write",
    ("path", "value", "encoding", "filter", "include", "exclude", "stream", "credential"),
    ("path", "value"),
)
_PS_REMOVE = ("write", ("path", "filter", "include", "exclude", "credential", "stream"), ("path",))
_PS_MOVE = (
    "move",
    ("path", "destination", "filter", "include", "exclude", "credential"),
    ("path", "destination"),
)
_PS_COPY = (
    "copy",
    ("path", "destination", "filter", "include", "exclude", "credential", "fromsession", "tosession"),
    ("path", "destination"),
)
_PS_CD = ("cd", ("path", "stackname"), ("path",))
_PS_CMDLETS = {
    "set-content": _PS_CONTENT,
    "sc": _PS_CONTENT,
    "add-content": _PS_CONTENT,
    "ac": _PS_CONTENT,
    "clear-content": _PS_CONTENT,
    "clc": _PS_CONTENT,
    "out-file": ("write", ("path", "encoding", "width", "inputobject"), ("path", "encoding")),
    "tee-object": ("tee", ("path", "variable", "inputobject", "encoding"), ("path",)),
    "tee": ("tee", ("path", "variable", "inputobject", "encoding"), ("path",)),
    "new-item": ("newitem", ("path", "name", "itemtype", "value", "credential"), ("path",)),
    "ni": ("newitem", ("path", "name", "itemtype", "value", "credential"), ("path",)),
    "remove-item": _PS_REMOVE,
    "ri": _PS_REMOVE,
    "rm": _PS_REMOVE,
    "del": _PS_REMOVE,
    "erase": _PS_REMOVE,
    "rd": _PS_REMOVE,
    "rmdir": _PS_REMOVE,
    "move-item": _PS_MOVE,
    "mi": _PS_MOVE,
    "mv": _PS_MOVE,
    "move": _PS_MOVE,
    "copy-item": _PS_COPY,
    "cpi": _PS_COPY,
    "cp": _PS_COPY,
    "copy": _PS_COPY,
    "rename-item": ("rename", ("path", "newname"), ("path", "newname")),
    "rni": ("rename", ("path", "newname"), ("path", "newname")),
    "ren": ("rename", ("path", "newname"), ("path", "newname")),
    "set-location": _PS_CD,
    "sl": _PS_CD,
    "cd": _PS_CD,
    "chdir": _PS_CD,
    "push-location": ("pushd", ("path", "stackname"), ("path",)),
    "pushd": ("pushd", ("path", "stackname"), ("path",)),
    "pop-location": ("popd", ("stackname",), ()),
    "popd": ("popd", ("stackname",), ()),
}
_PS_NATIVE = frozenset(("git", "bash", "sh", "zsh", "sed", "perl"))


# --------------------------------------------------------------------------- entry points


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
    return command.replace("\r\n", "\n").replace(_UNKNOWN, "")


def analyze_bash(command: str, *, start: str = "", is_dir=None) -> ShellAnalysis:
    """What a Bash command line would write, and whether it is a repository-wide destructive git command.

    `start` is the command's directory relative to the top of its working tree ("" at the top): relative
    writes then come back relative to the top, and `.` below the top is not the whole repository. `is_dir`,
    if given, tells whether such a path is an existing directory (`cp x src` writes `src/x`).
    Never raises: anything that cannot be parsed yields ``ShellAnalysis(unparsed=True)``.
    """
    return _analyze(command, _Analyzer.run_text, start, is_dir)


def analyze_powershell(command: str, *, start: str = "", is_dir=None) -> ShellAnalysis:
    """The PowerShell counterpart of :func:`analyze_bash`, for simple cmdlet and redirection cases.

    Never raises: anything that cannot be parsed yields ``ShellAnalysis(unparsed=True)``.
    """
    return _analyze(command, _Analyzer.ps_run, start, is_dir)


def _analyze(command, run, start: str = "", is_dir=None) -> ShellAnalysis:
    try:
        text = _prepare(command)
        if text is None:
            return ShellAnalysis(unparsed=True)
        analyzer = _Analyzer(is_dir)
        run(analyzer, text, start)
        return analyzer.result()
    except Exception:  # _ParseError, RecursionError, or a bug: fail open, never break the hook
        return ShellAnalysis(unparsed=True)
