"""A scripted stand-in for the model API, for driving the real Claude Code CLI offline.

The server answers ``POST /v1/messages`` (streamed as server-sent events or as one JSON body) and
``POST /v1/messages/count_tokens``. Every request body is recorded.

Requests that carry ``tools`` belong to the main agent loop; they are answered from a *script*:
a list of steps, each one of

* :class:`ToolUse` -- the model calls one tool (name + input) and stops with ``tool_use``;
* :class:`Text` -- the model says something and ends its turn (``end_turn``);
* a plain Python callable ``fn(server, request_body)`` -- not sent to the client: it runs in the
  server thread when the request that carries the previous step's ``tool_result`` arrives, i.e.
  after that tool ran (or was blocked) and before the next step is emitted. Use it to snapshot
  state mid-turn. Its return value is appended to ``server.callable_results``.

Which step answers a main-loop request is decided by the conversation itself: the number of
assistant messages already in the request. A retried request therefore gets the same answer
again instead of skipping ahead. Requests without ``tools`` (titles, summaries and the like) get
a short text.

Errors inside the server (a callable that raised, a script that ran out, an unknown path) are
collected in ``server.errors``; call :meth:`FakeModel.check` at the end of a test to surface them.
"""

from __future__ import annotations

import itertools
import json
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_NAME = "claude-fake-e2e"
SIDE_TEXT = "OK"

_ids = itertools.count(1)


@dataclass
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str = field(default_factory=lambda: f"toolu_e2e_{next(_ids):04d}")


@dataclass
class Text:
    text: str


Step = ToolUse | Text | Callable[..., Any]


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _usage(input_tokens: int = 10, output_tokens: int = 5) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _block_for(step: ToolUse | Text) -> dict[str, Any]:
    if isinstance(step, ToolUse):
        return {"type": "tool_use", "id": step.id, "name": step.name, "input": step.input}
    return {"type": "text", "text": step.text}


def _stop_reason_for(step: ToolUse | Text) -> str:
    return "tool_use" if isinstance(step, ToolUse) else "end_turn"


def message_json(step: ToolUse | Text, msg_id: str, model: str) -> dict[str, Any]:
    """The non-streamed Messages API response for one step."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block_for(step)],
        "stop_reason": _stop_reason_for(step),
        "stop_sequence": None,
        "usage": _usage(),
    }


def message_sse(step: ToolUse | Text, msg_id: str, model: str) -> bytes:
    """The streamed Messages API response for one step, as the server-sent-event byte stream."""
    out = [
        _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": _usage(output_tokens=1),
                },
            },
        )
    ]
    if isinstance(step, ToolUse):
        start_block = {"type": "tool_use", "id": step.id, "name": step.name, "input": {}}
        payload = json.dumps(step.input)
        # Split the JSON in two deltas, as the real API streams it in pieces.
        mid = len(payload) // 2
        deltas = [
            {"type": "input_json_delta", "partial_json": part}
            for part in (payload[:mid], payload[mid:])
            if part
        ]
    else:
        start_block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": step.text}]
    out.append(
        _sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start_block})
    )
    for delta in deltas:
        out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason_for(step), "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        )
    )
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return b"".join(out)


def tool_result_text(block: dict[str, Any]) -> str:
    """Flatten a tool_result block's content (a string or a list of blocks) into text."""
    content = block.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for item in content:
        if isinstance(item, dict) and item.get("type") == "text":
            parts.append(item.get("text", ""))
        else:
            parts.append(json.dumps(item))
    return "\n".join(parts)


class FakeModel:
    """The stand-in server. Use as a context manager, or call start() / stop()."""

    def __init__(self, script: list[Step] | None = None) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []  # {"path", "body", "kind"}
        self.errors: list[str] = []
        self.callable_results: list[Any] = []
        self._msg_ids = itertools.count(1)
        self.set_script(script or [Text("Done.")])
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- script -------------------------------------------------------------------------
    def set_script(self, script: list[Step]) -> None:
        """Split the script into emitted steps, each with the callables that run just before it."""
        emitted: list[ToolUse | Text] = []
        before: list[list[Callable[..., Any]]] = []
        pending: list[Callable[..., Any]] = []
        for step in script:
            if isinstance(step, ToolUse | Text):
                emitted.append(step)
                before.append(pending)
                pending = []
            elif callable(step):
                pending.append(step)
            else:
                raise TypeError(f"not a script step: {step!r}")
        if pending:
            # Callables after the last emitted step run when the request after it arrives.
            emitted.append(Text("Done."))
            before.append(pending)
        self._steps = emitted
        self._before = before
        self._ran_before: set[int] = set()

    @property
    def steps(self) -> list[ToolUse | Text]:
        return list(self._steps)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeModel:
        handler = type("Handler", (_Handler,), {"model": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-model", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeModel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- answering ------------------------------------------------------------------------
    def answer(self, body: dict[str, Any]) -> ToolUse | Text:
        """Pick the step for a /v1/messages request (and run callables due before it)."""
        if not body.get("tools"):
            return Text(SIDE_TEXT)
        index = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        if index >= len(self._steps):
            with self.lock:
                self.errors.append(
                    f"script exhausted: main-loop request #{index} but only {len(self._steps)} steps"
                )
            return Text("Done (script exhausted).")
        with self.lock:
            due = index not in self._ran_before
            self._ran_before.add(index)
        if due:
            for fn in self._before[index]:
                try:
                    result = fn(self, body)
                except Exception:
                    with self.lock:
                        self.errors.append(f"script callable {fn!r} raised:\n{traceback.format_exc()}")
                    result = None
                with self.lock:
                    self.callable_results.append(result)
        return self._steps[index]

    def next_msg_id(self) -> str:
        with self.lock:
            return f"msg_e2e_{next(self._msg_ids):04d}"

    # -- inspection -----------------------------------------------------------------------
    def message_bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.requests if r["kind"] == "messages"]

    def main_loop_bodies(self) -> list[dict[str, Any]]:
        return [b for b in self.message_bodies() if b.get("tools")]

    def side_bodies(self) -> list[dict[str, Any]]:
        return [b for b in self.message_bodies() if not b.get("tools")]

    def tool_result(self, tool_use_id: str) -> dict[str, Any] | None:
        """The tool_result block answering ``tool_use_id``, from the recorded requests (latest first)."""
        for body in reversed(self.message_bodies()):
            for msg in body.get("messages", []):
                if msg.get("role") != "user" or not isinstance(msg.get("content"), list):
                    continue
                for block in msg["content"]:
                    if (
                        isinstance(block, dict)
                        and block.get("type") == "tool_result"
                        and block.get("tool_use_id") == tool_use_id
                    ):
                        return block
        return None

    def any_main_loop_request_contains(self, needle: str) -> bool:
        return any(needle in json.dumps(b, ensure_ascii=False) for b in self.main_loop_bodies())

    def check(self) -> None:
        """Raise if anything went wrong inside the server thread."""
        with self.lock:
            errors = list(self.errors)
        if errors:
            raise AssertionError("fake model server errors:\n" + "\n---\n".join(errors))

    def describe(self) -> str:
        """A short account of the recorded traffic, for assertion messages."""
        lines = []
        with self.lock:
            reqs = list(self.requests)
        for i, r in enumerate(reqs):
            body = r["body"] if isinstance(r["body"], dict) else {}
            msgs = body.get("messages", [])
            last = msgs[-1] if msgs else {}
            content = last.get("content")
            if isinstance(content, list):
                kinds = [c.get("type") for c in content if isinstance(c, dict)]
            else:
                kinds = ["str"]
            lines.append(
                f"#{i} {r['path']} kind={r['kind']} tools={bool(body.get('tools'))} "
                f"stream={body.get('stream')} messages={len(msgs)} last={last.get('role')}:{kinds}"
            )
        return "\n".join(lines)


class _Handler(BaseHTTPRequestHandler):
    model: FakeModel
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # silence per-request logging on stderr
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", "req_e2e")
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_json(self, status: int, obj: Any) -> None:
        self._send(status, "application/json", json.dumps(obj).encode())

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        with self.model.lock:
            self.model.requests.append({"path": self.path, "body": None, "kind": "get"})
        if path.rstrip("/") == "/v1/models":
            self._send_json(200, {"data": [{"id": MODEL_NAME, "type": "model"}], "has_more": False})
            return
        self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_unparsed": raw.decode(errors="replace")}
        model = self.model
        if path == "/v1/messages/count_tokens":
            with model.lock:
                model.requests.append({"path": self.path, "body": body, "kind": "count_tokens"})
            self._send_json(200, {"input_tokens": max(1, len(raw) // 4)})
            return
        if path != "/v1/messages":
            with model.lock:
                model.requests.append({"path": self.path, "body": body, "kind": "unknown"})
            self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
            return
        with model.lock:
            model.requests.append({"path": self.path, "body": body, "kind": "messages"})
        try:
            step = model.answer(body)
        except Exception:
            with model.lock:
                model.errors.append(f"answer() raised:\n{traceback.format_exc()}")
            self._send_json(
                500, {"type": "error", "error": {"type": "api_error", "message": "fake model crashed"}}
            )
            return
        msg_id = model.next_msg_id()
        name = body.get("model") or MODEL_NAME
        if body.get("stream"):
            self._send(200, "text/event-stream", message_sse(step, msg_id, name))
        else:
            self._send_json(200, message_json(step, msg_id, name))
