"""Writes a hook could not make in time (another process held the database) wait here, one file each,
and are applied by the next hook that gets the write lock. Each is applied once: activity rows carry the
spool file's name as their dedup key, and the file is removed only after its transaction committed."""

import os

from agent_sync import jsonwire
from agent_sync.paths import state_dir


def spool_dir(root: str) -> str:
    return os.path.join(state_dir(root), "spool")


def defer(root: str, op: dict) -> None:
    directory = spool_dir(root)
    os.makedirs(directory, exist_ok=True)
    name = f"{op['at']:.6f}-{os.getpid()}-{os.urandom(4).hex()}.json"
    tmp = os.path.join(directory, "." + name)
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(jsonwire.dumps(op))
    os.replace(tmp, os.path.join(directory, name))


def pending(root: str) -> list[str]:
    try:
        names = os.listdir(spool_dir(root))
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.endswith(".json") and not n.startswith("."))


def replay(tx, root: str, names: list[str]) -> list[str]:
    """Apply spooled writes inside the caller's transaction; return the files to remove after commit."""
    from agent_sync.core.locks import release_leases

    done = []
    for name in names:
        path = os.path.join(spool_dir(root), name)
        try:
            with open(path, encoding="utf-8") as fh:
                op = jsonwire.loads(fh.read())
        except (OSError, ValueError):
            continue
        kind = op.get("op")
        agent = op.get("agent", "")
        if kind == "activity":
            tx.insert_activity(agent, op.get("type", "note"), op.get("message", ""), op.get("file"),
                               at=op.get("at"), dedup=f"spool:{name}")
        elif kind == "end_session":
            row = tx.get_agent(agent)
            if row is not None and row["last_seen"] <= op.get("at", 0):
                tx.update_agent(agent, ended_at=op["at"])
                release_leases(tx, agent, before=op["at"])
        elif kind == "release_leases":
            release_leases(tx, agent, before=op.get("at", 0))
        done.append(path)
    return done


def forget(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
