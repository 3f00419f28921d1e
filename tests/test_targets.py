"""Targets: normalisation, covers, and overlap checked exactly against brute force."""

from __future__ import annotations

import itertools
import os
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agent_sync.errors import UsageError
from agent_sync.targets import (
    Target,
    ancestors,
    covers,
    is_glob,
    overlap,
    parse_target,
    relpath_in_repo,
)

pytestmark = pytest.mark.one_store  # pure path logic: no store opened


def F(key: str) -> Target:
    return Target("file", key)


def D(key: str) -> Target:
    return Target("dir", key)


def G(key: str) -> Target:
    return Target("glob", key)


# --------------------------------------------------------------------------- normalisation


@pytest.fixture
def repo(tmp_path):
    """A repository reached through a symlink, with real directories and a symlinked dir."""
    real = tmp_path / "real-repo"
    (real / "src" / "pkg").mkdir(parents=True)
    (real / "docs").mkdir()
    (real / "src" / "a.py").write_text("")
    (real / "src" / "link").symlink_to(real / "docs", target_is_directory=True)
    (real / "outside-link").symlink_to(tmp_path, target_is_directory=True)
    via_link = tmp_path / "repo-link"
    via_link.symlink_to(real, target_is_directory=True)
    return str(via_link)


@pytest.mark.parametrize(
    ("raw", "cwd_rel", "expected"),
    [
        ("./src/../src/a.py", "", F("src/a.py")),
        ("src//a.py", "", F("src/a.py")),
        ("src/new.py", "", F("src/new.py")),  # need not exist
        ("a.py", "src", F("src/a.py")),  # relative to cwd
        ("../docs/x.md", "src", F("docs/x.md")),
        ("newdir/", "", D("newdir/")),  # trailing slash -> dir
        ("newdir/.", "", D("newdir/")),
        ("src", "", D("src/")),  # existing directory -> dir
        ("src/pkg", "", D("src/pkg/")),
        ("src/link", "", D("docs/")),  # symlinked directory resolves to its target
        ("src/link/x.md", "", F("docs/x.md")),
        (".", "", D("")),
        ("./", "", D("")),
        ("..", "src", D("")),
        ("src/*.py", "", G("src/*.py")),
        ("./src//**/*.ts", "", G("src/**/*.ts")),
        ("*.py", "src", G("src/*.py")),
        ("src/link/**", "", G("docs/**")),  # symlinks resolved in the static prefix
        ("src/**/**/x", "", G("src/**/x")),
        ("src/*/", "", G("src/*/**")),
        ("src/*/./x", "", G("src/*/x")),
        ("a[b", "", G("a[b")),  # unclosed "[" is literal, but still a glob
        ("a\\b", "", F("a\\b")),  # backslash is an ordinary character
    ],
)
def test_parse_target(repo, raw, cwd_rel, expected):
    cwd = os.path.join(repo, cwd_rel) if cwd_rel else repo
    assert parse_target(raw, repo, cwd) == expected


def test_parse_absolute_paths(repo):
    real = os.path.realpath(repo)
    for root_form in (repo, real):
        assert parse_target(os.path.join(root_form, "src", "a.py"), repo, "/") == F("src/a.py")
        assert parse_target(os.path.join(root_form, "src") + "/", repo, "/") == D("src/")
        assert parse_target(os.path.join(root_form, "src", "*.py"), repo, "/") == G("src/*.py")
        assert parse_target(root_form, repo, "/") == D("")
    assert parse_target("src/a.py", real, repo) == F("src/a.py")


def test_parse_default_cwd(repo, monkeypatch):
    monkeypatch.chdir(os.path.join(repo, "src"))
    assert parse_target("a.py", repo) == F("src/a.py")
    assert relpath_in_repo("a.py", repo) == "src/a.py"


@pytest.mark.parametrize("raw", ["../x", "/etc/passwd", "outside-link/x", "../*.py", "/*", "outside-link/*"])
def test_outside_refused(repo, raw):
    with pytest.raises(UsageError, match="outside the repository") as info:
        parse_target(raw, repo, repo)
    assert "\n" not in str(info.value)
    assert repr(raw) in str(info.value)


@pytest.mark.parametrize("raw", ["", "   ", "\t\n", "a\0b", "\0"])
def test_empty_and_nul_refused(repo, raw):
    with pytest.raises(UsageError):
        parse_target(raw, repo, repo)
    with pytest.raises(UsageError):
        relpath_in_repo(raw, repo, repo)


def test_dotdot_after_wildcard_refused(repo):
    with pytest.raises(UsageError):
        parse_target("src/*/../x", repo, repo)


def test_relpath_in_repo(repo):
    assert relpath_in_repo(os.path.join(repo, "src", "a.py"), repo) == "src/a.py"
    assert relpath_in_repo("src/./pkg/../a.py", repo, repo) == "src/a.py"
    assert relpath_in_repo("src/link/x.md", repo, repo) == "docs/x.md"
    assert relpath_in_repo("src/*.py", repo, repo) == "src/*.py"  # a file path: no glob meaning
    for raw in ("../x", "/etc/passwd", "outside-link/x"):
        with pytest.raises(UsageError, match="outside the repository"):
            relpath_in_repo(raw, repo, repo)
    with pytest.raises(UsageError):
        relpath_in_repo(".", repo, repo)


def test_display_base_ancestors():
    assert D("").display() == "./"
    assert D("src/").display() == "src/"
    assert G("src/*.py").display() == "src/*.py"
    assert F("src/a.py").base == "src/a.py"
    assert D("src/").base == "src/"
    assert D("").base == ""
    assert G("src/**/*.ts").base == "src/"
    assert G("src/a*/b").base == "src/"
    assert G("*.py").base == ""
    assert G("a/b/[xy]/c").base == "a/b/"
    assert ancestors("src/a/b.ts") == ["", "src/", "src/a/"]
    assert ancestors("x") == [""]


def test_is_glob():
    assert is_glob("*.py") and is_glob("a?") and is_glob("[ab]") and is_glob("a[")
    assert not is_glob("src/a.py") and not is_glob("src/")


# --------------------------------------------------------------------------- covers / overlap examples


@pytest.mark.parametrize(
    ("target", "path", "expected"),
    [
        (F("src/a.py"), "src/a.py", True),
        (F("src/a.py"), "src/a.pyc", False),
        (D("src/"), "src/a", True),
        (D("src/"), "src/x/y", True),
        (D("src/"), "src", False),
        (D("src/"), "srcx/a", False),
        (D(""), "anything/at/all", True),
        (G("src/**/*.ts"), "src/x.ts", True),
        (G("src/**/*.ts"), "src/a/b/x.ts", True),
        (G("src/**/*.ts"), "src/a/b/x.tsx", False),
        (G("src/**/*.ts"), "lib/src/x.ts", False),
        (G("src/**"), "src/a", True),
        (G("src/**"), "src/a/b/c", True),
        (G("src/**"), "src", False),
        (G("**"), "a", True),
        (G("**/x"), "x", True),
        (G("**/x"), "a/b/x", True),
        (G("*.py"), "src/x.py", False),
        (G("*.py"), ".hidden.py", True),  # leading "*" matches dotfiles
        (G("a**b"), "axxb", True),
        (G("a**b"), "ax/xb", False),
        (G("?"), "/", False),
        (G("[!a]"), "b", True),
        (G("[!a]"), "a", False),
        (G("[^a]"), "a", False),
        (G("[a-c]x"), "bx", True),
        (G("[a-c]x"), "dx", False),
        (G("[]a]"), "]", True),
        (G("[!]a]"), "]", False),
        (G("a["), "a[", True),
        (G("a[b"), "ab", False),
        (G("[b-a]"), "a", False),  # reversed range is empty
        (G("a.b"), "axb", False),  # "." is literal
        (G("a+(b)|c$"), "a+(b)|c$", True),  # regex metacharacters are literal
        (G("a\\*"), "a\\xyz", True),  # backslash is literal, "*" stays a wildcard
    ],
)
def test_covers(target, path, expected):
    assert covers(target, path) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (G("src/**/*.ts"), F("src/a/b.ts"), True),
        (G("src/**/*.ts"), D("src/"), True),
        (G("src/**/*.ts"), G("src/**"), True),
        (G("src/**/*.ts"), G("src/*.py"), False),
        (G("src/**/*.ts"), G("docs/**"), False),
        (G("src/*"), F("src/a/b"), False),
        (G("a/*/c"), G("a/**"), True),
        (G("*.py"), F("src/x.py"), False),
        (G("[ab]x"), G("[bc]x"), True),
        (G("[a]x"), G("[b]x"), False),
        (G("[!a]"), F("a"), False),
        (G("[!a]"), G("[!b]"), True),
        (G("[!a]"), G("[a]"), False),
        (F("src/a.py"), F("src/a.py"), True),
        (F("src/a.py"), F("src/b.py"), False),
        (D("src/"), F("src/a.py"), True),
        (D("src/"), F("src"), False),
        (D("src/"), D("src/a/"), True),
        (D("src/"), D("srcx/"), False),
        (D(""), G("x/**"), True),
        (D("src/a/"), G("src/*"), False),
        (D("src/a/"), G("src/*/*"), True),
        (D("src/a/"), G("*/[!a]/**"), False),
        (G("**/x.py"), G("src/**"), True),
        (G("src/**/x"), G("**/y/x"), True),
        (G("[b-a]"), D(""), False),  # a glob matching nothing overlaps nothing
        (G(".*"), G("*."), True),  # "..." (".." alone is not a file name)
        (G("[.][.]"), G("*"), False),
        (G("[.]"), D(""), False),
        (G("a*"), G("*b"), True),
        (G("a*b"), G("*c*"), True),
        (G("a?"), G("?"), False),
    ],
)
def test_overlap_examples(a, b, expected):
    assert overlap(a, b) is expected
    assert overlap(b, a) is expected


def test_unclosed_bracket_never_raises():
    for key in ("[", "a[", "[!", "[^", "[]", "[!]", "a[b/c]d", "[[", "x[a-"):
        t = G(key)
        # an unclosed "[" is a literal character, so the pattern stands for the path spelled like the key
        assert covers(t, key) is True, key
        assert overlap(t, t) is True, key
        assert overlap(t, D("")) is True, key
        assert overlap(t, F(key)) is True, key
        assert isinstance(t.base, str)


# --------------------------------------------------------------------------- property tests

# Patterns are built from these atoms. Their character semantics only distinguish "a", "b"
# and "." ("*", "?" and "[!a]" accept every other non-"/" character, and so does "b"), so
# replacing any other character of a common path by "b" keeps it common and valid: the
# universe alphabet {a, b, .} loses no witness.
ATOMS = ["a", "b", ".", "*", "?", "[ab]", "[!a]"]
ALPHABET = "ab."

# Bounds of the universe: up to MAX_SEGMENTS segments of up to MAX_SEGMENT_LEN characters.
#
# Segment length. Take a shortest common path and one of its segments; it is matched by one
# segment of each pattern (a "**", a dir's tail and a file do the same as a "*" / literals
# here). A character consumed by "*" on both sides can be deleted, unless the segment would
# then be "", "." or ".." (not file names); so a shortest segment has either only characters
# consumed by a non-"*" atom on at least one side, or at most 3 characters. With at most 2
# atoms per pattern segment: if either side has no "*", the length is fixed at <= 2; else both
# sides have <= 1 non-"*" atom. Hence <= 3 characters.
#
# Segment count. A path segment that both patterns consume with a "**" can be deleted, unless
# it is the single segment of a trailing "**" (one or more): only the last segment, and only
# when both patterns end in "**". So a shortest common path has at most
# n_a + n_b (+1 if both end with "**") segments, where n is the number of non-"**" segments;
# one less when both start, and again when both end, with a non-"**" segment (they consume the
# same path segment). A pattern without "**" fixes the count to its own length (<= 3).
# `_segment_bound` computes this and pairs whose bound exceeds MAX_SEGMENTS are discarded.
MAX_SEGMENTS = 3
MAX_SEGMENT_LEN = 3


def _canonical_segments():
    for n in range(1, MAX_SEGMENT_LEN + 1):
        for chars in itertools.product(ALPHABET, repeat=n):
            seg = "".join(chars)
            if seg not in (".", ".."):
                yield seg


SEGMENTS = list(_canonical_segments())
UNIVERSE = [
    "/".join(segs) for n in range(1, MAX_SEGMENTS + 1) for segs in itertools.product(SEGMENTS, repeat=n)
]


def _shape(t: Target) -> list[str]:
    """Pattern segments with "**" marking a multi-segment wildcard."""
    if t.kind == "file":
        return t.key.split("/")
    if t.kind == "dir":
        return [*t.key[:-1].split("/"), "**"] if t.key else ["**"]
    return t.key.split("/")


def _segment_bound(a: Target, b: Target) -> int:
    sa, sb = _shape(a), _shape(b)
    if "**" not in sa:
        return len(sa)
    if "**" not in sb:
        return len(sb)
    bound = sum(s != "**" for s in sa) + sum(s != "**" for s in sb)
    if sa[0] != "**" and sb[0] != "**":
        bound -= 1
    if sa[-1] != "**" and sb[-1] != "**":
        bound -= 1
    if sa[-1] == "**" and sb[-1] == "**":
        bound += 1
    return bound


plain_segment = (
    st.lists(st.sampled_from(ATOMS), min_size=1, max_size=2)
    .map("".join)
    .filter(lambda s: s not in (".", "..", "**"))
)
segment = st.one_of(plain_segment, st.just("**"))


def _join_glob(segs: list[str]) -> str:
    out: list[str] = []
    for s in segs:
        if not (s == "**" and out and out[-1] == "**"):
            out.append(s)
    return "/".join(out)


globs = st.lists(segment, min_size=1, max_size=3).map(_join_glob).map(G)
files = st.sampled_from([p for p in UNIVERSE if p.count("/") <= 1 and len(p) <= 4]).map(F)
dirs = st.one_of(
    st.just(D("")),
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=2).map(lambda segs: D("/".join(segs) + "/")),
)
targets = st.one_of(globs, globs, files, dirs)


@lru_cache(maxsize=256)
def _covered(t: Target) -> frozenset[str]:
    return frozenset(p for p in UNIVERSE if covers(t, p))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(targets, targets)
def test_overlap_matches_brute_force(a, b):
    assume(_segment_bound(a, b) <= MAX_SEGMENTS)
    expected = not _covered(a).isdisjoint(_covered(b))
    assert overlap(a, b) is expected
    assert overlap(b, a) is expected


@settings(max_examples=200, deadline=None)
@given(targets, targets)
def test_overlap_symmetric(a, b):
    assert overlap(a, b) == overlap(b, a)


# An independent reference matcher: plain recursion over segments and characters.


def _ref_class(seg: str, i: int):
    """(predicate, next index) for the class at seg[i] == "[", or None if unclosed."""
    j = i + 1
    negated = j < len(seg) and seg[j] in "!^"
    if negated:
        j += 1
    start = j
    if j < len(seg) and seg[j] == "]":
        j += 1
    while j < len(seg) and seg[j] != "]":
        j += 1
    if j >= len(seg):
        return None
    body = seg[start:j]

    def pred(c: str) -> bool:
        k, hit = 0, False
        while k < len(body):
            if k + 2 < len(body) and body[k + 1] == "-":
                hit = hit or body[k] <= c <= body[k + 2]
                k += 3
            else:
                hit = hit or c == body[k]
                k += 1
        return c != "/" and hit != negated

    return pred, j + 1


def _ref_segment(pat: str, s: str) -> bool:
    if not pat:
        return not s
    if pat[0] == "*":
        return any(_ref_segment(pat[1:], s[k:]) for k in range(len(s) + 1))
    if not s:
        return False
    if pat[0] == "?":
        return _ref_segment(pat[1:], s[1:])
    if pat[0] == "[":
        parsed = _ref_class(pat, 0)
        if parsed is not None:
            pred, nxt = parsed
            return pred(s[0]) and _ref_segment(pat[nxt:], s[1:])
    return pat[0] == s[0] and _ref_segment(pat[1:], s[1:])


def _ref_path(pats: list[str], segs: list[str]) -> bool:
    if not pats:
        return not segs
    if pats[0] == "**":
        if len(pats) == 1:
            return len(segs) >= 1
        return any(_ref_path(pats[1:], segs[k:]) for k in range(len(segs) + 1))
    return bool(segs) and _ref_segment(pats[0], segs[0]) and _ref_path(pats[1:], segs[1:])


def ref_match(pattern: str, path: str) -> bool:
    return _ref_path(pattern.split("/"), path.split("/"))


RICH_ATOMS = [*ATOMS, "c", "[", "]", "[a-c]", "[^b]", "[]a]", "[!]", "**", "\\", "[c-a]", "+", "("]
rich_segment = st.one_of(
    st.lists(st.sampled_from(RICH_ATOMS), min_size=1, max_size=4).map("".join),
    st.just("**"),
)
rich_globs = st.lists(rich_segment, min_size=1, max_size=4).map("/".join)
path_segment = st.text(alphabet="abc.[]\\+(", min_size=1, max_size=5).filter(lambda s: s not in (".", ".."))
paths = st.lists(path_segment, min_size=1, max_size=5).map("/".join)


@settings(max_examples=600, deadline=None)
@given(rich_globs, paths)
def test_covers_matches_reference(pattern, path):
    assert covers(G(pattern), path) == ref_match(pattern, path)


@settings(max_examples=300, deadline=None)
@given(rich_globs, st.data())
def test_covers_on_generated_members(pattern, data):
    """Paths built from the pattern itself, so that matches are common, not just misses."""
    segs = []
    for p in pattern.split("/"):
        if p == "**":
            segs.extend(data.draw(st.lists(path_segment, min_size=1, max_size=2)))
        else:
            out = ""
            for ch in p:
                out += data.draw(st.sampled_from(["", "a", "b", "c", "."])) if ch in "*?" else ch
            segs.append(out or "a")
    path = "/".join(segs)
    assert covers(G(pattern), path) == ref_match(pattern, path)


@given(st.text(max_size=12))
@settings(max_examples=300, deadline=None)
def test_parse_never_crashes(tmp_path_factory, raw):
    root = str(tmp_path_factory.getbasetemp())
    try:
        t = parse_target(raw, root, root)
    except UsageError:
        return
    assert t.kind in ("file", "dir", "glob")
    # the root directory covers every path: a target overlaps it exactly when it stands for some path at all,
    # which is when it overlaps itself; files and directories always stand for some path
    assert overlap(t, D("")) is overlap(t, t)
    if t.kind != "glob":
        assert overlap(t, t) is True
    if covers(t, "a/b"):
        assert overlap(t, F("a/b")) is True


def test_many_globstars_against_a_deep_path_match_without_a_search_over_every_split():
    # four middle `**` against 200 segments: trying every split point took minutes in a hook
    deep = "/".join(["a"] * 200)
    glob = G("**/a/**/a/**/a/**/a/x")
    assert covers(glob, deep + "/x") is True
    assert covers(glob, deep + "/y.py") is False
    assert covers(G("a/**"), "a") is False and covers(G("a/**/b"), "a/b") is True
