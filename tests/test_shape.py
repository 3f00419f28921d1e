"""The shape of the code: an operation declared once reaches the CLI with its help and validation, and the hook
path imports the standard library, the core and the one adapter it needs, nothing else."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent_sync.cli import app
from agent_sync.core import operations as ops
from helpers import agent_env, run_cli


@pytest.fixture
def declared(monkeypatch):
    """A new operation, declared once, as any core operation is."""
    calls = []

    def run(ctx, args):
        calls.append(vars(args))
        return {"echo": args.word, "times": args.times}

    op = ops.Operation("frobnicate", "repeat a word (a test operation)", [
        ops.Param("word", "str", "the word to repeat", required=True, positional=True, max_length=5),
        ops.Param("times", "int", "how often", default=1, minimum=1, maximum=3),
        ops.Param("colour", "str", "which colour", choices=["red", "blue"]),
        ops.Param("loud", "bool", "shout it"),
    ], run=run, context=False, presence="none", text=lambda data, args: f"{data['echo']} x{data['times']}")
    monkeypatch.setattr(ops, "_CATALOG", [*ops.catalog(), op])
    return calls


def test_a_new_operation_declared_once_appears_in_the_cli_with_its_help(declared, capsys):
    with pytest.raises(SystemExit):
        app.run(["--help"])
    assert "frobnicate" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        app.run(["frobnicate", "--help"])
    help_text = capsys.readouterr().out
    for fragment in ("repeat a word (a test operation)", "the word to repeat", "--times TIMES", "how often",
                     "{red,blue}", "--loud", "shout it", "--json"):
        assert fragment in help_text, fragment


def test_a_new_operation_runs_and_renders_through_the_cli(declared, capsys):
    assert app.run(["frobnicate", "hey", "--times", "2", "--loud"]) == 0
    assert capsys.readouterr().out == "hey x2\n"
    assert declared[-1] == {"word": "hey", "times": 2, "colour": None, "loud": True}
    assert app.run(["frobnicate", "hey", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"echo": "hey", "times": 1}


@pytest.mark.parametrize("argv,message", [
    (["frobnicate", "toolong"], "WORD is too long (7 characters; the limit is 5)"),
    (["frobnicate", "hey", "--times", "4"], "--times must be a whole number from 1 to 3, got 4"),
    (["frobnicate", "hey", "--times", "0"], "--times must be positive, got 0"),
    (["frobnicate", "hey", "--times", "x"], "argument --times: not a whole number: 'x'"),
    (["frobnicate", "hey", "--colour", "green"], "argument --colour: invalid choice: 'green'"),
    (["frobnicate"], "the following arguments are required: word"),
])
def test_a_new_operation_is_validated_the_declared_way(declared, capsys, argv, message):
    if message.startswith(("argument", "the following")):  # text the parser could not read at all
        with pytest.raises(SystemExit) as exit_:
            app.run(argv)
        assert exit_.value.code == 1
    else:  # read, then refused by the core's validation of the declared limits
        assert app.run(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("agent-sync:"), err
    assert message in err, err
    assert declared == []  # nothing ran


def test_the_same_validation_serves_every_front_end(declared):
    op = ops.by_name()["frobnicate"]
    with pytest.raises(ops.UsageError, match="times must be a whole number from 1 to 3, got 9"):
        ops.validate(op, {"word": "hi", "times": 9}, style="mcp")
    with pytest.raises(ops.UsageError, match="frobnicate takes no parameter 'nope'"):
        ops.validate(op, {"word": "hi", "nope": 1}, style="mcp")
    with pytest.raises(ops.UsageError, match="word must be text"):
        ops.validate(op, {"word": 5}, style="mcp")
    args = ops.validate(op, {"word": "hi", "times": 2.0}, style="mcp")
    assert (args.word, args.times, args.loud) == ("hi", 2, False)


def test_every_declared_operation_is_a_cli_command():
    parser = app.build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    for op in ops.catalog():
        assert op.name in commands, op.name
        help_text = commands[op.name].format_help()
        for param in op.params:
            if param.help:
                assert " ".join(param.help.split())[:30] in " ".join(help_text.split()), (op.name, param.name)


# -- the hook path -------------------------------------------------------------------------------------------

MODULES_AFTER = """
import json, sys
sys.argv = ["agent-sync", "hook", *{argv!r}]
from agent_sync.cli import main
try:
    main()
finally:
    with open({out!r}, "w") as fh:
        json.dump(sorted(sys.modules), fh)
"""

# The agent_sync modules a Claude Code hook may load: the core, the store, the hook front end, Claude's adapter.
ALLOWED = {"agent_sync", "agent_sync.core", "agent_sync.cli", "agent_sync.hooks", "agent_sync.agents", "agent_sync.agents.claude",
           "agent_sync.config", "agent_sync.errors", "agent_sync.identity", "agent_sync.paths", "agent_sync.process",
           "agent_sync.targets", "agent_sync.text", "agent_sync.store", "agent_sync.store.sqlite", "agent_sync.jsonwire"}
ALLOWED_PREFIXES = ("agent_sync.core.", "agent_sync.shell")
FORBIDDEN = ("agent_sync.core.operations", "agent_sync.cli.app", "agent_sync.render", "agent_sync.install")
# On the PostgreSQL store the hook path also loads that store and psycopg (what the `postgres` extra installs).
POSTGRES_MODULES = {"agent_sync.store.postgres"}
POSTGRES_PACKAGES = ("psycopg", "psycopg_binary", "typing_extensions", "cython_runtime", "_cython_", "_sysconfigdata_")


def _baseline(tmp_path) -> set[str]:
    out = tmp_path / "baseline.json"
    subprocess.run([sys.executable, "-c", f"import json, sys; json.dump(sorted(sys.modules), open({str(out)!r}, 'w'))"],
                   check=True, env=agent_env())
    return set(json.loads(out.read_text()))


@pytest.mark.parametrize("argv,payload", [
    (["pre-tool-use"], {"tool_name": "Edit", "tool_input": {"file_path": "src/app.py"}}),
    (["pre-tool-use"], {"tool_name": "Bash", "tool_input": {"command": "sed -i s/a/b/ src/app.py"}}),
    (["session-start"], {"source": "startup"}),
    (["user-prompt-submit"], {"prompt": "hi"}),
    (["stop"], {"stop_hook_active": False}),
])
def test_the_hook_path_imports_only_the_standard_library_the_core_and_its_adapter(repo, tmp_path, argv, payload,
                                                                                   store):
    baseline = _baseline(tmp_path)
    out = tmp_path / "modules.json"
    body = dict({"session_id": "s-1", "cwd": str(repo), "hook_event_name": "x"}, **payload)
    if "file_path" in body.get("tool_input", {}):
        body["tool_input"]["file_path"] = str(repo / body["tool_input"]["file_path"])
    result = subprocess.run([sys.executable, "-c", MODULES_AFTER.format(argv=argv, out=str(out))], cwd=repo,
                            env=agent_env(), input=json.dumps(body), capture_output=True, text=True, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    loaded = set(json.loads(out.read_text())) - baseline
    ours = {m for m in loaded if m == "agent_sync" or m.startswith("agent_sync.")}
    assert not [m for m in ours if m.startswith(FORBIDDEN)], ours
    allowed = ALLOWED | POSTGRES_MODULES if store == "postgresql" else ALLOWED
    assert [m for m in ours if m not in allowed and not m.startswith(ALLOWED_PREFIXES)] == []
    stdlib = sys.stdlib_module_names
    foreign = [m for m in loaded - ours if m.split(".")[0].lstrip("_") not in stdlib and m.split(".")[0] not in stdlib]
    if store == "postgresql":
        assert "psycopg" in foreign
        foreign = [m for m in foreign if not m.startswith(POSTGRES_PACKAGES)]
    assert foreign == []


HEAVY_PROBE = """
import sys
sys.path.insert(0, {src!r})
from agent_sync.cli import main
main(["hook", "pre-tool-use"])
sys.stdout.flush()
sys.stderr.write("MODULES " + " ".join(sorted(sys.modules)))
"""


@pytest.mark.sqlite_only  # PostgreSQL's client library brings its own
def test_an_edit_hook_never_imports_json_re_or_the_sqlite3_wrapper(repo, tmp_path):
    """`json` and `re` (with `enum`) cost a hook process about half of a bare interpreter start, and
    `sqlite3` adds `datetime` around the C module: the hook path does without them (jsonwire, _sqlite3).
    `-S` keeps site's .pth files from importing anything first."""
    import agent_sync

    src = str(Path(agent_sync.__file__).resolve().parent.parent)
    body = {"session_id": "s-1", "cwd": str(repo), "hook_event_name": "PreToolUse", "tool_name": "Edit",
            "tool_input": {"file_path": str(repo / "src" / "app.py"), "old_string": "x", "new_string": "y"}}
    run_cli(repo, "lock", "docs/**/*.md", agent="other")  # a glob to match: no re for that either
    result = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c", HEAVY_PROBE.format(src=src)], cwd=repo, env=agent_env(),
                            input=json.dumps(body), capture_output=True, text=True, timeout=60)
    assert result.stdout == "", result  # allowed
    modules = set(result.stderr.split("MODULES ", 1)[1].split())
    assert "agent_sync.core.guard" in modules  # it did decide
    imports = [line.split("|")[2].rstrip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    heavy = {"json", "re", "enum", "sqlite3", "datetime"} & modules
    assert heavy == set(), "\n".join(imports)  # the import tree says who brought them in
