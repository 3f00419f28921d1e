"""Locks through the real CLI (files, directories, globs, resources, shared, TTL, force, all, wait) and, on a
controlled clock, expiry and staleness through the core."""

import re
import time

import pytest

from agent_sync.core import locks, presence
from agent_sync.errors import Conflict, NotFound, UsageError
from helpers import Cli, Clock


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENT_SYNC_ROOT", raising=False)
    c = Cli(tmp_path)
    (c.root / "docs").mkdir()
    (c.root / "docs" / "guide.md").write_text("guide\n")
    for agent, name in (("a", "alice"), ("b", "bob")):  # in process: fast, and on the real clock
        presence.register(c.context(time.time, agent), name)
    return c


def held(cli, agent="a"):
    """Live locks as (target, holder, mode), read in process (`locks --json` itself is checked below)."""
    return sorted((v["target"], v["holder"], v["mode"]) for v in locks.list_locks(cli.context(time.time, agent)))


def wait_until_queued(cli, agent, timeout=20.0):
    """Poll until `agent` has a row in the lock queue (its process started and is waiting)."""
    deadline = time.monotonic() + timeout
    ctx = cli.context(time.time, "observer")
    while time.monotonic() < deadline:
        with ctx.store.read() as tx:
            if any(w["agent"] == agent for w in [w for w in tx.waiters() if w["expires_at"] > tx.now]):
                return
        time.sleep(0.05)
    raise AssertionError(f"{agent} never queued")


def hhmm(iso: str) -> str:
    return f"{iso[11:16]} UTC"


# -- taking and conflicting -------------------------------------------------------------------------------

def test_lock_a_file_and_another_agent_is_refused_with_holder_target_expiry_and_reason(cli):
    out = cli.ok("lock", "src/app.py", "--reason", "editing login", agent="a").out
    assert re.fullmatch(r"locked src/app\.py → alice until \d\d:\d\d UTC — editing login\n", out)
    view = cli.json("locks", agent="a")["locks"][0]
    assert {k: view[k] for k in ("target", "kind", "holder", "holder_name", "mode", "lease", "reason")} == {
        "target": "src/app.py", "kind": "file", "holder": "a", "holder_name": "alice", "mode": "exclusive",
        "lease": False, "reason": "editing login"}
    assert 3500 < view["expires_in_s"] <= 3600
    cli.error(2, "lock", "src/app.py", "--json", agent="b")  # errors stay one line on stderr under --json too
    line = cli.error(2, "lock", "src/app.py", agent="b")
    assert line == (f"agent-sync: src/app.py is locked by alice (a) until {hhmm(view['expires_at'])}: editing login. "
                    "Ask them: agent-sync send --to alice --message '...'")


def test_the_conflict_message_names_the_overlapping_lock(cli):
    cli.ok("lock", "src/", "--reason", "refactor", agent="a")
    for target in ("src/app.py", "src/**/*.py", "./"):
        cli.error(2, "lock", target, agent="b",
                  expect=(f"{target} is locked by alice (a) (their lock on src/ overlaps it)", "refactor"))


@pytest.mark.parametrize("mine,theirs,conflict", [
    ("src/app.py", "src/", True),
    ("src/", "src/app.py", True),
    ("src/**/*.py", "src/app.py", True),
    ("src/*.py", "src/deep/x.py", False),
    ("src/**/*.ts", "src/*.py", False),
    ("docs/**", "src/**", False),
    ("docs/*.md", "docs/guide.md", True),
    ("*.md", "README.md", True),
    ("src/app.py", "src/app.pyc", False),
])
def test_files_directories_and_globs_conflict_exactly_when_they_share_a_file(cli, mine, theirs, conflict):
    cli.ok("lock", mine, agent="a")
    result = cli("lock", theirs, agent="b")
    assert result.code == (2 if conflict else 0), result


def test_named_resources_conflict_only_with_the_same_name(cli):
    out = cli.ok("lock", "--resource", "db-migrations", "--reason", "schema v2", agent="a").out
    assert out.startswith("locked resource:db-migrations → alice until ")
    cli.error(2, "lock", "--resource", "db-migrations", agent="b",
              expect=("resource:db-migrations is locked by alice (a)", "schema v2"))
    cli.ok("lock", "--resource", "db-seed", agent="b")
    cli.ok("lock", "--resource", "src/app.py", agent="b")  # a resource is a name, not a path
    cli.ok("lock", "src/app.py", agent="b")
    assert ("resource:db-migrations", "a", "exclusive") in held(cli)


def test_several_targets_are_taken_all_or_none(cli):
    cli.ok("lock", "docs/guide.md", agent="b")
    cli.error(2, "lock", "src/app.py", "docs/", "--resource", "deploy", agent="a", expect=("locked by bob (b)",))
    assert held(cli) == [("docs/guide.md", "b", "exclusive")]
    out = cli.ok("lock", "src/app.py", "README.md", "--resource", "deploy", agent="a").out.splitlines()
    assert sorted(line.split(" →")[0] for line in out) == ["locked README.md", "locked resource:deploy",
                                                          "locked src/app.py"]


def test_shared_locks_coexist_but_exclude_an_exclusive_one(cli):
    assert "[shared]" in cli.ok("lock", "README.md", "--shared", agent="a").out
    cli.ok("lock", "README.md", "--shared", agent="b")
    assert held(cli) == [("README.md", "a", "shared"), ("README.md", "b", "shared")]
    cli.ok("register", "--name", "carol", agent="c")
    cli.error(2, "lock", "README.md", agent="c", expect=("README.md is locked by",))
    cli.ok("lock", "src/app.py", agent="c")
    cli.error(2, "lock", "src/", "--shared", agent="a", expect=("src/ is locked by carol (c)",))


def test_relocking_your_own_target_and_overlapping_your_own_locks_is_fine(cli):
    cli.ok("lock", "src/", agent="a")
    cli.ok("lock", "src/app.py", agent="a")
    cli.ok("lock", "src/", "--reason", "again", agent="a")
    assert held(cli) == [("src/", "a", "exclusive"), ("src/app.py", "a", "exclusive")]


def test_paths_are_normalised_relative_to_the_current_directory(cli):
    cli.ok("lock", "app.py", agent="a", cwd=cli.root / "src")
    cli.ok("lock", "./docs/../docs/guide.md", agent="a")
    cli.ok("lock", str(cli.root / "README.md"), agent="a")
    assert [t for t, _, _ in held(cli)] == ["README.md", "docs/guide.md", "src/app.py"]
    cli.error(2, "lock", "src//app.py", agent="b", expect=("src/app.py is locked by alice",))


def test_odd_but_valid_file_names(cli):
    for name in ("with space.txt", "ünïcødé.py", "-dash.md"):
        cli.ok("lock", "--", name, agent="a")
    assert {t for t, _, _ in held(cli)} == {"with space.txt", "ünïcødé.py", "-dash.md"}


# -- bad input ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,fragment", [
    (["/etc/passwd"], "path '/etc/passwd' is outside the repository"),
    (["../outside.txt"], "path '../outside.txt' is outside the repository"),
    (["escape/secret"], "is outside the repository"),
    ([], "name at least one target"),
    ([""], "empty path"),
    (["--resource", ""], "resource name must not be empty"),
    (["src/*/../x"], "'..' after a wildcard is not supported"),
    (["README.md", "--ttl", "-5"], "--ttl must be more than 0 and at most 10080 minutes, got -5"),
    (["README.md", "--ttl", "0"], "--ttl must be more than 0 and at most 10080 minutes, got 0"),
    (["README.md", "--ttl", "10081"], "--ttl must be more than 0 and at most 10080 minutes"),
    (["README.md", "--ttl", "soon"], "argument --ttl: not a number: 'soon'"),
    (["README.md", "--ttl", "nan"], "not a finite number"),
    (["README.md", "--ttl", "inf"], "not a finite number"),
    (["README.md", "--wait", "-1"], "--wait must not be negative"),
    (["README.md", "--reason", "r" * 501], "reason is too long (501 characters; the limit is 500)"),
    (["README.md", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_lock_input_is_one_line_and_exit_1(cli, args, fragment):
    (cli.root / "escape").symlink_to("/tmp")
    cli.error(1, "lock", *args, agent="a", expect=(fragment,))
    assert held(cli) == []


def test_nul_bytes_in_a_target_are_refused_by_the_core(cli):
    ctx = cli.context(Clock(), "a")
    with pytest.raises(UsageError, match="NUL"):
        locks.lock(ctx, ["src/a\x00pp.py"])
    with pytest.raises(UsageError, match="NUL"):
        locks.lock(ctx, resources=["db\x00x"])


# -- TTL ---------------------------------------------------------------------------------------------------

def test_ttl_sets_the_expiry(cli):
    view = cli.json("lock", "README.md", "--ttl", "5", agent="a")["locks"][0]
    assert 290 < view["expires_in_s"] <= 300
    view = cli.json("lock", "src/app.py", "--ttl", "0.5", agent="a")["locks"][0]
    assert 25 < view["expires_in_s"] <= 30


# -- unlock ------------------------------------------------------------------------------------------------

def test_only_the_owner_unlocks_unless_forced(cli):
    cli.ok("lock", "src/app.py", "docs/", agent="a")
    cli.error(2, "unlock", "src/app.py", agent="b",
              expect=("src/app.py is held by alice, not by you; use --force to break it",))
    assert cli.ok("unlock", "src/app.py", "--force", agent="b").out == "unlocked src/app.py (held by alice)\n"
    assert cli.ok("unlock", "docs/", agent="a").out == "unlocked docs/\n"
    assert held(cli) == []
    activity = cli.json("activity", agent="a")["activity"]
    assert any(e["message"] == "unlocked src/app.py (forced: alice)" for e in activity)


def test_unlock_of_something_nobody_holds_is_not_found(cli):
    cli.error(1, "unlock", "README.md", agent="a", expect=("you hold no lock on README.md",))
    cli.error(1, "unlock", "--resource", "nothing", agent="a", expect=("you hold no lock on resource:nothing",))
    cli.error(1, "unlock", agent="a", expect=("name what to unlock, or use --all",))


def test_unlock_all_releases_only_your_own(cli):
    assert cli.ok("unlock", "--all", agent="a").out == "you held no locks\n"
    cli.ok("lock", "src/app.py", "--resource", "deploy", agent="a")
    cli.ok("lock", "docs/", agent="b")
    assert cli.ok("unlock", "--all", agent="a").out == "unlocked resource:deploy\nunlocked src/app.py\n"
    assert held(cli) == [("docs/", "b", "exclusive")]
    cli.error(1, "unlock", "--all", "--force", agent="a", expect=("--all releases your own locks",))
    assert held(cli) == [("docs/", "b", "exclusive")]


# -- renew -------------------------------------------------------------------------------------------------

def test_renew_extends_your_live_locks(cli):
    cli.ok("lock", "README.md", "--ttl", "1", agent="a")
    cli.ok("lock", "--resource", "deploy", "--ttl", "1", agent="a")
    out = cli.ok("renew", "README.md", "--ttl", "30", agent="a").out
    assert out.startswith("renewed README.md → alice until ")
    views = cli.json("renew", "--all", "--ttl", "20", agent="a")["locks"]
    assert sorted(v["target"] for v in views) == ["README.md", "resource:deploy"]
    assert all(1190 < v["expires_in_s"] <= 1200 for v in views)


def test_renew_of_a_lock_you_do_not_hold_is_an_error(cli):
    cli.ok("lock", "src/app.py", agent="b")
    cli.error(1, "renew", "src/app.py", agent="a",
              expect=("you no longer hold a lock on src/app.py; lock it again",))
    cli.error(1, "renew", "README.md", agent="a", expect=("you no longer hold a lock on README.md",))
    cli.error(1, "renew", "--all", agent="a", expect=("you hold no live locks to renew",))
    cli.error(1, "renew", agent="a", expect=("name what to renew, or use --all",))
    cli.error(1, "renew", "--all", "--ttl", "-1", agent="b", expect=("--ttl must be more than 0",))


def test_renew_of_a_lock_that_expired_is_an_error_even_if_nobody_took_it(cli):
    clock = Clock()
    ctx = cli.context(clock, "a")
    locks.lock(ctx, ["README.md"], ttl_minutes=1)
    clock.advance(61)
    with pytest.raises(NotFound, match="you no longer hold a lock on README.md; lock it again"):
        locks.renew(ctx, ["README.md"])
    with pytest.raises(NotFound):
        locks.renew(ctx, everything=True)


def test_renew_after_someone_else_took_the_expired_target_does_not_steal_it(cli):
    clock = Clock()
    a, b = cli.context(clock, "a"), cli.context(clock, "b")
    locks.lock(a, ["README.md"], ttl_minutes=1)
    clock.advance(61)
    locks.lock(b, ["README.md"])
    with pytest.raises(NotFound):
        locks.renew(a, ["README.md"])
    with pytest.raises(Conflict, match="locked by b"):
        locks.lock(a, ["README.md"])


# -- expiry and staleness on a controlled clock -------------------------------------------------------------

def test_a_lock_stops_holding_at_its_ttl(cli):
    clock = Clock()
    a, b = cli.context(clock, "a"), cli.context(clock, "b")
    locks.lock(a, ["src/"], ttl_minutes=5, reason="short")
    clock.advance(5 * 60 - 1)
    presence.heartbeat(a)
    with pytest.raises(Conflict, match="src/app.py is locked by"):
        locks.lock(b, ["src/app.py"])
    clock.advance(2)
    presence.heartbeat(a)  # the holder is alive; the lock ran out
    assert locks.lock(b, ["src/app.py"])[0]["holder"] == "b"


def test_a_stale_or_ended_holder_stops_holding(cli):
    clock = Clock()
    a, b, c = (cli.context(clock, x) for x in "abc")
    locks.lock(a, ["README.md"], ttl_minutes=600)
    locks.lock(c, ["docs/"], ttl_minutes=600)
    with c.store.write() as tx:
        presence.end_session_in(tx, c)
    assert locks.lock(b, ["docs/guide.md"])[0]["holder"] == "b"  # c's session ended
    clock.advance(a.settings.stale_minutes * 60 + 1)
    assert locks.lock(b, ["README.md"])[0]["holder"] == "b"  # a went stale


def test_locks_all_shows_why_a_lock_no_longer_holds(cli):
    now = time.time()
    for agent, ago, ttl in (("expired-holder", 2 * 3600, 1), ("stale-holder", 20 * 60, 600),
                            ("offline-holder", 90 * 60, 600)):
        ctx = cli.context(Clock(now - ago), agent)
        presence.register(ctx, agent)
        locks.lock(ctx, [f"docs/{agent}.md"], ttl_minutes=ttl)
    idle = cli.context(Clock(now - 60), "idle-holder")
    locks.lock(idle, ["docs/idle-holder.md"], ttl_minutes=600)
    with idle.store.write() as tx:
        presence.end_session_in(tx, idle)
    cli.ok("lock", "README.md", agent="a")
    assert held(cli) == [("README.md", "a", "exclusive")]
    states = {v["target"]: v["state"] for v in cli.json("locks", "--all", agent="a")["locks"]}
    assert states == {"README.md": "live", "docs/expired-holder.md": "expired",
                      "docs/stale-holder.md": "holder stale", "docs/offline-holder.md": "holder offline",
                      "docs/idle-holder.md": "holder idle"}
    text = cli.ok("locks", "--all", agent="a").out
    assert "docs/expired-holder.md → expired-holder until" in text and "[expired]" in text
    assert "[holder stale]" in text and "[holder offline]" in text and "[holder idle]" in text
    cli.ok("lock", "docs/", agent="b")  # none of them holds any more


# -- waiting -----------------------------------------------------------------------------------------------

def test_wait_gives_up_with_a_conflict_after_the_wait(cli):
    cli.ok("lock", "README.md", agent="a")
    cli.error(2, "lock", "README.md", "--wait", "0.4", agent="b", expect=("README.md is locked by alice (a)",))
    cli.ok("lock", "src/app.py", "--wait", "--reason", "bare wait on a free target", agent="b")
    cli.ok("lock", "docs/", "--wait=2", agent="b")


def test_a_waiter_gets_the_lock_when_it_is_released(cli):
    cli.ok("lock", "README.md", agent="a")
    waiter = cli.popen("lock", "README.md", "--wait", "20", "--reason", "queued", agent="b")
    wait_until_queued(cli, "b")
    cli.ok("register", "--name", "carol", agent="c")
    cli.ok("unlock", "README.md", agent="a")
    # the queue is first come, first served: carol, arriving after bob, does not jump it
    cli.error(2, "lock", "README.md", agent="c", expect=("README.md is", "bob (b)"))
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert out.startswith("locked README.md → bob until ")
    assert held(cli) == [("README.md", "b", "exclusive")]


def test_wait_on_a_controlled_clock_takes_the_lock_once_it_expires(cli):
    clock = Clock()
    a, b = cli.context(clock, "a"), cli.context(clock, "b")
    locks.lock(a, ["README.md"], ttl_minutes=1)
    start = clock.now
    assert locks.lock(b, ["README.md"], wait=120)[0]["holder"] == "b"
    assert 60 <= clock.now - start < 62
    with pytest.raises(Conflict, match="locked by b"):
        locks.lock(a, ["README.md"], wait=5)
    with b.store.read() as tx:
        assert [w for w in tx.waiters() if w["expires_at"] > tx.now] == []  # nobody is left in the queue


def test_interrupting_a_waiter_leaves_no_queue_entry(cli):
    cli.ok("lock", "README.md", agent="a")
    waiter = cli.popen("lock", "README.md", "--wait", "30", agent="b")
    wait_until_queued(cli, "b")
    waiter.send_signal(2)  # SIGINT
    waiter.communicate(timeout=30)
    assert waiter.returncode == 130
    cli.ok("unlock", "README.md", agent="a")
    cli.ok("lock", "README.md", agent="c")  # no phantom waiter ahead of c


def test_a_bad_default_ttl_setting_is_one_line_naming_it(cli):
    env = {"AGENT_SYNC_LOCK_TTL_MINUTES": "0"}
    cli.error(1, "lock", "README.md", agent="a", env=env,
              expect=("environment AGENT_SYNC_LOCK_TTL_MINUTES", "lock_ttl_minutes must be at least"))
    assert held(cli) == []
