"""`agent-sync status` (text, --json, --compact) on a busy database: 100,000 activity rows, 5,000 tasks,
1,000 live locks.

Run: python bench/bench_status.py [--runs N] [--warmup N]
"""

import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c  # noqa: E402

READER = "bench-reader"
AGENTS = [f"agent-{i:02d}" for i in range(20)]  # 0-9 active, 10-14 stale, 15-19 ended
TASK_STATUSES = ["done"] * 60 + ["open"] * 24 + ["in_progress"] * 10 + ["blocked"] * 4 + ["cancelled"] * 2


def seed(root: str) -> dict:
    """Schema through the store; 1,000 locks through the store API; the bulk with executemany on the file."""
    counts = {"locks": c.seed_locks(root)}
    rng = random.Random(42)
    now = time.time()
    db = os.path.join(root, ".claude", "coordination", "state.sqlite")
    conn = sqlite3.connect(db)
    with conn:
        agents = []
        for i, name in enumerate(AGENTS):
            seen = now - (30 if i < 10 else 1800 if i < 15 else 7200)
            agents.append((name, name, "bench", seen - 86400, seen, (seen if i >= 15 else None)))
        agents.append((READER, READER, "bench", now - 86400, now, None))
        conn.executemany("INSERT INTO agents (id, name, client, created_at, last_seen, ended_at)"
                         " VALUES (?, ?, ?, ?, ?, ?)", agents)

        tasks, files, deps = [], [], []
        for task_id in range(1, 5001):
            status = rng.choice(TASK_STATUSES)
            owner = rng.choice(AGENTS) if status in ("in_progress", "blocked", "done") else None
            created = now - rng.uniform(0, 30 * 86400)
            tasks.append((task_id, f"task {task_id}: {rng.choice(['fix', 'add', 'refactor', 'test'])} "
                                   f"module {task_id % 97}", "description " * 10, status, rng.randint(0, 5),
                          owner, "agent-00", "waiting on review" if status == "blocked" else "", created, created))
            if task_id % 5 < 2:
                files += [(task_id, f"pkg{(task_id + k) % 40}/sub{k}/mod{task_id}.py") for k in range(1 + task_id % 3)]
            if status in ("open", "blocked") and task_id > 10 and task_id % 4 == 0:
                deps.append((task_id, task_id - rng.randint(1, 10)))
        # The reader owns two tasks whose files overlap live locks (the compact brief checks those).
        for task_id in (4999, 5000):
            tasks[task_id - 1] = (*tasks[task_id - 1][:3], "in_progress", 5, READER, *tasks[task_id - 1][6:])
            files += [(task_id, p) for p in ("pkg3/sub3/mod3.py", "pkg7/", f"pkg{task_id % 40}/**/*.py")]
        conn.executemany("INSERT INTO tasks (id, title, description, status, priority, owner, created_by,"
                         " blocked_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tasks)
        conn.executemany("INSERT OR IGNORE INTO task_files (task_id, path) VALUES (?, ?)", files)
        conn.executemany("INSERT OR IGNORE INTO task_deps (task_id, depends_on) VALUES (?, ?)", deps)
        conn.execute("UPDATE agents SET current_task = 5000 WHERE id = ?", (READER,))

        types = ["edit"] * 6 + ["lock", "unlock", "task", "note"]
        activity = []
        for n in range(100_000):
            kind = rng.choice(types)
            path = f"pkg{n % 40}/sub{n % 7}/mod{n % 850}.py" if kind == "edit" else None
            activity.append((rng.choice(AGENTS), kind, f"{kind} #{n}" + (f" {path}" if path else ""), path,
                             now - 7 * 86400 + n * (7 * 86400 / 100_000)))
        conn.executemany("INSERT INTO activity (agent, type, message, file, created_at) VALUES (?, ?, ?, ?, ?)",
                         activity)

        messages = []
        for n in range(1, 501):
            kind, recipient = rng.choice([("all", "all"), ("agent", READER), ("agent", "agent-01"), ("role", "qa")])
            messages.append((n, rng.choice(AGENTS), kind, recipient, f"message {n} " * 8, None, int(n % 50 == 0),
                             now - (500 - n) * 60))
        conn.executemany("INSERT INTO messages (id, sender, kind, recipient, body, reply_to, urgent, created_at)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", messages)
        conn.executemany("INSERT INTO decisions (agent, text, created_at) VALUES (?, ?, ?)",
                         [(rng.choice(AGENTS), f"decision {n}: use approach {n % 3}", now - n * 600)
                          for n in range(50)])
    for table in ("agents", "tasks", "task_files", "task_deps", "activity", "messages", "decisions"):
        counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    conn.execute("ANALYZE")
    conn.close()
    return counts


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0], runs=20)
    c.preamble("bench_status: status views on a busy database", args)
    root = c.make_repo("status", args.keep)
    counts = seed(root)
    c.refresh_holders(root)
    print("- database: " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
          + f"; the reading agent ({READER}) owns 2 in-progress tasks whose files overlap live locks, "
          "and has unread direct messages")
    print()

    cases = [
        c.floor_case(),
        c.Case("`agent-sync status`", [c.SCRIPT, "status"], cwd=root, agent=READER),
        c.Case("`agent-sync status --json`", [c.SCRIPT, "status", "--json"], cwd=root, agent=READER),
        c.Case("`agent-sync status --compact`", [c.SCRIPT, "status", "--compact"], cwd=root, agent=READER),
        c.Case("`python -I -m agent_sync status --compact`", [c.PY, "-I", "-m", "agent_sync", "status", "--compact"],
               cwd=root, agent=READER),
    ]
    samples = c.measure(cases, args.runs, args.warmup)
    floor = samples.pop(c.FLOOR)
    print(c.table(list(samples.items()), floor))


if __name__ == "__main__":
    main()
