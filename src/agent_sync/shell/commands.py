"""The command table: for each command name (the basename of argv[0]), the handler that says what it
writes; and the :class:`Analyzer`, the state of one analysis, which dispatches to it.

Most commands are DATA: a :class:`~agent_sync.shell.common.Spec` built by ``runs`` (a wrapper that runs
the rest: ``nohup``, ``timeout``), ``writes`` (every operand is a file written: ``rm``, ``touch``),
``outputs`` (an option's value is the output: ``sort -o``) or ``copies`` (the last operand is the
destination: ``cp``, ``mv``).  The functions below are the commands whose logic really differs.
Handlers have the signature ``handler(an, args, prefix, raw, stdin)`` (see ``common``).

The language modules (``bash``, ``powershell``) turn text into simple commands and call
:meth:`Analyzer.command`; handlers call back :meth:`~Analyzer.write`, :meth:`~Analyzer.destroy`,
:meth:`~Analyzer.command` (wrappers), :meth:`~Analyzer.run_text` (``bash -c``, ``eval``) and
:meth:`~Analyzer.ps_run` (``pwsh -Command``).
"""

from __future__ import annotations

import posixpath
import re

from . import bash
from .bash import is_assignment
from .common import (
    FOUND,
    MAX_WORK,
    UNKNOWN,
    ParseError,
    Subcommands,
    base,
    copies,
    getopt,
    join,
    last,
    names,
    outputs,
    quote,
    runs,
    writes,
)

SHELLS = frozenset(("bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "yash"))

# --------------------------------------------------------------------------- wrappers and interpreters

_SUDO_LONG = ("user", "group", "host", "prompt", "chroot", "chdir", "role", "type", "close-from",
              "command-timeout", "other-user")


def _sudo(an, args, prefix, raw, stdin):
    opts, ops, after = getopt(args, short_req="CDghpRrTtUu", long_req=_SUDO_LONG, stop=True)
    ops = ops + (after or [])
    given = names(opts)
    chdir = last(opts, "-D", "--chdir")
    if chdir:
        prefix = join(prefix, chdir)
    if given & {"-e", "--edit"}:
        for f in ops:
            an.write(f, prefix)
        return None
    if given & {"-l", "--list", "-v", "--validate", "-V", "--version"} or not ops:
        return None
    return an.command(ops, prefix, raw, stdin)


def _sudoedit(an, args, prefix, raw, stdin):
    return _sudo(an, ["-e", *args], prefix, raw, stdin)


def _env(an, args, prefix, raw, stdin):
    opts, ops, after = getopt(
        args, short_req="uCSP", long_req=("unset", "chdir", "split-string", "default-signal"), stop=True
    )
    ops = ops + (after or [])
    if ops and ops[0] == "-":
        ops = ops[1:]
    chdir = last(opts, "-C", "--chdir")
    if chdir:
        prefix = join(prefix, chdir)
    split = last(opts, "-S", "--split-string")
    if split:
        an.run_text(" ".join([split, *map(quote, ops)]), prefix)
        return None
    return an.command(ops, prefix, raw, stdin) if ops else None


def _xargs(an, args, prefix, raw, stdin):
    opts, ops, after = getopt(
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
    if rep:  # the words carrying the replace string come from stdin: unknowable
        cmd = cmd[:1] + [a for a in cmd[1:] if rep not in a]
    return an.command(cmd, prefix, raw, []) if cmd else None


def _eval(an, args, prefix, raw, stdin):
    an.run_text(" ".join(args), prefix)
    return None


def _shell(an, args, prefix, raw, stdin):
    """``bash -c SCRIPT``, and ``bash`` reading its script from a heredoc / here-string."""
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
            an.run_text(ops[0], prefix)
    elif not ops:  # the script comes on stdin: analyse heredoc / here-string scripts
        for text in stdin:
            an.run_text(text, prefix)
    return None


def _pwsh(an, args, prefix, raw, stdin):
    for k, a in enumerate(args):
        low = a.lower()
        if low in ("-c", "/c", "-command", "/command") or (len(low) >= 4 and "-command".startswith(low)):
            if k + 1 < len(args) and args[k + 1] != "-":
                an.ps_run(" ".join(args[k + 1 :]), prefix)
            return None
        if low in ("-f", "-file", "-encodedcommand", "-e", "-ec"):
            return None
    return None


def _find(an, args, prefix, raw, stdin):
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
                cmd = [x.replace("{}", FOUND) for x in args[i + 1 : j]]
                before = len(an.writes)
                if cmd:
                    an.command(cmd, prefix, raw, [])
                found = [w for w in an.writes[before:] if FOUND in w]
                if found:  # the command writes what find finds: what the search can match
                    an.writes = [w for w in an.writes if FOUND not in w]
                    name = _single_name_filter(args)
                    for root in roots or ["."]:
                        root = root.rstrip("/") or "."
                        an.write(f"{root}/**/{name}" if name else root + "/", prefix)
            i = j + 1
            continue
        if a in ("-fprint", "-fprint0", "-fls", "-fprintf") and i + 1 < n:
            an.write(args[i + 1], prefix)
            i += 2
            continue
        i += 1
    return None


_WIDENING = frozenset(("-o", "-or", "!", "-not", "(", "-path", "-wholename", "-regex", "-iregex", "-iname",
                       "-ipath", "-lname", "-ilname"))


def _single_name_filter(args) -> str | None:
    """The pattern of a lone `-name PATTERN` test, when nothing else could widen what `find` matches."""
    if any(a in _WIDENING for a in args):
        return None
    found = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-name"]
    if len(found) != 1 or "/" in found[0] or UNKNOWN in found[0]:
        return None
    return found[0]


# --------------------------------------------------------------------------- the working directory


def _cd(an, args, prefix, raw, stdin):
    _, ops, after = getopt(args)
    ops = ops + (after or [])
    target = ops[0] if ops else "~"
    if target == "-" or not target:
        return None
    return join(prefix, target)


def _pushd(an, args, prefix, raw, stdin):
    _, ops, after = getopt(args)
    ops = ops + (after or [])
    if not ops or ops[0][:1] in "+-":
        return None
    an.dirstack.append(prefix)
    return join(prefix, ops[0])


def _popd(an, args, prefix, raw, stdin):
    return an.dirstack.pop() if an.dirstack else None


# --------------------------------------------------------------------------- writers with their own logic


def _chmod(an, args, prefix, raw, stdin):
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
        an.write(f, prefix)


def _sed(an, args, prefix, raw, stdin):
    args = list(args)
    for k in range(len(args) - 1):  # BSD sed: -i '' (empty backup suffix)
        if args[k] == "-i" and args[k + 1] == "":
            del args[k + 1]
            break
    opts, ops, after = getopt(args, short_req="efl", short_opt="i", long_req=("expression", "file", "line-length"))
    given = names(opts)
    if not given & {"-i", "--in-place"}:
        return None
    ops = ops + (after or [])
    files = ops if given & {"-e", "-f", "--expression", "--file"} else ops[1:]
    for f in files:
        if f != "-":
            an.write(f, prefix)
    return None


def _perl(an, args, prefix, raw, stdin):
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
                an.write(f, prefix)


def _ln(an, args, prefix, raw, stdin):
    opts, ops, after = getopt(args, short_req="tS", long_req=("target-directory", "suffix"))
    ops = ops + (after or [])
    target = last(opts, "-t", "--target-directory")
    if target is None and len(ops) == 1:
        target = "."
    if target is None and len(ops) == 2 and not ops[1].endswith("/"):
        an.write(ops[1], prefix)
        return
    srcs = ops if target is not None else ops[:-1]
    dst = target if target is not None else (ops[-1] if ops else ".")
    for s in srcs:
        if UNKNOWN not in s:
            an.write(posixpath.normpath(posixpath.join(dst, base(s))), prefix)


_RSYNC_LONG = ("exclude", "include", "exclude-from", "include-from", "filter", "rsh", "files-from",
               "compare-dest", "copy-dest", "link-dest", "log-file", "password-file", "temp-dir", "partial-dir",
               "backup-dir", "suffix", "chmod", "timeout", "bwlimit", "max-size", "min-size", "rsync-path",
               "out-format", "block-size", "remote-option")


def _rsync(an, args, prefix, raw, stdin):
    opts, ops, after = getopt(args, short_req="efTBM", long_req=_RSYNC_LONG)
    if names(opts) & {"-n", "--dry-run", "--list-only"}:
        return
    ops = ops + (after or [])
    if len(ops) >= 2 and not re.match(r"[^/]*:", ops[-1]):  # host:path and rsync:// are remote
        an.write(ops[-1], prefix)


def _dd(an, args, prefix, raw, stdin):
    for a in args:
        if a.startswith("of="):
            an.write(a[3:], prefix)


_PATCH_LONG = ("prefix", "directory", "ifdef", "fuzz", "get", "input", "output", "strip", "reject-file",
               "version-control", "basename-prefix", "suffix", "quoting-style")


def _patch(an, args, prefix, raw, stdin):
    opts, ops, after = getopt(args, short_req="BdDFgioprVYzx", long_req=_PATCH_LONG)
    if names(opts) & {"--dry-run", "-C", "--check"}:
        return
    directory = last(opts, "-d", "--directory")
    if directory:
        prefix = join(prefix, directory)
    out = last(opts, "-o", "--output")
    ops = ops + (after or [])
    if out:
        if out != "-":
            an.write(out, prefix)
    elif ops:
        an.write(ops[0], prefix)


def _apply_patch(an, args, prefix, raw, stdin):
    """Codex's ``apply_patch``: the patch is the first argument, or comes on stdin (a heredoc)."""
    from .patch import patch_paths

    for text in args[:1] + stdin:
        for p in patch_paths(text):
            an.write(p, prefix)


def _git(an, args, prefix, raw, stdin):
    from .git import git  # imported on first use: most commands are not git

    return git(an, args, prefix, raw, stdin)


# --------------------------------------------------------------------------- the table

_FORMATTER_QUIET = ("--check", "--diff", "-l", "--list-different", "-d")  # report, do not rewrite
_FORMATTER = writes(quiet=_FORMATTER_QUIET, dash=True)

COMMANDS = {
    # wrappers: options of their own, then the command they run
    "nohup": runs(),
    "chronic": runs(),
    "unbuffer": runs(),
    "doas": runs("uC"),
    "exec": runs("a"),
    "nice": runs("n", ("adjustment",)),  # `nice -5 CMD`: -5 parses as harmless flags
    "stdbuf": runs("ioe", ("input", "output", "error")),
    "timeout": runs("sk", ("signal", "kill-after"), skip=1),  # skip the duration
    "time": runs("fo", ("format", "output"), out=("-o", "--output")),
    "command": runs(quiet=("-v", "-V")),
    "ionice": runs("cnpPu", ("class", "classdata", "pid", "pgid", "uid"),
                   quiet=("-p", "-P", "-u", "--pid", "--pgid", "--uid")),  # re-nicing running processes
    "builtin": runs(parse=False),
    "busybox": runs(parse=False),
    "sudo": _sudo,
    "sudoedit": _sudoedit,
    "env": _env,
    "xargs": _xargs,
    "eval": _eval,
    "pwsh": _pwsh,
    "powershell": _pwsh,
    "pwsh.exe": _pwsh,
    "powershell.exe": _pwsh,
    "find": _find,
    # the working directory
    "cd": _cd,
    "pushd": _pushd,
    "popd": _popd,
    # every operand is a file written
    "rm": writes(),
    "rmdir": writes(),
    "unlink": writes(),
    "shred": writes("ns", ("iterations", "size", "random-source")),
    "touch": writes("dtr", ("date", "reference", "time")),
    "truncate": writes("sr", ("size", "reference")),
    "tee": writes(dash=True),
    "chown": writes(long_req=("reference", "from"), skip=1, keep_all=("--reference",)),  # skip the owner
    "chgrp": writes(long_req=("reference", "from"), skip=1, keep_all=("--reference",)),
    "black": _FORMATTER,
    "isort": _FORMATTER,
    "gofmt": writes(quiet=_FORMATTER_QUIET, needs=("-w",), dash=True),
    "prettier": writes(quiet=_FORMATTER_QUIET, needs=("--write", "-w"), dash=True),
    "ruff": Subcommands(format=_FORMATTER, check=writes(quiet=_FORMATTER_QUIET, needs=("--fix",), dash=True)),
    # an option's value is the output
    "sort": outputs("okStT", ("output", "key", "field-separator", "buffer-size", "temporary-directory"),
                    ("-o", "--output")),
    "curl": outputs("oXHdeuAbcEFKmrTwxyzY", ("output", "request", "header", "data", "user", "url"),
                    ("-o", "--output"), dash=True),
    "wget": outputs("OoaPt", ("output-document", "directory-prefix"), ("-O", "--output-document"), dash=True),
    # sources and a destination
    "mv": copies(srcs_written=True),
    "cp": copies(),
    "install": copies("gmoSt", ("group", "mode", "owner", "suffix", "target-directory", "strip-program"),
                      quiet=("-d", "--directory")),  # install -d creates directories only
    # their own logic
    "chmod": _chmod,
    "sed": _sed,
    "gsed": _sed,
    "perl": _perl,
    "ln": _ln,
    "rsync": _rsync,
    "dd": _dd,
    "patch": _patch,
    "apply_patch": _apply_patch,
    "applypatch": _apply_patch,
    "git": _git,
}
COMMANDS.update(dict.fromkeys(SHELLS, _shell))


# --------------------------------------------------------------------------- the analyzer

_KEYWORDS = frozenset(("if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac"))


class Analyzer:
    """One analysis: what it found so far (writes, destructive git commands, ``git checkout X`` candidates),
    the ``pushd`` stack, the nesting depth and the work budget shared by all nesting levels."""

    __slots__ = ("is_dir", "writes", "destructive", "maybe", "budget", "depth", "dirstack")

    def __init__(self, is_dir=None) -> None:
        self.is_dir = is_dir  # optional: does this (prefix-joined) path name an existing directory?
        self.writes: list[str] = []
        self.destructive: list[tuple[str, str]] = []
        self.maybe: list[str] = []  # `git checkout X`: a branch or a path, the caller decides
        self.budget = [MAX_WORK]
        self.depth = 0
        self.dirstack: list[str] = []

    # ---- recording

    def write(self, path: str, prefix: str, join=join) -> None:
        if not path or UNKNOWN in path:
            return
        p = join(prefix, path)
        if not p or UNKNOWN in p or p == "/dev" or p.startswith("/dev/"):
            return
        if p not in self.writes:
            self.writes.append(p)

    def destroy(self, kind: str, raw: str) -> None:
        entry = (kind, raw.replace(UNKNOWN, "?"))
        if entry not in self.destructive:
            self.destructive.append(entry)

    def tick(self, cost: int = 1) -> None:
        self.budget[0] -= cost
        if self.budget[0] < 0:
            raise ParseError("too much work")

    # ---- running

    def run_text(self, text: str, prefix: str) -> None:
        """Analyse bash source (the top level, or a nested script)."""
        bash.run_text(self, text, prefix)

    def ps_run(self, text: str, prefix: str) -> None:
        """Analyse PowerShell source."""
        from . import powershell  # imported on first use

        powershell.run_text(self, text, prefix)

    def command(self, argv: list[str], prefix: str, raw: str, stdin: list[str]) -> str | None:
        """Analyse one command given as words; returns a new cwd prefix for cd-like commands."""
        self.tick()
        i = 0
        while i < len(argv) and (argv[i] in _KEYWORDS or is_assignment(argv[i])):
            i += 1
        argv = argv[i:]
        if not argv:
            return None
        name = argv[0]
        if name == "function":
            return self.command(argv[2:], prefix, raw, stdin)
        if UNKNOWN in name:
            return None
        handler = COMMANDS.get(name.rsplit("/", 1)[-1])
        if handler is None:
            return None
        return handler(self, argv[1:], prefix, raw, stdin)
