"""Messages between agents: addressed to an id, a name, a role or everyone, with per-recipient delivery."""

from agent_sync.core.locks import iso
from agent_sync.core.presence import check_text, ensure_agent
from agent_sync.errors import NotFound, UsageError

MAX_BODY = 32_000
INBOX_POLL_SECONDS = 0.25


def message_view(row) -> dict:
    keys = row.keys()
    view = {
        "id": row["id"],
        "from": row["sender"],
        "from_name": row["sender_name"] or row["sender"],
        "to": "all" if row["kind"] == "all" else row["recipient"],
        "to_kind": row["kind"],
        "body": row["body"],
        "reply_to": row["reply_to"],
        "urgent": bool(row["urgent"]),
        "sent_at": iso(row["created_at"]),
    }
    for column in ("delivered_at", "read_at", "acked_at"):
        if column in keys:
            view[column.replace("_at", "")] = row[column] is not None
    return view


def directed(row) -> bool:
    """Aimed at this agent in particular (or urgent): the Stop hook holds the turn until it is delivered."""
    return row["kind"] == "agent" or bool(row["urgent"])


def _recipient(tx, ctx, to: str) -> tuple[str, str]:
    to = check_text(to, "recipient", 200)
    if to == "all":
        return "all", "all"
    matches = tx.agents_matching(to)
    by_id = [a for a in matches if a["id"] == to]
    if by_id:
        return "agent", by_id[0]["id"]
    by_name = [a for a in matches if a["name"] == to]
    if by_name:
        by_name.sort(key=lambda a: (a["ended_at"] is not None, -a["last_seen"]))
        return "agent", by_name[0]["id"]
    if any(a["role"] == to for a in matches):
        return "role", to
    raise NotFound(f"no agent has the id, name or role {to!r}; see who is here with: agent-sync status")


def send(ctx, to: str, body: str, *, reply_to: int | None = None, urgent: bool = False) -> dict:
    body = check_text(body, "message", MAX_BODY)
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        if reply_to is not None:
            parent = tx.get_message(reply_to)
            if parent is None:
                raise NotFound(f"no message #{reply_to} to reply to")
        kind, recipient = _recipient(tx, ctx, to)
        message_id = tx.insert_message(ctx.me, kind, recipient, body, reply_to, urgent)
        tx.insert_activity(ctx.me, "message", f"to {to}: {body[:80]}")
        return message_view(tx.get_message(message_id))


def _role(tx, ctx) -> str:
    agent = tx.get_agent(ctx.me)
    return agent["role"] if agent is not None else ""


def inbox(ctx, *, include_all: bool = False, wait: float | None = None, limit: int = 100) -> list[dict]:
    """Unread (or all) messages for the caller; with `wait`, block until at least one arrives."""
    if wait is not None and wait < 0:
        raise UsageError("--wait must not be negative")
    deadline = None
    while True:
        with ctx.store.write() as tx:
            ensure_agent(tx, ctx)
            rows = tx.messages_for(ctx.me, _role(tx, ctx), ctx.broadcast_since(tx.now),
                                   unread=not include_all, limit=limit)
            if rows or wait is None or (deadline is not None and tx.now >= deadline):
                tx.mark_messages(ctx.me, [r["id"] for r in rows if r["delivered_at"] is None], "delivered_at")
                return [message_view(r) for r in reversed(rows)]
            if deadline is None:
                deadline = tx.now + wait
        ctx.sleep(INBOX_POLL_SECONDS)


def undelivered(tx, ctx, *, directed_only: bool = False, limit: int = 50) -> list[dict]:
    """Messages not yet pushed into the caller's context, oldest first. Hooks mark as delivered only those
    that fit into what they inject (`mark_delivered`); the rest wait for the next push."""
    rows = tx.messages_for(ctx.me, _role(tx, ctx), ctx.broadcast_since(tx.now), undelivered=True, limit=limit)
    if directed_only:
        rows = [r for r in rows if directed(r)]
    return [message_view(r) for r in reversed(rows)]


def mark_delivered(tx, ctx, message_ids) -> None:
    tx.mark_messages(ctx.me, list(message_ids), "delivered_at")


def _get(tx, message_id: int):
    row = tx.get_message(message_id)
    if row is None:
        raise NotFound(f"no message #{message_id}")
    return row


def read_message(ctx, message_id: int) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        row = _get(tx, message_id)
        tx.mark_messages(ctx.me, [message_id], "delivered_at")
        tx.mark_messages(ctx.me, [message_id], "read_at")
        return message_view(row)


def ack(ctx, message_id: int) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        row = _get(tx, message_id)
        for column in ("delivered_at", "read_at", "acked_at"):
            tx.mark_messages(ctx.me, [message_id], column)
        tx.insert_activity(ctx.me, "ack", f"acknowledged message #{message_id}")
        return message_view(row)


def thread(ctx, message_id: int) -> list[dict]:
    """The whole conversation a message belongs to, oldest first."""
    with ctx.store.read() as tx:
        row = _get(tx, message_id)
        seen = {row["id"]}
        while row["reply_to"] is not None and row["reply_to"] not in seen:
            parent = tx.get_message(row["reply_to"])
            if parent is None:
                break
            row = parent
            seen.add(row["id"])
        found, frontier = [row], [row["id"]]
        seen = {row["id"]}
        while frontier:
            children = [c for c in tx.replies_to(frontier) if c["id"] not in seen]
            seen.update(c["id"] for c in children)
            found += children
            frontier = [c["id"] for c in children]
        return [message_view(r) for r in sorted(found, key=lambda r: r["id"])]


def recent(ctx, limit: int = 20) -> list[dict]:
    with ctx.store.read() as tx:
        return [message_view(r) for r in reversed(tx.recent_messages(limit))]
