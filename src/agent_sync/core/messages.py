"""Messages between agents: addressed to one agent (by id or name), to a role, or to everyone.

Who a message reaches is decided here: a message to an agent reaches that agent whenever it looks; a message
to a role or to everyone reaches each agent of that role (or every agent) that looks within
`broadcast_hours` of its sending, except its sender. `--to` reads a bare word as an agent id, a name or a
role; when it could mean more than one of them, it is refused with the candidates, and `id:`, `name:` or
`role:` says which is meant.
"""

from agent_sync.core.presence import SYSTEM, check_text, ensure_agent, iso, roster
from agent_sync.errors import NotFound, UsageError

MAX_BODY = 32_000
MAX_RECIPIENT = 200
INBOX_POLL_SECONDS = 0.25
PREFIXES = ("id", "name", "role")


def message_view(row, people) -> dict:
    keys = row.keys()
    view = {
        "id": row["id"],
        "from": row["sender"],
        "from_name": people.name(row["sender"]),
        "to": "all" if row["kind"] == "all" else row["recipient"],
        "to_kind": row["kind"],
        "body": row["body"],
        "reply_to": row["reply_to"],
        "urgent": bool(row["urgent"]),
        "sent_at": iso(row["created_at"]),
    }
    if row["kind"] == "agent":
        view["to_name"] = people.name(row["recipient"])
    for column in ("delivered_at", "read_at", "acked_at"):
        if column in keys:
            view[column.replace("_at", "")] = row[column] is not None
    return view


def directed(message) -> bool:
    """Aimed at this agent in particular (or urgent): the Stop hook holds the turn until it is delivered."""
    return message["to_kind"] == "agent" or bool(message["urgent"])


def resolve_recipient(tx, ctx, to: str) -> tuple[str, str]:
    """(kind, recipient) for a `--to` value; refuses one that names nothing or could name several."""
    to = check_text(to, "recipient", MAX_RECIPIENT)
    if to == "all":
        return "all", "all"
    people = roster(tx, ctx)
    prefix, _, rest = to.partition(":")
    wanted = prefix.lower() if rest and prefix.lower() in PREFIXES else None
    value = rest.strip() if wanted else to
    by_id = [a for a in people.rows.values() if a["id"] == value]
    named = [a for a in people.rows.values() if a["name"] == value]
    if len(named) > 1:  # names are unique among live agents: prefer the live one, then the latest seen
        named.sort(key=lambda a: (people.status(a["id"]) not in ("active", "stale"), -a["last_seen"]))
        named = named[:1]
    role_members = [a for a in people.rows.values() if a["role"] == value]
    with_role = sorted(a["name"] for a in role_members)
    agents_meant = {a["id"] for a in by_id[:1] + named[:1]}
    if wanted is None and role_members and {a["id"] for a in role_members} <= agents_meant:
        with_role = []  # the role is that very agent's alone: it is the agent that is meant
    choices = []
    if by_id and wanted in (None, "id"):
        choices.append(("agent", by_id[0]["id"], f"id:{value} (agent {by_id[0]['name']})"))
    if named and wanted in (None, "name") and not (by_id and named[0]["id"] == by_id[0]["id"]):
        choices.append(("agent", named[0]["id"], f"name:{value} (agent {named[0]['id']})"))
    if with_role and wanted in (None, "role"):
        shown = ", ".join(with_role[:5]) + (" …" if len(with_role) > 5 else "")
        choices.append(("role", value, f"role:{value} ({len(with_role)} agent(s): {shown})"))
    if wanted == "role" and not with_role:
        choices.append(("role", value, ""))  # a role nobody has yet: its agents read it when they join
    if not choices:
        raise NotFound(f"no agent has the {wanted or 'id, name or role'} {value!r}; "
                       "see who is here with: agent-sync status")
    if len(choices) > 1:
        raise UsageError(f"--to {to!r} is ambiguous: " + "; ".join(c[2] for c in choices)
                         + "; say which with one of those prefixes")
    return choices[0][0], choices[0][1]


def send(ctx, to: str, body: str, *, reply_to: int | None = None, urgent: bool = False) -> dict:
    body = check_text(body, "message", MAX_BODY)
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        if reply_to is not None and tx.get_message(reply_to) is None:
            raise NotFound(f"no message #{reply_to} to reply to")
        kind, recipient = resolve_recipient(tx, ctx, to)
        message_id = tx.insert_message({"sender": ctx.me, "kind": kind, "recipient": recipient, "body": body,
                                        "reply_to": reply_to, "urgent": int(urgent), "created_at": tx.now})
        tx.insert_activity(ctx.me, "message", f"to {to}: {body[:80]}")
        return message_view(tx.get_message(message_id), roster(tx, ctx))


def directive(ctx, to: str, body: str) -> dict:
    """A message each agent it reaches must react to before its turn ends: one directed (and urgent) copy per
    agent, so every recipient's Stop hook holds its turn until it has seen it. `all` (or a role) reaches every
    ACTIVE agent (of that role) but the sender; an agent is reached whatever its status."""
    body = check_text(body, "message", MAX_BODY)
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        kind, recipient = resolve_recipient(tx, ctx, to)
        people = roster(tx, ctx)
        if kind == "agent":
            reached = [people.rows[recipient]]
        else:
            reached = [a for a in people.active_agents()
                       if a["id"] != ctx.me and (kind == "all" or a["role"] == recipient)]
        if not reached:
            meant = "everyone" if kind == "all" else f"role {recipient}"
            raise NotFound(f"no active agent to direct ({meant}); see who is here with: agent-sync status")
        ids = [tx.insert_message({"sender": ctx.me, "kind": "agent", "recipient": a["id"], "body": body,
                                  "reply_to": None, "urgent": 1, "created_at": tx.now}) for a in reached]
        tx.insert_activity(ctx.me, "directive", f"directive to {to} ({len(ids)} agent(s)): {body[:80]}")
        views = [message_view(tx.get_message(i), people) for i in ids]
        return {"to": to, "count": len(ids), "messages": views}


def addresses(tx, ctx) -> list[tuple[str, str, float]]:
    """What reaches the caller: its id at any age, its role and everyone within the broadcast window."""
    agent = tx.get_agent(ctx.me)
    since = ctx.broadcast_since(tx.now)
    found = [("agent", ctx.me, float("-inf")), ("all", "all", since)]
    if agent is not None and agent["role"]:
        found.append(("role", agent["role"], since))
    return found


def for_me(tx, ctx, *, undelivered: bool = False, unread: bool = False, limit: int = 200) -> list:
    """Rows of the messages that reach the caller, newest first."""
    return tx.messages_to(ctx.me, addresses(tx, ctx), exclude_sender=ctx.me, undelivered=undelivered,
                          unread=unread, limit=limit)


def inbox(ctx, *, include_all: bool = False, wait: float | None = None, limit: int = 100) -> list[dict]:
    """Unread (or all) messages for the caller; with `wait`, block until at least one arrives. Marks what it
    shows as delivered (not read)."""
    from agent_sync.errors import StoreBusy

    if wait is not None and not wait >= 0:
        raise UsageError("--wait must not be negative")
    deadline = [None]

    def look(tx, writing: bool):
        if writing:
            ensure_agent(tx, ctx)
        rows = for_me(tx, ctx, unread=not include_all, limit=limit)
        done = bool(rows) or wait is None or (deadline[0] is not None and tx.now >= deadline[0])
        if done and writing:  # shown now, so not pushed into the agent's context again
            tx.mark_messages(ctx.me, [r["id"] for r in rows if r["delivered_at"] is None], "delivered_at")
        if deadline[0] is None and wait is not None:
            deadline[0] = tx.now + wait
        return done, [message_view(r, roster(tx, ctx)) for r in reversed(rows)]

    while True:
        try:
            with ctx.store.write(wait=ctx.settings.hook_busy_ms / 1000) as tx:
                done, views = look(tx, True)
        except StoreBusy:  # another process holds the write lock: answer from a snapshot, mark nothing
            with ctx.store.read() as tx:
                done, views = look(tx, False)
        if done:
            return views
        ctx.sleep(INBOX_POLL_SECONDS)


def unread(tx, ctx, limit: int = 20) -> list[dict]:
    people = roster(tx, ctx)
    return [message_view(r, people) for r in reversed(for_me(tx, ctx, unread=True, limit=limit))]


def undelivered(tx, ctx, *, directed_only: bool = False, limit: int = 50) -> list[dict]:
    """Messages not yet pushed into the caller's context, oldest first. Hooks mark as delivered only those
    that fit into what they inject (`mark_delivered`); the rest wait for the next push."""
    people = roster(tx, ctx)
    found = [message_view(r, people) for r in reversed(for_me(tx, ctx, undelivered=True, limit=limit))]
    return [m for m in found if directed(m)] if directed_only else found


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
        return message_view(row, roster(tx, ctx))


def ack(ctx, message_id: int) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        row = _get(tx, message_id)
        for column in ("delivered_at", "read_at", "acked_at"):
            tx.mark_messages(ctx.me, [message_id], column)
        tx.insert_activity(ctx.me, "ack", f"acknowledged message #{message_id}")
        return message_view(row, roster(tx, ctx))


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
        people = roster(tx, ctx)
        return [message_view(r, people) for r in sorted(found, key=lambda r: r["id"])]


def recent(ctx, limit: int = 20) -> list[dict]:
    with ctx.store.read() as tx:
        people = roster(tx, ctx)
        return [message_view(r, people) for r in reversed(tx.recent_messages(limit))]


def prune(tx, before: float) -> int:
    """Drop old broadcasts and role messages, and old directed messages their recipient has read."""
    old = [m["id"] for m in tx.old_messages(before)
           if m["kind"] != "agent" or m["recipient_read_at"] is not None]
    return tx.delete_messages(old)


def is_notice(message: dict) -> bool:
    return message["from"] == SYSTEM
