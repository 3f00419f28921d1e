"""Helpers for driving the real GitHub Copilot CLI (`@github/copilot`) offline against :mod:`fake_chat`.

The npm package is installed once into a cache directory (`$AGENT_SYNC_E2E_COPILOT_CACHE` or
`~/.cache/agent-sync-tests/copilot`) and reused; `$AGENT_SYNC_E2E_COPILOT` may name a `copilot` binary. The
package is a small loader; the program is the self-contained binary of the optional platform package
`@github/copilot-<platform>-<arch>`, which the tests call directly.

A run is `copilot -p PROMPT --allow-all-tools` with `COPILOT_OFFLINE=true` and `COPILOT_PROVIDER_BASE_URL`
pointing at the stand-in (no GitHub sign-in then), in a throw-away HOME. Hooks of the repository
(`.github/hooks/*.json`) only run in a trusted folder: `--trust-folder` trusts the working directory.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .fake_chat import MODEL_NAME, FakeChat

PACKAGE = "@github/copilot"
NPM_PING_TIMEOUT = 60
NPM_INSTALL_TIMEOUT = 900
COPILOT_RUN_TIMEOUT = 180

_REAL_HOME = Path.home()


class CopilotUnavailable(Exception):
    """npm or its registry is not there, so the CLI cannot be installed (tests skip on it)."""


def _cache_dir() -> Path:
    env = os.environ.get("AGENT_SYNC_E2E_COPILOT_CACHE")
    return Path(env) if env else _REAL_HOME / ".cache" / "agent-sync-tests" / "copilot"


def _binary_in(prefix: Path) -> Path:
    system = {"linux": "linux", "darwin": "darwin", "windows": "win32"}.get(platform.system().lower(), "linux")
    machine = platform.machine().lower()
    cpu = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    name = "copilot.exe" if system == "win32" else "copilot"
    expected = prefix / "node_modules" / "@github" / f"copilot-{system}-{cpu}" / name
    if expected.is_file():
        return expected
    found = sorted((prefix / "node_modules" / "@github").glob(f"copilot-*/{name}"))
    return found[0] if found else expected


def _runs(binary: Path) -> tuple[bool, str]:
    if not binary.is_file():
        return False, f"{binary} does not exist"
    try:
        proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{binary} --version: {exc}"
    if proc.returncode != 0:
        return False, f"{binary} --version exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"
    return True, proc.stdout.strip()


def ensure_copilot() -> Path:
    """Path of a working `copilot` binary; installs the npm package into the cache if needed."""
    override = os.environ.get("AGENT_SYNC_E2E_COPILOT")
    if override:
        ok, info = _runs(Path(override))
        if not ok:
            raise AssertionError(f"AGENT_SYNC_E2E_COPILOT does not name a working copilot: {info}")
        return Path(override)
    prefix = _cache_dir()
    binary = _binary_in(prefix)
    if _runs(binary)[0]:
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise CopilotUnavailable("npm is not on PATH, so the Copilot CLI cannot be installed")
    try:
        ping = subprocess.run([npm, "ping", "--fetch-retries=1"], capture_output=True, text=True,
                              timeout=NPM_PING_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise CopilotUnavailable(f"the npm registry cannot be reached: `npm ping` timed out after "
                                 f"{NPM_PING_TIMEOUT}s") from exc
    if ping.returncode != 0:
        detail = " ".join(line for line in (ping.stderr or ping.stdout).splitlines()[:3])
        raise CopilotUnavailable(f"the npm registry cannot be reached: `npm ping` exited {ping.returncode}: {detail}")
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", PACKAGE]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"`{' '.join(cmd)}` did not finish within {NPM_INSTALL_TIMEOUT}s") from exc
    if proc.returncode != 0:
        raise AssertionError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    binary = _binary_in(prefix)
    ok, info = _runs(binary)
    if not ok:
        raise AssertionError(f"the Copilot CLI installed but does not run: {info}\n{proc.stdout}\n{proc.stderr}")
    return binary


@dataclass
class CopilotRun:
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return f"copilot exited {self.returncode}\nstdout:\n{self.stdout[-4000:]}\nstderr:\n{self.stderr[-4000:]}"


def run_copilot(binary: Path, cwd: Path, base_env: dict[str, str], model: FakeChat, prompt: str, *,
                extra_args: list[str] | None = None, timeout: int = COPILOT_RUN_TIMEOUT) -> CopilotRun:
    env = dict(base_env)
    env.update({
        "COPILOT_OFFLINE": "true",
        "COPILOT_AUTO_UPDATE": "false",
        "COPILOT_PROVIDER_BASE_URL": model.base_url,
        "COPILOT_PROVIDER_API_KEY": "e2e-fake-key",
        "COPILOT_MODEL": MODEL_NAME,
        "NO_COLOR": "1",
    })
    cmd = [str(binary), "-p", prompt, "--allow-all-tools", "--allow-all-paths", "--no-auto-update", "--trust-folder", *(extra_args or [])]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError(f"copilot did not finish within {timeout}s\nstdout:\n{stdout[-4000:]}\n"
                             f"stderr:\n{stderr[-4000:]}\ntraffic:\n{model.describe()}") from None
    return CopilotRun(proc.returncode, stdout, stderr)
