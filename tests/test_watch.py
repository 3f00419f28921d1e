"""`agent-sync watch`: the feed on stdout as separate processes see it."""

import json
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from helpers import Cli, has_control_bytes

DEADLINE = 60.0  # generous: the machine may be busy; nothing here measures speed
COMMON = {"kind", "type", "at", "cursor", "agent", "agent_name", "text"}


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


class Lines:
    """A running process's stdout, line by line, read by a thread so the test never blocks on the pipe."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.seen = proc, []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def until(self, predicate, what: str, timeout: float = DEADLINE, required: bool = True) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if predicate(line):
                return line
        if not required:
            return None
        raise AssertionError(f"no line with {what}; saw: {self.seen[-20:]}")


def watch(cli, *args):
    proc = cli.popen("watch", *args, agent="watcher")
    return proc, Lines(proc)


def live(cli, lines) -> None:
    """A watch starts at the present: log notes until one comes through, and it is following."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        cli.ok("log", "ping", agent="pinger")
        if lines.until(lambda line: "ping" in line, "a ping", timeout=3, required=False):
            return
    raise AssertionError(f"the watch never showed a note; saw: {lines.seen}")


def stop(proc, signum=signal.SIGINT):
    proc.send_signal(signum)
    try:
        proc.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_watch_json_streams_another_processes_lock_as_json_lines(cli):
    proc, lines = watch(cli, "--json")
    try:
        live(cli, lines)
        cli.ok("lock", "src/app.py", "--reason", "watch me", agent="bob")
        found = lines.until(lambda line: '"type": "lock"' in line, "bob's lock")
    finally:
        stop(proc)
    events = [json.loads(line) for line in lines.seen]  # every line is one JSON object
    lock = json.loads(found)
    assert (lock["kind"], lock["agent"], lock["target"]) == ("lock", "bob", "src/app.py")
    assert lock["file"] == "src/app.py"
    for event in events:
        assert COMMON <= set(event), event
    assert proc.returncode == 0


def test_watch_lines_are_cleaned_and_since_replays(cli):
    hostile = "pwn\x1b]0;owned title\x07\x1b[2J\x1b[31mred\u202e"
    cli.ok("register", "--name", f"evil{hostile}", agent="evil")
    cli.ok("send", "--to", "all", "--message", f"hello {hostile}", agent="evil")
    cli.ok("lock", "src/app.py", agent="bob")
    proc, lines = watch(cli, "--since", "0")
    try:
        lines.until(lambda line: "locked src/app.py" in line, "the replayed lock")
    finally:
        stop(proc, signal.SIGTERM)
    text = "".join(lines.seen)
    assert "hello pwn" in text and "owned title" not in text and "red" in text
    assert not has_control_bytes(text) and "\u202e" not in text
    assert proc.returncode == 0 and "Traceback" not in proc.stderr.read()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_watch_ends_cleanly_on_a_signal(cli, signum):
    proc, lines = watch(cli, "--since", "0")
    cli.ok("log", "something to show", agent="alice")
    lines.until(lambda line: "something to show" in line, "the note")
    stop(proc, signum)
    assert proc.returncode == 0
    assert proc.stderr.read() == ""


def test_watch_ends_cleanly_when_its_reader_goes_away(cli):
    cli.ok("log", "one", agent="alice")
    cli.ok("log", "two", agent="alice")
    script = (f"{sys.executable} -m agent_sync watch --since 0 | head -1; "
              'echo "watch exit: ${PIPESTATUS[0]}" >&2')
    result = subprocess.run(["bash", "-c", script], cwd=cli.root, env=cli.env("watcher"), capture_output=True,
                            text=True, timeout=DEADLINE)
    assert result.stdout.count("\n") == 1 and "alice" in result.stdout  # the first event, then head is gone
    assert result.stderr.strip() == "watch exit: 0", result.stderr


def test_watch_refuses_a_bad_since_in_one_line(cli):
    cli.error(1, "watch", "--since", "-1", expect=["--since"])
    cli.error(1, "watch", "--since", "x", expect=["--since"])
