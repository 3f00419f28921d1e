"""The `agent-sync` command. `agent-sync hook ...` is dispatched before argparse is imported: the hook path
stays on the standard library's lightest modules."""

import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "hook":
        from agent_sync.hooks import run_hook

        return run_hook(argv[1:])
    from agent_sync.cli.app import run

    return run(argv)


def console() -> None:
    """The installed `agent-sync` command. A hook process, once it has answered, leaves at once: its
    transaction is committed, and tearing the interpreter down (and checkpointing the database on close)
    would only make the agent wait."""
    if sys.argv[1:2] == ["hook"]:
        code = main()
        import os

        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    sys.exit(main())
