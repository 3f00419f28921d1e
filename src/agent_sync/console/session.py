"""The operator and what the console shows; no Textual here.

The console acts as the reserved operator identity: client `operator` (`presence.OPERATOR`), with the
console's own process as its client process, so it is active exactly while the console runs. Its locks hold
and its messages reach agents like anyone's; it is never counted among the active agents, so it blocks no
one's git commands (`guard.others_in_worktree` asks `Roster.active_agents`). Leaving releases its locks and
ends its session.

`Panes` reads what the panes show inside the feed's read transaction (the same snapshot as the events), and
only what may have changed: the agents and the locks (small, live tables) on every change, the task board
when a task event or a presence change says so. The activity log and the messages are never read again:
the feed brings what is new.
"""

import os
import time

from agent_sync import process
from agent_sync.core import locks, operations, presence, tasks

DEFAULT_NAME = "operator"
DONE_SHOWN = 8  # finished tasks the board shows (the newest ids)
STATUS_ORDER = {"active": 0, "stale": 1, "offline": 2, "idle": 3}


def operator_id(name: str) -> str:
    """The operator's agent id: `operator`, or one per other name (`--name`), the same every time."""
    if name == DEFAULT_NAME:
        return DEFAULT_NAME
    from agent_sync.identity import _digest

    return f"{DEFAULT_NAME}-{_digest(name)}"


def own_process() -> tuple[int, int] | None:
    """(pid, start time) of this process, for process liveness; None where the host cannot tell."""
    if not process.host_key():
        return None
    found = process.stat(os.getpid())
    return (os.getpid(), found[2]) if found else None


def operator_context(name: str | None = None, *, cwd: str | None = None, environ=None, clock=None):
    """A Context whose caller is the operator (whatever AGENT_SYNC_ID the shell has)."""
    from agent_sync.core.context import open_context

    name = presence.check_name(name if name is not None else DEFAULT_NAME)
    ctx = open_context(cwd=cwd, client=presence.OPERATOR, environ=environ, clock=clock)
    ctx.me, ctx.id_source, ctx.client, ctx.name = operator_id(name), "console", presence.OPERATOR, name
    ctx.session = f"console-{os.getpid()}"
    ctx.client_process = own_process()
    return ctx


class OperatorSession:
    """The operator's context (used from the UI thread) and its lifecycle: join, run commands, leave."""

    def __init__(self, name: str | None = None, *, cwd: str | None = None, environ=None):
        self.name, self.cwd, self.environ = name, cwd, environ
        self.ctx = operator_context(name, cwd=cwd, environ=environ)
        self.left = False

    @property
    def me(self) -> str:
        return self.ctx.me

    def reader(self):
        """Another context of the same identity, for the thread that follows the feed (one store connection
        per thread; it is opened, used and closed there)."""
        return operator_context(self.name, cwd=self.cwd, environ=self.environ)

    def join(self) -> None:
        """Register the operator (under its name; a name a live agent uses gets a number), active now."""
        with self.ctx.store.write() as tx:
            presence.ensure_agent(tx, self.ctx)
            presence.name_session(tx, self.ctx)

    @property
    def beats(self) -> bool:
        """Without process liveness (no /proc) the operator stays active by heartbeats."""
        return self.ctx.client_process is None

    def run(self, op_name: str, values: dict):
        """One operation through its declaration (validate, invoke, its text): (text, data)."""
        op = operations.by_name()[op_name]
        args = operations.validate(op, values)
        data = operations.invoke(op, args, self.ctx)
        return (op.text(data, args) if op.text is not None else ""), data

    def leave(self) -> str:
        """Release every lock the operator holds and end its session; safe to call twice."""
        if self.left:
            return ""
        self.left = True
        try:
            text, _ = self.run("unlock", {"all": True})
            with self.ctx.store.write() as tx:
                presence.end_session_in(tx, self.ctx)
            return text
        finally:
            self.ctx.close()


# -- what the panes show -------------------------------------------------------------------------------------

def _lock_row(row, people, now: float, waiting: list) -> dict:
    view = locks.lock_view(row, people, now)
    view["expires_ts"] = row["expires_at"]
    target = locks.row_target(row)
    view["queue"] = [w["agent_name"] for w in waiting
                     if w["agent"] != row["holder"] and locks.targets_overlap(target, w["_target"])]
    return view


class Panes:
    """Reads the panes' state inside the feed's transaction (`Feed.start/next(also=...)`); the newest
    snapshot waits in `latest` for the UI thread to take."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.latest: dict | None = None

    def take(self) -> dict | None:
        found, self.latest = self.latest, None
        return found

    def first(self, tx, people, events) -> None:
        snapshot = self._read(tx, people, with_tasks=True)
        last, files = {}, {}
        for agent_id, row in tx.latest_activity().items():
            last[agent_id] = {"type": row["type"], "text": row["message"], "file": row["file"],
                              "at": presence.iso(row["created_at"])}
        for agent_id in list(people.rows)[:200]:
            found = next((r["file"] for r in tx.activity(agents=[agent_id], limit=20) if r["file"]), None)
            if found:
                files[agent_id] = found
        snapshot["last"], snapshot["files"] = last, files
        self.latest = snapshot

    def changed(self, tx, people, events) -> None:
        board = any(e["kind"] == "presence" or e["type"] == "task" for e in events)
        snapshot = self._read(tx, people, with_tasks=board)
        if self.latest is not None and snapshot["tasks"] is None:
            snapshot["tasks"] = self.latest["tasks"]  # an untaken snapshot's board stays current
        self.latest = snapshot

    def _read(self, tx, people, *, with_tasks: bool) -> dict:
        now = tx.now
        waiting = []
        for w in locks.live_waiters(tx, self.ctx):
            view = locks.waiter_view(w, people, now)
            view["_target"] = locks.row_target(w)
            waiting.append(view)
        live = locks.live_locks(tx, self.ctx)
        lock_rows = [_lock_row(r, people, now, waiting) for r in live]
        leases: dict[str, tuple[float, str]] = {}
        for r in live:
            if r["lease"] and r["kind"] == "file" and r["created_at"] >= leases.get(r["holder"], (0, ""))[0]:
                leases[r["holder"]] = (r["created_at"], r["key"])
        agents = []
        for row in people.rows.values():
            view = presence.agent_view(row, people)
            view["last_seen_ts"] = row["last_seen"]
            view["editing"] = leases.get(row["id"], (0, None))[1]
            agents.append(view)
        agents.sort(key=lambda a: (a["operator"], STATUS_ORDER.get(a["status"], 9), a["name"].lower()))
        for w in waiting:
            del w["_target"]
        snapshot = {"now": now, "clock": time.time(), "agents": agents, "locks": lock_rows,
                    "waiters": waiting, "tasks": None}
        if with_tasks:
            snapshot["tasks"] = self._tasks(tx, people)
        return snapshot

    def _tasks(self, tx, people) -> dict:
        items = tasks.views(tx, self.ctx, tasks.UNFINISHED)
        done = sorted(tasks.views(tx, self.ctx, ("done",), 200), key=lambda t: -t["id"])[:DONE_SHOWN]
        deps: dict[int, list[tuple[int, str]]] = {}
        for task_id, depends_on, status in tx.dependency_edges():
            deps.setdefault(task_id, []).append((depends_on, status))
        for t in items + done:
            t["deps"] = deps.get(t["id"], [])
        return {"items": items + done, "counts": tx.task_counts()}
