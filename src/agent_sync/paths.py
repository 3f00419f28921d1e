"""Where the repository root and the shared state live.

Kept free of pathlib and subprocess: this module is on the hook path.
"""

import os

STATE_DIR = os.path.join(".claude", "coordination")
DB_NAME = "state.sqlite"


def _main_worktree(git_file: str) -> str | None:
    """For a linked worktree's `.git` file, return the main worktree's root, so all worktrees share one state."""
    try:
        with open(git_file, encoding="utf-8") as fh:
            line = fh.readline().strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    gitdir = line[len("gitdir:"):].strip()
    if not os.path.isabs(gitdir):
        gitdir = os.path.join(os.path.dirname(git_file), gitdir)
    gitdir = os.path.realpath(gitdir)
    common = gitdir
    try:
        with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as fh:
            common = os.path.realpath(os.path.join(gitdir, fh.read().strip()))
    except OSError:
        pass  # a submodule's .git file: its gitdir is its own repository
    if os.path.basename(common) == ".git":
        return os.path.dirname(common)
    return None


def _home() -> str:
    return os.path.realpath(os.path.expanduser("~"))


def find_root(start: str | None = None, environ=None) -> str:
    """The repository root: AGENT_SYNC_ROOT (an existing directory), else the nearest directory with `.git`
    (worktrees resolve to their main worktree), else the nearest directory below `/` and the home directory
    that already has agent-sync state. Raises UsageError when there is none: state is never created in an
    arbitrary directory, and `/` or the home directory is never shared by everything below it."""
    from agent_sync.errors import UsageError

    environ = os.environ if environ is None else environ
    override = environ.get("AGENT_SYNC_ROOT")
    if override:
        real = os.path.realpath(override)
        if not os.path.isdir(real):
            raise UsageError(f"AGENT_SYNC_ROOT={override} is not an existing directory; create it or fix the variable")
        return real
    found = known_root(start or os.getcwd(), environ)
    if found is None:
        raise UsageError(f"{os.path.realpath(start or os.getcwd())} is not inside a git repository; run agent-sync "
                         "in your repository, or set AGENT_SYNC_ROOT to the directory that holds the shared state")
    return found


def known_root(start: str, environ=None) -> str | None:
    """Like find_root, but None when `start` is in no repository and no agent-sync state is above it: hooks
    then stay out of the way instead of creating state in an arbitrary directory."""
    environ = os.environ if environ is None else environ
    override = environ.get("AGENT_SYNC_ROOT")
    if override:
        real = os.path.realpath(override)
        return real if os.path.isdir(real) else None
    cur = os.path.realpath(start)
    home = None
    while True:
        dotgit = os.path.join(cur, ".git")
        if os.path.isdir(dotgit):
            return cur
        if os.path.isfile(dotgit):
            return _main_worktree(dotgit) or cur
        parent = os.path.dirname(cur)
        if parent == cur:
            return None
        if home is None:
            home = _home()
        if cur != home and os.path.isdir(os.path.join(cur, STATE_DIR)):
            return cur
        cur = parent


def tree_root(start: str) -> str | None:
    """The working tree containing `start`: its nearest ancestor with a `.git` directory or file."""
    cur = os.path.realpath(start)
    while True:
        if os.path.exists(os.path.join(cur, ".git")):
            return cur
        parent = os.path.dirname(cur)
        if parent == cur:
            return None
        cur = parent


def worktree_root(cwd: str, root: str) -> str:
    """Where repo-relative paths start for a caller in `cwd`: its linked worktree when that worktree belongs
    to `root`'s repository (so `src/a.py` names the same file in every worktree), else `root`."""
    tree = tree_root(cwd)
    if tree is None or tree == root:
        return root
    dotgit = os.path.join(tree, ".git")
    if os.path.isfile(dotgit) and _main_worktree(dotgit) == root:
        return tree
    return root


def branch_of(tree: str) -> str:
    """The branch checked out in the working tree `tree` (a short commit id when detached); "" if unknown.
    Reads `.git/HEAD` directly: no git process on the hook path."""
    dotgit = os.path.join(tree, ".git")
    head = os.path.join(dotgit, "HEAD")
    try:
        if os.path.isfile(dotgit):
            with open(dotgit, encoding="utf-8") as fh:
                gitdir = fh.readline().strip()[len("gitdir:"):].strip()
            head = os.path.join(tree, gitdir, "HEAD") if not os.path.isabs(gitdir) else os.path.join(gitdir, "HEAD")
        with open(head, encoding="utf-8") as fh:
            line = fh.readline().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    if line.startswith("ref: refs/heads/"):
        return line[len("ref: refs/heads/"):]
    return line[:12] if len(line) >= 12 and not line.startswith("ref:") else ""


def state_dir(root: str) -> str:
    return os.path.join(root, STATE_DIR)


def db_path(root: str) -> str:
    return os.path.join(root, STATE_DIR, DB_NAME)


def ensure_state_dir(root: str) -> str:
    """Create the coordination directory with its own `.gitignore`, so state is never committed."""
    directory = state_dir(root)
    os.makedirs(directory, exist_ok=True)
    ignore = os.path.join(directory, ".gitignore")
    if not os.path.exists(ignore):
        tmp = f"{ignore}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("# agent-sync state: never commit it\n*\n")
        os.replace(tmp, ignore)
    return directory
