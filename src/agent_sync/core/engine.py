"""The agent-neutral hook engine: a neutral event comes in, a neutral verdict goes out.

An adapter (`agent_sync.agents.NAME`) turns one agent's hook payload into an `Event` and the `Verdict` back
into that agent's output; everything in between is decided here, once for every agent:

* which repository files a tool call writes (file tools, shell commands through the shell guard, patches);
* whether another agent's locks or presence forbid it (`core.guard`), taking the turn's edit lease;
* never waiting on another process: when the database is busy a decision comes from a snapshot, and the
  writes that matter are spooled (`core.spool`) and applied exactly once by a later hook;
* pushing messages into the agent's context, holding its turn for messages aimed at it, and telling it what
  it lost (a lock broken or taken over, a lock that lapsed);
* failing open on our own faults, and telling the agent, once per session, when its edits are unguarded.

Standard library and core only: this runs in a fresh process for every tool call of every agent.
"""

import os

SESSION_START, PROMPT, PRE_TOOL, POST_TOOL, STOP, SESSION_END, BEAT = (
    "session-start", "prompt", "pre-tool", "post-tool", "stop", "session-end", "beat")

MESSAGE_CONTEXT_LIMIT = 8000  # Claude Code caps injected text at 10,000 characters; others are similar
MESSAGE_BODY_LIMIT = 1500
DENY_PREFIX = "agent-sync BLOCKED: "


class ToolCall:
    """What a tool is about to do, in neutral terms. `files`: paths it writes, as the agent gave them
    (relative ones to `base`); `command`: a shell command (`shell` is "bash" or "powershell"), run in
    `base`; `patch`: a Codex-style patch whose files it writes."""

    __slots__ = ("name", "files", "command", "shell", "patch", "base")

    def __init__(self, name: str, *, files=(), command: str | None = None, shell: str = "bash",
                 patch: str | None = None, base: str | None = None):
        self.name, self.files, self.command, self.shell = name, list(files), command, shell
        self.patch, self.base = patch, base

    @property
    def writes_files(self) -> bool:
        return bool(self.files or self.patch)


class Event:
    """One hook call. `can_inject`: the agent takes text into the model's context for this event."""

    __slots__ = ("kind", "client", "session", "cwd", "tool", "can_inject")

    def __init__(self, kind: str, client: str, *, session: str | None = None, cwd: str | None = None,
                 tool: ToolCall | None = None, can_inject: bool = False):
        self.kind, self.client, self.session, self.cwd = kind, client, session, cwd
        self.tool, self.can_inject = tool, can_inject


class Verdict:
    """`deny`: the reason a tool call may not run; `context`: text for the model's context; `hold`: the reason
    the turn must go on (a message waits)."""

    __slots__ = ("deny", "context", "hold")

    def __init__(self, deny: str | None = None, context: str | None = None, hold: str | None = None):
        self.deny, self.context, self.hold = deny, context, hold


ALLOW = Verdict()


class NotARepository(Exception):
    """The agent works outside any repository: nothing to coordinate, and no state to create."""


def log_failure(where: str, exc, root: str | None = None) -> None:
    """One line in the hook error log, which `agent-sync doctor` reports."""
    try:
        from agent_sync.paths import known_root, state_dir

        root = root or known_root(os.getcwd())
        if root is None:
            return
        directory = state_dir(root)
        if os.path.isdir(directory):
            import time

            text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            with open(os.path.join(directory, "hook-errors.log"), "a", encoding="utf-8") as fh:
                fh.write(f"{stamp} {where}: {' '.join(text.split())}\n")
    except Exception:
        pass


# -- the context of one hook call -------------------------------------------------------------------------

def _cwd(event: Event, environ) -> str:
    cwd = event.cwd if isinstance(event.cwd, str) and event.cwd else None
    if cwd and os.path.isdir(cwd):
        return cwd
    for variable in ("CLAUDE_PROJECT_DIR", "GEMINI_PROJECT_DIR", "CURSOR_PROJECT_DIR"):
        value = environ.get(variable)
        if value and os.path.isdir(value):
            return value
    return os.getcwd()


def _open(event: Event, cwd: str, root: str, environ):
    from agent_sync import process
    from agent_sync.core.context import open_context

    return open_context(cwd=cwd, session_id=event.session or None, client=event.client, busy_timeout="hook",
                        root=root, environ=environ, client_process=process.client())


def handle(event: Event, environ=None, *, close: bool = True) -> Verdict:
    """Decide one hook call. Raises NotARepository outside any repository; fails open on our own faults,
    telling the agent once per session when that leaves its edits unguarded. `close=False` leaves the store
    open for a process that is about to exit anyway."""
    from agent_sync.errors import AgentSyncError, StoreBusy
    from agent_sync.paths import known_root

    environ = os.environ if environ is None else environ
    cwd = _cwd(event, environ)
    root = known_root(cwd, environ)
    if root is None:
        raise NotARepository(cwd)
    if event.kind == PRE_TOOL and (event.tool is None or not (event.tool.writes_files or event.tool.command)):
        return ALLOW  # a tool that writes nothing: no database needed
    try:
        ctx = _open(event, cwd, root, environ)
    except StoreBusy as exc:  # the first open must upgrade the schema, and another process holds the lock
        return _unguarded(event, root, f"the database was busy while it had to be prepared ({exc})", environ)
    except AgentSyncError as exc:  # a database or setting we cannot use
        log_failure(event.kind, exc, root)
        return _unguarded(event, root, str(exc), environ)
    verdict = _HANDLERS[event.kind](ctx, event)
    notes = getattr(ctx.store, "notes", None)
    if notes and event.can_inject:
        verdict = _with_context(verdict, "agent-sync: " + "; ".join(notes))
    if close:
        ctx.close()
    return verdict


def failed_open(event: Event, exc: BaseException, environ=None) -> Verdict:
    """What to answer after our own error: let the call go on, and tell the agent (once per session,
    where its context can take it) that its edits are unguarded, as for a database we cannot use."""
    from agent_sync.paths import known_root

    environ = os.environ if environ is None else environ
    root = known_root(_cwd(event, environ), environ)
    if root is None:
        return ALLOW
    return _unguarded(event, root, f"an internal error ({type(exc).__name__}: {exc})", environ)


def _unguarded(event: Event, root: str, why: str, environ) -> Verdict:
    """Tell the agent once per session, where its context can take it, that agent-sync cannot guard it."""
    if not event.can_inject:
        return ALLOW
    from agent_sync.identity import _digest

    key = _digest(f"{root}\0{event.client}\0{event.session or ''}", 8)
    marker = os.path.join(environ.get("TMPDIR") or "/tmp", f"agent-sync-unguarded-{key}")
    if os.path.exists(marker):
        return ALLOW
    try:
        with open(marker, "w", encoding="utf-8") as fh:
            fh.write(why + "\n")
    except OSError:
        pass  # cannot remember that it was said: say it again next time rather than never
    from agent_sync.text import clean

    text = (f"agent-sync cannot guard this session: {clean(why, 600, one_line=True)}. Edits are UNGUARDED: other "
            "agents' locks are not enforced and yours are not recorded. Tell the user; `agent-sync doctor` "
            "shows what to fix.")
    return Verdict(context=text)


def _with_context(verdict: Verdict, extra: str) -> Verdict:
    context = f"{verdict.context}\n{extra}" if verdict.context else extra
    return Verdict(deny=verdict.deny, context=context, hold=verdict.hold)


def _write(ctx, fn):
    """Run `fn(tx)` in a short write transaction, first applying any spooled writes and the caller's
    heartbeat. Raises StoreBusy when another process holds the write lock past `hook_busy_ms`."""
    from agent_sync.core import spool
    from agent_sync.core.presence import ensure_agent

    names = spool.pending(ctx.root)
    with ctx.store.write() as tx:
        done = spool.replay(tx, ctx.root, names) if names else []
        ensure_agent(tx, ctx)
        result = fn(tx)
    spool.forget(done)
    return result


# -- messages into the agent's context ---------------------------------------------------------------------

def messages_text(messages: list[dict], intro: str) -> tuple[str, list[int]]:
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
    """Text of the undelivered messages (and notices of lapsed locks), marking delivered exactly those the
    text carries."""
    from agent_sync.core import locks, messages

    locks.tell_lapsed(tx, ctx)
    pending = messages.undelivered(tx, ctx, directed_only=directed_only)
    if not pending:
        return None
    text, shown = messages_text(pending, intro)
    messages.mark_delivered(tx, ctx, shown)
    return text


# -- what a tool call writes ----------------------------------------------------------------------------------

def written_targets(ctx, call: ToolCall) -> tuple[list, list[tuple[str, str]]]:
    """(targets in the repository the call would write, repository-wide destructive git commands)."""
    from agent_sync import targets
    from agent_sync.paths import worktree_root

    base = call.base if call.base and os.path.isdir(call.base) else ctx.cwd

    def tree_of(value: str, start: str) -> str:
        """The worktree of the repository that holds this path: a lock holds in every worktree."""
        return worktree_root(os.path.dirname(os.path.join(start, value)), ctx.root)

    found, destructive = [], []
    files = list(call.files)
    if call.patch:
        from agent_sync.shell import patch_paths

        files += patch_paths(call.patch)
    for value in files:
        if not isinstance(value, str) or not value:
            continue
        try:
            key = targets.relpath_in_repo(value, tree_of(value, base), base)
            found.append(targets.Target("file", key))
        except Exception:
            pass  # outside the repository, or not a path at all: not ours to guard
    if isinstance(call.command, str):
        from agent_sync.core import guard

        start, raw, destructive, error = guard.shell_effects(call.command, base, ctx.tree,
                                                             powershell=(call.shell == "powershell"))
        if error:
            log_failure(f"shell guard on {call.name}", error, ctx.root)
        for value in raw:
            if "$" in value:
                continue  # built at run time (`$HOME/x`, `${TMPDIR}/y`): cannot be known here
            value = os.path.expanduser(value)
            try:  # a shell path may name a directory or a glob: guard the whole set it stands for
                found.append(targets.parse_target(value, tree_of(value, start), start))
            except Exception:
                continue
    return found, destructive


def deny_text(reason: str) -> str:
    from agent_sync.text import clean

    return DENY_PREFIX + clean(reason, 2000, one_line=True)


# -- the events -----------------------------------------------------------------------------------------------

def session_start(ctx, event: Event) -> Verdict:
    from agent_sync.core import locks, messages, presence, status
    from agent_sync.errors import StoreBusy

    def work(tx):
        presence.name_session(tx, ctx)
        locks.tell_lapsed(tx, ctx)
        shown: list[int] = []
        brief = status.compact(ctx, tx=tx, shown=shown)
        messages.mark_delivered(tx, ctx, shown)  # the rest are pushed at the next prompt
        return brief

    try:
        brief = _write(ctx, work)
    except StoreBusy:
        with ctx.store.read() as tx:
            brief = status.compact(ctx, tx=tx)
    return Verdict(context=brief)


def prompt(ctx, event: Event) -> Verdict:
    from agent_sync.errors import StoreBusy

    try:
        text = _write(ctx, lambda tx: _push(tx, ctx, "New messages from other agents:"))
    except StoreBusy:
        return ALLOW
    return Verdict(context=text) if text else ALLOW


def pre_tool(ctx, event: Event) -> Verdict:
    from agent_sync.core import guard
    from agent_sync.errors import StoreBusy

    found, destructive = written_targets(ctx, event.tool)
    if not found and not destructive:
        return ALLOW
    policy = ctx.settings.edit_policy
    try:
        reason = _write(ctx, lambda tx: guard.check_tool(tx, ctx, found, destructive, policy, write=True))
    except StoreBusy:  # never wait on another process's write: decide from a snapshot, take no lease
        with ctx.store.read() as tx:
            reason = guard.check_tool(tx, ctx, found, destructive, policy, write=False)
    return Verdict(deny=deny_text(reason)) if reason is not None else ALLOW


def post_tool(ctx, event: Event) -> Verdict:
    """Log the edit a file tool made; bring messages aimed at this agent (and notices of what it lost)."""
    from agent_sync.core import spool
    from agent_sync.errors import StoreBusy

    call = event.tool
    paths = [t.key for t in written_targets(ctx, call)[0]] if call is not None and call.writes_files else []
    name = call.name if call is not None else "tool"

    def work(tx):
        for path in paths:
            tx.insert_activity(ctx.me, "edit", f"{name} {path}", path)
        if event.can_inject:
            return _push(tx, ctx, "Messages addressed to you arrived:", directed_only=True)
        return None

    try:
        text = _write(ctx, work)
    except StoreBusy:
        for path in paths:
            spool.defer(ctx.root, {"op": "activity", "agent": ctx.me, "type": "edit", "message": f"{name} {path}",
                                   "file": path, "at": ctx.store.now()})
        return ALLOW
    return Verdict(context=text) if text else ALLOW


def stop(ctx, event: Event) -> Verdict:
    """Hold the turn while a message aimed at this agent is undelivered; otherwise end the turn's leases."""
    from agent_sync.core import locks, spool
    from agent_sync.errors import StoreBusy

    intro = ("Before you finish: other agents sent messages addressed to you. "
             "Read them and react (reply, adjust your work) before ending the turn.")

    def work(tx):
        text = _push(tx, ctx, intro, directed_only=True)
        if text is None:
            locks.release_leases(tx, ctx.me)
        return text

    try:
        text = _write(ctx, work)
    except StoreBusy:
        spool.defer(ctx.root, {"op": "release_leases", "agent": ctx.me, "at": ctx.store.now()})
        return ALLOW
    return Verdict(hold=text) if text else ALLOW


def beat(ctx, event: Event) -> Verdict:
    from agent_sync.errors import StoreBusy

    try:
        _write(ctx, lambda tx: None)
    except StoreBusy:
        pass
    return ALLOW


def session_end(ctx, event: Event) -> Verdict:
    from agent_sync.core import presence, spool
    from agent_sync.errors import StoreBusy

    try:
        _write(ctx, lambda tx: presence.end_session_in(tx, ctx))
    except StoreBusy:
        spool.defer(ctx.root, {"op": "end_session", "agent": ctx.me, "at": ctx.store.now()})
    return ALLOW


_HANDLERS = {SESSION_START: session_start, PROMPT: prompt, PRE_TOOL: pre_tool, POST_TOOL: post_tool,
             STOP: stop, SESSION_END: session_end, BEAT: beat}
