"""The one-time upgrade from the original tool's database (claude-agent-sync 0.2.x-0.4.x).

That tool keeps its state in the same file, `.claude/coordination/state.sqlite`, with its own schema and
`user_version` 0. `SQLiteStore.migrate` calls `recognise`, then `read_and_drop` and, once our schema exists in
the same transaction, `load`. So the upgrade is all or nothing, and a copy of the original file is kept beside
it. Only imported on that path.

What carries over: agents (an agent identified by a Claude Code session keeps that session, under our id for
it), tasks with files, dependencies and block reasons, locks (held by the same agents, so they still hold),
messages with their delivery and read state, decisions and the activity log.
"""

import os
import sqlite3
from datetime import UTC

from agent_sync.errors import StoreError

LEGACY_TABLES = ("agents", "tasks", "task_files", "task_deps", "locks", "messages", "message_deliveries",
                 "decisions", "activity")
BACKUP_SUFFIX = ".claude-agent-sync.bak"


def _columns(conn, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def recognise(conn, tables: set[str], path: str) -> dict:
    """The shape of the original tool's schema in a database with tables but no schema version of ours;
    StoreError for anything else (a foreign schema)."""
    if {"agents", "locks"} <= tables:
        agents, locks = _columns(conn, "agents"), _columns(conn, "locks")
        if {"last_seen", "session_id"} <= agents and {"file_path", "owner_agent_id"} <= locks:
            return {"tables": tables & set(LEGACY_TABLES)}
    shown = ", ".join(sorted(tables)[:6]) + (" …" if len(tables) > 6 else "")
    raise StoreError(f"{path} holds tables agent-sync does not know ({shown}): another program wrote it; "
                     "move it aside (agent-sync then starts a new one), or point AGENT_SYNC_ROOT elsewhere")


def _rows(conn, table: str, shape: dict, order: str = "rowid") -> list[dict]:
    if table not in shape["tables"]:
        return []
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]


def read_and_drop(conn, shape: dict) -> dict:
    """Read every legacy row, keep a copy of the file, and drop the legacy tables (same transaction)."""
    data = {table: _rows(conn, table, shape) for table in LEGACY_TABLES}
    data["backup"] = _backup(conn)
    for table in shape["tables"]:
        conn.execute(f"DROP TABLE {table}")
    return data


def _backup(conn) -> str:
    """Copy the database file (and its write-ahead log, if any) byte for byte. The caller holds the write
    lock, so nobody changes either file meanwhile."""
    import shutil

    path = conn.execute("PRAGMA database_list").fetchone()[2]
    target, n = path + BACKUP_SUFFIX, 2
    while os.path.exists(target):
        target, n = f"{path}{BACKUP_SUFFIX}.{n}", n + 1
    shutil.copyfile(path, target)
    if os.path.exists(path + "-wal"):
        shutil.copyfile(path + "-wal", target + "-wal")
    return target


def _time(value) -> float | None:
    if value in (None, ""):
        return None
    from datetime import datetime

    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _legacy_session_id(session: str) -> str:
    import hashlib

    return "agent-" + hashlib.sha1(session.strip().encode("utf-8")).hexdigest()[:12]


def _agent_ids(agents: list[dict], root: str) -> dict[str, str]:
    """Legacy agent id -> ours. A session-derived id becomes our id for the same Claude Code session, and the
    repository's shared local id (`current-agent`) becomes ours for this user, so the same callers keep
    what they held; explicit AGENT_SYNC_ID ids stay as they are."""
    from agent_sync import identity

    local = None
    try:
        with open(os.path.join(root, ".claude", "coordination", "current-agent"), encoding="utf-8") as fh:
            local = fh.read().strip() or None
    except OSError:
        pass
    mapping = {}
    for agent in agents:
        old = agent["id"]
        session = agent.get("session_id") or ""
        if session and old == _legacy_session_id(session):
            mapping[old] = identity.session_agent_id(session.strip(), "claude")
        elif local is not None and old == local:
            mapping[old] = identity.resolve(root, environ={k: v for k, v in os.environ.items()
                                                            if k in ("USER", "USERNAME")})[0]
        else:
            mapping[old] = old
    return mapping


def _target(raw: str, kind: str, root: str) -> tuple[str, str, str]:
    if kind == "resource":
        return "resource", raw, raw
    from agent_sync import targets

    try:
        target = targets.parse_target(raw, root, root)
    except Exception:
        return "file", raw, raw
    return target.kind, target.key, target.base


def _path(raw: str | None, root: str) -> str | None:
    if raw is None:
        return None
    kind, key, _ = _target(raw, "file", root)
    return "./" if (kind == "dir" and key == "") else key


def _split_block_reason(description: str) -> tuple[str, str]:
    kept, reason = [], ""
    for line in (description or "").splitlines():
        if line.startswith("[blocked]"):
            reason = line[len("[blocked]"):].strip()
        else:
            kept.append(line)
    return "\n".join(kept).strip(), reason


def load(conn, data: dict, path: str) -> str:
    """Insert the legacy rows into our (new, empty) schema; return the one line that tells the user."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(path))))
    ids = _agent_ids(data["agents"], root)
    agents_by_old = {a["id"]: a for a in data["agents"]}

    def who(old) -> str:
        return ids.get(old, old) if old else ""

    task_ids: dict[str, int] = {}
    for number, task in enumerate(data["tasks"], 1):
        task_ids[task["id"]] = number
    for agent in data["agents"]:
        seen = _time(agent["last_seen"]) or 0.0
        ended = seen if agent.get("status") in ("idle", "offline") else None
        session = (agent.get("session_id") or "").strip()
        conn.execute(
            "INSERT OR REPLACE INTO agents (id, name, role, client, session, cwd, current_task, created_at,"
            " last_seen, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (who(agent["id"]), agent["name"] or agent["id"], agent.get("role") or "", "claude" if session else "",
             session, agent.get("cwd") or "", task_ids.get(agent.get("current_task_id")),
             _time(agent["created_at"]) or seen, seen, ended),
        )
    for task in data["tasks"]:
        description, reason = _split_block_reason(task.get("description") or "")
        status = {"pending": "open"}.get(task["status"], task["status"])
        created = _time(task["created_at"]) or 0.0
        conn.execute(
            "INSERT INTO tasks (id, title, description, status, priority, owner, created_by, blocked_reason,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (task_ids[task["id"]], task["title"], description, status, int(task.get("priority") or 0),
             who(task.get("owner_agent_id")) or None, "", reason if status == "blocked" else "", created,
             _time(task.get("updated_at")) or created),
        )
    for row in data["task_files"]:
        if row["task_id"] in task_ids:
            conn.execute("INSERT OR IGNORE INTO task_files (task_id, path) VALUES (?, ?)",
                         (task_ids[row["task_id"]], _path(row["file_path"], root)))
    for row in data["task_deps"]:
        if row["task_id"] in task_ids and row["depends_on_id"] in task_ids:
            conn.execute("INSERT OR IGNORE INTO task_deps (task_id, depends_on) VALUES (?, ?)",
                         (task_ids[row["task_id"]], task_ids[row["depends_on_id"]]))
    for row in data["locks"]:
        kind, key, base = _target(row["file_path"], row.get("kind") or "file", root)
        created = _time(row["created_at"]) or 0.0
        conn.execute(
            "INSERT OR IGNORE INTO locks (kind, key, base, holder, mode, reason, lease, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, 'exclusive', ?, 0, ?, ?)",
            (kind, key, base, who(row["owner_agent_id"]), row.get("reason") or "", created,
             _time(row["expires_at"]) or created),
        )

    message_ids = {m["id"]: n for n, m in enumerate(data["messages"], 1)}
    names: dict[str, list[dict]] = {}
    roles: set[str] = set()
    for agent in data["agents"]:
        names.setdefault(agent["name"], []).append(agent)
        if agent.get("role"):
            roles.add(agent["role"])

    def address(recipient: str) -> tuple[str, str]:
        if recipient == "all":
            return "all", "all"
        if recipient in agents_by_old:
            return "agent", who(recipient)
        if recipient in names:  # the most recently seen agent of that name
            best = max(names[recipient], key=lambda a: _time(a["last_seen"]) or 0.0)
            return "agent", who(best["id"])
        if recipient in roles:
            return "role", recipient
        return "agent", recipient

    for message in data["messages"]:
        kind, recipient = address(message["recipient"])
        conn.execute(
            "INSERT INTO messages (id, sender, kind, recipient, body, reply_to, urgent, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
            (message_ids[message["id"]], who(message["sender_agent_id"]), kind, recipient, message["body"],
             message_ids.get(message.get("reply_to")), _time(message["created_at"]) or 0.0),
        )
        if kind == "agent":
            readers = [recipient]
        elif kind == "role":
            readers = [who(a["id"]) for a in data["agents"] if a.get("role") == recipient]
        else:
            readers = [who(a["id"]) for a in data["agents"] if a["id"] != message["sender_agent_id"]]
        marks = {"read_at": _time(message.get("read_at")), "acked_at": _time(message.get("acked_at"))}
        for column, at in marks.items():  # the original tool keeps one flag per message: everyone it reached
            if at is not None:
                for reader in readers:
                    _mark(conn, message_ids[message["id"]], reader, column, at)
    for row in data["message_deliveries"]:
        if row["message_id"] in message_ids:
            _mark(conn, message_ids[row["message_id"]], who(row["agent_id"]), "delivered_at",
                  _time(row["delivered_at"]) or 0.0)
    for row in data["decisions"]:
        conn.execute("INSERT INTO decisions (agent, text, created_at) VALUES (?, ?, ?)",
                     (who(row["agent_id"]), row["body"], _time(row["created_at"]) or 0.0))
    for row in data["activity"]:
        conn.execute("INSERT INTO activity (agent, type, message, file, created_at) VALUES (?, ?, ?, ?, ?)",
                     (who(row.get("agent_id")), row.get("event_type") or "note", row.get("body") or "",
                      _path(row.get("file_path"), root), _time(row["created_at"]) or 0.0))
    counts = (f"{len(data['agents'])} agents, {len(data['tasks'])} tasks, {len(data['locks'])} locks, "
              f"{len(data['messages'])} messages")
    return (f"upgraded the original claude-agent-sync state in {path} ({counts}); "
            f"its original file is kept as {data['backup']}")


def _mark(conn, message_id: int, agent: str, column: str, at: float) -> None:
    """Record one delivery fact; anything read or acknowledged was delivered too."""
    extra = "" if column == "delivered_at" else f", {column}"
    values = (message_id, agent, at) if column == "delivered_at" else (message_id, agent, at, at)
    conn.execute(
        f"INSERT INTO message_deliveries (message_id, agent, delivered_at{extra}) VALUES (?, ?, ?{', ?' * bool(extra)})"
        f" ON CONFLICT (message_id, agent) DO UPDATE SET {column} = coalesce({column}, excluded.{column}),"
        " delivered_at = coalesce(delivered_at, excluded.delivered_at)",
        values,
    )
