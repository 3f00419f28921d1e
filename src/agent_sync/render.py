"""Human text of operation results, for the CLI and the console. Every value another agent wrote passes
through `c()` or `one()` before it reaches a terminal.

The functions that take `(data, args)` are the text renderings the operation declarations name.
"""

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


def waiter_line(w: dict) -> str:
    mode = "" if w["mode"] == "exclusive" else f" [{w['mode']}]"
    return f"{one(w['target'], 100)}{mode} ← {one(w['agent_name'], 40)} waiting {int(w['waited_s'])}s"


def locks(data: dict, args=None) -> str:
    lines = [lock_line(v) for v in data["locks"]] or ["no live locks"]
    if data.get("waiters"):
        lines += ["waiting (first come, first served):"] + [f"  {waiter_line(w)}" for w in data["waiters"]]
    return "\n".join(lines)


def task_line(t: dict) -> str:
    owner = f" @{one(t['owner_name'], 30)}" if t.get("owner_name") else ""
    waits = f" waits on {', '.join('#' + str(i) for i in t['waiting_on'])}" if t.get("waiting_on") else ""
    prio = f" p{t['priority']}" if t.get("priority") else ""
    blocked = f" ({one(t['blocked_reason'], 80)})" if t.get("blocked_reason") else ""
    return f"#{t['id']} [{t['status']}]{prio} {one(t['title'], 100)}{owner}{waits}{blocked}"


def tasks(items: list[dict], args=None) -> str:
    return "\n".join(task_line(t) for t in items) if items else "no tasks"


def task_detail(t: dict, args=None) -> str:
    lines = [task_line(t)]
    if t["description"]:
        lines.append(c(t["description"], 4000))
    if t["files"]:
        lines.append("files: " + ", ".join(one(f, 100) for f in t["files"]))
    if t.get("dependents"):
        lines.append("needed by: " + ", ".join(f"#{i}" for i in t["dependents"]))
    return "\n".join(lines)


def messages(items: list[dict], args=None) -> str:
    lines = []
    for m in items:
        flags = " URGENT" if m["urgent"] else ""
        reply = f" (reply to #{m['reply_to']})" if m["reply_to"] else ""
        lines.append(f"#{m['id']} {_clock(m['sent_at'])} {one(m['from_name'], 40)} → {one(m['to'], 40)}{flags}"
                     f"{reply}: {c(m['body'], 4000)}")
    return "\n".join(lines)


def decisions(items: list[dict], args=None) -> str:
    if not items:
        return "no decisions yet"
    return "\n".join(f"#{d['id']} {d['at'][:16].replace('T', ' ')} {one(d['agent_name'], 40)}: {c(d['text'], 2000)}"
                     for d in items)


def activity(items: list[dict], args=None) -> str:
    if not items:
        return "no activity"
    return "\n".join(
        f"{_clock(a['at'])} {one(a['agent_name'], 30)} {one(a['type'], 40)}: {one(a['message'], 160)}"
        + (f" [{one(a['file'], 80)}]" if a["file"] else "")
        for a in items
    )


def whoami(d: dict, args=None) -> str:
    name = f"{one(d['name'], 40)} " if d.get("name") else ""
    return f"{name}({d['id']}) — {d['status']}; id from {d['source']}; repository {d['root']}"


def config(data: dict, args=None) -> str:
    return "\n".join(f"{key} = {v['value']!r}  ({v['source']})" for key, v in data.items())


def gc(d: dict, args=None) -> str:
    parts = [f"dropped {d['expired_locks']} expired lock(s), {d['expired_waiters']} expired waiter(s)"]
    if "pruned_activity" in d:
        parts.append(f"pruned {d['pruned_activity']} activity row(s), {d['pruned_messages']} message(s)")
    parts.append("agents: " + (", ".join(f"{n} {s}" for s, n in sorted(d["agents"].items())) or "none"))
    return "\n".join(parts)


def _ago(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 90:
        return f"{seconds}s ago"
    if seconds < 5400:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


def agent_line(a: dict) -> str:
    role = f" — {one(a['role'], 60)}" if a["role"] else ""
    task = f" on #{a['current_task']}" if a["current_task"] else ""
    where = a.get("branch") or (a["worktree"].rstrip("/").rsplit("/", 1)[-1] if a.get("worktree") else "")
    place = f" @{one(where, 40)}" if where else ""
    operator = " (operator)" if a.get("operator") else ""
    last = a.get("last_activity")
    doing = f"; last: {one(last['message'], 60)}" if last and last.get("message") else ""
    return (f"{one(a['name'], 40)} [{a['status']}]{operator}{role}{task}{place} — seen {_ago(a['seen_ago_s'])}"
            f"{doing}")


def status(d: dict, args=None) -> str:
    if "compact" in d:
        return d["compact"]
    me = d["me"]
    lines = [f"agent-sync — {d['root']}", f"you: {one(me.get('name', me['id']), 40)} ({me['id']}) [{me['status']}]", ""]
    active = [a for a in d["agents"] if a["status"] == "active" and not a.get("operator")]  # not the operator
    lines.append(f"agents ({len(active)} active / {len(d['agents'])} total):")
    for a in d["agents"]:
        lines.append(f"  {agent_line(a)}")
    counts = d["task_counts"]
    summary = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items()) or "none"
    lines += ["", f"tasks ({summary}):"]
    lines += [f"  {task_line(t)}" + ("" if t["ready"] or t["status"] != "open" else " (waiting)") for t in d["tasks"]]
    lines += ["", f"locks ({d['lock_count']}):"]
    lines += [f"  {lock_line(v)}" for v in d["locks"]]
    if d["lock_count"] > len(d["locks"]):
        lines.append(f"  … {d['lock_count'] - len(d['locks'])} more (agent-sync locks)")
    if d.get("waiters"):
        lines.append("  waiting:")
        lines += [f"    {waiter_line(w)}" for w in d["waiters"]]
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


# -- one-line confirmations of the operations -------------------------------------------------------------------

def init(d: dict, args=None) -> str:
    return f"agent-sync state ready at {d['path']}"


def registered(d: dict, args=None) -> str:
    return f"registered {c(d['name'])} ({d['id']})" + (f", role {c(d['role'])}" if d["role"] else "")


def heartbeat(d: dict, args=None) -> str:
    return f"{c(d['name'])} is {d['status']}"


def locked(items: list[dict], args=None) -> str:
    return "\n".join(f"locked {lock_line(v)}" for v in items)


def unlocked(items: list[dict], args=None) -> str:
    forced = bool(args is not None and getattr(args, "force", False))
    text = "\n".join(f"unlocked {one(v['target'], 200)}" + (f" (held by {one(v['holder_name'], 60)})" if forced else "")
                     for v in items)
    return text or "you held no locks"


def renewed(items: list[dict], args=None) -> str:
    return "\n".join(f"renewed {lock_line(v)}" for v in items)


def created_task(t: dict, args=None) -> str:
    return f"created {task_line(t)}"


def dependency(t: dict, args=None) -> str:
    if t["waiting_on"]:
        return f"#{t['id']} now waits on " + ", ".join(f"#{i}" for i in t["waiting_on"])
    return f"#{t['id']} dependency recorded (already finished)"


def _released(t: dict) -> str:
    released = t.get("released_locks")
    return ("\nreleased its locks: " + ", ".join(one(x, 80) for x in released)) if released else ""


def claimed(t: dict, args=None) -> str:
    locked_too = " and locked its files" if args is not None and getattr(args, "lock", False) else ""
    return f"claimed {task_line(t)}{locked_too}"


def completed(t: dict, args=None) -> str:
    text = f"completed {task_line(t)}"
    if t["unblocked"]:
        text += "\nunblocked: " + ", ".join(f"#{u['id']} {c(u['title'])}" for u in t["unblocked"])
    return text + _released(t)


def task_changed(t: dict, args=None) -> str:
    return task_line(t) + _released(t)


def sent(m: dict, args=None) -> str:
    return f"sent #{m['id']} to {c(m['to'])}"


def directed(d: dict, args=None) -> str:
    names = ", ".join(one(m.get("to_name") or m["to"], 40) for m in d["messages"])
    return f"directive to {one(d['to'], 60)} reached {d['count']} agent(s): {names}"


def feed_line(e: dict) -> str:
    """One line of the feed (`agent-sync watch`, the console): time (UTC), what, who, and what happened."""
    label = "msg" if e["kind"] == "message" else e["type"]
    where = f" [{one(e['file'], 80)}]" if e.get("file") and e["kind"] == "activity" else ""
    urgent = " URGENT" if e.get("urgent") else ""
    return (f"{(e['at'] or '')[11:19]} {one(label, 10):<9} {one(e['agent_name'], 24):<14}{urgent} "
            f"{one(e['text'], 300)}{where}")


def inbox(items: list[dict], args=None) -> str:
    return messages(items) or "no unread messages"


def one_message(m: dict, args=None) -> str:
    return messages([m])


def acked(m: dict, args=None) -> str:
    return f"acknowledged #{m['id']}"


def decided(d: dict, args=None) -> str:
    return f"recorded decision #{d['id']}"


def logged(a: dict, args=None) -> str:
    return f"logged #{a['id']}"


def appended(d: dict, args=None) -> str:
    if not d["bytes"]:
        return f"nothing to append to {d['file']}: the content is empty"
    return f"appended {d['bytes']} bytes to {d['file']}"
