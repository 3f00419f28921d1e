"""Helpers for driving the real Claude Code CLI in a throw-away git repository."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fake_model import FakeModel

CLAUDE_RUN_TIMEOUT = 180


# -- a throw-away repository and a way to run claude in it ------------------------------------

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "e2e",
    "GIT_AUTHOR_EMAIL": "e2e@example.invalid",
    "GIT_COMMITTER_NAME": "e2e",
    "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
}


def clean_env(home: Path) -> dict[str, str]:
    """The process environment without anything from an outer agent session, plus a throw-away HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE", "AGENT_SYNC_", "CODEX_", "GEMINI_", "OTEL_", "COPILOT_",
                             "CURSOR_"))
        and k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")
    }
    env.update(GIT_IDENTITY)
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    env["XDG_STATE_HOME"] = str(home / ".local" / "state")
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def git(repo: Path, *args: str, env: dict[str, str]) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@dataclass
class Workspace:
    repo: Path
    home: Path
    env: dict[str, str]

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def commit(self, message: str = "initial") -> None:
        git(self.repo, "add", "-A", env=self.env)
        git(self.repo, "commit", "-q", "-m", message, env=self.env)


@dataclass
class ClaudeRun:
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any] | None

    def explain(self) -> str:
        return (
            f"claude exited {self.returncode}\nstdout:\n{self.stdout[-4000:]}\nstderr:\n{self.stderr[-4000:]}"
        )


def run_claude(
    binary: Path,
    ws: Workspace,
    model: FakeModel,
    prompt: str,
    *,
    extra_args: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: int = CLAUDE_RUN_TIMEOUT,
) -> ClaudeRun:
    """Run ``claude -p PROMPT`` in the workspace repo, talking to the fake model."""
    env = dict(ws.env)
    env.update(
        {
            "ANTHROPIC_BASE_URL": model.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-e2e-fake-key",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_MAX_RETRIES": "0",
        }
    )
    env.update(extra_env or {})
    cmd = [str(binary), "-p", prompt, "--permission-mode", "acceptEdits", "--output-format", "json"]
    cmd += extra_args or []
    try:
        proc = subprocess.run(
            cmd,
            cwd=ws.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"claude did not finish within {timeout}s\nstdout:\n{exc.stdout}\nstderr:\n{exc.stderr}\n"
            f"traffic:\n{model.describe()}"
        ) from exc
    result = None
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        pass
    return ClaudeRun(proc.returncode, proc.stdout, proc.stderr, result)
