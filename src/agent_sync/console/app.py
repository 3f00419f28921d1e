"""The Textual application of `agent-sync console`.

One worker thread follows the feed (`core.feed.Feed`): it waits on the store's change signal and reads only
what is new (the activity and messages after their cursors; the agents, locks and, when a task or presence
event says so, the task board), then hands the events and the panes' snapshot to the UI thread. An idle
console runs no query: the signal is a cheap check, and statuses are judged again from rows in hand.

Commands run in the UI thread through the operation declarations (`OperatorSession.run`). Everything an agent
wrote passes through `text.clean` and is shown as plain `Text` (never markup).
"""

import asyncio
import os
import signal
import time

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.suggester import Suggester
from textual.widgets import DataTable, Footer, Header, Input, Label, RichLog
from textual.worker import get_current_worker

from agent_sync.console import commands
from agent_sync.console.session import OperatorSession, Panes
from agent_sync.core.feed import Feed
from agent_sync.errors import AgentSyncError
from agent_sync.render import feed_line
from agent_sync.text import clean

BACKLOG = 200  # feed entries shown when the console opens
FEED_KEPT = 2000
AGES_SECONDS = 5.0  # how often "seen" and "time left" are brought up to date (no query)
STATUS_STYLE = {"active": "bold green", "stale": "yellow", "offline": "red", "idle": "dim", "unknown": "dim"}
KIND_STYLE = {"lock": "magenta", "message": "cyan", "presence": "yellow", "activity": ""}
TASK_GROUPS = (("in_progress", "IN PROGRESS"), ("open", "OPEN"), ("blocked", "BLOCKED"), ("done", "DONE"))


def safe(value, limit: int = 60) -> Text:
    """Agent-written text as a terminal may show it: control and escape sequences gone, one line, plain."""
    return Text(clean(value, limit, one_line=True), no_wrap=True, end="")


def ago(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 10:
        return "now"
    if seconds < 90:
        return f"{seconds // 10 * 10}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def left(seconds: float) -> str:
    seconds = int(seconds)
    if seconds <= 0:
        return "expired"
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _word(value: str) -> str:
    return f'"{value}"' if " " in value else value


class CommandSuggester(Suggester):
    """Completes command names, agent names and roles, task titles and paths as the operator types."""

    def __init__(self, vocab: commands.Vocabulary):
        super().__init__(use_cache=False, case_sensitive=True)
        self.vocab = vocab

    async def get_suggestion(self, value: str) -> str | None:
        return commands.suggest(value, self.vocab)


class OperatorConsole(App):
    CSS_PATH = "console.tcss"
    TITLE = "agent-sync console"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("escape", "command_line", "Command line"),
        Binding("l", "lock_selected", "Lock"),
        Binding("u", "unlock_selected", "Unlock"),
        Binding("m", "message_selected", "Message"),
        Binding("d", "done_selected", "Done"),
        Binding("slash", "filter_feed", "Filter"),
    ]

    def __init__(self, session: OperatorSession, *, interval: float = 1.0, backlog: int = BACKLOG):
        super().__init__()
        self.session, self.interval, self.backlog = session, interval, backlog
        self.vocab = commands.Vocabulary(session.ctx.cwd or session.ctx.root)
        self.agents: list[dict] = []
        self.locks: list[dict] = []
        self.waiters: list[dict] = []
        self.tasks: dict = {"items": [], "counts": {}}
        self.last: dict[str, dict] = {}  # each agent's newest log entry
        self.files: dict[str, str] = {}  # each agent's newest file
        self.events: list[dict] = []
        self.filter = ""
        self.now, self.clock = 0.0, time.time()  # the store's time at the last read, and ours then
        self.snapshots = 0  # how many reads reached the panes (tests wait on it)
        self._shown: dict[str, list] = {}

    # -- layout ----------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="")
        with Horizontal(id="top"):
            yield DataTable(id="agents", cursor_type="row")
            yield DataTable(id="locks", cursor_type="row")
        with Horizontal(id="bottom"):
            yield DataTable(id="tasks", cursor_type="row")
            with Vertical(id="feedbox"):
                yield Input(id="filter", placeholder="filter the feed: any text ( / )", select_on_focus=False)
                yield RichLog(id="feed", max_lines=FEED_KEPT, wrap=False, markup=False, highlight=False)
        yield RichLog(id="output", max_lines=500, wrap=True, markup=False, highlight=False)
        with Horizontal(id="prompt"):
            yield Label("operator>", id="prompt-label")
            yield Input(id="command", suggester=CommandSuggester(self.vocab), select_on_focus=False,
                        placeholder="send · directive · lock · unlock · task new|done|block · decision · "
                                    "status · msgs · help · quit")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = clean(f"{self.session.ctx.root} — as {self.session.ctx.name}", 200, one_line=True)
        self.query_one("#agents", DataTable).add_columns("agent", "status", "client", "worktree", "seen", "task",
                                                         "file", "last activity")
        self.query_one("#locks", DataTable).add_columns("target", "holder", "mode", "left", "waiting")
        self.query_one("#tasks", DataTable).add_columns("#", "task", "owner", "needs")
        titles = (("agents", "Agents"), ("locks", "Locks"), ("tasks", "Tasks"), ("feed", "Feed"),
                  ("output", "Console"))
        for widget_id, title in titles:
            self.query_one(f"#{widget_id}").border_title = title
        for line in self.query(Input):
            line.cursor_blink = False  # a blinking cursor repaints twice a second: most of an idle's CPU
        try:
            self.session.join()
        except AgentSyncError as exc:  # the first command registers the operator then
            self.say(Text(clean(str(exc), 300, one_line=True), style="red"))
        self.follow()
        self.set_interval(AGES_SECONDS, self.show_ages)
        if self.session.beats:
            stale = self.session.ctx.settings.stale_minutes * 60
            self.set_interval(max(min(60.0, stale / 3), 1.0), self.beat)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                asyncio.get_running_loop().add_signal_handler(signum, self._on_signal)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or a platform without it
        self.say(Text("agent-sync console — type help; quit (or ctrl+q) leaves and releases your locks",
                      style="dim"))
        self.query_one("#command", Input).focus()

    def _on_signal(self) -> None:
        self.leave()
        self.exit()

    # -- following the feed (worker thread) ------------------------------------------------------------------

    @work(thread=True, exclusive=True, name="feed", group="feed")
    def follow(self) -> None:
        worker = get_current_worker()
        ctx = self.session.reader()
        try:
            feed, panes = Feed(ctx, backlog=self.backlog), Panes(ctx)
            events = feed.start(also=panes.first)
            self._deliver(worker, events, panes.take())
            while not worker.is_cancelled:
                events = feed.next(self.interval, also=panes.changed)
                snapshot = panes.take()
                if events or snapshot is not None:
                    self._deliver(worker, events, snapshot)
        except Exception as exc:  # the panes stop updating; say so, in one line
            if not worker.is_cancelled:
                self._deliver(worker, [], None, error=f"the live view stopped: {type(exc).__name__}: {exc}")
        finally:
            ctx.close()

    def _deliver(self, worker, events, snapshot, error: str | None = None) -> None:
        if worker.is_cancelled:
            return
        try:
            self.call_from_thread(self.apply, events, snapshot, error)
        except Exception:
            pass  # the app is closing

    # -- showing (UI thread) ---------------------------------------------------------------------------------

    def apply(self, events: list[dict], snapshot: dict | None, error: str | None = None) -> None:
        if error:
            self.say(Text(clean(error, 300, one_line=True), style="red"))
        if snapshot is not None:
            self.now, self.clock = snapshot["now"], snapshot["clock"]
            self.agents, self.locks, self.waiters = snapshot["agents"], snapshot["locks"], snapshot["waiters"]
            if snapshot["tasks"] is not None:
                self.tasks = snapshot["tasks"]
            for agent_id, entry in snapshot.get("last", {}).items():
                self.last.setdefault(agent_id, entry)
            for agent_id, path in snapshot.get("files", {}).items():
                self.files.setdefault(agent_id, path)
        for e in events:
            if e["kind"] in ("activity", "lock"):
                self.last[e["agent"]] = {"type": e["type"], "text": e["text"], "file": e.get("file"),
                                         "at": e["at"]}
                if e.get("file"):
                    self.files[e["agent"]] = e["file"]
        self.events = (self.events + events)[-FEED_KEPT:]
        if snapshot is not None:
            self.snapshots += 1
            self.show_agents()
            self.show_locks()
            self.show_tasks()
            self._update_vocabulary()
        if events:
            feed = self.query_one("#feed", RichLog)
            for e in events:
                if self._matches(e):
                    feed.write(self._feed_text(e))

    def _update_vocabulary(self) -> None:
        self.vocab.names = [a["name"] for a in self.agents if not a["operator"]]
        self.vocab.roles = sorted({a["role"] for a in self.agents if a["role"]} - set(self.vocab.names))
        self.vocab.tasks = [(t["id"], t["title"]) for t in self.tasks["items"] if t["status"] != "done"]
        self.vocab.held = [v["target"] for v in self.locks]
        known = [p for p in self.files.values() if p]
        known += [f for t in self.tasks["items"] for f in t["files"]]
        self.vocab.files = list(dict.fromkeys(known))

    def _store_now(self) -> float:
        return self.now + (time.time() - self.clock)

    def _fill(self, table_id: str, rows: list[tuple[str, list]]) -> None:
        """Replace a table's rows, keeping the cursor on the same row; nothing is done if nothing changed."""
        plain = [(key, [c.plain if isinstance(c, Text) else str(c) for c in cells]) for key, cells in rows]
        before = self._shown.get(table_id)
        if before == plain:
            return
        self._shown[table_id] = plain
        table = self.query_one(f"#{table_id}", DataTable)
        if before is not None and [k for k, _ in before] == [k for k, _ in plain]:
            for index, ((_key, old), (_key2, new), (_key3, cells)) in enumerate(zip(before, plain, rows,
                                                                                       strict=True)):
                for column, (was, now) in enumerate(zip(old, new, strict=True)):
                    if was != now:  # the same rows: change only the cells that differ (the ages, mostly)
                        table.update_cell_at(Coordinate(index, column), cells[column])
            return
        keep = self.selected_key(table_id, focused_only=False)
        scroll = table.scroll_y
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        keys = [key for key, _ in rows]
        if keep in keys:
            table.move_cursor(row=keys.index(keep), animate=False)
        table.scroll_y = min(scroll, table.max_scroll_y)

    def _title(self, widget_id: str, title: str) -> None:
        widget = self.query_one(f"#{widget_id}")
        if widget.border_title != title:  # setting it repaints, even to the same text
            widget.border_title = title

    def show_agents(self) -> None:
        now = self._store_now()
        titles = {t["id"]: t["title"] for t in self.tasks["items"]}
        rows = []
        for a in self.agents:
            task = a["current_task"]
            task_text = f"#{task} {clean(titles.get(task, ''), 24, one_line=True)}".strip() if task else ""
            last = self.last.get(a["id"])
            doing = f"{last['type']}: {last['text']}" if last else ""
            where = a.get("branch") or (os.path.basename((a.get("worktree") or "").rstrip("/")))
            rows.append((a["id"], [
                Text(clean(a["name"], 24, one_line=True), style="bold" if not a["operator"] else "italic",
                     no_wrap=True),
                Text(a["status"], style=STATUS_STYLE.get(a["status"], "")), safe(a["client"] or "-", 12),
                safe(where, 20), ago(now - a["last_seen_ts"]), safe(task_text, 26),
                safe(a.get("editing") or self.files.get(a["id"], ""), 32), safe(doing, 60),
            ]))
        active = sum(1 for a in self.agents if a["status"] == "active" and not a["operator"])
        others = sum(1 for a in self.agents if not a["operator"])
        self._title("agents", f"Agents ({active} active / {others})")
        self._fill("agents", rows)

    def show_locks(self) -> None:
        now = self._store_now()
        rows = []
        queued = set()
        for v in self.locks:
            queued.update(v["queue"])
            mode = v["mode"] + (" lease" if v["lease"] else "")
            rows.append((f"lock:{v['id']}", [safe(v["target"], 48), safe(v["holder_name"], 24), mode,
                                             left(v["expires_ts"] - now), safe(", ".join(v["queue"]), 40)]))
        for w in self.waiters:
            if w["agent_name"] not in queued:
                rows.append((f"wait:{w['id']}", [safe(w["target"], 48), Text("(queued)", style="dim"),
                                                 w["mode"], "", safe(w["agent_name"], 40)]))
        self._title("locks", f"Locks ({len(self.locks)})")
        self._fill("locks", rows)

    def show_tasks(self) -> None:
        rows = []
        items = self.tasks["items"]
        counts = self.tasks["counts"]
        for status, title in TASK_GROUPS:
            group = [t for t in items if t["status"] == status]
            if not group and not counts.get(status):
                continue
            shown = f"{title} ({counts.get(status, len(group))})"
            rows.append((f"group:{status}", [Text("", end=""), Text(shown, style="bold underline"), "", ""]))
            for t in group:
                needs = " ".join(f"#{d}{'✓' if s in ('done', 'cancelled') else ''}" for d, s in t["deps"])
                name = clean(t["title"], 40, one_line=True)
                if t.get("blocked_reason"):
                    name += f" — {clean(t['blocked_reason'], 30, one_line=True)}"
                style = "dim" if status == "done" else ("yellow" if t["waiting_on"] else "")
                rows.append((f"task:{t['id']}", [str(t["id"]), Text(name, style=style, no_wrap=True),
                                                 safe(t["owner_name"] or "", 20), needs]))
        cancelled = counts.get("cancelled")
        self._title("tasks", "Tasks" + (f" ({cancelled} cancelled)" if cancelled else ""))
        self._fill("tasks", rows)

    def show_ages(self) -> None:
        if self.agents:
            self.show_agents()
        if self.locks:
            self.show_locks()

    def _feed_text(self, e: dict) -> Text:
        return Text(feed_line(e), style=KIND_STYLE.get(e["kind"], ""), no_wrap=True, end="")

    def _matches(self, e: dict) -> bool:
        return not self.filter or self.filter in feed_line(e).lower()

    def show_feed(self) -> None:
        feed = self.query_one("#feed", RichLog)
        feed.clear()
        for e in self.events:
            if self._matches(e):
                feed.write(self._feed_text(e))
        shown = clean(self.filter, 40, one_line=True)
        self._title("feed", f"Feed — filter: {shown}" if self.filter else "Feed")

    def say(self, text) -> None:
        """A line (or lines) in the console pane."""
        out = self.query_one("#output", RichLog)
        if isinstance(text, Text):
            out.write(text)
            return
        for line in str(text).splitlines() or [""]:
            out.write(Text(clean(line, 2000), end=""))

    # -- the command line ------------------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "command":
            line = event.value
            event.input.value = ""
            self.execute(line)
        elif event.input.id == "filter":
            self.query_one("#feed", RichLog).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter = event.value.strip().lower()
            self.show_feed()

    def execute(self, line: str) -> None:
        """Run one operator command line and show its answer."""
        if not line.strip():
            return
        self.say(Text(f"operator> {clean(line, 500, one_line=True)}", style="bold"))
        try:
            command = commands.parse(line)
            if command is None:
                return
            if command.local == "help":
                self.say(commands.help_text())
            elif command.local == "quit":
                self.leave()
                self.exit()
            elif self.session.left:
                self.say(Text("the operator has left", style="red"))
            else:
                text, _ = self.session.run(command.op, command.values)
                self.say(text or "done")
        except AgentSyncError as exc:
            self.say(Text(clean(str(exc), 1000, one_line=True), style="red"))
        except Exception as exc:  # a bug: one line, the console goes on
            self.say(Text(f"internal error: {type(exc).__name__}: {clean(str(exc), 500, one_line=True)}",
                          style="red"))

    def run_operation(self, echo: str, op: str, values: dict) -> None:
        """A key binding's action: an operation with values already known, shown like a typed command."""
        self.say(Text(f"operator> {clean(echo, 500, one_line=True)}", style="bold"))
        try:
            text, _ = self.session.run(op, values)
            self.say(text or "done")
        except AgentSyncError as exc:
            self.say(Text(clean(str(exc), 1000, one_line=True), style="red"))

    # -- selected rows and key bindings ----------------------------------------------------------------------

    def selected_key(self, table_id: str, *, focused_only: bool = True) -> str | None:
        table = self.query_one(f"#{table_id}", DataTable)
        if (focused_only and self.focused is not table) or not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    def _selected(self) -> tuple[str, object] | tuple[None, None]:
        """(pane, the row's record) of the focused pane's cursor row."""
        for table_id in ("agents", "locks", "tasks"):
            key = self.selected_key(table_id)
            if key is None:
                continue
            if table_id == "agents":
                return table_id, next((a for a in self.agents if a["id"] == key), None)
            kind, _, ident = key.partition(":")
            if kind == "lock":
                return table_id, next((v for v in self.locks if str(v["id"]) == ident), None)
            if kind == "task":
                return table_id, next((t for t in self.tasks["items"] if str(t["id"]) == ident), None)
            return table_id, None
        return None, None

    def _hint(self, text: str) -> None:
        self.say(Text(text, style="yellow"))

    def action_lock_selected(self) -> None:
        pane, row = self._selected()
        if pane == "agents" and row is not None:
            path = row.get("editing") or self.files.get(row["id"])
            if not path:
                return self._hint(f"{clean(row['name'], 40, one_line=True)} has no current file to lock")
            return self.run_operation(f"lock {path}", "lock",
                                      {"targets": [path], "reason": "held by the operator"})
        if pane == "tasks" and row is not None:
            if not row["files"]:
                return self._hint(f"task #{row['id']} names no files to lock")
            return self.run_operation(f"lock {' '.join(row['files'])}", "lock",
                                      {"targets": row["files"], "reason": f"operator: task #{row['id']}"})
        if pane == "locks" and row is not None:
            return self._hint(f"{clean(row['target'], 60, one_line=True)} is locked already; u unlocks it")
        self._hint("select an agent (its current file) or a task (its files) to lock, in its pane")

    def action_unlock_selected(self) -> None:
        pane, row = self._selected()
        if pane == "locks" and row is not None:
            target = row["target"]
            if row["kind"] == "resource":
                values = {"resource": [target.split(":", 1)[1]], "force": True}
            else:
                values = {"targets": [target], "force": True}
            return self.run_operation(f"unlock {target}", "unlock", values)
        if pane == "agents" and row is not None:
            path = row.get("editing") or self.files.get(row["id"])
            held = next((v for v in self.locks if v["target"] == path), None) if path else None
            if held is not None:
                return self.run_operation(f"unlock {path}", "unlock", {"targets": [path], "force": True})
        self._hint("select a lock in the Locks pane to unlock it")

    def action_message_selected(self) -> None:
        pane, row = self._selected()
        who = None
        if pane == "agents" and row is not None:
            who = (row["name"], row["id"])
        elif pane == "locks" and row is not None:
            who = (row["holder_name"], row["holder"])
        elif pane == "tasks" and row is not None and row["owner"]:
            who = (row["owner_name"], row["owner"])
        if who is None:
            return self._hint("select an agent, a lock or an owned task to message")
        name, agent_id = who
        to = _word(name) if clean(name, None, one_line=True) == name else f"id:{agent_id}"
        command = self.query_one("#command", Input)
        command.value = f"send {to} "
        command.focus()
        command.cursor_position = len(command.value)

    def action_done_selected(self) -> None:
        pane, row = self._selected()
        if pane == "tasks" and row is not None:
            if row["status"] == "done":
                return self._hint(f"task #{row['id']} is done already")
            return self.run_operation(f"task done #{row['id']}", "complete-task",
                                      {"task": f"#{row['id']}", "force": True})
        self._hint("select a task in the Tasks pane to complete it")

    def action_filter_feed(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_command_line(self) -> None:
        self.query_one("#command", Input).focus()

    def beat(self) -> None:
        if not self.session.left:
            try:
                self.session.run("heartbeat", {})
            except AgentSyncError:
                pass

    def leave(self) -> None:
        """Release what the operator holds and end its session (once)."""
        try:
            text = self.session.leave()
            if text:
                self.say(text)
        except AgentSyncError as exc:
            self.say(Text(clean(str(exc), 500, one_line=True), style="red"))

    async def action_quit(self) -> None:
        self.leave()
        self.exit()

    def on_unmount(self) -> None:
        self.workers.cancel_group(self, "feed")


def run(name: str | None = None, interval: float | None = None) -> int:
    """`agent-sync console`: run until quit; the operator's locks are released however it ends."""
    session = OperatorSession(name)
    try:
        OperatorConsole(session, interval=interval or 1.0).run()
    finally:
        try:
            session.leave()
        except AgentSyncError as exc:
            import sys

            print(f"agent-sync: {clean(str(exc), 300, one_line=True)}", file=sys.stderr)
    return 0
