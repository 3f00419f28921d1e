"""Claude Code: its hook payloads and its output contract.

Claude sends `session_id`, `cwd`, `tool_name` and `tool_input` on stdin; it takes a block as exit 2 with
the reason on stderr (and as `permissionDecision: "deny"` JSON), context as `additionalContext`, and holds
a turn on `{"decision": "block"}` from Stop.
"""

from agent_sync.agents import ALLOW, Out, json_out, text
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
_BY_KEY = {}
for _slug, _name, _kind, _inject, _matcher in EVENTS:
    _BY_KEY[_slug.replace("-", "")] = _BY_KEY[_name.lower()] = (_name, _kind, _inject)


def tool_call(tool, tool_input) -> ToolCall | None:
    if not isinstance(tool, str) or not isinstance(tool_input, dict):
        return None
    if tool in FILE_TOOLS:
        paths = [v for v in (tool_input.get(key) for key in FILE_TOOLS[tool]) if text(v)]
        return ToolCall(tool, files=paths[:1])
    if tool in SHELL_TOOLS:
        return ToolCall(tool, command=text(tool_input.get("command")), shell=SHELL_TOOLS[tool])
    return None


def parse(event: str, payload: dict, environ) -> Event | None:
    found = _BY_KEY.get(event.replace("-", "").replace("_", "").lower())
    if found is None:
        return None
    name, kind, inject = found
    session = text(payload.get("session_id")) or text(environ.get("CLAUDE_CODE_SESSION_ID"))
    tool = tool_call(payload.get("tool_name"), payload.get("tool_input")) if kind in (PRE_TOOL, POST_TOOL) else None
    return Event(kind, NAME, session=session, cwd=text(payload.get("cwd")), tool=tool, can_inject=inject)


_CONTEXT_EVENT = {kind: name for _slug, name, kind, inject, _m in EVENTS if inject}


def render(event: Event, verdict) -> Out:
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
