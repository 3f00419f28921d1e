"""The MCP tools, generated from the operation declarations (`core.operations`): one tool per operation
offered to agents (`agent=True`), named exactly like its CLI command, with an input schema built from the
declared parameters that are offered to agents: the same names, types, limits, choices and required ones.

Standard library only: the tests and the benchmark read the tools without the SDK.
"""

import json

from agent_sync.core import operations as ops

# The one parameter the server adds: `whoami` takes the calling agent's id (or name) and the connection acts
# as that agent from then on. Documented once, in the server's instructions and in whoami's description.
AGENT = "agent"
MAX_AGENT = 200
IDENTITY_TOOL = "whoami"

_TYPES = {"str": "string", "int": "integer", "id": "integer", "float": "number", "bool": "boolean"}


def operations() -> list[ops.Operation]:
    """The operations offered to agents, in catalog order."""
    return [op for op in ops.catalog() if op.agent]


def offered(op: ops.Operation) -> list[ops.Param]:
    """The parameters of `op` an agent may pass (the others keep their defaults)."""
    return [p for p in op.params if p.agent]


def param_schema(param: ops.Param) -> dict:
    """JSON Schema of one declared parameter: its type and every declared limit, nothing else (the names
    say the rest, and every character here is paid for in each agent's context)."""
    schema: dict = {"type": _TYPES[param.kind]}
    minimum = 1 if param.kind == "id" and param.minimum is None else param.minimum
    if minimum is not None:
        schema["minimum"] = minimum
    if param.exclusive_minimum is not None:
        schema["exclusiveMinimum"] = param.exclusive_minimum
    if param.maximum is not None:
        schema["maximum"] = param.maximum
    if param.max_length is not None:
        schema["maxLength"] = param.max_length
    if param.choices is not None:
        schema["enum"] = list(param.choices)
    if param.many:
        schema = {"type": "array", "items": schema}
    return schema


def input_schema(op: ops.Operation) -> dict:
    params = offered(op)
    properties = {p.name: param_schema(p) for p in params}
    if op.name == IDENTITY_TOOL:
        properties[AGENT] = {"type": "string", "maxLength": MAX_AGENT}
    schema: dict = {"type": "object", "properties": properties}
    required = [p.name for p in params if p.required]
    if required:
        schema["required"] = required
    return schema


def description(op: ops.Operation) -> str:
    text = op.mcp_help or op.help
    if op.name == IDENTITY_TOOL:
        text += "; agent=ID (or name): act as that agent from now on"
    return text


def tools() -> list[dict]:
    """The tools as `tools/list` lists them (the SDK sorts each tool's keys; sizes are the same)."""
    return [{"name": op.name, "description": description(op), "inputSchema": input_schema(op)}
            for op in operations()]


def by_name() -> dict[str, ops.Operation]:
    return {op.name: op for op in operations()}


def list_size() -> int:
    """Characters of the whole `tools/list` answer as it goes on the wire (compact JSON-RPC)."""
    answer = {"jsonrpc": "2.0", "id": 1, "result": {"tools": tools()}}
    return len(json.dumps(answer, separators=(",", ":"), ensure_ascii=False))
