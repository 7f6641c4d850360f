"""The report API's front door: token before body, body size before and while reading."""

from __future__ import annotations

import asyncio

import pytest

from reports.api_guard import RequestGuard, bearer_matches, declared_length


class _Inner:
    """A route that reads the whole body, as FastAPI does."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        self.called = True
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(headers: list[tuple[bytes, bytes]], chunks: int = 1) -> tuple[int, int, bool]:
    inner = _Inner()
    guard = RequestGuard(inner, token="t0k", max_body_bytes=100)
    reads = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 60, "more_body": reads < chunks}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/v1/margin", "method": "POST", "headers": headers}
    try:
        asyncio.run(guard(scope, receive, send))
    except Exception as exc:  # the 413 raised mid-read; FastAPI turns it into a response
        return getattr(exc, "status_code", 500), reads, inner.called
    return sent[0]["status"], reads, inner.called


def test_no_token_is_a_401_before_any_byte_is_read():
    status, reads, called = _call([(b"content-length", b"200000000")])
    assert (status, reads, called) == (401, 0, False)


def test_a_declared_oversized_body_is_a_413_before_reading():
    status, reads, called = _call([(b"authorization", b"Bearer t0k"), (b"content-length", b"101")])
    assert (status, reads, called) == (413, 0, False)


def test_a_streamed_body_is_cut_off_when_it_crosses_the_limit():
    status, reads, _ = _call([(b"authorization", b"Bearer t0k")], chunks=1000)
    assert status == 413 and reads == 2


def test_a_small_body_with_the_token_passes():
    assert _call([(b"authorization", b"Bearer t0k"), (b"content-length", b"60")])[0] == 200


@pytest.mark.parametrize(
    ("header", "ok"),
    [(b"Bearer t0k", True), (b"bearer t0k", True), (b"Bearer t0kx", False),
     (b"Basic t0k", False), (b"", False), (None, False)],
)  # fmt: skip
def test_bearer_matches(header, ok):
    assert bearer_matches(header, b"t0k") is ok


def test_declared_length():
    assert declared_length([]) is None
    assert declared_length([(b"Content-Length", b"12")]) == 12
    assert declared_length([(b"content-length", b"-1")]) == -1
    assert declared_length([(b"content-length", b"lots")]) == -1
