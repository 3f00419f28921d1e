"""Stores behind one narrow interface: the embedded SQLite file (`store.sqlite`), or a PostgreSQL server that many
clones share (`store.postgres`, when `database_url` is set).

A store hands out transactions: `store.write()` (serialised, `BEGIN IMMEDIATE` on SQLite) and `store.read()`
(a consistent snapshot). The transaction object carries the handful of queries the core needs; all SQL lives
in the store modules, so a second backend only has to implement the same methods. `store.now()` is the one
clock of the store: domain code never reads the wall clock itself.
"""


def open_store(root: str, settings, *, busy_timeout: float | None = None, clock=None, create: bool = True):
    """Open the store configured for this repository: the PostgreSQL server `database_url` names, else the
    embedded SQLite file. `busy_timeout` given (the hooks give theirs): a hook, which must not wait long for
    an unreachable server either."""
    from agent_sync.paths import ensure_state_dir

    timeout = settings.busy_timeout_seconds if busy_timeout is None else busy_timeout
    url = getattr(settings, "database_url", "")
    if url:
        return _open_postgres(root, settings, url, timeout, clock, create, hook=busy_timeout is not None)
    from agent_sync.paths import db_path
    from agent_sync.store.sqlite import SQLiteStore

    if create:
        try:
            ensure_state_dir(root)
        except OSError as exc:
            from agent_sync.errors import StoreError

            where = exc.filename or root
            raise StoreError(f"cannot create the state directory {where} ({exc.strerror or exc}); "
                             "make the repository writable, or point AGENT_SYNC_ROOT elsewhere") from None
    return SQLiteStore(db_path(root), busy_timeout=timeout, clock=clock, create=create)


def _open_postgres(root: str, settings, url: str, timeout: float, clock, create: bool, *, hook: bool):
    from agent_sync.errors import StoreError

    source = settings.sources.get("database_url", "database_url")
    if not url.startswith(("postgresql://", "postgres://")):
        raise StoreError(f"database_url ({source}) must be a postgresql:// URL, or empty for the embedded SQLite "
                         "store")
    try:
        from agent_sync.store import postgres
    except ImportError:
        from agent_sync.extras import install_hint

        raise StoreError("database_url selects the PostgreSQL store, which needs psycopg: "
                         f"{install_hint('postgres')}") from None
    project = postgres.check_project(getattr(settings, "project", ""), settings.sources.get("project", ""))
    if create:
        from agent_sync.paths import ensure_state_dir

        try:  # this clone's own files (the hook spool, error logs) still live in the repository
            ensure_state_dir(root)
        except OSError:
            pass
    connect = postgres.HOOK_CONNECT_SECONDS if hook else postgres.CONNECT_SECONDS
    return postgres.PostgresStore(url, project, busy_timeout=timeout, clock=clock, create=create,
                                  connect_timeout=connect, source=f"database_url from {source}")
