"""One module per agent client: how its hook payloads read, how its hook answers are written, and how
agent-sync is installed into its configuration. No coordination rule lives here: the hook engine
(`core.engine`) and the install engine (`install`) decide; an agent module only translates.

A module here defines:

* `NAME`, `TITLE` and `EVENTS`: (the event as the agent names it, the neutral kind, whether the agent takes
  text into the model's context for it);
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
    import json

    return Out(code, json.dumps(obj, ensure_ascii=False), stderr)
