"""The Claude Code plugin in this repository (`plugins/agent-sync/`, listed by `.claude-plugin/marketplace.json`
at the repository root), generated from the sources the installer uses: the hooks from the Claude Code
adapter's EVENTS through the same format code, the skill text, the MCP server entry. Its commands are the
portable `agent-sync ...`, found on PATH (install agent-sync with pipx or uv tool).

    python -m agent_sync.install.plugin [CHECKOUT]   # rewrite the plugin files (a test fails when they are stale)
"""

from __future__ import annotations

import json
import os
import sys

from agent_sync import __version__
from agent_sync.install import claude, command

NAME = "agent-sync"
PLUGIN_DIR = os.path.join("plugins", NAME)
DESCRIPTION = ("Coordinate several AI coding agents in one repository: refuse edits of files another agent "
               "holds, share locks, tasks and messages (needs the agent-sync command on PATH)")
KEYWORDS = ["multi-agent", "locks", "coordination", "hooks", "tasks"]


def _json(data) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def hooks() -> dict:
    """hooks/hooks.json: the installer's Claude Code hooks, with the portable command."""
    data = claude.INTEGRATION.hooks.merge({}, command.PROGRAM).data
    return {"description": "agent-sync: registers the session, refuses writes to files another agent holds, "
                           "delivers messages", "hooks": data["hooks"]}


def mcp() -> dict:
    return claude.MCP.merge({}, command.PROGRAM).data


def manifest() -> dict:
    return {"name": NAME, "version": __version__, "description": DESCRIPTION,
            "author": {"name": "agent-sync contributors"}, "license": "MIT", "keywords": KEYWORDS}


def marketplace() -> dict:
    return {"name": NAME, "owner": {"name": "agent-sync contributors"},
            "metadata": {"description": "The agent-sync plugin for Claude Code", "version": __version__},
            "plugins": [{"name": NAME, "source": "./" + PLUGIN_DIR.replace(os.sep, "/"), "description": DESCRIPTION,
                         "version": __version__, "category": "development", "tags": KEYWORDS}]}


def files() -> dict[str, bytes]:
    """{path relative to the checkout: content} of every generated file."""
    base = PLUGIN_DIR
    return {
        os.path.join(".claude-plugin", "marketplace.json"): _json(marketplace()),
        os.path.join(base, ".claude-plugin", "plugin.json"): _json(manifest()),
        os.path.join(base, "hooks", "hooks.json"): _json(hooks()),
        os.path.join(base, ".mcp.json"): _json(mcp()),
        os.path.join(base, "skills", NAME, "SKILL.md"): claude.plugin_skill_text().encode("utf-8"),
    }


def checkout() -> str:
    """The source checkout this module lives in (src/agent_sync/install/plugin.py)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.dirname(os.path.dirname(os.path.dirname(here)))


def write(root: str) -> list[str]:
    from agent_sync.install.engine import read_bytes, write_atomic

    changed = []
    for rel, content in files().items():
        path = os.path.join(root, rel)
        if read_bytes(path) != content:
            write_atomic(path, content)
            changed.append(rel)
    return changed


def main(argv: list[str]) -> int:
    root = argv[0] if argv else checkout()
    if not os.path.isfile(os.path.join(root, "pyproject.toml")):
        print(f"{root} is not the agent-sync checkout (no pyproject.toml); name it: "
              "python -m agent_sync.install.plugin CHECKOUT", file=sys.stderr)
        return 1
    changed = write(root)
    print("\n".join(f"wrote {rel}" for rel in changed) or "the plugin files are current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
