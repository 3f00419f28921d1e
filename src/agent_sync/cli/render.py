"""Human text for the CLI. Every value another agent wrote passes through `c()` before it reaches a terminal."""

from agent_sync.text import clean


def c(value, limit: int | None = None) -> str:
    return clean(value, limit)


def one(value, limit: int = 120) -> str:
    return clean(value, limit, one_line=True)


def _clock(iso: str | None) -> str:
    return iso[11:16] + " UTC" if iso else "-"


def lock_line(v: dict) -> str:
    mode = "" if v["mode"] == "exclusive" else f" [{v['mode']}]"
    lease = " (turn lease)" if v.get("lease") else ""
    reason = f" — {one(v['reason'], 80)}" if v.get("reason") else ""
    state = f" [{v['state']}]" if v.get("state") and v["state"] != "live" else ""
    return (f"{one(v['target'], 100)}{mode} → {one(v['holder_name'], 40)} until {_clock(v['expires_at'])}"
            f"{lease}{reason}{state}")


def locks(items: list[dict]) -> str:
    if not items:
        return "no live locks"
    return "\n".join(lock_line(v) for v in items)


def task_line(t: dict) -> str:
    owner = f" @{one(t['owner_name'], 30)}" if t.get("owner_name") else ""
    waits = f" waits on {', '.join('#' + str(i) for i in t['waiting_on'])}" if t.get("waiting_on") else ""
    prio = f" p{t['priority']}" if t.get("priority") else ""
    blocked = f" ({one(t['blocked_reason'], 80)})" if t.get("blocked_reason") else ""
    return f"#{t['id']} [{t['status']}]{prio} {one(t['title'], 100)}{owner}{waits}{blocked}"


def tasks(items: list[dict]) -> str:
    return "\n".join(task_line(t) for t in items) if items else "no tasks"


def task_detail(t: dict) -> str:
    lines = [task_line(t)]
    if t["description"]:
        lines.append(c(t["description"], 4000))
    if t["files"]:
        lines.append("files: " + ", ".join(one(f, 100) for f in t["files"]))
    if t.get("dependents"):
        lines.append("needed by: " + ", ".join(f"#{i}" for i in t["dependents"]))
    return "\n".join(lines)


def messages(items: list[dict]) -> str:
    lines = []
    for m in items:
        flags = " URGENT" if m["urgent"] else ""
        reply = f" (reply to #{m['reply_to']})" if m["reply_to"] else ""
        lines.append(f"#{m['id']} {_clock(m['sent_at'])} {one(m['from_name'], 40)} → {one(m['to'], 40)}{flags}"
                     f"{reply}: {c(m['body'], 4000)}")
    return "\n".join(lines)


def decisions(items: list[dict]) -> str:
    return "\n".join(f"#{d['id']} {d['at'][:16].replace('T', ' ')} {one(d['agent_name'], 40)}: {c(d['text'], 2000)}"
                     for d in items)


def activity(items: list[dict]) -> str:
    return "\n".join(
        f"{_clock(a['at'])} {one(a['agent_name'], 30)} {one(a['type'], 40)}: {one(a['message'], 160)}"
        + (f" [{one(a['file'], 80)}]" if a["file"] else "")
        for a in items
    )


def whoami(d: dict) -> str:
    name = f"{one(d['name'], 40)} " if d.get("name") else ""
    return f"{name}({d['id']}) — {d['status']}; id from {d['source']}; repository {d['root']}"


def config(data: dict) -> str:
    return "\n".join(f"{key} = {v['value']!r}  ({v['source']})" for key, v in data.items())


def gc(d: dict) -> str:
    parts = [f"dropped {d['expired_locks']} expired lock(s), {d['expired_waiters']} expired waiter(s)"]
    if "pruned_activity" in d:
        parts.append(f"pruned {d['pruned_activity']} activity row(s), {d['pruned_messages']} message(s)")
    parts.append("agents: " + (", ".join(f"{n} {s}" for s, n in sorted(d["agents"].items())) or "none"))
    return "\n".join(parts)


def status(d: dict) -> str:
    me = d["me"]
    lines = [f"agent-sync — {d['root']}", f"you: {one(me.get('name', me['id']), 40)} ({me['id']}) [{me['status']}]", ""]
    active = [a for a in d["agents"] if a["status"] == "active"]
    lines.append(f"agents ({len(active)} active / {len(d['agents'])} total):")
    for a in d["agents"]:
        role = f" — {one(a['role'], 60)}" if a["role"] else ""
        task = f" on #{a['current_task']}" if a["current_task"] else ""
        lines.append(f"  {one(a['name'], 40)} [{a['status']}]{role}{task}")
    counts = d["task_counts"]
    summary = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items()) or "none"
    lines += ["", f"tasks ({summary}):"]
    lines += [f"  {task_line(t)}" + ("" if t["ready"] or t["status"] != "open" else " (waiting)") for t in d["tasks"]]
    lines += ["", f"locks ({d['lock_count']}):"]
    lines += [f"  {lock_line(v)}" for v in d["locks"]]
    if d["lock_count"] > len(d["locks"]):
        lines.append(f"  … {d['lock_count'] - len(d['locks'])} more (agent-sync locks)")
    if d["inbox"]:
        lines += ["", f"unread messages ({len(d['inbox'])}):"]
        lines += [f"  {line}" for line in messages(d["inbox"]).splitlines()]
    if d["decisions"]:
        lines += ["", "recent decisions:"]
        lines += [f"  {line}" for line in decisions(d["decisions"]).splitlines()]
    if d["activity"]:
        lines += ["", f"recent activity (of {d['activity_count']}):"]
        lines += [f"  {line}" for line in activity(d["activity"]).splitlines()]
    return "\n".join(lines)
