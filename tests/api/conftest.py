"""An API client that speaks JSON with a key, for the API tests."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

ALL_SCOPES = ("members:read", "members:write", "transactions:write", "pos")
_keys = itertools.count(1)


class Api:
    def __init__(self, client: Any, key: str | None) -> None:
        self.client = client
        self.key = key

    def _headers(self, idem: str | None, extra: dict[str, str]) -> dict[str, str]:
        h = {}
        if self.key:
            h["HTTP_AUTHORIZATION"] = f"Bearer {self.key}"
        if idem is not None:
            h["HTTP_IDEMPOTENCY_KEY"] = idem
        h.update(extra)
        return h

    def get(self, path: str, **extra: str) -> Any:
        return self.client.get(f"/api/v1{path}", **self._headers(None, extra))

    def write(self, method: str, path: str, body: Any, idem: str | None = "auto", raw: bool = False, **extra: str):
        if idem == "auto":
            idem = f"idem-{next(_keys)}"
        data = body if raw else json.dumps(body)
        call = getattr(self.client, method)
        return call(f"/api/v1{path}", data, content_type="application/json", **self._headers(idem, extra))

    def post(self, path: str, body: Any, idem: str | None = "auto", **kw: Any) -> Any:
        return self.write("post", path, body, idem, **kw)

    def patch(self, path: str, body: Any, idem: str | None = "auto", **kw: Any) -> Any:
        return self.write("patch", path, body, idem, **kw)


@pytest.fixture
def api(client, api_key):
    """A client with every scope, unbound to a store."""
    return Api(client, api_key(*ALL_SCOPES))


@pytest.fixture
def make_api(client, api_key):
    def make(*scopes: str, bound_store: Any = None, key: str | None = None) -> Api:
        return Api(client, key if key is not None else api_key(*scopes, bound_store=bound_store))

    return make


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["fields"], dict)
    return body
