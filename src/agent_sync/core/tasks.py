"""The task board: claiming, dependencies and the ready queue.

A task is ready when every task it depends on is done or cancelled. A task in progress belongs to its owner
while the owner is active; once the owner goes stale, offline or idle, anyone may take it over.
"""

from agent_sync import targets as tg
from agent_sync.core import locks
from agent_sync.core.presence import check_text, ensure_agent, status_of
from agent_sync.errors import Conflict, NotFound, UsageError

STATUSES = ("open", "in_progress", "blocked", "done", "cancelled")
FINISHED = ("done", "cancelled")
MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
MAX_PRIORITY = 1_000_000


MAX_ID = 2**63 - 1


def _ref_id(ref: str) -> int | None:
    text = ref.strip().lstrip("#")
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def resolve(tx, ref) -> object:
    """A task by id (`12` or `#12`) or by case-insensitive title."""
    ref = str(ref).strip()
    if not ref:
        raise UsageError("name a task by id or title")
    task_id = _ref_id(ref)
    if task_id is not None:
        task = tx.get_task(task_id)
        if task is not None:
            return task
    matches = tx.tasks_titled(ref)
    if not matches:
        raise NotFound(f"no task with id or title {ref!r}; list them with: agent-sync tasks")
    if len(matches) > 1:
        ids = ", ".join(f"#{t['id']}" for t in matches)
        raise UsageError(f"the title {ref!r} matches several tasks ({ids}); name one by id")
    return matches[0]


def task_view(task, files=(), waiting_on=(), now=None, settings=None) -> dict:
    view = {
        "id": task["id"],
        "title": task["title"],
        "description": task["description"],
        "status": task["status"],
        "priority": task["priority"],
        "owner": task["owner"],
        "owner_name": task["owner_name"] if task["owner"] else None,
        "blocked_reason": task["blocked_reason"] or None,
        "files": list(files),
        "waiting_on": list(waiting_on),
        "created_by": task["created_by"],
        "created_at": locks.iso(task["created_at"]),
        "updated_at": locks.iso(task["updated_at"]),
    }
    view["owner_status"] = None
    if now is not None and task["owner"] and task["owner_last_seen"] is not None:
        owner = {"ended_at": task["owner_ended_at"], "last_seen": task["owner_last_seen"]}
        view["owner_status"] = status_of(owner, now, settings)
    return view


def _view(tx, ctx, task) -> dict:
    files = tx.task_files([task["id"]])[task["id"]]
    waiting = [d["id"] for d in tx.unfinished_dependencies(task["id"])]
    return task_view(task, files, waiting, tx.now, ctx.settings)


def _owner_live(tx, ctx, task) -> bool:
    if not task["owner"] or task["owner_last_seen"] is None:
        return False
    owner = {"ended_at": task["owner_ended_at"], "last_seen": task["owner_last_seen"]}
    return status_of(owner, tx.now, ctx.settings) == "active"


def _refuse_if_held(tx, ctx, task, action: str, force: bool) -> None:
    """Only the owner acts on a task while the owner is active, unless forced."""
    if task["owner"] and task["owner"] != ctx.me and _owner_live(tx, ctx, task) and not force:
        hint = (f"ask them: agent-sync send --to {task['owner_name']} --message '...'" if action == "claim"
                else f"only they can {action} it (or use --force)")
        raise Conflict(f"task #{task['id']} is held by {task['owner_name']} ({task['owner']}), who is active; {hint}")


def _clear_current(tx, task) -> None:
    """The task no longer is its owner's current one."""
    if task["owner"]:
        owner = tx.get_agent(task["owner"])
        if owner is not None and owner["current_task"] == task["id"]:
            tx.update_agent(task["owner"], current_task=None)


def _check_priority(priority) -> int:
    if priority is None:
        return 0
    if not isinstance(priority, int) or priority < 0 or priority > MAX_PRIORITY:
        raise UsageError(f"--priority must be a whole number from 0 to {MAX_PRIORITY}, got {priority}")
    return priority


def _would_cycle(edges: list[tuple[int, int]], task_id: int, depends_on: int) -> bool:
    """Would `task_id -> depends_on` close a cycle, i.e. does depends_on already (transitively) wait on task_id?"""
    graph: dict[int, list[int]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    stack, seen = [depends_on], set()
    while stack:
        node = stack.pop()
        if node == task_id:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, ()))
    return False


def create(ctx, title: str, *, description: str = "", files=(), priority: int | None = 0, depends_on=()) -> dict:
    title = check_text(title, "title", MAX_TITLE)
    description = check_text(description, "description", MAX_DESCRIPTION, allow_empty=True)
    priority = _check_priority(priority)
    keys = [locks.display(tg.parse_target(f, ctx.tree, ctx.cwd or None)) for f in files]
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        deps = [resolve(tx, ref)["id"] for ref in depends_on]
        task_id = tx.insert_task(title, description, priority, ctx.me)
        tx.add_task_files(task_id, keys)
        for dep in deps:
            tx.add_dependency(task_id, dep)
        tx.insert_activity(ctx.me, "task", f"created task #{task_id}: {title}")
        return _view(tx, ctx, tx.get_task(task_id))


def add_dependency(ctx, ref, dep_ref) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        task, dep = resolve(tx, ref), resolve(tx, dep_ref)
        if task["id"] == dep["id"]:
            raise UsageError(f"task #{task['id']} cannot depend on itself")
        if _would_cycle(tx.dependencies(), task["id"], dep["id"]):
            raise UsageError(f"#{task['id']} -> #{dep['id']} would make a dependency cycle "
                             f"(#{dep['id']} already waits on #{task['id']})")
        tx.add_dependency(task["id"], dep["id"])
        tx.insert_activity(ctx.me, "task", f"#{task['id']} now waits on #{dep['id']}")
        return _view(tx, ctx, tx.get_task(task["id"]))


def _lock_files(tx, ctx, task) -> None:
    files = tx.task_files([task["id"]])[task["id"]]
    if not files:
        raise UsageError(f"task #{task['id']} names no files to lock (create it with --file)")
    wanted = locks.parse_targets(ctx, files)
    locks.take_in(tx, ctx, wanted, "exclusive", f"task #{task['id']}: {task['title']}",
                  ctx.settings.lock_ttl_minutes * 60)


def _take(tx, ctx, task, lock_files: bool) -> dict:
    if lock_files:
        _lock_files(tx, ctx, task)  # raises Conflict: the whole transaction, claim included, rolls back
    tx.update_task(task["id"], status="in_progress", owner=ctx.me, blocked_reason="")
    tx.update_agent(ctx.me, current_task=task["id"])
    tx.insert_activity(ctx.me, "task", f"claimed task #{task['id']}: {task['title']}")
    return _view(tx, ctx, tx.get_task(task["id"]))


def claim(ctx, ref, *, lock_files: bool = False, force: bool = False) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        task = resolve(tx, ref)
        if task["status"] in FINISHED:
            raise UsageError(f"task #{task['id']} is {task['status']}; reopen it first: agent-sync reopen-task {task['id']}")
        _refuse_if_held(tx, ctx, task, "claim", force)
        waiting = tx.unfinished_dependencies(task["id"])
        if waiting and not force:
            names = ", ".join(f"#{d['id']} ({d['status']})" for d in waiting)
            raise UsageError(f"task #{task['id']} waits on {names}; finish those first or use --force")
        return _take(tx, ctx, task, lock_files)


def claim_next(ctx, *, lock_files: bool = False) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        skipped: list[int] = []
        conflicts: list[str] = []
        while True:
            task = tx.next_ready_task(ctx.live_cutoff(tx.now), skipped)
            if task is None:
                extra = f" ({len(conflicts)} ready task(s) have locked files: {conflicts[0]})" if conflicts else ""
                raise NotFound("no ready task to claim" + extra)
            if task["owner"] == ctx.me and task["status"] == "in_progress":
                skipped.append(task["id"])
                continue
            files = tx.task_files([task["id"]])[task["id"]] if lock_files else []
            if files:
                found = locks.find_conflicts(tx, ctx, locks.parse_targets(ctx, files), "exclusive")
                if found:
                    skipped.append(task["id"])
                    conflicts.append(locks.describe_conflict(*found[0]))
                    continue
            return _take(tx, ctx, task, bool(files))


def complete(ctx, ref, *, force: bool = False) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        task = resolve(tx, ref)
        if task["status"] in FINISHED:
            raise UsageError(f"task #{task['id']} is already {task['status']}")
        _refuse_if_held(tx, ctx, task, "complete", force)
        before = {d["id"] for d in tx.dependents(task["id"]) if tx.unfinished_dependencies(d["id"])}
        tx.update_task(task["id"], status="done", blocked_reason="")
        _clear_current(tx, task)
        unblocked = [
            {"id": d["id"], "title": d["title"]}
            for d in tx.dependents(task["id"])
            if d["id"] in before and not tx.unfinished_dependencies(d["id"]) and d["status"] not in FINISHED
        ]
        tx.insert_activity(ctx.me, "task", f"completed task #{task['id']}: {task['title']}")
        view = _view(tx, ctx, tx.get_task(task["id"]))
        view["unblocked"] = unblocked
        return view


def _change(ctx, ref, action: str, allow_statuses, *, force: bool = False, require_owner: bool = False,
            **fields) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        task = resolve(tx, ref)
        if task["status"] not in allow_statuses:
            raise UsageError(f"task #{task['id']} is {task['status']}; cannot {action} it")
        if require_owner and not task["owner"]:
            raise UsageError(f"task #{task['id']} has no owner to release it from")
        _refuse_if_held(tx, ctx, task, action, force)
        tx.update_task(task["id"], **fields)
        if "owner" in fields:
            _clear_current(tx, task)
        tx.insert_activity(ctx.me, "task", f"{action} task #{task['id']}: {task['title']}")
        return _view(tx, ctx, tx.get_task(task["id"]))


def block(ctx, ref, reason: str, *, force: bool = False) -> dict:
    reason = check_text(reason, "reason", 2000)
    return _change(ctx, ref, "block", ("open", "in_progress", "blocked"), force=force, status="blocked",
                   blocked_reason=reason)


def release(ctx, ref, *, force: bool = False) -> dict:
    return _change(ctx, ref, "release", ("in_progress", "blocked"), force=force, require_owner=True,
                   status="open", owner=None, blocked_reason="")


def cancel(ctx, ref, *, force: bool = False) -> dict:
    return _change(ctx, ref, "cancel", ("open", "in_progress", "blocked"), force=force, status="cancelled",
                   blocked_reason="")


def reopen(ctx, ref) -> dict:
    return _change(ctx, ref, "reopen", ("done", "cancelled", "blocked"), force=True, status="open", owner=None,
                   blocked_reason="")


def list_tasks(ctx, statuses=None, limit: int | None = None) -> list[dict]:
    with ctx.store.read() as tx:
        rows = tx.tasks(statuses, limit)
        files = tx.task_files(r["id"] for r in rows)
        waiting = tx.waiting_task_ids()
        views = []
        for row in rows:
            view = task_view(row, files[row["id"]], (), tx.now, ctx.settings)
            if row["id"] in waiting:
                view["waiting_on"] = [d["id"] for d in tx.unfinished_dependencies(row["id"])]
            views.append(view)
        return views


def show(ctx, ref) -> dict:
    with ctx.store.read() as tx:
        task = resolve(tx, ref)
        view = _view(tx, ctx, task)
        view["dependents"] = [d["id"] for d in tx.dependents(task["id"])]
        return view
