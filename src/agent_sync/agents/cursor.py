"""Cursor (the editor's agent and `cursor-agent`): its hook payloads and its output contract.

Cursor sends `conversation_id`, `session_id`, `workspace_roots` and `hook_event_name` with every event.
`preToolUse` carries `tool_name` and `tool_input`: `Write {file_path, content}` (every file edit reaches
hooks as Write), `Delete {file_path}`, `Shell {command, cwd}`; `beforeShellExecution` carries `command` and
`cwd`; `afterFileEdit` carries `file_path`.

A block is `{"permission": "deny", "user_message", "agent_message"}` on exit 0 (the model is shown
`user_message`, so both say the same). Invalid or empty JSON on a permission event counts as a deny, so
every permission event is answered, `{"permission": "allow"}` included. Context is `additional_context`
(sessionStart, beforeSubmitPrompt, postToolUse); stop holds the turn with `followup_message`. Hooks see no
session variable; the agent's shell commands see `CURSOR_CONVERSATION_ID`, the conversation id as Cursor
encodes it for the environment, and the id here is taken the same way.
"""

from agent_sync.agents import Out, event_key, event_table, json_out, mapping, text
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

NAME = "cursor"
TITLE = "Cursor"

FILE_TOOLS = ("Write", "Delete", "Edit", "MultiEdit", "StrReplace", "edit_file", "search_replace", "delete_file")
SHELL_TOOLS = ("Shell", "run_terminal_cmd")
TOOL_MATCHER = "Write|Edit|Delete|Shell"  # a JavaScript RegExp tested against tool_name

# (the `agent-sync hook` argument, Cursor's event name, neutral kind, takes context, matcher)
EVENTS = (
    ("sessionStart", "sessionStart", SESSION_START, True, None),
    ("beforeSubmitPrompt", "beforeSubmitPrompt", PROMPT, True, None),
    ("preToolUse", "preToolUse", PRE_TOOL, False, TOOL_MATCHER),
    ("beforeShellExecution", "beforeShellExecution", PRE_TOOL, False, None),
    ("postToolUse", "postToolUse", POST_TOOL, True, TOOL_MATCHER),
    ("afterFileEdit", "afterFileEdit", POST_TOOL, False, None),
    ("stop", "stop", STOP, False, None),
    ("preCompact", "preCompact", BEAT, False, None),
    ("sessionEnd", "sessionEnd", SESSION_END, False, None),
)
# Claude Code's names, for the hooks of `.claude/settings*.json`, which Cursor runs too
CLAUDE_EVENTS = (("UserPromptSubmit", "beforeSubmitPrompt"), ("SubagentStop", "preCompact"))
_BY_KEY = event_table(EVENTS, CLAUDE_EVENTS)
_PERMISSION_EVENTS = frozenset(("pretooluse", "beforeshellexecution"))

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")


def shell_session_id(conversation_id: str) -> str:
    """The conversation id as Cursor puts it in `CURSOR_CONVERSATION_ID`: `encodeURIComponent`, each `%`
    replaced by `_`, cut at 200 characters (a UUID stays as it is)."""
    out = []
    for ch in conversation_id:
        if ch in _UNRESERVED:
            out.append(ch)
        else:
            out.extend(f"_{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
    return "".join(out)[:200]


class CursorEvent(Event):
    """An Event that remembers whether Cursor asked for a permission (and so must get one back)."""

    __slots__ = ("permission",)


def _workspace(payload: dict) -> str | None:
    roots = payload.get("workspace_roots")
    if isinstance(roots, list):
        for root in roots:
            if text(root):
                return root
    return text(roots) or text(payload.get("workspace_root"))


def tool_call(tool, tool_input, base: str | None) -> ToolCall | None:
    if not isinstance(tool, str):
        return None
    tool_input = mapping(tool_input)
    if tool in FILE_TOOLS:
        path = next((v for v in (tool_input.get(k) for k in ("file_path", "path", "target_file")) if text(v)), None)
        return ToolCall(tool, files=[path] if path else [], base=base)
    if tool in SHELL_TOOLS:
        return ToolCall(tool, command=text(tool_input.get("command")),
                        base=text(tool_input.get("cwd")) or text(tool_input.get("working_directory")) or base)
    return None


def parse(event: str, payload: dict, environ) -> Event | None:
    key = event_key(event)
    found = _BY_KEY.get(key)
    if found is None:
        return None
    name, kind, inject = found
    payload = mapping(payload)
    workspace = _workspace(payload)
    cwd = text(payload.get("cwd"))
    conversation = text(payload.get("conversation_id")) or text(payload.get("session_id"))
    session = shell_session_id(conversation) if conversation else text(environ.get("CURSOR_CONVERSATION_ID"))
    tool = None
    if name == "beforeShellExecution":
        tool = ToolCall("Shell", command=text(payload.get("command")), base=cwd or workspace)
    elif name == "afterFileEdit":
        path = text(payload.get("file_path"))
        tool = ToolCall("Write", files=[path] if path else [], base=workspace or cwd)
    elif name == "preToolUse":
        tool = tool_call(payload.get("tool_name"), payload.get("tool_input"), cwd or workspace)
    # postToolUse only brings messages: afterFileEdit already logs the edit
    result = CursorEvent(kind, NAME, session=session, cwd=workspace or cwd, tool=tool, can_inject=inject)
    result.permission = key in _PERMISSION_EVENTS
    return result


def render(event: Event, verdict) -> Out:
    if getattr(event, "permission", False) or event.kind == PRE_TOOL:
        if verdict.deny:
            return json_out({"permission": "deny", "user_message": verdict.deny, "agent_message": verdict.deny})
        return json_out({"permission": "allow"})
    if verdict.hold:
        return json_out({"followup_message": verdict.hold})
    if verdict.context and event.can_inject:
        return json_out({"additional_context": verdict.context})
    return json_out({})
