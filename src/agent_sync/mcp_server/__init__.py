"""`agent-sync mcp`: the coordination state served over MCP on stdio, for any MCP client.

The tools are generated from the operation declarations (`tools.py`, standard library only); the server
(`server.py`) is the only module that imports the MCP SDK, and only this command imports it: never a hook,
never the rest of the CLI. The package is not called `mcp` so that it can never stand in for the SDK.
"""

import sys

from agent_sync.extras import install_hint


def cli_mcp(args) -> int:
    """Serve until the client closes the connection. Exit 1, with one line, when the SDK is missing."""
    try:
        from agent_sync.mcp_server import server
    except ImportError as exc:
        missing = exc.name or "mcp"
        if missing.split(".")[0] == "agent_sync":
            raise  # our own bug, not a missing extra
        print(f"agent-sync: the MCP server needs the MCP SDK ({missing} is not installed): "
              f"{install_hint('mcp')}", file=sys.stderr)
        return 1
    return server.serve()
