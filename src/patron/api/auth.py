from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBearer

from patron.api.services import verify_api_key
from patron.core.api import Caller
from patron.core.context import Actor
from patron.core.middleware import client_ip


def _caller_for(request: HttpRequest, token: str) -> Caller | None:
    verified = verify_api_key(token)
    if verified is None:
        return None
    request.patron_actor = Actor(  # type: ignore[attr-defined]
        user=None,
        label=f"api:{verified.name}"[:150],
        request_id=getattr(request, "request_id", ""),
        ip=client_ip(request),
    )
    return Caller(key_id=verified.id, name=verified.name, scopes=verified.scopes, store_id=verified.store_id)


class BearerKey(HttpBearer):
    """`Authorization: Bearer pk_xxxxxxxx_secret`."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return _caller_for(request, token)


class HeaderKey(APIKeyHeader):
    """`X-Api-Key: pk_xxxxxxxx_secret`, for tills that cannot set Authorization."""

    param_name = "X-Api-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return _caller_for(request, key) if key else None
