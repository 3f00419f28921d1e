"""`agent-sync watch [--json] [--since ID]`: the feed (`core.feed`) on stdout, for a terminal without a TUI,
for logs, and for other tools.

A line per event, its text cleaned of control and escape sequences; with `--json`, one JSON object per line in
the feed's stable shape (pure ASCII: anything else is escaped, so the stream itself cannot drive a terminal).
It ends with exit 0 on SIGINT, SIGTERM and when the reader of a pipe goes away, even while nothing happens.
"""

import json
import os
import sys

WAIT_SECONDS = 0.5  # how often a quiet watch looks whether its reader is still there


def _reader_gone(stream) -> bool:
    """Has the read end of our stdout pipe been closed (POLLERR/POLLHUP on the write end)?"""
    import select

    try:
        poller = select.poll()
        poller.register(stream.fileno(), 0)  # error conditions are always reported
        return any(mask & (select.POLLERR | select.POLLHUP) for _fd, mask in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def _silence(stream) -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not complain about the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def line(event: dict, as_json: bool) -> str:
    if as_json:
        return json.dumps(event, ensure_ascii=True, separators=(", ", ": "))
    from agent_sync.render import feed_line

    return feed_line(event)


def watch(ctx, *, since: int | None = None, as_json: bool = False, stream=None, wait: float = WAIT_SECONDS,
          until=None) -> int:
    """Write the feed to `stream` until interrupted, the reader goes away, or `until()` is true."""
    from agent_sync.core.feed import Feed

    stream = sys.stdout if stream is None else stream
    feed = Feed(ctx, since=since)
    batch = feed.start()
    try:
        while True:
            if batch:
                stream.write("".join(line(e, as_json) + "\n" for e in batch))
                stream.flush()
            if _reader_gone(stream) or (until is not None and until()):
                _silence(stream)
                return 0
            batch = feed.next(wait)
    except BrokenPipeError:
        _silence(stream)
        return 0


def cli_watch(args) -> int:
    from agent_sync.core.context import open_context

    try:
        with open_context() as ctx:
            return watch(ctx, since=args.since, as_json=args.json)
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM (the CLI turns it into the same)
        return 0
    except BrokenPipeError:
        _silence(sys.stdout)
        return 0
