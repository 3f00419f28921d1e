"""The task board through the real CLI: ids and titles, dependencies, claiming, the ready queue, and every state
change; ownership by agents that went quiet on a controlled clock."""

import time

import pytest

from agent_sync.core import presence, tasks
from agent_sync.errors import Conflict, UsageError
from helpers import Cli, Clock


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENT_SYNC_ROOT", raising=False)
    c = Cli(tmp_path)
    (c.root / "docs").mkdir()
    (c.root / "docs" / "guide.md").write_text("guide\n")
    for agent, name in (("a", "alice"), ("b", "bob")):
        presence.register(c.context(time.time, agent), name)
    return c


def create(cli, title, *args, agent="a"):
    return cli.json("create-task", title, *args, agent=agent)


def board(cli):
    """{id: (status, owner)} read in process."""
    return {t["id"]: (t["status"], t["owner"]) for t in tasks.list_tasks(cli.context(time.time, "a"))}


# -- creating and naming ----------------------------------------------------------------------------------

def test_create_task_prints_the_new_id_and_keeps_files_and_priority(cli):
    assert cli.ok("create-task", "Update login UI", agent="a").out == "created #1 [open] Update login UI\n"
    task = create(cli, "Add /login endpoint", "--file", "./src/../src/app.py", "--file", "docs", "--priority", "5",
                  "--description", "POST /login returns {token,user}")
    assert {k: task[k] for k in ("id", "title", "status", "priority", "owner", "files", "waiting_on", "created_by",
                                 "description")} == {
        "id": 2, "title": "Add /login endpoint", "status": "open", "priority": 5, "owner": None,
        "files": ["docs/", "src/app.py"], "waiting_on": [], "created_by": "a",
        "description": "POST /login returns {token,user}"}
    detail = cli.ok("task", "2", agent="b").out.splitlines()
    assert detail == ["#2 [open] p5 Add /login endpoint", "POST /login returns {token,user}",
                      "files: docs/, src/app.py"]


@pytest.mark.parametrize("args,fragment", [
    ([""], "title must not be empty"),
    (["   "], "title must not be empty"),
    (["t" * 301], "title is too long (301 characters; the limit is 300)"),
    (["ok", "--description", "d" * 20_001], "description is too long"),
    (["ok", "--priority", "-1"], "--priority must be a whole number from 0 to 1000000, got -1"),
    (["ok", "--priority", "1000001"], "--priority must be a whole number from 0 to 1000000"),
    (["ok", "--priority", "1.5"], "argument --priority: not a whole number: '1.5'"),
    (["ok", "--priority", "high"], "not a whole number"),
    (["ok", "--depends-on", "99"], "no task with id or title '99'"),
    (["ok", "--file", "/etc/passwd"], "outside the repository"),
    (["ok", "--file", ""], "empty path"),
    ([], "the following arguments are required: title"),
])
def test_create_task_rejects_bad_input(cli, args, fragment):
    cli.error(1, "create-task", *args, agent="a", expect=(fragment,))
    assert board(cli) == {}


def test_nul_bytes_in_a_title_are_refused_by_the_core(cli):
    with pytest.raises(UsageError, match="NUL"):
        tasks.create(cli.context(Clock(), "a"), "bad\x00title")


def test_tasks_are_named_by_id_hash_id_or_case_insensitive_title(cli):
    create(cli, "Write the docs")
    for ref in ("1", "#1", "write THE docs", "  Write the docs  "):
        assert cli.json("task", ref, agent="a")["id"] == 1
    for command in ("task", "claim-task", "complete-task", "cancel-task", "reopen-task", "release-task"):
        cli.error(1, command, "99", agent="a", expect=("no task with id or title '99'", "agent-sync tasks"))
    cli.error(1, "block-task", "nope", "--reason", "r", agent="a", expect=("no task with id or title 'nope'",))
    cli.error(1, "task", " ", agent="a", expect=("name a task by id or title",))


def test_an_ambiguous_title_lists_the_ids(cli):
    create(cli, "Fix bug")
    create(cli, "fix BUG")
    for command in (["claim-task", "Fix bug"], ["task", "fix bug"], ["complete-task", "FIX BUG"],
                    ["create-task", "x", "--depends-on", "Fix bug"], ["add-dependency", "Fix bug", "1"]):
        cli.error(1, *command, agent="a",
                  expect=("matches several tasks (#1, #2); name one by id",))
    assert cli.json("claim-task", "2", agent="a")["title"] == "fix BUG"


def test_tasks_lists_the_board_in_order_and_filters_by_status(cli):
    assert cli.ok("tasks", agent="a").out == "no tasks\n"
    create(cli, "low")
    create(cli, "high", "--priority", "9")
    create(cli, "done", "--priority", "3")
    cli.ok("claim-task", "low", agent="a")
    cli.ok("complete-task", "done", agent="a")
    assert cli.ok("tasks", agent="b").out.splitlines() == [
        "#1 [in_progress] low @alice", "#2 [open] p9 high", "#3 [done] p3 done"]
    assert [t["id"] for t in cli.json("tasks", "--status", "open", agent="b")["tasks"]] == [2]
    owner = cli.json("tasks", "--status", "in_progress", agent="b")["tasks"][0]
    assert (owner["owner"], owner["owner_name"], owner["owner_status"]) == ("a", "alice", "active")
    cli.error(1, "tasks", "--status", "finished", agent="a", expect=("invalid choice: 'finished'",))


# -- dependencies -----------------------------------------------------------------------------------------

def test_dependencies_are_recorded_and_cycles_refused(cli):
    for title in ("schema", "api", "ui"):
        create(cli, title)
    assert cli.ok("add-dependency", "api", "schema", agent="a").out == "#2 now waits on #1\n"
    assert cli.ok("add-dependency", "ui", "api", agent="a").out == "#3 now waits on #2\n"
    cli.error(1, "add-dependency", "schema", "ui", agent="a",
              expect=("#1 -> #3 would make a dependency cycle (#3 already waits on #1)",))
    cli.error(1, "add-dependency", "api", "api", agent="a", expect=("task #2 cannot depend on itself",))
    cli.error(1, "add-dependency", "api", "nothing", agent="a", expect=("no task with id or title 'nothing'",))
    assert cli.json("task", "schema", agent="a")["dependents"] == [2]
    assert cli.ok("task", "1", agent="a").out.splitlines()[-1] == "needed by: #2"
    cli.ok("complete-task", "schema", agent="a")
    create(cli, "later")
    assert cli.ok("add-dependency", "later", "schema", agent="a").out == "#4 dependency recorded (already finished)\n"


def test_a_task_waiting_on_others_cannot_be_claimed_without_force(cli):
    create(cli, "schema")
    create(cli, "api", "--depends-on", "schema")
    assert cli.json("task", "api", agent="a")["waiting_on"] == [1]
    assert "#2 [open] api waits on #1" in cli.ok("tasks", agent="a").out
    cli.error(1, "claim-task", "api", agent="a",
              expect=("task #2 waits on #1 (open); finish those first or use --force",))
    assert cli.json("claim-task", "api", "--force", agent="a")["status"] == "in_progress"


# -- claiming ---------------------------------------------------------------------------------------------

def test_a_task_held_by_an_active_agent_cannot_be_claimed(cli):
    create(cli, "login")
    assert cli.ok("claim-task", "login", agent="a").out == "claimed #1 [in_progress] login @alice\n"
    cli.error(2, "claim-task", "login", agent="b",
              expect=("task #1 is held by alice (a), who is active",
                      "ask them: agent-sync send --to alice --message '...'"))
    cli.ok("claim-task", "1", agent="a")  # claiming your own again is fine
    assert board(cli) == {1: ("in_progress", "a")}
    assert cli.json("claim-task", "1", "--force", agent="b")["owner"] == "b"
    assert cli.json("whoami", agent="b")["current_task"] == 1


def test_a_task_of_an_agent_that_went_quiet_can_be_taken_over(cli):
    clock = Clock()
    a, b = cli.context(clock, "a"), cli.context(clock, "b")
    tasks.create(a, "abandoned")
    tasks.claim(a, "abandoned")
    with pytest.raises(Conflict, match="who is active"):
        tasks.claim(b, "abandoned")
    clock.advance(a.settings.stale_minutes * 60 + 1)
    assert tasks.claim(b, "abandoned")["owner"] == "b"


def test_claim_with_lock_takes_the_task_and_its_files_or_nothing(cli):
    create(cli, "docs and app", "--file", "src/app.py", "--file", "docs/")
    cli.ok("lock", "docs/guide.md", "--reason", "proofreading", agent="b")
    cli.error(2, "claim-task", "1", "--lock", agent="a",
              expect=("docs/ is locked by bob (b)", "proofreading"))
    assert board(cli) == {1: ("open", None)}
    assert cli.json("locks", agent="a")["locks"][0]["holder"] == "b"
    assert len(cli.json("locks", agent="a")["locks"]) == 1
    cli.ok("unlock", "docs/guide.md", agent="b")
    assert cli.ok("claim-task", "1", "--lock", agent="a").out == \
        "claimed #1 [in_progress] docs and app @alice and locked its files\n"
    mine = {(v["target"], v["holder"], v["reason"]) for v in cli.json("locks", agent="a")["locks"]}
    assert mine == {("docs/", "a", "task #1: docs and app"), ("src/app.py", "a", "task #1: docs and app")}
    create(cli, "no files")
    cli.error(1, "claim-task", "2", "--lock", agent="a",
              expect=("task #2 names no files to lock (create it with --file)",))
    assert board(cli)[2] == ("open", None)


def test_claim_next_takes_the_highest_priority_ready_task(cli):
    create(cli, "base", "--priority", "1")
    create(cli, "urgent but waiting", "--priority", "9", "--depends-on", "base")
    create(cli, "medium", "--priority", "5")
    create(cli, "medium too", "--priority", "5")
    assert cli.ok("claim-next", agent="a").out == "claimed #3 [in_progress] p5 medium @alice\n"
    assert cli.json("claim-next", agent="b")["id"] == 4  # same priority: the older one went first
    assert cli.json("claim-next", agent="b")["id"] == 1
    cli.error(1, "claim-next", agent="a", expect=("no ready task to claim",))
    out = cli.ok("complete-task", "base", agent="b").out
    assert out.splitlines() == ["completed #1 [done] p1 base @bob", "unblocked: #2 urgent but waiting"]
    assert cli.json("claim-next", agent="a")["id"] == 2


def test_claim_next_with_lock_skips_tasks_whose_files_are_held(cli):
    create(cli, "blocked by a lock", "--file", "README.md", "--priority", "9")
    cli.ok("lock", "README.md", "--reason", "rewriting", agent="b")
    cli.error(1, "claim-next", "--lock", agent="a",
              expect=("no ready task to claim", "1 ready task(s) have locked files",
                      "README.md is locked by bob (b)"))
    create(cli, "free", "--file", "src/app.py", "--priority", "1")
    task = cli.json("claim-next", "--lock", agent="a")
    assert (task["id"], task["owner"]) == (2, "a")
    assert ("src/app.py", "a") in {(v["target"], v["holder"]) for v in cli.json("locks", agent="a")["locks"]}


def test_claim_next_reclaims_a_task_whose_owner_went_quiet(cli):
    clock = Clock()
    a, b = cli.context(clock, "a"), cli.context(clock, "b")
    tasks.create(a, "crashed session's task", priority=3)
    tasks.create(a, "ordinary", priority=1)
    assert tasks.claim_next(a)["id"] == 1
    assert tasks.claim_next(b)["id"] == 2
    tasks.release(b, "2")
    clock.advance(a.settings.stale_minutes * 60 + 1)
    assert tasks.claim_next(b)["id"] == 1  # a went stale: its task is back in the queue, ahead by priority


# -- completing and other transitions ---------------------------------------------------------------------

def test_complete_reports_exactly_the_tasks_it_unblocked(cli):
    for title in ("base", "other base"):
        create(cli, title)
    create(cli, "only needs base", "--depends-on", "base")
    create(cli, "needs both", "--depends-on", "base", "--depends-on", "other base")
    cli.ok("claim-task", "base", agent="a")
    assert cli.json("whoami", agent="a")["current_task"] == 1
    data = cli.json("complete-task", "base", agent="a")
    assert data["status"] == "done"
    assert data["unblocked"] == [{"id": 3, "title": "only needs base"}]
    assert cli.json("whoami", agent="a")["current_task"] is None
    assert cli.ok("complete-task", "other base", agent="a").out.splitlines() == [
        "completed #2 [done] other base", "unblocked: #4 needs both"]
    cli.error(1, "complete-task", "base", agent="a", expect=("task #1 is already done",))


def test_only_the_active_owner_completes_unless_forced(cli):
    create(cli, "mine")
    cli.ok("claim-task", "mine", agent="a")
    cli.error(2, "complete-task", "mine", agent="b",
              expect=("task #1 is held by alice (a), who is active; only they can complete it (or use --force)",))
    assert cli.json("complete-task", "mine", "--force", agent="b")["status"] == "done"


def test_block_release_cancel_and_reopen(cli):
    create(cli, "flow")
    cli.ok("claim-task", "flow", agent="a")
    assert cli.ok("block-task", "flow", "--reason", "needs API key", agent="a").out == \
        "#1 [blocked] flow @alice (needs API key)\n"
    cli.error(2, "block-task", "flow", "--reason", "mine now", agent="b",
              expect=("task #1 is held by alice (a), who is active; only they can block it",))
    cli.error(1, "block-task", "flow", agent="a", expect=("the following arguments are required: --reason",))
    cli.error(1, "block-task", "flow", "--reason", " ", agent="a", expect=("reason must not be empty",))
    cli.error(2, "release-task", "flow", agent="b", expect=("only they can release it",))
    released = cli.json("release-task", "flow", agent="a")
    assert (released["status"], released["owner"]) == ("open", None)
    cli.error(1, "release-task", "flow", agent="a", expect=("task #1 is open; cannot release it",))
    assert cli.ok("cancel-task", "flow", agent="b").out.startswith("#1 [cancelled] flow")
    cli.error(1, "cancel-task", "flow", agent="b", expect=("task #1 is cancelled; cannot cancel it",))
    cli.error(1, "claim-task", "flow", agent="b",
              expect=("task #1 is cancelled; reopen it first: agent-sync reopen-task 1",))
    assert cli.ok("reopen-task", "flow", agent="b").out == "#1 [open] flow\n"
    cli.error(1, "reopen-task", "flow", agent="b", expect=("task #1 is open; cannot reopen it",))


def test_a_cancelled_dependency_counts_as_finished(cli):
    create(cli, "dropped")
    create(cli, "next", "--depends-on", "dropped")
    cli.ok("cancel-task", "dropped", agent="a")
    assert cli.json("task", "next", agent="a")["waiting_on"] == []
    assert cli.json("claim-next", agent="a")["id"] == 2


def test_a_released_task_has_no_owner_and_goes_back_to_the_queue(cli):
    create(cli, "hand back", "--priority", "2")
    cli.ok("claim-task", "hand back", agent="a")
    cli.ok("release-task", "hand back", agent="a")
    assert cli.json("whoami", agent="a")["current_task"] is None
    assert cli.json("claim-next", agent="b")["id"] == 1


def test_a_task_that_is_no_longer_blocked_shows_no_blocked_reason(cli):
    create(cli, "was blocked")
    cli.ok("claim-task", "1", agent="a")
    cli.ok("block-task", "1", "--reason", "waiting for review", agent="a")
    assert cli.ok("release-task", "1", agent="a").out == "#1 [open] was blocked\n"
    assert cli.json("task", "1", agent="a")["blocked_reason"] is None
