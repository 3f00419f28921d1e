"""`agent-sync migrate --to postgresql://...`: copy this repository's SQLite state into a PostgreSQL database,
under the repository's project id, and verify the copy.

The SQLite file is read from one snapshot and left as it was; the copy is written in one transaction of the
project (so nobody sees half of it), then read back and compared with the source, row by row and table by
table. A project that already holds state in PostgreSQL is only overwritten with `--replace`.
"""

import hashlib
import json
import os


def _sorted(table: str, rows: list[tuple]) -> list[tuple]:
    from agent_sync.store.postgres import KEYS

    width = len(KEYS.get(table, ("id",)))
    return sorted(rows, key=lambda r: tuple(r[:width]))


def digest(rows: list[tuple]) -> str:
    """A short content digest of rows (numbers as floats, so 1 and 1.0 agree, as they compare)."""
    def norm(v):
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    text = json.dumps([[norm(v) for v in row] for row in rows], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


def copy(source, target, *, replace: bool = False) -> dict:
    """Copy every row of the SQLite store `source` into the PostgreSQL store `target` (its project) and verify.
    Returns {table: {"rows": n, "digest": d}}; raises Conflict for a non-empty project without `replace`,
    StoreError when the copy does not read back the same."""
    from agent_sync.errors import Conflict, StoreError
    from agent_sync.store import postgres

    before = target.counts()
    held = {t: n for t, n in before.items() if n}
    if held and not replace:
        shown = ", ".join(f"{n} {t}" for t, n in held.items())
        raise Conflict(f"project {target.project} already holds state in {target.server} ({shown}); "
                       "pass --replace to overwrite it with this repository's SQLite state")
    data = source.dump(postgres.TABLES)
    target.load(data, replace=replace)
    copied = target.dump()
    report = {}
    for table in postgres.TABLE_ORDER:
        want = _sorted(table, [tuple(postgres._value(v) for v in row) for row in data[table]])
        got = _sorted(table, copied[table])
        if len(want) != len(got):
            raise StoreError(f"the copy of {table} into {target.where} has {len(got)} rows, the SQLite file "
                             f"{len(want)}: the copy is not complete; run agent-sync migrate --replace again")
        if want != got:
            raise StoreError(f"the copy of {table} into {target.where} differs from the SQLite file; run "
                             "agent-sync migrate --replace again")
        report[table] = {"rows": len(got), "digest": digest(got)}
    return report


def migrated_text(result: dict) -> str:
    tables = result["tables"]
    shown = ", ".join(f"{v['rows']} {t}" for t, v in tables.items() if v["rows"]) or "no rows (an empty state)"
    replaced = " (replacing what the project held)" if result["replaced"] else ""
    return (f"copied {result['from']} into {result['to']}{replaced}: {shown}.\n"
            "verified: every table has the same rows and the same content as the SQLite file.\n"
            f"To use it, set database_url and project = \"{result['project']}\" in .agent-sync.toml (or "
            "AGENT_SYNC_DATABASE_URL and AGENT_SYNC_PROJECT) in every clone; the SQLite file is left as it was.")


def cli_migrate(args) -> int:
    from agent_sync import paths
    from agent_sync.config import load_settings
    from agent_sync.errors import NotFound, UsageError
    from agent_sync.store.sqlite import SQLiteStore

    root = paths.find_root()
    settings = load_settings(root)
    url = args.to or settings.database_url
    if not url:
        raise UsageError("give the PostgreSQL database to copy into: agent-sync migrate --to "
                         "postgresql://USER@HOST:PORT/DATABASE (the password belongs in PGPASSFILE)")
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError("--to must be a postgresql:// URL")
    sqlite_path = paths.db_path(root)
    if not os.path.exists(sqlite_path):
        raise NotFound(f"no SQLite state at {sqlite_path} to copy")
    try:
        from agent_sync.store import postgres
    except ImportError:
        from agent_sync.extras import install_hint

        raise UsageError(f"the PostgreSQL store needs psycopg: {install_hint('postgres')}") from None
    project = postgres.check_project(args.project or settings.project,
                                     "--project" if args.project else settings.sources.get("project", ""))
    source = SQLiteStore(sqlite_path, busy_timeout=settings.busy_timeout_seconds, create=False)
    try:
        target = postgres.PostgresStore(url, project, busy_timeout=settings.busy_timeout_seconds,
                                        source="the --to URL" if args.to else
                                        f"database_url from {settings.sources['database_url']}")
        try:
            tables = copy(source, target, replace=args.replace)
            result = {"from": sqlite_path, "to": target.where, "project": project, "replaced": bool(args.replace),
                      "verified": True, "tables": tables}
        finally:
            target.close()
    finally:
        source.close()
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(migrated_text(result))
    return 0
