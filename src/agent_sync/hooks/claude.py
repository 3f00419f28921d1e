"""The Claude Code adapter: translate hook payloads into core calls and core answers into Claude's output contract.

No rule lives here: who blocks what is decided by `core.locks.guard_edit` and `core.guard`.
"""

import json
import os

from agent_sync.errors import StoreBusy

# Tools whose input names a file they write, and the key that holds it.
FILE_TOOLS = {"Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path", "NotebookEdit": "notebook_path"}
SHELL_TOOLS = ("Bash", "PowerShell")


class Out:
    __slots__ = ("code", "stdout", "stderr")

    def __init__(self, code: int = 0, stdout: str = "", stderr: str = ""):
        self.code, self.stdout, self.stderr = code, stdout, stderr


ALLOW = Out()


class NotARepository(Exception):
    """The agent works outside any repository: nothing to coordinate, and no state to create."""


def _context(payload: dict):
    from agent_sync.core.context import open_context
    from agent_sync.paths import known_root

    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    if not cwd or not os.path.isdir(cwd):
        cwd = os.environ.get("CLAUDE_PROJECT_DIR") or os.getcwd()
    root = known_root(cwd)
    if root is None:
        raise NotARepository(cwd)
    session = payload.get("session_id")
    session = session if isinstance(session, str) and session else None
    return open_context(cwd=cwd, session_id=session, client="claude", busy_timeout="hook", root=root)


def _json(obj: dict) -> Out:
    return Out(0, json.dumps(obj, ensure_ascii=False))


def _context_output(event: str, text: str) -> Out:
    return _json({"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}})


def _write(ctx, fn):
    """Run `fn(tx)` in a short write transaction, first applying any spooled writes. Raises StoreBusy."""
    from agent_sync.core.presence import ensure_agent
    from agent_sync.hooks import spool

    names = spool.pending(ctx.root)
    with ctx.store.write() as tx:
        done = spool.replay(tx, ctx.root, names) if names else []
        ensure_agent(tx, ctx)
        result = fn(tx)
    spool.forget(done)
    return result


MESSAGE_CONTEXT_LIMIT = 8000  # Claude Code caps injected text at 10,000 characters
MESSAGE_BODY_LIMIT = 1500


def _messages_text(messages: list[dict], intro: str) -> tuple[str, list[int]]:
    """The framed text of as many messages as fit, oldest first, and the ids of those that made it in."""
    from agent_sync.core.status import frame_kept
    from agent_sync.text import clean

    lines = [intro, "Reply with: agent-sync send --to NAME --reply-to ID --message '...'; "
                    "acknowledge with: agent-sync ack ID"]
    for m in messages:
        urgent = " URGENT" if m["urgent"] else ""
        reply = f" (re #{m['reply_to']})" if m["reply_to"] else ""
        body = clean(m["body"], MESSAGE_BODY_LIMIT, one_line=True)
        more = f" (cut; whole text: agent-sync read-message {m['id']})" if len(m["body"]) > MESSAGE_BODY_LIMIT else ""
        lines.append(f"- #{m['id']}{urgent} from {clean(m['from_name'], 40, one_line=True)}{reply}: {body}{more}")
    text, kept = frame_kept(lines, MESSAGE_CONTEXT_LIMIT, tail="… more messages wait: agent-sync inbox")
    return text, [m["id"] for m in messages[: max(kept - 2, 0)]]


def _push(tx, ctx, intro: str, *, directed_only: bool = False) -> str | None:
    """Inject undelivered messages, marking delivered exactly those the text carries."""
    from agent_sync.core import messages

    pending = messages.undelivered(tx, ctx, directed_only=directed_only)
    if not pending:
        return None
    text, shown = _messages_text(pending, intro)
    messages.mark_delivered(tx, ctx, shown)
    return text


# -- events ----------------------------------------------------------------------------------------------

def session_start(payload: dict) -> Out:
    from agent_sync.core import messages, status

    ctx = _context(payload)

    def work(tx):
        shown: list[int] = []
        brief = status.compact(ctx, tx=tx, shown=shown)
        messages.mark_delivered(tx, ctx, shown)  # the rest are pushed at the next prompt
        return brief

    try:
        brief = _write(ctx, work)
    except StoreBusy:
        with ctx.store.read() as tx:
            brief = status.compact(ctx, tx=tx)
    return _context_output("SessionStart", brief)


def user_prompt_submit(payload: dict) -> Out:
    ctx = _context(payload)
    try:
        text = _write(ctx, lambda tx: _push(tx, ctx, "New messages from other agents:"))
    except StoreBusy:
        return ALLOW
    if text is None:
        return ALLOW
    return _context_output("UserPromptSubmit", text)


def _written_targets(payload: dict, ctx) -> tuple[list, list[tuple[str, str]]]:
    """(targets in the repository the tool would write, repository-wide destructive git commands)."""
    from agent_sync import targets

    tool = payload.get("tool_name")
    tool_input = payload.get("tool_input")
    if not isinstance(tool, str) or not isinstance(tool_input, dict):
        return [], []
    from agent_sync.paths import worktree_root

    def tree_of(value: str, base: str) -> str:
        """The worktree of the repository that holds this path: a lock holds in every worktree."""
        return worktree_root(os.path.dirname(os.path.join(base, value)), ctx.root)

    found, destructive = [], []
    if tool in FILE_TOOLS:
        value = tool_input.get(FILE_TOOLS[tool]) or tool_input.get("file_path")
        if isinstance(value, str):
            try:
                key = targets.relpath_in_repo(value, tree_of(value, ctx.cwd), ctx.cwd)
                found.append(targets.Target("file", key))
            except Exception:
                pass  # outside the repository, or not a path at all: not ours to guard
    elif tool in SHELL_TOOLS:
        command = tool_input.get("command")
        if not isinstance(command, str):
            return [], []
        from agent_sync.core import guard

        base, raw, destructive = guard.shell_effects(command, ctx.cwd, ctx.tree, powershell=(tool == "PowerShell"))
        for value in raw:
            if "$" in value:
                continue  # built at run time (`$HOME/x`, `${TMPDIR}/y`): cannot be known here
            value = os.path.expanduser(value)
            try:  # a shell path may name a directory or a glob: guard the whole set it stands for
                found.append(targets.parse_target(value, tree_of(value, base), base))
            except Exception:
                continue
    return found, destructive


def _deny(reason: str) -> Out:
    """Exit 2 with the reason on stderr (the original contract, honoured by Claude Code, Codex and Gemini),
    and the same decision as Claude's `permissionDecision: "deny"` JSON on stdout."""
    from agent_sync.text import clean

    reason = "agent-sync BLOCKED: " + clean(reason, 2000, one_line=True)
    decision = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                       "permissionDecisionReason": reason}}
    return Out(2, json.dumps(decision, ensure_ascii=False), reason)


def pre_tool_use(payload: dict) -> Out:
    from agent_sync.core import guard

    tool = payload.get("tool_name")
    if tool not in FILE_TOOLS and tool not in SHELL_TOOLS:
        return ALLOW
    ctx = _context(payload)
    found, destructive = _written_targets(payload, ctx)
    if not found and not destructive:
        return ALLOW
    policy = ctx.settings.edit_policy
    try:
        verdict = _write(ctx, lambda tx: guard.check_tool(tx, ctx, found, destructive, policy, write=True))
    except StoreBusy:  # never wait on another process's write: decide from a snapshot, take no lease
        with ctx.store.read() as tx:
            verdict = guard.check_tool(tx, ctx, found, destructive, policy, write=False)
    if verdict is not None:
        return _deny(verdict)
    return ALLOW


def post_tool_use(payload: dict) -> Out:
    tool = payload.get("tool_name")
    tool_input = payload.get("tool_input")
    if tool not in FILE_TOOLS or not isinstance(tool_input, dict):
        return ALLOW
    ctx = _context(payload)
    paths = [t.key for t in _written_targets(payload, ctx)[0]]
    if not paths:
        return ALLOW

    def work(tx):
        for path in paths:
            tx.insert_activity(ctx.me, "edit", f"{tool} {path}", path)

    try:
        _write(ctx, work)
    except StoreBusy:
        from agent_sync.hooks import spool

        for path in paths:
            spool.defer(ctx.root, {"op": "activity", "agent": ctx.me, "type": "edit", "message": f"{tool} {path}",
                                   "file": path, "at": ctx.store.now()})
    return ALLOW


def stop(payload: dict) -> Out:
    """Hold the turn while a message aimed at this agent is undelivered; otherwise end the turn's leases."""
    ctx = _context(payload)
    intro = ("Before you finish: other agents sent messages addressed to you. "
             "Read them and react (reply, adjust your work) before ending the turn.")

    def work(tx):
        text = _push(tx, ctx, intro, directed_only=True)
        if text is None:
            tx.delete_leases_of(ctx.me)
        return text

    try:
        text = _write(ctx, work)
    except StoreBusy:
        from agent_sync.hooks import spool

        spool.defer(ctx.root, {"op": "release_leases", "agent": ctx.me, "at": ctx.store.now()})
        return ALLOW
    if text is None:
        return ALLOW
    return _json({"decision": "block", "reason": text})


def heartbeat(payload: dict) -> Out:
    ctx = _context(payload)
    try:
        _write(ctx, lambda tx: None)
    except StoreBusy:
        pass
    return ALLOW


def session_end(payload: dict) -> Out:
    from agent_sync.core import presence

    ctx = _context(payload)
    try:
        _write(ctx, lambda tx: presence.end_session_in(tx, ctx))
    except StoreBusy:
        from agent_sync.hooks import spool

        spool.defer(ctx.root, {"op": "end_session", "agent": ctx.me, "at": ctx.store.now()})
    return ALLOW


HANDLERS = {
    "session-start": session_start,
    "user-prompt-submit": user_prompt_submit,
    "pre-tool-use": pre_tool_use,
    "post-tool-use": post_tool_use,
    "stop": stop,
    "subagent-stop": heartbeat,
    "pre-compact": heartbeat,
    "session-end": session_end,
}
