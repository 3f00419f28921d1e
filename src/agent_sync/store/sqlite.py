"""The embedded store: one SQLite file per repository, WAL mode, short `BEGIN IMMEDIATE` writes.

Every SQL statement of the SQLite store lives in this module (and, for the one-time upgrade from the original
tool's schema, in `store.legacy`). It implements `store.contract` and states no coordination rule of its own.
"""

import os
import time
from _thread import get_ident

from agent_sync.errors import StoreBusy, StoreError

try:  # the C module itself: `sqlite3` adds only date adapters we never use, and their datetime import
    import _sqlite3 as sqlite3
except ImportError:  # pragma: no cover
    import sqlite3

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
    (
        "client process, worktree and branch of an agent; the task a lock was taken for",
        """
        ALTER TABLE agents ADD COLUMN host TEXT NOT NULL DEFAULT '';
        ALTER TABLE agents ADD COLUMN pid INTEGER;
        ALTER TABLE agents ADD COLUMN pid_start INTEGER;
        ALTER TABLE agents ADD COLUMN worktree TEXT NOT NULL DEFAULT '';
        ALTER TABLE agents ADD COLUMN branch TEXT NOT NULL DEFAULT '';
        ALTER TABLE locks ADD COLUMN task_id INTEGER;
        CREATE INDEX activity_agent ON activity(agent, id);
        """,
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)

AGENT_COLUMNS = frozenset(("id", "name", "role", "client", "session", "cwd", "current_task", "created_at",
                           "last_seen", "ended_at", "host", "pid", "pid_start", "worktree", "branch"))
LOCK_COLUMNS = frozenset(("kind", "key", "base", "holder", "mode", "reason", "lease", "created_at",
                          "expires_at", "task_id"))
WAITER_COLUMNS = frozenset(("agent", "kind", "key", "mode", "created_at", "expires_at"))
TASK_COLUMNS = frozenset(("title", "description", "status", "priority", "owner", "created_by", "blocked_reason",
                          "created_at", "updated_at"))
MESSAGE_COLUMNS = frozenset(("sender", "kind", "recipient", "body", "reply_to", "urgent", "created_at"))
DELIVERY_COLUMNS = ("delivered_at", "read_at", "acked_at")
_KEYS = {"task_files": ("task_id", "path"), "task_deps": ("task_id", "depends_on"),
         "message_deliveries": ("message_id", "agent")}  # the primary keys that are not `id`

# SQLite's primary result codes (https://sqlite.org/rescode.html), to classify errors without reading messages.
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


def _code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF


def _is_busy(exc: sqlite3.Error) -> bool:
    return _code(exc) in (_BUSY, _LOCKED)


def explain(path: str, exc: sqlite3.Error) -> str:
    """One line naming the file, what is wrong and what to do."""
    code = _code(exc)
    if code == _READONLY:
        return f"{path} is read-only ({exc}); make it and its directory writable"
    if code in (_CORRUPT, _NOTADB):
        return (f"{path} is not a usable agent-sync database ({exc}); move it aside (agent-sync then starts a "
                "new one) or restore it from a backup")
    if code == _CANTOPEN:
        return f"cannot open {path} ({exc}); check that its directory exists and is writable"
    if code == _FULL:
        return f"{path}: the disk is full ({exc}); free some space"
    if code == _IOERR:
        return f"{path}: input/output error ({exc}); check the disk and the file's permissions"
    return f"{path}: {exc}"


def _columns(fields, allowed: frozenset, what: str) -> tuple[str, list]:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not {what} columns: {sorted(unknown)}")
    return ", ".join(fields), list(fields.values())


class SQLiteStore:
    """One connection per thread (a TUI worker or a web thread pool may share the store object)."""

    kind = "sqlite"

    def __init__(self, path: str, busy_timeout: float = 10.0, clock=None, create: bool = True, notes=None):
        self.path = self.where = path
        self._clock = clock or time.time
        self.busy_timeout = busy_timeout
        self._conns: dict[int, sqlite3.Connection] = {}
        self.notes = notes if notes is not None else []  # one-line things to tell the user (an upgrade)
        if not create and not os.path.exists(path):
            raise StoreError(f"no agent-sync database at {path}")
        try:
            self._prepare(self.conn)
        except (StoreBusy, StoreError):
            self.close()
            raise
        except sqlite3.Error as exc:
            self.close()
            if _is_busy(exc):
                raise StoreBusy(f"{path} is busy: another process holds its write lock; try again") from None
            raise StoreError(explain(path, exc)) from None

    @property
    def conn(self) -> sqlite3.Connection:
        conn = self._conns.get(get_ident())
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            conn.row_factory = sqlite3.Row
            self._conns[get_ident()] = conn
            if len(self._conns) > 1:  # a second thread: its connection needs the per-connection settings
                self._configure(conn)
        return conn

    def now(self) -> float:
        return self._clock()

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    @staticmethod
    def _configure(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")

    def _prepare(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this agent-sync knows ({SCHEMA_VERSION}); "
                "upgrade agent-sync"
            )
        self._configure(conn)
        if version == SCHEMA_VERSION:
            return
        if version == 0 and self._tables():  # tables, yet no schema of ours: the original tool's file
            self._upgrade_foreign()
            return
        self._enable_wal()
        self.migrate()

    def _upgrade_foreign(self) -> None:
        """Upgrade a database written by the original tool, once, however many processes meet it at the same
        time: they queue on a lock file, so the file is copied, upgraded (in one transaction) and switched
        to WAL by one of them, while no other connection of ours is inside a transaction."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: SQLite's own write lock still makes it one upgrade
            fcntl = None
        with open(self.path + ".upgrade-lock", "a") as guard:
            if fcntl is not None:
                deadline = time.monotonic() + max(self.busy_timeout, 1.0)
                while True:
                    try:
                        fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except OSError:
                        if time.monotonic() >= deadline:
                            raise StoreBusy(f"{self.path} is being upgraded by another process; try again") from None
                        time.sleep(0.02)
            self.close()  # a fresh connection, opened after whoever upgraded before us finished
            conn = self.conn
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0 and self._tables():
                self.migrate()
            self._enable_wal()

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
        """Apply the missing migrations in one transaction; safe when several processes start at once.
        A database the original tool (claude-agent-sync) wrote is upgraded first, in the same transaction."""
        target = SCHEMA_VERSION if target is None else target
        self._begin("BEGIN IMMEDIATE")
        conn = self.conn
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            legacy = None
            found = self._tables() if version == 0 else ()
            if found:  # tables, yet no schema version of ours: the original tool's, or something foreign
                from agent_sync.store import legacy as legacy_schema

                legacy = legacy_schema.recognise(conn, found, self.path)  # raises StoreError when foreign
                legacy = legacy_schema.read_and_drop(conn, legacy)
            for _name, script in MIGRATIONS[version:target]:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            if legacy is not None:
                self.notes.append(legacy_schema.load(conn, legacy, self.path))
            if version < target:
                conn.execute(f"PRAGMA user_version = {int(target)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return target

    def _tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def dump(self, tables: dict[str, tuple[str, ...]]) -> dict[str, list[tuple]]:
        """Every row of `tables` ({table: columns}) as tuples in those columns' order, from one snapshot, in
        primary-key order: for moving the state to another store (`agent-sync migrate`)."""
        with self.read() as tx:
            return {table: [tuple(r) for r in tx.conn.execute(
                        f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(_KEYS.get(table, ('id',)))}")]
                    for table, columns in tables.items()}

    def check(self) -> str | None:
        try:
            rows = [r[0] for r in self.conn.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.Error as exc:
            return explain(self.path, exc)
        if rows == ["ok"]:
            return None
        return (f"{self.path} is damaged (quick_check: {'; '.join(rows[:3])}); move it aside to start afresh, "
                "or try: sqlite3 state.sqlite .recover | sqlite3 recovered.sqlite")

    def change_token(self):
        """Changes once any connection committed a write (another process's, through data_version, or ours)."""
        conn = self.conn
        return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes

    def wait_for_change(self, token, timeout: float, poll: float = 0.1):
        deadline = time.monotonic() + timeout
        while True:
            current = self.change_token()
            if current != token or time.monotonic() >= deadline:
                return current
            time.sleep(min(poll, max(deadline - time.monotonic(), 0)))

    def _begin(self, statement: str, wait: float | None = None) -> None:
        conn = self.conn
        if wait is not None:
            conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            conn.execute(statement)
        except sqlite3.Error as exc:
            if _is_busy(exc):
                waited = self.busy_timeout if wait is None else wait
                raise StoreBusy(
                    f"the database is busy: another process has held its write lock for over "
                    f"{waited:g}s; run the command again (busy_timeout_seconds sets the wait)"
                ) from None
            raise StoreError(explain(self.path, exc)) from None
        finally:
            if wait is not None:
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    def write(self, wait: float | None = None):
        """A serialised write transaction. `BEGIN IMMEDIATE` takes the write lock up front, so a read that
        becomes a write can never deadlock; waits at most `wait` (default: the busy timeout), then raises
        StoreBusy."""
        return _Transaction(self, "BEGIN IMMEDIATE", wait)

    def read(self):
        """A consistent read snapshot; in WAL mode it never waits for writers."""
        return _Transaction(self, "BEGIN", None)


class _Transaction:
    """`with store.write() as tx:` commits on success, rolls back on any exception (a plain class, not
    contextlib: one import less on the hook path)."""

    __slots__ = ("store", "statement", "wait", "tx")

    def __init__(self, store: SQLiteStore, statement: str, wait: float | None):
        self.store, self.statement, self.wait, self.tx = store, statement, wait, None

    def __enter__(self) -> "SQLiteTx":
        self.store._begin(self.statement, self.wait)
        self.tx = SQLiteTx(self.store.conn, self.store.now())
        return self.tx

    def __exit__(self, exc_type, exc, tb) -> bool:
        conn, path = self.store.conn, self.store.path
        if exc_type is None:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise StoreError(explain(path, error)) from None
            return False
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        if isinstance(exc, sqlite3.Error):
            if _is_busy(exc):
                raise StoreBusy(f"{path} is busy; run the command again") from None
            raise StoreError(explain(path, exc)) from None
        return False


class SQLiteTx:
    """The queries of one transaction. `now` is the store's clock, read once when the transaction began."""

    def __init__(self, conn: sqlite3.Connection, now: float):
        self.conn = conn
        self.now = now
        self.cache: dict = {}

    def _all(self, sql: str, params=()) -> list:
        return self.conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params=()):
        return self.conn.execute(sql, params).fetchone()

    def _insert(self, table: str, fields, allowed: frozenset) -> int:
        names, values = _columns(fields, allowed, table)
        marks = ", ".join("?" * len(values))
        return self.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", values).lastrowid

    def _update(self, table: str, key: str, key_value, fields, allowed: frozenset) -> int:
        if not fields:
            return 0
        _columns(fields, allowed, table)
        assignments = ", ".join(f"{name} = ?" for name in fields)
        return self.conn.execute(f"UPDATE {table} SET {assignments} WHERE {key} = ?",
                                 (*fields.values(), key_value)).rowcount

    @staticmethod
    def _marks(values) -> str:
        return ",".join("?" * len(values))

    # -- agents ------------------------------------------------------------------------------------

    def get_agent(self, agent_id: str):
        return self._one("SELECT * FROM agents WHERE id = ?", (agent_id,))

    def agents(self) -> list:
        return self._all("SELECT * FROM agents ORDER BY name, id")

    def insert_agent(self, fields) -> None:
        self._insert("agents", fields, AGENT_COLUMNS)

    def update_agent(self, agent_id: str, **fields) -> bool:
        return self._update("agents", "id", agent_id, fields, AGENT_COLUMNS) > 0

    # -- locks -------------------------------------------------------------------------------------

    def locks(self, *, holder: str | None = None, kind: str | None = None, key: str | None = None) -> list:
        where, params = [], []
        for column, value in (("holder", holder), ("kind", kind), ("key", key)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return self._all(f"SELECT * FROM locks{clause} ORDER BY key, id", params)

    def locks_covering_candidates(self, path: str, ancestors) -> list:
        """Locks that may cover the file `path`: its file lock, directory locks on its ancestors, and globs
        whose static prefix is one of its ancestors (the core matches those globs exactly)."""
        marks = self._marks(ancestors)
        return self._all(
            "SELECT * FROM locks WHERE (kind = 'file' AND key = ?)"
            f" OR (kind = 'dir' AND key IN ({marks})) OR (kind = 'glob' AND base IN ({marks}))",
            (path, *ancestors, *ancestors),
        )

    def put_lock(self, fields) -> None:
        """Insert, or replace the caller's own lock on the same (kind, key)."""
        names, values = _columns(fields, LOCK_COLUMNS, "locks")
        updates = ", ".join(f"{n} = excluded.{n}" for n in fields if n not in ("kind", "key", "holder"))
        self.conn.execute(
            f"INSERT INTO locks ({names}) VALUES ({self._marks(values)})"
            f" ON CONFLICT (kind, key, holder) DO UPDATE SET {updates}",
            values,
        )

    def update_lock(self, lock_id: int, **fields) -> None:
        self._update("locks", "id", lock_id, fields, LOCK_COLUMNS)

    def delete_locks(self, lock_ids) -> None:
        self.conn.executemany("DELETE FROM locks WHERE id = ?", [(i,) for i in lock_ids])

    # -- lock waiters ------------------------------------------------------------------------------

    def add_waiter(self, fields) -> int:
        return self._insert("lock_waiters", fields, WAITER_COLUMNS)

    def waiters(self) -> list:
        return self._all("SELECT * FROM lock_waiters ORDER BY id")

    def update_waiters(self, waiter_ids, **fields) -> None:
        for waiter_id in waiter_ids:
            self._update("lock_waiters", "id", waiter_id, fields, WAITER_COLUMNS)

    def delete_waiters(self, waiter_ids) -> None:
        self.conn.executemany("DELETE FROM lock_waiters WHERE id = ?", [(i,) for i in waiter_ids])

    # -- tasks -------------------------------------------------------------------------------------

    def insert_task(self, fields) -> int:
        return self._insert("tasks", fields, TASK_COLUMNS)

    def get_task(self, task_id: int):
        return self._one("SELECT * FROM tasks WHERE id = ?", (task_id,))

    def tasks_titled(self, title: str) -> list:
        return self._all("SELECT * FROM tasks WHERE title = ? COLLATE NOCASE ORDER BY id", (title,))

    def tasks(self, statuses=None, limit: int | None = None) -> list:
        """Tasks in the order of `statuses` (all tasks when None), higher priority first, then oldest."""
        where, params, order = "", [], ""
        if statuses:
            where = f" WHERE status IN ({self._marks(statuses)})"
            params = list(statuses)
            order = "CASE status " + " ".join(f"WHEN ? THEN {i}" for i in range(len(statuses))) + " END, "
            params += list(statuses)
        sql = f"SELECT * FROM tasks{where} ORDER BY {order}priority DESC, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql, params)

    def update_task(self, task_id: int, **fields) -> None:
        self._update("tasks", "id", task_id, fields, TASK_COLUMNS)

    def task_counts(self) -> dict:
        return {row[0]: row[1] for row in self._all("SELECT status, count(*) FROM tasks GROUP BY status")}

    def add_task_files(self, task_id: int, paths) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO task_files (task_id, path) VALUES (?, ?)", [(task_id, p) for p in paths]
        )

    def task_files(self, task_ids) -> dict[int, list[str]]:
        ids = list(task_ids)
        result: dict[int, list[str]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._all(
                f"SELECT task_id, path FROM task_files WHERE task_id IN ({self._marks(chunk)}) ORDER BY path", chunk
            )
            for row in rows:
                result[row[0]].append(row[1])
        return result

    def add_dependency(self, task_id: int, depends_on: int) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO task_deps (task_id, depends_on) VALUES (?, ?)", (task_id, depends_on)
        )

    def dependency_edges(self) -> list[tuple[int, int, str]]:
        """(task, the task it depends on, that dependency's status) for every dependency."""
        return [(r[0], r[1], r[2]) for r in self._all(
            "SELECT d.task_id, d.depends_on, t.status FROM task_deps d JOIN tasks t ON t.id = d.depends_on"
            " ORDER BY d.task_id, d.depends_on"
        )]

    # -- messages ----------------------------------------------------------------------------------

    def insert_message(self, fields) -> int:
        return self._insert("messages", fields, MESSAGE_COLUMNS)

    def get_message(self, message_id: int):
        return self._one("SELECT * FROM messages WHERE id = ?", (message_id,))

    def replies_to(self, message_ids) -> list:
        ids = list(message_ids)
        return self._all(f"SELECT * FROM messages WHERE reply_to IN ({self._marks(ids)}) ORDER BY id", ids)

    def messages_to(self, agent: str, addresses, *, exclude_sender: str, undelivered: bool = False,
                    unread: bool = False, limit: int = 200) -> list:
        """Messages matching any (kind, recipient, sent no earlier than) address, newest first, each with
        `agent`'s delivery state; messages sent by `exclude_sender` are left out."""
        if not addresses:
            return []
        match = " OR ".join("(m.kind = ? AND m.recipient = ? AND m.created_at >= ?)" for _ in addresses)
        params: list = [agent]
        for address in addresses:
            params += list(address)
        conditions = ""
        if undelivered:
            conditions += " AND d.delivered_at IS NULL"
        if unread:
            conditions += " AND d.read_at IS NULL"
        return self._all(
            "SELECT m.*, d.delivered_at, d.read_at, d.acked_at FROM messages m"
            " LEFT JOIN message_deliveries d ON d.message_id = m.id AND d.agent = ?"
            f" WHERE ({match}) AND m.sender != ?{conditions} ORDER BY m.id DESC LIMIT ?",
            (*params, exclude_sender, limit),
        )

    def mark_messages(self, agent: str, message_ids, column: str) -> None:
        if column not in DELIVERY_COLUMNS:
            raise ValueError(column)
        rows = [(m, agent, self.now) for m in message_ids]
        self.conn.executemany(
            f"INSERT INTO message_deliveries (message_id, agent, {column}) VALUES (?, ?, ?)"
            f" ON CONFLICT (message_id, agent) DO UPDATE SET {column} = coalesce({column}, excluded.{column})",
            rows,
        )

    def recent_messages(self, limit: int, after_id: int = 0) -> list:
        return self._all("SELECT * FROM messages WHERE id > ? ORDER BY id DESC LIMIT ?", (after_id, limit))

    def old_messages(self, before: float) -> list:
        """Messages sent before `before`, each with whether its addressed agent has read it."""
        return self._all(
            "SELECT m.*, d.read_at AS recipient_read_at FROM messages m LEFT JOIN message_deliveries d"
            " ON d.message_id = m.id AND d.agent = m.recipient WHERE m.created_at < ?",
            (before,),
        )

    def delete_messages(self, message_ids) -> int:
        ids = list(message_ids)
        self.conn.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in ids])
        return len(ids)

    # -- decisions and activity --------------------------------------------------------------------

    def insert_decision(self, agent: str, text: str) -> int:
        return self.conn.execute(
            "INSERT INTO decisions (agent, text, created_at) VALUES (?, ?, ?)", (agent, text, self.now)
        ).lastrowid

    def decisions(self, limit: int | None = None) -> list:
        sql = "SELECT * FROM decisions ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql)

    def insert_activity(self, agent: str, type_: str, message: str, file: str | None = None,
                        at: float | None = None, dedup: str | None = None) -> int:
        return self.conn.execute(
            "INSERT OR IGNORE INTO activity (agent, type, message, file, created_at, dedup) VALUES (?, ?, ?, ?, ?, ?)",
            (agent, type_, message, file, self.now if at is None else at, dedup),
        ).lastrowid

    def activity(self, *, since: float | None = None, agents=None, file: str | None = None, after_id: int = 0,
                 limit: int = 50) -> list:
        """Newest first."""
        where, params = ["id > ?"], [after_id]
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        if agents is not None:
            where.append(f"agent IN ({self._marks(agents)})")
            params += list(agents)
        if file is not None:
            where.append("file = ?")
            params.append(file)
        return self._all(f"SELECT * FROM activity WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                         (*params, limit))

    def latest_activity(self) -> dict:
        """Each agent's most recent activity row."""
        rows = self._all("SELECT a.* FROM activity a JOIN (SELECT agent, max(id) AS id FROM activity GROUP BY agent)"
                         " latest ON latest.id = a.id")
        return {row["agent"]: row for row in rows}

    def count_activity(self) -> int:
        return self._one("SELECT count(*) FROM activity")[0]

    def delete_activity_before(self, before: float) -> int:
        return self.conn.execute("DELETE FROM activity WHERE created_at < ?", (before,)).rowcount
