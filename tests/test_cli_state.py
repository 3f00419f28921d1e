"""State, settings and identity through the real CLI: init, path, config, whoami, register, heartbeat, gc,
worktrees, and every way the database file can be unusable."""

import sqlite3
import subprocess
import sys
import time

import pytest

from agent_sync.core import locks, presence
from agent_sync.identity import session_agent_id
from agent_sync.store.sqlite import SCHEMA_VERSION
from helpers import Cli, Clock, assert_one_line_error, drop_file_privileges, run_unprivileged, store_where

SESSION = "7d1f0c2a-3b4c-4d5e-8f90-a1b2c3d4e5f6"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENT_SYNC_ROOT", raising=False)
    return Cli(tmp_path)


def git(cli, *args, cwd=None):
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=str(cwd or cli.root),
                   env=cli.env(), check=True, capture_output=True)


# -- init and path ----------------------------------------------------------------------------------------

def test_init_creates_the_database_and_a_gitignore_that_keeps_the_state_out_of_git(cli, store):
    result = cli.ok("init", agent="alice")
    assert result.out == f"agent-sync state ready at {store_where(cli.root)}\n"
    assert cli.db.is_file() == (store == "sqlite")
    ignore = cli.root / ".claude" / "coordination" / ".gitignore"
    assert "*" in ignore.read_text().splitlines()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=cli.root,
                            capture_output=True, text=True, check=True).stdout
    assert ".claude" not in status
    assert cli.json("init") == {"path": store_where(cli.root), "schema_version": SCHEMA_VERSION}


def test_init_twice_keeps_the_state(cli):
    cli.ok("register", "--name", "frontend", agent="fe")
    cli.ok("init", agent="fe")
    assert cli.json("whoami", agent="fe")["name"] == "frontend"


def test_every_command_creates_the_state_on_first_use(cli, store):
    assert cli.ok("locks").out == "no live locks\n"
    assert cli.db.parent.is_dir()  # the clone's own files (hook spool, logs) live there on every store
    assert cli.db.is_file() == (store == "sqlite")


def test_concurrent_first_use_by_several_processes_all_succeed(cli):
    procs = [cli.popen("register", "--name", f"agent{i}", agent=f"a{i}") for i in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs
    names = sorted(a["name"] for a in cli.json("status", agent="a0")["agents"])
    assert names == ["agent0", "agent1", "agent2", "agent3"]


@pytest.mark.sqlite_only  # the SQLite file (test_postgres.py: the server and project)
def test_path_prints_the_state_file_from_anywhere_in_the_repository_without_creating_it(cli):
    assert cli.ok("path").out == f"{cli.db}\n"
    deep = cli.root / "src" / "deep" / "er"
    deep.mkdir(parents=True)
    assert cli.ok("path", cwd=deep).out == f"{cli.db}\n"
    assert cli.json("path") == {"root": str(cli.root), "state": str(cli.db)}
    assert not (cli.root / ".claude").exists()


@pytest.mark.sqlite_only  # where the SQLite file goes
def test_agent_sync_root_overrides_the_repository(cli, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    env = {"AGENT_SYNC_ROOT": str(other)}
    assert cli.ok("path", env=env).out == f"{other.resolve()}/.claude/coordination/state.sqlite\n"
    cli.ok("register", "--name", "remote", env=env)
    assert (other / ".claude" / "coordination" / "state.sqlite").is_file()
    assert not cli.db.exists()


# -- config -----------------------------------------------------------------------------------------------

def test_config_shows_defaults_and_their_source(cli):
    out = cli.ok("config").out
    assert "stale_minutes = 15.0  (default)" in out
    assert "edit_policy = 'auto'  (default)" in out
    assert "lock_ttl_minutes = 60.0  (default)" in out
    data = cli.json("config")
    assert data["offline_minutes"] == {"value": 60.0, "source": "default", "help": data["offline_minutes"]["help"]}
    assert all(set(v) == {"value", "source", "help"} for v in data.values())


def test_settings_precedence_is_environment_then_toml_then_default(cli):
    toml = cli.root / ".agent-sync.toml"
    toml.write_text("stale_minutes = 5\nedit_policy = \"strict\"\n")
    data = cli.json("config", env={"AGENT_SYNC_STALE_MINUTES": "7"})
    assert data["stale_minutes"]["value"] == 7.0
    assert data["stale_minutes"]["source"] == "environment AGENT_SYNC_STALE_MINUTES"
    assert data["edit_policy"]["value"] == "strict"
    assert data["edit_policy"]["source"] == f"{toml}:2"
    assert data["lock_ttl_minutes"] == {**data["lock_ttl_minutes"], "value": 60.0, "source": "default"}
    text = cli.ok("config").out
    assert f"stale_minutes = 5.0  ({toml}:1)" in text
    assert f"edit_policy = 'strict'  ({toml}:2)" in text


def test_settings_take_effect(cli):
    (cli.root / ".agent-sync.toml").write_text("lock_ttl_minutes = 2\n")
    ttl = cli.json("lock", "README.md", agent="a")["locks"][0]["expires_in_s"]
    assert 100 < ttl <= 120
    ttl = cli.json("lock", "src/app.py", agent="a", env={"AGENT_SYNC_LOCK_TTL_MINUTES": "3"})["locks"][0]
    assert 160 < ttl["expires_in_s"] <= 180


@pytest.mark.parametrize("content,line,fragment", [
    ("stale_minutes = 5\nbogus = 1\n", 2, "unknown setting 'bogus'"),
    ("stale_minutes = 5\n\nedit_policy = \"yolo\"\n", 3, "edit_policy must be one of advisory, auto, strict, got 'yolo'"),
    ("stale_minutes = \"abc\"\n", 1, "stale_minutes must be float, got 'abc'"),
    ("offline_minutes = -1\n", 1, "offline_minutes must be at least"),
    ("hook_busy_ms = 2.5\n", 1, "hook_busy_ms must be int"),
    ("# comment\nlock_ttl_minutes = true\n", 2, "lock_ttl_minutes must be float"),
])
def test_a_bad_setting_in_the_toml_file_names_file_and_line(cli, content, line, fragment):
    toml = cli.root / ".agent-sync.toml"
    toml.write_text(content)
    for command in (["config"], ["status"]):
        cli.error(1, *command, expect=(f"{toml}:{line}: ", fragment))


def test_invalid_toml_names_the_file_and_the_line(cli):
    toml = cli.root / ".agent-sync.toml"
    toml.write_text("stale_minutes = 5\nedit_policy = \n")
    cli.error(1, "config", expect=(str(toml), "not valid TOML", "line 2"))


def test_a_bad_setting_in_the_environment_names_the_variable(cli):
    cli.error(1, "config", env={"AGENT_SYNC_EDIT_POLICY": "nope"},
              expect=("environment AGENT_SYNC_EDIT_POLICY", "advisory, auto, strict", "'nope'"))
    cli.error(1, "locks", env={"AGENT_SYNC_STALE_MINUTES": "soon"},
              expect=("environment AGENT_SYNC_STALE_MINUTES", "must be float"))


def test_a_database_url_that_is_not_postgresql_is_refused_in_one_line(cli):
    env = {"AGENT_SYNC_DATABASE_URL": "mysql://db/x"}
    assert cli.json("config", env=env)["database_url"]["value"] == "mysql://db/x"
    cli.error(1, "status", env=env, expect=("database_url", "environment AGENT_SYNC_DATABASE_URL",
                                            "must be a postgresql:// URL"))


# -- identity ---------------------------------------------------------------------------------------------

def test_whoami_reports_the_explicit_id_and_its_source(cli):
    assert cli.ok("whoami", agent="builder").out.startswith("builder (builder) — active; id from AGENT_SYNC_ID;")
    data = cli.json("whoami", agent="builder")
    assert (data["id"], data["source"], data["root"]) == ("builder", "AGENT_SYNC_ID", str(cli.root))


def test_without_any_session_the_id_is_stable_per_repository(cli, tmp_path):
    env = {"USER": "dev"}
    first = cli.json("whoami", agent=None, env=env)
    assert first["id"].startswith("local-")
    assert first["source"] == "per-repository local id"
    assert cli.json("whoami", agent=None, env=env)["id"] == first["id"]
    other = Cli(tmp_path / "second")
    assert other.json("whoami", agent=None, env=env)["id"] != first["id"]


@pytest.mark.parametrize("variable,prefix", [
    ("CLAUDE_CODE_SESSION_ID", "claude"), ("CODEX_THREAD_ID", "codex"), ("GEMINI_SESSION_ID", "gemini")])
def test_a_session_variable_gives_a_hashed_id(cli, variable, prefix):
    data = cli.json("whoami", agent=None, env={variable: SESSION})
    assert data["id"] == session_agent_id(SESSION, prefix)
    assert data["id"].startswith(f"{prefix}-") and SESSION not in data["id"]
    assert data["source"] == variable


def test_agent_sync_id_wins_over_the_session_variable(cli):
    data = cli.json("whoami", agent="explicit", env={"CLAUDE_CODE_SESSION_ID": SESSION})
    assert (data["id"], data["source"]) == ("explicit", "AGENT_SYNC_ID")


def test_a_hook_and_a_shell_command_of_the_same_claude_session_are_one_agent(cli):
    payload = {"session_id": SESSION, "cwd": str(cli.root), "hook_event_name": "SessionStart", "source": "startup",
               "transcript_path": "/tmp/t.jsonl"}
    started = cli.hook("session-start", payload)
    assert started.code == 0, started
    assert "agent-sync-state" in started.out
    shell = cli.json("whoami", agent=None, env={"CLAUDE_CODE_SESSION_ID": SESSION})
    assert shell["id"] == session_agent_id(SESSION)
    assert shell["client"] == "claude"  # the row the hook created
    assert shell["source"] == "CLAUDE_CODE_SESSION_ID"
    agents = cli.json("status", agent=None, env={"CLAUDE_CODE_SESSION_ID": SESSION})["agents"]
    assert [a["id"] for a in agents] == [session_agent_id(SESSION)]


# -- register, heartbeat ----------------------------------------------------------------------------------

def test_register_names_the_agent_and_sets_its_role(cli):
    assert cli.ok("register", "--name", "frontend", "--role", "React UI", agent="fe").out == \
        "registered frontend (fe), role React UI\n"
    assert cli.ok("register", "--name", "frontend", agent="fe").out == \
        "registered frontend (fe), role React UI\n"  # the role is kept
    data = cli.json("register", "--name", "web", "--role", "UI", agent="fe")
    assert (data["id"], data["name"], data["role"], data["status"]) == ("fe", "web", "UI", "active")


def test_a_name_held_by_another_live_agent_is_a_conflict(cli):
    cli.ok("register", "--name", "frontend", agent="fe")
    cli.error(2, "register", "--name", "frontend", agent="other",
              expect=("the name 'frontend' is taken by live agent fe", "choose another name"))


def test_a_name_frees_up_once_its_holder_goes_stale(cli):
    clock = Clock(time.time() - 3600)
    presence.register(cli.context(clock, "old"), "frontend")
    assert cli.json("register", "--name", "frontend", agent="new")["name"] == "frontend"


@pytest.mark.parametrize("args,fragment", [
    (["--name", ""], "name must not be empty"),
    (["--name", "   "], "name must not be empty"),
    (["--name", "n" * 65], "name is too long (65 characters; the limit is 64)"),
    (["--name", "ok", "--role", "r" * 201], "role is too long"),
    ([], "the following arguments are required: --name"),
])
def test_register_rejects_bad_input(cli, args, fragment):
    cli.error(1, "register", *args, expect=(fragment,))


def test_the_broadcast_address_is_not_a_name(cli):
    cli.error(1, "register", "--name", "all", agent="x", expect=("all",))


def test_nul_bytes_in_a_name_are_refused_by_the_core(cli):
    from agent_sync.errors import UsageError

    with pytest.raises(UsageError, match="NUL"):
        presence.register(cli.context(Clock()), "bad\x00name")


def test_heartbeat_marks_the_agent_active(cli):
    assert cli.ok("heartbeat", agent="hb").out == "hb is active\n"
    cli.ok("register", "--name", "beater", agent="hb")
    data = cli.json("heartbeat", agent="hb")
    assert (data["id"], data["name"], data["status"]) == ("hb", "beater", "active")


# -- gc ---------------------------------------------------------------------------------------------------

def test_gc_drops_expired_locks_and_reports_agent_states(cli):
    past = Clock(time.time() - 2 * 3600)  # two hours ago
    ctx = cli.context(past, "ghost")
    locks.lock(ctx, ["README.md"], ttl_minutes=1)
    out = cli.ok("gc", agent="alice").out.splitlines()
    assert out == ["dropped 1 expired lock(s), 0 expired waiter(s)", "agents: 1 active, 1 offline"]
    assert cli.json("gc")["expired_locks"] == 0
    assert cli.json("locks", "--all")["locks"] == []


def test_gc_on_a_controlled_clock_decays_agents(cli):
    clock = Clock()
    for agent in ("a", "b", "c"):
        presence.heartbeat(cli.context(clock, agent))
    clock.advance(20 * 60)
    presence.heartbeat(cli.context(clock, "b"))
    clock.advance(45 * 60)
    presence.heartbeat(cli.context(clock, "c"))
    assert presence.gc(cli.context(clock, "c"))["agents"] == {"offline": 1, "stale": 1, "active": 1}


def test_gc_rejects_a_negative_or_non_numeric_keep_days(cli):
    cli.error(1, "gc", "--keep-days", "-1", expect=("--keep-days must not be negative",))
    cli.error(1, "gc", "--keep-days", "soon", expect=("not a number",))


# -- worktrees --------------------------------------------------------------------------------------------

@pytest.fixture
def worktree(cli, tmp_path):
    git(cli, "add", "-A")
    git(cli, "commit", "-q", "-m", "init")
    path = tmp_path / "wt"
    git(cli, "worktree", "add", "-q", str(path))
    return path.resolve()


def test_a_linked_worktree_shares_the_main_repositorys_state(cli, worktree):
    assert cli.ok("path", cwd=worktree).out == cli.ok("path").out
    cli.ok("register", "--name", "in-worktree", agent="w", cwd=worktree)
    cli.ok("lock", "--resource", "db-migrations", "--reason", "migrating", agent="w", cwd=worktree)
    assert not (worktree / ".claude").exists()
    names = {a["name"] for a in cli.json("status", agent="m")["agents"]}
    assert names == {"in-worktree", "m"}
    cli.error(2, "lock", "--resource", "db-migrations", agent="m",
              expect=("resource:db-migrations is locked by in-worktree (w)", "migrating"))


def test_paths_inside_a_linked_worktree_can_be_locked(cli, worktree):
    result = cli("lock", "src/app.py", agent="w", cwd=worktree)
    assert result.code == 0, result
    assert cli.json("locks", agent="w")["locks"][0]["target"] == "src/app.py"


# -- unusable databases -----------------------------------------------------------------------------------
# The SQLite file itself: its bytes, its permissions, its directory (test_postgres.py has the server's
# failures: unreachable, refused, a wrong password, a newer schema).
sqlite_file = pytest.mark.sqlite_only

def _write_state(cli, data: bytes):
    cli.db.parent.mkdir(parents=True, exist_ok=True)
    cli.db.write_bytes(data)


@sqlite_file
@pytest.mark.parametrize("command", [["status"], ["lock", "README.md"], ["init"]])
def test_a_file_that_is_not_a_database_is_one_line_naming_it(cli, command):
    _write_state(cli, bytes(range(256)) * 20)
    cli.error(1, *command, expect=(str(cli.db), "not a usable agent-sync database", "move it aside"))


@sqlite_file
def test_a_text_file_in_place_of_the_database(cli):
    _write_state(cli, b"these are my notes, not a database\n" * 10)
    cli.error(1, "tasks", expect=(str(cli.db), "not a usable agent-sync database"))


@sqlite_file
def test_a_corrupt_database_is_one_line_naming_it(cli):
    cli.ok("register", "--name", "before")
    data = bytearray(cli.db.read_bytes())
    data[100:160] = b"\xff" * 60  # the b-tree header of the schema page
    for suffix in ("-wal", "-shm"):
        cli.db.with_name(cli.db.name + suffix).unlink(missing_ok=True)
    cli.db.write_bytes(bytes(data))
    cli.error(1, "status", expect=(str(cli.db), "not a usable agent-sync database"))


@sqlite_file
def test_a_newer_schema_is_refused_with_the_fix(cli):
    cli.ok("init")
    conn = sqlite3.connect(cli.db)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    line = cli.error(1, "status", expect=(str(cli.db), "schema version 999", "upgrade agent-sync"))
    assert f"({SCHEMA_VERSION})" in line
    cli.error(1, "init", expect=("schema version 999",))


@sqlite_file
@pytest.mark.parametrize("kind", ["zero bytes", "empty v0 database"])
def test_an_old_empty_database_is_upgraded(cli, kind):
    cli.db.parent.mkdir(parents=True)
    if kind == "zero bytes":
        cli.db.write_bytes(b"")
    else:
        conn = sqlite3.connect(cli.db)
        conn.execute("CREATE TABLE scratch (x)")
        conn.execute("DROP TABLE scratch")
        conn.commit()
        conn.close()
        assert sqlite3.connect(cli.db).execute("PRAGMA user_version").fetchone()[0] == 0
    assert cli.json("init")["schema_version"] == SCHEMA_VERSION
    cli.ok("register", "--name", "upgraded")
    cli.ok("lock", "README.md")
    conn = sqlite3.connect(cli.db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


needs_privilege_drop = pytest.mark.skipif(drop_file_privileges() is None,
                                          reason="cannot make file permissions apply to this user")


@sqlite_file
@needs_privilege_drop
def test_a_read_only_database_is_one_line_naming_it(cli):
    cli.ok("register", "--name", "writer")
    cli.db.chmod(0o444)
    try:
        result = run_unprivileged(cli, "register", "--name", "again")
        assert_one_line_error(result, 1, str(cli.db), "read-only", "writable")
    finally:
        cli.db.chmod(0o644)


@sqlite_file
@needs_privilege_drop
@pytest.mark.parametrize("case", ["state directory read-only", "repository root read-only",
                                  "state directory is a file"])
def test_an_unusable_state_directory_is_one_line_naming_it(cli, case):
    state = cli.db.parent
    locked = None
    if case == "state directory read-only":
        state.mkdir(parents=True)
        locked = state
    elif case == "repository root read-only":
        locked = cli.root
    else:
        state.parent.mkdir()
        state.write_text("not a directory\n")
    if locked is not None:
        locked.chmod(0o555)
    try:
        result = run_unprivileged(cli, "init")
    finally:
        if locked is not None:
            locked.chmod(0o755)
    assert_one_line_error(result, 1, ".claude")
    assert not (cli.root / "error.log").exists()


@sqlite_file
def test_no_command_prints_a_traceback_for_an_unusable_database(cli):
    _write_state(cli, b"\x00" * 4096)
    for command in (["whoami"], ["send", "--to", "all", "-m", "x"], ["create-task", "t"], ["inbox"]):
        result = cli(*command)
        assert result.code == 1, result
        assert "Traceback" not in result.err


def test_python_dash_m_and_the_console_script_agree(cli):
    from helpers import script_dir

    script = script_dir() / "agent-sync"
    if not script.exists():
        pytest.skip("no console script installed next to this interpreter")
    out = subprocess.run([str(script), "path"], cwd=cli.root, env=cli.env("x"), capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == cli.ok("path").out  # the console script runs python -m's code
    version = subprocess.run([sys.executable, "-m", "agent_sync", "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("agent-sync ")
