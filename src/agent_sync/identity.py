"""Who is calling: one stable agent id per agent session, the same for its hooks and its shell commands."""

import os

# Environment variables agents export into their shells, and the id prefix each one gets.
SESSION_ENV = (
    ("CLAUDE_CODE_SESSION_ID", "claude"),
    ("CODEX_THREAD_ID", "codex"),
    ("GEMINI_SESSION_ID", "gemini"),
    ("CURSOR_CONVERSATION_ID", "cursor"),
    ("COPILOT_AGENT_SESSION_ID", "copilot"),
)


def _digest(text: str, size: int = 5) -> str:
    try:
        from _blake2 import blake2b  # builtin module: avoids hashlib's OpenSSL load on the hook path
    except ImportError:  # pragma: no cover - other interpreters
        from hashlib import blake2b
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).hexdigest()


MAX_ID = 200


def _checked(value: str, source: str) -> str:
    """An explicit id must be printable UTF-8 text of a sane length: it names the agent everywhere."""
    from agent_sync.errors import UsageError

    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{source} is not valid UTF-8 text; set it to a plain name") from None
    if len(value) > MAX_ID or any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        raise UsageError(f"{source} must be a short name without control characters (at most {MAX_ID} characters)")
    return value


def session_agent_id(session_id: str, client: str = "claude") -> str:
    return f"{client}-{_digest(session_id)}"


LOCAL = "per-repository local id"
# Variables an agent puts into its shell commands' environment without a session id: a command run there
# belongs to the agent whose client process is one of its ancestors.
AGENT_SHELL_MARKERS = (("GEMINI_CLI", "gemini"), ("CURSOR_AGENT", "cursor"), ("CLAUDECODE", "claude"),
                       ("COPILOT_CLI", "copilot"))


def resolve(root: str, session_id: str | None = None, client: str = "claude", environ=None) -> tuple[str, str]:
    """Return (agent id, where it came from)."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("AGENT_SYNC_ID", "").strip()
    if explicit:
        return _checked(explicit, "AGENT_SYNC_ID"), "AGENT_SYNC_ID"
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
