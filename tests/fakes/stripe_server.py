"""A fake Stripe API on loopback, so tests run the real `stripe` SDK (its form encoding, error
mapping, idempotency keys and retries) against the few endpoints TutorHub calls.

    POST /v1/payment_intents   create (+ confirm) a PaymentIntent

The outcome follows Stripe's documented test payment methods:
    pm_card_visa, pm_card_mastercard, ...   succeeded
    pm_card_chargeDeclined                   402 card_error / card_declined
    pm_card_chargeDeclinedInsufficientFunds  402 card_error / insufficient_funds
    pm_card_authenticationRequired           status requires_action
    pm_card_processing (fake only)           status processing (settled by a webhook)
    anything not starting with pm_           400 invalid_request_error (no such PaymentMethod)

`sign(payload, secret)` builds a `Stripe-Signature` header the way Stripe signs webhooks.
Every request is recorded in `server.requests` as (method, path, form fields, headers).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
}


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time() if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2024-06-20",
        "data": {"object": obj},
    }


def _unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding: metadata[reference]=x, expand[0]=payment_method."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class FakeStripeServer:
    def __init__(self):
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.intents: dict[str, dict] = {}
        self._idempotent: dict[str, tuple[int, dict]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = _unflatten(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                headers = dict(self.headers.items())
                with server._lock:
                    server.requests.append(("POST", self.path, form, headers))
                if not headers.get("Authorization", "").startswith("Bearer sk_"):
                    return self._send(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}})
                if self.path != "/v1/payment_intents":
                    return self._send(404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL."}})
                key = headers.get("Idempotency-Key", "")
                with server._lock:
                    if key and key in server._idempotent:
                        return self._send(*server._idempotent[key])
                    status, body = server._create_intent(form)
                    if key:
                        server._idempotent[key] = (status, body)
                self._send(status, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _create_intent(self, form: dict) -> tuple[int, dict]:
        method = str(form.get("payment_method", ""))
        if not method.startswith("pm_"):
            return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing", "param": "payment_method",
                                   "message": f"No such PaymentMethod: '{method}'"}}
        intent_id = f"pi_{uuid.uuid4().hex[:24]}"
        status = {"pm_card_authenticationRequired": "requires_action", "pm_card_processing": "processing"}.get(method, "succeeded")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "amount_received": int(form["amount"]) if status == "succeeded" else 0,
            "currency": form["currency"],
            "customer": form.get("customer"),
            "metadata": form.get("metadata", {}),
            "status": status,
            "payment_method": method,
        }
        if method in DECLINES:
            code, decline_code, message = DECLINES[method]
            intent["status"] = "requires_payment_method"
            self.intents[intent_id] = intent
            return 402, {"error": {"type": "card_error", "code": code, "decline_code": decline_code, "message": message,
                                   "payment_intent": intent}}
        self.intents[intent_id] = intent
        body = dict(intent)
        if "payment_method" in (form.get("expand") or {}).values():
            body["payment_method"] = {"id": method, "object": "payment_method", "type": "card",
                                      "card": {"brand": "visa", "last4": "4242" if "visa" in method else "0005"}}
        return 200, body

    def start(self) -> FakeStripeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.intents.clear()
            self._idempotent.clear()
