"""Every coordination operation, declared once: its name, parameters (types, limits, help), what it calls in
the core, the shape of its result and its text.

The CLI builds its argparse tree from these declarations, the MCP server its tools, the console its command
line: no front end validates or renders on its own. `invoke` is how every front end runs one.
"""

from agent_sync.errors import UsageError

MAX_INT = 2**63 - 1  # the stores' integers
MAX_VALUES = 1000  # values of one list parameter
DEFAULT_WAIT_SECONDS = 300.0


class Param:
    """One parameter. `kind`: str | int | float | bool | id (a positive whole number, `#12` allowed).
    `many`: a list of values (a repeatable flag, or several positionals). `positional`: given without a flag
    on the command line. `cli`/`short`: the flag's spelling there. `bare`: the value a flag given without one
    takes (`--wait` alone). `shared`: a parameter every agent tool has (documented once for MCP)."""

    __slots__ = ("name", "kind", "help", "required", "default", "choices", "minimum", "maximum", "max_length",
                 "many", "positional", "cli", "short", "metavar", "bare", "agent", "exclusive_minimum", "unit",
                 "what")

    def __init__(self, name: str, kind: str = "str", help: str = "", *, required: bool = False, default=None,
                 choices=None, minimum=None, maximum=None, max_length: int | None = None, many: bool = False,
                 positional: bool = False, cli: str | None = None, short: str | None = None,
                 metavar: str | None = None, bare=None, agent: bool = True, exclusive_minimum=None,
                 unit: str = "", what: str | None = None):
        self.name, self.kind, self.help, self.required, self.default = name, kind, help, required, default
        self.choices, self.minimum, self.maximum, self.max_length = choices, minimum, maximum, max_length
        self.exclusive_minimum, self.unit, self.what = exclusive_minimum, unit, what
        self.many, self.positional, self.short, self.metavar, self.bare = many, positional, short, metavar, bare
        self.cli = cli or "--" + name.replace("_", "-")
        self.agent = agent  # offered to agents (MCP) as well as on the command line

    def label(self) -> str:
        """How messages name it on the command line: what it is (`title`), else its flag or metavar."""
        if self.what:
            return self.what
        return (self.metavar or self.name.upper()) if self.positional else self.cli


class Operation:
    """`run(ctx, args)` does it (`args` holds the validated parameters as attributes); `text(data, args)` says
    the result in words; `wrap` names the key the CLI's --json puts a list under. `presence`: "beat" (the
    operation registers and refreshes the caller, inside its own transaction), "glance" (a read: an agent
    caller beats if the database is free this instant; a person at a shell never registers), "none". `context`: False for
    operations that need no store. `agent`: offered to agents over MCP. `mcp_help`: the tool's description there
    when it must differ from `help` (no CLI flag spelling; units the schema cannot say)."""

    __slots__ = ("name", "help", "params", "run", "text", "wrap", "presence", "context", "agent", "group",
                 "description", "mcp_help")

    def __init__(self, name: str, help: str, params=(), *, run, text=None, wrap: str | None = None,
                 presence: str = "beat", context: bool = True, agent: bool = True, group: str = "",
                 description: str | None = None, mcp_help: str | None = None):
        self.name, self.help, self.params, self.run, self.text = name, help, list(params), run, text
        self.mcp_help = mcp_help
        self.wrap, self.presence, self.context, self.agent, self.group = wrap, presence, context, agent, group
        self.description = description or help

    @property
    def reads(self) -> bool:
        return self.presence != "beat"

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)


class Args:
    """Validated parameters, as attributes."""

    def __init__(self, values: dict):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Args({self.__dict__!r})"


# -- validation ----------------------------------------------------------------------------------------------

def _number_text(value) -> str:
    return f"{value:.15g}" if isinstance(value, float) else str(value)


def _one(param: Param, value, label: str):
    kind = param.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise UsageError(f"{label} must be true or false, got {value!r}")
        return value
    if kind in ("int", "id"):
        if isinstance(value, str) and kind == "id":
            value = value.strip().lstrip("#")
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise UsageError(f"{label} must be a whole number, got {value!r}") from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{label} must be a whole number, got {value!r}")
        if abs(value) > MAX_INT:
            raise UsageError(f"{label} is out of range: {value}")
        if kind == "id" and value <= 0:
            raise UsageError(f"{label} must be a positive id, got {value}")
    elif kind == "float":
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise UsageError(f"{label} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"{label} must be a number, got {value!r}")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise UsageError(f"{label} must be a finite number, got {value!r}")
    else:
        if not isinstance(value, str):
            raise UsageError(f"{label} must be text, got {type(value).__name__}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"{label} is not valid UTF-8 text: '{shown}'") from None
        if "\x00" in value:
            raise UsageError(f"{label} must not contain NUL bytes")
        if param.max_length is not None and len(value) > param.max_length:
            raise UsageError(f"{label} is too long ({len(value)} characters; the limit is {param.max_length})")
    if param.choices is not None and value not in param.choices:
        raise UsageError(f"{label} must be one of {', '.join(map(str, param.choices))}, got {value!r}")
    if kind != "str" and not _in_range(param, value):
        if param.minimum == 0 and value < 0 and param.kind == "float":
            raise UsageError(f"{label} must not be negative")
        if param.minimum == 1 and value < 1 and param.kind == "int":
            raise UsageError(f"{label} must be positive, got {value}")
        raise UsageError(f"{label} must be {range_text(param)}, got {_number_text(value)}")
    return value


def _in_range(param: Param, value) -> bool:
    return not ((param.minimum is not None and value < param.minimum)
                or (param.exclusive_minimum is not None and value <= param.exclusive_minimum)
                or (param.maximum is not None and value > param.maximum))


def range_text(param: Param) -> str:
    """What a number must be, in words: "a whole number from 0 to 1000000", "more than 0 and at most 10080"."""
    unit = f" {param.unit}" if param.unit else ""
    low, high = param.minimum, param.maximum
    if param.kind in ("int", "id") and low is not None and high is not None:
        return f"a whole number from {_number_text(low)} to {_number_text(high)}{unit}"
    parts = []
    if param.exclusive_minimum is not None:
        parts.append(f"more than {_number_text(param.exclusive_minimum)}")
    elif low is not None:
        parts.append(f"at least {_number_text(low)}")
    if high is not None:
        parts.append(f"at most {_number_text(high)}")
    return " and ".join(parts) + unit


def validate(op: Operation, values: dict, *, style: str = "cli") -> Args:
    """The operation's parameters checked and converted: unknown names, missing required ones, types, limits
    and choices are refused with a one-line UsageError naming the parameter as the front end shows it.
    `style="mcp"`: an agent's call, which may pass only the parameters offered to agents (`Param.agent`)."""
    names = {p.name for p in op.params if style == "cli" or p.agent}
    unknown = sorted(set(values) - names)
    if unknown:
        raise UsageError(f"{op.name} takes no parameter {unknown[0]!r} (it takes: {', '.join(sorted(names)) or 'none'})")
    out = {}
    for param in op.params:
        label = param.label() if style == "cli" else param.name
        value = values.get(param.name) if param.name in names else None
        if value is None or (param.many and value == []):
            if param.required:
                raise UsageError(f"{op.name} needs {label}")
            out[param.name] = [] if param.many else (False if param.kind == "bool" and param.default is None
                                                      else param.default)
            continue
        if param.many:
            if isinstance(value, str | int | float):
                value = [value]
            if not isinstance(value, list | tuple):
                raise UsageError(f"{label} must be a list, got {type(value).__name__}")
            if len(value) > MAX_VALUES:
                raise UsageError(f"{label}: at most {MAX_VALUES} values, got {len(value)}")
            out[param.name] = [_one(param, v, label) for v in value]
        else:
            out[param.name] = _one(param, value, label)
    return Args(out)


# -- running one -----------------------------------------------------------------------------------------------

def invoke(op: Operation, args: Args, ctx=None):
    """Run a validated operation in `ctx` (which the caller opened and closes); reads glance at presence."""
    if op.context and ctx is None:
        raise ValueError(f"{op.name} needs a context")
    if op.presence == "glance" and ctx is not None:
        glance(ctx)
    return op.run(ctx, args)


def glance(ctx) -> None:
    """A read's heartbeat: only for an agent (a person looking from a shell is not one), only when the
    database is free within the hooks' short wait; it never makes the read wait longer or fail."""
    from agent_sync.core import presence
    from agent_sync.errors import AgentSyncError

    if not presence.is_agent_caller(ctx):
        return
    try:
        with ctx.store.write(wait=ctx.settings.hook_busy_ms / 1000) as tx:
            presence.ensure_agent(tx, ctx)
    except AgentSyncError:
        pass


def by_name(operations=None) -> dict[str, Operation]:
    return {op.name: op for op in (operations or catalog())}


# -- the catalog ---------------------------------------------------------------------------------------------

def _r(name: str):
    """A renderer from agent_sync.render, looked up when the text is needed."""
    def text(data, args):
        from agent_sync import render

        return getattr(render, name)(data, args)

    return text


def _call(module: str, function: str, **mapping):
    """`run` for a core function: keyword arguments taken from the parameters by `mapping` (a name maps to a
    parameter name, or a callable of args)."""
    def run(ctx, args):
        import sys

        full = f"agent_sync.core.{module}"
        __import__(full)
        fn = getattr(sys.modules[full], function)
        kwargs = {k: (v(args) if callable(v) else getattr(args, v)) for k, v in mapping.items()}
        return fn(ctx, **kwargs)

    return run


def _limits():
    from agent_sync.core import journal, locks, messages, presence, tasks

    return journal, locks, messages, presence, tasks


def _catalog() -> list[Operation]:
    journal, locks, messages, presence, tasks = _limits()
    task_ref = Param("task", "str", "a task id (7 or #7) or its title", required=True, positional=True, what="task",
                     max_length=tasks.MAX_TITLE + 10)
    force = Param("force", "bool", "act even on another active agent's task", agent=False)
    targets = Param("targets", "str", "files, directories (dir/) or globs ('src/**/*.ts')", many=True,
                    positional=True, metavar="TARGET", max_length=4096, what="path")
    resources = Param("resource", "str", "a named resource, not a path (repeatable)", many=True, metavar="KEY",
                      max_length=locks.MAX_RESOURCE, what="resource name")
    ttl = Param("ttl", "float", f"minutes until the lock expires (default 60, at most {locks.MAX_TTL_MINUTES})",
                metavar="MIN", exclusive_minimum=0, maximum=locks.MAX_TTL_MINUTES, unit="minutes")
    wait = Param("wait", "float", f"queue first come, first served, for up to SEC seconds; bare --wait waits "
                 f"{DEFAULT_WAIT_SECONDS:g}s", metavar="SEC", minimum=0, maximum=7 * 86400,
                 bare=DEFAULT_WAIT_SECONDS)
    message_id = Param("id", "id", "a message id", required=True, positional=True)
    limit = Param("limit", "int", "at most this many (newest)", minimum=1, maximum=journal.MAX_LIMIT)

    return [
        # state and identity
        Operation("init", "create the database (every command does this on first use)",
                  run=_call("presence", "init"), text=_r("init"), agent=False, group="state"),
        Operation("path", "print where the shared state lives", presence="none", context=False,
                  run=lambda ctx, args: _path(), text=lambda d, a: d["state"], agent=False, group="state"),
        Operation("config", "show each effective setting and where it came from", presence="none", context=False,
                  run=lambda ctx, args: _config(), text=_r("config"), agent=False, group="state"),
        Operation("whoami", "show this agent's id and where it came from", presence="glance",
                  mcp_help="this agent's id and where it came from",
                  run=_call("presence", "whoami"), text=_r("whoami"), group="presence"),
        Operation("register", "name this agent (and give it a role)", [
            Param("name", "str", "a name other agents can address", required=True, max_length=presence.MAX_NAME,
                  what="name"),
            Param("role", "str", "what this agent works on (messages to a role reach it)",
                  max_length=presence.MAX_ROLE, what="role"),
        ], run=_call("presence", "register", name="name", role="role"), text=_r("registered"), group="presence"),
        Operation("heartbeat", "mark this agent active now", run=_call("presence", "heartbeat"),
                  text=_r("heartbeat"), group="presence", agent=False),  # every MCP call beats
        Operation("status", "agents, tasks, locks, messages and recent activity", [
            Param("compact", "bool", "the short brief injected into an agent's context"),
        ], presence="glance", run=_status, text=_r("status"), group="presence"),
        Operation("gc", "drop expired locks; with --keep-days, prune old activity and read messages", [
            Param("keep_days", "float", "also prune activity and read messages older than N days", metavar="N",
                  minimum=0, maximum=36500),
        ], presence="glance", run=_call("presence", "gc", keep_days="keep_days"), text=_r("gc"), agent=False,
            group="state"),
        # locks
        Operation("lock", "lock files, directories, globs or named resources (all or none)", [
            targets, resources,
            Param("shared", "bool", "a shared lock: other shared holders may coexist"),
            Param("reason", "str", "why, shown to whoever it blocks", default="", max_length=locks.MAX_REASON,
                  what="reason"),
            ttl, wait,
        ], run=_lock, text=_r("locked"), wrap="locks", group="locks",
            mcp_help="lock files, dirs, globs or named resources, all or none; ttl in minutes; wait: seconds to "
                     "queue (FIFO)"),
        Operation("unlock", "release locks (owner only, unless --force)", [
            targets, resources,
            Param("all", "bool", "release every lock you hold"),
            Param("force", "bool", "break another agent's lock (it is told)", agent=False),
        ], run=_call("locks", "unlock", raw_targets="targets", resources="resource", everything="all",
                     force="force"), text=_r("unlocked"), wrap="unlocked", group="locks",
            mcp_help="release your locks"),
        Operation("renew", "extend locks you still hold", [
            targets, resources, Param("all", "bool", "renew every lock you hold"), ttl,
        ], run=_call("locks", "renew", raw_targets="targets", resources="resource", everything="all",
                     ttl_minutes="ttl"), text=_r("renewed"), wrap="locks", group="locks"),
        Operation("locks", "list live locks and who waits for them", [
            Param("all", "bool", "include expired locks and those of inactive holders", agent=False),
        ], presence="glance", run=_call("locks", "overview", include_all="all"), text=_r("locks"),
            group="locks"),
        # tasks
        Operation("create-task", "create a task", [
            Param("title", "str", "what to do", required=True, positional=True, max_length=tasks.MAX_TITLE,
                  what="title"),
            Param("description", "str", "details", max_length=tasks.MAX_DESCRIPTION, what="description"),
            Param("file", "str", "a file, directory or glob the task touches (repeatable)", many=True,
                  metavar="PATH", max_length=4096),
            Param("priority", "int", "higher goes first (0 to 1,000,000; default 0)", default=0, minimum=0,
                  maximum=tasks.MAX_PRIORITY),
            Param("depends_on", "str", "a task that must finish first (repeatable)", many=True, metavar="TASK",
                  max_length=tasks.MAX_TITLE + 10),
        ], run=_call("tasks", "create", title="title", description=lambda a: a.description or "", files="file",
                     priority="priority", depends_on="depends_on"), text=_r("created_task"), group="tasks"),
        Operation("add-dependency", "make TASK wait on DEPENDENCY", [
            task_ref, Param("dependency", "str", "the task to finish first", required=True, positional=True,
                            max_length=tasks.MAX_TITLE + 10),
        ], run=_call("tasks", "add_dependency", ref="task", dep_ref="dependency"), text=_r("dependency"),
            group="tasks", agent=False),
        Operation("tasks", "list tasks (in progress, open, blocked, done; higher priority first)", [
            Param("status", "str", "only tasks with this status", choices=list(tasks.STATUSES)),
        ], presence="glance", run=_call("tasks", "list_tasks", statuses=lambda a: [a.status] if a.status else None),
            text=_r("tasks"), wrap="tasks", group="tasks", mcp_help="list tasks, highest priority first"),
        Operation("task", "show one task", [task_ref], presence="glance", run=_call("tasks", "show", ref="task"),
                  text=_r("task_detail"), group="tasks"),
        Operation("claim-task", "claim a task by id or title", [
            task_ref, Param("lock", "bool", "also lock the task's files (all or nothing)"),
            Param("force", "bool", "take it even from an active owner or before its dependencies", agent=False),
        ], run=_call("tasks", "claim", ref="task", lock_files="lock", force="force"), text=_r("claimed"),
            group="tasks", mcp_help="claim a task by id or title; lock: also lock its files"),
        Operation("claim-next", "claim the highest-priority ready task", [
            Param("lock", "bool", "also lock its files; tasks whose files others hold are skipped"),
        ], run=_call("tasks", "claim_next", lock_files="lock"), text=_r("claimed"), group="tasks",
            mcp_help="claim the highest-priority ready task; lock: also lock its files"),
        Operation("complete-task", "mark a task done (its --lock locks are released)", [task_ref, force],
                  run=_call("tasks", "complete", ref="task", force="force"), text=_r("completed"), group="tasks",
                  mcp_help="mark a task done"),
        Operation("block-task", "mark a task blocked", [
            task_ref, Param("reason", "str", "what it waits for", required=True, max_length=tasks.MAX_BLOCK_REASON,
                            what="reason"),
            force,
        ], run=_call("tasks", "block", ref="task", reason="reason", force="force"), text=_r("task_changed"),
            group="tasks"),
        Operation("release-task", "give a task back to the board (its --lock locks are released)",
                  [task_ref, force], run=_call("tasks", "release", ref="task", force="force"),
                  text=_r("task_changed"), group="tasks", mcp_help="give a task back to the board"),
        Operation("cancel-task", "cancel a task (its --lock locks are released)", [task_ref, force],
                  run=_call("tasks", "cancel", ref="task", force="force"), text=_r("task_changed"), group="tasks",
                  agent=False),
        Operation("reopen-task", "reopen a done, cancelled or blocked task", [task_ref],
                  run=_call("tasks", "reopen", ref="task"), text=_r("task_changed"), group="tasks", agent=False),
        # messages
        Operation("send", "send a message to an agent (id or name), a role, or all", [
            Param("to", "str", "an agent id or name, a role, or all (id:, name:, role: say which)", required=True,
                  max_length=messages.MAX_RECIPIENT, what="recipient"),
            Param("message", "str", "the text", required=True, short="-m", max_length=messages.MAX_BODY,
                  what="message"),
            Param("reply_to", "id", "the message this answers", metavar="ID"),
            Param("urgent", "bool", "the recipient's turn is held until it has seen it"),
        ], run=_call("messages", "send", to="to", body="message", reply_to="reply_to", urgent="urgent"),
            text=_r("sent"), group="messages"),
        Operation("directive", "a message every agent it reaches must react to before its turn ends", [
            Param("to", "str", "all (every active agent), a role (its active agents), or one agent (id or name)",
                  required=True, max_length=messages.MAX_RECIPIENT, what="recipient"),
            Param("message", "str", "the text", required=True, short="-m", max_length=messages.MAX_BODY,
                  what="message"),
        ], run=_call("messages", "directive", to="to", body="message"), text=_r("directed"), agent=False,
            group="messages",
            description="send a directive: one directed, urgent copy to each agent it reaches (all: every "
                        "active agent), so each agent's Stop hook holds its turn until it has seen it"),
        Operation("messages", "recent messages between all agents (oldest first)", [
            Param("limit", "int", "at most this many (newest; default 20)", default=20, minimum=1,
                  maximum=journal.MAX_LIMIT),
        ], presence="glance", run=_call("messages", "recent", limit="limit"), text=_r("messages"),
            wrap="messages", agent=False, group="messages"),
        Operation("inbox", "unread messages addressed to you", [
            Param("all", "bool", "read ones too"),
            Param("wait", "float", "block until a message arrives, up to SEC seconds", metavar="SEC", minimum=0,
                  maximum=7 * 86400),
        ], run=_call("messages", "inbox", include_all="all", wait="wait"), text=_r("inbox"), wrap="messages",
            group="messages", mcp_help="unread messages for you; wait: seconds to block for one"),
        Operation("read-message", "show a message and mark it read", [message_id],
                  run=_call("messages", "read_message", message_id="id"), text=_r("one_message"), group="messages",
                  agent=False),
        Operation("ack", "acknowledge a message", [message_id], run=_call("messages", "ack", message_id="id"),
                  text=_r("acked"), group="messages"),
        Operation("thread", "show the conversation a message belongs to", [message_id], presence="glance",
                  run=_call("messages", "thread", message_id="id"), text=_r("messages"), wrap="messages",
                  group="messages"),
        # decisions and activity
        Operation("decision", "record a shared decision", [
            Param("text", "str", "the decision", required=True, positional=True, max_length=journal.MAX_TEXT,
                  what="decision"),
        ], run=_call("journal", "decide", text="text"), text=_r("decided"), group="journal"),
        Operation("decisions", "list decisions", [limit], presence="glance",
                  run=_call("journal", "decisions", limit="limit"), text=_r("decisions"), wrap="decisions",
                  group="journal", agent=False),
        Operation("log", "append an entry to the activity log", [
            Param("text", "str", "the entry", positional=True, max_length=journal.MAX_TEXT, agent=False,
                  what="message"),
            Param("message", "str", "the entry", short="-m", max_length=journal.MAX_TEXT, what="message"),
            Param("type", "str", "a short kind (note, progress, ...)", default="note", max_length=journal.MAX_TYPE,
                  what="type"),
            Param("file", "str", "the file it is about", max_length=4096),
        ], run=_log, text=_r("logged"), group="journal"),
        Operation("activity", "show the activity log", [
            Param("since", "str", "an age like 30m, 2h, 1d", max_length=40),
            Param("agent", "str", "only this agent (id or name)", max_length=presence.MAX_NAME + 200),
            Param("file", "str", "only entries about this file", max_length=4096),
            Param("limit", "int", "at most this many (newest; default 50)", default=50, minimum=1,
                  maximum=journal.MAX_LIMIT),
        ], presence="glance", run=_call("journal", "activity", since="since", agent="agent", file="file",
                                        limit="limit"), text=_r("activity"), wrap="activity", group="journal",
            agent=False),
        Operation("append", "append to a shared file atomically, under a lock", [
            Param("file", "str", "the file", required=True, positional=True, max_length=4096),
            Param("content", "str", "the text (default: read stdin)"),
            Param("wait", "float", "queue for the file's lock up to SEC seconds", metavar="SEC", minimum=0,
                  maximum=7 * 86400),
            Param("no_newline", "bool", "do not add a final newline"),
        ], run=_call("journal", "append", raw_path="file", content=lambda a: a.content or "", wait="wait",
                     newline=lambda a: not a.no_newline), text=_r("appended"), agent=False, group="journal"),
    ]


def _path() -> dict:
    """The SQLite file, or on the PostgreSQL store the server (password hidden) and the project."""
    from agent_sync import paths
    from agent_sync.config import load_settings, shown

    root = paths.find_root()
    settings = load_settings(root)
    if settings.database_url:
        return {"root": root, "state": f"{shown('database_url', settings.database_url)} (project "
                                       f"{settings.project or '(not set)'})"}
    return {"root": root, "state": paths.db_path(root)}


def _config() -> dict:
    from agent_sync import paths
    from agent_sync.config import SPECS, load_settings, shown

    root = paths.find_root()
    settings = load_settings(root)
    return {k: {"value": shown(k, settings.values[k]), "source": settings.sources[k], "help": SPECS[k].help}
            for k in SPECS}


def _status(ctx, args):
    from agent_sync.core import status

    if args.compact:
        return {"compact": status.compact(ctx)}
    return status.full(ctx)


def _lock(ctx, args):
    from agent_sync.core import locks

    return locks.lock(ctx, args.targets, resources=args.resource, shared=args.shared, reason=args.reason or "",
                      ttl_minutes=args.ttl, wait=args.wait, on_wait=getattr(ctx, "on_wait", None))


def _log(ctx, args):
    from agent_sync.core import journal

    text = args.text or args.message
    if not text:
        raise UsageError("give the entry as an argument or with --message")
    return journal.log(ctx, text, type_=args.type, file=args.file)


_CATALOG: list[Operation] = []


def catalog() -> list[Operation]:
    """The operations, built on first use (the declarations import the core modules for their limits)."""
    if not _CATALOG:
        _CATALOG.extend(_catalog())
    return _CATALOG
