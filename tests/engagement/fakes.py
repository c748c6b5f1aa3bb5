"""Loopback fakes of the Telegram Bot API and an HTTP SMS provider, for the delivery backends."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeMessagingServer:
    """Records every POST as (path, json body, headers); answers with scripted statuses (default 200)."""

    def __init__(self):
        self.requests: list[tuple[str, dict, dict]] = []
        self.statuses: deque[int] = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests.append((self.path, body, dict(self.headers)))
                status = server.statuses.popleft() if server.statuses else 200
                if self.path.endswith("/sendMessage"):  # Telegram's shape
                    payload = {"ok": status == 200, "result": {"message_id": len(server.requests)}}
                else:
                    payload = {"status": "queued" if status == 200 else "error"}
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
