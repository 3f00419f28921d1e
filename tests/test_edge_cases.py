"""Edge cases of the core found by hand: returning stale holders, renewals, message delivery limits, the
wait queue, huge ids, bracketed file names, leases."""

import json
import signal
import time

import pytest

from agent_sync.core import locks, presence
from agent_sync.core.context import open_context
from agent_sync.errors import NotFound
from agent_sync.identity import session_agent_id
from helpers import Cli


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def core(repo, now):
    ctx = open_context(cwd=str(repo), clock=lambda: now[0])
    ctx.sleep = lambda s: now.__setitem__(0, now[0] + s)
    return ctx


def _a_went_stale_and_b_took_the_file(repo):
    now = [1_800_000_000.0]
    ctx = core(repo, now)
    ctx.me = "a"
    locks.lock(ctx, ["src/app.py"], ttl_minutes=600)
    now[0] += (ctx.settings.stale_minutes + 1) * 60  # a went quiet: its lock no longer holds
    ctx.me = "b"
    assert locks.lock(ctx, ["src/app.py"])[0]["holder"] == "b"
    return ctx, now


def test_a_returning_stale_holder_does_not_take_back_a_lock_another_agent_now_holds(repo):
    ctx, now = _a_went_stale_and_b_took_the_file(repo)
    ctx.me = "a"
    presence.heartbeat(ctx)  # any command or hook by a
    holders = [v["holder"] for v in locks.list_locks(ctx) if v["target"] == "src/app.py"]
    ctx.me = "b"
    with ctx.store.write() as tx:
        verdict = locks.guard_edit(tx, ctx, "src/app.py", "auto", write=True)
    assert holders == ["b"]
    assert verdict[0] == "allow", verdict  # b, the holder, must be able to edit its own file


def test_renew_after_losing_the_lock_while_stale_is_an_error(repo):
    ctx, now = _a_went_stale_and_b_took_the_file(repo)
    ctx.me = "a"
    with pytest.raises(NotFound):
        locks.renew(ctx, ["src/app.py"])


def test_session_start_does_not_swallow_directed_messages_the_brief_does_not_show(cli):
    session = "7d1e0c55-3333-4e55-9a0b-7f6a2c1d9e03"
    me = session_agent_id(session)
    cli.ok("heartbeat", env={"CLAUDE_CODE_SESSION_ID": session}, agent=None)  # the session's shell registered it
    for n in range(8):
        cli.ok("send", "--to", me, "--message", f"directed note number {n}", agent="bob")
    payload = {"session_id": session, "cwd": str(cli.root), "hook_event_name": "SessionStart", "source": "startup"}
    seen = json.loads(cli.hook("session-start", payload).out)["hookSpecificOutput"]["additionalContext"]
    for event in ("user-prompt-submit", "stop"):
        out = cli.hook(event, dict(payload, hook_event_name=event, prompt="go", stop_hook_active=False)).out
        seen += out
    missing = [n for n in range(8) if f"directed note number {n}" not in seen]
    assert missing == []


def test_append_under_your_own_lock_keeps_that_lock(cli):
    cli.ok("lock", "README.md", "--ttl", "120", "--reason", "rewriting the intro", agent="a")
    cli.ok("append", "README.md", "--content", "one more line", agent="a")
    view = next(v for v in cli.json("locks", agent="a")["locks"] if v["target"] == "README.md")
    assert view["reason"] == "rewriting the intro"
    assert view["expires_in_s"] > 110 * 60


def _queued(cli, agent, timeout=20.0):
    ctx = open_context(cwd=str(cli.root), environ=cli.env("observer"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.store.read() as tx:
            if any(w["agent"] == agent for w in [w for w in tx.waiters() if w["expires_at"] > tx.now]):
                return
        time.sleep(0.05)
    raise AssertionError(f"{agent} never queued")


def test_append_by_the_holder_works_while_another_agent_waits_for_the_lock(cli):
    cli.ok("lock", "README.md", agent="a")
    waiter = cli.popen("lock", "README.md", "--wait", "20", agent="b")
    try:
        _queued(cli, "b")
        result = cli("append", "README.md", "--content", "holder appends", agent="a")
    finally:
        waiter.kill()
        waiter.communicate(timeout=30)
    assert result.code == 0, result


def test_a_waiter_killed_with_sigterm_leaves_no_phantom_queue_entry(cli):
    cli.ok("lock", "README.md", agent="a")
    waiter = cli.popen("lock", "README.md", "--wait", "120", agent="b")
    _queued(cli, "b")
    waiter.send_signal(signal.SIGTERM)  # how a tool timeout or `kill` ends it
    waiter.communicate(timeout=30)
    cli.ok("unlock", "README.md", agent="a")
    result = cli("lock", "README.md", agent="c")
    assert result.code == 0, result  # actual: exit 2, "queued for b" for up to two minutes


@pytest.mark.parametrize("args", [
    ("task", "99999999999999999999999"),
    ("claim-task", "#99999999999999999999999"),
    ("read-message", "99999999999999999999999"),
    ("send", "--to", "all", "--message", "hi", "--reply-to", "99999999999999999999999"),
    ("activity", "--limit", "99999999999999999999999"),
])
def test_huge_ids_are_bad_input_not_internal_errors(cli, args):
    result = cli(*args)
    assert result.code == 1, result
    assert "internal error" not in result.err


def test_a_lock_on_an_existing_bracketed_file_guards_that_file(cli):
    page = cli.root / "app" / "[id]" / "page.tsx"
    page.parent.mkdir(parents=True)
    page.write_text("export default 1\n")
    cli.ok("lock", "app/[id]/page.tsx", agent="a")
    session = "7d1e0c55-4444-4e55-9a0b-7f6a2c1d9e04"
    payload = {"session_id": session, "cwd": str(cli.root), "hook_event_name": "PreToolUse", "tool_name": "Edit",
               "tool_input": {"file_path": str(page), "old_string": "1", "new_string": "2"}}
    assert cli.hook("pre-tool-use", payload).code == 2


def test_every_pushed_message_reaches_the_context_across_prompts(cli):
    session = "7d1e0c55-5555-4e55-9a0b-7f6a2c1d9e05"
    payload = {"session_id": session, "cwd": str(cli.root), "hook_event_name": "UserPromptSubmit", "prompt": "go"}
    cli.hook("session-start", dict(payload, hook_event_name="SessionStart", source="startup"))
    for n in range(8):
        cli.ok("send", "--to", "all", "--message", f"note-{n} " + "x" * 1300, agent="bob")
    seen = ""
    for _ in range(3):  # however many prompts it takes, each message must arrive once
        out = cli.hook("user-prompt-submit", payload).out
        if out.strip():
            seen += json.loads(out)["hookSpecificOutput"]["additionalContext"]
    assert [n for n in range(8) if f"note-{n} " not in seen] == []


def test_renew_all_keeps_a_turn_lease_a_lease(repo):
    now = [1_800_000_000.0]
    ctx = core(repo, now)
    ctx.me = "a"
    with ctx.store.write() as tx:
        assert locks.guard_edit(tx, ctx, "src/app.py", "auto", write=True) == ("allow", "leased")
    locks.renew(ctx, everything=True)
    with ctx.store.write() as tx:
        locks.release_leases(tx, "a")  # what the Stop hook does when the turn ends
    ctx.me = "b"
    assert locks.lock(ctx, ["src/app.py"])[0]["holder"] == "b"
