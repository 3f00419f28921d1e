"""The feed: one stream of what happens, for the console and `agent-sync watch`.

It reads only what is new. The activity log and the messages are read after a cursor (the last id seen);
the agents are read again only when the store's change signal (`store.wait_for_change`) says another
connection committed something, and between changes their statuses are judged again from the rows already
read (presence's one liveness rule, at the store's clock), so active → stale → offline shows up although
nothing was written. Nothing grows with time on an idle tick: no query runs until the signal moves.

Every event is a dict of one stable shape (version `SHAPE`; `agent-sync watch --json` writes them as they
are). Keys every event has:

    kind        "activity" | "message" | "presence" | "lock"
    type        what happened within the kind (below)
    at          when, ISO 8601 UTC ("2026-05-09T12:01:03Z")
    cursor      the activity id read up to; `--since CURSOR` resumes after this event
    agent       the id of the agent it is about (who acted, who sent, whose presence changed)
    agent_name  that agent's name
    text        one line saying what happened

and, by kind:

    activity    type: the log entry's type (edit, task, decision, note, ack, append, …); id (activity id),
                file
    lock        type: lock | unlock | forced | reclaimed; id (activity id), target, file
    message     type: direct | role | all | notice (from agent-sync itself); id (message id), to, to_kind
                (agent | role | all), to_name, body, urgent, reply_to
    presence    type: join | leave | register (from the log) | status (a status change seen between two
                reads of the agents); id (activity id, null for a status change), status, was

Values are the stored text, as agents wrote it: a front end that prints them cleans them (`text.clean`).
"""

from agent_sync.core import journal
from agent_sync.core.presence import IDLE, SYSTEM, Roster, iso, roster

SHAPE = 1
KINDS = ("activity", "message", "presence", "lock")
LOCK_TYPES = {"lock": "lock", "unlock": "unlock", "reclaim": "reclaimed"}
PRESENCE_TYPES = ("join", "leave", "register")
SHADOWS = ("message", "directive")  # log entries that repeat a message: the message itself is the event
BATCH = journal.MAX_LIMIT  # rows read after a cursor at once


class _Rows:
    """What a Roster reads of a transaction, from rows in hand: statuses judged again without a query."""

    def __init__(self, rows, now: float):
        self._rows, self.now = rows, now

    def agents(self):
        return self._rows


def _lock_target(row, kind_type: str) -> str:
    text = row["message"] or ""
    for prefix in ("locked ", "unlocked ", "reclaimed "):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    if kind_type == "forced":
        text = text.rsplit(" (forced: ", 1)[0]
    elif kind_type == "reclaimed":
        text = text.rsplit(" from ", 1)[0]
    return text or (row["file"] or "")


def activity_event(row, people, cursor: int | None = None) -> dict | None:
    """The event of one activity row; None for a row that only repeats a message."""
    kind_of = row["type"]
    if kind_of in SHADOWS:
        return None
    base = {"kind": "activity", "type": kind_of, "at": iso(row["created_at"]), "cursor": cursor or row["id"],
            "agent": row["agent"], "agent_name": people.name(row["agent"]), "text": row["message"],
            "id": row["id"]}
    if kind_of in LOCK_TYPES:
        kind_type = LOCK_TYPES[kind_of]
        if kind_type == "unlock" and " (forced: " in (row["message"] or ""):
            kind_type = "forced"
        base.update(kind="lock", type=kind_type, target=_lock_target(row, kind_type), file=row["file"])
        return base
    if kind_of in PRESENCE_TYPES:
        base.update(kind="presence", status=people.status(row["agent"]) if kind_of != "leave" else IDLE,
                    was=None)
        return base
    base["file"] = row["file"]
    return base


def message_event(row, people, cursor: int) -> dict:
    sender = row["sender"]
    kind = row["kind"]
    to = "all" if kind == "all" else row["recipient"]
    to_name = people.name(row["recipient"]) if kind == "agent" else to
    type_ = "notice" if sender == SYSTEM else ("direct" if kind == "agent" else kind)
    return {"kind": "message", "type": type_, "at": iso(row["created_at"]), "cursor": cursor, "agent": sender,
            "agent_name": people.name(sender), "text": f"→ {to_name}: {row['body']}", "id": row["id"],
            "to": to, "to_kind": kind, "to_name": to_name, "body": row["body"], "urgent": bool(row["urgent"]),
            "reply_to": row["reply_to"]}


def status_event(agent, was: str, now_status: str, at: float, cursor: int) -> dict:
    return {"kind": "presence", "type": "status", "at": iso(at), "cursor": cursor, "agent": agent["id"],
            "agent_name": agent["name"], "text": f"{was} → {now_status}", "id": None, "status": now_status,
            "was": was}


class Feed:
    """The stream of events of one store, read through `ctx`. Use it from one thread: the store's change
    token belongs to that thread's connection.

    `since`: an activity id; the first read replays the log after it (and the messages sent since).
    Otherwise the first read gives the last `backlog` log entries and messages (none: start at the present).
    `also(tx, people, events)`, when given to a read, runs inside the same read transaction, for a front end
    that shows more of the state (the console's panes) as of the same snapshot.
    """

    def __init__(self, ctx, *, since: int | None = None, backlog: int = 0):
        self.ctx = ctx
        self.since, self.backlog = since, backlog
        self.cursor = 0  # the last activity id read
        self.message_cursor = 0  # the last message id read
        self.token = None
        self.rows: list = []  # the agents as last read
        self.statuses: dict[str, str] = {}
        self.people: Roster | None = None
        self.started = False

    # -- reading -------------------------------------------------------------------------------------------

    def start(self, also=None) -> list[dict]:
        """The first read: the replay (or backlog); sets the cursors. Whatever existed then and is not
        replayed is behind the cursors from now on."""
        self.token = self.ctx.store.change_token()
        with self.ctx.store.read() as tx:
            people = roster(tx, self.ctx)
            rows, messages = [], []
            if self.since is not None:
                rows = list(reversed(tx.activity(after_id=max(self.since - 1, 0), limit=BATCH)))
                seen = rows[0]["created_at"] if rows and rows[0]["id"] == self.since else None
                rows = [r for r in rows if r["id"] > self.since]
                if rows:  # the messages sent since: those after the transaction of entry `since`
                    first = float("-inf") if self.since == 0 else rows[0]["created_at"]
                    messages = [m for m in reversed(tx.recent_messages(BATCH))
                                if (m["created_at"] > seen if seen is not None else m["created_at"] >= first)]
                self.cursor = self.since
            elif self.backlog:
                rows = list(reversed(tx.activity(limit=self.backlog)))
                messages = list(reversed(tx.recent_messages(self.backlog)))
            newest, latest = tx.activity(limit=1), tx.recent_messages(1)
            events = self._events(people, rows, messages)
            self.cursor = max(self.cursor, newest[0]["id"] if newest else 0)
            self.message_cursor = max(self.message_cursor, latest[0]["id"] if latest else 0)
            self._remember(people)
            self.started = True
            if also is not None:
                also(tx, people, events)
        return events

    def poll(self, also=None) -> list[dict]:
        """What happened since the last read: log entries and messages after the cursors, and status changes
        of the agents (read again)."""
        if not self.started:
            return self.start(also)
        self.token = self.ctx.store.change_token()
        with self.ctx.store.read() as tx:
            people = roster(tx, self.ctx)
            rows = list(reversed(tx.activity(after_id=self.cursor, limit=BATCH)))
            messages = list(reversed(tx.recent_messages(BATCH, after_id=self.message_cursor)))
            events = self._events(people, rows, messages)
            events += self._status_changes(people, tx.now, {r["agent"] for r in rows if r["type"] == "leave"})
            self._remember(people)
            if also is not None:
                also(tx, people, events)
        return events

    def next(self, timeout: float, also=None) -> list[dict]:
        """Wait up to `timeout` seconds for a change and read it. Without one, judge the agents' statuses
        again from the rows in hand (no query); only a status that changed leads to a read."""
        if not self.started:
            return self.start(also)
        token = self.ctx.store.wait_for_change(self.token, timeout)
        if token != self.token or self.rejudge():
            return self.poll(also)
        return []

    def rejudge(self) -> bool:
        """Has any agent's status changed since the last read, judged at the store's clock now?"""
        people = Roster(_Rows(self.rows, self.ctx.store.now()), self.ctx.settings)
        return any(people.status(a["id"]) != self.statuses.get(a["id"]) for a in self.rows)

    # -- building events ----------------------------------------------------------------------------------

    def _events(self, people, rows, messages) -> list[dict]:
        events = []
        for row in rows:
            event = activity_event(row, people)
            if event is not None:
                events.append((row["created_at"], 0, row["id"], event))
            self.cursor = max(self.cursor, row["id"])
        for row in messages:
            events.append((row["created_at"], 1, row["id"], message_event(row, people, self.cursor)))
            self.message_cursor = max(self.message_cursor, row["id"])
        events.sort(key=lambda e: e[:3])
        return [e[3] for e in events]

    def _status_changes(self, people, now: float, left: set) -> list[dict]:
        found = []
        for agent_id, row in people.rows.items():
            was, status = self.statuses.get(agent_id), people.status(agent_id)
            if was is None or was == status or (status == IDLE and agent_id in left):
                continue  # a new agent's "join" entry says it; a session's end has its "leave" entry
            found.append(status_event(row, was, status, now, self.cursor))
        return found

    def _remember(self, people) -> None:
        self.people = people
        self.rows = list(people.rows.values())
        self.statuses = {agent_id: people.status(agent_id) for agent_id in people.rows}
