"""The front-end commands of the CLI (setting agent-sync up, and the long-running front ends), declared like
the core operations so the command line is built one way. They are not offered to agents over MCP."""

from agent_sync.core.operations import Operation, Param

SCOPES = ["project", "local", "user"]


def _front(module: str, function: str):
    def run(ctx, args):
        import sys

        full = f"agent_sync.{module}"
        __import__(full)
        return getattr(sys.modules[full], function)(args)

    return run


def front_end() -> list[Operation]:
    as_json = Param("json", "bool", "print the result as JSON")
    scope = Param("scope", "str", "project: .claude/settings.json (committed); local: settings.local.json; user: ~",
                  default="project", choices=SCOPES)
    dry = Param("dry_run", "bool", "show what would change, change nothing")
    git = Param("git_hook", "bool", "also the git pre-commit guard")
    return [
        Operation("install", "install the hooks, skill (and optionally a git pre-commit guard)",
                  [scope, dry, git, as_json], run=_front("install", "cli_install"), context=False,
                  presence="none", agent=False, group="setup"),
        Operation("uninstall", "remove exactly what install added", [scope, dry, git, as_json],
                  run=_front("install", "cli_uninstall"), context=False, presence="none", agent=False,
                  group="setup"),
        Operation("doctor", "check the installation end to end", [as_json], run=_front("install", "cli_doctor"),
                  context=False, presence="none", agent=False, group="setup"),
        Operation("demo", "watch three agents coordinate in a throw-away repository", [
            Param("keep", "bool", "keep the demo repository"),
        ], run=_front("demo", "cli_demo"), context=False, presence="none", agent=False, group="setup"),
    ]
