"""Races between real processes sharing one repository's database.

Two kinds of racers, both released together from one shared signal:

* a pool of 16 long-lived worker processes (multiprocessing, "spawn" context), each with its own
  AGENT_SYNC_ID, calling the core API in-process (`open_context()`, `locks.lock`, `tasks.claim_next`...)
  for many rounds, every round fenced by a `multiprocessing.Barrier`;
* 16 CLI subprocesses that block on a shared pipe and go when the test closes its write end (EOF reaches
  all readers at once). In "exec" mode each then becomes literally `python -m agent_sync ARGS`
  (os.execv); in "preload" mode it has already imported the CLI and runs `agent_sync.__main__` with runpy,
  which makes the race tighter (no interpreter start-up between the signal and the transaction).

Totals and exit codes are exact (0 ok, 1 usage/not found, 2 conflict); no output may ever contain
"database is locked" or "Traceback", and no error log may appear. Wall times are not asserted, apart from
subprocess timeouts.
"""

import json
import multiprocessing
import os
import queue
import sqlite3
import subprocess
import sys
import time
import traceback

import pytest

import helpers
from helpers import agent_env, hold_write_lock, run_cli

N = 16
SPAWN = multiprocessing.get_context("spawn")
JOB_TIMEOUT = 120
BAD_WORDS = ("database is locked", "Traceback")


# -- the in-process racers (run inside the spawned workers) --------------------------------------------------

def _attempt(fn):
    """(exit code, message, value) the way the CLI would report `fn()`: 0, AgentSyncError's code, or 3."""
    from agent_sync.errors import AgentSyncError

    try:
        return 0, "", fn()
    except AgentSyncError as exc:
        return exc.exit_code, str(exc), None
    except Exception:
        return 3, traceback.format_exc(), None


def _enter(index: int, root: str, env: dict):
    """Become agent racer-INDEX in `root` on the test's store (`env`) and open a context (one long-lived
    connection)."""
    from agent_sync.core.context import open_context

    for name in list(os.environ):
        if name.startswith("AGENT_SYNC_"):
            del os.environ[name]
    os.environ.update(env)
    os.environ["AGENT_SYNC_ROOT"] = root
    os.environ["AGENT_SYNC_ID"] = f"racer-{index:02d}"
    return open_context(cwd=root)


def _job_lock_rounds(index, barrier, job, stop):
    """Each round: everybody tries `plan[round][index]` at once; winners unlock before the next round."""
    from agent_sync.core import locks

    ctx = _enter(index, job["root"], job["env"])
    outcomes = []
    try:
        for row in job["plan"]:
            wanted = row[index]
            barrier.wait()
            code, message, _ = _attempt(lambda: locks.lock(ctx, wanted, reason="race"))  # noqa: B023
            barrier.wait()  # every attempt of this round is over: nobody can race the reset
            undo = _attempt(lambda: locks.unlock(ctx, wanted))[:2] if code == 0 else (0, "")  # noqa: B023
            outcomes.append({"code": code, "message": message, "unlock": undo})
    finally:
        ctx.store.close()
    return outcomes


def _job_claim_rounds(index, barrier, job, stop):
    """Each round: racer 0 creates `per_round` ready tasks, then everybody runs claim-next at once."""
    from agent_sync.core import tasks

    ctx = _enter(index, job["root"], job["env"])
    outcomes = []
    try:
        for r in range(job["rounds"]):
            barrier.wait()
            created = []
            if index == 0:
                for k in range(job["per_round"]):
                    created.append(tasks.create(ctx, f"round {r} task {k}", priority=k % 3)["id"])
            barrier.wait()
            code, message, view = _attempt(lambda: tasks.claim_next(ctx))
            barrier.wait()
            done = _attempt(lambda: tasks.complete(ctx, view["id"]))[:2] if code == 0 else (0, "")  # noqa: B023
            outcomes.append({"created": created, "code": code, "message": message,
                             "claimed": view["id"] if view else None, "complete": done})
    finally:
        ctx.store.close()
    return outcomes


def _job_first_open(index, barrier, job, stop):
    """Each round names a fresh root with no database yet (on PostgreSQL: a fresh empty database, from
    `urls`): everybody opens it and heartbeats at once. Stops after the first round in which any racer
    failed (`stop` is shared by the pool)."""
    from agent_sync.core import presence

    outcomes = []
    for n, root in enumerate(job["roots"]):
        barrier.wait()
        env = dict(job["env"], AGENT_SYNC_DATABASE_URL=job["urls"][n]) if job.get("urls") else job["env"]

        def go(root=root, env=env):
            ctx = _enter(index, root, env)
            try:
                return presence.heartbeat(ctx)["status"]
            finally:
                ctx.store.close()

        code, message, status = _attempt(go)
        outcomes.append({"code": code, "message": message, "status": status})
        if code != 0:
            stop.value = 1
        barrier.wait()
        if stop.value:
            break
    return outcomes


JOBS = {"lock_rounds": _job_lock_rounds, "claim_rounds": _job_claim_rounds, "first_open": _job_first_open}


def _pool_worker(index, barrier, stop, inbox, outbox):
    while True:
        job = inbox.get()
        if job is None:
            return
        try:
            result = JOBS[job["kind"]](index, barrier, job, stop)
        except BaseException:  # e.g. a broken barrier: report it, stay available
            result = {"error": traceback.format_exc()}
        outbox.put((index, result))


class Pool:
    """N spawned workers that run the same job together and report one result each."""

    def __init__(self, n: int = N):
        self.barrier = SPAWN.Barrier(n, timeout=60)
        self.stop = SPAWN.Value("i", 0)  # a job may end early once any racer sets it
        self.outbox = SPAWN.Queue()
        self.inboxes = [SPAWN.Queue() for _ in range(n)]
        self.procs = [SPAWN.Process(target=_pool_worker, daemon=True,
                                    args=(i, self.barrier, self.stop, self.inboxes[i], self.outbox))
                      for i in range(n)]
        for proc in self.procs:
            proc.start()

    def run(self, **job) -> list:
        if self.barrier.broken:
            self.barrier.reset()
        self.stop.value = 0
        job.setdefault("env", dict(helpers.STORE_ENV))  # the workers outlive a test: pass its store along
        for inbox in self.inboxes:
            inbox.put(job)
        results: list = [None] * len(self.procs)
        deadline = time.monotonic() + JOB_TIMEOUT
        for _ in self.procs:
            try:
                index, result = self.outbox.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the racers did not finish {job['kind']} within {JOB_TIMEOUT}s")
            results[index] = result
        errors = [r["error"] for r in results if isinstance(r, dict)]
        assert not errors, errors[0]
        return results

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()


@pytest.fixture(scope="module")
def pool():
    workers = Pool()
    yield workers
    workers.close()


def rounds_of(results: list) -> list[list[dict]]:
    """Transpose per-worker outcome lists into per-round lists (index = worker)."""
    return [list(row) for row in zip(*results, strict=True)]


def assert_clean_text(*texts) -> None:
    for text in texts:
        for word in BAD_WORDS:
            assert word not in (text or ""), text


def assert_clean_outcomes(results: list) -> None:
    for per_worker in results:
        for outcome in per_worker:
            assert outcome["code"] in (0, 1, 2), outcome["message"]
            assert_clean_text(outcome["message"])
            for extra in ("unlock", "complete"):
                if extra in outcome:
                    assert outcome[extra][0] == 0, outcome[extra][1]


def assert_no_error_logs(root) -> None:
    state = os.path.join(str(root), ".claude", "coordination")
    for name in ("error.log", "hook-errors.log"):
        path = os.path.join(state, name)
        assert not os.path.exists(path), open(path, encoding="utf-8").read()


# -- CLI racers -------------------------------------------------------------------------------------------

WRAPPER = r"""
import os, sys
fd, ready, mode, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
if mode == "preload":
    import runpy
    import agent_sync.cli.app, agent_sync.core.context, agent_sync.core.locks, agent_sync.core.tasks
    import agent_sync.store.sqlite
    if os.environ.get("AGENT_SYNC_DATABASE_URL"):
        import agent_sync.store.postgres
open(ready, "w").close()
os.read(fd, 1)  # blocks until the test closes the pipe's write end: every racer wakes at once
os.close(fd)
if mode == "exec":
    os.execv(sys.executable, [sys.executable, "-m", "agent_sync", *argv])
sys.argv = ["agent-sync", *argv]
runpy.run_module("agent_sync", run_name="__main__", alter_sys=True)
"""


def cli_env(agent: str | None) -> dict:
    return agent_env(agent)


def cli(repo, *args, agent: str | None = "referee", stdin: str | None = None, timeout: float = 60):
    result = run_cli(repo, *args, agent=agent, stdin=stdin, timeout=timeout)
    assert_clean_text(result.stdout, result.stderr)
    return result


def cli_race(repo, tmp_path, argvs: list[list[str]], *, mode: str = "exec", prefix: str = "cli") -> list:
    """Start one CLI process per argv (agent PREFIX-I), release them together, return their results."""
    ready_dir = tmp_path / f"ready-{prefix}-{time.monotonic_ns()}"
    ready_dir.mkdir()
    read_end, write_end = os.pipe()
    procs = []
    try:
        for i, argv in enumerate(argvs):
            procs.append(subprocess.Popen(
                [sys.executable, "-c", WRAPPER, str(read_end), str(ready_dir / str(i)), mode, *argv],
                cwd=repo, env=cli_env(f"{prefix}-{i:02d}"), pass_fds=(read_end,),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        deadline = time.monotonic() + 60
        while len(os.listdir(ready_dir)) < len(argvs):
            assert time.monotonic() < deadline, "the CLI racers never got ready"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.005)
        time.sleep(0.02)  # every racer is (about to be) blocked on the pipe
    except BaseException:
        for proc in procs:
            proc.kill()
            proc.communicate()
        raise
    finally:
        os.close(read_end)
        os.close(write_end)  # the go signal
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert_clean_text(out, err)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


@pytest.fixture
def racing_repo(repo):
    yield repo
    assert_no_error_logs(repo)


# -- locks ------------------------------------------------------------------------------------------------

def test_sixteen_racers_on_one_target_exactly_one_wins_every_round(pool, racing_repo):
    rounds = 30
    targets = ["src/app.py", "src/", "src/**", "README.md"]
    plan = [[[targets[r % len(targets)]]] * N for r in range(rounds)]
    results = pool.run(kind="lock_rounds", root=str(racing_repo), plan=plan)
    assert_clean_outcomes(results)
    for r, row in enumerate(rounds_of(results)):
        codes = sorted(o["code"] for o in row)
        assert codes == [0] + [2] * (N - 1), (r, codes)
        assert all("is locked by racer-" in o["message"] for o in row if o["code"] == 2)
    assert json.loads(cli(racing_repo, "locks", "--json").stdout)["locks"] == []  # every round was reset


@pytest.mark.parametrize("mode", ["exec", "preload"])
def test_sixteen_cli_racers_on_one_target_exactly_one_wins(racing_repo, tmp_path, mode):
    results = cli_race(racing_repo, tmp_path, [["lock", "src/app.py", "--reason", "race"]] * N, mode=mode)
    codes = sorted(r.returncode for r in results)
    assert codes == [0] + [2] * (N - 1), [(r.returncode, r.stderr) for r in results]
    winner = next(i for i, r in enumerate(results) if r.returncode == 0)
    for r in results:
        if r.returncode == 2:
            assert f"src/app.py is locked by cli-{winner:02d}" in r.stderr, r.stderr
    held = json.loads(cli(racing_repo, "locks", "--json").stdout)["locks"]
    assert [(v["target"], v["holder"]) for v in held] == [("src/app.py", f"cli-{winner:02d}")]


def test_sixteen_racers_on_disjoint_targets_all_win(pool, racing_repo, tmp_path):
    rounds = 10
    plan = [[[f"src/part{i}/r{r}.py"] for i in range(N)] for r in range(rounds)]
    results = pool.run(kind="lock_rounds", root=str(racing_repo), plan=plan)
    assert_clean_outcomes(results)
    for r, row in enumerate(rounds_of(results)):
        assert [o["code"] for o in row] == [0] * N, (r, [o["message"] for o in row])

    cli_results = cli_race(racing_repo, tmp_path, [["lock", f"src/part{i}/"] for i in range(N)], mode="preload")
    assert [r.returncode for r in cli_results] == [0] * N, [r.stderr for r in cli_results]
    held = json.loads(cli(racing_repo, "locks", "--json").stdout)["locks"]
    assert sorted((v["target"], v["holder"]) for v in held) == sorted(
        (f"src/part{i}/", f"cli-{i:02d}") for i in range(N))


OVERLAPPING_FILES = ["src/a/b.py", "src/top.py", "src/x/y/z/deep.py", "src/a/b.py"]


def test_glob_and_file_racers_overlap_exactly_one_winner_per_round(pool, racing_repo, tmp_path):
    """Half lock the glob src/**/*.py, half a file it covers (`**` also matches zero directories)."""
    rounds = 24
    plan = [[["src/**/*.py"] if i % 2 == 0 else [OVERLAPPING_FILES[r % len(OVERLAPPING_FILES)]]
             for i in range(N)] for r in range(rounds)]
    results = pool.run(kind="lock_rounds", root=str(racing_repo), plan=plan)
    assert_clean_outcomes(results)
    kinds = {"glob": 0, "file": 0}
    for r, row in enumerate(rounds_of(results)):
        codes = [o["code"] for o in row]
        assert sorted(codes) == [0] + [2] * (N - 1), (r, codes)
        kinds["glob" if codes.index(0) % 2 == 0 else "file"] += 1
    assert sum(kinds.values()) == rounds

    argvs = [["lock", "src/**/*.py"] if i % 2 == 0 else ["lock", "src/a/b.py"] for i in range(N)]
    cli_results = cli_race(racing_repo, tmp_path, argvs, mode="preload")
    codes = [r.returncode for r in cli_results]
    assert sorted(codes) == [0] + [2] * (N - 1), [(r.returncode, r.stderr) for r in cli_results]


# -- tasks ------------------------------------------------------------------------------------------------

def test_claim_next_racers_each_ready_task_is_claimed_exactly_once(pool, racing_repo):
    rounds, per_round = 10, 8
    results = pool.run(kind="claim_rounds", root=str(racing_repo), rounds=rounds, per_round=per_round)
    assert_clean_outcomes(results)
    for r, row in enumerate(rounds_of(results)):
        created = row[0]["created"]
        assert len(created) == per_round
        claimed = [o["claimed"] for o in row if o["code"] == 0]
        assert sorted(claimed) == sorted(created), (r, claimed, created)
        losers = [o for o in row if o["code"] != 0]
        assert len(losers) == N - per_round
        assert all(o["code"] == 1 and "no ready task" in o["message"] for o in losers), losers
    board = json.loads(cli(racing_repo, "tasks", "--json").stdout)["tasks"]
    assert len(board) == rounds * per_round and {t["status"] for t in board} == {"done"}


def test_sixteen_cli_claim_next_over_eight_ready_tasks(racing_repo, tmp_path):
    for k in range(8):
        assert cli(racing_repo, "create-task", f"task {k}", "--priority", str(k % 3)).returncode == 0
    results = cli_race(racing_repo, tmp_path, [["claim-next", "--json"]] * N, mode="exec", prefix="claimer")
    winners = {f"claimer-{i:02d}": json.loads(r.stdout)["id"] for i, r in enumerate(results) if r.returncode == 0}
    losers = [r for r in results if r.returncode != 0]
    assert len(winners) == 8, [(r.returncode, r.stderr) for r in results]
    assert len(set(winners.values())) == 8
    assert len(losers) == 8
    assert all(r.returncode == 1 and "no ready task" in r.stderr for r in losers), [r.stderr for r in losers]
    board = json.loads(cli(racing_repo, "tasks", "--json").stdout)["tasks"]
    assert len(board) == 8
    assert all(t["status"] == "in_progress" for t in board)
    owners = {t["owner"]: t["id"] for t in board}
    assert owners == winners  # each task has exactly one owner, and it is the racer told it won


# -- first-time initialisation ----------------------------------------------------------------------------

EXPECTED_TABLES = {"agents", "locks", "lock_waiters", "tasks", "task_files", "task_deps", "messages",
                   "message_deliveries", "decisions", "activity"}


def schema_problems(db_path: str, agents: int) -> list[str]:
    from agent_sync.store.sqlite import SCHEMA_VERSION

    conn = sqlite3.connect(db_path)
    try:
        tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                                   " AND name NOT LIKE 'sqlite_%'"))
        found = {"user_version": conn.execute("PRAGMA user_version").fetchone()[0],
                 "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
                 "tables": tables,
                 "agents": conn.execute("SELECT count(*) FROM agents").fetchone()[0],
                 "joins": conn.execute("SELECT count(*) FROM activity WHERE type = 'join'").fetchone()[0]}
    finally:
        conn.close()
    wanted = {"user_version": SCHEMA_VERSION, "journal_mode": "wal", "tables": sorted(EXPECTED_TABLES),
              "agents": agents, "joins": agents}
    return [f"{db_path}: {key} is {found[key]!r}, expected {wanted[key]!r}" for key in wanted
            if found[key] != wanted[key]]


def pg_schema_problems(url: str, agents: int) -> list[str]:
    """The same checks through the store API, for a PostgreSQL database the racers migrated from empty."""
    from agent_sync.store.postgres import SCHEMA_VERSION, PostgresStore

    store = PostgresStore(url, helpers.STORE_ENV["AGENT_SYNC_PROJECT"], create=False)
    try:
        with store.read() as tx:
            found = {"schema_version": store.schema_version(), "check": store.check(), "agents": len(tx.agents()),
                     "joins": sum(1 for r in tx.activity(limit=100_000) if r["type"] == "join")}
    finally:
        store.close()
    wanted = {"schema_version": SCHEMA_VERSION, "check": None, "agents": agents, "joins": agents}
    return [f"{url}: {key} is {found[key]!r}, expected {wanted[key]!r}" for key in wanted if found[key] != wanted[key]]


FIRST_OPEN_ROUNDS = 100
FIRST_OPEN_ROUNDS_PG = 40  # each round a new empty database: CREATE DATABASE costs more than a new directory


def test_sixteen_racers_create_the_database_once(pool, racing_repo, tmp_path, store, request):
    from agent_sync.paths import ensure_state_dir

    problems = []
    made: list[str] = []
    server = request.getfixturevalue("pg_server") if store == "postgresql" else None

    def empty_database() -> str:
        made.append(f"race_{os.getpid()}_{len(made)}")
        return server.create_database(made[-1])

    saved = dict(helpers.STORE_ENV)
    try:
        # 1. The real CLI: a git repository with no state at all (on PostgreSQL, an empty database); half run
        #    `init`, half `lock`.
        db = racing_repo / ".claude" / "coordination" / "state.sqlite"
        if server is not None:
            helpers.STORE_ENV["AGENT_SYNC_DATABASE_URL"] = empty_database()
        argvs = [["init", "--json"] if i % 2 == 0 else ["lock", f"docs/part{i}.md"] for i in range(N)]
        results = cli_race(racing_repo, tmp_path, argvs, mode="preload")
        problems += [f"CLI racer {i} exited {r.returncode}: {r.stderr.strip()}"
                     for i, r in enumerate(results) if r.returncode != 0]
        if not problems:
            problems += (pg_schema_problems(helpers.STORE_ENV["AGENT_SYNC_DATABASE_URL"], N) if server is not None
                         else schema_problems(str(db), N))
    finally:
        helpers.STORE_ENV.clear()
        helpers.STORE_ENV.update(saved)

    # 2. The pool, in-process, many fresh roots (state directory present, database absent: the tightest
    #    race); it stops after the first round with a failure.
    rounds = FIRST_OPEN_ROUNDS if server is None else FIRST_OPEN_ROUNDS_PG
    roots = [tmp_path / f"fresh{r}" for r in range(rounds)]
    for root in roots:
        ensure_state_dir(str(root))
    urls = [empty_database() for _ in roots] if server is not None else None
    try:
        results = pool.run(kind="first_open", roots=[str(r) for r in roots], urls=urls)
        for r, row in enumerate(rounds_of(results)):
            failed = [f"round {r}, racer {i}: exit {o['code']}: {o['message']}" for i, o in enumerate(row)
                      if o["code"]]
            problems += failed or (pg_schema_problems(urls[r], N) if urls else
                                   schema_problems(str(roots[r] / ".claude" / "coordination" / "state.sqlite"), N))
    finally:
        for name in made:
            server.drop_database(name)
    assert not problems, "\n".join(problems)
    assert len(rounds_of(results)) == rounds


# -- hooks against a held write lock ----------------------------------------------------------------------

SESSION = "7d3e1f00-3333-4e55-9a0b-7f6a2c1d9e03"


def hook(repo, event, payload: dict):
    body = {"session_id": SESSION, "transcript_path": "/tmp/t.jsonl", "cwd": str(repo),
            "hook_event_name": event, **payload}
    return cli(repo, "hook", event, agent=None, stdin=json.dumps(body), timeout=10)


def test_hooks_answer_while_another_process_holds_the_write_lock(racing_repo):
    repo = racing_repo
    assert cli(repo, "register", "--name", "holder", agent="holder-agent").returncode == 0
    assert cli(repo, "lock", "src/app.py", "--reason", "refactor", agent="holder-agent").returncode == 0
    spool = repo / ".claude" / "coordination" / "spool"
    edit_readme = {"tool_name": "Edit", "tool_input": {"file_path": str(repo / "README.md"),
                                                       "old_string": "demo", "new_string": "demo!"}}

    with hold_write_lock(repo):  # through the store API: BEGIN IMMEDIATE, or the project's advisory lock
        denied = hook(repo, "pre-tool-use", {"tool_name": "Edit", "tool_input": {
            "file_path": str(repo / "src/app.py"), "old_string": "hi", "new_string": "ho"}})
        assert denied.returncode == 2, denied.stderr
        decision = json.loads(denied.stdout)["hookSpecificOutput"]
        assert decision["permissionDecision"] == "deny"
        assert "holder" in decision["permissionDecisionReason"]

        allowed = hook(repo, "pre-tool-use", edit_readme)
        assert (allowed.returncode, allowed.stdout.strip()) == (0, ""), allowed.stderr

        logged = hook(repo, "post-tool-use", {**edit_readme, "tool_response": {"success": True}})
        assert (logged.returncode, logged.stdout.strip()) == (0, ""), logged.stderr
        assert len(list(spool.glob("*.json"))) == 1  # deferred, not lost: the write lock was still held

    replay = hook(repo, "pre-compact", {"trigger": "auto"})
    assert replay.returncode == 0, replay.stderr
    assert list(spool.glob("*.json")) == []
    entries = json.loads(cli(repo, "activity", "--json", "--file", "README.md").stdout)["activity"]
    assert [(e["type"], e["message"]) for e in entries] == [("edit", "Edit README.md")]
