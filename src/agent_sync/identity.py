"""Who is calling: one stable agent id per agent session, the same for its hooks and its shell commands."""

import os

# Environment variables agents export into their shells, and the id prefix each one gets.
SESSION_ENV = (
    ("CLAUDE_CODE_SESSION_ID", "claude"),
    ("CODEX_THREAD_ID", "codex"),
    ("GEMINI_SESSION_ID", "gemini"),
)


def _digest(text: str, size: int = 5) -> str:
    try:
        from _blake2 import blake2b  # builtin module: avoids hashlib's OpenSSL load on the hook path
    except ImportError:  # pragma: no cover - other interpreters
        from hashlib import blake2b
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).hexdigest()


def session_agent_id(session_id: str, client: str = "claude") -> str:
    return f"{client}-{_digest(session_id)}"


LOCAL = "per-repository local id"


def resolve(root: str, session_id: str | None = None, client: str = "claude", environ=None) -> tuple[str, str]:
    """Return (agent id, where it came from)."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("AGENT_SYNC_ID", "").strip()
    if explicit:
        return explicit, "AGENT_SYNC_ID"
    if session_id:
        return session_agent_id(str(session_id), client), f"{client} session id (hook payload)"
    for variable, prefix in SESSION_ENV:
        value = environ.get(variable, "").strip()
        if value:
            return session_agent_id(value, prefix), variable
    user = environ.get("USER") or environ.get("USERNAME") or "user"
    return f"local-{_digest(user + '@' + root, 3)}", LOCAL


def client_of(source: str) -> str:
    """The agent client an id source names (`CODEX_THREAD_ID` -> codex), or ""."""
    return next((prefix for variable, prefix in SESSION_ENV if variable == source), "")
