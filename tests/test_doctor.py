"""`agent-sync doctor` finds what would leave agents unguarded: a damaged or foreign database, hooks that failed."""

import json
import sqlite3
import time

import pytest

from helpers import Cli


@pytest.fixture
def cli(tmp_path):
    cli = Cli(tmp_path)
    cli.ok("install")
    return cli


def doctor(cli: Cli) -> dict:
    result = cli("doctor", "--json")
    data = json.loads(result.out)
    assert result.code == (0 if data["ok"] else 1), result
    return {check["name"]: check for check in data["checks"]}


def test_a_healthy_installation_passes(cli):
    cli.ok("lock", "src/app.py", agent="a")
    checks = doctor(cli)
    assert checks["database"]["status"] == "ok" and "intact" in checks["database"]["detail"]
    assert checks["hook errors"]["status"] == "ok"


@pytest.mark.sqlite_only
def test_a_damaged_database_that_still_opens_fails_the_check(cli):
    cli.ok("log", "a first entry", agent="a")
    conn = sqlite3.connect(cli.db)
    for _ in range(300):
        conn.execute("INSERT INTO activity (agent, type, message, created_at) VALUES ('a', 'note', ?, 0)",
                     ("y" * 300,))
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(cli.db.read_bytes())
    page = 4096
    for offset in range(page * 3, len(data) - page, page * 2):  # scribble over table pages, not the header
        data[offset + 100: offset + 400] = b"\xff" * 300
    cli.db.write_bytes(bytes(data))
    checks = doctor(cli)
    assert checks["database"]["status"] == "FAIL", checks["database"]
    assert "damaged" in checks["database"]["detail"] or "not a usable" in checks["database"]["detail"]


@pytest.mark.sqlite_only
def test_a_foreign_database_fails_the_check(cli):
    cli.db.parent.mkdir(parents=True, exist_ok=True)
    if cli.db.exists():
        cli.db.unlink()
    conn = sqlite3.connect(cli.db)
    conn.execute("CREATE TABLE bookmarks (url TEXT)")
    conn.commit()
    conn.close()
    checks = doctor(cli)
    assert checks["database"]["status"] == "FAIL"
    assert "does not know (bookmarks)" in checks["database"]["detail"]


def test_recent_hook_errors_are_reported_and_old_ones_are_not(cli):
    cli.ok("init", agent="a")
    log = cli.db.parent / "hook-errors.log"
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 86400))
    log.write_text(f"{old} pre-tool-use: StoreError: something long ago\n")
    assert doctor(cli)["hook errors"]["status"] == "info"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with log.open("a") as fh:
        fh.write(f"{now} pre-tool-use: RuntimeError: the shell guard broke \x1b[31mred\x1b[0m\n")
    check = doctor(cli)["hook errors"]
    assert check["status"] == "FAIL"
    assert "1 in the last 24 h" in check["detail"] and "the shell guard broke" in check["detail"]
    assert "\x1b" not in check["detail"]
