"""The embedded owner's HTTP endpoint: read-only SQL and sink stats for other processes.

Runs uvicorn in its own thread (so it never competes with the writer's event loop or signal
handling) on a socket bound by the caller. Every route but ``/health`` needs
``Authorization: Bearer <token>``.

``POST /query`` takes ``{"sql": str, "parameters": wire}`` and answers
``{"column_names": [...], "rows": wire}`` (see :mod:`sinks.wire`), or 400 with
``{"error": kind, "message": str}`` where kind is ``refused`` or ``query``. Each query runs as
a guest (:mod:`sinks.readonly`): its own session, never the writer's; ``settings`` in the body
are refused.
"""

from __future__ import annotations

import hmac
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from sinks import wire
from sinks.errors import QueryError, QueryRefused
from sinks.readonly import ReadOnlyClient

__all__ = ["QueryServer", "bind_socket", "build_app"]


MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest ``/query`` body read (a query and its parameters)."""


class QueryRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=1_000_000)
    parameters: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None


def build_app(queries: ReadOnlyClient, token: str, stats: Callable[[], dict]) -> FastAPI:
    app = FastAPI(title="meterline sink", docs_url=None, redoc_url=None, openapi_url=None)

    def authorized(authorization: str = Header(default="")) -> None:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/stats", dependencies=[Depends(authorized)])
    def get_stats() -> dict:
        return stats()

    @app.post("/query", dependencies=[Depends(authorized)])
    async def query(raw: Request) -> JSONResponse:
        # The token was checked by the dependency before this reads a byte of the body,
        # and the body is read only up to MAX_BODY_BYTES.
        declared = raw.headers.get("content-length", "")
        if declared and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return _too_large()
        body = bytearray()
        async for chunk in raw.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _too_large()
        try:
            request = QueryRequest.model_validate_json(bytes(body))
        except ValidationError as exc:
            return JSONResponse({"error": "request", "message": str(exc)[:2000]}, 422)
        return await run_in_threadpool(_run, request)

    def _run(request: QueryRequest) -> JSONResponse:
        try:
            parameters = {k: wire.decode(v) for k, v in (request.parameters or {}).items()}
            result = queries.query(request.sql, parameters, request.settings)
            body = {
                "column_names": list(result.column_names),
                "rows": [wire.encode(list(row)) for row in result.result_rows],
            }
        except QueryRefused as exc:
            return JSONResponse({"error": "refused", "message": str(exc)}, status_code=400)
        except (QueryError, wire.WireError) as exc:
            return JSONResponse({"error": "query", "message": str(exc)}, status_code=400)
        return JSONResponse(body)

    return app


def _too_large() -> JSONResponse:
    message = f"request body larger than {MAX_BODY_BYTES} bytes"
    return JSONResponse({"error": "request", "message": message}, status_code=413)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


class QueryServer:
    """``start()`` serves ``app`` on ``sock`` in a daemon thread; ``stop()`` shuts it down."""

    def __init__(self, app: FastAPI, sock: socket.socket) -> None:
        self.sock = sock
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 10.0) -> QueryServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, name="sink-query-server",
            daemon=True,
        )  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the query endpoint did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.sock.close()
