"""Fixtures for the end-to-end tests that drive the real Claude Code CLI against a scripted model.

The Claude Code npm package is installed once into a cache directory and reused across runs
(``$AGENT_SYNC_E2E_CACHE`` or ``~/.cache/agent-sync-tests/claude-code``). Its optional platform
package carries a self-contained native ``claude`` binary, which the tests call directly.
``$AGENT_SYNC_E2E_CLAUDE`` may name a ``claude`` binary to use instead.

The tests are skipped only when npm is missing or the npm registry cannot be reached; any other
problem (install error, missing binary, binary that does not run) fails them.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from .fake_model import FakeModel
from .harness import Workspace, clean_env, git

PACKAGE = "@anthropic-ai/claude-code"
NPM_PING_TIMEOUT = 60
NPM_INSTALL_TIMEOUT = 900


def _cache_dir() -> Path:
    env = os.environ.get("AGENT_SYNC_E2E_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "agent-sync-tests" / "claude-code"


def _platform_package() -> str:
    system = platform.system().lower()
    machine = platform.machine().lower()
    cpu = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    if system == "linux":
        libc = platform.libc_ver()[0]
        return f"{PACKAGE}-linux-{cpu}" + ("" if libc == "glibc" else "-musl")
    if system == "windows":
        return f"{PACKAGE}-win32-{cpu}"
    return f"{PACKAGE}-{system}-{cpu}"


def _binary_in(prefix: Path) -> Path:
    name = "claude.exe" if platform.system() == "Windows" else "claude"
    return prefix / "node_modules" / _platform_package() / name


def _runs(binary: Path) -> tuple[bool, str]:
    if not binary.is_file():
        return False, f"{binary} does not exist"
    try:
        proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{binary} --version: {exc}"
    if proc.returncode != 0:
        return False, f"{binary} --version exited {proc.returncode}: {proc.stderr.strip()}"
    return True, proc.stdout.strip()


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """Path of the native Claude Code binary; installs the npm package into the cache if needed."""
    override = os.environ.get("AGENT_SYNC_E2E_CLAUDE")
    if override:
        ok, info = _runs(Path(override))
        if not ok:
            pytest.fail(f"AGENT_SYNC_E2E_CLAUDE does not name a working claude binary: {info}")
        return Path(override)

    prefix = _cache_dir()
    binary = _binary_in(prefix)
    ok, _ = _runs(binary)
    if ok:
        return binary

    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH, so the Claude Code CLI cannot be installed")
    try:
        ping = subprocess.run(
            [npm, "ping", "--fetch-retries=1"], capture_output=True, text=True, timeout=NPM_PING_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"the npm registry cannot be reached: `npm ping` timed out after {NPM_PING_TIMEOUT}s")
    if ping.returncode != 0:
        detail = " ".join(line for line in (ping.stderr or ping.stdout).splitlines()[:3])
        pytest.skip(f"the npm registry cannot be reached: `npm ping` exited {ping.returncode}: {detail}")

    prefix.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", PACKAGE]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(cmd)}` did not finish within {NPM_INSTALL_TIMEOUT}s")
    if proc.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    ok, info = _runs(binary)
    if not ok:
        pytest.fail(
            f"Claude Code installed but its platform binary is unusable: {info}\n{proc.stdout}\n{proc.stderr}"
        )
    return binary


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    home = tmp_path / "home"
    home.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    env = clean_env(home)
    git(repo, "init", "-q", "-b", "main", env=env)
    return Workspace(repo=repo, home=home, env=env)


@pytest.fixture
def fake_model():
    with FakeModel() as server:
        yield server
