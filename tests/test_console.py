"""The operator console, in Textual's own headless harness (`App.run_test()` and its pilot), against state
that separate `agent-sync` processes create; and once in a real terminal (tmux)."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

pytest.importorskip("textual", reason="the console needs the console extra: pip install -e '.[console]'")

from rich.text import Text  # noqa: E402
from textual.widgets import DataTable, Input, RichLog  # noqa: E402

from agent_sync.console.app import OperatorConsole  # noqa: E402
from agent_sync.console.session import OperatorSession  # noqa: E402
from helpers import Cli, has_control_bytes  # noqa: E402

DEADLINE = 60.0  # generous: the machine may be busy; nothing here measures speed
SIZE = (200, 60)
S1, S2, S3 = ("5f0c3c7e-1111-4e55-9a0b-7f6a2c1d9e01", "5f0c3c7e-2222-4e55-9a0b-7f6a2c1d9e02",
              "5f0c3c7e-3333-4e55-9a0b-7f6a2c1d9e03")


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def app_for(cli) -> OperatorConsole:
    session = OperatorSession(cwd=str(cli.root), environ=cli.env(None))
    return OperatorConsole(session, interval=0.25)


def run(scenario):
    asyncio.run(asyncio.wait_for(scenario(), timeout=600))


async def until(pilot, predicate, what: str):
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def sh(cli, *args, agent="alice", **kwargs):
    """The real CLI in another process, off the event loop so the console keeps running meanwhile."""
    return await asyncio.to_thread(cli, *args, agent=agent, **kwargs)


async def ok(cli, *args, **kwargs):
    result = await sh(cli, *args, **kwargs)
    assert result.code == 0, result
    return result


async def as_json(cli, *args, **kwargs):
    return json.loads((await ok(cli, *args, "--json", **kwargs)).out)


def hook_payload(cli, session: str, event: str, **extra) -> dict:
    return {"session_id": session, "transcript_path": "/tmp/t.jsonl", "cwd": str(cli.root),
            "hook_event_name": event, **extra}


async def hook(cli, event: str, session: str, **extra):
    name = "".join(part.capitalize() for part in event.split("-"))
    payload = json.dumps(hook_payload(cli, session, name, **extra))
    return await asyncio.to_thread(cli, "hook", event, agent=None, stdin=payload)


def cells(app, table_id: str) -> dict[str, list[str]]:
    table = app.query_one(f"#{table_id}", DataTable)
    return {key.value: [c.plain if isinstance(c, Text) else str(c) for c in table.get_row(key)]
            for key in table.rows}


def row_of(app, table_id: str, first_cell: str) -> list[str] | None:
    return next((row for row in cells(app, table_id).values() if row and row[0] == first_cell), None)


def output(app) -> str:
    return "\n".join(strip.text for strip in app.query_one("#output", RichLog).lines)


def feed(app) -> str:
    return "\n".join(strip.text for strip in app.query_one("#feed", RichLog).lines)


async def command(pilot, app, line: str) -> None:
    """Type a line into the operator command line and press enter."""
    field = app.query_one("#command", Input)
    field.focus()
    field.value = line
    await pilot.press("enter")
    await pilot.pause()


async def started(pilot, app) -> None:
    await until(pilot, lambda: app.snapshots >= 1, "the first read")


# -- the panes -----------------------------------------------------------------------------------------------

def test_the_panes_show_what_other_processes_did_and_follow_a_new_lock(cli):
    async def scenario():
        codex = {"CODEX_THREAD_ID": "thread-alice"}
        await ok(cli, "register", "--name", "alice", "--role", "frontend", agent=None, env=codex)
        await hook(cli, "session-start", S1, source="startup")
        await ok(cli, "register", "--name", "bob", agent=None, env={"CLAUDE_CODE_SESSION_ID": S1})
        await ok(cli, "create-task", "Session API", "--file", "src/app.py", agent="carol")
        await ok(cli, "create-task", "Login form", "--depends-on", "Session API", agent="carol")
        await ok(cli, "claim-task", "Session API", agent=None, env=codex)
        await ok(cli, "lock", "README.md", "--reason", "docs pass", agent=None, env=codex)
        app = app_for(cli)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            alice = row_of(app, "agents", "alice")  # agent, status, client, worktree, seen, task, file, last
            assert alice is not None and alice[1:3] == ["active", "codex"] and alice[3] in ("master", "main")
            assert alice[5].startswith("#1 Session API") and alice[6] == "README.md"
            assert alice[7] == "lock: locked README.md"
            bob = row_of(app, "agents", "bob")
            assert bob is not None and bob[1:3] == ["active", "claude"]
            operator = row_of(app, "agents", "operator")
            assert operator is not None and operator[2] == "operator"
            title = str(app.query_one("#agents").border_title)
            assert "Agents (3 active / 3)" in title  # alice, bob and carol: not the operator
            locks = cells(app, "locks")
            assert [row[:3] for row in locks.values()] == [["README.md", "alice", "exclusive"]]
            tasks = cells(app, "tasks")
            assert tasks["group:in_progress"][1] == "IN PROGRESS (1)" and tasks["group:open"][1] == "OPEN (1)"
            assert tasks["task:2"][1:] == ["Login form", "", "#1"]  # waits on #1: the dependency shows
            assert tasks["task:1"][2] == "alice"
            # another process locks a file: the pane and the feed follow
            await ok(cli, "lock", "src/app.py", "--reason", "hotfix", agent="carol")
            await until(pilot, lambda: row_of(app, "locks", "src/app.py") is not None, "the lock in the pane")
            assert row_of(app, "locks", "src/app.py")[1] == "carol"
            await until(pilot, lambda: "locked src/app.py" in feed(app), "carol's lock in the feed")
            await ok(cli, "complete-task", "Session API", agent=None, env=codex)
            await until(pilot, lambda: cells(app, "tasks").get("task:2", [""])[-1] == "#1✓", "#1 done")
            await pilot.press("ctrl+q")

    run(scenario)


def test_each_operator_command_works(cli):
    async def scenario():
        await ok(cli, "register", "--name", "alice", agent="alice")
        await ok(cli, "register", "--name", "bob", agent="bob")
        await ok(cli, "lock", "README.md", agent="alice")
        app = app_for(cli)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await command(pilot, app, "send alice hello there")
            await command(pilot, app, 'directive all "stop and sync"')
            inbox = (await as_json(cli, "inbox", agent="alice"))["messages"]
            assert [(m["from_name"], m["body"]) for m in inbox] == [("operator", "hello there"),
                                                                    ("operator", "stop and sync")]
            inbox = (await as_json(cli, "inbox", agent="bob"))["messages"]
            assert [m["body"] for m in inbox] == ["stop and sync"]
            await command(pilot, app, "lock src/app.py refactor incoming")
            held = (await as_json(cli, "locks"))["locks"]
            assert {(v["target"], v["holder"], v["reason"]) for v in held} == {
                ("README.md", "alice", ""), ("src/app.py", "operator", "refactor incoming")}
            await command(pilot, app, "unlock src/app.py")
            await command(pilot, app, "unlock README.md")  # someone else's: the operator breaks it
            assert (await as_json(cli, "locks"))["locks"] == []
            await command(pilot, app, "task new Write docs :: the README section")
            await command(pilot, app, "task block Write docs :: waiting for review")
            task = await as_json(cli, "task", "Write docs")
            assert (task["status"], task["blocked_reason"], task["description"]) == (
                "blocked", "waiting for review", "the README section")
            await command(pilot, app, "task done Write docs")
            assert (await as_json(cli, "task", "Write docs"))["status"] == "done"
            await command(pilot, app, "decision tabs, not spaces")
            decisions = (await as_json(cli, "decisions"))["decisions"]
            assert [(d["agent_name"], d["text"]) for d in decisions] == [("operator", "tabs, not spaces")]
            await command(pilot, app, "status")
            await command(pilot, app, "msgs")
            await command(pilot, app, "help")
            await command(pilot, app, "send")
            await command(pilot, app, "frobnicate now")
            text = output(app)
            assert "sent #1 to alice" in text and "directive to all reached 2 agent(s)" in text
            assert "locked src/app.py → operator" in text and "unlocked README.md (held by alice)" in text
            assert "agents (2 active / 3 total)" in text  # status: the operator is not counted
            assert "operator → alice: hello there" in text  # msgs
            for name in ("send", "directive", "lock", "unlock", "task new", "task done", "task block",
                         "decision", "status", "msgs", "help", "quit"):
                assert f"\n  {name}" in text, name
            assert "usage: send <to> <message>" in text and "unknown command 'frobnicate'" in text
            await command(pilot, app, "quit")
            await until(pilot, lambda: app.session.left, "the operator leaving")
        agents = {a["name"]: a for a in (await as_json(cli, "status"))["agents"]}
        assert agents["operator"]["status"] == "idle" and agents["operator"]["operator"]

    run(scenario)


def test_a_directive_reaches_every_active_agent_and_their_stop_hook_holds_the_turn(cli):
    async def scenario():
        for session in (S1, S2, S3):
            assert (await hook(cli, "session-start", session, source="startup")).code == 0
        assert (await hook(cli, "session-end", S3, reason="prompt_input_exit")).code == 0  # idle: not reached
        app = app_for(cli)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await command(pilot, app, "directive all freeze feature work: hotfix on main")
            assert "reached 2 agent(s)" in output(app)
            for session in (S1, S2):
                held = await hook(cli, "stop", session, stop_hook_active=False)
                answer = json.loads(held.out)
                assert answer["decision"] == "block"
                assert "freeze feature work: hotfix on main" in answer["reason"]
                again = await hook(cli, "stop", session, stop_hook_active=True)
                assert again.code == 0 and again.out.strip() == ""  # seen: the turn may end
            free = await hook(cli, "stop", S3, stop_hook_active=False)
            assert free.code == 0 and free.out.strip() == ""
            await pilot.press("ctrl+q")

    run(scenario)


def test_a_lock_made_in_the_console_blocks_another_agents_edit(cli):
    async def scenario():
        edit = {"tool_name": "Edit", "tool_use_id": "toolu_1", "tool_input": {
            "file_path": str(cli.root / "src" / "app.py"), "old_string": "hi", "new_string": "ho"}}
        app = app_for(cli)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await command(pilot, app, "lock src/app.py hands off: release tonight")
            denied = await hook(cli, "pre-tool-use", S1, **edit)
            assert denied.code == 2, denied
            reason = json.loads(denied.out)["hookSpecificOutput"]["permissionDecisionReason"]
            assert "src/app.py is locked by operator" in reason and "release tonight" in reason
            await command(pilot, app, "unlock src/app.py")
            allowed = await hook(cli, "pre-tool-use", S1, **edit)
            assert allowed.code == 0, allowed
            await pilot.press("ctrl+q")

    run(scenario)


def test_quitting_releases_the_operators_locks(cli):
    async def scenario():
        app = app_for(cli)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await command(pilot, app, "lock src/app.py")
            await command(pilot, app, "lock README.md")
            assert len((await as_json(cli, "locks"))["locks"]) == 2
            assert (await sh(cli, "lock", "src/app.py", agent="alice")).code == 2  # they hold while it runs
            await pilot.press("ctrl+q")
        assert (await as_json(cli, "locks"))["locks"] == []
        await ok(cli, "lock", "src/app.py", agent="alice")

    run(scenario)


def test_the_operator_blocks_no_ones_git_command(cli):
    async def scenario():
        reset = {"tool_name": "Bash", "tool_use_id": "toolu_2", "tool_input": {"command": "git reset --hard"}}
        (cli.root / "README.md").write_text("# changed\n")
        subprocess.run(["git", "add", "-A"], cwd=cli.root, check=True)
        app = app_for(cli)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await command(pilot, app, "lock docs/")  # the operator is active in this worktree
            assert (await hook(cli, "pre-tool-use", S1, **reset)).code == 0
            await ok(cli, "heartbeat", agent="alice")  # a real agent in the same worktree: now it is held
            assert (await hook(cli, "pre-tool-use", S1, **reset)).code == 2
            await pilot.press("ctrl+q")

    run(scenario)


# -- safety, completion and keys -----------------------------------------------------------------------------

def test_a_hostile_name_and_message_are_shown_cleaned(cli):
    hostile = "evil\x1b]0;owned title\x07\x1b[2J\x1b[31m[bold]x[/bold]\u202e\n\rz"

    async def scenario():
        await ok(cli, "register", "--name", hostile, agent="mallory")
        await ok(cli, "send", "--to", "all", "--message", f"hi {hostile}", agent="mallory")
        await ok(cli, "lock", "src/app.py", "--reason", hostile, agent="mallory")
        app = app_for(cli)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await until(pilot, lambda: "hi evil" in feed(app), "the message in the feed")
            name = cells(app, "agents")["mallory"][0]
            assert name.startswith("evil") and "[bold]x[/bold]" in name  # shown as written: no markup ...
            rows = [row for table in ("agents", "locks") for row in cells(app, table).values()]
            shown = "\n".join(" ".join(row) for row in rows)
            shown += feed(app) + output(app)
            assert not has_control_bytes(shown.replace("\n", " ")) and "\u202e" not in shown  # ... no control
            assert "owned title" not in shown
            assert app.title == "agent-sync console"
            await pilot.press("ctrl+q")

    run(scenario)


def test_names_titles_and_paths_complete_as_you_type(cli):
    async def scenario():
        await ok(cli, "register", "--name", "alice", "--role", "frontend", agent="alice")
        await ok(cli, "create-task", "Write docs", agent="alice")
        await ok(cli, "lock", "README.md", agent="alice")
        app = app_for(cli)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            field = app.query_one("#command", Input)
            field.focus()
            await pilot.press("s", "e")
            await until(pilot, lambda: field._suggestion == "send ", "the command")
            await pilot.press("right", "a", "l")
            await until(pilot, lambda: field._suggestion == "send alice ", "the agent's name")
            for typed, wanted in (("directive f", "directive frontend "), ("task do", "task done "),
                                  ("task done wri", "task done Write docs"),
                                  ("task block #", "task block #1 :: "),
                                  ("lock sr", "lock src/"), ("lock src/a", "lock src/app.py"),
                                  ("unlock R", "unlock README.md")):
                field.value = typed
                field.cursor_position = len(typed)
                await until(pilot, lambda w=wanted: field._suggestion == w, f"{typed!r} → {wanted!r}")
            field.value = "task done wri"
            field.cursor_position = len(field.value)
            await until(pilot, lambda: field._suggestion == "task done Write docs", "the title again")
            await pilot.press("right", "enter")  # accept the completion, run it
            assert (await as_json(cli, "task", "Write docs"))["status"] == "done"
            await pilot.press("ctrl+q")

    run(scenario)


def test_keys_act_on_the_selected_row(cli):
    async def scenario():
        await ok(cli, "register", "--name", "alice", agent="alice")
        await ok(cli, "lock", "README.md", agent="alice")
        await ok(cli, "create-task", "Ship it", "--file", "src/app.py", agent="alice")
        await ok(cli, "log", "touched it", "--file", "src/app.py", agent="alice")
        app = app_for(cli)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            locks = app.query_one("#locks", DataTable)
            locks.focus()
            locks.move_cursor(row=0)
            await pilot.press("u")  # unlock the selected lock (alice's: broken)
            assert (await as_json(cli, "locks"))["locks"] == []
            agents = app.query_one("#agents", DataTable)
            agents.focus()
            agents.move_cursor(row=list(cells(app, "agents")).index("alice"))
            await pilot.press("l")  # lock the selected agent's current file
            assert [(v["target"], v["holder"]) for v in (await as_json(cli, "locks"))["locks"]] == [
                ("src/app.py", "operator")]
            agents.focus()
            await pilot.press("m")  # message the selected agent: the command line is ready for the text
            field = app.query_one("#command", Input)
            assert field.value == "send alice " and app.focused is field
            await pilot.press(*"hi", "enter")
            inbox = (await as_json(cli, "inbox", agent="alice"))["messages"]
            assert [m["body"] for m in inbox if m["from_name"] == "operator"] == ["hi"]
            tasks = app.query_one("#tasks", DataTable)
            tasks.focus()
            tasks.move_cursor(row=list(cells(app, "tasks")).index("task:1"))
            await pilot.press("d")  # complete the selected task
            assert (await as_json(cli, "task", "1"))["status"] == "done"
            await until(pilot, lambda: "completed task #1" in feed(app), "the completion in the feed")
            tasks.focus()
            await pilot.press("slash")  # filter the feed
            assert app.focused is app.query_one("#filter", Input)
            await pilot.press(*"completed")
            lines = [line for line in feed(app).splitlines() if line.strip()]
            assert lines and all("completed" in line for line in lines)
            await pilot.press("ctrl+q")

    run(scenario)


def test_without_textual_the_console_says_how_to_install_it(cli):
    code = ("import sys; sys.modules['textual'] = None; from agent_sync.cli import main; "
            "sys.exit(main(['console']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=cli.root, env=cli.env(None),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "[console]" in result.stderr and "pip install" in result.stderr


# -- a real terminal -----------------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_console_in_a_real_terminal_shows_agents_and_locks_of_other_processes(cli, tmp_path):
    cli.ok("register", "--name", "alice", agent="alice")
    cli.ok("lock", "src/app.py", "--reason", "in tmux", agent="alice")
    tmux = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    env = cli.env(None)
    env["TERM"] = "xterm-256color"
    for sized in ("COLUMNS", "LINES"):  # they would override the pane's size (shutil.get_terminal_size)
        env.pop(sized, None)
    console = f"cd {cli.root} && exec {sys.executable} -m agent_sync console"
    subprocess.run([*tmux, "new-session", "-d", "-s", "console", "-x", "200", "-y", "50", console], env=env,
                   check=True)

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", "console"], capture_output=True, text=True,
                              env=env).stdout

    def wait_for(*fragments: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            shown = screen()
            if all(f in shown for f in fragments):
                return shown
            time.sleep(0.2)
        raise AssertionError(f"the terminal never showed {fragments}:\n{screen()}")

    try:
        wait_for("Agents", "alice", "src/app.py")
        cli.ok("lock", "README.md", agent="bob")  # made while the console runs
        shown = wait_for("README.md", "bob")
        assert "Locks (2)" in shown
        keys = [*tmux, "send-keys", "-t", "console"]
        subprocess.run([*keys, "lock docs/ from tmux", "Enter"], env=env, check=True)
        deadline = time.monotonic() + DEADLINE
        while not any(v["holder"] == "operator" for v in cli.json("locks")["locks"]):
            assert time.monotonic() < deadline, screen()
            time.sleep(0.2)
        subprocess.run([*keys, "quit", "Enter"], env=env, check=True)
        deadline = time.monotonic() + DEADLINE
        alive = [*tmux, "has-session", "-t", "console"]
        while subprocess.run(alive, capture_output=True, env=env).returncode == 0:
            assert time.monotonic() < deadline, screen()
            time.sleep(0.2)
        holders = sorted(v["holder"] for v in cli.json("locks")["locks"])
        assert holders == ["alice", "bob"]  # the operator's lock went with it
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, env=env)
        if os.path.exists(tmp_path / "tmux.sock"):
            os.unlink(tmp_path / "tmux.sock")
