"""Reading a CSV sent to the API either as the request body (``Content-Type: text/csv``) or as
a multipart form upload (``curl -F file=@bill.csv``)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile

__all__ = ["CSV_REQUEST_BODY", "csv_upload"]

CSV_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}
"""OpenAPI description of what ``csv_upload`` accepts (for ``openapi_extra``)."""


async def csv_upload(request: Request) -> bytes:
    """The CSV bytes of the request: the first file of a multipart form, else the body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        files = [v for v in form.values() if isinstance(v, UploadFile)]
        if not files:
            raise HTTPException(
                status_code=400, detail="the multipart form has no file (curl -F file=@bill.csv)"
            )
        return await files[0].read()
    return await request.body()
