"""Shared helpers for the benchmarks: a byte-compiled package, a clean environment, seeded databases,
round-robin timing against the interpreter floor (`python -I -c pass`) and Markdown tables.

No assertion here is about time: a command that fails makes the benchmark stop, a slow one is only reported.
"""

import argparse
import atexit
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

PY = sys.executable  # this interpreter (a virtual environment stays one: its site-packages are what is measured)
SCRIPT = os.path.join(os.path.dirname(sys.executable), "agent-sync")  # the console script hooks run
FLOOR = "python -I -c pass"
SESSION = "0b5e55ed-4444-4e55-9a0b-7f6a2c1d9e04"


def package_dir() -> str:
    import agent_sync

    return os.path.dirname(agent_sync.__file__)


def clean_env(agent: str | None = None) -> dict:
    """The caller's environment without PYTHONDONTWRITEBYTECODE (so the .pyc files are used) and without
    anything that would leak an identity, root or setting into the measured commands."""
    scrub = ("PYTHONDONTWRITEBYTECODE", "CLAUDE_CODE_SESSION_ID", "CODEX_THREAD_ID", "GEMINI_SESSION_ID",
             "CLAUDE_PROJECT_DIR")
    env = {k: v for k, v in os.environ.items() if k not in scrub and not k.startswith("AGENT_SYNC_")}
    if agent:
        env["AGENT_SYNC_ID"] = agent
    return env


def byte_compile() -> str:
    """`python -m compileall -q` the package: this machine sets PYTHONDONTWRITEBYTECODE=1, so without this
    every measured command would compile agent_sync from source."""
    directory = package_dir()
    subprocess.run([PY, "-m", "compileall", "-q", directory], check=True, env=clean_env())
    return directory


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_editable() -> bool:
    """Whether `agent_sync` is imported from this checkout's `src` (an editable install) rather than a build."""
    return package_dir().startswith(os.path.join(REPO, "src") + os.sep)


def find_uv() -> str | None:
    """The `uv` program, if this machine has one (on PATH, or installed in this interpreter's environment)."""
    found = shutil.which("uv") or os.path.join(os.path.dirname(sys.executable), "uv")
    return found if os.path.isfile(found) and os.access(found, os.X_OK) else None


def installed_build(keep: bool = False, tool: str = "pip") -> str:
    """A regular (non-editable) install of this checkout in a fresh environment, made the way users make it:
    `pip install` into a virtual environment (what pipx does), or `uv tool install`. Returns the path of
    its `agent-sync` script (the two tools write different launchers: pip's imports `re`, uv's does not)."""
    home = tempfile.mkdtemp(prefix=f"agent-sync-bench-{tool}-")
    if not keep:
        atexit.register(shutil.rmtree, home, True)
    build = shutil.copytree(REPO, os.path.join(home, "checkout"),
                            ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".venv*"))
    env = clean_env()
    if tool == "uv":
        env.update(UV_TOOL_DIR=os.path.join(home, "tools"), UV_TOOL_BIN_DIR=os.path.join(home, "bin"))
        subprocess.run([find_uv(), "tool", "install", "--quiet", "--python", PY, build], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        return os.path.join(home, "bin", "agent-sync")
    subprocess.run([PY, "-m", "venv", os.path.join(home, "venv")], check=True, env=env)
    bindir = os.path.join(home, "venv", "bin")
    subprocess.run([os.path.join(bindir, "python"), "-m", "pip", "install", "-q", "--no-deps", build], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    return os.path.join(bindir, "agent-sync")


def parse_args(description: str, runs: int = 30) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=runs, help=f"measured runs per case (default {runs})")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs per case first (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    return parser.parse_args()


def preamble(title: str, args, extra: str = "") -> None:
    import agent_sync

    directory = byte_compile()
    print(f"## {title}\n")
    print(f"- interpreter: `{PY}` (Python {platform.python_version()}), SQLite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    print(f"- agent-sync {agent_sync.__version__} from `{directory}`; byte-compiled first with "
          f"`python -m compileall -q {directory}`; every subprocess runs with PYTHONDONTWRITEBYTECODE "
          "removed from its environment (this machine sets it), so the measured commands load .pyc files")
    print(f"- {args.runs} measured runs per case after {args.warmup} warm-up runs, cases interleaved round-robin "
          f"so drift hits them alike; floor = `{FLOOR}` on the same interpreter, measured in the same run")
    if extra:
        print(extra)
    print()


# -- repositories and seeding -----------------------------------------------------------------------------

def make_repo(prefix: str, keep: bool = False) -> str:
    """A throw-away git repository, removed when the script exits (also on failure) unless `keep`."""
    root = os.path.realpath(tempfile.mkdtemp(prefix=f"agent-sync-bench-{prefix}-"))
    if keep:
        print(f"- repository kept: {root}")
    else:
        atexit.register(shutil.rmtree, root, True)
    subprocess.run(["git", "init", "-q", root], check=True)
    for rel in ("src/app.py", "README.md"):
        os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
        with open(os.path.join(root, rel), "w", encoding="utf-8") as fh:
            fh.write("x = 1\n")
    return root


def open_ctx(root: str, agent: str = "bench-seeder", env: dict | None = None):
    """An in-process context for `root` as `agent` (plus `env`: the store's settings), without touching
    os.environ."""
    from agent_sync.core.context import open_context

    environ = {k: v for k, v in clean_env(agent).items()}
    environ.update(env or {})
    return open_context(cwd=root, environ=environ)


HOLDERS = ("holder-a", "holder-b", "holder-c", "holder-d")


def lock_targets(total: int = 1000, globs: int = 100, dirs: int = 50) -> list[tuple[str, str]]:
    """(kind, key) of `total` distinct lock targets: `globs` globs (a tenth rooted at the repository top, so
    every path has candidates to match), `dirs` directories, the rest files, spread over 40 packages."""
    out = []
    for i in range(globs):
        if i % 10 == 0:
            out.append(("glob", f"**/*.gen{i}.py"))
        elif i % 3 == 0:
            out.append(("glob", f"pkg{i % 40}/**/*_{i}.ts"))
        else:
            out.append(("glob", f"pkg{i % 40}/sub{i}/*.py"))
    for i in range(dirs):
        out.append(("dir", f"pkg{i % 40}/generated{i}"))
    for i in range(total - globs - dirs):
        out.append(("file", f"pkg{i % 40}/sub{i % 7}/mod{i}.py"))
    return out


def seed_locks(root: str, total: int = 1000, globs: int = 100, holders=HOLDERS, ttl: float = 7 * 86400,
               env: dict | None = None) -> int:
    """`total` live locks held round-robin by a few live agents, in one write transaction of the store API
    (of the store `env` selects; default the repository's SQLite file). Returns how many locks there are."""
    from agent_sync.targets import Target

    ctx = open_ctx(root, env=env)
    try:
        with ctx.store.write() as tx:
            for name in holders:
                if tx.get_agent(name) is None:
                    tx.insert_agent({"id": name, "name": name, "client": "bench", "created_at": tx.now,
                                     "last_seen": tx.now})
            for n, (kind, key) in enumerate(lock_targets(total, globs)):
                tx.put_lock({"kind": kind, "key": key, "base": Target(kind, key).base,
                             "holder": holders[n % len(holders)], "mode": "exclusive", "reason": "bench",
                             "lease": 0, "created_at": tx.now, "expires_at": tx.now + ttl})
        with ctx.store.read() as tx:
            return len(tx.locks())
    finally:
        ctx.store.close()


def refresh_holders(root: str, holders=HOLDERS, env: dict | None = None) -> None:
    """Keep the seeded holders active (their locks stop holding once they go stale), through the store API."""
    ctx = open_ctx(root, env=env)
    try:
        with ctx.store.write() as tx:
            for name in holders:
                tx.update_agent(name, last_seen=tx.now)
    finally:
        ctx.store.close()


# -- timing ---------------------------------------------------------------------------------------------

class Case:
    """One measured command: argv, optional stdin, the agent it runs as, and the exit code it must give."""

    def __init__(self, label: str, argv: list[str], *, cwd: str | None = None, stdin: str | None = None,
                 agent: str | None = None, expect: int = 0, check=None, env: dict | None = None):
        self.label, self.argv, self.cwd, self.stdin = label, argv, cwd, stdin
        self.env = clean_env(agent)
        self.env.update(env or {})  # the store's settings (AGENT_SYNC_DATABASE_URL, ...) for this case
        self.expect, self.check = expect, check

    def run_once(self) -> float:
        start = time.perf_counter()
        proc = subprocess.run(self.argv, cwd=self.cwd, env=self.env, input=self.stdin, capture_output=True,
                              text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != self.expect or (self.check and not self.check(proc)):
            raise SystemExit(f"benchmark case {self.label!r} misbehaved: exit {proc.returncode} "
                             f"(expected {self.expect})\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
        return elapsed


def floor_case() -> Case:
    return Case(FLOOR, [PY, "-I", "-c", "pass"])


def measure(cases: list[Case], runs: int, warmup: int) -> dict[str, list[float]]:
    """Run the cases round-robin (case 1, case 2, ..., case 1, ...), `warmup` unmeasured rounds first."""
    samples: dict[str, list[float]] = {c.label: [] for c in cases}
    for round_no in range(warmup + runs):
        for case in cases:
            elapsed = case.run_once()
            if round_no >= warmup:
                samples[case.label].append(elapsed)
    return samples


def measure_inprocess(fn, runs: int, warmup: int = 50) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered)) - 1))]


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    if ms < 1:
        return f"{ms:.3f}"
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def table(rows: list[tuple[str, list[float]]], floor: list[float], note_col: dict[str, str] | None = None) -> str:
    """Markdown: case | runs | median | p90 | median / floor median (and an optional note)."""
    base = statistics.median(floor)
    header = "| case | runs | median ms | p90 ms | × floor (median) |"
    sep = "|---|---:|---:|---:|---:|"
    if note_col is not None:
        header += " note |"
        sep += "---|"
    lines = [header, sep]
    for label, values in [(FLOOR + " (floor)", floor), *rows]:
        med = statistics.median(values)
        ratio = med / base
        shown = f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"
        line = f"| {label} | {len(values)} | {fmt_ms(med)} | {fmt_ms(p90(values))} | {shown}× |"
        if note_col is not None:
            line += f" {note_col.get(label, '')} |"
        lines.append(line)
    return "\n".join(lines)


def hook_payload(root: str, event: str, **fields) -> str:
    body = {"session_id": SESSION, "transcript_path": os.path.join(root, "transcript.jsonl"), "cwd": root,
            "hook_event_name": event, "permission_mode": "acceptEdits"}
    body.update(fields)
    return json.dumps(body)


def edit_payload(root: str, rel: str) -> str:
    return hook_payload(root, "PreToolUse", tool_name="Edit", tool_use_id="toolu_bench",
                        tool_input={"file_path": os.path.join(root, rel), "old_string": "x", "new_string": "y"})


def is_deny(proc) -> bool:
    try:
        return json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    except (ValueError, KeyError, TypeError):
        return False


def is_allow(proc) -> bool:
    return proc.stdout.strip() == ""
