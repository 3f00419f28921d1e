"""What the end-to-end tests of the Codex, Gemini and Copilot CLIs share: agent-sync run in the throw-away
repository, its hooks installed by `agent-sync install --agent NAME`, another agent holding files, and a look
at the client process the hooks recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .harness import Workspace

# The console script next to the interpreter; AGENT_SYNC_E2E_CLI may name another executable.
AGENT_SYNC = os.environ.get("AGENT_SYNC_E2E_CLI") or os.path.join(os.path.dirname(sys.executable), "agent-sync")

OTHER_ID = "other"
OTHER_NAME = "other-agent"
REASON = "refactoring the parser"
HELD = ("held.txt", "src/app.py", "docs/")


def agent_sync(ws: Workspace, *args: str, agent_id: str | None = None, env: dict | None = None,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run the agent-sync CLI in the workspace repo (as `agent_id`, or with no AGENT_SYNC_ID)."""
    if not os.path.exists(AGENT_SYNC):
        pytest.fail(f"the agent-sync console script is missing at {AGENT_SYNC}: install the package (pip install -e .)")
    full_env = dict(ws.env)
    if agent_id is not None:
        full_env["AGENT_SYNC_ID"] = agent_id
    full_env.update(env or {})
    proc = subprocess.run([AGENT_SYNC, *args], cwd=ws.repo, env=full_env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, f"agent-sync {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def install(ws: Workspace, agent: str, *extra: str) -> subprocess.CompletedProcess:
    """`agent-sync install --agent NAME`, as a user runs it in the repository."""
    return agent_sync(ws, "install", "--agent", agent, *extra)


def seed(ws: Workspace) -> None:
    """The files of the scenario, committed; another agent holds held.txt, src/app.py and docs/."""
    ws.write("held.txt", "original\n")
    ws.write("src/app.py", "print('v1')\n")
    ws.write("docs/guide.md", "guide\n")
    ws.write("open.txt", "original\n")
    ws.write("sub/.keep", "")
    ws.commit()


def hold(ws: Workspace) -> None:
    agent_sync(ws, "register", "--name", OTHER_NAME, agent_id=OTHER_ID)
    agent_sync(ws, "lock", *HELD, "--reason", REASON, agent_id=OTHER_ID)


def agents(ws: Workspace) -> list[dict]:
    return json.loads(agent_sync(ws, "status", "--json", agent_id=OTHER_ID).stdout)["agents"]


def the_agent(ws: Workspace, client: str) -> dict:
    """The one agent of `client` the hooks registered."""
    found = [a for a in agents(ws) if a["client"] == client]
    assert len(found) == 1, agents(ws)
    return found[0]


def client_process(ws: Workspace, agent_id: str) -> str | None:
    """The program (the file name of its executable) the hooks recorded as the agent's client process, read
    while it runs; None when none was recorded."""
    from agent_sync.core.context import open_context

    with open_context(cwd=str(ws.repo), environ=dict(ws.env, AGENT_SYNC_ID=OTHER_ID)) as ctx:
        with ctx.store.read() as tx:
            row = tx.get_agent(agent_id)
    if row is None or not row["pid"]:
        return None
    try:
        return os.path.basename(os.readlink(f"/proc/{row['pid']}/exe"))
    except OSError:
        return None


def blocked_text(path: str) -> str:
    """How a refusal of `path` starts, naming the holder."""
    return f"agent-sync BLOCKED: {path} is locked by {OTHER_NAME} ({OTHER_ID})"
