"""The front-end commands of the CLI (setting agent-sync up, and the long-running front ends), declared like
the core operations so the command line is built one way. They are not offered to agents over MCP."""

from agent_sync.core.operations import Operation, Param

SCOPES = ["project", "local", "user"]
AGENTS = ["claude", "codex", "gemini", "cursor", "copilot", "all"]


def _front(module: str, function: str):
    def run(ctx, args):
        import sys

        full = f"agent_sync.{module}"
        __import__(full)
        return getattr(sys.modules[full], function)(args)

    return run


def front_end() -> list[Operation]:
    as_json = Param("json", "bool", "print the result as JSON")
    scope = Param("scope", "str", "project: the repository's committed config, with a portable `agent-sync` "
                  "command; local: Claude Code's .claude/settings.local.json; user: your home directory",
                  default="project", choices=SCOPES)
    dry = Param("dry_run", "bool", "show what would change, change nothing")
    git = Param("git_hook", "bool", "also the git pre-commit guard")
    agent = Param("agent", "str", "the agent: claude (default), codex, gemini, cursor, copilot, or all (the ones "
                  "found in the repository, the home directory or on PATH)", default="claude", choices=AGENTS,
                  metavar="NAME")
    mcp = Param("mcp", "bool", "also the MCP server entry (agent-sync mcp) in the agent's MCP config")
    checked = Param("agent", "str", "check this agent only (all: every agent); default: every installed agent",
                    choices=AGENTS, metavar="NAME")
    return [
        Operation("install", "install the hooks and instructions for an agent (optionally the MCP server entry "
                  "and a git pre-commit guard)", [agent, scope, dry, git, mcp, as_json],
                  run=_front("install.cli", "cli_install"), context=False, presence="none", agent=False,
                  group="setup"),
        Operation("uninstall", "remove exactly what install added", [agent, scope, dry, git, mcp, as_json],
                  run=_front("install.cli", "cli_uninstall"), context=False, presence="none", agent=False,
                  group="setup"),
        Operation("doctor", "check the installation end to end", [checked, as_json],
                  run=_front("install.cli", "cli_doctor"), context=False, presence="none", agent=False,
                  group="setup"),
        Operation("mcp", "serve the coordination state to MCP clients on stdio (needs the mcp extra)", [],
                  run=_front("mcp_server", "cli_mcp"), context=False, presence="none", agent=False, group="live",
                  description="serve the coordination state over MCP on stdio: the agent operations as tools, "
                              "the compact status and your inbox as resources (needs the mcp extra)"),
        Operation("watch", "stream the feed: activity, messages, presence changes and lock events", [
            Param("json", "bool", "one JSON object per line, in the feed's stable shape (see the README)"),
            Param("since", "int", "first replay the activity after this id (0: everything); default: from "
                  "now", metavar="ID", minimum=0),
        ], run=_front("watch", "cli_watch"), context=False, presence="none", agent=False, group="live"),
        Operation("console", "the live operator console: watch and steer the agents (needs the console extra)",
                  [Param("name", "str", "the operator's name, as agents see it (default: operator)",
                         max_length=64, metavar="N"),
                   Param("interval", "float", "the longest wait, in seconds, between looks at the store "
                         "(default 1)", metavar="S", exclusive_minimum=0, maximum=60)],
                  run=_front("console", "cli_console"), context=False, presence="none", agent=False,
                  group="live", description="the live operator console: agents, locks, the task board and the "
                  "feed, updated as they change, and the operator's command line (needs the console extra)"),
        Operation("migrate", "copy this repository's SQLite state into a PostgreSQL database and verify the copy", [
            Param("to", "str", "the PostgreSQL database: postgresql://USER@HOST:PORT/DATABASE (default: the "
                  "database_url setting; the password belongs in PGPASSFILE)", max_length=4096, metavar="URL"),
            Param("project", "str", "the project id to copy under (default: the project setting)", max_length=200,
                  metavar="ID"),
            Param("replace", "bool", "overwrite the project's state if it already holds some"),
            as_json,
        ], run=_front("store.transfer", "cli_migrate"), context=False, presence="none", agent=False,
            group="state"),
        Operation("demo", "watch three agents coordinate in a throw-away repository", [
            Param("keep", "bool", "keep the demo repository"),
        ], run=_front("demo", "cli_demo"), context=False, presence="none", agent=False, group="setup"),
    ]
