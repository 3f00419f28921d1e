"""git: the subcommands that write the working tree (checkout, switch, restore, reset, clean, stash, rm,
mv), pathspecs, and the repository-wide destructive cases (``an.destroy(kind, raw)``).

``git checkout X`` without ``--`` is ambiguous (a branch or a file): X goes to ``an.maybe`` and the caller
decides.  Everything else git does (apply, merge, pull, rebase...) depends on data and is not tracked.
"""

from __future__ import annotations

import re

from .common import UNKNOWN, Subcommands, copies, getopt, join, names, writes

_ROOT_SPECS = frozenset((":/", ":/.", ":/*", ":(top)", ":(top).", ":(top)*"))
_HERE_SPECS = frozenset((".", "./", "*", "./*"))
_REVISION = r"HEAD|FETCH_HEAD|ORIG_HEAD|[0-9a-f]{7,40}|.*[~^@].*"  # compiled on first use
_GLOBAL_WITH_VALUE = frozenset(("-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env"))


def git(an, args, prefix, raw, stdin):
    """``git [-C DIR] [global options] SUBCOMMAND ...``"""
    i = 0
    n = len(args)
    while i < n:
        a = args[i]
        if a == "-C":
            if i + 1 < n and args[i + 1]:
                prefix = join(prefix, args[i + 1])
            i += 2
        elif a in _GLOBAL_WITH_VALUE:
            i += 2
        elif a.startswith("-"):
            i += 1
        else:
            break
    SUBCOMMANDS(an, args[i:], prefix, raw, [])
    return None


def _pathspecs(an, specs, prefix, kind, raw) -> None:
    for p in specs:
        if p in _ROOT_SPECS or (p in _HERE_SPECS and not prefix):
            an.destroy(kind, raw)
        elif p in _HERE_SPECS:
            an.write(".", prefix)
        elif p.startswith((":!", ":^", ":(exclude)", ":(exc")):
            continue
        elif p.startswith(":/"):
            an.write(p[2:], "")
        else:
            an.write(p, prefix)


def _checkout(an, rest, prefix, raw, stdin):
    opts, ops, after = getopt(rest, short_req="bBU", long_req=("orphan",))
    given = names(opts)
    creating = bool(given & {"-b", "-B", "--orphan"})
    if after is not None:
        if after:
            _pathspecs(an, after, prefix, "checkout-all", raw)
        elif ops and not creating:
            an.destroy("switch-branch", raw)  # git checkout BRANCH --
        return
    if creating:
        if ops:
            an.destroy("switch-branch", raw)  # a start point other than HEAD changes files
        return
    if given & {"--detach"}:
        if ops:
            an.destroy("switch-branch", raw)
        return
    if not ops:
        if given & {"-f", "--force", "-p", "--patch"}:
            an.destroy("checkout-all", raw)
        return
    if len(ops) == 1:
        x = ops[0]
        if x == "-" or x.startswith("@{-"):
            an.destroy("switch-branch", raw)
        elif x in _HERE_SPECS or x in _ROOT_SPECS:
            _pathspecs(an, [x], prefix, "checkout-all", raw)
        elif UNKNOWN not in x:
            p = join(prefix, x)
            if p not in an.maybe:
                an.maybe.append(p)
        return
    # git checkout REF PATH...: the first word is a ref when it resolves, else a path too
    if re.fullmatch(_REVISION, ops[0]):
        ops = ops[1:]
    _pathspecs(an, ops, prefix, "checkout-all", raw)


def _switch(an, rest, prefix, raw, stdin):
    opts, ops, _ = getopt(rest, short_req="cC", long_req=("create", "force-create", "orphan"))
    given = names(opts)
    if "--orphan" in given:
        an.destroy("switch-branch", raw)
    elif given & {"-c", "-C", "--create", "--force-create"}:
        if ops:
            an.destroy("switch-branch", raw)  # created from a start point other than HEAD
    elif ops:
        an.destroy("switch-branch", raw)


def _restore(an, rest, prefix, raw, stdin):
    opts, ops, after = getopt(rest, short_req="sU", long_req=("source", "pathspec-from-file"))
    given = names(opts)
    if given & {"-S", "--staged"} and not given & {"-W", "--worktree"}:
        return
    specs = ops + (after or [])
    if not specs and given & {"-p", "--patch"}:
        an.destroy("restore-all", raw)
    _pathspecs(an, specs, prefix, "restore-all", raw)


def _reset(an, rest, prefix, raw, stdin):
    opts = rest[: rest.index("--")] if "--" in rest else rest
    if "--hard" in opts:
        an.destroy("reset-hard", raw)


def _clean(an, rest, prefix, raw, stdin):
    opts, ops, after = getopt(rest, short_req="e", long_req=("exclude",))
    given = names(opts)
    if given & {"-n", "--dry-run"} or not given & {"-f", "--force", "-i", "--interactive"}:
        return
    specs = ops + (after or [])
    if specs:
        _pathspecs(an, specs, prefix, "clean", raw)
    elif prefix:  # git clean works below the directory it runs in
        _pathspecs(an, ["."], prefix, "clean", raw)
    else:
        an.destroy("clean", raw)


def _stash(an, rest, prefix, raw, stdin):
    if not rest or rest[0].startswith("-"):
        sub, sargs = "push", rest
    else:
        sub, sargs = rest[0], rest[1:]
    if sub == "push":
        _, ops, after = getopt(sargs, short_req="m", long_req=("message", "pathspec-from-file"))
        specs = ops + (after or [])
        if specs:
            _pathspecs(an, specs, prefix, "stash", raw)
        else:
            an.destroy("stash", raw)
    elif sub == "save":
        an.destroy("stash", raw)
    # pop, apply and branch bring work back; git refuses them rather than overwrite local changes


SUBCOMMANDS = Subcommands(
    checkout=_checkout,
    switch=_switch,
    restore=_restore,
    reset=_reset,
    clean=_clean,
    stash=_stash,
    rm=writes(long_req=("pathspec-from-file",), quiet=("--cached", "-n", "--dry-run")),
    mv=copies("", (), quiet=("-n", "--dry-run"), srcs_written=True),
)
