"""The command reference in docs/cli.md, generated from the commands' own --help.

Regenerate with: python -m agent_sync.cli.reference > docs/cli.md (a test fails when it is stale).
"""

import os

from agent_sync.cli.app import build_parser


def render() -> str:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal width: fix it so the file is stable
    try:
        parser = build_parser()
        parts = ["# agent-sync command reference", "",
                 "Generated from `--help` by `python -m agent_sync.cli.reference`; do not edit by hand.", "",
                 "```text", parser.format_help().rstrip(), "```"]
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        for name, command in sub.choices.items():
            if name == "hook":
                continue
            parts += ["", f"## agent-sync {name}", "", "```text", command.format_help().rstrip(), "```"]
        from agent_sync import agents

        parts += ["", "## agent-sync hook", "",
                  "`agent-sync hook [--agent NAME] EVENT` reads the event's JSON on stdin and answers in that "
                  "agent's own format.", "Without `--agent` it is Claude Code. `agent-sync hook git-pre-commit` "
                  "is the git guard. Events, as each agent names them:", ""]
        for name in agents.ADAPTERS:
            try:
                adapter = agents.load(name)
            except ImportError:
                continue
            parts.append(f"- `{name}` ({adapter.TITLE}): " + ", ".join(e[0] for e in adapter.EVENTS))
        return "\n".join(parts) + "\n"
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


if __name__ == "__main__":
    print(render(), end="")
