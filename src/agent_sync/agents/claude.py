"""Claude Code: its hook payloads and its output contract.

Claude sends `session_id`, `cwd`, `tool_name` and `tool_input` on stdin; it takes a block as exit 2 with
the reason on stderr (and as `permissionDecision: "deny"` JSON), context as `additionalContext`, and holds
a turn on `{"decision": "block"}` from Stop.
"""

from agent_sync.agents import ALLOW, Out, context_events, event_key, event_table, json_out, text
from agent_sync.core.engine import (
    BEAT,
    POST_TOOL,
    PRE_TOOL,
    PROMPT,
    SESSION_END,
    SESSION_START,
    STOP,
    Event,
    ToolCall,
)

NAME = "claude"
TITLE = "Claude Code"

# Tools whose input names a file they write, and the keys that may hold it.
FILE_TOOLS = {"Write": ("file_path",), "Edit": ("file_path",), "MultiEdit": ("file_path",),
              "NotebookEdit": ("notebook_path", "file_path")}
SHELL_TOOLS = {"Bash": "bash", "PowerShell": "powershell"}
TOOL_MATCHER = "|".join([*FILE_TOOLS, *SHELL_TOOLS])

# (the `agent-sync hook` argument, Claude's event name, neutral kind, takes context, matcher)
EVENTS = (
    ("session-start", "SessionStart", SESSION_START, True, None),
    ("user-prompt-submit", "UserPromptSubmit", PROMPT, True, None),
    ("pre-tool-use", "PreToolUse", PRE_TOOL, False, TOOL_MATCHER),
    ("post-tool-use", "PostToolUse", POST_TOOL, True, TOOL_MATCHER),
    ("stop", "Stop", STOP, False, None),
    ("subagent-stop", "SubagentStop", BEAT, False, None),
    ("pre-compact", "PreCompact", BEAT, False, None),
    ("session-end", "SessionEnd", SESSION_END, False, None),
)
_BY_KEY = event_table(EVENTS)


def tool_call(tool, tool_input) -> ToolCall | None:
    if not isinstance(tool, str) or not isinstance(tool_input, dict):
        return None
    if tool in FILE_TOOLS:
        paths = [v for v in (tool_input.get(key) for key in FILE_TOOLS[tool]) if text(v)]
        return ToolCall(tool, files=paths[:1])
    if tool in SHELL_TOOLS:
        return ToolCall(tool, command=text(tool_input.get("command")), shell=SHELL_TOOLS[tool])
    return None


def foreign_client(payload: dict, environ) -> str | None:
    """The agent that really runs a Claude Code hook, when it is not Claude Code: Cursor and Copilot CLI also
    run the hooks of a project's `.claude/settings*.json`. Their hooks must speak for the same agent as the
    hooks installed in their own format, and answer in their format."""
    if not isinstance(payload, dict):
        return None
    session = payload.get("session_id")
    if session and environ.get("CLAUDE_CODE_SESSION_ID") == session:
        return None
    if "cursor_version" in payload or "conversation_id" in payload or "workspace_roots" in payload:
        return "cursor"
    if environ.get("COPILOT_CLI") == "1" and ("timestamp" in payload or "sessionId" in payload):
        return "copilot"
    return None


def parse(event: str, payload: dict, environ) -> Event | None:
    foreign = foreign_client(payload, environ)
    if foreign is not None:
        from agent_sync.agents import load

        return load(foreign).parse(event, payload, environ)
    found = _BY_KEY.get(event_key(event))
    if found is None:
        return None
    name, kind, inject = found
    session = text(payload.get("session_id")) or text(environ.get("CLAUDE_CODE_SESSION_ID"))
    tool = tool_call(payload.get("tool_name"), payload.get("tool_input")) if kind in (PRE_TOOL, POST_TOOL) else None
    return Event(kind, NAME, session=session, cwd=text(payload.get("cwd")), tool=tool, can_inject=inject)


_CONTEXT_EVENT = context_events(EVENTS)


def render(event: Event, verdict) -> Out:
    if event.client != NAME:
        from agent_sync.agents import load

        return load(event.client).render(event, verdict)
    if verdict.deny:
        decision = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                           "permissionDecisionReason": verdict.deny}}
        return json_out(decision, 2, verdict.deny)
    if verdict.hold:
        return json_out({"decision": "block", "reason": verdict.hold})
    if verdict.context and event.can_inject:
        return json_out({"hookSpecificOutput": {"hookEventName": _CONTEXT_EVENT[event.kind],
                                                "additionalContext": verdict.context}})
    return ALLOW
