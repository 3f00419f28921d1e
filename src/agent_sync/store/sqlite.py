"""The embedded store: one SQLite file per repository, WAL mode, short `BEGIN IMMEDIATE` writes.

Every SQL statement of the SQLite backend lives in this module.
"""

import os
import sqlite3
import time
from contextlib import contextmanager

from agent_sync.errors import StoreBusy, StoreError

# Append-only: each entry upgrades the schema by one version (PRAGMA user_version).
MIGRATIONS: list[tuple[str, str]] = [
    (
        "initial schema",
        """
        CREATE TABLE agents (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT '',
            client TEXT NOT NULL DEFAULT '',
            session TEXT NOT NULL DEFAULT '',
            cwd TEXT NOT NULL DEFAULT '',
            current_task INTEGER,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL,
            ended_at REAL
        );
        CREATE INDEX agents_name ON agents(name);
        CREATE TABLE locks (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            base TEXT NOT NULL,
            holder TEXT NOT NULL,
            mode TEXT NOT NULL DEFAULT 'exclusive',
            reason TEXT NOT NULL DEFAULT '',
            lease INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            UNIQUE (kind, key, holder)
        );
        CREATE INDEX locks_key ON locks(key);
        CREATE INDEX locks_base ON locks(base);
        CREATE INDEX locks_holder ON locks(holder);
        CREATE TABLE lock_waiters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            agent TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            mode TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'open',
            priority INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            created_by TEXT NOT NULL DEFAULT '',
            blocked_reason TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX tasks_title ON tasks(title COLLATE NOCASE);
        CREATE INDEX tasks_status ON tasks(status, priority);
        CREATE TABLE task_files (
            task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            PRIMARY KEY (task_id, path)
        );
        CREATE TABLE task_deps (
            task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            depends_on INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            PRIMARY KEY (task_id, depends_on)
        );
        CREATE INDEX task_deps_on ON task_deps(depends_on);
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            sender TEXT NOT NULL,
            kind TEXT NOT NULL,
            recipient TEXT NOT NULL,
            body TEXT NOT NULL,
            reply_to INTEGER,
            urgent INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE INDEX messages_recipient ON messages(kind, recipient);
        CREATE INDEX messages_reply ON messages(reply_to);
        CREATE TABLE message_deliveries (
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            agent TEXT NOT NULL,
            delivered_at REAL,
            read_at REAL,
            acked_at REAL,
            PRIMARY KEY (message_id, agent)
        );
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            agent TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE activity (
            id INTEGER PRIMARY KEY,
            agent TEXT NOT NULL,
            type TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            file TEXT,
            created_at REAL NOT NULL,
            dedup TEXT UNIQUE
        );
        CREATE INDEX activity_time ON activity(created_at);
        CREATE INDEX activity_file ON activity(file);
        """,
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)

_AGENT_FIELDS = {"name", "role", "client", "session", "cwd", "current_task", "last_seen", "ended_at"}
_TASK_FIELDS = {"title", "description", "status", "priority", "owner", "blocked_reason", "updated_at"}
_LIVE_HOLDER = "a.ended_at IS NULL AND a.last_seen >= :cutoff AND l.expires_at > :now"


def _explain(path: str, exc: Exception) -> str:
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"{path} is read-only ({text}); make it and its directory writable"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"{path} is not a usable agent-sync database ({text}); move it aside and run the command again"
    if "unable to open" in text:
        return f"cannot open {path} ({text}); check that its directory exists and is writable"
    return f"{path}: {text}"


def _is_busy(exc: Exception) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


class SQLiteStore:
    def __init__(self, path: str, busy_timeout: float = 30.0, clock=None, create: bool = True):
        self.path = path
        self._clock = clock or time.time
        self.busy_timeout = busy_timeout
        if not create and not os.path.exists(path):
            raise StoreError(f"no agent-sync database at {path}")
        try:
            self.conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self._prepare()
        except StoreBusy:
            raise
        except sqlite3.Error as exc:
            if _is_busy(exc):
                raise StoreBusy(f"{path} is busy: another process holds its write lock; try again") from None
            raise StoreError(_explain(path, exc)) from None

    def now(self) -> float:
        return self._clock()

    def close(self) -> None:
        self.conn.close()

    def _prepare(self) -> None:
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this agent-sync knows ({SCHEMA_VERSION}); "
                "upgrade agent-sync"
            )
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if version == SCHEMA_VERSION:
            return
        self._enable_wal()
        self.migrate()

    def _enable_wal(self) -> None:
        """Switch a new database to WAL. SQLite answers "locked" at once, without using the busy timeout, when
        several connections switch the same new file together, so retry until the timeout."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def migrate(self, target: int | None = None) -> int:
        """Apply the missing migrations in one transaction; safe when several processes start at once."""
        target = SCHEMA_VERSION if target is None else target
        self._begin("BEGIN IMMEDIATE")
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            for _name, script in MIGRATIONS[version:target]:
                for statement in script.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
            if version < target:
                self.conn.execute(f"PRAGMA user_version = {int(target)}")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return target

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _begin(self, statement: str) -> None:
        try:
            self.conn.execute(statement)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusy(
                    f"{self.path} is busy: another process held its write lock for over {self.busy_timeout:g}s; try again"
                ) from None
            raise StoreError(_explain(self.path, exc)) from None

    @contextmanager
    def _transaction(self, statement: str):
        self._begin(statement)
        tx = SQLiteTx(self.conn, self.now())
        try:
            yield tx
        except BaseException as exc:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error):
                if _is_busy(exc):
                    raise StoreBusy(f"{self.path} is busy; try again") from None
                raise StoreError(_explain(self.path, exc)) from None
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(_explain(self.path, exc)) from None

    def write(self):
        """A serialised write transaction. `BEGIN IMMEDIATE` takes the write lock up front, so a read that
        becomes a write can never deadlock; waits at most the busy timeout, then raises StoreBusy."""
        return self._transaction("BEGIN IMMEDIATE")

    def read(self):
        """A consistent read snapshot; in WAL mode it never waits for writers."""
        return self._transaction("BEGIN")


class SQLiteTx:
    """The queries of one transaction. `now` is the store's clock, read once when the transaction began."""

    def __init__(self, conn: sqlite3.Connection, now: float):
        self.conn = conn
        self.now = now

    def _all(self, sql: str, params=()) -> list:
        return self.conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params=()):
        return self.conn.execute(sql, params).fetchone()

    # -- agents ------------------------------------------------------------------------------------

    def get_agent(self, agent_id: str):
        return self._one("SELECT * FROM agents WHERE id = ?", (agent_id,))

    def insert_agent(self, agent_id: str, name: str, role: str = "", client: str = "", session: str = "",
                     cwd: str = "") -> None:
        self.conn.execute(
            "INSERT INTO agents (id, name, role, client, session, cwd, created_at, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (agent_id, name, role, client, session, cwd, self.now, self.now),
        )

    def touch_agent(self, agent_id: str, **fields) -> bool:
        """The heartbeat (and any of client/session that changed); False if the agent is unknown."""
        unknown = set(fields) - {"client", "session"}
        if unknown:
            raise ValueError(f"not heartbeat fields: {unknown}")
        extra = "".join(f", {name} = ?" for name in fields)
        cur = self.conn.execute(
            f"UPDATE agents SET last_seen = ?, ended_at = NULL{extra} WHERE id = ?",
            (self.now, *fields.values(), agent_id),
        )
        return cur.rowcount > 0

    def update_agent(self, agent_id: str, **fields) -> None:
        unknown = set(fields) - _AGENT_FIELDS
        if unknown:
            raise ValueError(f"not agent fields: {unknown}")
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            self.conn.execute(f"UPDATE agents SET {assignments} WHERE id = ?", (*fields.values(), agent_id))

    def agents(self) -> list:
        return self._all("SELECT * FROM agents ORDER BY name, id")

    def agents_matching(self, ref: str) -> list:
        """Agents whose id, name or role is `ref`."""
        return self._all("SELECT * FROM agents WHERE id = ? OR name = ? OR role = ? ORDER BY id", (ref, ref, ref))

    def agents_named(self, name: str) -> list:
        return self._all("SELECT * FROM agents WHERE name = ?", (name,))

    # -- locks -------------------------------------------------------------------------------------

    _LOCK_COLUMNS = "l.*, a.name AS holder_name"

    def live_locks(self, cutoff: float, exclude_holder: str | None = None) -> list:
        return self._all(
            f"SELECT {self._LOCK_COLUMNS} FROM locks l JOIN agents a ON a.id = l.holder"
            f" WHERE {_LIVE_HOLDER} AND l.holder IS NOT :me ORDER BY l.key, l.id",
            {"cutoff": cutoff, "now": self.now, "me": exclude_holder},
        )

    def all_locks(self) -> list:
        return self._all(
            f"SELECT {self._LOCK_COLUMNS}, a.last_seen AS holder_last_seen, a.ended_at AS holder_ended_at"
            " FROM locks l LEFT JOIN agents a ON a.id = l.holder ORDER BY l.key, l.id"
        )

    def locks_of(self, holder: str) -> list:
        return self._all(
            f"SELECT {self._LOCK_COLUMNS} FROM locks l LEFT JOIN agents a ON a.id = l.holder"
            " WHERE l.holder = ? AND l.expires_at > ? ORDER BY l.key",
            (holder, self.now),
        )

    def locks_covering_candidates(self, path: str, ancestors: list[str], cutoff: float) -> list:
        """Live locks that may cover the file `path`: its file lock, directory locks on its ancestors, and
        globs whose static prefix is one of its ancestors (the caller matches those globs exactly)."""
        marks = ",".join("?" * len(ancestors))
        return self._all(
            f"SELECT {self._LOCK_COLUMNS} FROM locks l JOIN agents a ON a.id = l.holder"
            f" WHERE l.expires_at > ? AND a.ended_at IS NULL AND a.last_seen >= ?"
            f" AND ((l.kind = 'file' AND l.key = ?) OR (l.kind = 'dir' AND l.key IN ({marks}))"
            f" OR (l.kind = 'glob' AND l.base IN ({marks})))",
            (self.now, cutoff, path, *ancestors, *ancestors),
        )

    def put_lock(self, kind: str, key: str, base: str, holder: str, mode: str, reason: str, lease: bool,
                 expires_at: float) -> None:
        self.conn.execute(
            "INSERT INTO locks (kind, key, base, holder, mode, reason, lease, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, key, holder) DO UPDATE SET mode = excluded.mode, reason = excluded.reason,"
            " lease = excluded.lease, expires_at = excluded.expires_at,"
            " created_at = CASE WHEN locks.expires_at > excluded.created_at THEN locks.created_at"
            " ELSE excluded.created_at END",
            (kind, key, base, holder, mode, reason, int(lease), self.now, expires_at),
        )

    def dead_locks(self, cutoff: float) -> list:
        """Locks that no longer hold: past their TTL, or held by an agent that is not active."""
        return self._all(
            f"SELECT {self._LOCK_COLUMNS} FROM locks l LEFT JOIN agents a ON a.id = l.holder"
            " WHERE l.expires_at <= ? OR a.id IS NULL OR a.ended_at IS NOT NULL OR a.last_seen < ?",
            (self.now, cutoff),
        )

    def extend_lock(self, lock_id: int, expires_at: float) -> None:
        self.conn.execute("UPDATE locks SET expires_at = max(expires_at, ?) WHERE id = ?", (expires_at, lock_id))

    def delete_lock(self, lock_id: int) -> None:
        self.conn.execute("DELETE FROM locks WHERE id = ?", (lock_id,))

    def locks_on(self, kind: str, key: str) -> list:
        return self._all(
            f"SELECT {self._LOCK_COLUMNS} FROM locks l LEFT JOIN agents a ON a.id = l.holder"
            " WHERE l.kind = ? AND l.key = ?",
            (kind, key),
        )

    def delete_leases_of(self, holder: str, before: float | None = None) -> int:
        """Drop the holder's turn leases (only those taken at or before `before`, when given)."""
        return self.conn.execute(
            "DELETE FROM locks WHERE holder = ? AND lease = 1 AND created_at <= ?",
            (holder, self.now if before is None else before),
        ).rowcount

    def purge_expired_locks(self) -> int:
        return self.conn.execute("DELETE FROM locks WHERE expires_at <= ?", (self.now,)).rowcount

    def count_live_locks(self, cutoff: float) -> int:
        return self._one(
            f"SELECT count(*) FROM locks l JOIN agents a ON a.id = l.holder WHERE {_LIVE_HOLDER}",
            {"cutoff": cutoff, "now": self.now},
        )[0]

    # -- lock waiters (first come, first served) ---------------------------------------------------

    def add_waiter(self, agent: str, kind: str, key: str, mode: str, expires_at: float) -> int:
        cur = self.conn.execute(
            "INSERT INTO lock_waiters (agent, kind, key, mode, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (agent, kind, key, mode, self.now, expires_at),
        )
        return cur.lastrowid

    def extend_waiters(self, ids, expires_at: float) -> None:
        self.conn.executemany("UPDATE lock_waiters SET expires_at = ? WHERE id = ?", [(expires_at, i) for i in ids])

    def delete_waiters(self, ids) -> None:
        self.conn.executemany("DELETE FROM lock_waiters WHERE id = ?", [(i,) for i in ids])

    def live_waiters(self, cutoff: float) -> list:
        return self._all(
            "SELECT w.*, a.name AS agent_name FROM lock_waiters w JOIN agents a ON a.id = w.agent"
            " WHERE w.expires_at > ? AND a.ended_at IS NULL AND a.last_seen >= ? ORDER BY w.id",
            (self.now, cutoff),
        )

    def purge_expired_waiters(self) -> int:
        return self.conn.execute("DELETE FROM lock_waiters WHERE expires_at <= ?", (self.now,)).rowcount

    # -- tasks -------------------------------------------------------------------------------------

    _TASK_COLUMNS = "t.*, a.name AS owner_name, a.last_seen AS owner_last_seen, a.ended_at AS owner_ended_at"

    def insert_task(self, title: str, description: str, priority: int, created_by: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO tasks (title, description, priority, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (title, description, priority, created_by, self.now, self.now),
        )
        return cur.lastrowid

    def add_task_files(self, task_id: int, paths) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO task_files (task_id, path) VALUES (?, ?)", [(task_id, p) for p in paths]
        )

    def get_task(self, task_id: int):
        return self._one(
            f"SELECT {self._TASK_COLUMNS} FROM tasks t LEFT JOIN agents a ON a.id = t.owner WHERE t.id = ?",
            (task_id,),
        )

    def tasks_titled(self, title: str) -> list:
        return self._all(
            f"SELECT {self._TASK_COLUMNS} FROM tasks t LEFT JOIN agents a ON a.id = t.owner"
            " WHERE t.title = ? COLLATE NOCASE ORDER BY t.id",
            (title,),
        )

    def tasks(self, statuses=None, limit: int | None = None) -> list:
        where, params = "", []
        if statuses:
            where = f" WHERE t.status IN ({','.join('?' * len(statuses))})"
            params = list(statuses)
        sql = (f"SELECT {self._TASK_COLUMNS} FROM tasks t LEFT JOIN agents a ON a.id = t.owner{where}"
               " ORDER BY CASE t.status WHEN 'in_progress' THEN 0 WHEN 'open' THEN 1 WHEN 'blocked' THEN 2"
               " ELSE 3 END, t.priority DESC, t.id")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql, params)

    def tasks_owned_by(self, owner: str) -> list:
        return self._all(
            f"SELECT {self._TASK_COLUMNS} FROM tasks t LEFT JOIN agents a ON a.id = t.owner"
            " WHERE t.owner = ? AND t.status IN ('in_progress', 'blocked') ORDER BY t.id",
            (owner,),
        )

    def task_counts(self) -> dict:
        return {row[0]: row[1] for row in self._all("SELECT status, count(*) FROM tasks GROUP BY status")}

    def update_task(self, task_id: int, **fields) -> None:
        unknown = set(fields) - _TASK_FIELDS
        if unknown:
            raise ValueError(f"not task fields: {unknown}")
        fields["updated_at"] = self.now
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.conn.execute(f"UPDATE tasks SET {assignments} WHERE id = ?", (*fields.values(), task_id))

    def task_files(self, task_ids) -> dict[int, list[str]]:
        ids = list(task_ids)
        result: dict[int, list[str]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._all(
                f"SELECT task_id, path FROM task_files WHERE task_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY path",
                chunk,
            )
            for row in rows:
                result[row[0]].append(row[1])
        return result

    def add_dependency(self, task_id: int, depends_on: int) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO task_deps (task_id, depends_on) VALUES (?, ?)", (task_id, depends_on)
        )

    def dependencies(self) -> list[tuple[int, int]]:
        return [(r[0], r[1]) for r in self._all("SELECT task_id, depends_on FROM task_deps")]

    def unfinished_dependencies(self, task_id: int) -> list:
        return self._all(
            "SELECT t.id, t.title, t.status FROM task_deps d JOIN tasks t ON t.id = d.depends_on"
            " WHERE d.task_id = ? AND t.status NOT IN ('done', 'cancelled') ORDER BY t.id",
            (task_id,),
        )

    def dependents(self, task_id: int) -> list:
        return self._all(
            "SELECT t.id, t.title, t.status FROM task_deps d JOIN tasks t ON t.id = d.task_id"
            " WHERE d.depends_on = ? ORDER BY t.id",
            (task_id,),
        )

    def waiting_task_ids(self) -> set[int]:
        """Tasks with at least one dependency that is not done or cancelled."""
        return {r[0] for r in self._all(
            "SELECT DISTINCT d.task_id FROM task_deps d JOIN tasks t ON t.id = d.depends_on"
            " WHERE t.status NOT IN ('done', 'cancelled')"
        )}

    def next_ready_task(self, cutoff: float, skip_ids=()):
        """The highest-priority task with every dependency finished that is open, or in progress under an
        owner who is no longer live (stale, offline or idle)."""
        skip = ",".join(str(int(i)) for i in skip_ids) or "-1"  # NOT IN (NULL) would match nothing
        return self._one(
            f"SELECT {self._TASK_COLUMNS} FROM tasks t LEFT JOIN agents a ON a.id = t.owner"
            " WHERE (t.status = 'open' OR (t.status = 'in_progress'"
            "   AND (a.id IS NULL OR a.ended_at IS NOT NULL OR a.last_seen < ?)))"
            f" AND t.id NOT IN ({skip})"
            " AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks dt ON dt.id = d.depends_on"
            "   WHERE d.task_id = t.id AND dt.status NOT IN ('done', 'cancelled'))"
            " ORDER BY t.priority DESC, t.id LIMIT 1",
            (cutoff,),
        )

    # -- messages ----------------------------------------------------------------------------------

    def insert_message(self, sender: str, kind: str, recipient: str, body: str, reply_to: int | None,
                       urgent: bool) -> int:
        cur = self.conn.execute(
            "INSERT INTO messages (sender, kind, recipient, body, reply_to, urgent, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sender, kind, recipient, body, reply_to, int(urgent), self.now),
        )
        return cur.lastrowid

    def get_message(self, message_id: int):
        return self._one(
            "SELECT m.*, a.name AS sender_name FROM messages m LEFT JOIN agents a ON a.id = m.sender"
            " WHERE m.id = ?",
            (message_id,),
        )

    def replies_to(self, message_ids) -> list:
        ids = list(message_ids)
        return self._all(
            "SELECT m.*, a.name AS sender_name FROM messages m LEFT JOIN agents a ON a.id = m.sender"
            f" WHERE m.reply_to IN ({','.join('?' * len(ids))}) ORDER BY m.id",
            ids,
        )

    def messages_for(self, agent: str, role: str, broadcast_since: float, *, undelivered: bool = False,
                     unread: bool = False, limit: int = 200) -> list:
        """Messages addressed to this agent: directly (any age), or to its role or to everyone (sent since
        `broadcast_since`, and not by itself), each with this agent's delivery state."""
        conditions = ""
        if undelivered:
            conditions += " AND d.delivered_at IS NULL"
        if unread:
            conditions += " AND d.read_at IS NULL"
        return self._all(
            "SELECT m.*, a.name AS sender_name, d.delivered_at, d.read_at, d.acked_at"
            " FROM messages m LEFT JOIN agents a ON a.id = m.sender"
            " LEFT JOIN message_deliveries d ON d.message_id = m.id AND d.agent = :me"
            " WHERE ((m.kind = 'agent' AND m.recipient = :me)"
            "   OR (m.created_at >= :since AND m.sender != :me"
            "       AND (m.kind = 'all' OR (m.kind = 'role' AND m.recipient = :role AND :role != ''))))"
            f"{conditions} ORDER BY m.id DESC LIMIT :limit",
            {"me": agent, "role": role, "since": broadcast_since, "limit": limit},
        )

    def mark_messages(self, agent: str, message_ids, column: str) -> None:
        if column not in ("delivered_at", "read_at", "acked_at"):
            raise ValueError(column)
        rows = [(m, agent, self.now) for m in message_ids]
        self.conn.executemany(
            f"INSERT INTO message_deliveries (message_id, agent, {column}) VALUES (?, ?, ?)"
            f" ON CONFLICT (message_id, agent) DO UPDATE SET {column} = coalesce({column}, excluded.{column})",
            rows,
        )

    def recent_messages(self, limit: int) -> list:
        return self._all(
            "SELECT m.*, a.name AS sender_name FROM messages m LEFT JOIN agents a ON a.id = m.sender"
            " ORDER BY m.id DESC LIMIT ?",
            (limit,),
        )

    def prune_messages(self, before: float) -> int:
        """Drop old broadcasts, and old directed messages their recipient has read."""
        return self.conn.execute(
            "DELETE FROM messages WHERE created_at < ? AND (kind != 'agent' OR EXISTS ("
            " SELECT 1 FROM message_deliveries d WHERE d.message_id = messages.id AND d.agent = messages.recipient"
            " AND d.read_at IS NOT NULL))",
            (before,),
        ).rowcount

    # -- decisions and activity --------------------------------------------------------------------

    def insert_decision(self, agent: str, text: str) -> int:
        return self.conn.execute(
            "INSERT INTO decisions (agent, text, created_at) VALUES (?, ?, ?)", (agent, text, self.now)
        ).lastrowid

    def decisions(self, limit: int | None = None) -> list:
        sql = ("SELECT d.*, a.name AS agent_name FROM decisions d LEFT JOIN agents a ON a.id = d.agent"
               " ORDER BY d.id DESC")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql)

    def insert_activity(self, agent: str, type_: str, message: str, file: str | None = None,
                        at: float | None = None, dedup: str | None = None) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO activity (agent, type, message, file, created_at, dedup) VALUES (?, ?, ?, ?, ?, ?)",
            (agent, type_, message, file, self.now if at is None else at, dedup),
        )

    def activity(self, since: float | None = None, agent: str | None = None, file: str | None = None,
                 limit: int = 50) -> list:
        where, params = [], []
        if since is not None:
            where.append("v.created_at >= ?")
            params.append(since)
        if agent is not None:
            where.append("(v.agent = ? OR a.name = ?)")
            params += [agent, agent]
        if file is not None:
            where.append("v.file = ?")
            params.append(file)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return self._all(
            "SELECT v.*, a.name AS agent_name FROM activity v LEFT JOIN agents a ON a.id = v.agent"
            f"{clause} ORDER BY v.id DESC LIMIT ?",
            (*params, limit),
        )

    def count_activity(self) -> int:
        return self._one("SELECT count(*) FROM activity")[0]

    def prune_activity(self, before: float) -> int:
        return self.conn.execute("DELETE FROM activity WHERE created_at < ?", (before,)).rowcount
