"""Reads never wait on writers; writes wait a bounded, configurable time and then say what to retry.

Another process holds the database's write lock (a real `BEGIN IMMEDIATE` in a separate interpreter) for 30 s;
every read command must answer meanwhile, from a snapshot."""

import subprocess
import sys

import pytest

from helpers import Cli, assert_one_line_error

pytestmark = pytest.mark.sqlite_only  # holds SQLite's own write lock; the PostgreSQL store has its own test

HOLD = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def busy(tmp_path):
    """A repository with some state, and another process sitting on the write lock for 30 s."""
    cli = Cli(tmp_path)
    cli.ok("install")
    cli.ok("whoami", agent="alice")
    cli.ok("register", "--name", "backend", "--role", "api", agent="b")
    cli.ok("lock", "src/app.py", "--reason", "busy test", agent="b")
    cli.ok("create-task", "Write the API", agent="b")
    cli.ok("send", "--to", "alice", "-m", "hello", agent="b")
    cli.ok("decision", "Use UTC", agent="b")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(cli.db), "30"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    cli.holder = holder
    yield cli
    holder.kill()
    holder.wait()


READS = [
    ("status",), ("status", "--json"), ("status", "--compact"), ("locks",), ("locks", "--all", "--json"),
    ("tasks",), ("task", "1"), ("inbox",), ("inbox", "--all", "--json"), ("thread", "1"), ("activity",),
    ("decisions",), ("whoami",), ("config",), ("path",), ("doctor",),
]


def test_every_read_command_answers_while_another_process_holds_the_write_lock(busy):
    for command in READS:
        for agent in ("alice", None):  # an agent (whose heartbeat is skipped) and a person at a shell
            result = busy(*command, agent=agent, timeout=25)  # a read that waited for the writer would take 30 s
            assert result.code == 0, (command, agent, result)
            assert result.err == "", (command, agent, result)
    assert busy.holder.poll() is None  # all of that happened while the lock was held
    out = busy.ok("status", agent="alice").out
    assert "src/app.py → backend" in out and "Write the API" in out
    assert "hello" in busy.ok("inbox", agent="alice").out  # not marked delivered while busy: still unread


def test_a_write_waits_the_configured_time_then_says_what_to_retry(busy):
    result = busy("lock", "README.md", agent="alice", env={"AGENT_SYNC_BUSY_TIMEOUT_SECONDS": "0.5"}, timeout=25)
    line = assert_one_line_error(result, 1, "the database is busy", "for over 0.5s", "run the command again",
                                 "busy_timeout_seconds")
    assert "Traceback" not in line


def test_the_default_write_wait_is_at_most_ten_seconds(tmp_path):
    cli = Cli(tmp_path)
    assert cli.json("config")["busy_timeout_seconds"] == {
        "value": 10.0, "source": "default", "help": "how long a command waits for the database write lock"}
