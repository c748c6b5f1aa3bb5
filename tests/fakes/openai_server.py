"""A fake OpenAI-compatible server: a real HTTP server on loopback, so tests run the real
client code (the `openai` SDK, httpx) against it.

Serves /v1/chat/completions (JSON and SSE streaming), /v1/embeddings, /v1/audio/speech and
/v1/audio/transcriptions. Behaviour is scripted per test:

    server.push(text="...")                  # next chat completion answers this
    server.push(status=500)                  # next call fails with HTTP 500
    server.push(delay=5)                     # next call is slow (timeouts)
    server.push(first_token_delay=5)         # stream: headers at once, first piece 5 s later
    server.push(status=429, retry_after=120) # rate limited, with a Retry-After header
    server.push(text="a b c d", drop_after=2)  # stream 2 pieces, then cut the connection
    server.push(pieces=["It is [", "1] here."])  # stream exactly these pieces
    closed_port_url()                        # a base URL nobody listens on (connection refused)
    server.token_delay = 0.01                # pace of streamed pieces
    server.transcript = "hello world"        # what /audio/transcriptions returns

Every request is recorded in `server.requests` as (path, json_or_form_fields).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import struct
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    text: str | None = None
    status: int = 200
    delay: float = 0.0
    drop_after: int | None = None
    body: Any = None  # raw JSON body to return instead of a completion
    first_token_delay: float = 0.0  # streams: seconds between the response headers and the first piece
    retry_after: float | None = None  # sent as Retry-After with an error status
    pieces: list[str] | None = None  # streams: exactly these pieces (e.g. a [n] marker split in two)


def fake_embedding(text: str, dims: int = 64) -> list[float]:
    """Deterministic bag-of-words hashing vector: texts sharing words are close."""
    vec = [0.0] * dims
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        h = int(hashlib.md5(word.encode()).hexdigest(), 16)
        vec[h % dims] += 1.0 if (h >> 8) % 2 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def silent_wav(seconds: float = 0.2, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<h", 0) * int(seconds * rate))
    return buf.getvalue()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that gave up (timeout tests) makes the next write fail; that is expected.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.script: deque[Scripted] = deque()
        self.requests: list[tuple[str, Any]] = []
        self.default_reply = "This is the fake model's answer."
        self.token_delay = 0.0
        self.transcript = "hello world"
        self.model = "fake-gpt"
        self._lock = threading.Lock()
        self._connections: set = set()  # open client sockets, cut by stop() as a dying process would
        handler = self._make_handler()
        self.httpd = _QuietServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # --- control ---
    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop like a killed model server: no new connections, and kept-alive ones are cut
        (otherwise a client's pooled connection would still be answered)."""
        import socket

        self.httpd.shutdown()
        self.httpd.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def push(self, **kwargs) -> None:
        self.script.append(Scripted(**kwargs))

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()
        self.token_delay = 0.0
        self.transcript = "hello world"

    def _next(self) -> Scripted:
        with self._lock:
            return self.script.popleft() if self.script else Scripted()

    # --- HTTP ---
    def _make_handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self):
                with server._lock:
                    server._connections.discard(self.connection)
                super().finish()

            def log_message(self, *args):  # keep test output clean
                pass

            def _json(self, status: int, payload: Any, headers: dict | None = None) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _read_body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_POST(self):  # noqa: N802
                raw = self._read_body()
                path = self.path.split("?")[0]
                if path.endswith("/audio/transcriptions"):
                    server.requests.append((path, {"bytes": len(raw)}))
                    step = server._next()
                    time.sleep(step.delay)
                    if step.status != 200:
                        return self._json(step.status, {"error": {"message": "fake failure"}})
                    return self._json(200, {"text": step.text if step.text is not None else server.transcript})
                try:
                    data = json.loads(raw or b"{}")
                except ValueError:
                    return self._json(400, {"error": {"message": "bad json"}})
                server.requests.append((path, data))
                if path.endswith("/embeddings"):
                    inputs = data.get("input")
                    inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
                    return self._json(200, {
                        "object": "list",
                        "model": data.get("model", "fake-embed"),
                        "data": [{"object": "embedding", "index": i, "embedding": fake_embedding(t)} for i, t in enumerate(inputs)],
                        "usage": {"prompt_tokens": sum(len(t.split()) for t in inputs), "total_tokens": sum(len(t.split()) for t in inputs)},
                    })
                if path.endswith("/audio/speech"):
                    audio = silent_wav()
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/wav")
                    self.send_header("Content-Length", str(len(audio)))
                    self.end_headers()
                    self.wfile.write(audio)
                    return None
                if path.endswith("/chat/completions"):
                    return self._chat(data)
                return self._json(404, {"error": {"message": "not found"}})

            def _chat(self, data: dict) -> None:
                step = server._next()
                time.sleep(step.delay)
                if step.status != 200:
                    headers = {"Retry-After": f"{step.retry_after:g}"} if step.retry_after is not None else None
                    return self._json(step.status, {"error": {"message": f"fake upstream error {step.status}"}}, headers)
                if step.body is not None:
                    return self._json(200, step.body)
                text = "".join(step.pieces) if step.pieces is not None else step.text if step.text is not None else server.default_reply
                prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in data.get("messages", []))
                completion_tokens = len(text.split())
                model = data.get("model") or server.model
                if not data.get("stream"):
                    return self._json(200, {
                        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                  "total_tokens": prompt_tokens + completion_tokens},
                    })
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                pieces = step.pieces if step.pieces is not None else re.findall(r"\S+\s*", text) or [""]

                def event(payload: dict) -> None:
                    self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                    self.wfile.flush()

                base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
                if step.first_token_delay:
                    time.sleep(step.first_token_delay)
                for i, piece in enumerate(pieces):
                    if step.drop_after is not None and i >= step.drop_after:
                        self.close_connection = True
                        self.wfile.flush()
                        self.connection.shutdown(2)  # cut mid-stream: no [DONE], no finish_reason
                        return None
                    event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                    if server.token_delay:
                        time.sleep(server.token_delay)
                event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if (data.get("stream_options") or {}).get("include_usage"):
                    event({**base, "choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                                            "total_tokens": prompt_tokens + completion_tokens}})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True
                return None

        return Handler


def closed_port_url() -> str:
    """An OpenAI-style base URL on a loopback port that nothing listens on: bound and closed
    again, so connecting is refused (the port is not reused while the test runs, in practice)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def use_openai_llm(settings, server: FakeOpenAIServer, **options) -> None:
    """Point the default LLM at `server` with these client options (e.g. a short timeout)."""
    settings.LLM_BACKENDS = {
        "default": {
            "BACKEND": "tutorhub.ai.backends.openai.OpenAILLM",
            "OPTIONS": {"base_url": server.base_url, "api_key": "test", "model": "fake-gpt", "timeout": 5.0,
                        "max_retries": 0, **options},
        }
    }
