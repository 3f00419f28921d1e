"""The command an agent's hooks run, and how agent-sync recognises its own hook commands in any settings file.

Two forms:

* **absolute**: the console script next to the interpreter that runs `agent-sync install` (else
  `python -m agent_sync`). Machine-specific, and never a version-manager shim. Used for files that stay on
  this machine: Claude Code's `settings.local.json`, every user-scope file, the git guard.
* **portable**: the bare `agent-sync`, found on PATH by the shell that runs the hook. Used for the files a
  project commits (`.claude/settings.json`, `.codex/hooks.json`, `.gemini/settings.json`,
  `.cursor/hooks.json`, `.github/hooks/agent-sync.json`, `.mcp.json` ...), so a teammate's checkout runs
  their own agent-sync. It costs nothing over the absolute form (the shell's PATH lookup, no extra process),
  but only when `agent-sync` on PATH is the real script: the installer writes it only when PATH resolves to
  this very installation, and otherwise writes the absolute form and says what to do.

Our hooks are recognised by their command alone: `... agent-sync hook EVENT` (Claude Code) and
`... agent-sync hook --agent NAME EVENT`, whatever path or interpreter starts agent-sync.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys

from agent_sync.errors import UsageError

PROGRAM = "agent-sync"
DEFAULT_AGENT = "claude"


# -- the command to write ---------------------------------------------------------------------------------

def absolute_command() -> str:
    """The console script next to this interpreter, else `python -m agent_sync`. sys.executable is the real
    interpreter (never a pyenv/asdf shim), so no shim sits on the hook path."""
    exe = sys.executable
    if not exe:
        raise UsageError("cannot tell which Python runs agent-sync (sys.executable is empty); "
                         "run agent-sync install with a regular Python")
    exe = os.path.abspath(exe)
    script = os.path.join(os.path.dirname(exe), PROGRAM)
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return shlex.quote(script)
    return f"{shlex.quote(exe)} -m agent_sync"


def absolute_program() -> list[str]:
    return shlex.split(absolute_command())


class Portability:
    """Whether the bare `agent-sync` on PATH is this installation: `ok`, else `why` says what it is instead
    and `fix` what to do."""

    def __init__(self, ok: bool, found: str | None, why: str = "", fix: str = ""):
        self.ok, self.found, self.why, self.fix = ok, found, why, fix


SHIM_WORDS = (b"pyenv", b"asdf", b"mise", b"rtx", b"rbenv", b"nodenv", b"volta")


def is_shim(path: str) -> bool:
    """A version-manager shim: it starts a shell and the manager before the real program (about 100 ms)."""
    if "shims" in os.path.normpath(path).split(os.sep):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and b"python" not in head.split(b"\n", 1)[0] and \
        any(word in head for word in SHIM_WORDS)


def same_program(a: str, b: str) -> bool:
    """Two paths that start the same program: one file (through symlinks), or identical script copies."""
    try:
        if os.path.samefile(a, b):
            return True
        if os.path.getsize(a) != os.path.getsize(b) or os.path.getsize(a) > 65536:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return fa.read() == fb.read()
    except OSError:
        return False


def portability(path: str | None = None, where: str = "PATH") -> Portability:
    """Is `agent-sync` on PATH (this process's PATH, or `path`) this installation, and not a shim? `where`
    names that PATH in what is said."""
    program = absolute_program()
    found = shutil.which(PROGRAM, path=path)
    fix = ("install agent-sync as a tool (`pipx install .` or `uv tool install .` in its checkout) or put "
           f"{os.path.dirname(os.path.abspath(sys.executable or '.'))} first on PATH, then run install again; "
           "or keep machine-specific hooks out of git (Claude Code: --scope local; any agent: --scope user)")
    if len(program) != 1:
        return Portability(False, found, f"this agent-sync has no `{PROGRAM}` script next to its Python "
                           f"({program[0]}), so hooks start it as `python -m agent_sync`", fix)
    if not found:
        return Portability(False, None, f"`{PROGRAM}` is not on {where}", fix)
    if same_program(found, program[0]):
        return Portability(True, found)
    if is_shim(found):
        return Portability(False, found, f"`{PROGRAM}` on {where} is a version-manager shim ({found}), which "
                           "adds about 100 ms to every hook", fix)
    return Portability(False, found, f"`{PROGRAM}` on {where} is another installation ({found})", fix)


_LOGIN_PATHS: dict[str, str | None] = {}
_MARK = "agent-sync-login-path:"


def login_path(shell: str | None = None) -> str | None:
    """The PATH a login shell (`$SHELL -lc`, as Codex runs its hooks) starts with: its profile may set its
    own. None when the shell cannot tell."""
    import subprocess

    shell = shell or os.environ.get("SHELL") or "/bin/sh"
    if shell not in _LOGIN_PATHS:
        try:
            proc = subprocess.run([shell, "-lc", f'printf "\\n{_MARK}%s\\n" "$PATH"'], capture_output=True,
                                  text=True, timeout=15, stdin=subprocess.DEVNULL)
            lines = [line for line in proc.stdout.splitlines() if line.startswith(_MARK)]
            _LOGIN_PATHS[shell] = lines[-1][len(_MARK):] if lines else None
        except (OSError, subprocess.SubprocessError):
            _LOGIN_PATHS[shell] = None
    return _LOGIN_PATHS[shell]


def is_portable(command: str) -> bool:
    """A hook command whose program is the bare `agent-sync`."""
    program = command_program(command)
    return program == [PROGRAM]


def hook_command(existing: list[str] | tuple[str, ...] = (), path: str | None = None) -> str:
    """The program part of the hook commands for a committed (project) file: the bare `agent-sync` when PATH
    (`path`: the PATH the agent's hooks see) resolves it to this installation, else the absolute command. A
    file whose hooks are already portable stays portable even when this machine's PATH is not (a teammate's
    shim must not rewrite the team's file)."""
    if portability(path).ok:
        return PROGRAM
    if existing and all(is_portable(c) for c in existing):
        return PROGRAM
    return absolute_command()


def mcp_command(program: str) -> tuple[str, list[str]]:
    """(command, args) of the MCP server entry for a hook program."""
    words = shlex.split(program)
    return words[0], [*words[1:], "mcp"]


# -- recognising our commands -----------------------------------------------------------------------------

def _split(command: str) -> list[str] | None:
    try:
        return shlex.split(command)
    except ValueError:
        return None


def _program_end(words: list[str], i: int) -> bool:
    """Whether words[:i] ends with an agent-sync program (`.../agent-sync` or `-m agent_sync`)."""
    if i < 1:
        return False
    prev = words[i - 1]
    if os.path.basename(prev) in (PROGRAM, PROGRAM + ".exe"):
        return True
    return prev == "agent_sync" and i >= 2 and words[i - 2] == "-m"


def _hook_index(words: list[str]) -> int | None:
    """Index of the `hook` word that follows an agent-sync program."""
    for i in range(1, len(words) - 1):
        if words[i] == "hook" and _program_end(words, i):
            return i
    return None


_LOOSE_RE = re.compile(r"""(?:agent-sync|-m\s+['"]?agent_sync)['"]?\s+hook\s+(?:--agent[= ]['"]?([a-z]+)['"]?\s+)?"""
                       r"""['"]?([A-Za-z][A-Za-z-]*)""")


def parse_hook(command) -> tuple[str, str] | None:
    """(agent, event argument) of an agent-sync hook command: `/x/agent-sync hook stop` -> ("claude", "stop"),
    `agent-sync hook --agent codex PreToolUse` -> ("codex", "PreToolUse"); None for any other command."""
    if not isinstance(command, str):
        return None
    words = _split(command)
    if words is None:
        match = _LOOSE_RE.search(command)
        return (match.group(1) or DEFAULT_AGENT, match.group(2)) if match else None
    i = _hook_index(words)
    if i is None:
        return None
    rest = words[i + 1:]
    agent = DEFAULT_AGENT
    if rest and rest[0] == "--agent" and len(rest) >= 2:
        agent, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith("--agent="):
        agent, rest = rest[0].split("=", 1)[1], rest[1:]
    if not rest:
        return None
    return agent, rest[0]


def command_slug(command) -> str | None:
    """The Claude Code event argument of `/x/agent-sync hook stop` (`stop`); None for other commands."""
    parsed = parse_hook(command)
    return parsed[1] if parsed and parsed[0] == DEFAULT_AGENT else None


def command_program(command) -> list[str] | None:
    """The words that start agent-sync in a hook command (the part before `hook`), without VAR=value prefixes."""
    if not isinstance(command, str):
        return None
    words = _split(command)
    if not words:
        return None
    i = _hook_index(words)
    if i is None:
        return None
    program = words[:i]
    while program and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", program[0]):
        program = program[1:]
    return program or None


def mcp_program(entry) -> list[str] | None:
    """The agent-sync program of an MCP server entry `{command, args: [..., "mcp"]}`, None if it is not ours."""
    if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
        return None
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args) or not args or args[-1] != "mcp":
        return None
    words = [entry["command"], *args[:-1]]
    if os.path.basename(words[-1]) in (PROGRAM, PROGRAM + ".exe") or words[-2:] == ["-m", "agent_sync"]:
        return words
    return None
