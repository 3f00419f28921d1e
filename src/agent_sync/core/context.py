"""The Context every core operation takes: the store, the settings, and who is calling."""

import os
import time

from agent_sync import identity, paths
from agent_sync.config import Settings, load_settings


class Context:
    """A plain class rather than a dataclass: `dataclasses` costs the hook path ~7 ms of imports."""

    def __init__(self, root: str, settings: Settings, store, me: str, id_source: str = "", client: str = "",
                 session: str = "", cwd: str = "", sleep=time.sleep, tree: str | None = None):
        self.root, self.settings, self.store, self.me = root, settings, store, me
        self.tree = tree or root  # the caller's working tree: where its repo-relative paths start
        self.id_source, self.client, self.session, self.cwd = id_source, client, session, cwd
        self.sleep = sleep  # injectable, so waits run on a controlled clock in tests

    def live_cutoff(self, now: float) -> float:
        """Agents seen after this instant are active: their locks hold and their tasks are theirs."""
        return now - self.settings.stale_minutes * 60

    def broadcast_since(self, now: float) -> float:
        return now - self.settings.broadcast_hours * 3600


def open_context(*, cwd: str | None = None, session_id: str | None = None, client: str = "",
                 busy_timeout: float | None = None, clock=None, environ=None, create: bool = True,
                 root: str | None = None) -> Context:
    """Find the repository, load settings, open the store and resolve the caller's identity."""
    from agent_sync.store import open_store

    cwd = cwd or os.getcwd()
    root = root or paths.find_root(cwd)
    settings = load_settings(root, environ)
    if busy_timeout == "hook":
        busy_timeout = settings.hook_busy_ms / 1000
    store = open_store(root, settings, busy_timeout=busy_timeout, clock=clock, create=create)
    me, source = identity.resolve(root, session_id, client or "claude", environ)
    return Context(root=root, settings=settings, store=store, me=me, id_source=source, client=client,
                   session=session_id or "", cwd=cwd, tree=paths.worktree_root(cwd, root))
