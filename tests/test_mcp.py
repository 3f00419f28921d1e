"""The MCP server as its clients meet it: `agent-sync mcp` started as a real subprocess and driven over stdio by
the SDK's own client (and, where the exact bytes matter, by raw JSON-RPC), next to the real CLI and hooks."""

import json
import re
import signal
import subprocess
import sys
import tempfile

import pytest

pytest.importorskip("mcp")

import anyio  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402

from agent_sync import process  # noqa: E402
from agent_sync.cli.app import build_parser  # noqa: E402
from agent_sync.core import operations as ops  # noqa: E402
from agent_sync.core import presence  # noqa: E402
from agent_sync.errors import UsageError  # noqa: E402
from agent_sync.identity import session_agent_id  # noqa: E402
from agent_sync.mcp_server import tools  # noqa: E402
from helpers import Cli, Clock  # noqa: E402

BUDGET = 5000  # characters of the whole tools/list answer
ALICE_SESSION = "a11ce000-1111-4e55-9a0b-7f6a2c1d9e01"
CAROL_SESSION = "ca201000-3333-4e55-9a0b-7f6a2c1d9e03"
ALICE = session_agent_id(ALICE_SESSION, "claude")
HHMM = re.compile(r"\d\d:\d\d UTC")


@pytest.fixture
def cli(tmp_path):
    c = Cli(tmp_path)
    c.ok("register", "--name", "bob", agent="bob-id")
    return c


def server_env(cli, **extra) -> dict:
    """The server's whole environment: the SDK's client passes only HOME, PATH and the like by itself."""
    return cli.env(None, **extra)


def session(cli, scenario, **env):
    """Run `await scenario(client)` against a fresh `agent-sync mcp` in the repository; returns its result."""
    async def main():
        params = StdioServerParameters(command=sys.executable, args=["-m", "agent_sync", "mcp"],
                                       env=server_env(cli, **env), cwd=str(cli.root))
        with anyio.fail_after(180):
            async with Client(params, mode="legacy", cache=None) as client:
                return await scenario(client)

    return anyio.run(main)


def text(result) -> str:
    assert len(result.content) == 1 and result.content[0].type == "text"
    return result.content[0].text


def ok(result):
    assert not result.is_error, text(result)
    return result.structured_content


def tool_error(result, kind: str) -> str:
    """A tool error (not a protocol error, not a crash) of one line, its kind in the structured content."""
    assert result.is_error, text(result)
    line = text(result)
    assert "\n" not in line and "Traceback" not in line and "internal error" not in line, line
    assert result.structured_content == {"error": kind, "message": line}
    return line


def edit(cli, session_id: str, rel: str = "src/app.py"):
    """Claude Code's pre-tool-use hook for an Edit of `rel`, in session `session_id`."""
    return cli.hook("pre-tool-use", {"session_id": session_id, "cwd": str(cli.root), "hook_event_name": "PreToolUse",
                                     "tool_name": "Edit", "tool_input": {"file_path": str(cli.root / rel),
                                                                         "old_string": "hi", "new_string": "ho"}})


def wire_size(listed) -> int:
    """The tools/list result as the wire carries it (the client's model adds defaults the wire has not)."""
    result = {"tools": [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in listed.tools]}
    return len(json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}, separators=(",", ":"), ensure_ascii=False))


# -- end to end: an MCP agent among CLI and hook agents ------------------------------------------------------

def test_an_mcp_agent_coordinates_with_a_cli_agent_and_a_hook_agent(cli):
    async def scenario(client):
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == [op.name for op in tools.operations()]
        assert [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in listed.tools] == tools.tools()
        assert wire_size(listed) <= BUDGET

        assert ok(await client.call_tool("register", {"name": "alice"}))["id"] == ALICE
        lock = ok(await client.call_tool("lock", {"targets": ["src/app.py"], "reason": "refactoring"}))["locks"][0]
        assert (lock["target"], lock["holder"], lock["holder_name"]) == ("src/app.py", ALICE, "alice")

        # another agent's CLI lock conflicts with it: exit 2, the holder, expiry and reason named
        until = f"{lock['expires_at'][11:16]} UTC"
        assert cli.error(2, "lock", "src/app.py", agent="bob-id") == (
            f"agent-sync: src/app.py is locked by alice ({ALICE}) until {until}: refactoring. "
            "Ask them: agent-sync send --to alice --message '...'")

        # a third agent's pre-tool-use hook is blocked by it; alice's own session is not
        carol = edit(cli, CAROL_SESSION)
        assert carol.code == 2 and "src/app.py is locked by alice" in carol.err, carol
        assert json.loads(carol.out)["hookSpecificOutput"]["permissionDecision"] == "deny"
        assert edit(cli, ALICE_SESSION).code == 0

        # a message sent over MCP is read from the CLI, and the answer reaches MCP (tool and resource)
        sent = ok(await client.call_tool("send", {"to": "bob", "message": "I am on src/app.py"}))
        assert sent["from"] == ALICE and sent["to"] == "bob-id"
        inbox = cli.ok("inbox", agent="bob-id").out
        assert f"#{sent['id']}" in inbox and "alice → bob-id" in inbox and "I am on src/app.py" in inbox
        cli.ok("send", "--to", "alice", "--message", "README.md is mine", agent="bob-id")
        unread = json.loads((await client.read_resource("agent-sync://inbox")).contents[0].text)["messages"]
        assert [m["body"] for m in unread] == ["README.md is mine"]
        brief = (await client.read_resource("agent-sync://status")).contents[0].text
        assert f"You are alice ({ALICE})" in brief and "README.md is mine" in brief
        got = await client.call_tool("inbox", {})
        assert [m["body"] for m in ok(got)["messages"]] == ["README.md is mine"] and "bob" in text(got)

        # a conflict over MCP: a tool error with the CLI's one line (holder, target, expiry, how to reach them)
        cli.ok("lock", "README.md", "--reason", "docs", agent="bob-id")
        refused = tool_error(await client.call_tool("lock", {"targets": ["README.md"]}), "conflict")
        assert re.fullmatch(r"README\.md is locked by bob \(bob-id\) until \d\d:\d\d UTC: docs\. "
                            r"Ask them: agent-sync send --to bob --message '\.\.\.'", refused), refused
        return True

    assert session(cli, scenario, CLAUDE_CODE_SESSION_ID=ALICE_SESSION)
    assert sorted((v["target"], v["holder"]) for v in cli.json("locks", agent="bob-id")["locks"]) == [
        ("README.md", "bob-id"), ("src/app.py", ALICE)]


def test_bad_arguments_are_tool_errors_in_the_cli_words_and_the_server_goes_on(cli):
    cli_ttl = cli.error(1, "lock", "src/app.py", "--ttl", "0", agent="bob-id")
    cli_title = cli.error(1, "create-task", "x" * 301, agent="bob-id")

    async def scenario(client):
        cases = [
            ("lock", {"targets": ["src/app.py"], "ttl": 0}, cli_ttl.replace("agent-sync: --ttl", "ttl")),
            ("create-task", {"title": "x" * 301}, cli_title.replace("agent-sync: ", "")),
            ("lock", {"targets": ["src/app.py"], "ttl": "soon"}, "ttl must be a number, got 'soon'"),
            ("lock", {}, "name at least one target (a path, directory, glob or --resource NAME)"),
            ("lock", {"targets": ["src/app.py"], "force": True}, "lock takes no parameter 'force'"),
            ("unlock", {"targets": ["README.md"], "force": True}, "unlock takes no parameter 'force'"),
            ("claim-task", {}, "claim-task needs task"),
            ("send", {"to": "bob", "message": "y" * 10_000_000},
             "message is too long (10000000 characters; the limit is 32000)"),
            ("lock", {"targets": ["z" * 10_000_000]}, "targets is too long (10000000 characters; the limit is 4096)"),
            ("thread", {"id": -3}, "id must be a positive id, got -3"),
            ("tasks", {"status": "someday"}, "status must be one of open, in_progress, blocked, done, cancelled"),
            ("whoami", {"agent": 7}, "agent must be text, got int"),
        ]
        for name, arguments, expected in cases:
            line = tool_error(await client.call_tool(name, arguments), "usage")
            assert line.startswith(expected), (name, line)
        assert tool_error(await client.call_tool("heartbeat", {}), "usage").startswith("unknown tool 'heartbeat'")
        assert tool_error(await client.call_tool("ack", {"id": 999}), "not_found") == "no message #999"
        huge = tool_error(await client.call_tool("create-task", {"title": "t", "priority": "9" * 10_000_000}),
                          "usage")
        assert huge.startswith("priority must be a whole number") and len(huge) <= 2000
        return ok(await client.call_tool("locks", {}))

    assert session(cli, scenario, AGENT_SYNC_ID="mcp-agent") == {"locks": [], "waiters": []}


def test_the_wire_answers_stay_small_and_the_server_survives_malformed_requests(cli):
    """Raw JSON-RPC, as a host speaks it: the exact size of the tools/list answer, and requests the SDK's own
    client would never send."""
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "agent_sync", "mcp"], cwd=cli.root,
                                env=server_env(cli, AGENT_SYNC_ID="raw-agent"), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=errors, text=True)

        def send(message) -> None:
            proc.stdin.write((message if isinstance(message, str) else json.dumps(message)) + "\n")
            proc.stdin.flush()

        def answer(request_id) -> tuple[str, dict]:
            while True:
                line = proc.stdout.readline()
                assert line, "the server closed its output"
                found = json.loads(line)
                if found.get("id") == request_id:
                    return line, found

        try:
            send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
            assert "instructions" in answer(1)[1]["result"]
            send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
            line, listed = answer(2)
            assert len(line.rstrip("\n")) <= BUDGET, len(line)
            assert listed["result"]["tools"] == tools.tools()
            assert len(line.rstrip("\n")) == tools.list_size() + len(str(2)) - len(str(1))

            send("this is not JSON-RPC")
            send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "lock", "arguments": [1]}})
            assert answer(3)[1]["error"]["code"] == -32602
            send({"jsonrpc": "2.0", "id": 4, "method": "no/such/method"})
            assert answer(4)[1]["error"]["code"] == -32601
            send({"jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": {"uri": "agent-sync://nope"}})
            assert "unknown resource" in answer(5)[1]["error"]["message"]
            send({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                  "params": {"name": "x" * 1_000_000, "arguments": {"y" * 1_000_000: 1}}})
            unknown = answer(6)[1]["result"]
            assert unknown["isError"] and len(unknown["content"][0]["text"]) <= 2000
            send({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}})
            assert answer(7)[1]["result"]["structuredContent"]["id"] == "raw-agent"
            assert proc.poll() is None
        finally:
            proc.stdin.close()
            assert proc.wait(timeout=60) == 0
        errors.seek(0)
        assert "Traceback" not in errors.read()


def test_a_client_ending_the_server_with_sigterm_gets_a_clean_exit(cli):
    proc = subprocess.Popen([sys.executable, "-m", "agent_sync", "mcp"], cwd=cli.root, env=server_env(cli),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}) + "\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id"] == 1  # serving
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out == "" and err == "", (proc.returncode, err)


@pytest.mark.sqlite_only
def test_a_busy_database_is_a_clear_tool_error_after_the_configured_wait(cli):
    cli.ok("init", agent="bob-id")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys\n"
        f"c = sqlite3.connect({str(cli.db)!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.read()")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    async def scenario(client):
        try:
            assert holder.stdout.readline() == "held\n"
            busy = tool_error(await client.call_tool("lock", {"targets": ["src/app.py"]}), "busy")
            assert busy.startswith("the database is busy: another process has held its write lock for over 0.3s")
            assert ok(await client.call_tool("locks", {})) == {"locks": [], "waiters": []}  # reads never wait
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)
        return ok(await client.call_tool("lock", {"targets": ["src/app.py"]}))["locks"][0]["holder"]

    assert session(cli, scenario, AGENT_SYNC_ID="mcp-agent", AGENT_SYNC_BUSY_TIMEOUT_SECONDS="0.3") == "mcp-agent"


def test_a_client_going_away_mid_wait_takes_its_place_in_the_queue_with_it(cli):
    cli.ok("lock", "README.md", agent="bob-id")

    async def scenario(client):
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "lock", {"targets": ["README.md"], "wait": 600})
            for _ in range(600):
                queued = cli.json("locks", agent="bob-id")["waiters"]
                if queued:
                    break
                await anyio.sleep(0.05)
            assert [w["agent"] for w in queued] == ["mcp-agent"]
            group.cancel_scope.cancel()  # the client leaves, its call unanswered
        return True

    assert session(cli, scenario, AGENT_SYNC_ID="mcp-agent")
    assert cli.json("locks", agent="bob-id")["waiters"] == []  # the server left the queue on its way out


# -- who the caller is ----------------------------------------------------------------------------------------

def test_hooks_and_mcp_of_one_session_are_one_agent_without_a_session_variable(cli):
    """Codex passes no session id to MCP servers (and Claude Code may not): the server is a child of the
    same client process the session's hooks recorded, and acts as that agent."""
    started = cli.hook("session-start", {"session_id": ALICE_SESSION, "cwd": str(cli.root),
                                         "hook_event_name": "SessionStart", "source": "startup"})
    assert started.code == 0, started

    async def scenario(client):
        who = ok(await client.call_tool("whoami", {}))
        assert who["id"] == ALICE and who["source"] == "the MCP client's process (the agent its hooks registered)"
        ok(await client.call_tool("lock", {"targets": ["src/app.py"]}))
        return True

    assert session(cli, scenario)
    assert edit(cli, ALICE_SESSION).code == 0  # its own lock: the same agent
    assert edit(cli, CAROL_SESSION).code == 2


def test_the_session_variable_and_an_explicit_agent_name_the_caller(cli):
    async def scenario(client):
        who = ok(await client.call_tool("whoami", {}))
        assert (who["id"], who["source"]) == (ALICE, "CLAUDE_CODE_SESSION_ID")
        as_bob = ok(await client.call_tool("whoami", {"agent": "bob"}))  # a live agent's name
        assert (as_bob["id"], as_bob["name"], as_bob["source"]) == ("bob-id", "bob", "agent argument (whoami)")
        return ok(await client.call_tool("lock", {"targets": ["src/app.py"]}))["locks"][0]["holder"]

    assert session(cli, scenario, CLAUDE_CODE_SESSION_ID=ALICE_SESSION) == "bob-id"  # it stays bob


def test_a_client_without_hooks_or_session_variable_gets_an_agent_of_its_own(cli):
    async def scenario(client):
        first = ok(await client.call_tool("whoami", {}))
        second = ok(await client.call_tool("whoami", {}))
        return first, second

    first, second = session(cli, scenario)
    assert first["id"] == second["id"] and first["id"].startswith("mcp-")
    assert second["status"] == "active" and second["source"] == "this MCP connection (its client process)"
    assert second["name"].endswith("@" + second["branch"])


def test_the_agent_of_a_client_process_is_its_live_session_first(cli):
    ctx = cli.context(Clock(), "observer")
    client = (4242, 777)
    with ctx.store.write() as tx:
        host = process.host_key()
        for agent, ended, session_id, seen in (("old", 1.0, "s-old", 50.0), ("new", None, "s-new", 40.0),
                                               ("bare", None, "", 60.0), ("elsewhere", None, "s-x", 70.0)):
            tx.insert_agent({"id": agent, "name": agent, "created_at": 1.0, "last_seen": seen, "ended_at": ended,
                             "session": session_id, "host": host, "pid": 4243 if agent == "elsewhere" else 4242,
                             "pid_start": 777})
        if host:
            assert presence.agent_of_client(tx, client)["id"] == "new"
        assert presence.agent_of_client(tx, (4244, 777)) is None
        assert presence.agent_of_client(tx, None) is None


# -- the tools are the declarations ---------------------------------------------------------------------------

def test_every_agent_operation_is_a_tool_with_the_cli_parameters_and_limits():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    listed = {t["name"]: t for t in tools.tools()}
    agent_ops = [op for op in ops.catalog() if op.agent]
    assert agent_ops and list(listed) == [op.name for op in agent_ops]  # the CLI's names, unchanged
    kinds = {"str": "string", "int": "integer", "id": "integer", "float": "number", "bool": "boolean"}
    for op in agent_ops:
        cli_dests = {a.dest for a in commands[op.name]._actions} - {"help", "json"}
        assert cli_dests == {p.name for p in op.params}, op.name
        schema = listed[op.name]["inputSchema"]
        offered = [p for p in op.params if p.agent]
        extra = {tools.AGENT} if op.name == tools.IDENTITY_TOOL else set()
        assert set(schema["properties"]) == {p.name for p in offered} | extra, op.name
        assert schema.get("required", []) == [p.name for p in offered if p.required], op.name
        assert not [p for p in op.params if p.required and not p.agent], op.name  # agents can always call it
        for p in offered:
            prop = schema["properties"][p.name]
            if p.many:
                assert prop["type"] == "array", (op.name, p.name)
                prop = prop["items"]
            assert prop["type"] == kinds[p.kind], (op.name, p.name)
            assert prop.get("minimum") == (1 if p.kind == "id" and p.minimum is None else p.minimum), p.name
            assert prop.get("exclusiveMinimum") == p.exclusive_minimum, (op.name, p.name)
            assert prop.get("maximum") == p.maximum, (op.name, p.name)
            assert prop.get("maxLength") == p.max_length, (op.name, p.name)
            assert prop.get("enum") == (list(p.choices) if p.choices is not None else None), (op.name, p.name)
            if p.kind == "str":
                assert p.max_length is not None or p.choices, (op.name, p.name)  # no unbounded text
    assert {t for t in listed} == {op.name for op in tools.operations()}
    assert tools.list_size() <= BUDGET


def test_mcp_validation_accepts_only_what_agents_are_offered():
    unlock = ops.by_name()["unlock"]
    assert ops.validate(unlock, {"targets": ["a"], "force": True}).force is True  # the CLI may force
    with pytest.raises(UsageError, match="unlock takes no parameter 'force'"):
        ops.validate(unlock, {"targets": ["a"], "force": True}, style="mcp")
    assert ops.validate(unlock, {"targets": ["a"]}, style="mcp").force is False


# -- the SDK stays out of every other process ------------------------------------------------------------------

def _imported(cli, args: list[str], stdin: str = "", agent: str | None = None) -> set[str]:
    env = cli.env(agent)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "agent_sync", *args], cwd=cli.root, env=env,
                          input=stdin, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def _sdk(names: set[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] in ("mcp", "mcp_types", "pydantic", "pydantic_core", "anyio",
                                                      "starlette", "httpx", "jsonschema")
            or n.startswith("agent_sync.mcp_server")}


def test_no_hook_and_no_other_command_imports_the_mcp_sdk(cli):
    from agent_sync import agents

    cli.ok("lock", "src/app.py", agent="bob-id")
    payload = json.dumps({"session_id": CAROL_SESSION, "sessionId": CAROL_SESSION, "conversation_id": CAROL_SESSION,
                          "cwd": str(cli.root), "workspace_roots": [str(cli.root)], "tool_name": "Edit",
                          "tool_input": {"file_path": str(cli.root / "src/app.py")}})
    for name in agents.ADAPTERS:
        try:
            adapter = agents.load(name)
        except ImportError:
            continue
        for event in {e[0] for e in adapter.EVENTS}:
            names = _imported(cli, ["hook", "--agent", name, event], stdin=payload)
            assert "agent_sync.hooks" in names and f"agent_sync.agents.{name}" in names, (name, event)
            assert not _sdk(names), (name, event, sorted(_sdk(names)))
    for command in (["locks"], ["status", "--compact"], ["--help"]):
        names = _imported(cli, command, agent="bob-id")
        assert "agent_sync.cli.app" in names and not _sdk(names), (command, sorted(_sdk(names)))
    assert "agent_sync.mcp_server.tools" not in _imported(cli, ["mcp", "--help"])


def test_without_the_extra_the_command_says_how_to_install_it(cli):
    from importlib.metadata import packages_distributions

    dist = packages_distributions()["agent_sync"][0]
    code = "import sys; sys.modules['mcp'] = None\nfrom agent_sync.cli import main\nraise SystemExit(main(['mcp']))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=cli.root, env=cli.env(None), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("agent-sync: the MCP server needs the MCP SDK")
    assert f"pip install '{dist}[mcp]'" in proc.stderr, proc.stderr
