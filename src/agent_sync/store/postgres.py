"""The PostgreSQL store: one database serves many repositories and every clone of each, on any machine.

Every SQL statement of the PostgreSQL store lives in this module. It implements `store.contract` with the same
semantics as `store.sqlite` and states no coordination rule of its own. Imported only when `database_url`
selects it, because psycopg costs a process a third of a second to import.

* **Projects.** Every table lives in the schema `agent_sync` and every row carries its project: the id every
  clone of a repository agrees on (`project` in the committed `.agent-sync.toml`). Ids (of tasks, messages,
  locks, ...) count per project, as they do in each repository's SQLite file.
* **Serialised writes.** A write transaction takes a transaction-scoped advisory lock of its project first
  (waiting at most the busy timeout), so "check, then act" is safe across every machine; then it reads the
  server's clock once (`clock_timestamp()`, after the lock, so later writers never carry earlier times).
  Every statement of a write sees what committed before the lock was granted (READ COMMITTED).
* **Reads** are REPEATABLE READ, READ ONLY snapshots: they never wait for a writer.
* **One clock.** `tx.now` and `store.now()` are the server's clock; a client's own clock is never read (an
  injected `clock` replaces the server's, for tests, as it replaces the wall clock in the SQLite store).
* **Live updates.** A committed write that changed something sends a NOTIFY on its project's channel;
  `wait_for_change` waits for one (LISTEN) instead of polling.
* **Failures** are one line naming the host and the database, never the password: `StoreError` when the
  server cannot be used, `StoreBusy` when the project's write lock is not free in time.
"""

import os
from _thread import get_ident

import psycopg
from psycopg.rows import dict_row

from agent_sync.errors import StoreBusy, StoreError

SCHEMA = "agent_sync"  # every table of ours lives in this schema of the database
MAX_PROJECT = 200
MIGRATION_LOCK = 0x6167656E7473796E  # "agentsyn": the advisory lock that serialises schema upgrades
HOOK_CONNECT_SECONDS = 1.0  # a hook gives up on an unreachable server after this long, and fails open
CONNECT_SECONDS = 10.0  # any other command

# Append-only: each entry upgrades the schema of the whole database by one version, in the same steps as the
# SQLite store's migrations (schema version N has the same tables and columns on both stores).
MIGRATIONS: list[tuple[str, str]] = [
    (
        "initial schema",
        """
        CREATE TABLE agent_sync.agents (
            project TEXT NOT NULL,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT '',
            client TEXT NOT NULL DEFAULT '',
            session TEXT NOT NULL DEFAULT '',
            cwd TEXT NOT NULL DEFAULT '',
            current_task BIGINT,
            created_at DOUBLE PRECISION NOT NULL,
            last_seen DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION,
            PRIMARY KEY (project, id)
        );
        CREATE INDEX agents_name ON agent_sync.agents (project, name);
        CREATE TABLE agent_sync.locks (
            project TEXT NOT NULL,
            id BIGINT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            base TEXT NOT NULL,
            holder TEXT NOT NULL,
            mode TEXT NOT NULL DEFAULT 'exclusive',
            reason TEXT NOT NULL DEFAULT '',
            lease INTEGER NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (project, id),
            UNIQUE (project, kind, key, holder)
        );
        CREATE INDEX locks_key ON agent_sync.locks (project, key);
        CREATE INDEX locks_base ON agent_sync.locks (project, base);
        CREATE INDEX locks_holder ON agent_sync.locks (project, holder);
        CREATE TABLE agent_sync.lock_waiters (
            project TEXT NOT NULL,
            id BIGINT NOT NULL,
            agent TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            mode TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (project, id)
        );
        CREATE TABLE agent_sync.tasks (
            project TEXT NOT NULL,
            id BIGINT NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'open',
            priority INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            created_by TEXT NOT NULL DEFAULT '',
            blocked_reason TEXT NOT NULL DEFAULT '',
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (project, id)
        );
        CREATE INDEX tasks_status ON agent_sync.tasks (project, status, priority);
        CREATE TABLE agent_sync.task_files (
            project TEXT NOT NULL,
            task_id BIGINT NOT NULL,
            path TEXT NOT NULL,
            PRIMARY KEY (project, task_id, path),
            FOREIGN KEY (project, task_id) REFERENCES agent_sync.tasks (project, id) ON DELETE CASCADE
        );
        CREATE TABLE agent_sync.task_deps (
            project TEXT NOT NULL,
            task_id BIGINT NOT NULL,
            depends_on BIGINT NOT NULL,
            PRIMARY KEY (project, task_id, depends_on),
            FOREIGN KEY (project, task_id) REFERENCES agent_sync.tasks (project, id) ON DELETE CASCADE,
            FOREIGN KEY (project, depends_on) REFERENCES agent_sync.tasks (project, id) ON DELETE CASCADE
        );
        CREATE INDEX task_deps_on ON agent_sync.task_deps (project, depends_on);
        CREATE TABLE agent_sync.messages (
            project TEXT NOT NULL,
            id BIGINT NOT NULL,
            sender TEXT NOT NULL,
            kind TEXT NOT NULL,
            recipient TEXT NOT NULL,
            body TEXT NOT NULL,
            reply_to BIGINT,
            urgent INTEGER NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (project, id)
        );
        CREATE INDEX messages_recipient ON agent_sync.messages (project, kind, recipient);
        CREATE INDEX messages_reply ON agent_sync.messages (project, reply_to);
        CREATE TABLE agent_sync.message_deliveries (
            project TEXT NOT NULL,
            message_id BIGINT NOT NULL,
            agent TEXT NOT NULL,
            delivered_at DOUBLE PRECISION,
            read_at DOUBLE PRECISION,
            acked_at DOUBLE PRECISION,
            PRIMARY KEY (project, message_id, agent),
            FOREIGN KEY (project, message_id) REFERENCES agent_sync.messages (project, id) ON DELETE CASCADE
        );
        CREATE TABLE agent_sync.decisions (
            project TEXT NOT NULL,
            id BIGINT NOT NULL,
            agent TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (project, id)
        );
        CREATE TABLE agent_sync.activity (
            project TEXT NOT NULL,
            id BIGINT NOT NULL,
            agent TEXT NOT NULL,
            type TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            file TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            dedup TEXT,
            PRIMARY KEY (project, id),
            UNIQUE (project, dedup)
        );
        CREATE INDEX activity_time ON agent_sync.activity (project, created_at);
        CREATE INDEX activity_file ON agent_sync.activity (project, file);
        """,
    ),
    (
        "client process, worktree and branch of an agent; the task a lock was taken for",
        """
        ALTER TABLE agent_sync.agents ADD COLUMN host TEXT NOT NULL DEFAULT '';
        ALTER TABLE agent_sync.agents ADD COLUMN pid BIGINT;
        ALTER TABLE agent_sync.agents ADD COLUMN pid_start BIGINT;
        ALTER TABLE agent_sync.agents ADD COLUMN worktree TEXT NOT NULL DEFAULT '';
        ALTER TABLE agent_sync.agents ADD COLUMN branch TEXT NOT NULL DEFAULT '';
        ALTER TABLE agent_sync.locks ADD COLUMN task_id BIGINT;
        CREATE INDEX activity_agent ON agent_sync.activity (project, agent, id);
        """,
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)

# The columns of each table at SCHEMA_VERSION, as the core sees them (the project column stays inside).
TABLES: dict[str, tuple[str, ...]] = {
    "agents": ("id", "name", "role", "client", "session", "cwd", "current_task", "created_at", "last_seen",
               "ended_at", "host", "pid", "pid_start", "worktree", "branch"),
    "locks": ("id", "kind", "key", "base", "holder", "mode", "reason", "lease", "created_at", "expires_at",
              "task_id"),
    "lock_waiters": ("id", "agent", "kind", "key", "mode", "created_at", "expires_at"),
    "tasks": ("id", "title", "description", "status", "priority", "owner", "created_by", "blocked_reason",
              "created_at", "updated_at"),
    "task_files": ("task_id", "path"),
    "task_deps": ("task_id", "depends_on"),
    "messages": ("id", "sender", "kind", "recipient", "body", "reply_to", "urgent", "created_at"),
    "message_deliveries": ("message_id", "agent", "delivered_at", "read_at", "acked_at"),
    "decisions": ("id", "agent", "text", "created_at"),
    "activity": ("id", "agent", "type", "message", "file", "created_at", "dedup"),
}
# Parents before children (for copying in); the reverse order deletes.
TABLE_ORDER = ("agents", "tasks", "task_files", "task_deps", "locks", "lock_waiters", "messages",
               "message_deliveries", "decisions", "activity")
KEYS: dict[str, tuple[str, ...]] = {"task_files": ("task_id", "path"), "task_deps": ("task_id", "depends_on"),
                                    "message_deliveries": ("message_id", "agent")}

AGENT_COLUMNS = frozenset(TABLES["agents"])
LOCK_COLUMNS = frozenset(TABLES["locks"]) - {"id"}
WAITER_COLUMNS = frozenset(TABLES["lock_waiters"]) - {"id"}
TASK_COLUMNS = frozenset(TABLES["tasks"]) - {"id"}
MESSAGE_COLUMNS = frozenset(TABLES["messages"]) - {"id"}
DELIVERY_COLUMNS = ("delivered_at", "read_at", "acked_at")

_ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NOCASE = f"translate({{}}, '{_ASCII_UPPER}', '{_ASCII_UPPER.lower()}')"  # SQLite's NOCASE folds ASCII only
_NOW = "extract(epoch FROM clock_timestamp())::float8 AS now"


def _cols(table: str, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + c for c in TABLES[table])


def _key64(text: str) -> int:
    from hashlib import blake2b

    return int.from_bytes(blake2b(text.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


def channel_of(project: str) -> str:
    """The NOTIFY channel of a project: an identifier that needs no quoting, whatever the project id holds."""
    from hashlib import blake2b

    return "agent_sync_" + blake2b(project.encode("utf-8"), digest_size=8).hexdigest()


def _value(value):
    """A value as PostgreSQL takes it: integers for booleans (SQLite's columns), and no NUL in text (PostgreSQL
    text cannot hold one; SQLite's can)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _columns(fields, allowed: frozenset, what: str) -> tuple[list[str], list]:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not {what} columns: {sorted(unknown)}")
    return list(fields), [_value(v) for v in fields.values()]


# -- the target: where the database is, said without the password --------------------------------------------

def check_project(project: str, source: str = "") -> str:
    """The project id, or StoreError saying how to set one."""
    project = (project or "").strip()
    if not project:
        raise StoreError("the PostgreSQL store needs a project id that every clone of this repository agrees "
                         "on: add project = \"NAME\" to the committed .agent-sync.toml (or set AGENT_SYNC_PROJECT)")
    if len(project) > MAX_PROJECT or any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in project):
        where = f" ({source})" if source else ""
        raise StoreError(f"the project id{where} must be at most {MAX_PROJECT} characters without control "
                         "characters")
    return project


def describe(url: str) -> tuple[str, str, str]:
    """(host with port, database, password) named by a URL, the environment (PGHOST, ...) filling the gaps.
    Raises StoreError for a URL libpq cannot read (its own message would quote the password)."""
    from psycopg.conninfo import conninfo_to_dict

    unreadable = StoreError("database_url is not a PostgreSQL URL libpq can read as meant; expected "
                            "postgresql://USER@HOST:PORT/DATABASE, with @ / : in a password percent-encoded "
                            "(better: the password in PGPASSFILE)")
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        raise unreadable from None  # libpq's message quotes the whole URL, password and all
    host = str(params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    # A password with an unencoded / or @ makes libpq read part of it as the port, host or database: naming
    # those would show it. A port that is no number, or an @ where none belongs, means exactly that.
    if not port.replace(",", "").isdigit() or any("@" in str(params.get(k) or "") for k in ("host", "dbname", "user")):
        raise unreadable
    user = str(params.get("user") or os.environ.get("PGUSER") or "")
    if not user:
        import getpass

        try:
            user = getpass.getuser()
        except Exception:
            user = ""
    database = str(params.get("dbname") or os.environ.get("PGDATABASE") or user or "postgres")
    place = f"socket {host}" if host.startswith("/") else f"{host}:{port}"
    return place, database, str(params.get("password") or os.environ.get("PGPASSWORD") or "")


def _reason(exc: BaseException, password: str) -> str:
    """libpq's reason for a failed connection, in one line, without the password."""
    text = " ".join(str(exc).split())
    for marker in ("failed: FATAL: ", "failed: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
            break
    text = text.removeprefix("FATAL: ").split(" Is the server running")[0]
    if password and password in text:
        text = text.replace(password, "***")
    return text[:300]


def _advice(reason: str) -> str:
    low = reason.lower()
    if "password" in low or "authentication" in low:
        return "give the password in a password file (PGPASSFILE, default ~/.pgpass) or PGPASSWORD"
    if "database" in low and "does not exist" in low:
        return "create the database (createdb) or fix the database in database_url"
    if "role" in low and "does not exist" in low:
        return "fix the user in database_url"
    if "translate host name" in low or "name or service not known" in low:
        return "check the host name in database_url"
    if "refused" in low:
        return "start the server, or fix the host and port in database_url"
    return "check that the server runs there and that this machine can reach it"


class PostgresStore:
    """One connection per thread (the console's workers may share the store object), autocommit, with the
    transactions spelled out: BEGIN ... COMMIT in as few round trips as the statements allow."""

    kind = "postgresql"

    def __init__(self, url: str, project: str, *, busy_timeout: float = 10.0, clock=None, create: bool = True,
                 connect_timeout: float = CONNECT_SECONDS, source: str = "database_url"):
        self.url, self.source = url, source
        self.project = check_project(project)
        self.place, self.database, self._password = describe(url)
        self.server = f"PostgreSQL {self.place}/{self.database}"
        self.where = f"{self.server}, project {self.project}"
        self.busy_timeout, self.connect_timeout = busy_timeout, connect_timeout
        self._clock = clock
        self._key = _key64("agent-sync project\0" + self.project)
        self.channel = channel_of(self.project)
        self.notes: list[str] = []
        self._conns: dict[int, psycopg.Connection] = {}
        self._listening: dict[int, int] = {}  # thread -> notifications counted on its connection
        self._commits: dict[int, int] = {}  # thread -> its own committed writes
        self._generation = 0  # counts reconnections: a token from an older connection never matches
        try:
            self._prepare(create)
        except BaseException:
            self.close()
            raise

    # -- connections ---------------------------------------------------------------------------------

    def _connect(self) -> "psycopg.Connection":
        """A new connection, within `connect_timeout` whatever libpq does (it waits at least 2 s, per
        address): the attempt runs in a daemon thread, abandoned (and closed, should it ever succeed) when
        the deadline passes."""
        import threading

        deadline = self.connect_timeout
        outcome: dict = {}
        done = threading.Event()
        lock = threading.Lock()

        extra = {}
        if deadline < 2:  # a hook: a network that goes silent later must not hold it for minutes either
            extra = {"keepalives": 1, "keepalives_idle": 1, "keepalives_interval": 1, "keepalives_count": 2,
                     "tcp_user_timeout": 3000}

        def attempt():
            try:
                conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                       connect_timeout=max(2, int(deadline + 0.999)),
                                       fallback_application_name="agent-sync", **extra)
            except BaseException as exc:  # noqa: B036 - reported to the waiting thread
                outcome["error"] = exc
                done.set()
                return
            with lock:
                if outcome.get("abandoned"):
                    conn.close()
                else:
                    outcome["conn"] = conn
            done.set()

        threading.Thread(target=attempt, name="agent-sync-connect", daemon=True).start()
        done.wait(deadline)
        with lock:
            conn = outcome.get("conn")
            if conn is None and "error" not in outcome:
                outcome["abandoned"] = True
        if conn is not None:
            return conn
        error = outcome.get("error")
        if error is None or isinstance(error, psycopg.errors.ConnectionTimeout):
            raise StoreError(f"cannot reach {self.server}: no answer within {deadline:g}s; check that the "
                             f"server runs there and that this machine can reach it ({self.source})") from None
        if not isinstance(error, psycopg.Error):
            raise error
        reason = _reason(error, self._password)
        raise StoreError(f"cannot connect to {self.server}: {reason}; {_advice(reason)} ({self.source})") from None

    @property
    def conn(self) -> "psycopg.Connection":
        ident = get_ident()
        conn = self._conns.get(ident)
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                self._forget(ident)
                self._generation += 1
            conn = self._conns[ident] = self._connect()
        return conn

    def _forget(self, ident: int) -> None:
        conn = self._conns.pop(ident, None)
        self._listening.pop(ident, None)
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def close(self) -> None:
        for ident in list(self._conns):
            self._forget(ident)

    def _lost(self, exc: BaseException) -> StoreError:
        """The error for a connection that failed under a statement; the next use reconnects."""
        self._forget(get_ident())
        reason = _reason(exc, self._password)
        return StoreError(f"lost the connection to {self.server}: {reason}; run the command again")

    def _error(self, exc: "psycopg.Error") -> Exception:
        """A psycopg error as the contract's one-line StoreError (or StoreBusy)."""
        conn = self._conns.get(get_ident())
        if isinstance(exc, psycopg.OperationalError) and (conn is None or conn.broken or conn.closed):
            return self._lost(exc)
        if isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
            return self._busy()
        diag = getattr(exc, "diag", None)
        primary = (diag.message_primary if diag is not None else None) or str(exc)
        primary = " ".join(primary.split())
        if self._password and self._password in primary:
            primary = primary.replace(self._password, "***")
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return StoreError(f"{self.server}: {primary}; the user of database_url needs CREATE on the database "
                              "(once, for the schema) and rights on the agent_sync schema")
        return StoreError(f"{self.server}: {type(exc).__name__}: {primary[:300]}")

    def _busy(self, waited: float | None = None) -> StoreBusy:
        waited = self.busy_timeout if waited is None else waited
        return StoreBusy(f"the database is busy: another process has held the write lock of project {self.project} "
                         f"on {self.server} for over {waited:g}s; run the command again (busy_timeout_seconds sets "
                         "the wait)")

    def _run(self, sql: str, params=None):
        """One statement (or several, without parameters) outside a transaction object; psycopg errors become
        StoreError."""
        conn = self.conn
        try:
            return conn.execute(sql, params)
        except psycopg.Error as exc:
            if conn.info.transaction_status != 0 and not conn.broken:
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    pass
            raise self._error(exc) from None

    # -- schema --------------------------------------------------------------------------------------

    def _version(self) -> int:
        conn = self.conn
        try:
            row = conn.execute(f"SELECT max(version) AS v FROM {SCHEMA}.schema_migrations").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
        except psycopg.Error as exc:
            raise self._error(exc) from None
        return int(row["v"] or 0)

    def _prepare(self, create: bool) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.server} has agent-sync schema version {version}, newer than this agent-sync "
                             f"knows ({SCHEMA_VERSION}); upgrade agent-sync")
        if version == SCHEMA_VERSION:
            return
        if not create and version == 0:
            raise StoreError(f"no agent-sync schema in {self.server}")
        self.migrate()

    def migrate(self, target: int | None = None) -> int:
        """Apply the missing migrations in one transaction, under the database's migration lock: safe when
        many processes (of any project) start on an empty database at once."""
        target = SCHEMA_VERSION if target is None else target
        conn = self.conn
        wait = max(int(self.busy_timeout * 1000), 1)
        try:
            conn.execute(f"BEGIN; SET LOCAL lock_timeout = '{wait}ms'; SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            if conn.execute(f"SELECT to_regnamespace('{SCHEMA}') AS s").fetchone()["s"] is None:
                conn.execute(f"CREATE SCHEMA {SCHEMA}")  # needs CREATE on the database, once
            conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations (version INTEGER PRIMARY KEY,"
                         " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            row = conn.execute(f"SELECT coalesce(max(version), 0) AS v FROM {SCHEMA}.schema_migrations").fetchone()
            version = int(row["v"])
            for number, (name, script) in enumerate(MIGRATIONS[version:target], version + 1):
                conn.execute(script)
                conn.execute(f"INSERT INTO {SCHEMA}.schema_migrations (version, name) VALUES (%s, %s)",
                             (number, name))
            conn.execute("COMMIT")
        except psycopg.Error as exc:
            if not conn.broken:
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    pass
            raise self._error(exc) from None
        return max(target, version)

    def schema_version(self) -> int:
        return self._version()

    def check(self) -> str | None:
        """None when the server answers and every table of the schema is there."""
        try:
            version = self._version()
            names = ", ".join(f"to_regclass('{SCHEMA}.{t}') AS {t}" for t in TABLES)
            row = self._run(f"SELECT {names}").fetchone()
        except StoreError as exc:
            return str(exc)
        missing = [t for t in TABLES if row[t] is None]
        if missing:
            return (f"{self.server} lacks the agent-sync tables {', '.join(missing)} (schema version {version}); "
                    "someone dropped them: restore the database from a backup")
        return None

    # -- clock and changes ----------------------------------------------------------------------------

    def now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return self._run(f"SELECT {_NOW}").fetchone()["now"]

    def _listen(self, ident: int) -> None:
        if ident not in self._listening:
            self._run(f"LISTEN {self.channel}")
            self._listening[ident] = 0

    def _drain(self, conn, timeout: float, stop_after: int | None = None) -> None:
        """Count the notifications that arrived (waiting up to `timeout` for `stop_after` of them); our own
        commits count already."""
        ident, own = get_ident(), conn.info.backend_pid
        try:
            for notice in conn.notifies(timeout=timeout, stop_after=stop_after):
                if notice.pid != own:
                    self._listening[ident] = self._listening.get(ident, 0) + 1
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def change_token(self):
        """Changes once a write of this project committed (another process's, through its NOTIFY, or ours)."""
        conn = self.conn
        ident = get_ident()
        self._listen(ident)
        self._drain(conn, 0)
        return self._generation, self._listening.get(ident, 0), self._commits.get(ident, 0)

    def wait_for_change(self, token, timeout: float):
        current = self.change_token()
        if current != token:
            return current
        self._drain(self.conn, max(timeout, 0), stop_after=1)
        return self.change_token()

    # -- moving state in (agent-sync migrate) --------------------------------------------------------

    def dump(self, tables: dict[str, tuple[str, ...]] | None = None) -> dict[str, list[tuple]]:
        """Every row of the project, {table: [tuples in TABLES order]}, from one snapshot, in key order."""
        tables = TABLES if tables is None else tables
        with self.read() as tx:
            out = {}
            for table, columns in tables.items():
                order = ", ".join(f'{k} COLLATE "C"' if k in ("path", "agent") else k for k in KEYS.get(table, ("id",)))
                rows = tx._all(f"SELECT {', '.join(columns)} FROM {SCHEMA}.{table} WHERE project = %s ORDER BY {order}",
                               (self.project,))
                out[table] = [tuple(r[c] for c in columns) for r in rows]
            return out

    def counts(self) -> dict[str, int]:
        """How many rows the project has in each table."""
        union = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {SCHEMA}.{t} WHERE project = %(p)s"
                                   for t in TABLE_ORDER)
        with self.read() as tx:
            return {r["t"]: r["n"] for r in tx._all(union, {"p": self.project})}

    def load(self, data: dict[str, list[tuple]], *, replace: bool = False) -> None:
        """Write `data` ({table: rows in TABLES order}) as the project's whole state, in one write transaction;
        with `replace`, whatever the project held goes first."""
        with self.write() as tx:
            tx.dirty = True
            if replace:
                for table in reversed(TABLE_ORDER):
                    tx.conn.execute(f"DELETE FROM {SCHEMA}.{table} WHERE project = %s", (self.project,))
            for table in TABLE_ORDER:
                rows = data.get(table) or []
                if not rows:
                    continue
                columns = TABLES[table]
                marks = ", ".join(["%s"] * (len(columns) + 1))
                with tx.conn.cursor() as cur:
                    cur.executemany(f"INSERT INTO {SCHEMA}.{table} (project, {', '.join(columns)}) VALUES ({marks})",
                                    [(self.project, *(_value(v) for v in row)) for row in rows])

    # -- transactions ---------------------------------------------------------------------------------

    def write(self, wait: float | None = None):
        """A serialised write transaction: the project's advisory lock first, waiting at most `wait` seconds
        (default: the busy timeout), then StoreBusy."""
        return _Transaction(self, True, self.busy_timeout if wait is None else wait)

    def read(self):
        """A consistent snapshot that never waits."""
        return _Transaction(self, False, 0)


class _Transaction:
    """`with store.write() as tx:` commits on success (with a NOTIFY when it changed something), rolls back
    on any exception."""

    __slots__ = ("store", "writing", "wait", "tx", "conn")

    def __init__(self, store: PostgresStore, writing: bool, wait: float):
        self.store, self.writing, self.wait, self.tx, self.conn = store, writing, wait, None, None

    def _begin(self, conn) -> float | None:
        clock = self.store._clock
        now = "" if clock is not None else f"; SELECT {_NOW}"
        if not self.writing:
            cur = conn.execute(f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY{now}")
        elif self.wait <= 0:
            cur = conn.execute(f"BEGIN; SELECT pg_try_advisory_xact_lock({self.store._key}) AS got")
            while cur.nextset():
                pass
            if not cur.fetchone()["got"]:
                conn.execute("ROLLBACK")
                raise self.store._busy(0)
            if clock is None:
                cur = conn.execute(f"SELECT {_NOW}")
        else:
            ms = max(int(self.wait * 1000), 1)
            cur = conn.execute(f"BEGIN; SET LOCAL lock_timeout = '{ms}ms'; "
                               f"SELECT pg_advisory_xact_lock({self.store._key}){now}")
        if clock is not None:
            return clock()
        while cur.nextset():
            pass
        return cur.fetchone()["now"]

    def __enter__(self) -> "PostgresTx":
        store = self.store
        conn = self.conn = store.conn
        try:
            now = self._begin(conn)
        except psycopg.Error as exc:
            if not conn.broken:
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    pass
            if isinstance(exc, psycopg.errors.LockNotAvailable):
                raise store._busy(self.wait) from None
            raise store._error(exc) from None
        self.tx = PostgresTx(conn, now, store.project)
        return self.tx

    def __exit__(self, exc_type, exc, tb) -> bool:
        conn, store = self.conn, self.store
        if exc_type is None:
            try:
                if self.tx.dirty:
                    conn.execute(f"SELECT pg_notify('{store.channel}', ''); COMMIT")
                    ident = get_ident()
                    store._commits[ident] = store._commits.get(ident, 0) + 1
                else:
                    conn.execute("COMMIT")
            except psycopg.Error as error:
                if not conn.broken:
                    try:
                        conn.execute("ROLLBACK")
                    except psycopg.Error:
                        pass
                raise store._error(error) from None
            return False
        if not conn.broken:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                pass
        if isinstance(exc, psycopg.Error):
            raise store._error(exc) from None
        return False


class PostgresTx:
    """The queries of one transaction, all within its project. `now` is the server's clock, read once when
    the transaction began (after the project's write lock, for a write)."""

    def __init__(self, conn, now: float, project: str):
        self.conn, self.now, self.project = conn, now, project
        self.cache: dict = {}
        self.dirty = False

    def _all(self, sql: str, params=()) -> list:
        return self.conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params=()):
        return self.conn.execute(sql, params).fetchone()

    def _change(self, sql: str, params=()) -> int:
        self.dirty = True
        return self.conn.execute(sql, params).rowcount

    def _next_id(self, table: str) -> str:
        """The next id of the project's rows in `table`, as in a SQLite table: one more than the largest.
        Safe: every write holds the project's lock."""
        return f"(SELECT coalesce(max(id), 0) + 1 FROM {SCHEMA}.{table} WHERE project = %s)"

    def _insert(self, table: str, fields, allowed: frozenset) -> int:
        names, values = _columns(fields, allowed, table)
        marks = ", ".join(["%s"] * len(values))
        self.dirty = True
        row = self._one(f"INSERT INTO {SCHEMA}.{table} (project, id, {', '.join(names)})"
                        f" VALUES (%s, {self._next_id(table)}, {marks}) RETURNING id",
                        (self.project, self.project, *values))
        return row["id"]

    def _update(self, table: str, key: str, key_value, fields, allowed: frozenset) -> int:
        if not fields:
            return 0
        names, values = _columns(fields, allowed, table)
        assignments = ", ".join(f"{name} = %s" for name in names)
        return self._change(f"UPDATE {SCHEMA}.{table} SET {assignments} WHERE project = %s AND {key} = %s",
                            (*values, self.project, _value(key_value)))

    # -- agents ------------------------------------------------------------------------------------

    def get_agent(self, agent_id: str):
        return self._one(f"SELECT {_cols('agents')} FROM {SCHEMA}.agents WHERE project = %s AND id = %s",
                         (self.project, _value(agent_id)))

    def agents(self) -> list:
        return self._all(f"SELECT {_cols('agents')} FROM {SCHEMA}.agents WHERE project = %s"
                         ' ORDER BY name COLLATE "C", id COLLATE "C"', (self.project,))

    def insert_agent(self, fields) -> None:
        names, values = _columns(fields, AGENT_COLUMNS, "agents")
        self._change(f"INSERT INTO {SCHEMA}.agents (project, {', '.join(names)})"
                     f" VALUES (%s, {', '.join(['%s'] * len(values))})", (self.project, *values))

    def update_agent(self, agent_id: str, **fields) -> bool:
        return self._update("agents", "id", agent_id, fields, AGENT_COLUMNS) > 0

    # -- locks -------------------------------------------------------------------------------------

    def locks(self, *, holder: str | None = None, kind: str | None = None, key: str | None = None) -> list:
        where, params = ["project = %s"], [self.project]
        for column, value in (("holder", holder), ("kind", kind), ("key", key)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(_value(value))
        return self._all(f"SELECT {_cols('locks')} FROM {SCHEMA}.locks WHERE {' AND '.join(where)}"
                         ' ORDER BY key COLLATE "C", id', params)

    def locks_covering_candidates(self, path: str, ancestors) -> list:
        """Locks that may cover the file `path`: its file lock, directory locks on its ancestors, and globs
        whose static prefix is one of its ancestors (the core matches those globs exactly)."""
        ancestors = [_value(a) for a in ancestors]
        return self._all(
            f"SELECT {_cols('locks')} FROM {SCHEMA}.locks WHERE project = %s AND ((kind = 'file' AND key = %s)"
            " OR (kind = 'dir' AND key = ANY(%s)) OR (kind = 'glob' AND base = ANY(%s)))",
            (self.project, _value(path), ancestors, ancestors),
        )

    def put_lock(self, fields) -> None:
        """Insert, or replace the caller's own lock on the same (kind, key)."""
        names, values = _columns(fields, LOCK_COLUMNS, "locks")
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in ("kind", "key", "holder"))
        conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        self._change(
            f"INSERT INTO {SCHEMA}.locks (project, id, {', '.join(names)})"
            f" VALUES (%s, {self._next_id('locks')}, {', '.join(['%s'] * len(values))})"
            f" ON CONFLICT (project, kind, key, holder) {conflict}",
            (self.project, self.project, *values),
        )

    def update_lock(self, lock_id: int, **fields) -> None:
        self._update("locks", "id", lock_id, fields, LOCK_COLUMNS)

    def delete_locks(self, lock_ids) -> None:
        ids = list(lock_ids)
        if ids:
            self._change(f"DELETE FROM {SCHEMA}.locks WHERE project = %s AND id = ANY(%s)", (self.project, ids))

    # -- lock waiters ------------------------------------------------------------------------------

    def add_waiter(self, fields) -> int:
        return self._insert("lock_waiters", fields, WAITER_COLUMNS)

    def waiters(self) -> list:
        return self._all(f"SELECT {_cols('lock_waiters')} FROM {SCHEMA}.lock_waiters WHERE project = %s ORDER BY id",
                         (self.project,))

    def update_waiters(self, waiter_ids, **fields) -> None:
        ids = list(waiter_ids)
        if not ids or not fields:
            return
        names, values = _columns(fields, WAITER_COLUMNS, "lock_waiters")
        assignments = ", ".join(f"{name} = %s" for name in names)
        self._change(f"UPDATE {SCHEMA}.lock_waiters SET {assignments} WHERE project = %s AND id = ANY(%s)",
                     (*values, self.project, ids))

    def delete_waiters(self, waiter_ids) -> None:
        ids = list(waiter_ids)
        if ids:
            self._change(f"DELETE FROM {SCHEMA}.lock_waiters WHERE project = %s AND id = ANY(%s)",
                         (self.project, ids))

    # -- tasks -------------------------------------------------------------------------------------

    def insert_task(self, fields) -> int:
        return self._insert("tasks", fields, TASK_COLUMNS)

    def get_task(self, task_id: int):
        return self._one(f"SELECT {_cols('tasks')} FROM {SCHEMA}.tasks WHERE project = %s AND id = %s",
                         (self.project, task_id))

    def tasks_titled(self, title: str) -> list:
        return self._all(f"SELECT {_cols('tasks')} FROM {SCHEMA}.tasks WHERE project = %s"
                         f" AND {_NOCASE.format('title')} = {_NOCASE.format('%s')} ORDER BY id",
                         (self.project, _value(title)))

    def tasks(self, statuses=None, limit: int | None = None) -> list:
        """Tasks in the order of `statuses` (all tasks when None), higher priority first, then oldest."""
        where, params, order = "", [self.project], ""
        if statuses:
            statuses = [_value(s) for s in statuses]
            where = " AND status = ANY(%s)"
            params.append(statuses)
            order = "array_position(%s::text[], status), "
            params.append(statuses)
        sql = f"SELECT {_cols('tasks')} FROM {SCHEMA}.tasks WHERE project = %s{where} ORDER BY {order}priority DESC, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql, params)

    def update_task(self, task_id: int, **fields) -> None:
        self._update("tasks", "id", task_id, fields, TASK_COLUMNS)

    def task_counts(self) -> dict:
        rows = self._all(f"SELECT status, count(*) AS n FROM {SCHEMA}.tasks WHERE project = %s GROUP BY status",
                         (self.project,))
        return {row["status"]: row["n"] for row in rows}

    def add_task_files(self, task_id: int, paths) -> None:
        paths = [_value(p) for p in paths]
        if paths:
            self._change(f"INSERT INTO {SCHEMA}.task_files (project, task_id, path)"
                         " SELECT %s, %s, p FROM unnest(%s::text[]) AS p ON CONFLICT DO NOTHING",
                         (self.project, task_id, paths))

    def task_files(self, task_ids) -> dict[int, list[str]]:
        ids = list(task_ids)
        result: dict[int, list[str]] = {i: [] for i in ids}
        if ids:
            rows = self._all(f"SELECT task_id, path FROM {SCHEMA}.task_files WHERE project = %s"
                             ' AND task_id = ANY(%s) ORDER BY path COLLATE "C"', (self.project, ids))
            for row in rows:
                result[row["task_id"]].append(row["path"])
        return result

    def add_dependency(self, task_id: int, depends_on: int) -> None:
        self._change(f"INSERT INTO {SCHEMA}.task_deps (project, task_id, depends_on) VALUES (%s, %s, %s)"
                     " ON CONFLICT DO NOTHING", (self.project, task_id, depends_on))

    def dependency_edges(self) -> list[tuple[int, int, str]]:
        """(task, the task it depends on, that dependency's status) for every dependency."""
        return [(r["task_id"], r["depends_on"], r["status"]) for r in self._all(
            f"SELECT d.task_id, d.depends_on, t.status FROM {SCHEMA}.task_deps d JOIN {SCHEMA}.tasks t"
            " ON t.project = d.project AND t.id = d.depends_on WHERE d.project = %s ORDER BY d.task_id, d.depends_on",
            (self.project,),
        )]

    # -- messages ----------------------------------------------------------------------------------

    def insert_message(self, fields) -> int:
        return self._insert("messages", fields, MESSAGE_COLUMNS)

    def get_message(self, message_id: int):
        return self._one(f"SELECT {_cols('messages')} FROM {SCHEMA}.messages WHERE project = %s AND id = %s",
                         (self.project, message_id))

    def replies_to(self, message_ids) -> list:
        return self._all(f"SELECT {_cols('messages')} FROM {SCHEMA}.messages WHERE project = %s"
                         " AND reply_to = ANY(%s) ORDER BY id", (self.project, list(message_ids)))

    def messages_to(self, agent: str, addresses, *, exclude_sender: str, undelivered: bool = False,
                    unread: bool = False, limit: int = 200) -> list:
        """Messages matching any (kind, recipient, sent no earlier than) address, newest first, each with
        `agent`'s delivery state; messages sent by `exclude_sender` are left out."""
        if not addresses:
            return []
        match = " OR ".join("(m.kind = %s AND m.recipient = %s AND m.created_at >= %s)" for _ in addresses)
        params: list = [_value(agent), self.project]
        for kind, recipient, since in addresses:
            params += [_value(kind), _value(recipient), since]
        conditions = ""
        if undelivered:
            conditions += " AND d.delivered_at IS NULL"
        if unread:
            conditions += " AND d.read_at IS NULL"
        return self._all(
            f"SELECT {_cols('messages', 'm')}, d.delivered_at, d.read_at, d.acked_at FROM {SCHEMA}.messages m"
            f" LEFT JOIN {SCHEMA}.message_deliveries d ON d.project = m.project AND d.message_id = m.id"
            f" AND d.agent = %s WHERE m.project = %s AND ({match}) AND m.sender != %s{conditions}"
            " ORDER BY m.id DESC LIMIT %s",
            (*params, _value(exclude_sender), limit),
        )

    def mark_messages(self, agent: str, message_ids, column: str) -> None:
        if column not in DELIVERY_COLUMNS:
            raise ValueError(column)
        ids = list(message_ids)
        if not ids:
            return
        self._change(
            f"INSERT INTO {SCHEMA}.message_deliveries AS d (project, message_id, agent, {column})"
            " SELECT %s, m, %s, %s FROM unnest(%s::bigint[]) AS m"
            f" ON CONFLICT (project, message_id, agent) DO UPDATE SET {column} = coalesce(d.{column}, excluded.{column})",
            (self.project, _value(agent), self.now, ids),
        )

    def recent_messages(self, limit: int, after_id: int = 0) -> list:
        return self._all(f"SELECT {_cols('messages')} FROM {SCHEMA}.messages WHERE project = %s AND id > %s"
                         " ORDER BY id DESC LIMIT %s", (self.project, after_id, limit))

    def old_messages(self, before: float) -> list:
        """Messages sent before `before`, each with whether its addressed agent has read it."""
        return self._all(
            f"SELECT {_cols('messages', 'm')}, d.read_at AS recipient_read_at FROM {SCHEMA}.messages m"
            f" LEFT JOIN {SCHEMA}.message_deliveries d ON d.project = m.project AND d.message_id = m.id"
            " AND d.agent = m.recipient WHERE m.project = %s AND m.created_at < %s ORDER BY m.id",
            (self.project, before),
        )

    def delete_messages(self, message_ids) -> int:
        ids = list(message_ids)
        if ids:
            self._change(f"DELETE FROM {SCHEMA}.messages WHERE project = %s AND id = ANY(%s)", (self.project, ids))
        return len(ids)

    # -- decisions and activity --------------------------------------------------------------------

    def insert_decision(self, agent: str, text: str) -> int:
        return self._insert("decisions", {"agent": agent, "text": text, "created_at": self.now},
                            frozenset(("agent", "text", "created_at")))

    def decisions(self, limit: int | None = None) -> list:
        sql = f"SELECT {_cols('decisions')} FROM {SCHEMA}.decisions WHERE project = %s ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql, (self.project,))

    def insert_activity(self, agent: str, type_: str, message: str, file: str | None = None,
                        at: float | None = None, dedup: str | None = None) -> int:
        """A log entry; one whose `dedup` key is already there is skipped (0 is returned then)."""
        self.dirty = True
        row = self._one(
            f"INSERT INTO {SCHEMA}.activity (project, id, agent, type, message, file, created_at, dedup)"
            f" VALUES (%s, {self._next_id('activity')}, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (project, dedup) DO NOTHING RETURNING id",
            (self.project, self.project, _value(agent), _value(type_), _value(message), _value(file),
             self.now if at is None else at, _value(dedup)),
        )
        return row["id"] if row is not None else 0

    def activity(self, *, since: float | None = None, agents=None, file: str | None = None, after_id: int = 0,
                 limit: int = 50) -> list:
        """Newest first."""
        where, params = ["project = %s", "id > %s"], [self.project, after_id]
        if since is not None:
            where.append("created_at >= %s")
            params.append(since)
        if agents is not None:
            where.append("agent = ANY(%s)")
            params.append([_value(a) for a in agents])
        if file is not None:
            where.append("file = %s")
            params.append(_value(file))
        return self._all(f"SELECT {_cols('activity')} FROM {SCHEMA}.activity WHERE {' AND '.join(where)}"
                         " ORDER BY id DESC LIMIT %s", (*params, limit))

    def latest_activity(self) -> dict:
        """Each agent's most recent activity row."""
        rows = self._all(f"SELECT DISTINCT ON (agent) {_cols('activity')} FROM {SCHEMA}.activity"
                         " WHERE project = %s ORDER BY agent, id DESC", (self.project,))
        return {row["agent"]: row for row in rows}

    def count_activity(self) -> int:
        return self._one(f"SELECT count(*) AS n FROM {SCHEMA}.activity WHERE project = %s", (self.project,))["n"]

    def delete_activity_before(self, before: float) -> int:
        return self._change(f"DELETE FROM {SCHEMA}.activity WHERE project = %s AND created_at < %s",
                            (self.project, before))
