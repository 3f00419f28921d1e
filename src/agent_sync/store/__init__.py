"""Stores behind one narrow interface.

A store hands out transactions: `store.write()` (serialised, `BEGIN IMMEDIATE` on SQLite) and `store.read()`
(a consistent snapshot). The transaction object carries the handful of queries the core needs; all SQL lives
in the store modules, so a second backend only has to implement the same methods. `store.now()` is the one
clock of the store: domain code never reads the wall clock itself.
"""


def open_store(root: str, settings, *, busy_timeout: float | None = None, clock=None, create: bool = True):
    """Open the store configured for this repository (the embedded SQLite store for now)."""
    if getattr(settings, "database_url", ""):
        from agent_sync.errors import UsageError

        raise UsageError("database_url is set, but only the embedded SQLite store is available in this version; "
                         "unset it (agent-sync config shows where it comes from)")
    from agent_sync.paths import db_path, ensure_state_dir
    from agent_sync.store.sqlite import SQLiteStore

    if create:
        try:
            ensure_state_dir(root)
        except OSError as exc:
            from agent_sync.errors import StoreError

            where = exc.filename or root
            raise StoreError(f"cannot create the state directory {where} ({exc.strerror or exc}); "
                             "make the repository writable, or point AGENT_SYNC_ROOT elsewhere") from None
    timeout = settings.busy_timeout_seconds if busy_timeout is None else busy_timeout
    return SQLiteStore(db_path(root), busy_timeout=timeout, clock=clock, create=create)
