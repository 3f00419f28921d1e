"""Locks on files, directories, globs and named resources: who may hold what, for how long, in what order.

A lock holds while it is within its TTL and its holder is active (not stale, offline or idle). Two locks
conflict when their targets can share a file (or name the same resource), at least one is exclusive, and
their holders differ.
"""

import time

from agent_sync import targets as tg
from agent_sync.core.presence import check_text, ensure_agent, iso
from agent_sync.errors import Conflict, NotFound, UsageError

MAX_REASON = 500
MAX_TTL_MINUTES = 7 * 24 * 60
WAIT_POLL_SECONDS = 0.1
# A queued waiter renews its place on every poll; a waiter killed outright drops out of the queue this soon.
WAITER_LEASE_SECONDS = 5.0


def hhmm(ts: float) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(ts))


def resource(name: str) -> tg.Target:
    name = check_text(name, "resource name", 200)
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


def lock_view(row, now: float | None = None) -> dict:
    view = {
        "id": row["id"],
        "target": display(row_target(row)),
        "kind": row["kind"],
        "holder": row["holder"],
        "holder_name": row["holder_name"] or row["holder"],
        "mode": row["mode"],
        "lease": bool(row["lease"]),
        "reason": row["reason"],
        "created_at": iso(row["created_at"]),
        "expires_at": iso(row["expires_at"]),
    }
    if now is not None:
        view["expires_in_s"] = round(row["expires_at"] - now, 1)
    return view


def describe_conflict(row, wanted: tg.Target | None = None, waiting: bool = False) -> str:
    name = row["holder_name"] if "holder_name" in row.keys() else row["agent_name"]
    agent_id = row["holder"] if "holder" in row.keys() else row["agent"]
    who = name if name == agent_id else f"{name} ({agent_id})"
    held = display(row_target(row))
    what = display(wanted) if wanted is not None else held
    if waiting:
        return (f"{what} is queued for {who}, who is waiting for it (FIFO); "
                f"use --wait to queue behind them")
    on = "" if held == what else f" (their lock on {held} overlaps it)"
    reason = f": {row['reason']}" if row["reason"] else ""
    return (f"{what} is locked by {who}{on} until {hhmm(row['expires_at'])}{reason}. "
            f"Ask them: agent-sync send --to {name} --message '...'")


def _incompatible(mode_a: str, mode_b: str) -> bool:
    return mode_a == "exclusive" or mode_b == "exclusive"


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


def find_conflicts(tx, ctx, wanted: list[tg.Target], mode: str, my_waiters=()) -> list[tuple]:
    """(row, target, is_waiter) for every live lock of another agent, and every queued waiter ahead of the
    caller, that stands in the way of taking `wanted` in `mode`. A target the caller already holds is not
    queued for: re-taking it renews it."""
    cutoff = ctx.live_cutoff(tx.now)
    found = _standing_in_the_way(tx.live_locks(cutoff, exclude_holder=ctx.me), wanted, mode, False)
    held = {(r["kind"], r["key"]) for r in tx.locks_of(ctx.me) if r["mode"] == "exclusive" or mode == "shared"}
    queued_for = [t for t in wanted if (t.kind, t.key) not in held]
    if queued_for:
        my_first = min(my_waiters) if my_waiters else None
        ahead = [w for w in tx.live_waiters(cutoff)
                 if w["agent"] != ctx.me and (my_first is None or w["id"] < my_first)]
        found += _standing_in_the_way(ahead, queued_for, mode, True)
    return found


def reclaim(tx, ctx, wanted: list[tg.Target]) -> None:
    """Delete the dead locks (expired, or of an inactive holder) that overlap what the caller now takes, so a
    holder who comes back later cannot revive a lock someone else has since taken."""
    cutoff = ctx.live_cutoff(tx.now)
    for row in tx.dead_locks(cutoff):
        if row["holder"] != ctx.me and any(targets_overlap(t, row_target(row)) for t in wanted):
            tx.delete_lock(row["id"])


def ttl_seconds(ctx, ttl_minutes: float | None) -> float:
    if ttl_minutes is None:
        return ctx.settings.lock_ttl_minutes * 60
    if ttl_minutes <= 0 or ttl_minutes > MAX_TTL_MINUTES:
        raise UsageError(f"--ttl must be more than 0 and at most {MAX_TTL_MINUTES} minutes, got {ttl_minutes:g}")
    return ttl_minutes * 60


def take_in(tx, ctx, wanted: list[tg.Target], mode: str, reason: str, ttl: float, *, lease: bool = False,
            my_waiters=()) -> list[dict]:
    """Take every target or none, inside the caller's write transaction. Raises Conflict."""
    conflicts = find_conflicts(tx, ctx, wanted, mode, my_waiters)
    if conflicts:
        row, target, waiting = conflicts[0]
        raise Conflict(describe_conflict(row, target, waiting))
    reclaim(tx, ctx, wanted)
    expires = tx.now + ttl
    for target in wanted:
        tx.put_lock(target.kind, target.key, index_key(target), ctx.me, mode, reason, lease, expires)
    return [lock_view(r, tx.now) for r in tx.locks_of(ctx.me)
            if any(r["kind"] == t.kind and r["key"] == t.key for t in wanted)]


def lock(ctx, raw_targets=(), *, resources=(), shared: bool = False, reason: str = "",
         ttl_minutes: float | None = None, wait: float | None = None) -> list[dict]:
    """Take locks (all or none). With `wait`, queue first come first served for up to `wait` seconds."""
    wanted = parse_targets(ctx, raw_targets, resources)
    reason = check_text(reason, "reason", MAX_REASON, allow_empty=True)
    ttl = ttl_seconds(ctx, ttl_minutes)
    if wait is not None and wait < 0:
        raise UsageError("--wait must not be negative")
    mode = "shared" if shared else "exclusive"
    waiter_ids: list[int] = []
    deadline = None
    try:
        while True:
            gave_up = None
            with ctx.store.write() as tx:
                ensure_agent(tx, ctx)
                if wait is not None and deadline is None:
                    deadline = tx.now + wait
                    place = min(deadline, tx.now + WAITER_LEASE_SECONDS)
                    waiter_ids = [tx.add_waiter(ctx.me, t.kind, t.key, mode, place) for t in wanted]
                elif waiter_ids:
                    tx.extend_waiters(waiter_ids, min(deadline, tx.now + WAITER_LEASE_SECONDS))
                try:
                    views = take_in(tx, ctx, wanted, mode, reason, ttl, my_waiters=waiter_ids)
                except Conflict as conflict:
                    if deadline is None or tx.now >= deadline:
                        # Leave the queue in this same, committed transaction; raise once it is closed.
                        tx.delete_waiters(waiter_ids)
                        waiter_ids = []
                        gave_up = conflict
                else:
                    tx.delete_waiters(waiter_ids)
                    waiter_ids = []
                    tx.insert_activity(ctx.me, "lock", "locked " + ", ".join(display(t) for t in wanted))
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
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        if everything:
            rows = [r for r in tx.locks_of(ctx.me)]
            if force:
                raise UsageError("--all releases your own locks; to break another agent's lock name it with --force")
        else:
            rows = []
            for target in parse_targets(ctx, raw_targets, resources):
                held = tx.locks_on(target.kind, target.key)
                mine = [r for r in held if r["holder"] == ctx.me]
                if mine:
                    rows += mine
                elif force and held:
                    rows += held
                elif held:
                    others = ", ".join(sorted({r["holder_name"] or r["holder"] for r in held}))
                    raise Conflict(f"{display(target)} is held by {others}, not by you; use --force to break it")
                else:
                    raise NotFound(f"you hold no lock on {display(target)}")
        for row in rows:
            tx.delete_lock(row["id"])
        if rows:
            broken = [r for r in rows if r["holder"] != ctx.me]
            text = "unlocked " + ", ".join(display(row_target(r)) for r in rows)
            if broken:
                text += " (forced: " + ", ".join(f"{r['holder_name'] or r['holder']}" for r in broken) + ")"
            tx.insert_activity(ctx.me, "unlock", text)
        return [lock_view(r) for r in rows]


def renew(ctx, raw_targets=(), *, resources=(), everything: bool = False, ttl_minutes: float | None = None) -> list[dict]:
    ttl = ttl_seconds(ctx, ttl_minutes)
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        mine = tx.locks_of(ctx.me)  # only unexpired ones
        if everything:
            rows = mine
            if not rows:
                raise NotFound("you hold no live locks to renew")
        else:
            rows = []
            for target in parse_targets(ctx, raw_targets, resources):
                match = [r for r in mine if r["kind"] == target.kind and r["key"] == target.key]
                if not match:
                    raise NotFound(f"you no longer hold a lock on {display(target)}; lock it again")
                rows += match
        # While the caller was stale someone else may have taken an overlapping lock: then it is lost.
        for row in rows:
            found = find_conflicts(tx, ctx, [row_target(row)], row["mode"])
            taken = [f for f in found if not f[2]]
            if taken:
                raise Conflict(f"you no longer hold {display(row_target(row))}: " + describe_conflict(*taken[0]))
        for row in rows:
            tx.put_lock(row["kind"], row["key"], row["base"], ctx.me, row["mode"], row["reason"], bool(row["lease"]),
                        tx.now + ttl)
        ids = {r["id"] for r in rows}
        return [lock_view(r, tx.now) for r in tx.locks_of(ctx.me) if r["id"] in ids]


def list_locks(ctx, include_all: bool = False) -> list[dict]:
    from agent_sync.core.presence import status_of

    with ctx.store.read() as tx:
        if not include_all:
            return [lock_view(r, tx.now) for r in tx.live_locks(ctx.live_cutoff(tx.now))]
        views = []
        for row in tx.all_locks():
            view = lock_view(row, tx.now)
            if row["expires_at"] <= tx.now:
                view["state"] = "expired"
            elif row["holder_last_seen"] is None:
                view["state"] = "orphaned"
            else:
                holder = {"ended_at": row["holder_ended_at"], "last_seen": row["holder_last_seen"]}
                state = status_of(holder, tx.now, ctx.settings)
                view["state"] = "live" if state == "active" else f"holder {state}"
            views.append(view)
        return views


# -- the edit guard used by hooks and the git pre-commit hook ---------------------------------------

def covering(tx, ctx, path: str) -> list:
    """Live locks (anyone's) whose target contains the repo-relative file `path`."""
    rows = tx.locks_covering_candidates(path, tg.ancestors(path), ctx.live_cutoff(tx.now))
    return [r for r in rows if r["kind"] != "glob" or tg.covers(row_target(r), path)]


def guard_edit(tx, ctx, path: str, policy: str, *, write: bool) -> tuple[str, str]:
    """Decide an edit of `path` by the caller: ("allow", note) or ("deny", reason).

    Under `write`, also renews the caller's covering locks and, under the auto policy, takes the turn's lease.
    """
    rows = covering(tx, ctx, path)
    theirs = [r for r in rows if r["holder"] != ctx.me]
    if theirs:
        return "deny", describe_conflict(theirs[0], tg.Target("file", path))
    mine = [r for r in rows if r["holder"] == ctx.me]
    if policy == "strict" and not any(r["mode"] == "exclusive" for r in mine):
        return "deny", (f"the strict edit policy needs a lock before editing {path}: "
                        f"agent-sync lock {path} --reason '...'")
    if write:
        for row in mine:
            ttl = ctx.settings.lease_ttl_minutes * 60 if row["lease"] else ctx.settings.lock_ttl_minutes * 60
            tx.extend_lock(row["id"], tx.now + ttl)
        if policy == "auto" and not mine:
            reclaim(tx, ctx, [tg.Target("file", path)])
            tx.put_lock("file", path, path, ctx.me, "exclusive", "editing", True,
                        tx.now + ctx.settings.lease_ttl_minutes * 60)
            return "allow", "leased"
    return "allow", ""
