"""Webhooks, per the Standard Webhooks conventions.

The JSON body is POSTed with ``webhook-id`` (the outbox id: receivers deduplicate on it),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: ``v1,`` and the base64 of
HMAC-SHA256 over ``{id}.{timestamp}.{body}``, keyed with the endpoint's secret (``whsec_`` +
base64, read from the environment variable the workspace names). A 2xx answer is delivered;
any other status, a timeout or a connection error is retried.

Before anything is sent the destination is checked: the host must be in the workspace's
``webhooks.allowed_hosts`` and every address it resolves to must be public, or inside
``allowed_private_networks``. The connection then goes to the address that was checked (not to
a second DNS answer), with the host name kept for the Host header and TLS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import ipaddress
import os
import socket
import ssl
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

import plumb
from plumb.worker.outcome import Delivered, Outcome, Refused, Retry
from plumb.workspace.webhooks import Webhooks

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def decode_secret(value: str) -> bytes:
    """The key of a ``whsec_``-prefixed base64 secret; ValueError when it is not one."""
    if not value.startswith(SECRET_PREFIX):
        raise ValueError("the secret does not start with whsec_")
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the secret after whsec_ is not base64: {exc}") from exc
    if len(key) < 16:
        raise ValueError("the secret is shorter than 16 bytes")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_destination(webhooks: Webhooks, url: str) -> str:
    """The address to connect to, once the host and every address it resolves to are allowed."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not webhooks.host_allowed(host):
        raise DestinationRefused(f"host {host!r} is not in the workspace's webhooks.allowed_hosts")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DestinationUnresolved(f"cannot resolve {host}: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos]
    for address in addresses:
        if not webhooks.address_allowed(address):
            raise DestinationRefused(
                f"host {host!r} resolves to {address}, a private, loopback or reserved address "
                "outside webhooks.allowed_private_networks"
            )
    return str(addresses[0])


def send_webhook(
    webhooks: Webhooks,
    outbox_id: str,
    endpoint_name: str,
    payload: dict[str, Any],
    now: datetime,
    timeout: float,
) -> Outcome:
    endpoint = webhooks.endpoints.get(endpoint_name)
    if endpoint is None:
        return Refused(f"no webhook endpoint {endpoint_name!r} in the workspace definition")
    raw_secret = os.environ.get(endpoint.secret_env)
    if not raw_secret:
        return Refused(
            f"endpoint {endpoint_name!r}: the environment variable {endpoint.secret_env} "
            "holding its secret is not set"
        )
    try:
        key = decode_secret(raw_secret)
        address = check_destination(webhooks, endpoint.url)
    except ValueError as exc:
        return Refused(f"endpoint {endpoint_name!r} ({endpoint.secret_env}): {exc}")
    except DestinationRefused as exc:
        return Refused(f"endpoint {endpoint_name!r}: {exc}")
    except DestinationUnresolved as exc:
        return Retry(f"endpoint {endpoint_name!r}: {exc}")
    body = orjson.dumps(payload)
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": f"Plumb/{plumb.__version__}",
        "webhook-id": outbox_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, outbox_id, timestamp, body),
    }
    parts = urlsplit(endpoint.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _connection(parts.scheme, parts.hostname or "", parts.port, address, timeout)
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        snippet = response.read(300).decode("utf-8", "replace").strip()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return Retry(f"POST {endpoint.url}: {type(exc).__name__}: {exc}")
    finally:
        conn.close()
    if 200 <= status < 300:
        return Delivered(f"HTTP {status}")
    return Retry(f"POST {endpoint.url}: HTTP {status}" + (f": {snippet}" if snippet else ""))


class DestinationRefused(Exception):
    """The workspace does not allow sending there."""


class DestinationUnresolved(Exception):
    """The host name does not resolve (maybe for now)."""


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _connection(
    scheme: str, host: str, port: int | None, address: str, timeout: float
) -> http.client.HTTPConnection:
    if scheme == "https":
        return _PinnedHTTPSConnection(host, port, address, timeout)
    return _PinnedHTTPConnection(host, port, address, timeout)
