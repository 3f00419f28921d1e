"""A scripted stand-in for an OpenAI-compatible chat-completions API, for driving GitHub Copilot CLI offline.

With `COPILOT_PROVIDER_BASE_URL` (and `COPILOT_OFFLINE=true`) Copilot CLI talks to this server instead of
GitHub: `POST {base}/chat/completions`, streamed (`chat.completion.chunk` server-sent events, then
`data: [DONE]`), and `GET {base}/models`. Every request body is recorded.

Requests that carry `tools` belong to the agent loop and are answered from a *script*: a list of steps, each
one of

* :class:`FunctionCall` -- the model calls one tool (`name` + `args`, e.g. `bash`, `create`, `edit`);
* :class:`Text` -- the model says something and ends its turn;
* a plain Python callable `fn(server, request_body)` -- not sent: it runs in the server thread when the request
  that carries the previous step's tool result arrives, before the next step is emitted.

The step for a request is the number of assistant messages already in its `messages`, so a retried request
gets the same answer. Requests without tools (titles and other side requests) get a short text. Errors inside
the server are collected in `errors`; call :meth:`FakeChat.check` at the end of a test.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_NAME = "gpt-4.1"
SIDE_TEXT = "OK"

_ids = itertools.count(1)


@dataclass
class FunctionCall:
    name: str
    args: dict[str, Any]
    id: str = field(default_factory=lambda: f"call_e2e_{next(_ids):04d}")


@dataclass
class Text:
    text: str


Step = FunctionCall | Text | Callable[..., Any]


class FakeChat:
    """The stand-in server. Use as a context manager."""

    def __init__(self, script: list[Step] | None = None) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.callable_results: list[Any] = []
        self.set_script(script or [Text("Done.")])
        self._httpd: ThreadingHTTPServer | None = None

    def set_script(self, script: list[Step]) -> None:
        emitted: list[FunctionCall | Text] = []
        before: list[list[Callable[..., Any]]] = []
        pending: list[Callable[..., Any]] = []
        for step in script:
            if isinstance(step, FunctionCall | Text):
                emitted.append(step)
                before.append(pending)
                pending = []
            elif callable(step):
                pending.append(step)
            else:
                raise TypeError(f"not a script step: {step!r}")
        if pending:
            emitted.append(Text("Done."))
            before.append(pending)
        self._steps, self._before, self._ran = emitted, before, set()

    def __enter__(self) -> FakeChat:
        handler = type("Handler", (_Handler,), {"model": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="fake-chat", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def answer(self, body: dict[str, Any]) -> FunctionCall | Text:
        if not body.get("tools"):
            return Text(SIDE_TEXT)
        index = sum(1 for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "assistant")
        if index >= len(self._steps):
            with self.lock:
                self.errors.append(f"script exhausted: request #{index} but only {len(self._steps)} steps")
            return Text("Done (script exhausted).")
        with self.lock:
            due = index not in self._ran
            self._ran.add(index)
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

    # -- inspection -------------------------------------------------------------------------------
    def main_loop_bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.requests if isinstance(r["body"], dict) and r["body"].get("tools")]

    def tool_names(self) -> list[str]:
        bodies = self.main_loop_bodies()
        if not bodies:
            return []
        names = []
        for tool in bodies[0].get("tools") or []:
            names.append((tool.get("function") or tool.get("custom") or {}).get("name") or tool.get("name"))
        return names

    def tool_result(self, call: FunctionCall | str) -> str | None:
        """The content of the tool message answering `call`, from the recorded requests."""
        call_id = call.id if isinstance(call, FunctionCall) else call
        for body in reversed(self.main_loop_bodies()):
            for message in body.get("messages") or []:
                if isinstance(message, dict) and message.get("role") == "tool" and message.get("tool_call_id") == call_id:
                    return _text(message.get("content"))
        return None

    def messages(self, role: str) -> list[str]:
        """Texts of the `role` messages of the last agent-loop request."""
        bodies = self.main_loop_bodies()
        if not bodies:
            return []
        return [_text(m.get("content")) for m in bodies[-1].get("messages") or []
                if isinstance(m, dict) and m.get("role") == role]

    def any_request_contains(self, needle: str) -> bool:
        return any(needle in json.dumps(b, ensure_ascii=False) for b in self.main_loop_bodies())

    def check(self) -> None:
        with self.lock:
            errors = list(self.errors)
        if errors:
            raise AssertionError("fake chat server errors:\n" + "\n---\n".join(errors))

    def describe(self) -> str:
        lines = []
        with self.lock:
            requests = list(self.requests)
        for i, r in enumerate(requests):
            body = r["body"] if isinstance(r["body"], dict) else {}
            messages = body.get("messages") or []
            last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
            lines.append(f"#{i} {r['method']} {r['path']} tools={bool(body.get('tools'))} messages={len(messages)} "
                         f"last={last.get('role')}:{_text(last.get('content'))[:120]!r}")
        return "\n".join(lines)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _chunks(step: FunctionCall | Text, model: str) -> list[dict[str, Any]]:
    created = int(time.time())
    base = {"id": f"chatcmpl-e2e-{next(_ids)}", "object": "chat.completion.chunk", "created": created, "model": model}
    if isinstance(step, FunctionCall):
        call = {"index": 0, "id": step.id, "type": "function",
                "function": {"name": step.name, "arguments": json.dumps(step.args)}}
        delta: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        delta, finish = {"role": "assistant", "content": step.text}, "stop"
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    return [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
            {**base, "choices": [], "usage": usage}]


class _Handler(BaseHTTPRequestHandler):
    model: FakeChat

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self, body: Any) -> None:
        with self.model.lock:
            self.model.requests.append({"method": self.command, "path": self.path, "body": body})

    def _json(self, obj: Any, status: int = 200) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/").endswith("/models"):
            self._json({"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "e2e"}]})
        else:
            self._json({"error": "not found"}, 404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
            with self.model.lock:
                self.model.errors.append(f"undecodable body on {self.path}")
        self._record(body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json({"error": "not found"}, 404)
            return
        step = self.model.answer(body if isinstance(body, dict) else {})
        model = body.get("model", MODEL_NAME) if isinstance(body, dict) else MODEL_NAME
        if not (isinstance(body, dict) and body.get("stream")):
            message: dict[str, Any] = {"role": "assistant", "content": step.text if isinstance(step, Text) else None}
            if isinstance(step, FunctionCall):
                message["tool_calls"] = [{"id": step.id, "type": "function",
                                          "function": {"name": step.name, "arguments": json.dumps(step.args)}}]
            finish = "tool_calls" if isinstance(step, FunctionCall) else "stop"
            self._json({"id": "chatcmpl-e2e", "object": "chat.completion", "created": int(time.time()), "model": model,
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for chunk in _chunks(step, model):
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
