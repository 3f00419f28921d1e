"""Upgrading from the original tool (claude-agent-sync 0.2.1 and 0.4.0): its real databases, committed as fixtures
(tests/fixtures/legacy, made by make_fixtures.sh with those releases), are taken over with all their state, and
what the old tool wrote still holds and still arrives. A database nobody can use is never a silent fail-open."""

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent_sync.identity import session_agent_id
from agent_sync.store.legacy import BACKUP_SUFFIX
from helpers import Cli, agent_env, assert_one_line_error

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
VERSIONS = ("0.2.1", "0.4.0")
TIME_COLUMNS = {
    "agents": ("created_at", "last_seen"),
    "tasks": ("created_at", "updated_at", "completed_at"),
    "locks": ("created_at", "expires_at"),
    "messages": ("created_at", "read_at", "acked_at"),
    "message_deliveries": ("delivered_at",),
    "decisions": ("created_at",),
    "activity": ("created_at",),
}
ALICE, BOB, CAROL = "legacy-alice", "legacy-bob", "legacy-carol"
pytestmark = pytest.mark.sqlite_only  # the original tool's file is SQLite; a move to PostgreSQL starts from ours


def place_legacy(cli: Cli, version: str) -> Path:
    """The fixture as this repository's state file, its clock moved so that its last write happened just now
    (as if the old tool had been running until the upgrade)."""
    manifest = json.loads((FIXTURES / f"claude-agent-sync-{version}.json").read_text())
    cli.db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / f"claude-agent-sync-{version}.sqlite", cli.db)
    shift = datetime.now(UTC) - datetime.fromisoformat(manifest["generated_last"])
    conn = sqlite3.connect(cli.db)
    for table, columns in TIME_COLUMNS.items():
        present = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        for column in (c for c in columns if c in present):
            for rowid, value in conn.execute(f"SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall():
                moved = (datetime.fromisoformat(value) + shift).isoformat()
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (moved, rowid))
    conn.commit()
    conn.close()
    return cli.db


@pytest.fixture(params=VERSIONS)
def upgraded(request, tmp_path):
    """A repository the original tool used, after the first agent-sync command (which upgrades it)."""
    cli = Cli(tmp_path)
    place_legacy(cli, request.param)
    before = cli.db.read_bytes()
    result = cli("status", "--json", agent=BOB)
    assert result.code == 0, result
    return cli, request.param, before, result


def test_the_upgrade_keeps_a_copy_and_says_so_in_one_line(upgraded):
    cli, version, before, result = upgraded
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("agent-sync: upgraded the original claude-agent-sync state"), lines
    assert "4 agents, 5 tasks" in lines[0]
    backup = Path(str(cli.db) + BACKUP_SUFFIX)
    assert str(backup) in lines[0]
    assert backup.read_bytes() == before  # the original file, exactly as the old tool left it
    conn = sqlite3.connect(cli.db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 2
    assert cli("status", agent=BOB).err == ""  # said once: the next command has nothing to say


def test_locks_written_by_the_old_tool_still_hold(upgraded):
    cli, version, _, _ = upgraded
    cli.error(2, "lock", "src/api.py", agent=BOB, expect=("src/api.py is locked by alice (legacy-alice)",
                                                          "reshaping endpoints"))
    cli.error(2, "lock", "src/ui/login.tsx", agent=ALICE, expect=("locked by bob (legacy-bob)",))
    # carol's session had ended: the old tool did not count her lock, and neither do we
    cli.ok("lock", "tests/test_smoke.py", agent=BOB)
    if version == "0.4.0":
        cli.error(2, "lock", "--resource", "db-migrations", agent=BOB, expect=("locked by alice",))
    # and they stop another agent's editor: a Claude Code session that never used the old tool
    hook = cli.hook("pre-tool-use", {"session_id": "new-session", "cwd": str(cli.root), "tool_name": "Edit",
                                     "tool_input": {"file_path": str(cli.root / "src" / "api.py")}})
    assert hook.code == 2, hook
    assert "src/api.py is locked by alice" in hook.err


def test_messages_written_by_the_old_tool_still_arrive(upgraded):
    cli, version, _, _ = upgraded
    bodies = [m["body"] for m in cli.json("inbox", agent=BOB)["messages"]]
    assert bodies == ["CI is flaky today; rerun before reporting failures",
                      "API shapes change on Friday; hold off on the login form",
                      "Bearer token in the Authorization header"]
    assert [m["body"] for m in cli.json("inbox", agent=CAROL)["messages"]] == [
        "Docs for the smoke tests are in docs/testing.md"]  # her own broadcast is not news to her
    alice = cli.json("inbox", "--all", agent=ALICE)["messages"]
    asked = next(m for m in alice if m["body"].startswith("Which auth header"))
    assert asked["read"] is True  # read in the old tool: not pushed again
    assert [m["body"] for m in cli.json("inbox", agent=ALICE)["messages"]] == [
        "CI is flaky today; rerun before reporting failures"]
    reply = next(m for m in cli.json("inbox", "--all", agent=BOB)["messages"] if m["body"].startswith("Bearer"))
    if version == "0.4.0":
        assert reply["reply_to"] == asked["id"]
        assert asked["acked"] is True


def test_tasks_decisions_and_activity_come_along(upgraded):
    cli, version, _, _ = upgraded
    tasks = {t["title"]: t for t in cli.json("tasks", agent=BOB)["tasks"]}
    assert {title: t["status"] for title, t in tasks.items()} == {
        "Update changelog": "done", "Design API schema": "in_progress", "Build login UI": "open",
        "Write smoke tests": "open", "Investigate flaky CI": "blocked"}
    design = tasks["Design API schema"]
    assert (design["owner"], design["files"], design["priority"]) == (ALICE, ["src/api.py", "src/models.py"], 2)
    assert design["description"] == "Agree the v2 endpoint shapes"
    assert tasks["Investigate flaky CI"]["blocked_reason"] == "waiting for runner logs"
    assert tasks["Investigate flaky CI"]["description"] == ""
    if version == "0.4.0":
        assert tasks["Build login UI"]["waiting_on"] == [design["id"]]
        assert tasks["Write smoke tests"]["ready"] is True
    cli.error(2, "claim-task", "Design API schema", agent=BOB, expect=("held by alice",))
    assert [d["text"] for d in cli.json("decisions", agent=BOB)["decisions"]] == [
        "REST endpoints are versioned under /v2", "The login form uses the shared Button component"]
    edits = [a for a in cli.json("activity", "--file", "src/ui/login.tsx", agent=BOB)["activity"]]
    assert len(edits) == 2 and {a["agent"] for a in edits} == {BOB}


def test_an_agent_of_a_claude_session_keeps_its_identity(upgraded):
    cli, _, _, _ = upgraded
    dave = session_agent_id("fixture-session-dave", "claude")
    me = cli.json("whoami", agent=None, env={"CLAUDE_CODE_SESSION_ID": "fixture-session-dave"})
    assert (me["id"], me["name"]) == (dave, "dave")
    assert me["status"] == "active"  # his new session revived him
    sent = cli.json("inbox", "--all", agent=CAROL)["messages"]
    assert next(m for m in sent if m["body"].startswith("Docs"))["from"] == dave


@pytest.mark.parametrize("version", VERSIONS)
def test_a_hook_can_be_the_first_to_open_an_old_database(tmp_path, version):
    cli = Cli(tmp_path)
    place_legacy(cli, version)
    hook = cli.hook("pre-tool-use", {"session_id": "first", "cwd": str(cli.root), "tool_name": "Write",
                                     "tool_input": {"file_path": str(cli.root / "src" / "api.py"), "content": "x"}})
    assert hook.code == 2 and "locked by alice" in hook.err, hook
    assert Path(str(cli.db) + BACKUP_SUFFIX).is_file()


def test_many_processes_meeting_an_old_database_upgrade_it_once(tmp_path):
    cli = Cli(tmp_path)
    place_legacy(cli, "0.4.0")
    procs = [subprocess.Popen([sys.executable, "-m", "agent_sync", "locks", "--json"], cwd=cli.root,
                              env=agent_env(f"racer-{i}", home=cli.home), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(8)]
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0] * 8, results
    told = [err for _, _, err in results if "upgraded the original" in err]
    assert len(told) == 1, results
    assert sorted(p.name for p in cli.db.parent.iterdir() if BACKUP_SUFFIX in p.name) == [cli.db.name + BACKUP_SUFFIX]
    for _, out, _ in results:
        assert {lock["target"] for lock in json.loads(out)["locks"]} >= {"src/api.py", "src/ui/login.tsx"}


# -- databases nobody can use ---------------------------------------------------------------------------------

def foreign_database(cli: Cli) -> None:
    cli.db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(cli.db)
    conn.execute("CREATE TABLE bookmarks (url TEXT)")
    conn.commit()
    conn.close()


def test_a_foreign_schema_is_a_clear_error_for_commands_and_is_left_alone(tmp_path):
    cli = Cli(tmp_path)
    foreign_database(cli)
    before = cli.db.read_bytes()
    for command in (("status",), ("lock", "README.md"), ("locks",)):
        assert_one_line_error(cli(*command), 1, "holds tables agent-sync does not know (bookmarks)", "move it aside")
    assert cli.db.read_bytes() == before


@pytest.mark.parametrize("damage", ["foreign", "garbage"])
def test_hooks_on_an_unusable_database_tell_the_agent_once_per_session(tmp_path, damage):
    cli = Cli(tmp_path)
    if damage == "foreign":
        foreign_database(cli)
    else:
        cli.db.parent.mkdir(parents=True, exist_ok=True)
        cli.db.write_bytes(b"this is not a database" * 100)

    def start(session):
        return cli.hook("session-start", {"session_id": session, "cwd": str(cli.root), "source": "startup"})

    first = start("s-1")
    assert first.code == 0, first
    context = json.loads(first.out)["hookSpecificOutput"]["additionalContext"]
    assert "UNGUARDED" in context and "agent-sync doctor" in context
    assert ("does not know" if damage == "foreign" else "not a usable agent-sync database") in context
    again = start("s-1")
    assert again.code == 0 and again.out == "", again  # once per session
    assert "UNGUARDED" in json.loads(start("s-2").out)["hookSpecificOutput"]["additionalContext"]
    edit = cli.hook("pre-tool-use", {"session_id": "s-1", "cwd": str(cli.root), "tool_name": "Edit",
                                     "tool_input": {"file_path": str(cli.root / "README.md")}})
    assert edit.code == 0 and "Traceback" not in edit.err  # our fault: the agent is not stopped
    log = (cli.db.parent / "hook-errors.log").read_text()
    assert "session-start" in log
