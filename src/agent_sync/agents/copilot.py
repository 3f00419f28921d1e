"""GitHub Copilot CLI: its hook payloads (both styles) and its output contract.

Hooks live in `.github/hooks/*.json`. An event configured by its camelCase name (`preToolUse`) gets camelCase
fields: `sessionId`, `cwd`, `toolName`, `toolArgs` (an object, a JSON-encoded object, or the raw patch text of
`apply_patch`). An event configured by its PascalCase name (`PreToolUse`) gets snake_case fields:
`session_id`, `tool_name` (Claude's names: Write, Edit, Bash) and `tool_input`. Either way the arguments keep
Copilot's own names: `create {path, file_text}`, `edit {path, old_str, new_str}`, `bash {command}`; `path` may
be relative to `cwd`.

A block is `permissionDecision: "deny"` with its reason on exit 0 (the model reads "Denied by preToolUse
hook: REASON"); exit 2 also blocks but hides the reason, and ANY other non-zero exit blocks too, so the hook
never exits non-zero. Context is a top-level `additionalContext` in both styles (SessionStart's arrives as a
user message before the prompt, postToolUse's after the tool's result); agentStop/Stop holds the turn with
`{"decision": "block", "reason": ...}`. Hooks see no session variable; the agent's shell commands see
`COPILOT_AGENT_SESSION_ID`.
"""

from agent_sync.agents import ALLOW, Out, event_key, event_table, json_out, mapping, text
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

NAME = "copilot"
TITLE = "GitHub Copilot CLI"

# Copilot's tool names and the Claude names its PascalCase payloads use for them
FILE_TOOLS = ("create", "edit", "write", "Write", "Edit", "MultiEdit")
PATCH_TOOLS = ("apply_patch",)
SHELL_TOOLS = {"bash": "bash", "Bash": "bash", "powershell": "powershell", "PowerShell": "powershell"}
PATH_KEYS = ("path", "file_path", "filePath")

# (the `agent-sync hook` argument, Copilot's event name, neutral kind, takes context, matcher)
EVENTS = (
    ("sessionStart", "sessionStart", SESSION_START, True, None),
    ("userPromptSubmitted", "userPromptSubmitted", PROMPT, True, None),
    ("preToolUse", "preToolUse", PRE_TOOL, False, None),
    ("postToolUse", "postToolUse", POST_TOOL, True, None),
    ("agentStop", "agentStop", STOP, False, None),
    ("preCompact", "preCompact", BEAT, False, None),
    ("sessionEnd", "sessionEnd", SESSION_END, False, None),
)
# The PascalCase names Copilot also accepts (with snake_case payloads), as in `.claude/settings*.json`, whose
# hooks Copilot runs too
PASCAL_EVENTS = (("UserPromptSubmit", "userPromptSubmitted"), ("PreToolUse", "preToolUse"),
                 ("PostToolUse", "postToolUse"), ("Stop", "agentStop"), ("SessionEnd", "sessionEnd"),
                 ("SessionStart", "sessionStart"), ("PreCompact", "preCompact"), ("SubagentStop", "preCompact"))
_BY_KEY = event_table(EVENTS, PASCAL_EVENTS)


def _arguments(value):
    """toolArgs / tool_input: an object, a JSON-encoded object, or raw text (an apply_patch patch)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("{"):
            import json

            try:
                decoded = json.loads(stripped)
            except ValueError:
                return value
            return decoded if isinstance(decoded, dict) else value
        return value
    return {}


def _is_patch(value: str) -> bool:
    return "*** Begin Patch" in value or any(marker in value for marker in (
        "*** Update File:", "*** Add File:", "*** Delete File:"))


def tool_call(tool, arguments, cwd: str | None) -> ToolCall | None:
    if not isinstance(tool, str):
        return None
    arguments = _arguments(arguments)
    if isinstance(arguments, str):  # freeform apply_patch (PascalCase payloads call it Edit)
        return ToolCall(tool, patch=arguments, base=cwd) if _is_patch(arguments) else None
    if tool in PATCH_TOOLS:
        patch = next((v for v in (arguments.get(k) for k in ("input", "patch", "command")) if text(v)), None)
        return ToolCall(tool, patch=patch, base=cwd)
    if tool in FILE_TOOLS:
        path = next((v for v in (arguments.get(k) for k in PATH_KEYS) if text(v)), None)
        return ToolCall(tool, files=[path] if path else [], base=cwd)
    if tool in SHELL_TOOLS:
        return ToolCall(tool, command=text(arguments.get("command")), shell=SHELL_TOOLS[tool], base=cwd)
    return None


def parse(event: str, payload: dict, environ) -> Event | None:
    found = _BY_KEY.get(event_key(event))
    if found is None:
        return None
    _name, kind, inject = found
    payload = mapping(payload)
    cwd = text(payload.get("cwd")) or text(environ.get("COPILOT_PROJECT_DIR"))
    session = text(payload.get("sessionId")) or text(payload.get("session_id")) \
        or text(environ.get("COPILOT_AGENT_SESSION_ID"))
    tool = None
    if kind in (PRE_TOOL, POST_TOOL):
        tool_name = payload.get("toolName", payload.get("tool_name"))
        arguments = next((payload[k] for k in ("toolArgs", "tool_input", "toolInput", "tool_args") if k in payload),
                         None)
        tool = tool_call(tool_name, arguments, cwd)
    return Event(kind, NAME, session=session, cwd=cwd, tool=tool, can_inject=inject)


def render(event: Event, verdict) -> Out:
    if verdict.deny:  # both spellings of the decision: each style reads its own, and a deny is a deny
        return json_out({"permissionDecision": "deny", "permissionDecisionReason": verdict.deny,
                         "hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                                "permissionDecisionReason": verdict.deny}})
    if verdict.hold:
        return json_out({"decision": "block", "reason": verdict.hold})
    if verdict.context and event.can_inject:  # both payload styles take it at the top level
        return json_out({"additionalContext": verdict.context})
    return ALLOW
