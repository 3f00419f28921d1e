"""The narrow exceptions the core raises; front ends turn them into one line and an exit code."""


class AgentSyncError(Exception):
    """A known failure the user can act on. Exit code 1 unless a subclass says otherwise."""

    exit_code = 1


class UsageError(AgentSyncError):
    """Bad input: a malformed target, a negative TTL, an empty title."""


class NotFound(AgentSyncError):
    """An id, title, agent or lock that does not exist."""


class Conflict(AgentSyncError):
    """Another live agent holds what the caller wants. Exit code 2, as in the seed."""

    exit_code = 2


class StoreError(AgentSyncError):
    """The database cannot be used: corrupt, read-only, too new. Names the file and the fix."""


class StoreBusy(AgentSyncError):
    """A write could not get the database lock within its short budget (hooks skip or defer)."""
