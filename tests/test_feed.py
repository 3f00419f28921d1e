"""The feed (core.feed) and the operator's place in the core: in-process, on a controlled clock."""

import pytest

from agent_sync.console.session import operator_context
from agent_sync.core import guard, journal, locks, messages, presence
from agent_sync.core.feed import KINDS, Feed
from agent_sync.errors import NotFound
from helpers import Cli, Clock

CHANGE = 10.0  # the longest wait for the change signal after a write (it returns as soon as the signal moves)
COMMON = {"kind", "type", "at", "cursor", "agent", "agent_name", "text"}
BY_KIND = {"activity": {"id", "file"}, "lock": {"id", "target", "file"},
           "message": {"id", "to", "to_kind", "to_name", "body", "urgent", "reply_to"},
           "presence": {"id", "status", "was"}}


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def open_ctx(cli, clock):
    opened = []

    def make(agent):
        ctx = cli.context(clock, agent)
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        ctx.close()


class CountingStore:
    """The store, counting the read transactions opened through it."""

    def __init__(self, store):
        self.store, self.reads = store, 0

    def read(self):
        self.reads += 1
        return self.store.read()

    def __getattr__(self, name):
        return getattr(self.store, name)


def shape_ok(event: dict) -> None:
    assert event["kind"] in KINDS
    assert set(event) == COMMON | BY_KIND[event["kind"]], event


def test_the_feed_streams_what_follows_its_cursor_in_one_shape(open_ctx, clock):
    alice, bob, carol = open_ctx("alice"), open_ctx("bob"), open_ctx("carol")
    presence.register(alice, "alice")
    journal.log(alice, "before the feed started")
    feed = Feed(open_ctx("watcher"))
    assert feed.start() == []  # starts at the present: nothing from before
    locks.lock(bob, ["src/app.py"], reason="refactor")
    messages.send(bob, "alice", "hands off src/app.py")
    locks.unlock(carol, ["src/app.py"], force=True)
    clock.advance(61 * 60)  # bob's next lock would have lapsed: carol takes over an expired one
    locks.lock(bob, ["README.md"], ttl_minutes=1)
    clock.advance(120)
    locks.lock(carol, ["README.md"])
    journal.log(carol, "note", file="README.md")
    events = feed.next(CHANGE)
    for event in events:
        shape_ok(event)
    kinds = [(e["kind"], e["type"], e["agent_name"]) for e in events]
    assert ("presence", "join", "bob") in kinds and ("presence", "join", "carol") in kinds
    assert ("lock", "lock", "bob") in kinds
    assert ("message", "direct", "bob") in kinds
    assert ("lock", "forced", "carol") in kinds
    assert ("lock", "reclaimed", "carol") in kinds
    assert ("activity", "note", "carol") in kinds
    assert not any(e["type"] == "message" and e["kind"] == "activity" for e in events)  # one event a message
    assert "before the feed started" not in [e["text"] for e in events]
    forced = next(e for e in events if e["type"] == "forced")
    assert forced["target"] == "src/app.py" and forced["file"] == "src/app.py"
    reclaimed = next(e for e in events if e["type"] == "reclaimed")
    assert reclaimed["target"] == "README.md"
    sent = next(e for e in events if e["kind"] == "message" and e["agent"] == "bob")
    assert (sent["to"], sent["to_kind"], sent["body"]) == ("alice", "agent", "hands off src/app.py")
    notices = [e for e in events if e["type"] == "notice"]
    assert notices and all(e["to"] == "bob" for e in notices)  # broken, then taken over: bob is told twice
    assert feed.next(0) == []  # read once: nothing comes twice


def test_since_replays_the_log_after_an_id_and_the_messages_sent_since(open_ctx, clock):
    alice = open_ctx("alice")
    messages.send(alice, "all", "old news")
    clock.advance(1)
    mark = journal.log(alice, "the mark")["id"]
    clock.advance(1)
    messages.send(alice, "all", "fresh news")
    journal.log(alice, "after the mark")
    events = Feed(open_ctx("watcher"), since=mark).start()
    assert [e["text"] for e in events if e["kind"] == "activity"] == ["after the mark"]
    assert [e["body"] for e in events if e["kind"] == "message"] == ["fresh news"]
    everything = Feed(open_ctx("watcher"), since=0).start()
    assert [e["body"] for e in everything if e["kind"] == "message"] == ["old news", "fresh news"]
    assert all(e["cursor"] <= everything[-1]["cursor"] for e in everything)


def test_status_changes_show_without_a_write_and_an_idle_tick_reads_nothing(open_ctx, clock, cli):
    alice = open_ctx("alice")
    presence.heartbeat(alice)
    watcher = open_ctx("watcher")
    counting = CountingStore(watcher.store)
    watcher.store = counting
    feed = Feed(watcher)
    feed.start()
    reads = counting.reads
    for _ in range(5):
        assert feed.next(0) == []
    assert counting.reads == reads  # nothing changed: no read transaction at all
    clock.advance(alice.settings.stale_minutes * 60 + 1)
    events = feed.next(0)
    changes = [(e["type"], e["agent"], e["was"], e["status"]) for e in events]
    assert changes == [("status", "alice", "active", "stale")]
    assert counting.reads == reads + 1
    clock.advance(alice.settings.offline_minutes * 60)
    assert [(e["was"], e["status"]) for e in feed.next(0)] == [("stale", "offline")]
    presence.heartbeat(alice)  # a write: read after the cursor, and the agent is back
    changes = [(e["was"], e["status"]) for e in feed.next(CHANGE) if e["type"] == "status"]
    assert changes == [("offline", "active")]


def test_a_session_end_is_one_leave_event(open_ctx):
    alice = open_ctx("alice")
    presence.heartbeat(alice)
    feed = Feed(open_ctx("watcher"))
    feed.start()
    with alice.store.write() as tx:
        presence.end_session_in(tx, alice)
    assert [(e["kind"], e["type"], e["status"]) for e in feed.next(CHANGE)] == [("presence", "leave", "idle")]


def test_a_directive_reaches_every_active_agent_once_and_not_the_others(open_ctx, clock, cli):
    alice, bob, gone = open_ctx("alice"), open_ctx("bob"), open_ctx("gone")
    for ctx in (alice, bob, gone):
        presence.heartbeat(ctx)
    with gone.store.write() as tx:
        presence.end_session_in(tx, gone)
    operator = operator_context(cwd=str(cli.root), environ=cli.env(None), clock=clock)
    try:
        result = messages.directive(operator, "all", "freeze feature work")
        assert result["count"] == 2
        assert sorted(m["to"] for m in result["messages"]) == ["alice", "bob"]
        assert all(m["to_kind"] == "agent" and m["urgent"] for m in result["messages"])
        for ctx in (alice, bob):
            with ctx.store.read() as tx:
                directed = messages.undelivered(tx, ctx, directed_only=True)
            assert [m["body"] for m in directed] == ["freeze feature work"]
        with gone.store.read() as tx:
            assert messages.undelivered(tx, gone) == []
        with operator.store.write() as tx:
            for ctx in (alice, bob):
                presence.end_session_in(tx, ctx)
        with pytest.raises(NotFound):
            messages.directive(operator, "all", "anyone?")
    finally:
        operator.close()


def test_the_operator_holds_locks_but_is_no_active_agent_and_blocks_no_git(open_ctx, clock, cli):
    operator = operator_context(cwd=str(cli.root), environ=cli.env(None), clock=clock)
    alice = open_ctx("alice")
    alice.cwd = str(cli.root)
    try:
        locks.lock(operator, ["src/app.py"])
        with alice.store.write() as tx:
            presence.ensure_agent(tx, alice)
            people = presence.roster(tx, alice)
            assert people.live(operator.me)  # its locks hold ...
            assert operator.me not in [a["id"] for a in people.active_agents()]  # ... it is not an agent
            assert guard.others_in_worktree(tx, alice) == []  # so git commands are not held up by it
            verdict, reason = locks.guard_edit(tx, alice, "src/app.py", "auto", write=False)
        assert verdict == "deny" and "operator" in reason
    finally:
        operator.close()
