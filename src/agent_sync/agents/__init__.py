"""One module per agent client: how its hook payloads read, how its hook answers are written, and how
agent-sync is installed into its configuration. No coordination rule lives here: the hook engine
(`core.engine`) and the install engine (`install`) decide; an agent module only translates.

A module here defines:

* `NAME`, `TITLE` and `EVENTS`: tuples of (the `agent-sync hook` argument, the event as the agent names it,
  the neutral kind, whether the agent takes text into the model's context for it, the tool matcher or None);
* `parse(event, payload, environ) -> core.engine.Event | None` and `render(event, verdict) -> Out`.

Hook processes import exactly one of these modules, lazily.
"""

ADAPTERS = ("claude", "codex", "gemini", "cursor", "copilot")
DEFAULT = "claude"


class Out:
    """What a hook process answers: its exit code, stdout and stderr."""

    __slots__ = ("code", "stdout", "stderr")

    def __init__(self, code: int = 0, stdout: str = "", stderr: str = ""):
        self.code, self.stdout, self.stderr = code, stdout, stderr


ALLOW = Out()


def load(name: str):
    """The adapter module for an agent name; ValueError for an unknown one."""
    if name not in ADAPTERS:
        raise ValueError(f"unknown agent {name!r}; known: {', '.join(ADAPTERS)}")
    import sys

    module = f"agent_sync.agents.{name}"
    __import__(module)
    return sys.modules[module]


def event_key(name: str) -> str:
    """Event names compared loosely: `PreToolUse`, `pre-tool-use` and `pre_tool_use` are one event."""
    return name.replace("-", "").replace("_", "").lower()


def text(value) -> str | None:
    """A payload field as a non-empty string, or None (agents send odd shapes: tolerate them)."""
    return value if isinstance(value, str) and value else None


def json_out(obj: dict, code: int = 0, stderr: str = "") -> Out:
    from agent_sync.jsonwire import dumps

    return Out(code, dumps(obj, ensure_ascii=False), stderr)


def event_table(events, aliases=()) -> dict:
    """{loose event key: (agent's event name, neutral kind, takes context)} from an EVENTS table, plus
    `aliases`: (another spelling the agent may use, the EVENTS name it stands for)."""
    table = {}
    for slug, name, kind, inject, _matcher in events:
        table[event_key(slug)] = table[event_key(name)] = (name, kind, inject)
    for alias, name in aliases:
        table.setdefault(event_key(alias), table[event_key(name)])
    return table


def context_events(events) -> dict:
    """{neutral kind: the agent's event name} for the events whose answer may carry context."""
    return {kind: name for _slug, name, kind, inject, _matcher in events if inject}


def mapping(value) -> dict:
    """A payload field as a dict (an empty one for any other shape)."""
    return value if isinstance(value, dict) else {}
