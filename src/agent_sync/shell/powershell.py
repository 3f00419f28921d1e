"""PowerShell: a small lexer (statements of words, commas and redirections), a parameter binder, the table
of the cmdlets that write files, and the walker that analyses each statement (native commands such as
``git`` or ``sed`` go to the bash command table through ``an.command``).
"""

from __future__ import annotations

import re

from .common import MAX_DEPTH, UNKNOWN, ParseError

_ABS = r"(?:[A-Za-z][A-Za-z0-9]*:|[\\/]|~|\$)"  # C:, \x, /x, ~, $env:X (compiled on first use)


def ps_join(prefix: str, path: str) -> str:
    if not prefix or re.match(_ABS, path):
        return path
    if UNKNOWN in prefix:
        return UNKNOWN
    sep = "\\" if "\\" in prefix else "/"
    return prefix.rstrip("\\/") + sep + path


# --------------------------------------------------------------------------- lexer

_COMMA = object()
_REDIR = r"[1-6*]?>>?(?:&[1-6])?"  # compiled on first use
_WORD_END = frozenset(" \t\r\n;|{}(),>")


def _skip_group(s: str, i: int) -> int:
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
                raise ParseError("unterminated quote")
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ParseError("unterminated (")


def _word(s: str, i: int) -> tuple[str, int]:
    n = len(s)
    start = i
    parts: list[str] = []
    while i < n:
        c = s[i]
        if c in _WORD_END:
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
                    raise ParseError("unterminated single quote")
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
                    raise ParseError("unterminated double quote")
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
                    parts.append(UNKNOWN)
                    i = _skip_group(s, i + 1)
                else:
                    parts.append(d)
                    i += 1
        elif c in "$@" and s.startswith("(", i + 1):
            parts.append(UNKNOWN)
            i = _skip_group(s, i + 1)
        elif c == "$" and s.startswith("{", i + 1):
            j = s.find("}", i)
            if j < 0:
                raise ParseError("unterminated ${")
            parts.append(s[i : j + 1])
            i = j + 1
        else:
            parts.append(c)
            i += 1
    if i == start:
        i += 1
    return "".join(parts), i


def split(s: str) -> list[list]:
    """Statements of a PowerShell command: lists of words, commas and ("r", op, target) redirections."""
    stmts: list[list] = [[]]
    redir = re.compile(_REDIR).match
    n = len(s)
    i = 0
    while i < n:
        c = s[i]
        if c in " \t\r":
            i += 1
        elif s.startswith("<#", i):
            j = s.find("#>", i + 2)
            if j < 0:
                raise ParseError("unterminated block comment")
            i = j + 2
        elif c == "#":
            j = s.find("\n", i)
            i = n if j < 0 else j
        elif c in ";|\n{}()" or s.startswith("&&", i):
            i += 2 if c == "&" else 1
            if stmts[-1]:
                stmts.append([])
        elif c == ",":
            stmts[-1].append(_COMMA)
            i += 1
        elif c == "&":
            i += 1  # call operator / background
        elif (m := redir(s, i)) is not None and (c == ">" or s.startswith(">", i + 1)):
            op = m.group()
            i = m.end()
            if "&" in op:
                stmts[-1].append(("r", op, None))
                continue
            while i < n and s[i] in " \t":
                i += 1
            tgt = None
            if i < n and s[i] not in ";|\n{}(),":
                tgt, i = _word(s, i)
            stmts[-1].append(("r", op, tgt))
        else:
            w, i = _word(s, i)
            stmts[-1].append(w)
    return [st for st in stmts if st]


_SWITCHES = frozenset(
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
_ALIASES = {
    "literalpath": "path",
    "lp": "path",
    "pspath": "path",
    "filepath": "path",
    "type": "itemtype",
    "fullname": "path",
}


def bind(
    args: list[list[str]], params: tuple[str, ...], positional: tuple[str, ...]
) -> dict[str, list[str]]:
    """Bind PowerShell arguments to parameter names (lower case); values are lists of strings."""
    known = list(params) + list(_ALIASES) + sorted(_SWITCHES)
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
            full = _ALIASES.get(full, full)
            if colon:
                named[full] = [val] if val else []
                k += 1
                continue
            nxt = args[k + 1] if k + 1 < len(args) else None
            if (
                full in _SWITCHES
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


_CONTENT = (
    "write",
    ("path", "value", "encoding", "filter", "include", "exclude", "stream", "credential"),
    ("path", "value"),
)
_REMOVE = ("write", ("path", "filter", "include", "exclude", "credential", "stream"), ("path",))
_MOVE = (
    "move",
    ("path", "destination", "filter", "include", "exclude", "credential"),
    ("path", "destination"),
)
_COPY = (
    "copy",
    ("path", "destination", "filter", "include", "exclude", "credential", "fromsession", "tosession"),
    ("path", "destination"),
)
_CD = ("cd", ("path", "stackname"), ("path",))
CMDLETS = {
    "set-content": _CONTENT,
    "sc": _CONTENT,
    "add-content": _CONTENT,
    "ac": _CONTENT,
    "clear-content": _CONTENT,
    "clc": _CONTENT,
    "out-file": ("write", ("path", "encoding", "width", "inputobject"), ("path", "encoding")),
    "tee-object": ("tee", ("path", "variable", "inputobject", "encoding"), ("path",)),
    "tee": ("tee", ("path", "variable", "inputobject", "encoding"), ("path",)),
    "new-item": ("newitem", ("path", "name", "itemtype", "value", "credential"), ("path",)),
    "ni": ("newitem", ("path", "name", "itemtype", "value", "credential"), ("path",)),
    "remove-item": _REMOVE,
    "ri": _REMOVE,
    "rm": _REMOVE,
    "del": _REMOVE,
    "erase": _REMOVE,
    "rd": _REMOVE,
    "rmdir": _REMOVE,
    "move-item": _MOVE,
    "mi": _MOVE,
    "mv": _MOVE,
    "move": _MOVE,
    "copy-item": _COPY,
    "cpi": _COPY,
    "cp": _COPY,
    "copy": _COPY,
    "rename-item": ("rename", ("path", "newname"), ("path", "newname")),
    "rni": ("rename", ("path", "newname"), ("path", "newname")),
    "ren": ("rename", ("path", "newname"), ("path", "newname")),
    "set-location": _CD,
    "sl": _CD,
    "cd": _CD,
    "chdir": _CD,
    "push-location": ("pushd", ("path", "stackname"), ("path",)),
    "pushd": ("pushd", ("path", "stackname"), ("path",)),
    "pop-location": ("popd", ("stackname",), ()),
    "popd": ("popd", ("stackname",), ()),
}
NATIVE = frozenset(("git", "bash", "sh", "zsh", "sed", "perl"))


# --------------------------------------------------------------------------- walking statements


def run_text(an, text: str, prefix: str) -> None:
    """Analyse a PowerShell script: statement by statement, `Set-Location` carrying over."""
    if an.depth >= MAX_DEPTH:
        raise ParseError("nested too deeply")
    an.budget[0] -= len(text) + 1
    if an.budget[0] < 0:
        raise ParseError("too much work")
    an.depth += 1
    try:
        for stmt in split(text):
            new = _statement(an, stmt, prefix)
            if new is not None:
                prefix = new
    finally:
        an.depth -= 1


def _statement(an, items: list, prefix: str) -> str | None:
    an.tick()
    args: list[list[str]] = []
    join_next = False
    for it in items:
        if isinstance(it, tuple):
            _, op, tgt = it
            if tgt is not None and tgt.lower() not in ("$null", "nul"):
                an.write(tgt, prefix, ps_join)
        elif it is _COMMA:
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
    spec = CMDLETS.get(low)
    if spec is None:
        if low in NATIVE:
            flat = [w for a in args[1:] for w in a]
            raw = " ".join([name, *flat])
            return an.command([low, *flat], prefix, raw, [])
        return None
    kind, params, positional = spec
    bound = bind(args[1:], params, positional)
    if "whatif" in bound:
        return None
    paths = bound.get("path", [])
    if kind == "write":
        for p in paths:
            an.write(p, prefix, ps_join)
    elif kind == "tee":
        if "variable" not in bound:
            for p in paths:
                an.write(p, prefix, ps_join)
    elif kind == "newitem":
        itemtype = "".join(bound.get("itemtype", [])).lower()
        if itemtype.startswith("d"):
            return None
        names = bound.get("name", [])
        if names:
            for nm in names:
                for p in paths or [""]:
                    an.write(p.rstrip("\\/") + "/" + nm if p else nm, prefix, ps_join)
        else:
            for p in paths:
                an.write(p, prefix, ps_join)
    elif kind == "move":
        for p in paths + bound.get("destination", []):
            an.write(p, prefix, ps_join)
    elif kind == "copy":
        for p in bound.get("destination", []):
            an.write(p, prefix, ps_join)
    elif kind == "rename":
        for p in paths:
            an.write(p, prefix, ps_join)
            for nn in bound.get("newname", []):
                head = re.split(r"[\\/](?=[^\\/]*\Z)", p)
                an.write(head[0] + "/" + nn if len(head) == 2 else nn, prefix, ps_join)
    elif kind == "cd":
        if paths and paths[0] not in ("-", "+") and UNKNOWN not in paths[0]:
            return ps_join(prefix, paths[0])
    elif kind == "pushd":
        if paths and UNKNOWN not in paths[0]:
            an.dirstack.append(prefix)
            return ps_join(prefix, paths[0])
    elif kind == "popd":
        return an.dirstack.pop() if an.dirstack else None
    return None
