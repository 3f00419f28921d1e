"""What an idle `agent-sync console` (and an idle `agent-sync watch`) costs: CPU time over a quiet minute.

The console runs in a real terminal (a detached tmux session, else `script`), on a repository with five
agents, tasks and locks made by separate CLI processes; once its panes show them and it has settled, nothing
changes for `--seconds`, and the process's utime + stime (all threads, from /proc/PID/stat) are read before
and after. Linux only (it reads /proc).

    python bench/bench_console_idle.py              # ~80 s
    options: --seconds N (the quiet span, default 60), --settle N (default 10), --keep
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import PY, SCRIPT, byte_compile, clean_env  # noqa: E402

AGENTS = (("alice", "frontend", "CLAUDE_CODE_SESSION_ID"), ("bob", "backend", "CODEX_THREAD_ID"),
          ("carol", "tests", "GEMINI_SESSION_ID"), ("dave", "docs", None), ("erin", "infra", None))


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def seed(repo: str) -> None:
    def run(agent, *args, session=None):
        env = clean_env(None if session else agent)  # an agent session's variable names its client
        if session:
            env[session] = f"{agent}-session"
        subprocess.run([SCRIPT, *args], cwd=repo, env=env, check=True, capture_output=True)

    for name, role, session in AGENTS:
        run(name, "register", "--name", name, "--role", role, session=session)
    sessions = {name: session for name, _role, session in AGENTS}
    for agent, *args in (("alice", "create-task", "Login form", "--file", "src/app.py"),
                         ("bob", "create-task", "Session API", "--file", "src/api.py"),
                         ("alice", "claim-task", "Login form", "--lock"),
                         ("bob", "lock", "src/api.py", "--reason", "endpoint"),
                         ("carol", "send", "--to", "all", "--message", "tests are green")):
        run(agent, *args, session=sessions[agent])


def start_console(repo: str, env: dict):
    """(pid, how to read the screen, how to stop it)."""
    command = f"cd {repo} && exec {SCRIPT} console"
    if shutil.which("tmux"):
        socket = os.path.join(repo, ".tmux-bench")
        tmux = ["tmux", "-S", socket]
        subprocess.run([*tmux, "new-session", "-d", "-s", "bench", "-x", "160", "-y", "48", command], env=env,
                       check=True)
        pid = int(subprocess.run([*tmux, "display", "-p", "-t", "bench", "#{pane_pid}"], capture_output=True,
                                 text=True, check=True).stdout)

        def screen():
            return subprocess.run([*tmux, "capture-pane", "-p", "-t", "bench"], capture_output=True,
                                  text=True).stdout

        def stop():
            subprocess.run([*tmux, "kill-server"], capture_output=True)

        return pid, screen, stop
    log = os.path.join(repo, ".console.log")
    proc = subprocess.Popen(["script", "-qfc", f"stty cols 160 rows 48; {command}", log], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    time.sleep(3)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    shell = int(children[0])
    grand = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True).stdout.split()
    pid = int(grand[0]) if grand else shell

    def screen():
        with open(log, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def stop():
        proc.terminate()
        proc.wait(10)

    return pid, screen, stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not os.path.exists("/proc/self/stat"):
        print("needs /proc (Linux)")
        return 1
    byte_compile()
    repo = tempfile.mkdtemp(prefix="agent-sync-bench-console-")
    try:
        subprocess.run(["git", "init", "-q", repo], check=True)
        os.makedirs(os.path.join(repo, "src"))
        for name in ("app.py", "api.py"):
            with open(os.path.join(repo, "src", name), "w") as fh:
                fh.write("pass\n")
        seed(repo)
        env = clean_env()
        pid, screen, stop = start_console(repo, env)
        watch = subprocess.Popen([SCRIPT, "watch"], cwd=repo, env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while "alice" not in screen() or "src/api.py" not in screen():
                if time.monotonic() > deadline:
                    print("the console did not show the seeded state:\n" + screen())
                    return 1
                time.sleep(0.2)
            time.sleep(args.settle)
            tick = os.sysconf("SC_CLK_TCK")
            start = time.monotonic()
            before = {"console": cpu_ticks(pid), "watch": cpu_ticks(watch.pid)}
            time.sleep(args.seconds)
            after = {"console": cpu_ticks(pid), "watch": cpu_ticks(watch.pid)}
            wall = time.monotonic() - start
        finally:
            watch.terminate()
            watch.wait(10)
            stop()
        print(f"# idle cost, {wall:.0f} s with nothing changing ({PY}, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.2f})\n")
        print("| process | CPU seconds | share of one CPU |")
        print("|---|---|---|")
        for name in ("console", "watch"):
            used = (after[name] - before[name]) / tick
            print(f"| `agent-sync {name}` | {used:.2f} | {100 * used / wall:.2f}% |")
        return 0
    finally:
        if args.keep:
            print(f"(kept {repo})")
        else:
            shutil.rmtree(repo, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
