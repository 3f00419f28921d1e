"""What a first week with three agent windows turns up: losers are told what they lost, input of any size or
spelling gets a clear answer, recipients are never guessed, names say something, a person looking is not an
agent, tasks give back their locks, and waiting is visible."""

import json
import os
import subprocess
import sys
import time

import pytest

from agent_sync.core import locks, messages
from agent_sync.errors import NotFound
from agent_sync.identity import session_agent_id
from helpers import WAITING_LINE, Cli, Clock, assert_one_line_error

ALICE_SESSION = "a11ce000-1111-4e55-9a0b-7f6a2c1d9e01"


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def claude(cli: Cli, event: str, session: str = ALICE_SESSION, **payload):
    body = dict({"session_id": session, "cwd": str(cli.root), "hook_event_name": event}, **payload)
    return cli.hook(event, body)


def context_of(result) -> str:
    assert result.code == 0, result
    return json.loads(result.out)["hookSpecificOutput"]["additionalContext"]


# -- the loser is told -----------------------------------------------------------------------------------------

def test_a_lock_broken_with_force_is_reported_to_its_holder_at_its_next_prompt(cli):
    alice = session_agent_id(ALICE_SESSION, "claude")
    cli.ok("lock", "src/app.py", agent=None, env={"CLAUDE_CODE_SESSION_ID": ALICE_SESSION})
    cli.ok("unlock", "src/app.py", "--force", agent="bob")
    told = context_of(claude(cli, "user-prompt-submit", prompt="go on"))
    assert "Your lock on src/app.py is gone: broken with unlock --force by bob" in told
    assert "agent-sync send --to bob" in told
    assert claude(cli, "user-prompt-submit", prompt="again").out == ""  # told once
    assert any(m["from"] == "agent-sync" for m in cli.json("inbox", "--all", agent=alice)["messages"])


def test_the_next_tool_call_brings_the_news_too(cli):
    cli.ok("lock", "README.md", agent=None, env={"CLAUDE_CODE_SESSION_ID": ALICE_SESSION})
    cli.ok("unlock", "README.md", "--force", agent="bob")
    after = claude(cli, "post-tool-use", tool_name="Bash", tool_input={"command": "ls"}, tool_response="")
    assert "Your lock on README.md is gone" in context_of(after)


def test_a_lock_taken_over_from_a_stale_holder_is_reported_with_who_holds_it_now(cli):
    cli.ok("lock", "src/app.py", "--ttl", "600", agent="alice")
    with cli.context(Clock(0)) as probe, probe.store.read() as tx:
        seen = tx.get_agent("alice")["last_seen"]
    bob = cli.context(Clock(seen + 20 * 60), "bob")
    locks.lock(bob, ["src/app.py"])
    alice = cli.context(Clock(seen + 21 * 60), "alice")
    notices = [m["body"] for m in messages.inbox(alice) if m["from"] == "agent-sync"]
    assert notices == ["Your lock on src/app.py is gone: you were stale, and it was taken over by bob. It no longer "
                       "holds; before editing src/app.py again, coordinate: agent-sync send --to bob --message '...'"]
    with pytest.raises(NotFound, match="you no longer hold a lock on src/app.py"):
        locks.renew(alice, ["src/app.py"])
    bob.close()
    alice.close()


def test_a_lock_that_lapsed_is_reported_at_the_holders_next_push(cli):
    cli.ok("lock", "docs/", "--ttl", "1", agent="alice")
    with cli.context(Clock(0)) as probe, probe.store.read() as tx:
        created = tx.get_agent("alice")["last_seen"]
    alice = cli.context(Clock(created + 120), "alice")
    with alice.store.write() as tx:
        locks.tell_lapsed(tx, alice)
        pending = messages.undelivered(tx, alice, directed_only=True)
    assert [m["body"].split(" and ")[0] for m in pending] == [
        f"Your lock on docs/ expired at {locks.hhmm(created + 60)}"]
    assert locks.list_locks(alice, include_all=True) == []  # it no longer holds, and it is gone
    alice.close()


# -- input of any size or spelling -----------------------------------------------------------------------------

def test_a_write_payload_over_any_size_cap_is_still_decided_on_its_tool_and_path(cli):
    cli.ok("lock", "src/app.py", agent="bob")
    huge = "x" * (9 * 1024 * 1024)
    for tool, tool_input in (("Write", {"file_path": str(cli.root / "src/app.py"), "content": huge}),
                             ("Bash", {"command": f"cat > src/app.py <<'EOF'\n{huge}\nEOF"})):
        result = claude(cli, "pre-tool-use", tool_name=tool, tool_input=tool_input)
        assert result.code == 2, (tool, result.code, result.err[:300])
        assert "src/app.py is locked by bob" in result.err
    free = claude(cli, "pre-tool-use", tool_name="Write",
                  tool_input={"file_path": str(cli.root / "README.md"), "content": huge})
    assert free.code == 0 and free.err == "", free


@pytest.mark.parametrize("args,expect", [
    (("lock", "src/caf\udce9.py"), "path is not valid UTF-8 text"),
    (("send", "--to", "bob", "--message", "\udce9"), "message is not valid UTF-8 text"),
    (("lock", "a" * 5000), "path is too long (5000 characters; the limit is 4096)"),
    (("lock", "x.py", "--ttl", "99999999"), "--ttl must be more than 0 and at most 10080 minutes, got 99999999"),
])
def test_odd_input_is_one_clear_line_and_exit_1(cli, args, expect):
    cli.ok("whoami", agent="bob")
    encoded = [a.encode("utf-8", "surrogateescape") for a in args]
    proc = subprocess.run([sys.executable, "-m", "agent_sync", *encoded], cwd=cli.root, env=cli.env("alice"),
                          capture_output=True)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1, err
    assert err.count("\n") == 1 and err.startswith("agent-sync:") and "internal error" not in err, err
    assert expect in err, err


def test_a_non_utf8_identity_is_a_clear_error(cli):
    env = {k: v for k, v in cli.env(None).items()}
    proc = subprocess.run([sys.executable, "-m", "agent_sync", "status"], cwd=cli.root,
                          env={**{k.encode(): v.encode() for k, v in env.items()}, b"AGENT_SYNC_ID": b"\xff"},
                          capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "agent-sync: AGENT_SYNC_ID is not valid UTF-8 text; set it to a plain name\n"


def test_a_trailing_slash_on_a_file_locks_that_file(cli):
    assert cli.json("lock", "src/app.py/", agent="alice")["locks"][0]["target"] == "src/app.py"
    cli.error(2, "lock", "src/app.py", agent="bob", expect=("src/app.py is locked by alice",))


def test_a_path_with_a_newline_can_be_locked_and_unlocked(cli):
    name = "odd\nname.py"
    (cli.root / name).write_text("x")
    assert cli.json("lock", name, agent="alice")["locks"][0]["target"] == name
    cli.error(2, "lock", name, agent="bob", expect=("is locked by alice",))
    out = cli.ok("unlock", name, agent="alice").out
    assert out == "unlocked odd name.py\n"  # shown on one line
    cli.ok("lock", name, agent="bob")


# -- where the state lives -------------------------------------------------------------------------------------

def test_outside_a_repository_nothing_is_created_and_the_message_says_what_to_do(tmp_path):
    cli = Cli(tmp_path)
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    for cwd in (outside, "/"):
        result = cli("status", cwd=cwd)
        assert_one_line_error(result, 1, "is not inside a git repository", "AGENT_SYNC_ROOT")
    assert not (outside / ".claude").exists()
    assert not os.path.exists("/.claude/coordination")


def test_a_mistyped_agent_sync_root_is_refused_not_created(tmp_path):
    cli = Cli(tmp_path)
    missing = tmp_path / "typo" / "root"
    assert_one_line_error(cli("status", env={"AGENT_SYNC_ROOT": str(missing)}), 1,
                          f"AGENT_SYNC_ROOT={missing} is not an existing directory")
    assert not (tmp_path / "typo").exists()


def test_state_in_the_home_directory_is_never_shared_by_everything_below_it(tmp_path):
    cli = Cli(tmp_path)
    (cli.home / ".claude" / "coordination").mkdir(parents=True)
    project = cli.home / "scratch"
    project.mkdir()
    assert_one_line_error(cli("status", cwd=project, env={"HOME": str(cli.home)}), 1, "not inside a git repository")


# -- recipients ------------------------------------------------------------------------------------------------

def test_an_id_a_name_and_a_role_that_collide_are_refused_listing_the_candidates(cli):
    cli.ok("whoami", agent="UI")  # an agent whose id is UI
    cli.ok("register", "--name", "web", "--role", "UI", agent="w1")
    cli.ok("register", "--name", "mobile", "--role", "UI", agent="w2")
    line = cli.error(1, "send", "--to", "UI", "-m", "hi", agent="alice")
    assert "--to 'UI' is ambiguous" in line and "id:UI (agent UI)" in line and "role:UI (2 agent(s): mobile, web)" in line
    assert cli.json("send", "--to", "role:UI", "-m", "to the role", agent="alice")["to_kind"] == "role"
    assert cli.json("send", "--to", "id:UI", "-m", "to the agent", agent="alice")["to"] == "UI"
    assert [m["body"] for m in cli.json("inbox", agent="w1")["messages"]] == ["to the role"]
    assert [m["body"] for m in cli.json("inbox", agent="UI")["messages"]] == ["to the agent"]


def test_a_message_to_a_name_reaches_that_agent_only(cli):
    env = {"AGENT_SYNC_NAME": "frontend"}
    claude(cli, "session-start", session="s-one", source="startup")
    cli.hook("session-start", {"session_id": "s-one", "cwd": str(cli.root), "source": "startup"}, env=env)
    cli.hook("session-start", {"session_id": "s-two", "cwd": str(cli.root), "source": "startup"}, env=env)
    names = {a["id"]: a["name"] for a in cli.json("status", agent="alice")["agents"]}
    one, two = session_agent_id("s-one", "claude"), session_agent_id("s-two", "claude")
    assert (names[one], names[two]) == ("frontend", "frontend-2")
    cli.ok("send", "--to", "frontend", "-m", "for frontend", agent="alice")
    assert [m["body"] for m in cli.json("inbox", agent=None, env={"CLAUDE_CODE_SESSION_ID": "s-one"})["messages"]] == [
        "for frontend"]
    assert cli.json("inbox", agent=None, env={"CLAUDE_CODE_SESSION_ID": "s-two"})["messages"] == []


# -- smaller things --------------------------------------------------------------------------------------------

def test_demo_offers_no_json_it_would_not_print(cli):
    assert_one_line_error(cli("demo", "--json"), 1, "unrecognized arguments: --json")
    assert "--json" not in cli.ok("demo", "--help").out


def test_append_of_empty_stdin_appends_nothing(cli):
    before = (cli.root / "README.md").read_bytes()
    assert cli.ok("append", "README.md", stdin="").out == "nothing to append to README.md: the content is empty\n"
    assert (cli.root / "README.md").read_bytes() == before


def test_a_task_titled_like_an_id_is_reachable_by_its_title(cli):
    cli.ok("create-task", "2", agent="a")  # #1, titled "2"
    cli.ok("create-task", "something else", agent="a")  # #2
    cli.error(1, "task", "2", agent="a", expect=("'2' is task #2 and also the title of #1", "#2", "title:2"))
    assert cli.json("task", "title:2", agent="a")["id"] == 1
    assert cli.json("task", "#2", agent="a")["id"] == 2
    cli.ok("create-task", "7", agent="a")  # #3; no task #7: the title answers
    assert cli.json("task", "7", agent="a")["id"] == 3


def test_an_exclusive_request_against_shared_holders_names_them_all(cli):
    cli.ok("lock", "README.md", "--shared", agent="a")
    cli.ok("lock", "README.md", "--shared", agent="b")
    cli.error(2, "lock", "README.md", agent="c", expect=("README.md is locked by a, b (2 shared locks)",))


def test_activity_for_a_file_shows_its_lock_and_unlock(cli):
    cli.ok("lock", "src/app.py", "README.md", agent="a")
    cli.ok("unlock", "src/app.py", agent="a")
    kinds = [(e["type"], e["message"]) for e in cli.json("activity", "--file", "src/app.py", agent="a")["activity"]]
    assert kinds == [("lock", "locked src/app.py"), ("unlock", "unlocked src/app.py")]


def test_priority_runs_high_to_low_and_help_says_so(cli):
    assert "higher goes first" in cli.ok("create-task", "--help").out
    cli.ok("create-task", "low", "--priority", "1", agent="a")
    cli.ok("create-task", "high", "--priority", "9", agent="a")
    assert cli.json("claim-next", agent="a")["title"] == "high"


# -- names, and a person looking -------------------------------------------------------------------------------

def test_a_session_named_at_start_and_default_names_that_say_something(cli):
    subprocess.run(["git", "checkout", "-q", "-b", "login-form"], cwd=cli.root, check=True)
    cli.hook("session-start", {"session_id": "named", "cwd": str(cli.root), "source": "startup"},
             env={"AGENT_SYNC_NAME": "backend", "AGENT_SYNC_ROLE": "API"})
    claude(cli, "session-start", session="plain", source="startup")
    agents = {a["id"]: a for a in cli.json("status", agent=None)["agents"]}
    named, plain = agents[session_agent_id("named", "claude")], agents[session_agent_id("plain", "claude")]
    assert (named["name"], named["role"], named["branch"]) == ("backend", "API", "login-form")
    assert plain["name"] == "claude@login-form"
    cli.ok("log", "wired the endpoint", agent=None, env={"CLAUDE_CODE_SESSION_ID": "named"})
    text = cli.ok("status", agent=None).out
    assert "backend [active] — API @login-form — seen 0s ago; last: wired the endpoint" in text


def test_a_person_looking_is_not_an_agent(cli):
    for command in (("status",), ("locks",), ("whoami",), ("path",), ("config",), ("tasks",)):
        cli.ok(*command, agent=None)
    assert cli.json("status", agent=None)["agents"] == []
    # so a person watching the state never stops an agent's git reset
    claude(cli, "session-start", session="worker", source="startup")
    reset = claude(cli, "pre-tool-use", session="worker", tool_name="Bash",
                   tool_input={"command": "git reset --hard"})
    assert reset.code == 0, reset


def test_tasks_give_back_the_locks_their_claim_took(cli):
    for title, path in (("done one", "src/app.py"), ("given back", "README.md"), ("dropped", "docs/")):
        cli.ok("create-task", title, "--file", path, agent="a")
    cli.ok("claim-task", "done one", "--lock", agent="a")
    cli.ok("claim-task", "given back", "--lock", agent="a")
    cli.ok("claim-task", "dropped", "--lock", agent="a")
    cli.ok("lock", "notes.md", agent="a")  # a lock of its own, not the task's
    out = cli.ok("complete-task", "done one", agent="a").out
    assert "released its locks: src/app.py" in out
    assert cli.json("release-task", "given back", agent="a")["released_locks"] == ["README.md"]
    assert cli.json("cancel-task", "dropped", agent="a")["released_locks"] == ["docs/"]
    assert [v["target"] for v in cli.json("locks", agent="a")["locks"]] == ["notes.md"]


def test_waiting_is_visible_to_the_waiter_and_to_everyone(cli):
    cli.ok("lock", "README.md", agent="alice")
    waiter = cli.popen("lock", "README.md", "--wait", "30", agent="bob")
    deadline = time.monotonic() + 30
    while not cli.json("locks", agent="carol")["waiters"]:
        assert time.monotonic() < deadline, "bob never queued"
        time.sleep(0.05)
    seen = cli.json("locks", agent="carol")
    assert [(w["target"], w["agent_name"]) for w in seen["waiters"]] == [("README.md", "bob")]
    assert "README.md ← bob waiting" in cli.ok("locks", agent="carol").out
    assert "waiting:" in cli.ok("status", agent="carol").out
    cli.ok("unlock", "README.md", agent="alice")
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    first = err.splitlines()[0]
    assert WAITING_LINE.fullmatch(first) and "behind alice; place 1" in first, err


@pytest.mark.one_store  # pure formatting
@pytest.mark.parametrize("url,shown_as", [
    ("postgresql://db.example/agents?pass%77ord=s3cret", "postgresql://db.example/agents?password=***"),
    ("postgresql://alice:s3cret@db.example/agents?application_name=a@b",
     "postgresql://alice:***@db.example/agents?application_name=a%40b"),
    ("postgresql://[::1]:5433/db?sslmode=require&PASSWORD=s3cret",
     "postgresql://[::1]:5433/db?sslmode=require&PASSWORD=***"),
    ("host=db.example password=s3cret", "(a connection string that is not a URL, not shown)"),
    ("postgresql://db.example:99999/db?password=s3cret", "(an unreadable URL, not shown)"),
])
def test_a_database_url_is_shown_without_its_password_wherever_it_sits(url, shown_as):
    from agent_sync.config import shown

    assert shown("database_url", url) == shown_as
