"""`agent-sync install | uninstall | doctor`: wire agent-sync into each agent's hook system and git, undo it
exactly, check it.

* `engine`: plans of file changes (dry run or applied atomically), backups, exact undo, created directories.
* `formats`: the config formats, each written once (Claude-style nested hooks JSON, the flat hooks JSON of
  Cursor and Copilot CLI, MCP server entries, marked blocks of text such as an AGENTS.md section or a TOML table).
* `command`: the command hooks run (portable `agent-sync` for committed files, absolute otherwise) and how
  our commands are recognised in any file.
* `integration`: what an agent integration declares, and install/uninstall for all of them alike;
  `claude`, `codex`, `gemini`, `cursor`, `copilot`: one integration per agent, whose events come from the
  adapter's `EVENTS` table (`agents/<name>.py`).
* `gitguard`: the git pre-commit guard; `doctor`: the checks; `cli`: the command line; `plugin`: the Claude
  Code plugin in the repository, generated from the same sources.

Standard library only, imported lazily by these commands (never on the hook path).
"""

from agent_sync.install.claude import count_ours, merge_hooks, skill_state, skill_text, strip_hooks
from agent_sync.install.cli import cli_doctor, cli_install, cli_uninstall
from agent_sync.install.command import command_program, command_slug, hook_command, parse_hook
from agent_sync.install.doctor import matcher_covers
from agent_sync.install.formats import canonical as _canonical

__all__ = ["cli_doctor", "cli_install", "cli_uninstall", "command_program", "command_slug", "count_ours",
           "hook_command", "matcher_covers", "merge_hooks", "parse_hook", "skill_state", "skill_text",
           "strip_hooks", "_canonical"]
