"""Gemini CLI: its hook payloads and its output contract.

Gemini sends `session_id`, `cwd`, `tool_name` and `tool_input` on stdin, with the model's own arguments:
`write_file` and `replace` carry `file_path` (relative ones are relative to `cwd`), `run_shell_command`
carries `command` and an optional `dir_path` (relative to `cwd`).

A block is `{"decision": "deny", "reason": ...}` on exit 0; the model reads "Tool execution blocked: REASON"
(exit 2 with JSON on stdout does NOT block, so the reason never goes to stderr). AfterAgent holds the turn the
same way: the reason becomes a new user message. Context is `hookSpecificOutput.additionalContext` on
SessionStart, BeforeAgent and AfterTool. Timeouts in its settings are in milliseconds.
"""

import os

from agent_sync.agents import ALLOW, context_events, event_key, event_table, json_out, mapping, text
from agent_sync.core.engine import (
    POST_TOOL,
    PRE_TOOL,
    PROMPT,
    SESSION_END,
    SESSION_START,
    STOP,
    Event,
    ToolCall,
)

NAME = "gemini"
TITLE = "Gemini CLI"

FILE_TOOLS = ("write_file", "replace")
SHELL_TOOLS = ("run_shell_command",)
TOOL_MATCHER = "^(write_file|replace|run_shell_command)$"  # an unanchored JavaScript RegExp otherwise

# (the `agent-sync hook` argument, Gemini's event name, neutral kind, takes context, matcher)
EVENTS = (
    ("SessionStart", "SessionStart", SESSION_START, True, None),
    ("BeforeAgent", "BeforeAgent", PROMPT, True, None),
    ("BeforeTool", "BeforeTool", PRE_TOOL, False, TOOL_MATCHER),
    ("AfterTool", "AfterTool", POST_TOOL, True, TOOL_MATCHER),
    ("AfterAgent", "AfterAgent", STOP, False, None),
    ("SessionEnd", "SessionEnd", SESSION_END, False, None),
)
_BY_KEY = event_table(EVENTS)
_CONTEXT_EVENT = context_events(EVENTS)


def tool_call(tool, tool_input, cwd: str | None) -> ToolCall | None:
    if not isinstance(tool, str):
        return None
    tool_input = mapping(tool_input)
    if tool in FILE_TOOLS:
        path = text(tool_input.get("file_path")) or text(tool_input.get("path"))
        return ToolCall(tool, files=[path] if path else [], base=cwd)
    if tool in SHELL_TOOLS:
        base = cwd
        directory = text(tool_input.get("dir_path")) or text(tool_input.get("directory"))
        if directory:
            base = os.path.join(cwd, directory) if cwd else directory
        return ToolCall(tool, command=text(tool_input.get("command")), base=base,
                        shell="powershell" if os.name == "nt" else "bash")
    return None


def parse(event: str, payload: dict, environ) -> Event | None:
    found = _BY_KEY.get(event_key(event))
    if found is None:
        return None
    _name, kind, inject = found
    payload = mapping(payload)
    cwd = text(payload.get("cwd")) or text(environ.get("GEMINI_CWD"))
    session = text(payload.get("session_id")) or text(environ.get("GEMINI_SESSION_ID"))
    tool = tool_call(payload.get("tool_name"), payload.get("tool_input"), cwd) if kind in (PRE_TOOL, POST_TOOL) \
        else None
    return Event(kind, NAME, session=session, cwd=cwd, tool=tool, can_inject=inject)


def render(event: Event, verdict):
    if verdict.deny:
        return json_out({"decision": "deny", "reason": verdict.deny})
    if verdict.hold:  # AfterAgent: the reason goes to the model as a new message, and the turn goes on
        return json_out({"decision": "deny", "reason": verdict.hold})
    if verdict.context and event.can_inject:
        return json_out({"hookSpecificOutput": {"hookEventName": _CONTEXT_EVENT[event.kind],
                                                "additionalContext": verdict.context}})
    return ALLOW
