"""The report API's front door, before any route runs: the bearer token, then the body size.

A request to a data route (``/v1/…``) without the right token is answered 401 before a byte of
its body is read; one whose ``Content-Length`` exceeds the limit gets 413 at once, and one that
streams more than the limit (chunked, or lying about its length) is cut off with 413 as soon as
it crosses it. A pure ASGI middleware, so nothing upstream buffers the body first.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException

__all__ = ["BodyTooLarge", "RequestGuard", "bearer_matches", "declared_length"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """The request body crossed the limit while it was being read (FastAPI answers 413)."""


def bearer_matches(header: bytes | None, token: bytes) -> bool:
    """True when ``header`` is ``Bearer <token>`` (constant-time on the token)."""
    scheme, _, given = (header or b"").partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), token)


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length a request declares; None when absent; -1 when unreadable."""
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, token: str, max_body_bytes: int) -> None:
        self.app = app
        self.token = token.encode()
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers", []))
        auth = next((v for k, v in headers if k.lower() == b"authorization"), None)
        if not bearer_matches(auth, self.token):
            await _answer(send, 401, "missing or wrong bearer token",
                          [(b"www-authenticate", b"Bearer")])  # fmt: skip
            return
        length = declared_length(headers)
        if length == -1:
            await _answer(send, 400, "Content-Length is not a number")
            return
        if length is not None and length > self.max_body_bytes:
            await _answer(send, 413, self._too_large())
            return
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(413, self._too_large())
            return message

        await self.app(scope, counted_receive, send)

    def _too_large(self) -> str:
        return f"request body larger than {self.max_body_bytes} bytes"


async def _answer(
    send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *(extra or [])]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
