"""A scripted stand-in for the OpenAI Responses API, for driving the real Codex CLI offline.

Codex (``codex exec``) talks to a custom model provider (``[model_providers.x]`` in its
``config.toml``, ``wire_api = "responses"``) with ``POST {base_url}/responses``, always streamed
as server-sent events. Each request carries the whole conversation in ``input`` (``store`` is
false, no ``previous_response_id``). The server answers with ``response.created``,
``response.output_item.added``, (``response.output_text.delta``), ``response.output_item.done``
and ``response.completed``; Codex fails the turn if the stream ends without
``response.completed``. Every request body is recorded.

Requests that carry ``tools`` belong to the main agent loop; they are answered from a *script*:
a list of steps, each one of

* :class:`FunctionCall` -- the model calls a JSON function tool, e.g. ``exec_command`` (the
  unified-exec shell tool; see :func:`exec_command`);
* :class:`CustomToolCall` -- the model calls a freeform tool, e.g. ``apply_patch`` (see
  :func:`apply_patch`), whose input is raw text;
* :class:`Text` -- the model says something and ends its turn;
* a plain Python callable ``fn(server, request_body)`` -- not sent to the client: it runs in the
  server thread when the request that carries the previous step's tool output arrives, i.e.
  after that tool ran (or was blocked) and before the next step is emitted. Use it to snapshot
  state mid-turn. Its return value is appended to ``server.callable_results``.

Which step answers a main-loop request is decided by the conversation itself: the number of
model-authored items (assistant messages, function and custom tool calls) already in the
request's ``input``. A retried request therefore gets the same answer again instead of skipping
ahead. Requests without ``tools`` get a short text.

Errors inside the server (a callable that raised, a script that ran out, an unknown path, a body
that could not be decoded) are collected in ``server.errors``; call :meth:`FakeOpenAI.check` at
the end of a test to surface them.
"""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
import subprocess
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A model slug from Codex's bundled catalog: with it Codex offers the freeform ``apply_patch``
# tool and the ``exec_command`` shell tool. An unknown slug gets "fallback metadata", which
# offers no apply_patch tool at all.
MODEL_NAME = "gpt-5.5"
SIDE_TEXT = "OK"

# Items in a request's ``input`` that the model wrote (one per scripted step).
MODEL_ITEM_TYPES = {"function_call", "custom_tool_call", "local_shell_call"}
OUTPUT_ITEM_TYPES = {"function_call_output", "custom_tool_call_output", "local_shell_call_output"}

_ids = itertools.count(1)


@dataclass
class FunctionCall:
    """A call of a JSON-argument function tool (``exec_command``, ``write_stdin``, ...)."""

    name: str
    arguments: dict[str, Any]
    call_id: str = field(default_factory=lambda: f"call_e2e_{next(_ids):04d}")

    def item(self, item_id: str) -> dict[str, Any]:
        return {
            "type": "function_call",
            "id": item_id,
            "status": "completed",
            "call_id": self.call_id,
            "name": self.name,
            "arguments": json.dumps(self.arguments),
        }


@dataclass
class CustomToolCall:
    """A call of a freeform (grammar) tool; Codex's ``apply_patch`` is one."""

    name: str
    input: str
    call_id: str = field(default_factory=lambda: f"call_e2e_{next(_ids):04d}")

    def item(self, item_id: str) -> dict[str, Any]:
        return {
            "type": "custom_tool_call",
            "id": item_id,
            "status": "completed",
            "call_id": self.call_id,
            "name": self.name,
            "input": self.input,
        }


@dataclass
class Text:
    text: str

    def item(self, item_id: str) -> dict[str, Any]:
        return {
            "type": "message",
            "id": item_id,
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": self.text, "annotations": []}],
        }


ToolCall = FunctionCall | CustomToolCall
Emitted = FunctionCall | CustomToolCall | Text
Step = Emitted | Callable[..., Any]


def exec_command(cmd: str, **extra: Any) -> FunctionCall:
    """The model runs ``cmd`` through Codex's shell tool (``exec_command``, unified exec)."""
    return FunctionCall("exec_command", {"cmd": cmd, **extra})


def apply_patch(patch: str) -> CustomToolCall:
    """The model calls Codex's freeform ``apply_patch`` tool with a ``*** Begin Patch`` body."""
    return CustomToolCall("apply_patch", patch)


def update_file_patch(path: str, old: str, new: str) -> str:
    """An apply_patch body replacing the line ``old`` of ``path`` by ``new``."""
    return f"*** Begin Patch\n*** Update File: {path}\n@@\n-{old}\n+{new}\n*** End Patch\n"


def add_file_patch(path: str, lines: list[str]) -> str:
    body = "".join(f"+{line}\n" for line in lines)
    return f"*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch\n"


def _sse(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _usage() -> dict[str, Any]:
    return {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }


def response_sse(step: Emitted, resp_id: str, model: str) -> bytes:
    """The streamed Responses API answer for one step, as the server-sent-event byte stream."""
    item_id = f"{'msg' if isinstance(step, Text) else 'fc'}_{resp_id}"
    item = step.item(item_id)
    base = {"id": resp_id, "object": "response", "model": model, "output": []}
    out = [
        _sse({"type": "response.created", "response": {**base, "status": "in_progress"}}),
        _sse(
            {
                "type": "response.in_progress",
                "response": {**base, "status": "in_progress"},
            }
        ),
    ]
    added = dict(item, status="in_progress")
    if isinstance(step, Text):
        added["content"] = []
    out.append(_sse({"type": "response.output_item.added", "output_index": 0, "item": added}))
    if isinstance(step, Text):
        out.append(
            _sse(
                {
                    "type": "response.output_text.delta",
                    "item_id": item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": step.text,
                }
            )
        )
    out.append(_sse({"type": "response.output_item.done", "output_index": 0, "item": item}))
    out.append(
        _sse(
            {
                "type": "response.completed",
                "response": {**base, "status": "completed", "output": [item], "usage": _usage()},
            }
        )
    )
    return b"".join(out)


def output_text(item: dict[str, Any]) -> str:
    """Flatten a ``function_call_output`` / ``custom_tool_call_output`` item's output into text."""
    output = item.get("output")
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    if isinstance(output, dict):  # older shape: {"content": ..., "success": ...}
        content = output.get("content")
        return content if isinstance(content, str) else json.dumps(output)
    parts = []
    for part in output:
        if isinstance(part, dict) and "text" in part:
            parts.append(part.get("text", ""))
        else:
            parts.append(json.dumps(part))
    return "\n".join(parts)


def message_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(
        part.get("text", "") for part in content or [] if isinstance(part, dict) and "text" in part
    )


def _decode_body(raw: bytes, encoding: str) -> bytes:
    encoding = encoding.lower().strip()
    if not encoding or encoding == "identity":
        return raw
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "zstd":
        try:
            import zstandard  # type: ignore[import-not-found]

            return zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        except ImportError:
            pass
        zstd = shutil.which("zstd")
        if zstd is None:
            raise ValueError("zstd-compressed request and neither zstandard nor zstd is available")
        return subprocess.run([zstd, "-d", "-c"], input=raw, capture_output=True, check=True).stdout
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


class FakeOpenAI:
    """The stand-in server. Use as a context manager, or call start() / stop()."""

    def __init__(self, script: list[Step] | None = None) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []  # {"method", "path", "headers", "body", "kind"}
        self.errors: list[str] = []
        self.callable_results: list[Any] = []
        self._resp_ids = itertools.count(1)
        self.set_script(script or [Text("Done.")])
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- script -------------------------------------------------------------------------
    def set_script(self, script: list[Step]) -> None:
        """Split the script into emitted steps, each with the callables that run just before it."""
        emitted: list[Emitted] = []
        before: list[list[Callable[..., Any]]] = []
        pending: list[Callable[..., Any]] = []
        for step in script:
            if isinstance(step, FunctionCall | CustomToolCall | Text):
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
        self._steps = emitted
        self._before = before
        self._ran_before: set[int] = set()

    @property
    def steps(self) -> list[Emitted]:
        return list(self._steps)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        handler = type("Handler", (_Handler,), {"model": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """The provider ``base_url`` for Codex's config (Codex appends ``/responses``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- answering ------------------------------------------------------------------------
    @staticmethod
    def step_index(body: dict[str, Any]) -> int:
        count = 0
        for item in body.get("input") or []:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind in MODEL_ITEM_TYPES or (kind == "message" and item.get("role") == "assistant"):
                count += 1
        return count

    def answer(self, body: dict[str, Any]) -> Emitted:
        """Pick the step for a /v1/responses request (and run callables due before it)."""
        if not body.get("tools"):
            return Text(SIDE_TEXT)
        index = self.step_index(body)
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

    def next_resp_id(self) -> str:
        with self.lock:
            return f"resp_e2e_{next(self._resp_ids):04d}"

    # -- inspection -----------------------------------------------------------------------
    def response_bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.requests if r["kind"] == "responses"]

    def main_loop_bodies(self) -> list[dict[str, Any]]:
        return [b for b in self.response_bodies() if b.get("tools")]

    def tool_names(self) -> list[str]:
        """Names of the tools offered in the first main-loop request."""
        bodies = self.main_loop_bodies()
        if not bodies:
            return []
        names = []
        for tool in bodies[0].get("tools", []):
            names.append(tool.get("name") or tool.get("type"))
        return names

    def tool_output(self, call_id: str) -> dict[str, Any] | None:
        """The ``*_call_output`` item answering ``call_id``, from the recorded requests (latest first)."""
        for body in reversed(self.response_bodies()):
            for item in body.get("input") or []:
                if (
                    isinstance(item, dict)
                    and item.get("type") in OUTPUT_ITEM_TYPES
                    and item.get("call_id") == call_id
                ):
                    return item
        return None

    def tool_output_text(self, call_id: str) -> str | None:
        item = self.tool_output(call_id)
        return None if item is None else output_text(item)

    def hook_context(self, call_id: str) -> list[str]:
        """Texts Codex inserted around ``call_id``: developer messages between the call and its output.

        That is where PreToolUse / PostToolUse ``additionalContext`` ends up.
        """
        for body in reversed(self.response_bodies()):
            items = [i for i in body.get("input") or [] if isinstance(i, dict)]
            start = next(
                (n for n, i in enumerate(items) if i.get("type") in MODEL_ITEM_TYPES and i.get("call_id") == call_id),
                None,
            )
            end = next(
                (n for n, i in enumerate(items) if i.get("type") in OUTPUT_ITEM_TYPES and i.get("call_id") == call_id),
                None,
            )
            if start is not None and end is not None:
                return [
                    message_text(i)
                    for i in items[start + 1 : end]
                    if i.get("type") == "message" and i.get("role") == "developer"
                ]
        return []

    def messages(self, role: str, body: dict[str, Any] | None = None) -> list[str]:
        """Texts of the ``role`` messages (``developer``, ``user``, ``assistant``) in one request (default: the last)."""
        if body is None:
            bodies = self.main_loop_bodies()
            if not bodies:
                return []
            body = bodies[-1]
        return [
            message_text(i)
            for i in body.get("input") or []
            if isinstance(i, dict) and i.get("type") == "message" and i.get("role") == role
        ]

    def any_main_loop_request_contains(self, needle: str) -> bool:
        return any(needle in json.dumps(b, ensure_ascii=False) for b in self.main_loop_bodies())

    def check(self) -> None:
        """Raise if anything went wrong inside the server thread."""
        with self.lock:
            errors = list(self.errors)
        if errors:
            raise AssertionError("fake OpenAI server errors:\n" + "\n---\n".join(errors))

    def describe(self) -> str:
        """A short account of the recorded traffic, for assertion messages."""
        lines = []
        with self.lock:
            reqs = list(self.requests)
        for i, r in enumerate(reqs):
            body = r["body"] if isinstance(r["body"], dict) else {}
            items = body.get("input") or []
            last = items[-1] if items and isinstance(items[-1], dict) else {}
            lines.append(
                f"#{i} {r['method']} {r['path']} kind={r['kind']} tools={bool(body.get('tools'))} "
                f"items={len(items)} step={self.step_index(body) if body else '-'} "
                f"last={last.get('type')}:{last.get('role') or last.get('call_id') or ''}"
            )
        return "\n".join(lines)


class _Handler(BaseHTTPRequestHandler):
    model: FakeOpenAI
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
        self.send_header("x-request-id", "req_e2e")
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_json(self, status: int, obj: Any) -> None:
        self._send(status, "application/json", json.dumps(obj).encode())

    def _record(self, body: Any, kind: str) -> None:
        with self.model.lock:
            self.model.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "kind": kind,
                }
            )

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        self._record(None, "get")
        if path.endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}], "models": []})
            return
        self._send_json(404, {"error": {"type": "not_found", "message": path}})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        model = self.model
        raw = self._read_body()
        try:
            raw = _decode_body(raw, self.headers.get("Content-Encoding", ""))
            body = json.loads(raw) if raw else {}
        except (ValueError, OSError, subprocess.CalledProcessError) as exc:
            body = {"_unparsed": raw[:2000].decode(errors="replace")}
            with model.lock:
                model.errors.append(f"could not decode request body for {path}: {exc}")
        if not path.endswith("/responses"):
            self._record(body, "unknown")
            self._send_json(404, {"error": {"type": "not_found", "message": path}})
            return
        self._record(body, "responses")
        try:
            step = model.answer(body)
        except Exception:
            with model.lock:
                model.errors.append(f"answer() raised:\n{traceback.format_exc()}")
            self._send_json(500, {"error": {"type": "server_error", "message": "fake model crashed"}})
            return
        resp_id = model.next_resp_id()
        name = body.get("model") or MODEL_NAME
        self._send(200, "text/event-stream", response_sse(step, resp_id, name))
