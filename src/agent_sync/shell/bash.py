"""Bash: the lexer (words, operators, redirections, heredocs, ``$(...)``, backticks, quoting) and the
walker that cuts a token stream into simple commands, applies their redirections and hands their words to
the analyzer (``an.command``).
"""

from __future__ import annotations

from .common import MAX_DEPTH, UNKNOWN, ParseError

# --------------------------------------------------------------------------- bash lexer


class Word:
    __slots__ = ("text", "raw", "subs")

    def __init__(self, text: str, raw: str, subs: list):
        self.text = text  # value after quote removal; UNKNOWN marks substitutions
        self.raw = raw  # the source text of the word
        self.subs = subs  # token lists of the command/process substitutions inside the word


class Op:
    __slots__ = ("op",)

    def __init__(self, op: str):
        self.op = op


class Redir:
    __slots__ = ("op", "strip", "body")

    def __init__(self, op: str):
        self.op = op
        self.strip = op == "<<-"
        self.body = ""  # heredoc body (for << and <<-)


_META = frozenset(" \t\n;&|()<>")
_REDIR_OPS = ("<<<", "<<-", "<<", "<>", "<&", "<", ">>", ">|", ">&", ">")
_ANSI_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "e": "\x1b", "a": "\a"}


def _is_fd_variable(raw: str) -> bool:
    """``{NAME}`` before a redirection (``{fd}>file``), NAME in ASCII."""
    name = raw[1:-1]
    return raw[:1] == "{" and raw[-1:] == "}" and name.isascii() and name.isidentifier()


class Lexer:
    """Splits bash source into words, operators and redirections; substitutions are lexed recursively."""

    def __init__(self, s: str, depth: int, budget: list[int]):
        if depth > MAX_DEPTH:
            raise ParseError("nested too deeply")
        budget[0] -= len(s) + 1
        if budget[0] < 0:
            raise ParseError("too much work")
        self.s = s
        self.n = len(s)
        self.i = 0
        self.depth = depth
        self.budget = budget
        self.pending: list[tuple[Redir, str]] = []  # heredocs whose bodies start at the next newline
        self.hd_wait: Redir | None = None  # a << whose delimiter word comes next

    def tokens(self, sub: bool = False) -> list:
        """Lex to the end of input, or (sub) to the ')' that closes a ``$(`` / ``<(``."""
        s, n = self.s, self.n
        toks: list = []
        paren = 0
        while True:
            i = self.i
            if i >= n:
                if sub:
                    raise ParseError("unterminated substitution")
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
                toks.append(Op("\n"))
                self._read_heredocs()
            elif c == ";":
                op = next(o for o in (";;&", ";;", ";&", ";") if s.startswith(o, i))
                toks.append(Op(op))
                self.i = i + len(op)
            elif c == "&":
                if s.startswith("&>>", i):
                    self._redir(toks, "&>>")
                elif s.startswith("&>", i):
                    self._redir(toks, "&>")
                else:
                    op = "&&" if s.startswith("&&", i) else "&"
                    toks.append(Op(op))
                    self.i = i + len(op)
            elif c == "|":
                op = "||" if s.startswith("||", i) else "|&" if s.startswith("|&", i) else "|"
                toks.append(Op(op))
                self.i = i + len(op)
            elif c == "(":
                if s.startswith("((", i):  # arithmetic command (( ... )): no effects we track
                    self.i = self._skip_group(i, "(", ")")
                else:
                    paren += 1
                    toks.append(Op("("))
                    self.i = i + 1
            elif c == ")":
                self.i = i + 1
                if sub and paren == 0:
                    return toks
                paren = max(0, paren - 1)
                toks.append(Op(")"))
            elif (c == "<" or c == ">") and not s.startswith("(", i + 1):
                self._redir(toks, next(o for o in _REDIR_OPS if s.startswith(o, i)))
            else:
                w = self._read_word()
                j = self.i
                if (
                    j < n
                    and s[j] in "<>"
                    and not s.startswith("(", j + 1)
                    and (w.raw.isdigit() or _is_fd_variable(w.raw))
                ):
                    continue  # the fd of the redirection that follows (2>, {fd}>)
                if self.hd_wait is not None:
                    self.pending.append((self.hd_wait, w.text))
                    self.hd_wait = None
                toks.append(w)

    def _redir(self, toks: list, op: str) -> None:
        r = Redir(op)
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

    def _read_word(self) -> Word:
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
                    parts.append(UNKNOWN)
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
                    raise ParseError("unterminated single quote")
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
            raise ParseError("lexer made no progress")
        self.i = min(i, n)
        return Word("".join(parts), s[start : self.i], subs)

    def _nested(self) -> list:
        if self.depth >= MAX_DEPTH:
            raise ParseError("nested too deeply")
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
        raise ParseError("unterminated double quote")

    def _dollar(self, i: int, parts: list, subs: list, in_dq: bool) -> int:
        s, n = self.s, self.n
        nxt = s[i + 1] if i + 1 < n else ""
        if nxt == "(":
            if s.startswith("((", i + 1):  # $(( arithmetic ))
                parts.append(UNKNOWN)
                return self._skip_group(i + 1, "(", ")")
            self.i = i + 2
            subs.append(self._nested())
            parts.append(UNKNOWN)
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
                raise ParseError("unterminated $'")
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
            raise ParseError("unterminated backtick")
        subs.append(Lexer("".join(buf), self.depth + 1, self.budget).tokens())
        parts.append(UNKNOWN)
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
                    raise ParseError("unterminated single quote")
                i = j + 1
                continue
            if c == '"':
                i += 1
                while i < n and s[i] != '"':
                    i += 2 if s[i] == "\\" else 1
                if i >= n:
                    raise ParseError("unterminated double quote")
                i += 1
                continue
            if c == open_:
                depth += 1
            elif c == close:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise ParseError(f"unterminated {open_}")


# --------------------------------------------------------------------------- walking tokens

_WRITE_REDIRS = frozenset((">", ">>", ">|", "&>", "&>>", "<>"))


def is_assignment(word: str) -> bool:
    """Does ``word`` start with ``NAME=``, ``NAME+=`` or ``NAME[...]=`` (``NAME`` in ASCII)?

    The regular expression ``[A-Za-z_][A-Za-z0-9_]*(?:\\[[^\\]]*\\])?\\+?=``, by hand: compiling it would
    cost each hook process more than all the calls do.
    """
    n = len(word)
    i = 0
    while i < n and word[i].isascii() and (word[i].isalnum() or word[i] == "_"):
        i += 1
    if i == 0 or word[0].isdigit():
        return False
    if i < n and word[i] == "[":
        i = word.find("]", i + 1) + 1
        if i == 0:
            return False
    if i < n and word[i] == "+":
        i += 1
    return i < n and word[i] == "="


def _is_dup(target: str) -> bool:
    """Is the target of ``>&`` a descriptor (``2>&1``, ``>&-``) rather than a file? (``\\d*-?``)"""
    digits = target.removesuffix("-")
    return not digits or digits.isdecimal()


def run_text(an, text: str, prefix: str) -> None:
    """Lex and analyse a bash script (nested ones too: ``bash -c``, ``eval``, heredoc scripts)."""
    run_tokens(an, Lexer(text, an.depth, an.budget).tokens(), prefix)


def run_tokens(an, toks: list, prefix: str) -> None:
    if an.depth >= MAX_DEPTH:
        raise ParseError("nested too deeply")
    an.depth += 1
    try:
        _walk(an, toks, prefix)
    finally:
        an.depth -= 1


def _walk(an, toks: list, prefix: str) -> None:
    stack: list[str] = []
    words: list[Word] = []
    redirs: list = []
    pending = None
    in_pipe = False
    for t in toks:
        tt = type(t)
        if tt is Word:
            if pending is not None:
                redirs.append((pending, t, len(words)))
                pending = None
            else:
                words.append(t)
            continue
        if pending is not None:
            raise ParseError("redirection without a target")
        if tt is Redir:
            pending = t
            continue
        op = t.op
        piped = op == "|" or op == "|&"
        prefix = _simple(an, words, redirs, prefix, in_pipe or piped or op == "&")
        words, redirs = [], []
        if op == "(":
            stack.append(prefix)
        elif op == ")" and stack:
            prefix = stack.pop()
        in_pipe = piped
    if pending is not None:
        raise ParseError("redirection without a target")
    if stack:
        raise ParseError("unbalanced (")
    _simple(an, words, redirs, prefix, in_pipe)


def _simple(an, words: list, redirs: list, prefix: str, isolated: bool) -> str:
    """Analyse one simple command; returns the prefix (cwd) for the commands that follow."""
    if not words and not redirs:
        return prefix
    an.tick()
    for w in words:
        for sub in w.subs:
            run_tokens(an, sub, prefix)
    for _, w, _ in redirs:
        for sub in w.subs:
            run_tokens(an, sub, prefix)
    limit = -1  # inside [[ ... ]], < and > compare strings
    if any(w.text == "[[" for w in words):
        limit = max((k for k, w in enumerate(words) if w.text == "]]"), default=len(words))
    stdin: list[str] = []
    for r, w, idx in redirs:
        if idx <= limit:
            continue
        op = r.op
        if op in _WRITE_REDIRS or (op == ">&" and not _is_dup(w.text)):
            an.write(w.text, prefix)
        elif op == "<<" or op == "<<-":
            stdin.append(r.body)
        elif op == "<<<":
            stdin.append(w.text)
    k = 0
    while k < len(words) and is_assignment(words[k].raw):
        k += 1
    if k == len(words):
        return prefix
    raw = " ".join(w.raw for w in words)
    new = an.command([w.text for w in words[k:]], prefix, raw, stdin)
    return prefix if new is None or isolated else new
