"""The status views: the full picture for humans, and the compact brief injected into an agent's context."""

from agent_sync import targets as tg
from agent_sync.core import locks, messages, tasks
from agent_sync.core.journal import activity_view, decision_view
from agent_sync.core.presence import agent_view, ensure_agent, roster
from agent_sync.text import clean

COMPACT_LIMIT = 2000
FRAME_OPEN = '<agent-sync-state trust="untrusted">'
FRAME_CLOSE = "</agent-sync-state>"


def full(ctx, *, task_limit: int = 30, lock_limit: int = 100, activity_limit: int = 15) -> dict:
    """Everything a human needs on one screen; large sections are cut to their most relevant rows, with counts."""
    with ctx.store.read() as tx:
        now = tx.now
        people = roster(tx, ctx)
        me = people.rows.get(ctx.me)
        latest = tx.latest_activity()
        live = locks.live_locks(tx, ctx)
        waiting = locks.live_waiters(tx, ctx)
        return {
            "root": ctx.root,
            "me": agent_view(me, people) if me else {"id": ctx.me, "status": "unregistered"},
            "agents": [agent_view(a, people, latest.get(a["id"])) for a in people.rows.values()],
            "tasks": tasks.views(tx, ctx, tasks.UNFINISHED, task_limit),
            "task_counts": tx.task_counts(),
            "locks": [locks.lock_view(r, people, now) for r in live[:lock_limit]],
            "lock_count": len(live),
            "waiters": [locks.waiter_view(w, people, now) for w in waiting],
            "inbox": messages.unread(tx, ctx) if me else [],
            "decisions": [decision_view(r, people) for r in reversed(tx.decisions(5))],
            "activity": [activity_view(r, people) for r in reversed(tx.activity(limit=activity_limit))],
            "activity_count": tx.count_activity(),
        }


def _task_targets(task_files: list[str], root: str) -> list:
    found = []
    for raw in task_files:
        try:
            found.append(tg.parse_target(raw, root, root))
        except Exception:
            continue  # a file recorded before it was refused, e.g. outside a moved repository
    return found


def _locks_touching(tx, ctx, wanted: list, live: list) -> list:
    """Other agents' live locks that overlap the reader's task targets; files go through the indexed point query."""
    ids = set()
    for target in wanted:
        if target.kind == "file":
            ids.update(r["id"] for r in locks.covering(tx, ctx, target.key) if r["holder"] != ctx.me)
    broad = [t for t in wanted if t.kind != "file"]
    if broad:
        for row in live:
            held = locks.row_target(row)
            if row["id"] not in ids and any(locks.targets_overlap(t, held) for t in broad):
                ids.add(row["id"])
    return [r for r in live if r["id"] in ids]


def compact(ctx, *, limit: int = COMPACT_LIMIT, heartbeat: bool = False, tx=None, shown: list | None = None) -> str:
    """A short brief, most relevant to the reading agent first, always under `limit` characters.
    `shown` collects the ids of the messages that made it into the brief."""
    if tx is None:
        if heartbeat:
            with ctx.store.write() as wtx:
                ensure_agent(wtx, ctx)
        with ctx.store.read() as rtx:
            return compact(ctx, limit=limit, tx=rtx, shown=shown)
    people = roster(tx, ctx)
    me = people.rows.get(ctx.me)
    my_name = clean(me["name"], 40, one_line=True) if me else ctx.me
    lines = [f"You are {my_name} ({ctx.me}). Coordinate through `agent-sync`; text below was written by agents."]

    my_tasks = [t for t in tx.tasks(("in_progress", "blocked")) if t["owner"] == ctx.me]
    task_files: list[str] = []
    if my_tasks:
        files = tx.task_files(t["id"] for t in my_tasks)
        for t in my_tasks[:3]:
            task_files += files[t["id"]]
            lines.append(f"Your task: #{t['id']} {clean(t['title'], 80, one_line=True)} [{t['status']}]")
    else:
        lines.append("Your task: none (agent-sync claim-next takes the next ready one)")

    mine = [r for r in tx.locks(holder=ctx.me) if r["expires_at"] > tx.now]
    if mine:
        held = ", ".join(clean(locks.display(locks.row_target(r)), 60, one_line=True) for r in mine[:6])
        more = f" +{len(mine) - 6} more" if len(mine) > 6 else ""
        lines.append(f"Your locks: {held}{more}")

    live = locks.live_locks(tx, ctx, exclude=ctx.me)
    touching = _locks_touching(tx, ctx, _task_targets(task_files, ctx.root), live)
    for r in touching[:4]:
        lines.append(
            f"Held by another agent, touches your task: {clean(locks.display(locks.row_target(r)), 60, one_line=True)}"
            f" by {clean(people.name(r['holder']), 30, one_line=True)} until {locks.hhmm(r['expires_at'])}"
        )

    inbox = messages.unread(tx, ctx) if me else []
    message_lines: dict[int, int] = {}
    if inbox:
        lines.append(f"Unread messages for you ({len(inbox)}{'+' if len(inbox) == 20 else ''}):")
        for m in inbox[:5]:
            message_lines[len(lines)] = m["id"]
            lines.append(f"- #{m['id']} from {clean(m['from_name'], 30, one_line=True)}: "
                         f"{clean(m['body'], 200, one_line=True)}")

    active = [a for a in people.active_agents() if a["id"] != ctx.me]
    if active:
        names = ", ".join(clean(a["name"], 30, one_line=True) for a in active[:8])
        more = f" +{len(active) - 8} more" if len(active) > 8 else ""
        lines.append(f"Other active agents ({len(active)}): {names}{more}")
    else:
        lines.append("No other active agents.")
    if live:
        lines.append(f"Locks held by others: {len(live)} (agent-sync locks)")
        for r in live[:5]:
            if r in touching:
                continue
            lines.append(f"- {clean(locks.display(locks.row_target(r)), 60, one_line=True)} by "
                         f"{clean(people.name(r['holder']), 30, one_line=True)}")
    counts = tx.task_counts()
    if counts:
        summary = ", ".join(f"{counts[s]} {s.replace('_', ' ')}" for s in tasks.STATUSES if counts.get(s))
        queue = tasks.ready_queue(tx, ctx)
        nxt = queue[0] if queue else None
        ready = f"; next ready: #{nxt['id']} {clean(nxt['title'], 60, one_line=True)}" if nxt else ""
        lines.append(f"Tasks: {summary}{ready} (agent-sync tasks)")
    latest = tx.decisions(3)
    if latest:
        lines.append("Recent decisions:")
        lines += [f"- {clean(d['text'], 150, one_line=True)}" for d in latest]

    text, kept = frame_kept(lines, limit)
    if shown is not None:
        shown += [message_id for index, message_id in message_lines.items() if index < kept]
    return text


def frame_kept(lines: list[str], limit: int = COMPACT_LIMIT, tail: str = "… more: agent-sync status"):
    """Wrap lines in the untrusted-data frame, dropping trailing lines to stay under `limit` characters.
    Returns the text and how many of `lines` it kept."""
    safe = [line.replace(FRAME_CLOSE, "</agent-sync-state_>").replace(FRAME_OPEN, "<agent-sync-state_>")
            for line in lines]
    budget = limit - len(FRAME_OPEN) - len(FRAME_CLOSE) - len(tail) - 4
    kept, used = [], 0
    for line in safe:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    body = kept if len(kept) == len(safe) else [*kept, tail]
    return "\n".join([FRAME_OPEN, *body, FRAME_CLOSE]), len(kept)
