"""The instructions agent-sync adds for agents that read an instructions file (AGENTS.md, GEMINI.md): one marked
section, the same text for each, which uninstall removes exactly (unless someone edited it)."""

from __future__ import annotations

import os

from agent_sync.install import engine, formats

SECTION = """\
## Working alongside other agents (agent-sync)

Other AI coding agents may be working in this repository at the same time as you. agent-sync is their shared
record of who is here, which files are locked, which tasks are taken and what was said. Its hooks register you,
brief you when you start and refuse a write to a file that another agent holds. The rest is up to you:

- **Look first.** `agent-sync status --compact` shows the active agents, open tasks, live locks and your
  unread messages.
- **Take work.** `agent-sync claim-next --lock` takes the most urgent ready task and locks its files;
  `agent-sync claim-task T --lock` takes a given one (T is its id or title). Leave tasks claimed by others alone.
- **Lock before a bigger change.** `agent-sync lock src/api/ 'src/**/*.ts' --reason "what for"` locks all of
  them or none. Add `--wait` to queue behind the holder. Locks expire after 60 minutes; run
  `agent-sync renew --all` during long work.
- **Blocked?** The refusal names the holder. Ask them (`agent-sync send --to HOLDER -m "..."`), do other work
  meanwhile, or queue with `agent-sync lock PATH --wait`. Never get around a lock with the shell or another
  tool, and never `agent-sync unlock --force` someone else's lock unless the user asks you to.
- **Messages.** `agent-sync inbox`, then `agent-sync read-message ID` and `agent-sync ack ID` once handled.
  `agent-sync send --to NAME|ROLE|all -m "..."` writes to others; `agent-sync decision "..."` records a rule
  every agent follows.
- **Finish.** `agent-sync complete-task T` (it lists the tasks this unblocked), then `agent-sync unlock --all`.
  If you cannot finish: `agent-sync block-task T --reason "..."` or `agent-sync release-task T`.

Exit code 2 means another active agent holds what you asked for (the message names it), 1 a mistake in the
command. `--json` gives machine-readable output.
"""

NOTE = "- written by `agent-sync install`; `agent-sync uninstall` removes it unless edited"


def section_block() -> formats.Block:
    return formats.Block(SECTION, "<!-- ", " -->", NOTE)


def section(directory: str, name: str, backups: engine.Backups) -> engine.TextDoc:
    """The agent-sync section of `directory/name` (AGENTS.md or GEMINI.md)."""
    return engine.TextDoc(os.path.join(directory, name), backups, section_block(), "the agent-sync section")
