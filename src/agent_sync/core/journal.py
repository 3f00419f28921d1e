"""Decisions, the activity log, and appends to shared files under a lock."""

import os

from agent_sync.core import locks
from agent_sync.core.presence import check_text, ensure_agent, iso, roster
from agent_sync.errors import UsageError

MAX_TEXT = 10_000
MAX_TYPE = 40
MAX_APPEND = 1_000_000
MAX_LIMIT = 100_000


def decision_view(row, people) -> dict:
    return {"id": row["id"], "agent": row["agent"], "agent_name": people.name(row["agent"]),
            "text": row["text"], "at": iso(row["created_at"])}


def activity_view(row, people) -> dict:
    return {"id": row["id"], "agent": row["agent"], "agent_name": people.name(row["agent"]),
            "type": row["type"], "message": row["message"], "file": row["file"], "at": iso(row["created_at"])}


def check_limit(limit, what: str = "--limit") -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0 or limit > MAX_LIMIT:
        raise UsageError(f"{what} must be a whole number from 1 to {MAX_LIMIT}, got {limit}")
    return limit


def decide(ctx, text: str) -> dict:
    text = check_text(text, "decision", MAX_TEXT)
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        decision_id = tx.insert_decision(ctx.me, text)
        tx.insert_activity(ctx.me, "decision", text[:200])
        people = roster(tx, ctx)
        return next(decision_view(r, people) for r in tx.decisions(5) if r["id"] == decision_id)


def decisions(ctx, limit: int | None = None) -> list[dict]:
    limit = check_limit(limit)
    with ctx.store.read() as tx:
        people = roster(tx, ctx)
        return [decision_view(r, people) for r in reversed(tx.decisions(limit))]


def log(ctx, message: str, *, type_: str = "note", file: str | None = None) -> dict:
    message = check_text(message, "message", MAX_TEXT)
    type_ = check_text(type_, "type", MAX_TYPE)
    if file is not None:
        file = locks.display(locks.tg.parse_target(file, ctx.tree, ctx.cwd or None))
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        tx.insert_activity(ctx.me, type_, message, file)
        return activity_view(tx.activity(agents=[ctx.me], limit=1)[0], roster(tx, ctx))


def parse_since(text: str | None, now: float) -> float | None:
    """`30m`, `2h`, `1d`, `90s`, or seconds since the epoch."""
    if text is None:
        return None
    value = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if value and value[-1] in units:
            found = now - float(value[:-1]) * units[value[-1]]
        else:
            found = float(value)
    except ValueError:
        found = float("nan")
    if not (found == found and abs(found) < 1e15):
        raise UsageError(f"--since takes an age like 30m, 2h or 1d, got {text!r}")
    return found


def activity(ctx, *, since: str | None = None, agent: str | None = None, file: str | None = None,
             limit: int = 50) -> list[dict]:
    if file is not None:
        file = locks.display(locks.tg.parse_target(file, ctx.tree, ctx.cwd or None))
    limit = check_limit(limit)
    with ctx.store.read() as tx:
        people = roster(tx, ctx)
        agents = None
        if agent is not None:  # an id or a name
            agents = sorted({a["id"] for a in people.rows.values() if agent in (a["id"], a["name"])} | {agent})
        rows = tx.activity(since=parse_since(since, tx.now), agents=agents, file=file, limit=limit)
        return [activity_view(r, people) for r in reversed(rows)]


def append(ctx, raw_path: str, content: str, *, wait: float | None = None, newline: bool = True) -> dict:
    """Append to a shared file atomically: under an exclusive lock, in one write call."""
    if len(content) > MAX_APPEND:
        raise UsageError(f"content is too large ({len(content)} characters; the limit is {MAX_APPEND})")
    if "\x00" in content:
        raise UsageError("the content contains NUL bytes; append takes text only")
    target = locks.tg.parse_target(raw_path, ctx.tree, ctx.cwd or None)
    if target.kind != "file":
        raise UsageError(f"append needs a file, not a {target.kind}: {raw_path}")
    if target.key.split("/", 1)[0] == ".git" or target.key.startswith(".claude/coordination/"):
        raise UsageError(f"append does not write into git's or agent-sync's own files: {target.key}")
    if not content:
        return {"file": target.key, "bytes": 0}
    with ctx.store.read() as tx:
        held_before = any(r["holder"] == ctx.me and r["mode"] == "exclusive"
                          for r in locks.covering(tx, ctx, target.key))
    if not held_before:  # under the caller's own exclusive lock already: keep that lock as it is
        locks.lock(ctx, [target.key], reason="append", ttl_minutes=5, wait=wait)
    try:
        data = content if (not newline or content.endswith("\n")) else content + "\n"
        full = os.path.join(ctx.tree, target.key)
        try:
            os.makedirs(os.path.dirname(full) or ".", exist_ok=True)
            fd = os.open(full, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(f"cannot append to {target.key}: {exc.strerror or exc}") from None
        try:
            payload = data.encode("utf-8", "surrogateescape")
            while payload:  # os.write may write less than asked
                payload = payload[os.write(fd, payload):]
        finally:
            os.close(fd)
    finally:
        if not held_before:
            locks.unlock(ctx, [target.key])
    with ctx.store.write() as tx:
        tx.insert_activity(ctx.me, "append", f"appended {len(data)} characters", target.key)
    return {"file": target.key, "bytes": len(data.encode("utf-8", "surrogateescape"))}
