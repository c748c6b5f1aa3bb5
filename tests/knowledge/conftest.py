"""Real files made by the tests (PDF via reportlab, DOCX via python-docx, PNG via Pillow) and
a loopback HTTP server that serves pages and records what it receives (webhook receiver)."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.factories import CourseFactory


def make_pdf(pages: list[str]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            pdf.drawString(50, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_docx(sections: list[tuple[str, list[str]]]) -> bytes:
    import docx

    document = docx.Document()
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_png(lines: list[str]) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 36)
    image = Image.new("RGB", (1200, 80 + 60 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 60 * i), line, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class LoopbackServer:
    """routes: path -> (status, headers, body bytes); every request is kept in `received`."""

    def __init__(self):
        self.routes: dict[str, tuple[int, dict, bytes]] = {}
        self.received: list[dict] = []
        self.responses: list[int] = []  # POST status script: popped per request, 200 when empty
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, headers, body):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                server.received.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
                status, headers, body = server.routes.get(self.path, (404, {}, b"not found"))
                self._send(status, headers, body)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                server.received.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
                status = server.responses.pop(0) if server.responses else 200
                self._send(status, {"Content-Type": "text/plain"}, b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def loopback():
    server = LoopbackServer()
    yield server
    server.stop()


@pytest.fixture
def course(user):
    return CourseFactory(owner=user)


@pytest.fixture
def client_of():
    return client_for


def upload(client: APIClient, course, filename: str, data: bytes, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/v1/courses/{course.id}/documents/upload/",
        {"file": SimpleUploadedFile(filename, data), **fields},
        format="multipart",
    )


@pytest.fixture(autouse=True)
def _run_on_commit_at_once(monkeypatch):
    """Tests run inside a transaction that never commits: run on_commit work (the processing
    task, webhook deliveries) right away, as a commit would, so the pipeline really runs."""
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
