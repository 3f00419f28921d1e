"""Hook latency: `agent-sync hook ...` as Claude Code runs it (the console script, JSON on stdin) against
1,000 live locks, next to the interpreter floor and a minimal Python hook; and the hook path's heaviest
imports (`-X importtime`).

The main rows run the `agent-sync` script of a regular (non-editable) install of this checkout in a fresh
virtual environment, made by pip (as pipx makes it) and, when `uv` is on this machine, by `uv tool install`;
one row runs this interpreter's own `agent-sync` (editable when it is a development install) for comparison.
pip's launcher imports `re` before it calls agent-sync; uv's does not, and agent-sync's hook path never does.

Run: python bench/bench_hooks.py [--runs N] [--warmup N]
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c  # noqa: E402

TARGET_RATIO = 2.1  # a PreToolUse hook at most 2.1x `python -I -c pass`
MINIMAL_HOOK = "import json, sys; json.load(sys.stdin)"  # the least a Python hook can do: read its payload
IMPORTTIME_RUNS = 7


def importtime(argv: list[str], stdin: str | None, cwd: str) -> dict[str, tuple[float, float]]:
    """{module: (median self µs, median cumulative µs)} over IMPORTTIME_RUNS runs of `python -X importtime`."""
    import subprocess

    runs: dict[str, list[tuple[int, int]]] = {}
    for _ in range(IMPORTTIME_RUNS):
        proc = subprocess.run(argv, cwd=cwd, env=c.clean_env(), input=stdin, capture_output=True, text=True)
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cumulative, name = line[len("import time:"):].split("|", 2)
            runs.setdefault(name.strip(), []).append((int(self_us), int(cumulative)))
    return {name: (statistics.median(s for s, _ in v), statistics.median(cu for _, cu in v))
            for name, v in runs.items()}


def import_tables(root: str, payload: str, script: str) -> str:
    with open(script, encoding="utf-8") as fh:
        python = fh.readline()[2:].strip()  # the script's own interpreter, from its #! line
    hook = importtime([python, "-X", "importtime", script, "hook", "pre-tool-use"], payload, root)
    floor = importtime([c.PY, "-I", "-X", "importtime", "-c", "pass"], None, root)
    extra = {k: v for k, v in hook.items() if k not in floor}
    total = sum(s for s, _ in hook.values())
    extra_total = sum(s for s, _ in extra.values())
    out = [f"`python -X importtime {script} hook pre-tool-use` (Edit payload, 1,000 live locks), median of "
           f"{IMPORTTIME_RUNS} runs: {len(hook)} modules, {total / 1000:.1f} ms of import time in all; "
           f"{len(extra)} modules ({extra_total / 1000:.1f} ms) beyond what `python -I -c pass` imports.", ""]
    site = hook.get("site", (0, 0))[1]
    out += [f"`site` (site-packages start-up, .pth files) takes {site / 1000:.1f} ms cumulative in the hook and is "
            "paid by the floor too; the first table is what the hook path adds.", ""]
    tables = (("imports the hook path adds beyond the floor, by cumulative time", extra, 1),
              ("imports by own (self) time, all modules", hook, 0))
    for title, modules, key in tables:
        out += [f"Top 10 {title}:", "", "| module | self ms | cumulative ms | also imported by the floor |",
                "|---|---:|---:|---|"]
        for name, (self_us, cumulative) in sorted(modules.items(), key=lambda kv: -kv[1][key])[:10]:
            out.append(f"| `{name}` | {self_us / 1000:.2f} | {cumulative / 1000:.2f} | "
                       f"{'yes' if name in floor else 'no'} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0])
    c.preamble("bench_hooks: Claude Code hooks", args,
               "- database: 1,000 live locks (850 files, 50 directories, 100 globs) held by 4 live agents; "
               "the hooks run as one Claude Code session (session_id in the payload), edit policy `auto` "
               "(an allowed edit takes or renews a turn lease: a write transaction)")
    root = c.make_repo("hooks", args.keep)
    c.seed_locks(root)
    c.refresh_holders(root)
    script = c.installed_build(args.keep)
    uv_script = c.installed_build(args.keep, "uv") if c.find_uv() else None
    print(f"- installed builds: `pip install --no-deps` of this checkout into a fresh virtual environment "
          f"(`{script}`){'' if uv_script else '; uv is not on this machine, so no uv-made build'}"
          + (f", and `uv tool install` of it (`{uv_script}`)" if uv_script else "") + "\n")

    hook = [script, "hook"]
    edit_free = c.edit_payload(root, "pkg5/sub6/new_file.py")
    edit_held = c.edit_payload(root, "pkg3/sub3/mod3.py")
    bash = c.hook_payload(root, "PreToolUse", tool_name="Bash", tool_use_id="toolu_bench", tool_input={
        "command": "cd pkg5 && sed -i 's/x/y/' sub6/other.py && echo done >> ../notes/log.txt",
        "description": "edit"})
    post = c.hook_payload(root, "PostToolUse", tool_name="Edit", tool_use_id="toolu_bench",
                          tool_input={"file_path": os.path.join(root, "pkg5/sub6/new_file.py"), "old_string": "x",
                                      "new_string": "y"},
                          tool_response={"filePath": os.path.join(root, "pkg5/sub6/new_file.py"), "success": True})
    prompt = c.hook_payload(root, "UserPromptSubmit", prompt="carry on")
    edit_label = "`agent-sync hook pre-tool-use` Edit → allow (pip-made script)"
    uv_label = "`agent-sync hook pre-tool-use` Edit → allow (uv-made script)"
    edit_m_label = "`python -I -m agent_sync hook pre-tool-use` Edit → allow"
    minimal_label = f"minimal Python hook: `python -I -c '{MINIMAL_HOOK}'`"
    dev_label = (f"this environment's {'editable' if c.is_editable() else 'regular'} install: "
                 "`agent-sync hook pre-tool-use` Edit → allow")
    cases = [
        c.floor_case(),
        c.Case(minimal_label, [c.PY, "-I", "-c", MINIMAL_HOOK], cwd=root, stdin=edit_free),
        c.Case(edit_label, [*hook, "pre-tool-use"], cwd=root, stdin=edit_free, check=c.is_allow),
        *([c.Case(uv_label, [uv_script, "hook", "pre-tool-use"], cwd=root, stdin=edit_free, check=c.is_allow)]
          if uv_script else []),
        c.Case(edit_m_label, [os.path.join(os.path.dirname(script), "python"), "-I", "-m", "agent_sync", "hook",
                              "pre-tool-use"],
               cwd=root, stdin=edit_free, check=c.is_allow),
        c.Case(dev_label, [c.SCRIPT, "hook", "pre-tool-use"], cwd=root, stdin=edit_free, check=c.is_allow),
        c.Case("`agent-sync hook pre-tool-use` Edit of a locked file → deny", [*hook, "pre-tool-use"], cwd=root,
               stdin=edit_held, expect=2, check=c.is_deny),
        c.Case("`agent-sync hook pre-tool-use` Bash (cd, sed -i, >>) → allow", [*hook, "pre-tool-use"], cwd=root,
               stdin=bash, check=c.is_allow),
        c.Case("`agent-sync hook post-tool-use` Edit", [*hook, "post-tool-use"], cwd=root, stdin=post,
               check=c.is_allow),
        c.Case("`agent-sync hook user-prompt-submit`", [*hook, "user-prompt-submit"], cwd=root, stdin=prompt,
               check=c.is_allow),
    ]
    samples = c.measure(cases, args.runs, args.warmup)
    floor = samples.pop(c.FLOOR)
    base = statistics.median(floor)
    minimal = statistics.median(samples[minimal_label])
    notes = {}
    for label in (edit_label, uv_label, edit_m_label, dev_label):
        if label not in samples:
            continue
        median = statistics.median(samples[label])
        notes[label] = (f"{median / minimal:.2f}× the minimal hook; target ≤ {TARGET_RATIO:g}× floor: "
                        f"{'met' if median / base <= TARGET_RATIO else 'MISSED'}")
    print(c.table(list(samples.items()), floor, notes))
    print()
    print(held_write_lock_table(root, args, hook, edit_free, edit_held, post))
    print()
    print(import_tables(root, edit_free, uv_script or script))


HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(600)
"""


def held_write_lock_table(root, args, hook, edit_free, edit_held, post) -> str:
    """The same hooks while another process holds the database's write lock (a long transaction): they
    decide from a WAL snapshot after `hook_busy_ms` and spool what they must write, instead of waiting."""
    import subprocess

    db = os.path.join(root, ".claude", "coordination", "state.sqlite")
    holder = subprocess.Popen([c.PY, "-c", HOLD, db], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        cases = [
            c.floor_case(),
            c.Case("write lock held: `hook pre-tool-use` Edit → allow (snapshot, no lease)", [*hook, "pre-tool-use"],
                   cwd=root, stdin=edit_free, check=c.is_allow),
            c.Case("write lock held: `hook pre-tool-use` Edit of a locked file → deny", [*hook, "pre-tool-use"],
                   cwd=root, stdin=edit_held, expect=2, check=c.is_deny),
            c.Case("write lock held: `hook post-tool-use` Edit (spooled)", [*hook, "post-tool-use"], cwd=root,
                   stdin=post, check=c.is_allow),
        ]
        samples = c.measure(cases, max(args.runs // 3, 5), 1)
    finally:
        holder.kill()
        holder.wait()
    floor = samples.pop(c.FLOOR)
    return ("While another process holds the write lock for the whole run (hook_busy_ms = 250):\n\n"
            + c.table(list(samples.items()), floor))


if __name__ == "__main__":
    main()
