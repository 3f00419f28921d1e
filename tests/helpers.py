"""Shared helpers for the CLI tests: a throw-away git repository and the real `agent-sync` run as a subprocess.

Imported as `from helpers import ...` (pytest puts this directory on sys.path for the test modules here).
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

WAITING_LINE = re.compile(r"agent-sync: waiting behind .+; place \d+ in the queue")

# Variables that would leak the caller's identity, root or settings into a test run.
_SCRUB = ("CLAUDE_CODE_SESSION_ID", "CODEX_THREAD_ID", "GEMINI_SESSION_ID", "CLAUDE_PROJECT_DIR", "PYTHONIOENCODING",
          "CURSOR_CONVERSATION_ID", "COPILOT_AGENT_SESSION_ID", "GEMINI_PROJECT_DIR", "CURSOR_PROJECT_DIR")

# The store the current test runs on, as environment variables every process of the test gets (empty: the
# embedded SQLite store). Set per test by the `store` fixture in conftest.py.
STORE_ENV: dict[str, str] = {}


def store_where(root) -> str:
    """How the current test's store names itself (what `init` prints): the SQLite file of `root`, or the
    PostgreSQL database and project of STORE_ENV."""
    url = STORE_ENV.get("AGENT_SYNC_DATABASE_URL")
    if not url:
        return str(Path(root) / ".claude" / "coordination" / "state.sqlite")
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"PostgreSQL {parts.hostname}:{parts.port}/{parts.path.lstrip('/')}, project {STORE_ENV['AGENT_SYNC_PROJECT']}"


@contextlib.contextmanager
def hold_write_lock(root):
    """Hold the store's write lock in this process, through the store API (BEGIN IMMEDIATE on SQLite, the
    project's advisory lock on PostgreSQL), until the block ends."""
    from agent_sync.core.context import open_context

    ctx = open_context(cwd=str(root))
    try:
        with ctx.store.write():
            yield
    finally:
        ctx.close()


def make_repo(path: Path) -> Path:
    """A fresh git repository with src/app.py and README.md."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("print('hi')\n")
    (path / "README.md").write_text("# demo\n")
    return path.resolve()


def agent_env(agent: str | None = None, *, home: Path | str | None = None, **extra: str) -> dict:
    """The one environment builder of the tests: this process's environment without anything that would
    leak an identity, root or setting, plus the test's store, an optional AGENT_SYNC_ID, HOME and extras."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SYNC_") and k not in _SCRUB}
    env.update(STORE_ENV)
    if home is not None:
        env["HOME"] = str(home)
    if agent is not None:
        env["AGENT_SYNC_ID"] = agent
    env.update(extra)
    return env


def clean_env(home: Path, **extra: str) -> dict:
    return agent_env(home=home, **extra)


def run_cli(cwd, *args: str, agent: str | None = None, env: dict | None = None, stdin=None,
            timeout: float = 60, base_env: dict | None = None) -> subprocess.CompletedProcess:
    """The one way the tests run the real CLI: `python -m agent_sync ARGS` in `cwd`, as `agent`."""
    full_env = dict(base_env) if base_env is not None else agent_env()
    if agent is not None:
        full_env["AGENT_SYNC_ID"] = agent
    full_env.update(env or {})
    binary = isinstance(stdin, bytes)
    return subprocess.run([sys.executable, "-m", "agent_sync", *args], cwd=str(cwd), env=full_env, input=stdin,
                          capture_output=True, text=not binary, timeout=timeout)


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"Result(code={self.code}, out={self.out[-800:]!r}, err={self.err[-800:]!r})"


def assert_one_line_error(result: Result, code: int, *fragments: str) -> str:
    """The command failed with `code` and exactly one stderr line starting "agent-sync:", naming `fragments`."""
    assert result.code == code, result
    assert "Traceback" not in result.err and "Traceback" not in result.out, result
    # `--wait` reports its place in the queue while it waits; the error is the one line after that
    lines = [line for line in result.err.splitlines() if not WAITING_LINE.fullmatch(line)]
    assert len(lines) == 1, result
    assert lines[0].startswith("agent-sync:"), result
    assert "internal error" not in lines[0], result
    for fragment in fragments:
        assert fragment in lines[0], (fragment, result)
    return lines[0]


class Cli:
    """The real CLI, `python -m agent_sync`, in one repository, with a private HOME and a per-call identity."""

    def __init__(self, tmp_path: Path):
        self.root = make_repo(tmp_path / "repo")
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.db = self.root / ".claude" / "coordination" / "state.sqlite"

    def env(self, agent: str | None = None, **extra: str) -> dict:
        return agent_env(agent, home=self.home, **extra)

    def __call__(self, *args: str, agent: str | None = "alice", env: dict | None = None, stdin=None,
                 cwd=None, timeout: float = 60) -> Result:
        proc = run_cli(cwd or self.root, *args, agent=agent, env=env, stdin=stdin, timeout=timeout,
                       base_env=self.env(None))
        if isinstance(stdin, bytes):
            proc.stdout = proc.stdout.decode("utf-8", "replace")
            proc.stderr = proc.stderr.decode("utf-8", "replace")
        return Result(proc)

    def ok(self, *args: str, **kwargs) -> Result:
        result = self(*args, **kwargs)
        assert result.code == 0, result
        assert result.err == "", result
        return result

    def json(self, *args: str, **kwargs):
        return json.loads(self.ok(*args, "--json", **kwargs).out)

    def error(self, code: int, *args: str, expect=(), **kwargs) -> str:
        """Run a command that must fail with `code`; returns its one stderr line."""
        return assert_one_line_error(self(*args, **kwargs), code, *expect)

    def popen(self, *args: str, agent: str = "alice", env: dict | None = None) -> subprocess.Popen:
        full_env = self.env(agent)
        full_env.update(env or {})
        return subprocess.Popen([sys.executable, "-m", "agent_sync", *args], cwd=str(self.root), env=full_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def hook(self, event: str, payload: dict, *, agent: str | None = None, env: dict | None = None) -> Result:
        return self("hook", event, agent=agent, env=env, stdin=json.dumps(payload))

    def context(self, clock, agent: str = "alice", **env: str):
        """The in-process core on a controlled clock (waits advance the clock instead of sleeping)."""
        from agent_sync.core.context import open_context

        ctx = open_context(cwd=str(self.root), clock=clock, environ=self.env(None, **env))
        ctx.me = agent
        if hasattr(clock, "advance"):
            ctx.sleep = clock.advance
        return ctx


class Clock:
    """A controlled clock: `clock()` is now; `clock.advance(seconds)` moves it."""

    def __init__(self, start: float = 1_900_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def has_control_bytes(text: str) -> bool:
    """ESC, BEL, backspace, CR and the other C0/C1 controls, except newline and tab."""
    return any((ord(ch) < 32 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F for ch in text)


def script_dir() -> Path:
    """The directory holding the `agent-sync` console script of this interpreter, or a shim for it."""
    import sysconfig

    candidates = [Path(sysconfig.get_path("scripts")), Path(sys.executable).parent]
    for directory in candidates:
        if (directory / "agent-sync").exists():
            return directory
    found = shutil.which("agent-sync")
    return Path(found).parent if found else candidates[0]


def drop_file_privileges() -> list[str] | None:
    """A command prefix that makes file permissions apply even to root, or None when that is not possible."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    probe = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search", "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def run_unprivileged(cli: Cli, *args: str, agent: str = "alice") -> Result:
    prefix = drop_file_privileges()
    assert prefix is not None
    proc = subprocess.run([*prefix, sys.executable, "-m", "agent_sync", *args], cwd=str(cli.root),
                          env=cli.env(agent), capture_output=True, text=True, timeout=60)
    return Result(proc)
