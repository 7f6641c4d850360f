"""Code the LiteLLM proxy under test imports: a custom auth with a few known keys (the proxy
runs without a database, so it cannot mint virtual keys)."""

from __future__ import annotations

from fastapi import HTTPException, Request
from litellm.proxy._types import UserAPIKeyAuth

KEYS = {
    "sk-acme-test": ("acme-prod", "team-support"),
    "sk-runaway-test": ("runaway-prod", "team-growth"),
    "sk-late-test": ("late-prod", "team-growth"),
    "sk-rpm-test": ("rpm-prod", "team-limits"),
    "sk-cap-test": ("cap-prod", "team-limits"),
    "sk-stream-test": ("stream-prod", "team-limits"),
}


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    token = api_key.removeprefix("Bearer ").strip()
    if token not in KEYS:
        raise HTTPException(status_code=401, detail="unknown key")
    alias, team = KEYS[token]
    return UserAPIKeyAuth(api_key=token, key_alias=alias, team_id=team)
