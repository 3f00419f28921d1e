"""Presence: who is here, and whether they still count.

The liveness rule lives here and only here (`status_of`):

* an agent whose session ended is *idle*;
* an agent whose client process is known on this host is *active* while that process runs, however quiet it
  is, and *offline* the moment it is gone;
* otherwise (another host, or an identity that only uses the CLI) it is *active* while it was seen less than
  `stale_minutes` ago, *stale* until `offline_minutes`, then *offline*.

Only an active agent's locks, leases and tasks hold. The operator (the console's identity) holds locks like
anyone, but is never counted among the active agents and never keeps an agent from running git.
"""

import os
import time

from agent_sync import process
from agent_sync.errors import Conflict, UsageError

MAX_NAME = 64
MAX_ROLE = 200
OPERATOR = "operator"  # the client name of the console's reserved identity
SYSTEM = "agent-sync"  # the sender of notices, such as a lock another agent broke
RESERVED_NAMES = ("all", SYSTEM)
ACTIVE, STALE, OFFLINE, IDLE = "active", "stale", "offline", "idle"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def status_of(agent, now: float, settings) -> str:
    """The one liveness rule (see the module docstring). `agent` is an agents row."""
    if agent["ended_at"] is not None:
        return IDLE
    alive = process.alive(agent["host"], agent["pid"], agent["pid_start"])
    if alive is not None:
        return ACTIVE if alive else OFFLINE
    age = now - agent["last_seen"]
    if age < settings.stale_minutes * 60:
        return ACTIVE
    if age < settings.offline_minutes * 60:
        return STALE
    return OFFLINE


def is_operator(agent) -> bool:
    return agent is not None and agent["client"] == OPERATOR


class Roster:
    """Every agent of one transaction with its status, each decided once."""

    def __init__(self, tx, settings):
        self.rows = {a["id"]: a for a in tx.agents()}
        self.now, self.settings = tx.now, settings
        self._status: dict[str, str] = {}

    def status(self, agent_id: str) -> str:
        """The agent's status; "unknown" for an id with no agent (the holder of an orphaned lock)."""
        found = self._status.get(agent_id)
        if found is None:
            row = self.rows.get(agent_id)
            found = status_of(row, self.now, self.settings) if row is not None else "unknown"
            self._status[agent_id] = found
        return found

    def live(self, agent_id: str) -> bool:
        """Its locks, leases and tasks hold."""
        return self.status(agent_id) == ACTIVE

    def name(self, agent_id: str) -> str:
        row = self.rows.get(agent_id)
        return row["name"] if row is not None else agent_id

    def active_agents(self) -> list:
        """Active agents that count as agents (the operator does not)."""
        return [a for a in self.rows.values() if self.live(a["id"]) and not is_operator(a)]


def roster(tx, ctx) -> Roster:
    """The transaction's roster, built once (presence writes drop it)."""
    found = tx.cache.get("roster")
    if found is None:
        found = tx.cache["roster"] = Roster(tx, ctx.settings)
    return found


def _forget_roster(tx) -> None:
    tx.cache.pop("roster", None)


def _name_holder(tx, ctx, name: str):
    """A live agent (active or stale) other than the caller that already uses `name`."""
    people = roster(tx, ctx)
    for other in people.rows.values():
        if other["name"] == name and other["id"] != ctx.me and people.status(other["id"]) in (ACTIVE, STALE):
            return other
    return None


def _free_name(tx, ctx, base: str) -> str:
    name, n = base, 2
    while _name_holder(tx, ctx, name) is not None or name.lower() in RESERVED_NAMES:
        name, n = f"{base}-{n}", n + 1
    return name


def default_name(ctx) -> str:
    """What an agent is called until it names itself: AGENT_SYNC_NAME, else the client and the branch (or
    worktree) it works on, like `claude@login-form`, else its id."""
    wanted = (ctx.name or "").strip()
    if wanted:
        return wanted[:MAX_NAME]
    if ctx.client and ctx.id_source != "AGENT_SYNC_ID":
        place = ctx.branch or os.path.basename(ctx.tree or ctx.root) or "repo"
        return f"{ctx.client}@{place}"[:MAX_NAME]
    return ctx.me[:MAX_NAME]


def _presence_fields(ctx) -> dict:
    """What a heartbeat records besides the time: the client, its session and process, where it works."""
    fields = {}
    if ctx.client:
        fields["client"] = ctx.client
    if ctx.session:
        fields["session"] = ctx.session
    if ctx.client_process is not None:
        fields["host"] = process.host_key()
        fields["pid"], fields["pid_start"] = ctx.client_process
    if ctx.cwd:
        fields["cwd"] = ctx.cwd
    if ctx.tree:
        fields["worktree"] = ctx.tree
    if ctx.branch:
        fields["branch"] = ctx.branch
    return fields


def ensure_agent(tx, ctx):
    """The caller's heartbeat: registers an unknown agent on the fly, revives an idle one (a new session).
    One UPDATE when the agent is known (the hooks' common case)."""
    fields = _presence_fields(ctx)
    if ctx.client_process is None and ctx.client != OPERATOR:
        row = tx.get_agent(ctx.me)
        # A beat from outside the recorded client (a CLI call after that client exited) means the agent
        # goes on without it: judge it by time again.
        if row is not None and row["pid"] and process.alive(row["host"], row["pid"], row["pid_start"]) is False:
            fields.update(pid=None, pid_start=None, host="")
    if not tx.update_agent(ctx.me, last_seen=tx.now, ended_at=None, **fields):
        name = _free_name(tx, ctx, default_name(ctx))
        tx.insert_agent(dict(fields, id=ctx.me, name=name, role=(ctx.role or "")[:MAX_ROLE], created_at=tx.now,
                             last_seen=tx.now))
        tx.insert_activity(ctx.me, "join", "joined")
    _forget_roster(tx)


def agent_of_client(tx, client_process: tuple[int, int] | None):
    """The agent whose recorded client process (see `_presence_fields`) is `client_process` on this host, or
    None. A front end started by that same client (the MCP server is its child, as its hooks are) acts as this
    agent, so a session that uses both is one agent. Of several (the client went on to a new session), the
    one whose session has not ended, then one with a session id, then the one seen last."""
    host = process.host_key()
    if client_process is None or not host:
        return None
    pid, start = client_process
    found = [a for a in tx.agents() if a["host"] == host and a["pid"] == pid and a["pid_start"] == start]
    if not found:
        return None
    return max(found, key=lambda a: (a["ended_at"] is None, bool(a["session"]), a["last_seen"]))


def agent_of_ancestors(store):
    """The agent whose recorded client process is an ancestor of this process (nearest first), or None."""
    chain = process.ancestors()
    if not chain or not process.host_key():
        return None
    with store.read() as tx:
        for pid_start in chain:
            found = agent_of_client(tx, pid_start)
            if found is not None:
                return found
    return None


def lookup(tx, ctx, ref: str) -> str | None:
    """The id of the agent `ref` names: an agent id, else the name of a live agent (active or stale)."""
    if tx.get_agent(ref) is not None:
        return ref
    people = roster(tx, ctx)
    named = [a for a in people.rows.values() if a["name"] == ref and people.status(a["id"]) in (ACTIVE, STALE)]
    return max(named, key=lambda a: a["last_seen"])["id"] if named else None


def is_agent_caller(ctx) -> bool:
    """Is the caller an agent session (or named explicitly), rather than a person looking from a shell?"""
    from agent_sync.identity import LOCAL

    return bool(ctx.client) or ctx.id_source != LOCAL


def check_text(value: str, what: str, limit: int, *, allow_empty: bool = False) -> str:
    value = (value or "").strip()
    if not value and not allow_empty:
        raise UsageError(f"{what} must not be empty")
    if len(value) > limit:
        raise UsageError(f"{what} is too long ({len(value)} characters; the limit is {limit})")
    if "\x00" in value:
        raise UsageError(f"{what} must not contain NUL bytes")
    return value


def check_name(name: str) -> str:
    name = check_text(name, "name", MAX_NAME)
    if name.lower() in RESERVED_NAMES:
        raise UsageError(f"{name!r} is reserved; choose another name")
    if name.lower().startswith(("id:", "name:", "role:")):
        raise UsageError(f"a name must not start with {name.split(':', 1)[0]}: (that prefix picks how --to reads)")
    return name


def register(ctx, name: str, role: str | None = None) -> dict:
    name = check_name(name)
    if role is not None:
        role = check_text(role, "role", MAX_ROLE, allow_empty=True)
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        holder = _name_holder(tx, ctx, name)
        if holder is not None:
            raise Conflict(f"the name {name!r} is taken by live agent {holder['id']}; choose another name")
        fields = {"name": name}
        if role is not None:
            fields["role"] = role
        tx.update_agent(ctx.me, **fields)
        _forget_roster(tx)
        tx.insert_activity(ctx.me, "register", f"registered as {name}" + (f" ({role})" if role else ""))
        return agent_view(tx.get_agent(ctx.me), roster(tx, ctx))


def name_session(tx, ctx) -> None:
    """At a session's start: take the name and role the session was started with (AGENT_SYNC_NAME/ROLE).
    A name another live agent uses gets a number (`frontend-2`)."""
    fields = {}
    if ctx.name and ctx.name.strip():
        wanted = ctx.name.strip()[:MAX_NAME]
        current = tx.get_agent(ctx.me)
        if current is None or current["name"] != wanted:
            fields["name"] = _free_name(tx, ctx, wanted)
    if ctx.role is not None and ctx.role.strip():
        fields["role"] = ctx.role.strip()[:MAX_ROLE]
    if fields:
        tx.update_agent(ctx.me, **fields)
        _forget_roster(tx)


def init(ctx) -> dict:
    """The database exists (opening it made it); an agent caller is registered too."""
    if is_agent_caller(ctx):
        with ctx.store.write() as tx:
            ensure_agent(tx, ctx)
    return {"path": ctx.store.where, "schema_version": ctx.store.schema_version()}


def heartbeat(ctx) -> dict:
    with ctx.store.write() as tx:
        ensure_agent(tx, ctx)
        return agent_view(tx.get_agent(ctx.me), roster(tx, ctx))


def end_session_in(tx, ctx) -> None:
    """The agent's session ended: it goes idle (its locks stop holding), and its turn leases go."""
    from agent_sync.core import locks

    tx.update_agent(ctx.me, ended_at=tx.now)
    _forget_roster(tx)
    locks.release_leases(tx, ctx.me)
    tx.insert_activity(ctx.me, "leave", "session ended")


def agent_view(agent, people: Roster, last=None) -> dict:
    view = {
        "id": agent["id"],
        "name": agent["name"],
        "role": agent["role"],
        "client": agent["client"],
        "status": people.status(agent["id"]),
        "operator": is_operator(agent),
        "current_task": agent["current_task"],
        "worktree": agent["worktree"] or None,
        "branch": agent["branch"] or None,
        "last_seen": iso(agent["last_seen"]),
        "seen_ago_s": round(people.now - agent["last_seen"], 1),
    }
    if last is not None:
        view["last_activity"] = {"type": last["type"], "message": last["message"], "file": last["file"],
                                 "at": iso(last["created_at"])}
    return view


def list_agents(ctx) -> list[dict]:
    with ctx.store.read() as tx:
        people = roster(tx, ctx)
        return [agent_view(a, people) for a in people.rows.values()]


def whoami(ctx) -> dict:
    with ctx.store.read() as tx:
        agent = tx.get_agent(ctx.me)
        view = agent_view(agent, roster(tx, ctx)) if agent else {"id": ctx.me, "status": "unregistered"}
    view["source"] = ctx.id_source
    view["root"] = ctx.root
    return view


def gc(ctx, keep_days: float | None = None) -> dict:
    """Drop locks and waiters past their time; with keep_days, prune old activity and read messages."""
    from agent_sync.core import locks, messages

    if keep_days is not None and keep_days < 0:
        raise UsageError("--keep-days must not be negative")
    with ctx.store.write() as tx:
        result = locks.purge_expired(tx)
        if keep_days is not None:
            before = tx.now - keep_days * 86400
            result["pruned_activity"] = tx.delete_activity_before(before)
            result["pruned_messages"] = messages.prune(tx, before)
        counts: dict[str, int] = {}
        people = roster(tx, ctx)
        for agent_id in people.rows:
            state = people.status(agent_id)
            counts[state] = counts.get(state, 0) + 1
        result["agents"] = counts
        return result
