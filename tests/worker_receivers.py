"""Real receivers for the worker's tests: an HTTP server that checks Standard Webhooks
signatures and deduplicates on webhook-id, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def expected_signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """Computed here independently of plumb.worker.webhooks."""
    mac = hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


@dataclass
class WebhookReceiver:
    """Answers each request with the next scripted step (then ``ok``): ``ok`` (204), a status
    number, ``hang`` (no answer until ``release`` is set), or ``block`` (process, then hold the
    answer until ``release``; sets ``blocked``)."""

    host: str = "127.0.0.1"
    script: list[str | int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    processed: dict[str, Any] = field(default_factory=dict)
    """Bodies by webhook-id: what a deduplicating receiver acted on, once per id."""
    block_at: int | None = None
    """Block on the Nth distinct message (1-based)."""
    release: threading.Event = field(default_factory=threading.Event)
    blocked: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                receiver._handle(self)

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/plumb?x=1"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(r["id"] for r in self.requests)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length)
        msg_id = handler.headers.get("webhook-id", "")
        timestamp = handler.headers.get("webhook-timestamp", "")
        signature = handler.headers.get("webhook-signature", "")
        valid = hmac.compare_digest(signature, expected_signature(KEY, msg_id, timestamp, body))
        with self.lock:
            self.requests.append(
                {
                    "id": msg_id,
                    "valid": valid,
                    "path": handler.path,
                    "body": body,
                    "content_type": handler.headers.get("content-type"),
                }
            )
            step = self.script.pop(0) if self.script else "ok"
            first_time = valid and msg_id not in self.processed
            if step in ("ok", "block") and first_time:
                self.processed[msg_id] = json.loads(body)
            block = (
                self.block_at is not None and first_time and len(self.processed) == self.block_at
            )
        if not valid:
            handler.send_response(401)
            handler.end_headers()
            return
        if step == "hang" or block:
            self.blocked.set()
            self.release.wait(30)
        if step == "hang":
            return
        status = step if isinstance(step, int) else 204
        try:
            handler.send_response(status)
            handler.send_header("content-length", "0")
            handler.end_headers()
        except OSError:
            pass  # the worker was killed while we held the answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@dataclass
class SmtpServer:
    inbox: _Inbox = field(default_factory=_Inbox)

    def start(self) -> SmtpServer:
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[tuple[list[str], Message]]:
        return self.inbox.messages


def wait_for(condition: Callable[[], bool], what: str, limit: float = 120) -> None:
    """Wait for something a background process does (a deadline against hanging, not a
    measurement)."""
    event = threading.Event()
    for _ in range(int(limit / 0.05)):
        if condition():
            return
        event.wait(0.05)
    raise AssertionError(f"gave up waiting for {what}")
