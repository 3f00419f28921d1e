"""Every test runs away from the real home directory and the real repository, on a store chosen per test.

The `store` fixture (autouse) decides which store the test's processes use: the embedded SQLite store, and
every further store listed in STORES. A test that only makes sense on SQLite is marked `sqlite_only`.
"""

import os

import pytest

import helpers

STORES = ["sqlite"]


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: the test is about the SQLite store itself")


def pytest_generate_tests(metafunc):
    if "store" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("store", ["sqlite"] if only_sqlite else STORES, indirect=True)


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
