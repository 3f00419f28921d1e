"""The Context every core operation takes: the store, the settings, and who is calling from where."""

import os
import time

from agent_sync import identity, paths
from agent_sync.config import Settings, load_settings


class Context:
    """A plain class rather than a dataclass: `dataclasses` costs the hook path ~7 ms of imports."""

    def __init__(self, root: str, settings: Settings, store, me: str, id_source: str = "", client: str = "",
                 session: str = "", cwd: str = "", sleep=time.sleep, tree: str | None = None,
                 client_process: tuple[int, int] | None = None, name: str | None = None, role: str | None = None,
                 branch: str = ""):
        self.root, self.settings, self.store, self.me = root, settings, store, me
        self.tree = tree or root  # the caller's working tree: where its repo-relative paths start
        self.id_source, self.client, self.session, self.cwd = id_source, client, session, cwd
        self.client_process = client_process  # (pid, start) of the agent's client, when a hook knows it
        self.name, self.role, self.branch = name, role, branch  # what the session asked to be called
        self.sleep = sleep  # injectable, so waits run on a controlled clock in tests

    def broadcast_since(self, now: float) -> float:
        return now - self.settings.broadcast_hours * 3600

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_context(*, cwd: str | None = None, session_id: str | None = None, client: str = "",
                 busy_timeout=None, clock=None, environ=None, create: bool = True, root: str | None = None,
                 client_process: tuple[int, int] | None = None, store=None) -> Context:
    """Find the repository, load settings, open the store and resolve the caller's identity.
    `with open_context() as ctx:` closes the store again. `store`: one already open for `root` (a long-running
    front end keeps its store across calls; it then closes the store itself, not the context)."""
    environ = os.environ if environ is None else environ
    cwd = cwd or os.getcwd()
    root = root or paths.find_root(cwd, environ)
    settings = load_settings(root, environ)
    if busy_timeout == "hook":
        busy_timeout = settings.hook_busy_ms / 1000
    if store is None:
        from agent_sync.store import open_store

        store = open_store(root, settings, busy_timeout=busy_timeout, clock=clock, create=create)
    me, source = identity.resolve(root, session_id, client or "claude", environ)
    client = client or identity.client_of(source)  # a CLI call from inside an agent's shell
    if source == identity.LOCAL and client_process is None:
        marker = next((name for variable, name in identity.AGENT_SHELL_MARKERS if environ.get(variable)), None)
        if marker is not None:  # an agent's shell that names no session: its client is an ancestor of ours
            from agent_sync.core import presence

            found = presence.agent_of_ancestors(store)
            if found is not None:
                me, source, client = found["id"], f"the {marker} session this shell belongs to", found["client"]
    tree = paths.worktree_root(cwd, root)
    return Context(root=root, settings=settings, store=store, me=me, id_source=source, client=client,
                   session=session_id or "", cwd=cwd, tree=tree, client_process=client_process,
                   name=environ.get("AGENT_SYNC_NAME"), role=environ.get("AGENT_SYNC_ROLE"),
                   branch=paths.branch_of(tree))
