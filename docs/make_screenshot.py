"""Regenerate docs/console.svg (and docs/console.png, where cairosvg is installed): the operator console on a
busy repository. Five agents (Claude Code, Codex, Gemini CLI sessions and a plain CLI identity, one of them in
a second worktree), a task board with dependencies, locks with a waiter queued behind one, messages, a
decision and edits, all made by separate `agent-sync` processes; then the console, headless, in Textual's
own harness, with the operator sending a directive and taking a lock.

    python docs/make_screenshot.py            # needs the console extra: pip install -e '.[console]'
    python docs/make_screenshot.py --png-only # only turn docs/console.svg into docs/console.png (cairosvg)
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time

DOCS = os.path.dirname(os.path.abspath(__file__))
SVG = os.path.join(DOCS, "console.svg")
PNG = os.path.join(DOCS, "console.png")
SIZE = (180, 50)
FILES = ("src/ui/login.tsx", "src/ui/session.tsx", "src/api/auth.py", "src/api/session.py", "docs/guide.md",
         "tests/test_login.py")
SESSIONS = {"frontend": ("CLAUDE_CODE_SESSION_ID", "6a1f0c2e-1111-4e55-9a0b-7f6a2c1d9e01"),
            "backend": ("CODEX_THREAD_ID", "0199a1b2-2222-7c3d-8e4f-5a6b7c8d9e02"),
            "tests": ("GEMINI_SESSION_ID", "3c2b1a09-3333-4e55-9a0b-7f6a2c1d9e03"),
            "reviewer": ("CLAUDE_CODE_SESSION_ID", "6a1f0c2e-4444-4e55-9a0b-7f6a2c1d9e04")}


def to_png() -> bool:
    try:
        import cairosvg
    except ImportError:
        print("cairosvg is not installed: docs/console.svg only (pip install cairosvg, then --png-only)")
        return False
    cairosvg.svg2png(url=SVG, write_to=PNG, output_width=SIZE[0] * 10)
    print(f"wrote {PNG}")
    return True


class Repo:
    def __init__(self, root: str, home: str):
        self.root, self.home = root, home

    def env(self, agent: str | None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SYNC_")
               and k not in ("CLAUDE_CODE_SESSION_ID", "CODEX_THREAD_ID", "GEMINI_SESSION_ID")}
        env["HOME"] = self.home
        if agent in SESSIONS:
            variable, value = SESSIONS[agent]
            env[variable] = value  # the client comes from the session, as inside that agent's shell
        elif agent:
            env["AGENT_SYNC_ID"] = agent
        return env

    def run(self, agent: str, *args: str, cwd: str | None = None) -> str:
        proc = subprocess.run([sys.executable, "-m", "agent_sync", *args], cwd=cwd or self.root,
                              env=self.env(agent), capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise SystemExit(f"agent-sync {' '.join(args)} as {agent}: {proc.stderr.strip()}")
        return proc.stdout


def git(*args: str, cwd: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def build(base: str) -> tuple[Repo, str, subprocess.Popen]:
    root = os.path.join(base, "shop")
    home = os.path.join(base, "home")
    os.makedirs(home)
    os.makedirs(root)
    git("init", "-q", "-b", "main", cwd=root)
    for path in FILES:
        os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as fh:
            fh.write("\n")
    git("add", "-A", cwd=root)
    git("-c", "user.name=demo", "-c", "user.email=demo@example.invalid", "commit", "-qm", "start", cwd=root)
    api_tree = os.path.join(base, "shop-api")
    git("worktree", "add", "-q", "-b", "api", api_tree, cwd=root)
    repo = Repo(root, home)
    run = repo.run
    run("frontend", "register", "--name", "frontend", "--role", "React UI")
    run("backend", "register", "--name", "backend", "--role", "API + DB", cwd=api_tree)
    run("tests", "register", "--name", "tests", "--role", "pytest + e2e")
    run("docs", "register", "--name", "docs", "--role", "user guide")
    run("reviewer", "register", "--name", "reviewer", "--role", "code review")
    run("tests", "create-task", "Set up CI", "--priority", "3")
    run("tests", "claim-task", "Set up CI")
    run("tests", "complete-task", "Set up CI")
    run("backend", "create-task", "Add /login endpoint", "--file", "src/api/auth.py", "--priority", "5",
        cwd=api_tree)
    run("frontend", "create-task", "Login form", "--file", "src/ui/login.tsx", "--depends-on",
        "Add /login endpoint", "--priority", "4")
    run("tests", "create-task", "Login e2e tests", "--file", "tests/test_login.py", "--depends-on", "Login form",
        "--depends-on", "Set up CI")
    run("docs", "create-task", "Document sign-in", "--file", "docs/guide.md", "--priority", "1")
    run("backend", "create-task", "Session refresh", "--file", "src/api/session.py", cwd=api_tree)
    run("reviewer", "create-task", "Rate limiting", "--priority", "2")
    run("backend", "claim-task", "Add /login endpoint", "--lock", cwd=api_tree)
    run("docs", "claim-task", "Document sign-in", "--lock")
    run("reviewer", "block-task", "Rate limiting", "--reason", "needs a product decision")
    run("frontend", "lock", "src/ui/", "--reason", "login form scaffold")
    run("frontend", "log", "scaffolding the form", "--type", "edit", "--file", "src/ui/login.tsx")
    run("backend", "log", "POST /login returns a token", "--type", "edit", "--file", "src/api/auth.py",
        cwd=api_tree)
    run("backend", "send", "--to", "all", "--message", "/login returns {token, user}; 401 carries {error}",
        cwd=api_tree)
    run("frontend", "send", "--to", "backend", "--message", "can the 401 body say which field failed?")
    run("reviewer", "decision", "Sessions live in an httpOnly cookie, never in localStorage")
    run("tests", "log", "fixtures for the login flow", "--type", "progress", "--file", "tests/test_login.py")
    waiter = subprocess.Popen([sys.executable, "-m", "agent_sync", "lock", "src/api/auth.py", "--wait=600",
                               "--reason", "e2e needs the endpoint"], cwd=root, env=repo.env("tests"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return repo, api_tree, waiter


async def shoot(repo: Repo) -> None:
    from agent_sync.console.app import OperatorConsole
    from agent_sync.console.session import OperatorSession

    app = OperatorConsole(OperatorSession(cwd=repo.root, environ=repo.env(None)), interval=0.25)
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 120
        while not (app.snapshots and app.waiters or any(v["queue"] for v in app.locks)):
            if time.monotonic() > deadline:
                raise SystemExit("the console never showed the queued waiter")
            await pilot.pause(0.1)
        field = app.query_one("#command")
        for line in ("directive all freeze the /login contract until the e2e tests pass",
                     "lock src/api/session.py hotfix incoming"):
            field.value = line
            await pilot.press("enter")
            await pilot.pause(0.3)
        await pilot.pause(1.0)
        tasks = app.query_one("#tasks")
        tasks.focus()
        tasks.move_cursor(row=1)
        field.focus()
        field.value = "send fr"
        field.cursor_position = len(field.value)
        await pilot.pause(0.5)
        app.save_screenshot(os.path.basename(SVG), path=DOCS)
        print(f"wrote {SVG}")
        field.value = ""
        await pilot.press("ctrl+q")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png-only", action="store_true", help="only convert docs/console.svg to PNG")
    args = parser.parse_args()
    if args.png_only:
        return 0 if to_png() else 1
    base = tempfile.mkdtemp(prefix="agent-sync-screenshot-")
    waiter = None
    try:
        repo, _api, waiter = build(base)
        asyncio.run(shoot(repo))
    finally:
        if waiter is not None:
            waiter.terminate()
            waiter.wait(30)
        shutil.rmtree(base, ignore_errors=True)
    to_png()
    return 0


if __name__ == "__main__":
    sys.exit(main())
