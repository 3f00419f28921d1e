"""Helpers for driving the real OpenAI Codex CLI (``codex exec``) offline against ``fake_openai``.

The ``@openai/codex`` npm package is installed once into a cache directory and reused
(``$AGENT_SYNC_E2E_CODEX_CACHE`` or ``~/.cache/agent-sync-tests/codex``). The package itself is a
small node launcher; the real program is a self-contained native binary in the optional platform
package, installed under the alias ``@openai/codex-<platform>``, at
``node_modules/@openai/codex-<platform>/vendor/<target-triple>/bin/codex``. The tests call that
binary directly. ``$AGENT_SYNC_E2E_CODEX`` may name a ``codex`` binary to use instead.

What a run needs so that hooks fire without anyone at a terminal (Codex 0.171):

* ``$CODEX_HOME/config.toml`` selects a custom provider (``model_provider`` +
  ``[model_providers.NAME]`` with ``base_url``, ``env_key``, ``wire_api = "responses"``); the key
  is read from the env var named by ``env_key``, so no login is needed.
* The model slug must be one of Codex's bundled catalog (``gpt-5.5``); an unknown slug gets
  fallback metadata and no ``apply_patch`` tool.
* Hooks are on by default (feature ``hooks``, stable). A hook that is not managed (user or
  project hooks.json / config.toml) runs only if it is *trusted*: ``[hooks.state."KEY"]
  trusted_hash = "sha256:..."`` in the user config (or ``-c hooks.state={...}``), or
  ``--dangerously-bypass-hook-trust``. Untrusted hooks are skipped silently.
* Project hooks (``<repo>/.codex/hooks.json``) are read only when the project is trusted:
  ``[projects."<repo root>"] trust_level = "trusted"`` in the user config (or ``exec --trust``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .fake_openai import MODEL_NAME, FakeOpenAI
from .harness import Workspace

PACKAGE = "@openai/codex"
NPM_PING_TIMEOUT = 60
NPM_INSTALL_TIMEOUT = 900
CODEX_RUN_TIMEOUT = 180
API_KEY_ENV = "AGENT_SYNC_E2E_OPENAI_KEY"

# Events whose hook timeout Codex clamps to 3 seconds (the clamped value enters the trust hash).
SHORT_TIMEOUT_EVENTS = {"SessionEnd": 3, "Interrupt": 3}


# -- installing the CLI --------------------------------------------------------------------

# The test suite's autouse fixture points HOME at a temporary directory; the cache must not follow.
_REAL_HOME = Path.home()


def _cache_dir() -> Path:
    env = os.environ.get("AGENT_SYNC_E2E_CODEX_CACHE")
    if env:
        return Path(env)
    return _REAL_HOME / ".cache" / "agent-sync-tests" / "codex"


def _platform_package_and_triple() -> tuple[str, str]:
    system = platform.system().lower()
    machine = platform.machine().lower()
    cpu = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    arch = {"x64": "x86_64", "arm64": "aarch64"}.get(cpu, machine)
    if system == "linux":
        return f"{PACKAGE}-linux-{cpu}", f"{arch}-unknown-linux-musl"
    if system == "darwin":
        return f"{PACKAGE}-darwin-{cpu}", f"{arch}-apple-darwin"
    if system == "windows":
        return f"{PACKAGE}-win32-{cpu}", f"{arch}-pc-windows-msvc"
    return f"{PACKAGE}-{system}-{cpu}", f"{arch}-unknown-{system}"


def binary_in(prefix: Path) -> Path:
    package, triple = _platform_package_and_triple()
    name = "codex.exe" if platform.system() == "Windows" else "codex"
    expected = prefix / "node_modules" / package / "vendor" / triple / "bin" / name
    if expected.is_file():
        return expected
    # Fall back to whatever platform package npm did install.
    found = sorted((prefix / "node_modules" / "@openai").glob(f"codex-*/vendor/*/bin/{name}"))
    return found[0] if found else expected


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


def install_codex() -> Path:
    """Path of the native Codex binary; installs the npm package into the cache if needed.

    Skips the calling test only when npm is missing or the registry cannot be reached.
    """
    override = os.environ.get("AGENT_SYNC_E2E_CODEX")
    if override:
        ok, info = _runs(Path(override))
        if not ok:
            pytest.fail(f"AGENT_SYNC_E2E_CODEX does not name a working codex binary: {info}")
        return Path(override)

    prefix = _cache_dir()
    binary = binary_in(prefix)
    ok, _ = _runs(binary)
    if ok:
        return binary

    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH, so the Codex CLI cannot be installed")
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
    binary = binary_in(prefix)
    ok, info = _runs(binary)
    if not ok:
        pytest.fail(f"Codex installed but its platform binary is unusable: {info}\n{proc.stdout}\n{proc.stderr}")
    return binary


# -- config: provider, project trust, hook trust ----------------------------------------------


def codex_home(ws: Workspace) -> Path:
    return ws.home / ".codex"


def toml_str(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    return json.dumps(value)


def provider_config(model: FakeOpenAI) -> str:
    return f"""model = {toml_str(MODEL_NAME)}
model_provider = "fake"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
# Without this a refused connection makes Codex wait for the network forever.
unbounded_connection_retries = false

[model_providers.fake]
name = "fake"
base_url = {toml_str(model.base_url)}
env_key = {toml_str(API_KEY_ENV)}
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


def project_trust_config(project_root: Path) -> str:
    return f"\n[projects.{toml_str(str(project_root))}]\ntrust_level = \"trusted\"\n"


def hook_event_label(event: str) -> str:
    """``PreToolUse`` -> ``pre_tool_use``: the label in hook-state keys and trust hashes."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", event).lower()


def hook_trusted_hash(event: str, matcher: str | None, handler: dict[str, Any]) -> str:
    """The ``trusted_hash`` Codex computes for one command hook.

    SHA-256 over the canonical JSON (sorted keys, no spaces) of the normalized identity
    ``{"event_name": <label>, "matcher"?: ..., "hooks": [{"type": "command", "command": ...,
    "timeout": <seconds, default 600, clamped>, "async": false, "statusMessage"?: ...}]}``.
    """
    timeout = max(1, int(handler.get("timeout", handler.get("timeoutSec", 600))))
    if event in SHORT_TIMEOUT_EVENTS:
        timeout = min(timeout, SHORT_TIMEOUT_EVENTS[event])
    normalized: dict[str, Any] = {
        "type": "command",
        "command": handler["command"],
        "timeout": timeout,
        "async": bool(handler.get("async", False)),
    }
    if handler.get("statusMessage") is not None:
        normalized["statusMessage"] = handler["statusMessage"]
    identity: dict[str, Any] = {"event_name": hook_event_label(event), "hooks": [normalized]}
    if matcher is not None:
        identity["matcher"] = matcher
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def hook_trust_entries(source_path: Path, hooks: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """``{hook-state key: trusted_hash}`` for every command hook of a hooks.json ``hooks`` object.

    The key is ``<absolute source file>:<event label>:<group index>:<handler index>``.
    """
    entries = {}
    for event, groups in hooks.items():
        for group_index, group in enumerate(groups):
            for handler_index, handler in enumerate(group.get("hooks", [])):
                if handler.get("type", "command") != "command":
                    continue
                key = f"{source_path}:{hook_event_label(event)}:{group_index}:{handler_index}"
                entries[key] = hook_trusted_hash(event, group.get("matcher"), handler)
    return entries


def hook_trust_config(entries: dict[str, str]) -> str:
    return "".join(
        f"\n[hooks.state.{toml_str(key)}]\ntrusted_hash = {toml_str(value)}\n" for key, value in entries.items()
    )


# -- running codex ------------------------------------------------------------------------------


@dataclass
class CodexRun:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def agent_messages(self) -> list[str]:
        return [
            e["item"].get("text", "")
            for e in self.events
            if e.get("type") == "item.completed" and e.get("item", {}).get("type") == "agent_message"
        ]

    def warnings(self) -> list[str]:
        """Config/hook warnings Codex reports as ``error`` items on the JSON event stream."""
        return [
            e["item"].get("message", "")
            for e in self.events
            if e.get("type") == "item.completed" and e.get("item", {}).get("type") == "error"
        ]

    def explain(self) -> str:
        return f"codex exited {self.returncode}\nstdout:\n{self.stdout[-4000:]}\nstderr:\n{self.stderr[-4000:]}"


def codex_env(ws: Workspace) -> dict[str, str]:
    env = dict(ws.env)
    env["CODEX_HOME"] = str(codex_home(ws))
    env[API_KEY_ENV] = "sk-e2e-fake-key"
    # Codex refuses to put its helper-binary aliases (apply_patch, ...) under the temp dir;
    # the workspace lives there, so point TMPDIR elsewhere.
    tmpdir = ws.home / "tmp"
    tmpdir.mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmpdir)
    return env


def run_codex(
    binary: Path,
    ws: Workspace,
    model: FakeOpenAI,
    prompt: str,
    *,
    sandbox: str = "workspace-write",
    extra_args: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: int = CODEX_RUN_TIMEOUT,
) -> CodexRun:
    """Run ``codex exec --json PROMPT`` in the workspace repo, talking to the fake model."""
    env = codex_env(ws)
    env.update(extra_env or {})
    cmd = [str(binary), "exec", "--json", "--color", "never", "-s", sandbox, *(extra_args or []), prompt]
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd or ws.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"codex did not finish within {timeout}s\nstdout:\n{exc.stdout}\nstderr:\n{exc.stderr}\n"
            f"traffic:\n{model.describe()}"
        ) from exc
    events = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
    return CodexRun(proc.returncode, proc.stdout, proc.stderr, events)


def list_hooks(binary: Path, ws: Workspace, cwd: Path | None = None, timeout: float = 60) -> dict[str, Any]:
    """Ask Codex which hooks it discovers for ``cwd`` (and their trust status), via ``app-server``.

    Speaks the app server's JSON-RPC over stdio: ``initialize``, ``initialized``, ``hooks/list``.
    Returns the ``hooks/list`` entry for the cwd: ``{"cwd", "hooks": [...], "warnings", "errors"}``;
    each hook has ``key``, ``eventName``, ``command``, ``matcher``, ``currentHash``, ``trustStatus``.
    """
    target = str(cwd or ws.repo)
    proc = subprocess.Popen(
        [str(binary), "app-server"],
        cwd=target,
        env=codex_env(ws),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    result: dict[str, Any] = {}
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        for message in (
            {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "agent-sync-e2e", "version": "0"}}},
            {"method": "initialized"},
            {"id": 2, "method": "hooks/list", "params": {"cwds": [target]}},
        ):
            proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("id") == 2:
                result = message
                break
    finally:
        timer.cancel()
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if "result" not in result:
        raise AssertionError(f"codex app-server gave no hooks/list result: {result!r}")
    data = result["result"].get("data") or [{}]
    return data[0]
