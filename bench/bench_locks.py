"""Lock latency: the `lock`/`unlock` commands and the edit-guard check, against 1,000 live locks (100 globs).

Run: python bench/bench_locks.py [--runs N] [--warmup N]
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c  # noqa: E402


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0])
    c.preamble("bench_locks: lock / unlock / lock check", args,
               "- database: 1,000 live locks (850 files, 50 directories, 100 globs; 10 globs rooted at the "
               "repository top) held by 4 live agents, seeded through the store API in one transaction; "
               "`lock` checks every live lock for overlap, the edit guard only the candidates of one path")
    root = c.make_repo("locks", args.keep)
    empty = c.make_repo("locks-empty", args.keep)
    live = c.seed_locks(root)
    assert live == 1000, live
    c.refresh_holders(root)

    free, held = "bench/free_file.py", "pkg3/sub3/mod3.py"  # mod3 is a file lock of holder-d
    lock = [c.SCRIPT, "lock", free, "--reason", "bench"]
    unlock = [c.SCRIPT, "unlock", free]
    lock_m = [c.PY, "-I", "-m", "agent_sync", "lock", free + "x", "--reason", "bench"]
    unlock_m = [c.PY, "-I", "-m", "agent_sync", "unlock", free + "x"]
    cases = [
        c.floor_case(),
        c.Case("`agent-sync lock` (console script)", lock, cwd=root, agent="bench-cli"),
        c.Case("`agent-sync unlock` (console script)", unlock, cwd=root, agent="bench-cli"),
        c.Case("`python -I -m agent_sync lock`", lock_m, cwd=root, agent="bench-cli-m"),
        c.Case("`python -I -m agent_sync unlock`", unlock_m, cwd=root, agent="bench-cli-m"),
        c.Case("`agent-sync lock`, empty database", lock, cwd=empty, agent="bench-cli"),
        c.Case("`agent-sync unlock`, empty database", unlock, cwd=empty, agent="bench-cli"),
        c.Case("`agent-sync hook pre-tool-use` Edit, free file → allow", [c.SCRIPT, "hook", "pre-tool-use"],
               cwd=root, stdin=c.edit_payload(root, "pkg3/sub3/new_file.py"), check=c.is_allow),
        c.Case("`agent-sync hook pre-tool-use` Edit, locked file → deny", [c.SCRIPT, "hook", "pre-tool-use"],
               cwd=root, stdin=c.edit_payload(root, held), expect=2, check=c.is_deny),
    ]
    samples = c.measure(cases, args.runs, args.warmup)
    floor = samples.pop(c.FLOOR)

    # In process: one context, the check inside a read transaction (BEGIN ... COMMIT included).
    from agent_sync.core import locks
    from agent_sync.targets import Target

    ctx = c.open_ctx(root, "bench-inprocess")

    def covering(path):
        def run():
            with ctx.store.read() as tx:
                return locks.covering(tx, ctx, path)
        return run

    def conflicts(path):
        def run():
            with ctx.store.read() as tx:
                return locks.find_conflicts(tx, ctx, [Target("file", path)], "exclusive")
        return run

    assert covering("pkg3/sub3/untouched.py")() == [] and len(covering(held)()) == 1
    assert conflicts(free)() == [] and len(conflicts(held)()) == 1
    inproc_runs = max(200, args.runs * 20)
    rows = list(samples.items()) + [
        ("in-process `covering()` in a read tx, free file", c.measure_inprocess(covering("pkg3/sub3/untouched.py"),
                                                                               inproc_runs)),
        ("in-process `covering()` in a read tx, locked file", c.measure_inprocess(covering(held), inproc_runs)),
        ("in-process `find_conflicts()` (what `lock` checks) in a read tx, free file",
         c.measure_inprocess(conflicts(free), max(50, args.runs * 2), warmup=5)),
    ]
    ctx.store.close()
    print(c.table(rows, floor))
    print(f"\nfloor median {statistics.median(floor) * 1000:.1f} ms; in-process rows ran {inproc_runs} times "
          f"(find_conflicts {max(50, args.runs * 2)}) in this process, so their ratio is to a process start-up, "
          "not like for like.")


if __name__ == "__main__":
    main()
