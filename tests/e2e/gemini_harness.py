"""Helpers for driving the real Gemini CLI (``@google/gemini-cli``) against :mod:`fake_gemini`.

The npm package is installed once into a cache directory and reused across runs
(``$AGENT_SYNC_E2E_GEMINI_CACHE`` or ``~/.cache/agent-sync-tests/gemini``), at the version
:data:`GEMINI_VERSION` (``$AGENT_SYNC_E2E_GEMINI_VERSION`` may name another, ``latest`` included).
``$AGENT_SYNC_E2E_GEMINI`` may name a ``gemini`` executable to use instead. The package is a
plain-JS bundle that runs on node >= 20.

A run is headless (``gemini -p PROMPT --output-format json``) with a throw-away HOME whose
``~/.gemini/settings.json`` selects API-key auth (``GEMINI_API_KEY`` plus
``GOOGLE_GEMINI_BASE_URL`` pointing at the fake server) and whose ``~/.gemini/trustedFolders.json``
trusts the repository: since 0.2x folder trust is on by default, and a headless run in an
untrusted folder exits 55 before doing anything; project hooks (``.gemini/settings.json`` of the
directory gemini starts in) only run in a trusted folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fake_gemini import MODEL_NAME, FakeGemini

PACKAGE = "@google/gemini-cli"
GEMINI_VERSION = "0.61.0"  # the version these tests and tests/fixtures/payloads/gemini were made with
NPM_PING_TIMEOUT = 60
NPM_INSTALL_TIMEOUT = 900
GEMINI_RUN_TIMEOUT = 180


class GeminiUnavailable(Exception):
    """The CLI cannot be installed because npm or its registry is not there (tests skip on it)."""


def _cache_dir() -> Path:
    env = os.environ.get("AGENT_SYNC_E2E_GEMINI_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "agent-sync-tests" / "gemini"


def _wanted_version() -> str:
    return os.environ.get("AGENT_SYNC_E2E_GEMINI_VERSION") or GEMINI_VERSION


def _binary_in(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / ("gemini.cmd" if os.name == "nt" else "gemini")


def _version_of(binary: Path) -> tuple[bool, str]:
    if not binary.exists():
        return False, f"{binary} does not exist"
    try:
        proc = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GEMINI_CLI_NO_RELAUNCH": "true"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{binary} --version: {exc}"
    if proc.returncode != 0:
        return False, f"{binary} --version exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"
    return True, proc.stdout.strip()


def ensure_gemini() -> Path:
    """Path of a working ``gemini``; installs the npm package into the cache if needed.

    Raises :class:`GeminiUnavailable` only when npm is missing or its registry unreachable;
    any other problem raises ``AssertionError``.
    """
    override = os.environ.get("AGENT_SYNC_E2E_GEMINI")
    if override:
        ok, info = _version_of(Path(override))
        if not ok:
            raise AssertionError(f"AGENT_SYNC_E2E_GEMINI does not name a working gemini: {info}")
        return Path(override)

    prefix = _cache_dir()
    binary = _binary_in(prefix)
    wanted = _wanted_version()
    ok, version = _version_of(binary)
    if ok and (wanted == "latest" or version == wanted):
        return binary

    npm = shutil.which("npm")
    if npm is None:
        raise GeminiUnavailable("npm is not on PATH, so the Gemini CLI cannot be installed")
    try:
        ping = subprocess.run(
            [npm, "ping", "--fetch-retries=1"], capture_output=True, text=True, timeout=NPM_PING_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise GeminiUnavailable(
            f"the npm registry cannot be reached: `npm ping` timed out after {NPM_PING_TIMEOUT}s"
        ) from exc
    if ping.returncode != 0:
        detail = " ".join(line for line in (ping.stderr or ping.stdout).splitlines()[:3])
        raise GeminiUnavailable(
            f"the npm registry cannot be reached: `npm ping` exited {ping.returncode}: {detail}"
        )

    prefix.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"{PACKAGE}@{wanted}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"`{' '.join(cmd)}` did not finish within {NPM_INSTALL_TIMEOUT}s") from exc
    if proc.returncode != 0:
        raise AssertionError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    ok, info = _version_of(binary)
    if not ok:
        raise AssertionError(
            f"the Gemini CLI installed but does not run: {info}\n{proc.stdout}\n{proc.stderr}"
        )
    return binary


# -- settings of a throw-away HOME -------------------------------------------------------------

USER_SETTINGS: dict[str, Any] = {
    # GOOGLE_GEMINI_BASE_URL alone makes the CLI pick auth type "gateway", which headless mode
    # rejects ("Invalid auth method selected.", exit 41): select the API-key type explicitly.
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    # No Clearcut telemetry to play.googleapis.com, no update checks.
    "privacy": {"usageStatisticsEnabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
}


def write_user_settings(home: Path, repo: Path, extra: dict[str, Any] | None = None) -> None:
    """``~/.gemini/settings.json`` (auth, no telemetry) and ``trustedFolders.json`` (trust repo)."""
    gemini_dir = home / ".gemini"
    gemini_dir.mkdir(parents=True, exist_ok=True)
    settings = json.loads(json.dumps(USER_SETTINGS))
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key].update(value)
        else:
            settings[key] = value
    (gemini_dir / "settings.json").write_text(json.dumps(settings, indent=2))
    trusted = {str(repo.resolve()): "TRUST_FOLDER"}
    (gemini_dir / "trustedFolders.json").write_text(json.dumps(trusted, indent=2))


def hook_settings(command: str, events: list[str], *, matcher: str = "*", timeout_ms: int = 30000) -> dict:
    """A ``{"hooks": {...}}`` block running ``command`` on each event."""
    return {
        "hooks": {
            event: [
                {
                    "matcher": matcher,
                    "hooks": [
                        {"name": f"e2e-{event}", "type": "command", "command": command, "timeout": timeout_ms}
                    ],
                }
            ]
            for event in events
        }
    }


# -- running gemini ------------------------------------------------------------------------------


@dataclass
class GeminiRun:
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any] | None

    def explain(self) -> str:
        return (
            f"gemini exited {self.returncode}\nstdout:\n{self.stdout[-4000:]}\nstderr:\n{self.stderr[-4000:]}"
        )


def gemini_env(base_env: dict[str, str], model: FakeGemini) -> dict[str, str]:
    env = dict(base_env)
    env.update(
        {
            "GEMINI_API_KEY": "e2e-fake-key",
            "GOOGLE_GEMINI_BASE_URL": model.base_url,
            # Skip the self-relaunch (a second node process with a bigger heap): half the start-up.
            "GEMINI_CLI_NO_RELAUNCH": "true",
            "NO_COLOR": "1",
        }
    )
    return env


def run_gemini(
    binary: Path,
    cwd: Path,
    base_env: dict[str, str],
    model: FakeGemini,
    prompt: str,
    *,
    approval_mode: str = "yolo",
    extra_args: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: int = GEMINI_RUN_TIMEOUT,
) -> GeminiRun:
    """Run ``gemini -p PROMPT`` in ``cwd``, talking to the fake model.

    ``approval_mode`` "yolo" offers every tool (run_shell_command included); "auto_edit" offers
    write_file/replace but not the shell; "default" only read-only tools (headless mode denies
    whatever would need a confirmation).
    """
    env = gemini_env(base_env, model)
    env.update(extra_env or {})
    cmd = [str(binary), "-m", MODEL_NAME, "-p", prompt, "--output-format", "json"]
    cmd += ["--approval-mode", approval_mode]
    cmd += extra_args or []
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # A hook answering {"decision": "ask"} makes a headless run wait for a confirmation forever.
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError(
            f"gemini did not finish within {timeout}s\nstdout:\n{stdout[-4000:]}\nstderr:\n{stderr[-4000:]}\n"
            f"traffic:\n{model.describe()}"
        ) from None
    result = None
    try:
        result = json.loads(stdout)
    except ValueError:
        pass
    return GeminiRun(proc.returncode, stdout, stderr, result)
