"""Codex CLI: its hook payloads and its output contract.

Codex copies Claude Code's wire format: `session_id`, `cwd`, `tool_name` and `tool_input` on stdin. Its tools
are `apply_patch` (the patch text in `tool_input.command`) and `Bash` (the shell tool; `cwd` is then the
command's working directory). A patch the model runs as `apply_patch <<'EOF' ... EOF` through the shell
reaches the hook as `Bash`, and the shell guard reads the patch out of the heredoc.

A block is exit 2 with the reason on stderr (the model reads "Command blocked by PreToolUse hook: REASON");
context is `hookSpecificOutput.additionalContext`; Stop holds the turn with `{"decision": "block"}` JSON on
exit 0. Hooks see no session variable: the id is the payload's `session_id`, which the agent's shell commands
see as `CODEX_THREAD_ID`.
"""

from agent_sync.agents import ALLOW, context_events, event_key, event_table, json_out, mapping, text
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

NAME = "codex"
TITLE = "Codex CLI"

PATCH_TOOLS = ("apply_patch", "Edit", "Write")  # Codex names the patch tool apply_patch; Edit, Write are its aliases
SHELL_TOOLS = ("Bash", "exec_command", "shell", "local_shell")
TOOL_MATCHER = "apply_patch|Edit|Write|Bash"

# (the `agent-sync hook` argument, Codex's event name, neutral kind, takes context, matcher)
EVENTS = (
    ("SessionStart", "SessionStart", SESSION_START, True, None),
    ("UserPromptSubmit", "UserPromptSubmit", PROMPT, True, None),
    ("PreToolUse", "PreToolUse", PRE_TOOL, False, TOOL_MATCHER),
    ("PostToolUse", "PostToolUse", POST_TOOL, True, TOOL_MATCHER),
    ("Stop", "Stop", STOP, False, None),
    ("PreCompact", "PreCompact", BEAT, False, None),
    ("SessionEnd", "SessionEnd", SESSION_END, False, None),
)
_BY_KEY = event_table(EVENTS)
_CONTEXT_EVENT = context_events(EVENTS)


def tool_call(tool, tool_input, cwd: str | None) -> ToolCall | None:
    if not isinstance(tool, str):
        return None
    command = text(tool_input) if isinstance(tool_input, str) else text(mapping(tool_input).get("command"))
    if tool in PATCH_TOOLS:
        return ToolCall(tool, patch=command, base=cwd)
    if tool in SHELL_TOOLS:
        return ToolCall(tool, command=command, base=cwd)
    return None


def parse(event: str, payload: dict, environ) -> Event | None:
    found = _BY_KEY.get(event_key(event))
    if found is None:
        return None
    _name, kind, inject = found
    payload = mapping(payload)
    cwd = text(payload.get("cwd"))
    session = text(payload.get("session_id")) or text(environ.get("CODEX_THREAD_ID"))
    tool = tool_call(payload.get("tool_name"), payload.get("tool_input"), cwd) if kind in (PRE_TOOL, POST_TOOL) \
        else None
    return Event(kind, NAME, session=session, cwd=cwd, tool=tool, can_inject=inject)


def render(event: Event, verdict):
    if verdict.deny:
        decision = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                           "permissionDecisionReason": verdict.deny}}
        # exit 2 with the reason on stderr blocks even when a login shell's profile spoils stdout
        return json_out(decision, 2, verdict.deny)
    if verdict.hold:
        return json_out({"decision": "block", "reason": verdict.hold})
    if verdict.context and event.can_inject:
        return json_out({"hookSpecificOutput": {"hookEventName": _CONTEXT_EVENT[event.kind],
                                                "additionalContext": verdict.context}})
    return ALLOW
