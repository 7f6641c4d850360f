"""Console credentials: session cookies for people, share links for one customer. Pure.

Both are HMAC-SHA256 signatures under keys derived from one root secret (the API token, or
``METERLINE_CONSOLE_SECRET`` when set, so share links survive a token rotation). Each use has
its own derived key, so a session value can never be replayed as a share link or the other way
round. Time (``now``, seconds since the epoch) is a parameter.

* A session is ``v1.<expires>.<nonce>.<signature>``; the server may revoke a nonce (sign-out).
* A share link token is ``<payload>.<signature>`` where the payload (base64url JSON) names one
  customer and an expiry. Whoever holds it may read that customer's page until then, nothing
  else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

__all__ = [
    "SESSION_SECONDS",
    "ConsoleKeys",
    "InvalidCredential",
    "SharedCustomer",
    "parse_duration",
]

SESSION_SECONDS = 12 * 3600
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class InvalidCredential(ValueError):
    """A session value or share token that is malformed, forged or expired."""


@dataclass(frozen=True, slots=True)
class SharedCustomer:
    customer: str
    expires: int
    """Seconds since the epoch."""


def parse_duration(text: str) -> int:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"2w"`` → seconds (at least 1); ``ValueError``
    otherwise."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"duration {text!r} must look like 30d, 12h, 90m or 2w")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise InvalidCredential("not base64url") from exc


class ConsoleKeys:
    """Signs and checks sessions and share links under keys derived from ``root``."""

    def __init__(self, root: str) -> None:
        if not root:
            raise ValueError("the console needs a non-empty secret")
        material = root.encode()
        self._session_key = hmac.new(material, b"meterline-console-session-v1", "sha256").digest()
        self._share_key = hmac.new(material, b"meterline-console-share-v1", "sha256").digest()

    @staticmethod
    def _sign(key: bytes, message: str) -> str:
        return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest())

    def new_session(self, now: int, lifetime: int = SESSION_SECONDS) -> str:
        body = f"v1.{now + lifetime}.{secrets.token_urlsafe(12)}"
        return f"{body}.{self._sign(self._session_key, body)}"

    def check_session(self, value: str, now: int) -> str:
        """The session's nonce when ``value`` is genuine and unexpired; else
        ``InvalidCredential``."""
        parts = value.split(".")
        if len(parts) != 4 or parts[0] != "v1" or not parts[1].isdigit():
            raise InvalidCredential("malformed session")
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], self._sign(self._session_key, body)):
            raise InvalidCredential("bad session signature")
        if int(parts[1]) <= now:
            raise InvalidCredential("session expired")
        return parts[2]

    def share_token(self, customer: str, expires: int) -> str:
        if not customer:
            raise ValueError("a share link needs a customer")
        payload = _b64(json.dumps({"c": customer, "e": expires}, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(self._share_key, payload)}"

    def check_share(self, token: str, now: int) -> SharedCustomer:
        """The customer a genuine, unexpired share token names; else ``InvalidCredential``."""
        payload, dot, signature = token.partition(".")
        if not dot or not payload or not signature:
            raise InvalidCredential("malformed share link")
        if not hmac.compare_digest(signature, self._sign(self._share_key, payload)):
            raise InvalidCredential("bad share link signature")
        try:
            data = json.loads(_unb64(payload))
            shared = SharedCustomer(customer=str(data["c"]), expires=int(data["e"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidCredential("malformed share link") from exc
        if shared.expires <= now:
            raise InvalidCredential("share link expired")
        return shared
