"""The agent's client process: which process runs our hook, and whether it still runs.

Linux exposes both through /proc: a process's parent, its name and its start time (in clock ticks since boot),
so a pid the kernel reused for another program is not mistaken for the client. Elsewhere every answer is
"cannot tell", and presence falls back to time alone. Standard library only: this is on the hook path.
"""

import os

# Programs that only pass a hook command on (`sh -c "agent-sync hook ..."`): the client is above them.
WRAPPERS = frozenset(("sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "fish", "busybox", "env",
                      "timeout", "nice", "nohup", "stdbuf", "setsid", "time", "sudo", "doas", "cmd.exe",
                      "powershell", "pwsh", "agent-sync", "ionice", "chrt", "flock", "uv", "uvx", "pipx"))
_MAX_HOPS = 8

_host: list[str] = []


def stat(pid: int) -> tuple[str, int, int] | None:
    """(name, parent pid, start time in ticks) of a running process, or None."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            data = fh.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
    close = data.rfind(")")  # the name may itself hold spaces and parentheses
    if close < 0:
        return None
    name = data[data.find("(") + 1:close]
    fields = data[close + 2:].split()
    try:
        if fields[0] == "Z":  # a zombie has exited; it only waits to be reaped
            return None
        return name, int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def host_key() -> str:
    """Names this boot of this machine and its pid namespace: pids mean something only where this matches.
    Empty where it cannot be told (no /proc): then process liveness is never used."""
    if not _host:
        try:
            with open("/proc/sys/kernel/random/boot_id", encoding="utf-8") as fh:
                boot = fh.read().strip()
            namespace = os.readlink("/proc/self/ns/pid")
        except OSError:
            boot = namespace = ""
        _host.append(f"{boot}/{namespace}" if boot else "")
    return _host[0]


def client() -> tuple[int, int] | None:
    """(pid, start time) of the process that runs this one, past any wrapper shell; None if unknown."""
    if not host_key():
        return None
    pid = os.getppid()
    for _ in range(_MAX_HOPS):
        found = stat(pid)
        if found is None:
            return None
        name, parent, start = found
        if name in WRAPPERS and parent > 1:
            pid = parent
            continue
        return pid, start
    return None


def ancestors(limit: int = 16) -> list[tuple[int, int]]:
    """(pid, start time) of this process's parent, its parent, and so on up to init."""
    found = []
    pid = os.getppid()
    while pid > 1 and len(found) < limit:
        entry = stat(pid)
        if entry is None:
            break
        found.append((pid, entry[2]))
        pid = entry[1]
    return found


def alive(host: str, pid, start) -> bool | None:
    """True while that process runs, False once it is gone, None when this host cannot tell."""
    if not pid or not host or host != host_key():
        return None
    found = stat(pid)
    return found is not None and found[2] == start
