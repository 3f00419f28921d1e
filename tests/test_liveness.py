"""Liveness from the agent's own process: while the client that runs an agent's hooks is alive on this host, the
agent is live however quiet it is; the moment that process is gone, its locks and leases stop holding. Time alone
still decides for agents without a known client. Checked with a real child process as the client, running the
hook through `sh -c` as agents do, and the core on a controlled clock."""

import json
import os
import shlex
import subprocess
import sys

import pytest

from agent_sync.core import locks, presence, tasks
from agent_sync.errors import Conflict
from agent_sync.identity import session_agent_id
from helpers import Cli, Clock

SESSION = "live-5f0c3c7e-1111-4e55-9a0b-7f6a2c1d9e01"

# A stand-in for an agent's client: it runs one hook through `sh -c`, reports, then waits until killed.
CLIENT = r"""
import subprocess, sys
payload, command = sys.argv[1], sys.argv[2]
done = subprocess.run(["sh", "-c", command], input=payload, capture_output=True, text=True)
print(done.returncode, flush=True)
sys.stdin.read()
"""

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="process liveness needs /proc")


def start_client(cli: Cli, file: str) -> subprocess.Popen:
    payload = json.dumps({"session_id": SESSION, "cwd": str(cli.root), "hook_event_name": "PreToolUse",
                          "tool_name": "Edit", "tool_input": {"file_path": str(cli.root / file)}})
    command = f"{shlex.quote(sys.executable)} -m agent_sync hook pre-tool-use"
    client = subprocess.Popen([sys.executable, "-c", CLIENT, payload, command], cwd=cli.root,
                              env=cli.env(None), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert client.stdout.readline().strip() == "0"  # the hook ran, allowed the edit and took the turn's lease
    return client


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def test_a_live_client_keeps_its_leases_past_the_quiet_threshold_and_its_death_frees_them(cli):
    client = start_client(cli, "src/app.py")
    me = session_agent_id(SESSION, "claude")
    try:
        with cli.context(Clock(0)) as probe, probe.store.read() as tx:
            row = tx.get_agent(me)
        assert (row["pid"], row["client"]) == (client.pid, "claude")  # the client itself, not the `sh` between
        # twenty quiet minutes later (past the 15 of stale_minutes, inside the lease's 30)
        clock = Clock(row["last_seen"] + 20 * 60)
        other = cli.context(clock, "bob")
        with pytest.raises(Conflict, match="src/app.py is locked by claude@"):
            locks.lock(other, ["src/app.py"])
        assert {a["id"]: a["status"] for a in presence.list_agents(other)}[me] == "active"
    finally:
        client.kill()
        client.wait()
    # the same instant on the same clock: the client is gone, so is everything it held
    assert {a["id"]: a["status"] for a in presence.list_agents(other)}[me] == "offline"
    assert locks.lock(other, ["src/app.py"])[0]["holder"] == "bob"
    other.close()


def test_without_a_known_client_time_decides(cli):
    cli.ok("lock", "src/app.py", "--ttl", "120", agent="quiet")  # a CLI-only identity: no client process
    with cli.context(Clock(0)) as probe, probe.store.read() as tx:
        seen = tx.get_agent("quiet")["last_seen"]
    clock = Clock(seen + 14 * 60)
    other = cli.context(clock, "bob")
    with pytest.raises(Conflict):
        locks.lock(other, ["src/app.py"])
    clock.advance(60)  # 15 minutes: stale, the lock stops holding
    assert locks.lock(other, ["src/app.py"])[0]["holder"] == "bob"
    other.close()


def test_the_active_stale_boundary_is_one_rule_for_locks_tasks_and_status(cli):
    """Exactly at the stale threshold an agent is stale everywhere: its lock, its task and its status agree."""
    cli.ok("create-task", "T", "--file", "src/app.py", agent="owner")
    cli.ok("claim-task", "T", "--lock", agent="owner")
    with cli.context(Clock(0)) as probe, probe.store.read() as tx:
        seen = tx.get_agent("owner")["last_seen"]
    for offset, holds in ((15 * 60 - 0.001, True), (15 * 60, False)):
        other = cli.context(Clock(seen + offset), "bob")
        status = {a["id"]: a["status"] for a in presence.list_agents(other)}["owner"]
        lock_holds = any(v["holder"] == "owner" for v in locks.list_locks(other))
        queue = [t["title"] for t in _ready(other)]
        assert (status == "active", lock_holds, "T" not in queue) == (holds, holds, holds), offset
        other.close()


def _ready(ctx):
    with ctx.store.read() as tx:
        return tasks.ready_queue(tx, ctx)


def test_a_cli_call_after_the_client_exited_judges_the_agent_by_time_again(cli):
    client = start_client(cli, "README.md")
    client.kill()
    client.wait()
    me = session_agent_id(SESSION, "claude")
    # the same session's id, from a shell that outlived its client: the agent goes on, judged by time
    result = cli("whoami", "--json", agent=None, env={"CLAUDE_CODE_SESSION_ID": SESSION})
    assert json.loads(result.out)["status"] == "active", result
    with cli.context(Clock(0)) as probe, probe.store.read() as tx:
        assert tx.get_agent(me)["pid"] is None


# A client that runs a hook and then a command in "its shell", both through `sh -c`, and prints both outputs.
CLIENT_AND_SHELL = r"""
import json, subprocess, sys
payload, hook, command, extra = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
import os
subprocess.run(["sh", "-c", hook], input=payload, capture_output=True, text=True)
env = dict(os.environ, **extra)
print(subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env).stdout, flush=True)
"""


def test_a_command_in_an_agents_shell_without_a_session_id_is_that_agent(cli):
    """Gemini CLI's shell commands carry GEMINI_CLI=1 but no session id: the agent is found by its client,
    an ancestor of the command, as recorded by its hooks."""
    payload = json.dumps({"session_id": "gem-1", "cwd": str(cli.root), "hook_event_name": "SessionStart",
                          "source": "startup"})
    agent_sync = f"{shlex.quote(sys.executable)} -m agent_sync"
    done = subprocess.run([sys.executable, "-c", CLIENT_AND_SHELL, payload,
                           f"{agent_sync} hook --agent gemini SessionStart", f"{agent_sync} whoami --json",
                           json.dumps({"GEMINI_CLI": "1"})], cwd=cli.root, env=cli.env(None), capture_output=True,
                          text=True, timeout=60)
    me = json.loads(done.stdout)
    assert me["id"] == session_agent_id("gem-1", "gemini"), done
    assert me["source"] == "the gemini session this shell belongs to"
    plain = json.loads(cli.ok("whoami", "--json", agent=None).out)  # a shell of no agent stays a person
    assert plain["source"] == "per-repository local id"
