"""`agent-sync console`: the live operator console (Textual, the optional extra `agent-sync-coord[console]`).

`session` is the operator's identity and what the panes show (no Textual), `commands` the operator command
line (parsing onto the operation declarations, completion, help; no Textual), `app` the Textual application.
"""

import sys


def install_hint() -> str:
    """How to install the extra, under the name this installation was made from."""
    from agent_sync.extras import install_hint as hint

    return f"agent-sync console needs Textual, the `console` extra: {hint('console')}"


def textual_missing() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("textual") is None
    except (ImportError, ValueError):
        return True


def cli_console(args) -> int:
    if textual_missing():
        print(f"agent-sync: {install_hint()}", file=sys.stderr)
        return 1
    from agent_sync.console.app import run

    return run(name=args.name, interval=args.interval)
