"""Lock targets (file, directory, glob): parsing, normalisation and an exact overlap test.

A target stands for a set of repository files, each named by its canonical path: repo-relative,
POSIX, segments joined by "/", no empty, "." or ".." segment, no leading or trailing "/".

* file ``src/a.py`` covers exactly that path;
* dir ``src/`` covers every path strictly below it; dir ``""`` (shown as ``./``) covers every path;
* glob ``src/**/*.ts`` covers the paths it matches as a whole:

  - ``*`` any run of characters within one segment (leading ``*`` matches dotfiles too:
    there is no special case for a leading ".");
  - ``?`` one character other than "/";
  - ``[abc]``, ``[a-z]``, ``[!x]`` / ``[^x]`` classes (never "/"; a "]" first in the class is
    a member; a "[" without a closing "]" in its segment is a literal "[");
  - ``**`` as a whole segment: zero or more whole segments (``src/**/*.ts`` matches
    ``src/x.ts``); a trailing ``**`` means one or more, i.e. every file under the prefix;
    ``**`` inside a segment (``a**b``) behaves like ``*``;
  - everything else, backslash included, is a literal character.

``overlap`` is exact: both targets are turned into small automata over characters whose edges
are labelled with character sets (sorted code-point intervals), and the product automaton is
searched for a common canonical path. ``covers`` on a glob matches segment by segment.

Imported on the hook path: keep the imports to light stdlib modules.
"""

import os
from functools import lru_cache

from agent_sync.errors import UsageError

FILE = "file"
DIR = "dir"
GLOB = "glob"

def _wild(text: str) -> bool:
    return "*" in text or "?" in text or "[" in text


class Target(tuple):
    """kind: "file" | "dir" | "glob" ("resource" for named resources, used by the lock core);
    key: the canonical repo-relative POSIX form, see the module docstring.
    A plain tuple subclass: a dataclass imports `inspect`, a namedtuple is built with `exec`, both at a cost
    every hook process would pay."""

    __slots__ = ()

    def __new__(cls, kind: str, key: str):
        return tuple.__new__(cls, (kind, key))

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def key(self) -> str:
        return self[1]

    def __repr__(self) -> str:
        return f"Target(kind={self[0]!r}, key={self[1]!r})"

    def __getnewargs__(self):
        return tuple(self)

    def display(self) -> str:
        """How to show the target: "./" for the repository root, else the key."""
        if self.kind == DIR and self.key == "":
            return "./"
        return self.key

    @property
    def base(self) -> str:
        """Index key: a prefix of every path the target covers.

        file -> key; dir -> key; glob -> the directories before the first segment with a
        wildcard, ending with "/" ("" when the first segment is wild)."""
        if self.kind == GLOB:
            return _glob_base(self.key)
        return self.key


def is_glob(raw: str) -> bool:
    """True when raw contains *, ? or [ (an unclosed "[" still makes it a glob, matched literally)."""
    return _wild(raw)


# --------------------------------------------------------------------------- parsing


MAX_PATH = 4096  # PATH_MAX on Linux: no real path is longer


def _check_raw(raw: str) -> None:
    if not isinstance(raw, str):
        raise UsageError(f"path must be a string, not {type(raw).__name__}")
    if "\0" in raw:
        raise UsageError(f"path {raw!r} contains a NUL byte")
    if not raw.strip():
        raise UsageError("empty path")
    if len(raw) > MAX_PATH:
        raise UsageError(f"path is too long ({len(raw)} characters; the limit is {MAX_PATH})")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        shown = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UsageError(f"path '{shown}' is not valid UTF-8; agent-sync names files in UTF-8 only") from None


def _repo_relative(abs_path: str, raw: str, root: str) -> str:
    """Resolve abs_path (symlinks, "..") and return it relative to the resolved root ("" = root)."""
    real = os.path.realpath(abs_path)
    real_root = os.path.realpath(root)
    if real == real_root:
        return ""
    prefix = real_root if real_root.endswith("/") else real_root + "/"
    if real.startswith(prefix):
        return real[len(prefix) :]
    raise UsageError(f"path {raw!r} is outside the repository {root}")


def parse_target(raw: str, root: str, cwd: str | None = None) -> Target:
    """Turn a user-supplied path or glob into a canonical Target.

    Relative paths are relative to cwd (default: the process cwd). Symlinks are resolved (for
    a glob, only in its static prefix). A directory is a path ending in "/" (or "/." / "/..")
    or naming an existing directory; the root itself is dir "". Raises UsageError for empty,
    NUL-containing or outside-the-repository input.
    """
    _check_raw(raw)
    if cwd is None:
        cwd = os.getcwd()
    if is_glob(raw) and not os.path.lexists(os.path.join(cwd, raw)):
        return _parse_glob(raw, root, cwd)  # an existing `app/[id]/page.tsx` is that file, not a pattern
    real_abs = os.path.realpath(os.path.join(cwd, raw))
    rel = _repo_relative(real_abs, raw, root)
    if rel == "":
        return Target(DIR, "")
    last = raw.rstrip("/").rsplit("/", 1)[-1]
    if os.path.isfile(real_abs):  # `src/f.py/` naming an existing file is that file, as the shell reads it
        return Target(FILE, rel)
    if raw.endswith("/") or last in (".", "..") or os.path.isdir(real_abs):
        return Target(DIR, rel + "/")
    return Target(FILE, rel)


def _parse_glob(raw: str, root: str, cwd: str) -> Target:
    segs = raw.split("/")
    first_wild = next(i for i, seg in enumerate(segs) if _wild(seg))
    prefix = "/".join(segs[:first_wild])
    if not prefix:
        prefix = "/" if raw.startswith("/") else "."
    rel = _repo_relative(os.path.join(cwd, prefix), raw, root)
    rest = segs[first_wild:]
    out: list[str] = []
    for seg in rest:
        if seg in ("", "."):
            continue
        if seg == "..":
            raise UsageError(f"glob {raw!r}: '..' after a wildcard is not supported")
        if seg == "**" and out and out[-1] == "**":
            continue  # "**/**" matches the same paths as "**"
        out.append(seg)
    if rest[-1] == "" and out[-1] != "**":
        out.append("**")  # "src/*/" = everything under the matching directories
    return Target(GLOB, (rel + "/" if rel else "") + "/".join(out))


def relpath_in_repo(raw: str, root: str, cwd: str | None = None) -> str:
    """Canonical repo-relative path of a FILE path (e.g. from a hook payload).

    Resolves symlinks; no glob interpretation. Raises UsageError when the path is outside the
    repository, is the repository root itself, or is empty / contains NUL."""
    _check_raw(raw)
    if cwd is None:
        cwd = os.getcwd()
    rel = _repo_relative(os.path.join(cwd, raw), raw, root)
    if rel == "":
        raise UsageError(f"path {raw!r} is the repository root, not a file")
    return rel


def ancestors(path: str) -> list[str]:
    """Dir keys that could cover a file path: ancestors("src/a/b.ts") == ["", "src/", "src/a/"]."""
    out = [""]
    i = path.find("/")
    while i != -1:
        out.append(path[: i + 1])
        i = path.find("/", i + 1)
    return out


# --------------------------------------------------------------------------- character sets
# A character predicate is a sorted tuple of disjoint, non-adjacent (lo, hi) code-point
# intervals. The alphabet excludes NUL, which no path can contain, so every set is exact.

_MAXC = 0x10FFFF
_SLASH_ORD = ord("/")
_DOT_ORD = ord(".")
_ALL = ((1, _MAXC),)
_SLASH = ((_SLASH_ORD, _SLASH_ORD),)
_NONSLASH = ((1, _SLASH_ORD - 1), (_SLASH_ORD + 1, _MAXC))


def _normalise(ivs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ivs):
        lo, hi = max(lo, 1), min(hi, _MAXC)
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _intersect(a: tuple, b: tuple) -> tuple:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _complement(a: tuple) -> tuple:
    out = []
    nxt = 1
    for lo, hi in a:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAXC:
        out.append((nxt, _MAXC))
    return tuple(out)


def _contains(a: tuple, c: int) -> bool:
    return any(lo <= c <= hi for lo, hi in a)


def _char(c: str) -> tuple:
    o = ord(c)
    return ((o, o),)


# --------------------------------------------------------------------------- glob compilation
# A compiled target is a tuple of segments; a segment is _GLOBSTAR or a tuple of tokens; a
# token is _STAR or a character predicate.

_STAR = "*"
_GLOBSTAR = "**"


def _parse_class(seg: str, i: int) -> tuple[tuple, int] | None:
    """Parse the class starting at seg[i] == "["; None when it is not closed (literal "[")."""
    n = len(seg)
    j = i + 1
    negated = j < n and seg[j] in "!^"
    if negated:
        j += 1
    start = j
    if j < n and seg[j] == "]":
        j += 1  # "]" first is a member
    k = seg.find("]", j)
    if k < 0:
        return None
    body = seg[start:k]
    ivs = []
    p = 0
    while p < len(body):
        if p + 2 < len(body) and body[p + 1] == "-":
            ivs.append((ord(body[p]), ord(body[p + 2])))  # a reversed range is empty
            p += 3
        else:
            ivs.append((ord(body[p]), ord(body[p])))
            p += 1
    members = _normalise(ivs)
    if negated:
        return _intersect(_complement(members), _NONSLASH), k + 1
    return _intersect(members, _NONSLASH), k + 1


def _segment_tokens(seg: str) -> tuple:
    toks: list = []
    i, n = 0, len(seg)
    while i < n:
        c = seg[i]
        if c == "*":
            if not toks or toks[-1] is not _STAR:
                toks.append(_STAR)
            i += 1
        elif c == "?":
            toks.append(_NONSLASH)
            i += 1
        elif c == "[" and (parsed := _parse_class(seg, i)) is not None:
            pred, i = parsed
            toks.append(pred)
        else:
            toks.append(_char(c))
            i += 1
    return tuple(toks)


@lru_cache(maxsize=4096)
def _compile(kind: str, key: str) -> tuple:
    if kind == FILE:
        return tuple(tuple(_char(c) for c in seg) for seg in key.split("/"))
    if kind == DIR:
        segs = [tuple(_char(c) for c in seg) for seg in key[:-1].split("/")] if key else []
        return (*segs, _GLOBSTAR)
    if kind == GLOB:
        out: list = []
        for seg in key.split("/"):
            if seg == "**":
                if not out or out[-1] is not _GLOBSTAR:
                    out.append(_GLOBSTAR)
            else:
                out.append(_segment_tokens(seg))
        return tuple(out)
    raise UsageError(f"unknown target kind {kind!r}")


@lru_cache(maxsize=4096)
def _glob_base(key: str) -> str:
    segs = key.split("/")
    static = next((i for i, seg in enumerate(segs) if _wild(seg)), len(segs) - 1)
    return "/".join(segs[:static]) + "/" if static else ""


def _segment_matches(tokens: tuple, text: str) -> bool:
    """One path segment against one glob segment's tokens (`*` or a character set), backtracking to the
    last `*` only: linear in practice, and no `re` import for the hook path to pay for."""
    t = s = 0
    star, mark = -1, 0
    while s < len(text):
        if t < len(tokens) and tokens[t] is _STAR:
            star, mark = t, s
            t += 1
        elif t < len(tokens) and _contains(tokens[t], ord(text[s])):
            t += 1
            s += 1
        elif star >= 0:
            mark += 1
            t, s = star + 1, mark
        else:
            return False
    while t < len(tokens) and tokens[t] is _STAR:
        t += 1
    return t == len(tokens)


def _segments_match(segs: tuple, parts: list[str]) -> bool:
    """Glob segments against path segments: a final `**` takes one or more segments, any other `**` zero or
    more. The set of path positions reachable so far is carried segment by segment, so any number of `**`
    costs (glob segments x path segments), never a search over every way to split the path."""
    reach = {0}
    last = len(segs) - 1
    for i, seg in enumerate(segs):
        if seg is _GLOBSTAR:
            if i == last:
                return min(reach) < len(parts)
            reach = set(range(min(reach), len(parts) + 1))
        else:
            reach = {j + 1 for j in reach if j < len(parts) and _segment_matches(seg, parts[j])}
        if not reach:
            return False
    return len(parts) in reach


def covers(target: Target, path: str) -> bool:
    """Does the target's set of files contain this canonical file path?"""
    kind = target.kind
    if kind == FILE:
        return path == target.key
    if kind == DIR:
        return len(path) > len(target.key) and path.startswith(target.key)
    if kind == GLOB:
        return _segments_match(_compile(GLOB, target.key), path.split("/"))
    raise UsageError(f"unknown target kind {kind!r}")


# --------------------------------------------------------------------------- exact overlap


@lru_cache(maxsize=4096)
def _nfa(kind: str, key: str) -> tuple:
    """(edges, epsilons, accept) for the target; state 0 is the start.

    edges[q] is a tuple of (predicate, target state), epsilons[q] a tuple of states. The
    automaton may accept non-canonical strings ("a//b"); the product search filters them."""
    edges: list[list] = [[]]
    eps: list[list] = [[]]

    def new() -> int:
        edges.append([])
        eps.append([])
        return len(edges) - 1

    segs = _compile(kind, key)
    last = len(segs) - 1
    cur = 0
    glued = True  # at the start, or after a middle "**" that consumed its own "/"
    for i, seg in enumerate(segs):
        if not glued:
            nxt = new()
            edges[cur].append((_SLASH, nxt))
            cur = nxt
        glued = False
        if seg is _GLOBSTAR:
            if i == last:  # one or more segments: a non-"/" character, then anything
                body = new()
                edges[cur].append((_NONSLASH, body))
                edges[body].append((_ALL, body))
                cur = body
            else:  # ("seg/")*
                hub, body, nxt = cur, new(), new()
                edges[hub].append((_NONSLASH, body))
                edges[body].append((_NONSLASH, body))
                edges[body].append((_SLASH, hub))
                eps[hub].append(nxt)
                cur = nxt
                glued = True
        else:
            for tok in seg:
                nxt = new()
                if tok is _STAR:
                    eps[cur].append(nxt)
                    edges[nxt].append((_NONSLASH, nxt))
                else:
                    edges[cur].append((tok, nxt))
                cur = nxt
    return tuple(map(tuple, edges)), tuple(map(tuple, eps)), cur


# Shape of the path read so far, within its current segment: 0 empty, 1 ".", 2 "..", 3 a
# valid non-empty segment. "/" and acceptance are only allowed in state 3.
_AFTER_DOT = (1, 2, 3, 3)


@lru_cache(maxsize=16384)
def _moves(pa: tuple, pb: tuple) -> tuple[bool, bool, bool]:
    """Can a common character be "/", ".", or something else?"""
    both = _intersect(pa, pb)
    if not both:
        return False, False, False
    has_slash = _contains(both, _SLASH_ORD)
    has_dot = _contains(both, _DOT_ORD)
    size = sum(hi - lo + 1 for lo, hi in both)
    return has_slash, has_dot, size > has_slash + has_dot


@lru_cache(maxsize=4096)
def _nfa_overlap(kind_a: str, key_a: str, kind_b: str, key_b: str) -> bool:
    edges_a, eps_a, acc_a = _nfa(kind_a, key_a)
    edges_b, eps_b, acc_b = _nfa(kind_b, key_b)
    start = (0, 0, 0)
    seen = {start}
    stack = [start]
    while stack:
        qa, qb, shape = stack.pop()
        if qa == acc_a and qb == acc_b and shape == 3:
            return True
        succ = [(t, qb, shape) for t in eps_a[qa]]
        succ.extend((qa, t, shape) for t in eps_b[qb])
        for pa, ta in edges_a[qa]:
            for pb, tb in edges_b[qb]:
                slash, dot, other = _moves(pa, pb)
                if slash and shape == 3:
                    succ.append((ta, tb, 0))
                if dot:
                    succ.append((ta, tb, _AFTER_DOT[shape]))
                if other:
                    succ.append((ta, tb, 3))
        for state in succ:
            if state not in seen:
                seen.add(state)
                stack.append(state)
    return False


def overlap(a: Target, b: Target) -> bool:
    """Is there any canonical file path covered by both targets? Exact, symmetric."""
    if a.kind == FILE:
        return covers(b, a.key)
    if b.kind == FILE:
        return covers(a, b.key)
    if a.kind == DIR and b.kind == DIR:
        return a.key.startswith(b.key) or b.key.startswith(a.key)
    base_a, base_b = a.base, b.base
    if not (base_a.startswith(base_b) or base_b.startswith(base_a)):
        return False  # every covered path starts with its target's base
    if (a.kind, a.key) > (b.kind, b.key):
        a, b = b, a  # one cache entry per unordered pair
    return _nfa_overlap(a.kind, a.key, b.kind, b.key)
