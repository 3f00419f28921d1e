"""`agent-sync demo`: three agents, each a separate process, coordinating in a throw-away repository."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

FILES = {
    "src/api/auth.py": "def login(user, password):\n    raise NotImplementedError\n",
    "src/ui/login.tsx": "export function Login() { return null }\n",
    "tests/test_login.py": "def test_login():\n    pass\n",
}


def _say(text: str) -> None:
    print(f"\n\033[1m# {text}\033[0m" if sys.stdout.isatty() else f"\n# {text}")


class Demo:
    def __init__(self, repo: str):
        self.repo = repo
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_SYNC_", "CLAUDE"))}

    def _argv(self, args):
        return [sys.executable, "-m", "agent_sync", *args]

    def run(self, agent: str, *args, stdin: str | None = None, show: str | None = None) -> int:
        shown = show or "agent-sync " + " ".join(a if " " not in a else repr(a) for a in args)
        print(f"[{agent}] $ {shown}")
        result = subprocess.run(self._argv(args), cwd=self.repo, env=dict(self.env, AGENT_SYNC_ID=agent),
                                input=stdin, capture_output=True, text=True)
        for line in (result.stdout + result.stderr).strip().splitlines():
            print(f"    {line}")
        print(f"    (exit {result.returncode})")
        return result.returncode

    def hook(self, agent: str, event: str, payload: dict) -> None:
        body = dict({"session_id": f"demo-{agent}", "cwd": self.repo, "hook_event_name": event}, **payload)
        print(f"[{agent}'s Claude Code] hook {event}: {json.dumps(payload)[:110]}")
        result = subprocess.run(self._argv(["hook", event]), cwd=self.repo, env=dict(self.env, AGENT_SYNC_ID=agent),
                                input=json.dumps(body), capture_output=True, text=True)
        if not result.stdout.strip():
            print("    → allowed (no output)")
            return
        out = json.loads(result.stdout)
        specific = out.get("hookSpecificOutput", {})
        if specific.get("permissionDecision") == "deny":
            print(f"    → DENIED: {specific['permissionDecisionReason']}")
        elif "additionalContext" in specific:
            print("    → injected into the agent's context:")
            for line in specific["additionalContext"].splitlines():
                print(f"      {line}")
        else:
            print(f"    → {result.stdout.strip()}")

    def race(self, agents: list[str], *args) -> list[str]:
        print(f"[{', '.join(agents)}] all at once: agent-sync {' '.join(args)}")
        procs = {a: subprocess.Popen(self._argv(args), cwd=self.repo, env=dict(self.env, AGENT_SYNC_ID=a),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for a in agents}
        for agent, proc in procs.items():
            out, err = proc.communicate()
            verdict = "won" if proc.returncode == 0 else "refused"
            print(f"    {agent}: exit {proc.returncode} ({verdict}) {(out + err).strip().splitlines()[0]}")
        return [agent for agent, proc in procs.items() if proc.returncode == 0]


def run_demo(keep: bool = False) -> int:
    repo = tempfile.mkdtemp(prefix="agent-sync-demo-")
    try:
        subprocess.run(["git", "init", "-q", repo], check=True)
        for path, text in FILES.items():
            full = os.path.join(repo, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as fh:
                fh.write(text)
        demo = Demo(repo)
        print(f"A throw-away repository at {repo}; three agents, each command a separate process.")

        _say("Three agents join and say what they do")
        demo.run("backend", "register", "--name", "backend", "--role", "API")
        demo.run("frontend", "register", "--name", "frontend", "--role", "UI")
        demo.run("tests", "register", "--name", "tests", "--role", "QA")

        _say("backend plans the work: the form and the tests wait on the endpoint")
        demo.run("backend", "create-task", "Add /login endpoint", "--file", "src/api/auth.py", "--priority", "2")
        demo.run("backend", "create-task", "Login form", "--file", "src/ui/login.tsx", "--depends-on", "1")
        demo.run("backend", "create-task", "Login tests", "--file", "tests/test_login.py", "--depends-on", "1",
                 "--depends-on", "2")

        _say("Everyone asks for work; only ready tasks are handed out")
        demo.run("backend", "claim-next", "--lock")
        demo.run("frontend", "claim-next")

        _say("The tests agent's Claude Code session tries to edit the endpoint backend holds")
        demo.hook("tests", "pre-tool-use", {"tool_name": "Edit", "tool_input": {
            "file_path": os.path.join(repo, "src/api/auth.py"), "old_string": "raise", "new_string": "return"}})
        demo.hook("tests", "pre-tool-use", {"tool_name": "Bash", "tool_input": {
            "command": "sed -i 's/raise/return/' src/api/auth.py"}})
        demo.hook("tests", "pre-tool-use", {"tool_name": "Bash", "tool_input": {"command": "git reset --hard"}})
        demo.hook("tests", "pre-tool-use", {"tool_name": "Bash", "tool_input": {"command": "cat src/api/auth.py"}})

        _say("frontend and tests both reach for the UI directory at the same instant")
        winners = demo.race(["frontend", "tests"], "lock", "src/ui/", "--reason", "restyle")

        _say("backend tells everyone the contract; it reaches frontend at its next prompt")
        demo.run("backend", "send", "--to", "all", "--message", "POST /login returns {token, user}")
        demo.run("backend", "decision", "Sessions use signed cookies, not JWT in localStorage")
        demo.hook("frontend", "user-prompt-submit", {"prompt": "continue"})

        _say("backend finishes; the form becomes ready and frontend takes it")
        demo.run("backend", "complete-task", "Add /login endpoint")
        demo.run("backend", "unlock", "--all")
        for winner in winners:
            demo.run(winner, "unlock", "src/ui/")
        demo.run("frontend", "claim-next", "--lock")

        _say("What the tests agent sees injected at its next session start")
        demo.hook("tests", "session-start", {"source": "startup"})

        _say("The whole picture")
        demo.run("operator", "status")
        print("\nThat was agent-sync. Install the hooks into your repository with: agent-sync install")
        return 0
    finally:
        if keep:
            print(f"(kept {repo})")
        else:
            shutil.rmtree(repo, ignore_errors=True)


def cli_demo(args) -> int:
    return run_demo(keep=args.keep)
