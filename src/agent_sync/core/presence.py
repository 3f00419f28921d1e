"""Presence: who is here, and whether they still count (active -> stale -> offline; idle after session end)."""

import time

from agent_sync.errors import Conflict, UsageError

MAX_NAME = 64
MAX_ROLE = 200


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def status_of(agent, now: float, settings) -> str:
    if agent["ended_at"] is not None:
        return "idle"
    age = now - agent["last_seen"]
    if age >= settings.offline_minutes * 60:
        return "offline"
    if age >= settings.stale_minutes * 60:
        return "stale"
    return "active"


def _name_holder(tx, ctx, name: str):
    """A live agent (active or stale) other than the caller that already uses `name`."""
    for other in tx.agents_named(name):
        if other["id"] != ctx.me and status_of(other, tx.now, ctx.settings) in ("active", "stale"):
            return other
    return None


def _default_name(tx, ctx) -> str:
    base = ctx.me
    name, n = base, 2
    while _name_holder(tx, ctx, name) is not None:
        name, n = f"{base}-{n}", n + 1
    return name


def ensure_agent(tx, ctx):
    """The caller's heartbeat: registers an unknown agent on the fly, revives an idle one."""
    fields = {k: v for k, v in (("client", ctx.client), ("session", ctx.session)) if v}
    if not tx.touch_agent(ctx.me, **fields):
        tx.insert_agent(ctx.me, _default_name(tx, ctx), client=ctx.client, session=ctx.session, cwd=ctx.cwd)
        tx.insert_activity(ctx.me, "join", "joined")
    return tx.get_agent(ctx.me)


def check_text(value: str, what: str, limit: int, *, allow_empty: bool = False) -> str:
    value = (value or "").strip()
    if not value and not allow_empty:
        raise UsageError(f"{what} must not be empty")
    if len(value) > limit:
        raise UsageError(f"{what} is too long ({len(value)} characters; the limit is {limit})")
    if "\x00" in value:
        raise UsageError(f"{what} must not contain NUL bytes")
    return value


RESERVED_NAMES = ("all",)  # `send --to all` is always a broadcast


def register(ctx, name: str, role: str | None = None) -> dict:
    name = check_text(name, "name", MAX_NAME)
    if name.lower() in RESERVED_NAMES:
        raise UsageError(f"{name!r} is reserved for broadcasts; choose another name")
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        holder = _name_holder(tx, ctx, name)
        if holder is not None:
            raise Conflict(f"the name {name!r} is taken by live agent {holder['id']}; choose another name")
        fields = {"name": name}
        if role is not None:
            fields["role"] = check_text(role, "role", MAX_ROLE, allow_empty=True)
        tx.update_agent(ctx.me, **fields)
        tx.insert_activity(ctx.me, "register", f"registered as {name}" + (f" ({role})" if role else ""))
        return agent_view(tx.get_agent(ctx.me), tx.now, ctx.settings)


def heartbeat(ctx) -> dict:
    with ctx.store.write() as tx:
        return agent_view(ensure_agent(tx, ctx), tx.now, ctx.settings)


def end_session_in(tx, ctx) -> None:
    """The agent's session ended: it goes idle (its locks stop holding), and its turn leases go."""
    tx.update_agent(ctx.me, ended_at=tx.now)
    tx.delete_leases_of(ctx.me)
    tx.insert_activity(ctx.me, "leave", "session ended")


def agent_view(agent, now: float, settings) -> dict:
    return {
        "id": agent["id"],
        "name": agent["name"],
        "role": agent["role"],
        "client": agent["client"],
        "status": status_of(agent, now, settings),
        "current_task": agent["current_task"],
        "last_seen": iso(agent["last_seen"]),
        "seen_ago_s": round(now - agent["last_seen"], 1),
    }


def list_agents(ctx) -> list[dict]:
    with ctx.store.read() as tx:
        return [agent_view(a, tx.now, ctx.settings) for a in tx.agents()]


def whoami(ctx) -> dict:
    with ctx.store.read() as tx:
        agent = tx.get_agent(ctx.me)
        view = agent_view(agent, tx.now, ctx.settings) if agent else {"id": ctx.me, "status": "unregistered"}
    view["source"] = ctx.id_source
    view["root"] = ctx.root
    return view


def gc(ctx, keep_days: float | None = None) -> dict:
    """Drop expired locks and waiters; with keep_days, prune old activity and read messages."""
    if keep_days is not None and keep_days < 0:
        raise UsageError("--keep-days must not be negative")
    with ctx.store.write() as tx:
        result = {"expired_locks": tx.purge_expired_locks(), "expired_waiters": tx.purge_expired_waiters()}
        if keep_days is not None:
            before = tx.now - keep_days * 86400
            result["pruned_activity"] = tx.prune_activity(before)
            result["pruned_messages"] = tx.prune_messages(before)
        counts: dict[str, int] = {}
        for agent in tx.agents():
            state = status_of(agent, tx.now, ctx.settings)
            counts[state] = counts.get(state, 0) + 1
        result["agents"] = counts
        return result
