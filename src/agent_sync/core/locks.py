"""Locks on files, directories, globs and named resources: who may hold what, for how long, in what order.

A lock holds while it is within its TTL and its holder is active (`presence.status_of`). Two locks conflict
when their targets can share a file (or name the same resource), at least one is exclusive, and their holders
differ. A lock that no longer holds is gone for good once another agent takes an overlapping one; its holder
is told what it lost (`notify_loss`).
"""

import time

from agent_sync import targets as tg
from agent_sync.core.presence import SYSTEM, check_text, ensure_agent, iso, roster
from agent_sync.errors import Conflict, NotFound, UsageError

MAX_REASON = 500
MAX_RESOURCE = 200
MAX_TTL_MINUTES = 7 * 24 * 60
WAIT_POLL_SECONDS = 0.1
# A queued waiter renews its place on every poll; a waiter killed outright drops out of the queue this soon.
WAITER_LEASE_SECONDS = 5.0
EXCLUSIVE, SHARED = "exclusive", "shared"


def hhmm(ts: float) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(ts))


def resource(name: str) -> tg.Target:
    name = check_text(name, "resource name", MAX_RESOURCE)
    return tg.Target("resource", name)


def row_target(row) -> tg.Target:
    return tg.Target(row["kind"], row["key"])


def display(target: tg.Target) -> str:
    return f"resource:{target.key}" if target.kind == "resource" else target.display()


def targets_overlap(a: tg.Target, b: tg.Target) -> bool:
    if a.kind == "resource" or b.kind == "resource":
        return a.kind == b.kind and a.key == b.key
    return tg.overlap(a, b)


def index_key(target: tg.Target) -> str:
    return target.key if target.kind == "resource" else target.base


def parse_targets(ctx, raw_targets, resources=()) -> list[tg.Target]:
    result = [tg.parse_target(raw, ctx.tree, ctx.cwd or None) for raw in raw_targets]
    result += [resource(name) for name in resources]
    if not result:
        raise UsageError("name at least one target (a path, directory, glob or --resource NAME)")
    return result


def holds(row, now: float, people) -> bool:
    """The lock rule: within its TTL and held by an active agent."""
    return row["expires_at"] > now and people.live(row["holder"])


def live_locks(tx, ctx, *, exclude: str | None = None) -> list:
    people = roster(tx, ctx)
    return [r for r in tx.locks() if holds(r, tx.now, people) and r["holder"] != exclude]


def _nearby(tx, wanted: list[tg.Target]) -> list:
    """Every lock that could overlap `wanted`. For files that is the indexed point query per file (its own
    lock, directories above it, globs rooted above it); a directory, glob or resource needs the whole table."""
    if any(t.kind != tg.FILE for t in wanted):
        return tx.locks()
    if len(wanted) == 1:
        return tx.locks_covering_candidates(wanted[0].key, tg.ancestors(wanted[0].key))
    found = {}
    for target in wanted:
        for row in tx.locks_covering_candidates(target.key, tg.ancestors(target.key)):
            found[row["id"]] = row
    return list(found.values())


def lock_view(row, people, now: float | None = None) -> dict:
    view = {
        "id": row["id"],
        "target": display(row_target(row)),
        "kind": row["kind"],
        "holder": row["holder"],
        "holder_name": people.name(row["holder"]),
        "mode": row["mode"],
        "lease": bool(row["lease"]),
        "reason": row["reason"],
        "task": row["task_id"],
        "created_at": iso(row["created_at"]),
        "expires_at": iso(row["expires_at"]),
    }
    if now is not None:
        view["expires_in_s"] = round(row["expires_at"] - now, 1)
    return view


def _who(people, agent_id: str) -> str:
    name = people.name(agent_id)
    return name if name == agent_id else f"{name} ({agent_id})"


def describe_conflict(rows, wanted: tg.Target, people, waiting: bool = False) -> str:
    """One line naming every holder (or waiter) that stands in the way, when the lock expires, why, and how
    to reach them."""
    rows = list(rows)
    first = rows[0]
    agent_key = "agent" if waiting else "holder"
    holders = list(dict.fromkeys(r[agent_key] for r in rows))
    who = ", ".join(_who(people, h) for h in holders)
    what = display(wanted)
    if waiting:
        return (f"{what} is queued for {who}, who {'is' if len(holders) == 1 else 'are'} waiting for it (FIFO); "
                f"use --wait to queue behind them")
    held = display(row_target(first))
    on = "" if held == what else f" (their lock on {held} overlaps it)"
    shared = f" ({len(holders)} shared locks)" if len(holders) > 1 and all(r["mode"] == SHARED for r in rows) else ""
    reason = f": {first['reason']}" if first["reason"] else ""
    until = max(r["expires_at"] for r in rows)
    return (f"{what} is locked by {who}{shared}{on} until {hhmm(until)}{reason}. "
            f"Ask them: agent-sync send --to {people.name(holders[0])} --message '...'")


def _incompatible(mode_a: str, mode_b: str) -> bool:
    return mode_a == EXCLUSIVE or mode_b == EXCLUSIVE


def _standing_in_the_way(rows, wanted: list[tg.Target], mode: str, waiting: bool) -> list[tuple]:
    found = []
    for row in rows:
        if not _incompatible(mode, row["mode"]):
            continue
        held = row_target(row)
        target = next((t for t in wanted if targets_overlap(t, held)), None)
        if target is not None:
            found.append((row, target, waiting))
    return found


def live_waiters(tx, ctx) -> list:
    people = roster(tx, ctx)
    return [w for w in tx.waiters() if w["expires_at"] > tx.now and people.live(w["agent"])]


def find_conflicts(tx, ctx, wanted: list[tg.Target], mode: str, my_waiters=()) -> list[tuple]:
    """(row, target, is_waiter) for every live lock of another agent, and every queued waiter ahead of the
    caller, that stands in the way of taking `wanted` in `mode`. A target the caller already holds is not
    queued for: re-taking it renews it."""
    people = roster(tx, ctx)
    near = [r for r in _nearby(tx, wanted) if r["holder"] != ctx.me and holds(r, tx.now, people)]
    found = _standing_in_the_way(near, wanted, mode, False)
    held = {(r["kind"], r["key"]) for r in tx.locks(holder=ctx.me) if r["mode"] == EXCLUSIVE or mode == SHARED}
    queued_for = [t for t in wanted if (t.kind, t.key) not in held]
    if queued_for:
        my_first = min(my_waiters) if my_waiters else None
        ahead = [w for w in live_waiters(tx, ctx)
                 if w["agent"] != ctx.me and (my_first is None or w["id"] < my_first)]
        found += _standing_in_the_way(ahead, queued_for, mode, True)
    return found


def conflict_text(tx, ctx, found: list[tuple]) -> str:
    """The message for the first obstacle, naming every holder of the same kind in the way of that target."""
    row, target, waiting = found[0]
    same = [r for r, t, w in found if t == target and w == waiting]
    return describe_conflict(same or [row], target, roster(tx, ctx), waiting)


def notify_loss(tx, row, by: str, how: str) -> None:
    """Tell a holder it lost a lock (broken, reclaimed): a message from agent-sync, pushed at its next turn."""
    target = display(row_target(row))
    kind = "edit lease" if row["lease"] else "lock"
    body = (f"Your {kind} on {target} is gone: {how} by {by}. It no longer holds; "
            f"before editing {target} again, coordinate: agent-sync send --to {by} --message '...'")
    tx.insert_message({"sender": SYSTEM, "kind": "agent", "recipient": row["holder"], "body": body,
                       "reply_to": None, "urgent": 0, "created_at": tx.now})


def reclaim(tx, ctx, wanted: list[tg.Target], nearby=None) -> None:
    """Delete the dead locks (expired, or of an inactive holder) that overlap what the caller now takes, so a
    holder who comes back later cannot revive a lock someone else has since taken; tell those holders."""
    people = roster(tx, ctx)
    gone = []
    for row in _nearby(tx, wanted) if nearby is None else nearby:
        if row["holder"] == ctx.me or holds(row, tx.now, people):
            continue
        if any(targets_overlap(t, row_target(row)) for t in wanted):
            gone.append(row)
            why = "it expired" if row["expires_at"] <= tx.now else f"you were {people.status(row['holder'])}"
            notify_loss(tx, row, people.name(ctx.me), f"{why}, and it was taken over")
            lapsed = ("it had expired" if row["expires_at"] <= tx.now
                      else f"they were {people.status(row['holder'])}")
            tx.insert_activity(ctx.me, "reclaim", f"reclaimed {display(row_target(row))} from "
                               f"{people.name(row['holder'])} ({lapsed})", _file_of(row))
    tx.delete_locks(r["id"] for r in gone)


def ttl_seconds(ctx, ttl_minutes: float | None) -> float:
    if ttl_minutes is None:
        return ctx.settings.lock_ttl_minutes * 60
    if not ttl_minutes > 0 or ttl_minutes > MAX_TTL_MINUTES:
        raise UsageError(f"--ttl must be more than 0 and at most {MAX_TTL_MINUTES} minutes "
                         f"(7 days), got {ttl_minutes:.10g}")
    return ttl_minutes * 60


def _put(tx, ctx, target: tg.Target, mode: str, reason: str, lease: bool, expires: float,
         task_id: int | None = None, *, fresh: bool = False) -> None:
    """Take or renew the caller's lock on one target. A renewal keeps the lock's creation time (the turn
    lease of Stop is judged by it) unless the lock had lapsed; `fresh`: the caller knows it holds none."""
    created = tx.now
    for row in () if fresh else tx.locks(holder=ctx.me, kind=target.kind, key=target.key):
        if row["expires_at"] > tx.now:
            created = row["created_at"]
            if task_id is None:
                task_id = row["task_id"]
    tx.put_lock({"kind": target.kind, "key": target.key, "base": index_key(target), "holder": ctx.me,
                 "mode": mode, "reason": reason, "lease": int(lease), "created_at": created, "expires_at": expires,
                 "task_id": task_id})


def take_in(tx, ctx, wanted: list[tg.Target], mode: str, reason: str, ttl: float, *, lease: bool = False,
            my_waiters=(), task_id: int | None = None) -> list[dict]:
    """Take every target or none, inside the caller's write transaction. Raises Conflict."""
    conflicts = find_conflicts(tx, ctx, wanted, mode, my_waiters)
    if conflicts:
        raise Conflict(conflict_text(tx, ctx, conflicts))
    reclaim(tx, ctx, wanted)
    expires = tx.now + ttl
    for target in wanted:
        _put(tx, ctx, target, mode, reason, lease, expires, task_id)
    people = roster(tx, ctx)
    return [lock_view(r, people, tx.now) for r in tx.locks(holder=ctx.me)
            if any(r["kind"] == t.kind and r["key"] == t.key for t in wanted)]


def _log_targets(tx, ctx, verb: str, rows_or_targets, suffix: str = "") -> None:
    """One activity row per target, each naming its file, so `activity --file` finds lock events."""
    for target in rows_or_targets:
        shown = display(target)
        file = target.key if target.kind != "resource" else None
        tx.insert_activity(ctx.me, verb, f"{verb}ed {shown}{suffix}", file)


def queue_place(tx, ctx, waiter_ids) -> tuple[int, list[str]]:
    """The caller's place in the queue of what it waits for (1 = next), and who it waits behind."""
    people = roster(tx, ctx)
    mine = [w for w in tx.waiters() if w["id"] in set(waiter_ids)]
    ahead: list[str] = []
    for waiter in live_waiters(tx, ctx):
        if waiter["agent"] == ctx.me or waiter["id"] in set(waiter_ids):
            continue
        if any(waiter["id"] < m["id"] and targets_overlap(row_target(waiter), row_target(m)) for m in mine):
            ahead.append(people.name(waiter["agent"]))
    holders = [people.name(r["holder"]) for r in live_locks(tx, ctx, exclude=ctx.me)
               if any(targets_overlap(row_target(r), row_target(m)) for m in mine)]
    return len(dict.fromkeys(ahead)) + 1, list(dict.fromkeys(holders + ahead))


def lock(ctx, raw_targets=(), *, resources=(), shared: bool = False, reason: str = "",
         ttl_minutes: float | None = None, wait: float | None = None, on_wait=None) -> list[dict]:
    """Take locks (all or none). With `wait`, queue first come first served for up to `wait` seconds;
    `on_wait(place, behind)` hears the caller's place in the queue whenever it changes."""
    wanted = parse_targets(ctx, raw_targets, resources)
    reason = check_text(reason, "reason", MAX_REASON, allow_empty=True)
    ttl = ttl_seconds(ctx, ttl_minutes)
    if wait is not None and not wait >= 0:
        raise UsageError("--wait must not be negative")
    mode = SHARED if shared else EXCLUSIVE
    waiter_ids: list[int] = []
    deadline = None
    told = None
    try:
        while True:
            gave_up = None
            with ctx.store.write() as tx:
                ensure_agent(tx, ctx)
                if wait is not None and deadline is None:
                    deadline = tx.now + wait
                    place = min(deadline, tx.now + WAITER_LEASE_SECONDS)
                    waiter_ids = [tx.add_waiter({"agent": ctx.me, "kind": t.kind, "key": t.key, "mode": mode,
                                                 "created_at": tx.now, "expires_at": place}) for t in wanted]
                elif waiter_ids:
                    tx.update_waiters(waiter_ids, expires_at=min(deadline, tx.now + WAITER_LEASE_SECONDS))
                try:
                    views = take_in(tx, ctx, wanted, mode, reason, ttl, my_waiters=waiter_ids)
                except Conflict as conflict:
                    if deadline is None or tx.now >= deadline:
                        # Leave the queue in this same, committed transaction; raise once it is closed.
                        tx.delete_waiters(waiter_ids)
                        waiter_ids = []
                        gave_up = conflict
                    elif on_wait is not None:
                        now_place = queue_place(tx, ctx, waiter_ids)
                        if now_place != told:
                            told = now_place
                            on_wait(*now_place)
                else:
                    tx.delete_waiters(waiter_ids)
                    waiter_ids = []
                    _log_targets(tx, ctx, "lock", wanted)
                    return views
            if gave_up is not None:
                raise gave_up
            ctx.sleep(WAIT_POLL_SECONDS)
    finally:
        if waiter_ids:  # interrupted while queued: leave the queue
            try:
                with ctx.store.write() as tx:
                    tx.delete_waiters(waiter_ids)
            except Exception:
                pass  # the waiter row expires on its own


def unlock(ctx, raw_targets=(), *, resources=(), everything: bool = False, force: bool = False) -> list[dict]:
    if everything and force:
        raise UsageError("--all releases your own locks; to break another agent's lock name it with --force")
    if not everything and not raw_targets and not resources:
        raise UsageError("name what to unlock, or use --all")
    wanted = [] if everything else parse_targets(ctx, raw_targets, resources)
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        people = roster(tx, ctx)
        if everything:
            rows = tx.locks(holder=ctx.me)
        else:
            rows = []
            for target in wanted:
                held = tx.locks(kind=target.kind, key=target.key)
                mine = [r for r in held if r["holder"] == ctx.me]
                if mine:
                    rows += mine
                elif force and held:
                    rows += held
                elif held:
                    others = ", ".join(sorted({people.name(r["holder"]) for r in held}))
                    raise Conflict(f"{display(target)} is held by {others}, not by you; use --force to break it")
                else:
                    raise NotFound(f"you hold no lock on {display(target)}")
        tx.delete_locks(r["id"] for r in rows)
        for row in rows:
            if row["holder"] != ctx.me:
                notify_loss(tx, row, people.name(ctx.me), "broken with unlock --force")
                tx.insert_activity(ctx.me, "unlock", f"unlocked {display(row_target(row))} (forced: "
                                   f"{people.name(row['holder'])})", _file_of(row))
            else:
                tx.insert_activity(ctx.me, "unlock", f"unlocked {display(row_target(row))}", _file_of(row))
        return [lock_view(r, people) for r in rows]


def _file_of(row) -> str | None:
    return None if row["kind"] == "resource" else row["key"]


def renew(ctx, raw_targets=(), *, resources=(), everything: bool = False, ttl_minutes: float | None = None) -> list[dict]:
    if not everything and not raw_targets and not resources:
        raise UsageError("name what to renew, or use --all")
    ttl = ttl_seconds(ctx, ttl_minutes)
    wanted = [] if everything else parse_targets(ctx, raw_targets, resources)
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        mine = [r for r in tx.locks(holder=ctx.me) if r["expires_at"] > tx.now]
        if everything:
            rows = mine
            if not rows:
                raise NotFound("you hold no live locks to renew")
        else:
            rows = []
            for target in wanted:
                match = [r for r in mine if r["kind"] == target.kind and r["key"] == target.key]
                if not match:
                    raise NotFound(f"you no longer hold a lock on {display(target)}; lock it again")
                rows += match
        # While the caller was stale someone else may have taken an overlapping lock: then it is lost.
        for row in rows:
            taken = [f for f in find_conflicts(tx, ctx, [row_target(row)], row["mode"]) if not f[2]]
            if taken:
                raise Conflict(f"you no longer hold {display(row_target(row))}: " + conflict_text(tx, ctx, taken))
        for row in rows:
            _put(tx, ctx, row_target(row), row["mode"], row["reason"], bool(row["lease"]), tx.now + ttl,
                 row["task_id"])
        ids = {r["id"] for r in rows}
        people = roster(tx, ctx)
        return [lock_view(r, people, tx.now) for r in tx.locks(holder=ctx.me) if r["id"] in ids]


def lock_state(row, now: float, people) -> str:
    if row["expires_at"] <= now:
        return "expired"
    status = people.status(row["holder"])
    if status == "unknown":
        return "orphaned"
    return "live" if status == "active" else f"holder {status}"


def waiter_view(row, people, now: float) -> dict:
    return {"id": row["id"], "target": display(row_target(row)), "agent": row["agent"],
            "agent_name": people.name(row["agent"]), "mode": row["mode"], "since": iso(row["created_at"]),
            "waited_s": round(now - row["created_at"], 1)}


def _views(tx, ctx, include_all: bool) -> list[dict]:
    people = roster(tx, ctx)
    views = []
    for row in tx.locks():
        state = lock_state(row, tx.now, people)
        if state != "live" and not include_all:
            continue
        view = lock_view(row, people, tx.now)
        if include_all:
            view["state"] = state
        views.append(view)
    return views


def list_locks(ctx, include_all: bool = False) -> list[dict]:
    """Live locks (every lock, with its state, under include_all)."""
    with ctx.store.read() as tx:
        return _views(tx, ctx, include_all)


def overview(ctx, include_all: bool = False) -> dict:
    """The locks and the queued waiters behind them."""
    with ctx.store.read() as tx:
        people = roster(tx, ctx)
        return {"locks": _views(tx, ctx, include_all),
                "waiters": [waiter_view(w, people, tx.now) for w in live_waiters(tx, ctx)]}


def release_task_locks(tx, ctx, task_id: int) -> list[str]:
    """The locks `claim --lock` took for a task go with the task (complete, release, cancel)."""
    rows = [r for r in tx.locks() if r["task_id"] == task_id]
    tx.delete_locks(r["id"] for r in rows)
    return [display(row_target(r)) for r in rows]


def release_leases(tx, holder: str, before: float | None = None) -> int:
    """Drop the holder's turn leases (only those taken at or before `before`, when given)."""
    cut = tx.now if before is None else before
    rows = [r for r in tx.locks(holder=holder) if r["lease"] and r["created_at"] <= cut]
    tx.delete_locks(r["id"] for r in rows)
    return len(rows)


def purge_expired(tx) -> dict:
    expired = [r["id"] for r in tx.locks() if r["expires_at"] <= tx.now]
    tx.delete_locks(expired)
    waiters = [w["id"] for w in tx.waiters() if w["expires_at"] <= tx.now]
    tx.delete_waiters(waiters)
    return {"expired_locks": len(expired), "expired_waiters": len(waiters)}


def lapsed_own(tx, ctx) -> list:
    """The caller's explicit locks that ran out of time since they were last looked at (turn leases are
    not reported: they are the hooks' own)."""
    return [r for r in tx.locks(holder=ctx.me) if r["expires_at"] <= tx.now and not r["lease"]]


def tell_lapsed(tx, ctx) -> None:
    """Turn the caller's lapsed locks into a notice for it, and drop them: they no longer hold."""
    rows = lapsed_own(tx, ctx)
    for row in rows:
        target = display(row_target(row))
        body = (f"Your lock on {target} expired at {hhmm(row['expires_at'])} and no longer holds; "
                f"lock it again (agent-sync lock {target}) before editing it further")
        tx.insert_message({"sender": SYSTEM, "kind": "agent", "recipient": ctx.me, "body": body, "reply_to": None,
                           "urgent": 0, "created_at": tx.now})
    tx.delete_locks(r["id"] for r in rows)


# -- the edit guard used by hooks and the git pre-commit hook ---------------------------------------

def covering(tx, ctx, path: str, candidates=None) -> list:
    """Live locks (anyone's) whose target contains the repo-relative file `path`."""
    people = roster(tx, ctx)
    rows = tx.locks_covering_candidates(path, tg.ancestors(path)) if candidates is None else candidates
    return [r for r in rows if holds(r, tx.now, people) and (r["kind"] != "glob" or tg.covers(row_target(r), path))]


def guard_edit(tx, ctx, path: str, policy: str, *, write: bool) -> tuple[str, str]:
    """Decide an edit of `path` by the caller: ("allow", note) or ("deny", reason).

    Under `write`, also renews the caller's covering locks and, under the auto policy, takes the turn's lease.
    """
    candidates = tx.locks_covering_candidates(path, tg.ancestors(path))
    rows = covering(tx, ctx, path, candidates)
    theirs = [r for r in rows if r["holder"] != ctx.me]
    if theirs:
        return "deny", describe_conflict(theirs, tg.Target("file", path), roster(tx, ctx))
    mine = [r for r in rows if r["holder"] == ctx.me]
    if policy == "strict" and not any(r["mode"] == EXCLUSIVE for r in mine):
        return "deny", (f"the strict edit policy needs a lock before editing {path}: "
                        f"agent-sync lock {path} --reason '...'")
    if write:
        for row in mine:
            ttl = ctx.settings.lease_ttl_minutes * 60 if row["lease"] else ctx.settings.lock_ttl_minutes * 60
            if tx.now + ttl > row["expires_at"]:
                tx.update_lock(row["id"], expires_at=tx.now + ttl)
        if policy == "auto" and not mine:
            target = tg.Target("file", path)
            reclaim(tx, ctx, [target], candidates)
            # no lock of the caller's covers the file now, so none of its on this very key is live: a new lease
            _put(tx, ctx, target, EXCLUSIVE, "editing", True, tx.now + ctx.settings.lease_ttl_minutes * 60,
                 fresh=True)
            return "allow", "leased"
    return "allow", ""
