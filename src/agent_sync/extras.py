"""How to install an optional extra, named after the distribution this installation came from."""


def distribution() -> str:
    """The distribution that provides `agent_sync` here (read at run time, only on the error path)."""
    try:
        from importlib.metadata import packages_distributions

        names = packages_distributions().get("agent_sync") or []
    except Exception:
        names = []
    return names[0] if names else "agent-sync-coord"


def install_hint(extra: str) -> str:
    """The pip command that adds `extra`, and its form for a clone of the repository."""
    return f"pip install '{distribution()}[{extra}]' (in a clone: pip install -e '.[{extra}]')"
