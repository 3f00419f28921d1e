"""Every test runs away from the real home directory and the real repository."""

import os
import subprocess

import pytest


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in ("AGENT_SYNC_ROOT", "AGENT_SYNC_ID", "CLAUDE_CODE_SESSION_ID", "CODEX_THREAD_ID",
                 "GEMINI_SESSION_ID", "CLAUDE_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("AGENT_SYNC_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def repo(tmp_path):
    """A fresh git repository with a couple of files."""
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("print('hi')\n")
    (path / "README.md").write_text("# demo\n")
    return path.resolve()
