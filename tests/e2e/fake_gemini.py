"""A scripted stand-in for the Gemini API, for driving the real Gemini CLI offline.

The Gemini CLI (``@google/gemini-cli``) talks to ``$GOOGLE_GEMINI_BASE_URL`` with the
``@google/genai`` SDK. This server answers what it sends:

* ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` -- the agent loop (and some side
  calls), answered as server-sent events, one ``data: {GenerateContentResponse}`` chunk;
* ``POST /v1beta/models/{model}:generateContent`` -- side calls (model-router classifier,
  next-speaker check, edit correction, summaries), answered as one JSON body;
* ``POST /v1beta/models/{model}:countTokens`` -- ``{"totalTokens": N}``;
* ``GET /v1beta/models[/...]`` -- a one-model listing.

Every request is recorded. Requests whose body carries ``tools`` with function declarations
belong to the main agent loop and are answered from a *script*: a list of steps, each one of

* :class:`FunctionCall` -- the model calls one tool (``name`` + ``args``);
* :class:`Text` -- the model says something and ends its turn (``finishReason: STOP``);
* a plain Python callable ``fn(server, request_body)`` -- not sent to the client: it runs in the
  server thread when the request that carries the previous step's ``functionResponse`` arrives,
  i.e. after that tool ran (or was blocked) and before the next step is emitted. Its return
  value is appended to ``server.callable_results``.

Which step answers a main-loop request is decided by the conversation itself: the number of
``role: "model"`` entries already in ``contents``. A retried request therefore gets the same
answer again instead of skipping ahead. Requests without tools get a short text, or, when they
ask for JSON (``generationConfig.responseMimeType == "application/json"``), one JSON object that
satisfies every side-call schema the CLI uses (router classifiers, next-speaker check).

Errors inside the server are collected in ``server.errors``; call :meth:`FakeGemini.check` at the
end of a test to surface them.
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

MODEL_NAME = "gemini-2.5-flash"
SIDE_TEXT = "OK"
# One object that parses under every JSON side-call schema of the CLI: ClassifierStrategy
# ({reasoning, model_choice}), NumericalClassifierStrategy ({complexity_reasoning,
# complexity_score}) and the next-speaker check ({reasoning, next_speaker}).
SIDE_JSON = {
    "reasoning": "scripted stand-in",
    "model_choice": "flash",
    "complexity_reasoning": "scripted stand-in",
    "complexity_score": 10,
    "next_speaker": "user",
}

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


def _usage() -> dict[str, Any]:
    return {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}


def _part_for(step: FunctionCall | Text) -> dict[str, Any]:
    if isinstance(step, FunctionCall):
        return {"functionCall": {"id": step.id, "name": step.name, "args": step.args}}
    return {"text": step.text}


def response_json(step: FunctionCall | Text | dict[str, Any], model: str) -> dict[str, Any]:
    """A GenerateContentResponse for one step (a dict is sent as JSON text)."""
    part = {"text": json.dumps(step)} if isinstance(step, dict) else _part_for(step)
    return {
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": _usage(),
        "modelVersion": model,
        "responseId": f"resp_e2e_{next(_ids):04d}",
    }


def response_sse(step: FunctionCall | Text | dict[str, Any], model: str) -> bytes:
    """The streamed form: the same response as one server-sent event."""
    return ("data: " + json.dumps(response_json(step, model)) + "\r\n\r\n").encode()


def has_tools(body: dict[str, Any]) -> bool:
    return any(t.get("functionDeclarations") for t in body.get("tools") or [] if isinstance(t, dict))


def tool_names(body: dict[str, Any]) -> list[str]:
    return [
        fd.get("name")
        for t in body.get("tools") or []
        if isinstance(t, dict)
        for fd in t.get("functionDeclarations") or []
    ]


def text_of(value: Any) -> str:
    """Flatten a functionResponse ``response`` (or any JSON) into text for substring checks."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class FakeGemini:
    """The stand-in server. Use as a context manager, or call start() / stop()."""

    def __init__(self, script: list[Step] | None = None) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []  # {"method", "path", "body", "kind", "headers"}
        self.errors: list[str] = []
        self.callable_results: list[Any] = []
        self.set_script(script or [Text("Done.")])
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- script -------------------------------------------------------------------------
    def set_script(self, script: list[Step]) -> None:
        """Split the script into emitted steps, each with the callables that run just before it."""
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
        self._steps = emitted
        self._before = before
        self._ran_before: set[int] = set()

    @property
    def steps(self) -> list[FunctionCall | Text]:
        return list(self._steps)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeGemini:
        handler = type("Handler", (_Handler,), {"model": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeGemini:
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
    def answer(self, body: dict[str, Any]) -> FunctionCall | Text | dict[str, Any]:
        """Pick the answer for a generateContent request (and run callables due before it)."""
        if not has_tools(body):
            mime = (body.get("generationConfig") or {}).get("responseMimeType")
            return dict(SIDE_JSON) if mime == "application/json" else Text(SIDE_TEXT)
        index = sum(1 for c in body.get("contents", []) if c.get("role") == "model")
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

    # -- inspection -----------------------------------------------------------------------
    def generate_bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.requests if r["kind"] in ("stream", "generate")]

    def main_loop_bodies(self) -> list[dict[str, Any]]:
        return [b for b in self.generate_bodies() if has_tools(b)]

    def side_bodies(self) -> list[dict[str, Any]]:
        return [b for b in self.generate_bodies() if not has_tools(b)]

    def function_response(self, call: FunctionCall | str) -> dict[str, Any] | None:
        """The ``functionResponse`` part answering ``call`` (by id), from the recorded requests."""
        call_id = call.id if isinstance(call, FunctionCall) else call
        for body in reversed(self.main_loop_bodies()):
            for content in body.get("contents", []):
                for part in content.get("parts") or []:
                    fr = part.get("functionResponse") if isinstance(part, dict) else None
                    if fr and fr.get("id") == call_id:
                        return fr
        return None

    def any_main_loop_request_contains(self, needle: str) -> bool:
        return any(needle in json.dumps(b, ensure_ascii=False) for b in self.main_loop_bodies())

    def check(self) -> None:
        """Raise if anything went wrong inside the server thread."""
        with self.lock:
            errors = list(self.errors)
        if errors:
            raise AssertionError("fake Gemini server errors:\n" + "\n---\n".join(errors))

    def describe(self) -> str:
        """A short account of the recorded traffic, for assertion messages."""
        lines = []
        with self.lock:
            reqs = list(self.requests)
        for i, r in enumerate(reqs):
            body = r["body"] if isinstance(r["body"], dict) else {}
            contents = body.get("contents") or []
            last = contents[-1] if contents else {}
            kinds = [next(iter(p), "?") for p in last.get("parts") or [] if isinstance(p, dict)]
            lines.append(
                f"#{i} {r['method']} {r['path']} kind={r['kind']} tools={has_tools(body)} "
                f"contents={len(contents)} last={last.get('role')}:{kinds}"
            )
        return "\n".join(lines)


class _Handler(BaseHTTPRequestHandler):
    model: FakeGemini
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
                    "body": body,
                    "kind": kind,
                    "headers": dict(self.headers),
                }
            )

    def _not_found(self, path: str) -> None:
        self._send_json(404, {"error": {"code": 404, "message": f"not found: {path}", "status": "NOT_FOUND"}})

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        self._record(None, "get")
        if path.endswith("/models"):
            self._send_json(200, {"models": [{"name": f"models/{MODEL_NAME}"}]})
        elif "/models/" in path:
            self._send_json(200, {"name": f"models/{path.rsplit('/', 1)[-1]}"})
        else:
            self._not_found(path)

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_unparsed": raw.decode(errors="replace")}
        model = self.model
        _, _, method = path.rpartition(":")
        name = path.rpartition("/models/")[2].partition(":")[0] or MODEL_NAME
        if method == "countTokens":
            self._record(body, "count_tokens")
            self._send_json(200, {"totalTokens": max(1, len(raw) // 4)})
            return
        if method not in ("streamGenerateContent", "generateContent"):
            self._record(body, "unknown")
            self._not_found(path)
            return
        stream = method == "streamGenerateContent"
        self._record(body, "stream" if stream else "generate")
        try:
            step = model.answer(body)
        except Exception:
            with model.lock:
                model.errors.append(f"answer() raised:\n{traceback.format_exc()}")
            self._send_json(
                500, {"error": {"code": 500, "message": "fake model crashed", "status": "INTERNAL"}}
            )
            return
        if stream:
            self._send(200, "text/event-stream", response_sse(step, name))
        else:
            self._send_json(200, response_json(step, name))
