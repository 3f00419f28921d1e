"""The task board: claiming, dependencies and the ready queue.

A task is ready when every task it depends on is finished (done or cancelled). Higher priority goes first,
then the older task. A task in progress belongs to its owner while the owner is active; once the owner goes
stale, offline or idle, anyone may take it over. Locks taken with `--lock` for a task go with the task when
it is completed, released or cancelled.
"""

from agent_sync import targets as tg
from agent_sync.core import locks
from agent_sync.core.presence import check_text, ensure_agent, iso, roster
from agent_sync.errors import Conflict, NotFound, UsageError

STATUSES = ("open", "in_progress", "blocked", "done", "cancelled")
FINISHED = frozenset(("done", "cancelled"))
BOARD_ORDER = ("in_progress", "open", "blocked", "done", "cancelled")  # how lists show them
UNFINISHED = ("in_progress", "open", "blocked")
MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
MAX_PRIORITY = 1_000_000
MAX_BLOCK_REASON = 2000
MAX_ID = 2**63 - 1
TITLE_PREFIX = "title:"


def parse_id(text: str) -> int | None:
    """`12` or `#12` as a positive id that fits a 64-bit integer; None for anything else."""
    text = str(text).strip().lstrip("#")
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def resolve(tx, ref) -> object:
    """A task by id (`12`, `#12`) or by case-insensitive title (`title:12` for a title that is a number)."""
    ref = str(ref).strip()
    if not ref:
        raise UsageError("name a task by id or title")
    if ref.lower().startswith(TITLE_PREFIX):
        title = ref[len(TITLE_PREFIX):].strip()
        by_id = None
    else:
        title = ref
        task_id = parse_id(ref)
        by_id = tx.get_task(task_id) if task_id is not None else None
        if by_id is not None and ref.startswith("#"):
            return by_id
    matches = tx.tasks_titled(title)
    if by_id is not None:
        others = [t for t in matches if t["id"] != by_id["id"]]
        if others:
            ids = ", ".join(f"#{t['id']}" for t in others)
            raise UsageError(f"{ref!r} is task #{by_id['id']} and also the title of {ids}; "
                             f"say #{by_id['id']} for the id or {TITLE_PREFIX}{ref} for the title")
        return by_id
    if not matches:
        raise NotFound(f"no task with id or title {ref!r}; list them with: agent-sync tasks")
    if len(matches) > 1:
        ids = ", ".join(f"#{t['id']}" for t in matches)
        raise UsageError(f"the title {title!r} matches several tasks ({ids}); name one by id")
    return matches[0]


class Board:
    """The dependency graph of one transaction: who waits on what, decided once."""

    def __init__(self, tx):
        self.edges = tx.dependency_edges()
        self.waiting: dict[int, list[int]] = {}
        self.dependents: dict[int, list[int]] = {}
        for task_id, depends_on, status in self.edges:
            self.dependents.setdefault(depends_on, []).append(task_id)
            if status not in FINISHED:
                self.waiting.setdefault(task_id, []).append(depends_on)

    def waits_on(self, task_id: int) -> list[int]:
        return self.waiting.get(task_id, [])

    def ready(self, task) -> bool:
        return task["status"] not in FINISHED and not self.waiting.get(task["id"])


def _board(tx) -> Board:
    found = tx.cache.get("board")
    if found is None:
        found = tx.cache["board"] = Board(tx)
    return found


def _changed(tx) -> None:
    tx.cache.pop("board", None)


def task_view(task, people, board: Board, files=()) -> dict:
    owner = task["owner"]
    return {
        "id": task["id"],
        "title": task["title"],
        "description": task["description"],
        "status": task["status"],
        "priority": task["priority"],
        "owner": owner,
        "owner_name": people.name(owner) if owner else None,
        "owner_status": (people.status(owner) if owner in people.rows else None) if owner else None,
        "blocked_reason": task["blocked_reason"] or None,
        "files": list(files),
        "waiting_on": list(board.waits_on(task["id"])),
        "ready": board.ready(task),
        "created_by": task["created_by"],
        "created_at": iso(task["created_at"]),
        "updated_at": iso(task["updated_at"]),
    }


def _view(tx, ctx, task) -> dict:
    files = tx.task_files([task["id"]])[task["id"]]
    return task_view(task, roster(tx, ctx), _board(tx), files)


def _owner_live(tx, ctx, task) -> bool:
    return bool(task["owner"]) and roster(tx, ctx).live(task["owner"])


def _refuse_if_held(tx, ctx, task, action: str, force: bool) -> None:
    """Only the owner acts on a task while the owner is active, unless forced."""
    if task["owner"] and task["owner"] != ctx.me and _owner_live(tx, ctx, task) and not force:
        name = roster(tx, ctx).name(task["owner"])
        hint = (f"ask them: agent-sync send --to {name} --message '...'" if action == "claim"
                else f"only they can {action} it (or use --force)")
        raise Conflict(f"task #{task['id']} is held by {name} ({task['owner']}), who is active; {hint}")


def _clear_current(tx, task) -> None:
    """The task no longer is its owner's current one."""
    if task["owner"]:
        owner = tx.get_agent(task["owner"])
        if owner is not None and owner["current_task"] == task["id"]:
            tx.update_agent(task["owner"], current_task=None)


def check_priority(priority) -> int:
    if priority is None:
        return 0
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0 or priority > MAX_PRIORITY:
        raise UsageError(f"--priority must be a whole number from 0 to {MAX_PRIORITY}, got {priority}")
    return priority


def _would_cycle(edges, task_id: int, depends_on: int) -> bool:
    """Would `task_id -> depends_on` close a cycle, i.e. does depends_on already (transitively) wait on task_id?"""
    graph: dict[int, list[int]] = {}
    for a, b, _status in edges:
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
    priority = check_priority(priority)
    keys = [locks.display(tg.parse_target(f, ctx.tree, ctx.cwd or None)) for f in files]
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        deps = [resolve(tx, ref)["id"] for ref in depends_on]
        task_id = tx.insert_task({"title": title, "description": description, "priority": priority,
                                  "created_by": ctx.me, "created_at": tx.now, "updated_at": tx.now})
        tx.add_task_files(task_id, keys)
        for dep in deps:
            tx.add_dependency(task_id, dep)
        _changed(tx)
        tx.insert_activity(ctx.me, "task", f"created task #{task_id}: {title}")
        return _view(tx, ctx, tx.get_task(task_id))


def add_dependency(ctx, ref, dep_ref) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        task, dep = resolve(tx, ref), resolve(tx, dep_ref)
        if task["id"] == dep["id"]:
            raise UsageError(f"task #{task['id']} cannot depend on itself")
        if _would_cycle(tx.dependency_edges(), task["id"], dep["id"]):
            raise UsageError(f"#{task['id']} -> #{dep['id']} would make a dependency cycle "
                             f"(#{dep['id']} already waits on #{task['id']})")
        tx.add_dependency(task["id"], dep["id"])
        _changed(tx)
        tx.insert_activity(ctx.me, "task", f"#{task['id']} now waits on #{dep['id']}")
        return _view(tx, ctx, tx.get_task(task["id"]))


def _lock_files(tx, ctx, task) -> None:
    files = tx.task_files([task["id"]])[task["id"]]
    if not files:
        raise UsageError(f"task #{task['id']} names no files to lock (create it with --file)")
    wanted = locks.parse_targets(ctx, files)
    locks.take_in(tx, ctx, wanted, locks.EXCLUSIVE, f"task #{task['id']}: {task['title']}",
                  ctx.settings.lock_ttl_minutes * 60, task_id=task["id"])


def _update(tx, task_id: int, **fields) -> None:
    tx.update_task(task_id, updated_at=tx.now, **fields)
    _changed(tx)


def _take(tx, ctx, task, lock_files: bool) -> dict:
    if lock_files:
        _lock_files(tx, ctx, task)  # raises Conflict: the whole transaction, claim included, rolls back
    _update(tx, task["id"], status="in_progress", owner=ctx.me, blocked_reason="")
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
        waiting = _board(tx).waits_on(task["id"])
        if waiting and not force:
            names = ", ".join(f"#{d} ({tx.get_task(d)['status']})" for d in waiting)
            raise UsageError(f"task #{task['id']} waits on {names}; finish those first or use --force")
        return _take(tx, ctx, task, lock_files)


def ready_queue(tx, ctx) -> list:
    """Tasks anyone may take now, best first: open ones, and those in progress under an owner who is no
    longer active, whose dependencies are all finished."""
    board, people = _board(tx), roster(tx, ctx)
    found = []
    for task in tx.tasks(("open", "in_progress")):  # priority order within the statuses
        if board.waits_on(task["id"]):
            continue
        if task["status"] == "in_progress" and task["owner"] and people.live(task["owner"]):
            continue
        found.append(task)
    found.sort(key=lambda t: (-t["priority"], t["id"]))
    return found


def claim_next(ctx, *, lock_files: bool = False) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        conflicts: list[str] = []
        for task in ready_queue(tx, ctx):
            if task["owner"] == ctx.me and task["status"] == "in_progress":
                continue
            files = tx.task_files([task["id"]])[task["id"]] if lock_files else []
            if files:
                found = locks.find_conflicts(tx, ctx, locks.parse_targets(ctx, files), locks.EXCLUSIVE)
                if found:
                    conflicts.append(locks.conflict_text(tx, ctx, found))
                    continue
            return _take(tx, ctx, task, bool(files))
        extra = f" ({len(conflicts)} ready task(s) have locked files: {conflicts[0]})" if conflicts else ""
        raise NotFound("no ready task to claim" + extra)


def _give_back(tx, ctx, task, view: dict) -> dict:
    view["released_locks"] = locks.release_task_locks(tx, ctx, task["id"])
    return view


def complete(ctx, ref, *, force: bool = False) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        task = resolve(tx, ref)
        if task["status"] in FINISHED:
            raise UsageError(f"task #{task['id']} is already {task['status']}")
        _refuse_if_held(tx, ctx, task, "complete", force)
        before = {d for d in _board(tx).dependents.get(task["id"], ()) if _board(tx).waits_on(d)}
        _update(tx, task["id"], status="done", blocked_reason="")
        _clear_current(tx, task)
        board = _board(tx)
        unblocked = []
        for dep_id in sorted(before):
            dep = tx.get_task(dep_id)
            if not board.waits_on(dep_id) and dep["status"] not in FINISHED:
                unblocked.append({"id": dep_id, "title": dep["title"]})
        tx.insert_activity(ctx.me, "task", f"completed task #{task['id']}: {task['title']}")
        view = _give_back(tx, ctx, task, _view(tx, ctx, tx.get_task(task["id"])))
        view["unblocked"] = unblocked
        return view


def _change(ctx, ref, action: str, allow_statuses, *, force: bool = False, require_owner: bool = False,
            give_back: bool = False, **fields) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        task = resolve(tx, ref)
        if task["status"] not in allow_statuses:
            raise UsageError(f"task #{task['id']} is {task['status']}; cannot {action} it")
        if require_owner and not task["owner"]:
            raise UsageError(f"task #{task['id']} has no owner to release it from")
        _refuse_if_held(tx, ctx, task, action, force)
        _update(tx, task["id"], **fields)
        if "owner" in fields:
            _clear_current(tx, task)
        tx.insert_activity(ctx.me, "task", f"{action} task #{task['id']}: {task['title']}")
        view = _view(tx, ctx, tx.get_task(task["id"]))
        return _give_back(tx, ctx, task, view) if give_back else view


def block(ctx, ref, reason: str, *, force: bool = False) -> dict:
    reason = check_text(reason, "reason", MAX_BLOCK_REASON)
    return _change(ctx, ref, "block", ("open", "in_progress", "blocked"), force=force, status="blocked",
                   blocked_reason=reason)


def release(ctx, ref, *, force: bool = False) -> dict:
    return _change(ctx, ref, "release", ("in_progress", "blocked"), force=force, require_owner=True,
                   give_back=True, status="open", owner=None, blocked_reason="")


def cancel(ctx, ref, *, force: bool = False) -> dict:
    return _change(ctx, ref, "cancel", ("open", "in_progress", "blocked"), force=force, give_back=True,
                   status="cancelled", blocked_reason="")


def reopen(ctx, ref) -> dict:
    return _change(ctx, ref, "reopen", ("done", "cancelled", "blocked"), force=True, status="open", owner=None,
                   blocked_reason="")


def list_tasks(ctx, statuses=None, limit: int | None = None) -> list[dict]:
    with ctx.store.read() as tx:
        return views(tx, ctx, statuses or BOARD_ORDER, limit)


def views(tx, ctx, statuses, limit: int | None = None) -> list[dict]:
    rows = tx.tasks(statuses, limit)
    files = tx.task_files(r["id"] for r in rows)
    people, board = roster(tx, ctx), _board(tx)
    return [task_view(row, people, board, files[row["id"]]) for row in rows]


def show(ctx, ref) -> dict:
    with ctx.store.read() as tx:
        task = resolve(tx, ref)
        view = _view(tx, ctx, task)
        view["dependents"] = list(_board(tx).dependents.get(task["id"], ()))
        return view
