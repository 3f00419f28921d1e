"""The PostgreSQL store itself: migrations from an empty database, projects, two clones on one server, the
server's clock against a skewed client, live updates, connection failures and `agent-sync migrate`.

The rest of the suite runs on this store too (the `store` fixture); these tests are about what only a shared
server has. Each gets a fresh database on the session's server (conftest.py)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import helpers
from agent_sync.core import locks, presence
from agent_sync.core.context import open_context
from agent_sync.errors import StoreError
from agent_sync.store import postgres
from helpers import Cli, Clock, agent_env, assert_one_line_error, make_repo, run_cli

pytestmark = pytest.mark.postgresql_only

PASSWORD = "s3cret-Pw/with:odd@chars"


@pytest.fixture
def url():
    return helpers.STORE_ENV["AGENT_SYNC_DATABASE_URL"]


@pytest.fixture
def admin(url):
    """An autocommit psycopg connection to the test's database, as the server's superuser."""
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    yield conn
    conn.close()


def store_for(url: str, project: str = "test-project", **kw) -> postgres.PostgresStore:
    return postgres.PostgresStore(url, project, **kw)


def url_of(url: str, *, user: str | None = None, password: str | None = None, port: int | None = None,
           database: str | None = None, host: str | None = None) -> str:
    from urllib.parse import quote, urlsplit

    parts = urlsplit(url)
    auth = user or parts.username
    if password is not None:
        auth += ":" + quote(password, safe="")
    path = "/" + (database or parts.path.lstrip("/"))
    return f"postgresql://{auth}@{host or parts.hostname}:{port or parts.port}{path}"


def app_role(admin) -> str:
    """A login role `app` with PASSWORD and the rights agent-sync needs on the test database."""
    import psycopg

    try:
        admin.execute(f"CREATE ROLE app LOGIN PASSWORD '{PASSWORD}'")
    except psycopg.errors.DuplicateObject:
        pass
    admin.execute("GRANT USAGE ON SCHEMA agent_sync TO app")
    admin.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA agent_sync TO app")
    return "app"


# -- schema ---------------------------------------------------------------------------------------------------

def test_migrations_run_from_an_empty_database_step_by_step(request, monkeypatch):
    server = request.getfixturevalue("pg_server")
    name = f"empty_{os.getpid()}_{time.monotonic_ns()}"
    empty = server.create_database(name)
    try:
        import psycopg

        with psycopg.connect(empty, autocommit=True) as conn:
            assert conn.execute("SELECT to_regnamespace('agent_sync')").fetchone()[0] is None
        first = postgres.MIGRATIONS[:1]
        monkeypatch.setattr(postgres, "MIGRATIONS", first)
        monkeypatch.setattr(postgres, "SCHEMA_VERSION", 1)
        old = store_for(empty)
        assert old.schema_version() == 1
        with old.write() as tx:
            tx.insert_agent({"id": "a", "name": "alpha", "created_at": tx.now, "last_seen": tx.now})
        old.close()
        monkeypatch.undo()
        assert postgres.SCHEMA_VERSION == len(postgres.MIGRATIONS) >= 2
        new = store_for(empty)
        assert new.schema_version() == postgres.SCHEMA_VERSION
        assert new.check() is None
        with new.read() as tx:
            row = tx.get_agent("a")
        assert (row["name"], row["host"], row["pid"], row["branch"]) == ("alpha", "", None, "")  # kept, and grown
        new.close()
        with psycopg.connect(empty, autocommit=True) as conn:
            applied = conn.execute("SELECT version, name FROM agent_sync.schema_migrations ORDER BY version").fetchall()
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'agent_sync'")}
        assert applied == [(i + 1, m[0]) for i, m in enumerate(postgres.MIGRATIONS)]
        assert tables == set(postgres.TABLES) | {"schema_migrations"}
    finally:
        server.drop_database(name)


def test_the_schema_versions_match_the_sqlite_store():
    from agent_sync.store import sqlite

    assert postgres.SCHEMA_VERSION == sqlite.SCHEMA_VERSION
    assert [name for name, _ in postgres.MIGRATIONS] == [name for name, _ in sqlite.MIGRATIONS]


def test_a_newer_schema_is_refused_with_the_fix(tmp_path, admin, url):
    admin.execute("INSERT INTO agent_sync.schema_migrations (version, name) VALUES (999, 'from the future')")
    with pytest.raises(StoreError, match="newer than this agent-sync knows"):
        store_for(url)
    cli = Cli(tmp_path)
    line = cli.error(1, "status", expect=("schema version 999", "upgrade agent-sync", "127.0.0.1"))
    assert f"({postgres.SCHEMA_VERSION})" in line


def test_the_integrity_check_names_a_missing_table(admin, url):
    store = store_for(url)
    assert store.check() is None
    admin.execute("DROP TABLE agent_sync.decisions")
    problem = store.check()
    assert "decisions" in problem and "restore" in problem
    store.close()


# -- projects ---------------------------------------------------------------------------------------------

def test_projects_share_a_database_without_seeing_each_other(url):
    shop, blog = store_for(url, "shop"), store_for(url, "blog")
    for store, title in ((shop, "checkout"), (blog, "comments")):
        with store.write() as tx:
            task = tx.insert_task({"title": title, "created_at": tx.now, "updated_at": tx.now})
            tx.add_task_files(task, ["src/app.py"])
            tx.insert_agent({"id": "a", "name": f"{title}-agent", "created_at": tx.now, "last_seen": tx.now})
            tx.put_lock({"kind": "file", "key": "src/app.py", "base": "src", "holder": "a", "created_at": tx.now,
                         "expires_at": tx.now + 60})
            tx.insert_activity("a", "note", title)
    for store, title in ((shop, "checkout"), (blog, "comments")):
        with store.read() as tx:
            assert [(t["id"], t["title"]) for t in tx.tasks()] == [(1, title)]  # ids count per project
            assert tx.task_files([1]) == {1: ["src/app.py"]}
            assert [a["name"] for a in tx.agents()] == [f"{title}-agent"]
            assert len(tx.locks()) == 1 and [r["message"] for r in tx.activity()] == [title]
    shop.close()
    blog.close()


def test_a_missing_project_id_says_how_to_set_one(tmp_path):
    cli = Cli(tmp_path)
    env = helpers.agent_env("alice", home=cli.home)
    env.pop("AGENT_SYNC_PROJECT")
    result = helpers.Result(run_cli(cli.root, "status", base_env=env))
    assert_one_line_error(result, 1, "project id", 'project = "NAME"', ".agent-sync.toml", "AGENT_SYNC_PROJECT")
    (cli.root / ".agent-sync.toml").write_text('project = "from-the-file"\n')
    assert run_cli(cli.root, "init", base_env=env).stdout.rstrip().endswith("project from-the-file")


def test_the_selected_store_and_project_show_in_init_and_config(tmp_path, url):
    cli = Cli(tmp_path)
    assert cli.json("init") == {"path": helpers.store_where(cli.root), "schema_version": postgres.SCHEMA_VERSION}
    config = cli.json("config")
    assert config["database_url"] == {**config["database_url"], "value": url,
                                      "source": "environment AGENT_SYNC_DATABASE_URL"}
    assert config["project"]["value"] == "test-project"


# -- two clones, one server ---------------------------------------------------------------------------------

def git(*args, cwd):
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=str(cwd), check=True,
                   capture_output=True)


def test_two_clones_at_different_paths_coordinate_through_one_server(tmp_path):
    origin = make_repo(tmp_path / "origin")
    (origin / ".agent-sync.toml").write_text('project = "shop"\n')  # committed: every clone agrees
    git("add", "-A", cwd=origin)
    git("commit", "-qm", "init", cwd=origin)
    clone_a, clone_b = tmp_path / "laptop" / "shop", tmp_path / "container" / "work" / "shop-b"
    for clone in (clone_a, clone_b):
        clone.parent.mkdir(parents=True)
        git("clone", "-q", str(origin), str(clone), cwd=tmp_path)
    env = agent_env(home=tmp_path)
    env.pop("AGENT_SYNC_PROJECT")  # the project id comes from the clones' .agent-sync.toml

    def run(clone, agent, *args, stdin=None):
        return run_cli(clone, *args, agent=agent, base_env=env, stdin=stdin)

    def hook(clone, agent, event, **payload):
        body = {"session_id": f"session-{agent}", "cwd": str(clone), "hook_event_name": event, **payload}
        return run(clone, agent, "hook", event, stdin=json.dumps(body))

    assert run(clone_a, "alice", "register", "--name", "alice").returncode == 0
    assert run(clone_b, "bob", "register", "--name", "bob").returncode == 0
    held = run(clone_a, "alice", "lock", "src/app.py", "--reason", "refactoring checkout")
    assert held.returncode == 0, held.stderr

    blocked = hook(clone_b, "bob", "pre-tool-use", tool_name="Edit",
                   tool_input={"file_path": str(clone_b / "src" / "app.py"), "old_string": "hi", "new_string": "ho"})
    assert blocked.returncode == 2, blocked.stderr
    reason = json.loads(blocked.stdout)["hookSpecificOutput"]["permissionDecisionReason"]
    assert "src/app.py" in reason and "alice" in reason and "refactoring checkout" in reason
    free = hook(clone_b, "bob", "pre-tool-use", tool_name="Edit",
                tool_input={"file_path": str(clone_b / "README.md"), "old_string": "demo", "new_string": "shop"})
    assert (free.returncode, free.stdout.strip()) == (0, ""), free.stderr
    assert run(clone_b, "bob", "lock", "src/app.py").returncode == 2  # the CLI in clone B agrees

    sent = run(clone_a, "alice", "send", "--to", "bob", "-m", "done with checkout by noon", "--json")
    assert sent.returncode == 0, sent.stderr
    pushed = hook(clone_b, "bob", "user-prompt-submit", prompt="carry on")
    context = json.loads(pushed.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "done with checkout by noon" in context and "alice" in context
    reply = run(clone_b, "bob", "send", "--to", "alice", "-m", "thanks", "--reply-to", str(json.loads(sent.stdout)["id"]))
    assert reply.returncode == 0, reply.stderr
    inbox = json.loads(run(clone_a, "alice", "inbox", "--json").stdout)["messages"]
    assert [(m["body"], m["from_name"]) for m in inbox] == [("thanks", "bob")]

    agents = {a["name"]: a for a in json.loads(run(clone_a, "alice", "status", "--json").stdout)["agents"]}
    assert {"alice", "bob"} <= set(agents)
    for clone in (clone_a, clone_b):
        assert not (clone / ".claude" / "coordination" / "state.sqlite").exists()


# -- the server's clock ---------------------------------------------------------------------------------------

SKEWED_CLOCK = """
import os, time
_skew = float(os.environ["TEST_CLOCK_SKEW_SECONDS"])
_time, _time_ns = time.time, time.time_ns
time.time = lambda: _time() + _skew
time.time_ns = lambda: _time_ns() + int(_skew * 1e9)
"""


def test_a_client_clock_skewed_by_hours_changes_no_expiry_and_no_staleness(tmp_path):
    """Clients whose clocks are five hours behind and ahead take and judge locks and presence exactly like a
    client with the right time: every timestamp comes from the server."""
    cli = Cli(tmp_path)
    fake = tmp_path / "fake-clock"
    fake.mkdir()
    (fake / "sitecustomize.py").write_text(SKEWED_CLOCK)

    def skewed(hours: float) -> dict:
        return {"PYTHONPATH": os.pathsep.join(filter(None, [str(fake), os.environ.get("PYTHONPATH")])),
                "TEST_CLOCK_SKEW_SECONDS": str(hours * 3600)}

    seen = float(subprocess.run([sys.executable, "-c", "import time; print(time.time())"], env=cli.env(**skewed(-5)),
                                capture_output=True, text=True, check=True).stdout)
    assert abs(seen - time.time() + 5 * 3600) < 600  # the fake clock is in force in those processes

    behind, ahead = skewed(-5), skewed(+5)
    cli.ok("register", "--name", "late-clock", agent="late", env=behind)
    cli.ok("lock", "src/app.py", "--ttl", "30", "--reason", "from the past", agent="late", env=behind)
    cli.ok("lock", "README.md", "--ttl", "30", agent="early", env=ahead)
    cli.ok("register", "--name", "right-clock", agent="right")

    # a client with the right time: the locks of both skewed clients expire in 30 minutes, both are active
    for lock in cli.json("locks", agent="right")["locks"]:
        assert 25 * 60 < lock["expires_in_s"] <= 30 * 60, lock
    cli.error(2, "lock", "src/app.py", agent="right", expect=("src/app.py is locked by late-clock",))
    statuses = {a["id"]: a["status"] for a in cli.json("status", agent="right")["agents"]}
    assert statuses["late"] == statuses["early"] == "active"

    # the skewed clients judge the same way: to the one five hours ahead, nothing has expired or gone stale
    cli.error(2, "lock", "src/app.py", agent="early", env=ahead, expect=("src/app.py is locked by late-clock",))
    for lock in cli.json("locks", agent="early", env=ahead)["locks"]:
        assert 25 * 60 < lock["expires_in_s"] <= 30 * 60, lock
    statuses = {a["id"]: a["status"] for a in cli.json("status", agent="early", env=ahead)["agents"]}
    assert statuses["late"] == statuses["right"] == "active"


def test_tx_now_is_the_servers_clock_not_this_processs(repo, monkeypatch):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3 * 3600)
    with open_context(cwd=str(repo)) as ctx:
        locks.lock(ctx, ["README.md"], ttl_minutes=10)
        with ctx.store.read() as tx:
            row = tx.locks()[0]
            assert abs(tx.now - real()) < 600 and abs(ctx.store.now() - real()) < 600
            assert 9 * 60 < row["expires_at"] - tx.now <= 10 * 60
            assert abs(tx.get_agent(ctx.me)["last_seen"] - real()) < 600


# -- process liveness stays on its own host -----------------------------------------------------------------

def test_process_liveness_applies_on_the_agents_own_host_only(tmp_path, monkeypatch):
    from agent_sync import process

    cli = Cli(tmp_path)
    body = {"session_id": "s-live", "cwd": str(cli.root), "hook_event_name": "SessionStart", "source": "startup"}
    assert cli.hook("session-start", body, agent="live").code == 0  # its client: this test's process
    with open_context(cwd=str(cli.root)) as ctx, ctx.store.read() as tx:
        row = tx.get_agent("live")
    assert row["host"] == process.host_key() and row["pid"] == os.getpid()
    much_later = Clock(row["last_seen"] + 3 * 86400)
    with open_context(cwd=str(cli.root), clock=much_later) as ctx, ctx.store.read() as tx:
        assert presence.status_of(tx.get_agent("live"), tx.now, ctx.settings) == "active"  # the process runs
        monkeypatch.setattr(process, "_host", ["another-machine/pid:[4026531836]"])
        assert presence.status_of(tx.get_agent("live"), tx.now, ctx.settings) == "offline"  # time decides there


# -- live updates -------------------------------------------------------------------------------------------

WRITER = """
import sys
from agent_sync.store.postgres import PostgresStore
store = PostgresStore(sys.argv[1], sys.argv[2])
with store.write() as tx:
    tx.insert_activity("writer", "note", "hello")
"""


def test_a_commit_in_another_process_wakes_a_waiting_reader_through_notify(url):
    reader = store_for(url)
    token = reader.change_token()
    assert reader.wait_for_change(token, 0.2) == token  # nothing committed: the wait times out
    subprocess.run([sys.executable, "-c", WRITER, url, "another-project"], check=True, env=agent_env())
    assert reader.wait_for_change(token, 0.2) == token  # another project's commit is not ours
    subprocess.run([sys.executable, "-c", WRITER, url, "test-project"], check=True, env=agent_env())
    changed = reader.wait_for_change(token, 30)
    assert changed != token
    assert reader.wait_for_change(changed, 0.2) == changed
    with reader.write() as tx:
        tx.insert_activity("reader", "note", "mine")
    assert reader.change_token() != changed  # our own commit changes the token at once
    reader.close()


def test_watch_streams_a_change_from_another_process(tmp_path):
    cli = Cli(tmp_path)
    cli.ok("init")
    watcher = subprocess.Popen([sys.executable, "-m", "agent_sync", "watch", "--json"], cwd=cli.root, env=cli.env("w"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # the watcher is listening once its own start has been logged or it reached the feed
            cli.ok("log", "-m", "ping", agent="pinger")
            line = _line_within(watcher, 2)
            if line and '"ping"' in line:
                break
            assert time.monotonic() < deadline, "watch never showed the entry"
        assert json.loads(line)["text"] == "ping"
    finally:
        watcher.terminate()
        watcher.communicate(timeout=30)


def _line_within(proc, seconds: float) -> str | None:
    import select

    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    return proc.stdout.readline() if ready else None


# -- failures -------------------------------------------------------------------------------------------------

def _no_secret(result) -> None:
    for text in (result.out, result.err):
        assert PASSWORD not in text and "s3cret" not in text


def test_a_refused_connection_is_one_line_naming_host_and_database_without_the_password(tmp_path, url):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    cli = Cli(tmp_path)
    bad = url_of(url, user="app", password=PASSWORD, port=closed, database="shopdb")
    result = cli("status", env={"AGENT_SYNC_DATABASE_URL": bad})
    assert_one_line_error(result, 1, f"127.0.0.1:{closed}/shopdb", "refused", "environment AGENT_SYNC_DATABASE_URL")
    _no_secret(result)


def test_a_wrong_password_and_a_missing_database_are_one_line_each(tmp_path, admin, url):
    cli = Cli(tmp_path)
    user = app_role(admin)
    wrong = cli("status", env={"AGENT_SYNC_DATABASE_URL": url_of(url, user=user, password=PASSWORD + "x")})
    assert_one_line_error(wrong, 1, "password authentication failed", "PGPASSFILE")
    assert PASSWORD not in wrong.err
    missing = cli("status", env={"AGENT_SYNC_DATABASE_URL": url_of(url, database="no_such_db")})
    assert_one_line_error(missing, 1, "127.0.0.1", "no_such_db", "does not exist")


def test_a_url_libpq_cannot_read_is_refused_without_echoing_it(tmp_path):
    cli = Cli(tmp_path)
    result = cli("status", env={"AGENT_SYNC_DATABASE_URL": f"postgresql://app:{PASSWORD}@[::1/shopdb"})
    assert_one_line_error(result, 1, "not a PostgreSQL URL")
    _no_secret(result)


def test_credentials_come_from_the_url_pgpassfile_or_pgpassword(tmp_path, admin, url):
    cli = Cli(tmp_path)
    user = app_role(admin)
    bare = url_of(url, user=user)
    without = cli("whoami", env={"AGENT_SYNC_DATABASE_URL": bare})
    assert_one_line_error(without, 1, "no password supplied", "PGPASSFILE")

    assert cli.ok("whoami", env={"AGENT_SYNC_DATABASE_URL": url_of(url, user=user, password=PASSWORD)}).code == 0
    passfile = tmp_path / "pgpass"
    escaped = PASSWORD.replace("\\", "\\\\").replace(":", "\\:")
    passfile.write_text(f"127.0.0.1:*:*:{user}:{escaped}\n")
    passfile.chmod(0o600)
    via_file = cli.ok("lock", "README.md", env={"AGENT_SYNC_DATABASE_URL": bare, "PGPASSFILE": str(passfile)})
    _no_secret(via_file)
    via_env = cli.json("locks", env={"AGENT_SYNC_DATABASE_URL": bare, "PGPASSWORD": PASSWORD})
    assert [lock["target"] for lock in via_env["locks"]] == ["README.md"]


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections (the kernel completes them) and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()


def test_an_unreachable_server_makes_a_hook_fail_open_in_a_second_and_warn_once(tmp_path, url, silent_server):
    cli = Cli(tmp_path)
    env = {"AGENT_SYNC_DATABASE_URL": url_of(url, port=silent_server, password=PASSWORD), "TMPDIR": str(tmp_path)}

    def hook(event, **payload):
        body = {"session_id": "s-down", "cwd": str(cli.root), "hook_event_name": event, **payload}
        return cli.hook(event, body, agent="offline-agent", env=env)

    first = hook("user-prompt-submit", prompt="go")
    assert first.code == 0, first
    context = json.loads(first.out)["hookSpecificOutput"]["additionalContext"]
    assert "cannot guard" in context and "UNGUARDED" in context
    assert f"127.0.0.1:{silent_server}" in context and "no answer within 1s" in context  # our bound, not libpq's
    _no_secret(first)
    again = hook("user-prompt-submit", prompt="go on")
    assert (again.code, again.out.strip(), again.err) == (0, "", "")  # said once per session
    edit = hook("pre-tool-use", tool_name="Edit", tool_input={"file_path": str(cli.root / "README.md")})
    assert (edit.code, edit.out.strip()) == (0, "")  # fails open
    log = (cli.root / ".claude" / "coordination" / "hook-errors.log").read_text()
    assert "no answer within 1s" in log and PASSWORD not in log


def test_the_hook_path_on_postgresql_imports_psycopg_and_nothing_heavier(tmp_path):
    cli = Cli(tmp_path)
    cli.ok("lock", "src/app.py", agent="other")
    code = ("import sys; sys.argv = ['agent-sync', 'hook', 'pre-tool-use']\n"
            "from agent_sync.cli import main\nmain()\n"
            "sys.stderr.write('MODULES ' + ' '.join(sorted(sys.modules)))")
    payload = json.dumps({"session_id": "s-1", "cwd": str(cli.root), "tool_name": "Edit",
                          "tool_input": {"file_path": str(cli.root / "src/app.py")}})
    result = subprocess.run([sys.executable, "-c", code], cwd=cli.root, env=cli.env(), input=payload,
                            capture_output=True, text=True, timeout=60)
    assert "permissionDecision" in result.stdout, result.stderr
    modules = set(result.stderr.split("MODULES ", 1)[1].split())
    assert "psycopg" in modules and "agent_sync.store.postgres" in modules
    assert "agent_sync.store.sqlite" not in modules
    for heavy in ("argparse", "mcp", "textual", "starlette", "uvicorn", "pydantic", "tomllib", "agent_sync.render",
                  "agent_sync.core.operations"):
        assert heavy not in modules, heavy


def test_a_sqlite_repository_never_imports_psycopg(tmp_path):
    cli = Cli(tmp_path)
    env = {k: v for k, v in cli.env().items() if not k.startswith("AGENT_SYNC_")}
    code = ("import sys; sys.argv = ['agent-sync', 'status'];\nfrom agent_sync.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('psycopg' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=cli.root, env=env, capture_output=True, text=True)
    assert result.stdout.splitlines()[-1] == "False", result


# -- agent-sync migrate --------------------------------------------------------------------------------------

def _sqlite_env(cli: Cli, agent: str) -> dict:
    return {k: v for k, v in cli.env(agent).items() if k not in ("AGENT_SYNC_DATABASE_URL", "AGENT_SYNC_PROJECT")}


def test_migrate_copies_the_sqlite_state_and_verifies_it(tmp_path, url):
    cli = Cli(tmp_path)

    def on_sqlite(agent, *args):
        result = helpers.Result(run_cli(cli.root, *args, base_env=_sqlite_env(cli, agent)))
        assert result.code == 0, result
        return result

    on_sqlite("alice", "register", "--name", "alice", "--role", "backend")
    on_sqlite("bob", "register", "--name", "bob")
    on_sqlite("alice", "lock", "src/app.py", "--reason", "refactor")
    first = json.loads(on_sqlite("alice", "create-task", "build the api", "--file", "src/api.py", "--json").out)
    second = json.loads(on_sqlite("bob", "create-task", "write docs", "--depends-on", str(first["id"]), "--json").out)
    on_sqlite("alice", "claim-task", str(first["id"]))
    sent = json.loads(on_sqlite("alice", "send", "--to", "bob", "-m", "api first", "--json").out)
    on_sqlite("bob", "inbox")
    on_sqlite("bob", "decision", "REST, not GraphQL")
    sqlite_tasks = json.loads(on_sqlite("bob", "tasks", "--json").out)["tasks"]

    moved = cli.json("migrate", "--to", url, "--project", "moved")
    assert moved["verified"] is True and moved["project"] == "moved"
    rows = {table: info["rows"] for table, info in moved["tables"].items()}
    assert rows["agents"] == 2 and rows["locks"] == 1 and rows["tasks"] == 2 and rows["task_deps"] == 1
    assert rows["messages"] == 1 and rows["message_deliveries"] == 1 and rows["decisions"] == 1
    assert rows["activity"] >= 7

    env = {"AGENT_SYNC_PROJECT": "moved"}
    assert cli.json("tasks", agent="bob", env=env)["tasks"] == sqlite_tasks
    cli.error(2, "lock", "src/app.py", agent="bob", env=env, expect=("locked by alice",))
    thread = cli.json("thread", str(sent["id"]), agent="bob", env=env)["messages"]
    assert [(m["body"], m["from_name"]) for m in thread] == [("api first", "alice")]
    assert [d["text"] for d in cli.json("decisions", agent="bob", env=env)["decisions"]] == ["REST, not GraphQL"]
    with open_context(cwd=str(cli.root), environ=cli.env("bob", **env)) as ctx, ctx.store.read() as tx:
        assert tx.task_files([first["id"]]) == {first["id"]: ["src/api.py"]}
        assert tx.dependency_edges() == [(second["id"], first["id"], "in_progress")]
    # the next id continues after the copied ones
    third = cli.json("create-task", "after the move", agent="bob", env=env)
    assert third["id"] == second["id"] + 1

    text = cli.ok("migrate", "--to", url, "--project", "moved", "--replace").out
    assert "verified" in text and "replacing" in text
    line = cli.error(2, "migrate", "--to", url, "--project", "moved", expect=("already holds state", "--replace"))
    assert "moved" in line
    assert cli.json("migrate", "--to", url, "--project", "elsewhere")["tables"]["tasks"]["rows"] == 2


def test_migrate_refuses_without_a_sqlite_state_or_a_url(tmp_path, url):
    cli = Cli(tmp_path)
    cli.error(1, "migrate", "--to", url, "--project", "x", expect=("no SQLite state",))
    env = {k: "" for k in ("AGENT_SYNC_DATABASE_URL",)}
    cli.error(1, "migrate", env=env, expect=("agent-sync migrate --to postgresql://",))
    cli.error(1, "migrate", "--to", "mysql://x/y", expect=("postgresql:// URL",))


def test_pg_server_binaries_come_from_the_wheel():
    from pg_server import wheel_root

    assert (Path(wheel_root()) / "pginstall" / "bin" / "postgres").exists()


def test_config_and_path_never_show_the_password(tmp_path, url):
    cli = Cli(tmp_path)
    env = {"AGENT_SYNC_DATABASE_URL": url_of(url, user="app", password=PASSWORD)}
    for shown in (cli.ok("config", env=env).out, json.dumps(cli.json("config", env=env)), cli.ok("path", env=env).out):
        assert "s3cret" not in shown and "odd" not in shown and "app:***@127.0.0.1" in shown
    assert cli.ok("path", env=env).out.rstrip().endswith("(project test-project)")
    assert not (cli.root / ".claude").exists()  # path touches nothing


HOLD = """
import sys, time
from agent_sync.core.context import open_context
ctx = open_context(cwd=sys.argv[1])
with ctx.store.write():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_reads_never_wait_and_writes_wait_their_bound_while_another_process_holds_the_project(tmp_path):
    cli = Cli(tmp_path)
    cli.ok("register", "--name", "alice", agent="alice")
    cli.ok("register", "--name", "backend", agent="b")
    cli.ok("lock", "src/app.py", "--reason", "busy test", agent="b")
    cli.ok("create-task", "Write the API", agent="b")
    cli.ok("send", "--to", "alice", "-m", "hello", agent="b")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(cli.root), "60"], cwd=cli.root, env=cli.env("holder"),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for command in (("status",), ("status", "--compact"), ("locks", "--all", "--json"), ("tasks",), ("inbox",),
                        ("thread", "1"), ("activity",), ("whoami",)):
            result = cli(*command, agent="alice", timeout=50)  # a read that waited would take the holder's 60 s
            assert (result.code, result.err) == (0, ""), (command, result)
        assert "hello" in cli.ok("inbox", agent="alice").out
        busy = cli("lock", "README.md", agent="alice", env={"AGENT_SYNC_BUSY_TIMEOUT_SECONDS": "0.5"}, timeout=50)
        assert_one_line_error(busy, 1, "the database is busy", "project test-project", "for over 0.5s",
                              "run the command again")
        cli.ok("lock", "README.md", agent="alice", env={"AGENT_SYNC_PROJECT": "another"})  # its own lock
        assert holder.poll() is None  # all of that happened while the lock was held
    finally:
        holder.kill()
        holder.wait()
    assert cli.json("lock", "README.md", agent="alice")["locks"][0]["target"] == "README.md"
