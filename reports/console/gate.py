"""Who may see a console page: a request with the bearer token (scripts) or with a live
session cookie (people, after signing in on ``/login`` with the same token)."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict

from fastapi import Request
from fastapi.responses import Response

from reports.console.auth import SESSION_SECONDS, ConsoleKeys, InvalidCredential

__all__ = ["COOKIE", "Gate"]

COOKIE = "meterline_session"
_MAX_REVOKED = 10_000


class Gate:
    def __init__(self, token: str, keys: ConsoleKeys) -> None:
        self._token = token.encode()
        self.keys = keys
        # Signed-out sessions until they would have expired anyway (bounded, oldest dropped).
        self._revoked: OrderedDict[str, int] = OrderedDict()

    def token_matches(self, candidate: str) -> bool:
        return secrets.compare_digest(candidate.encode(), self._token)

    def _session_nonce(self, request: Request) -> str | None:
        value = request.cookies.get(COOKIE)
        if not value:
            return None
        try:
            nonce = self.keys.check_session(value, int(time.time()))
        except InvalidCredential:
            return None
        return None if nonce in self._revoked else nonce

    def allows(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials and self.token_matches(credentials.strip()):
            return True
        return self._session_nonce(request) is not None

    def sign_in(self, request: Request, response: Response) -> None:
        response.set_cookie(
            COOKIE,
            self.keys.new_session(int(time.time())),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )

    def sign_out(self, request: Request, response: Response) -> None:
        nonce = self._session_nonce(request)
        if nonce is not None:
            self._revoked[nonce] = int(time.time()) + SESSION_SECONDS
            while len(self._revoked) > _MAX_REVOKED:
                self._revoked.popitem(last=False)
        response.delete_cookie(
            COOKIE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
