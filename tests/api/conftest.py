"""An API client that speaks JSON with a key, for the API tests. Calls under /pos/ are signed with
the key's signing secret when the client knows it (ADR 0006)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tests.signing import body_bytes, signed_headers

ALL_SCOPES = ("members:read", "members:write", "transactions:write", "pos")
_keys = itertools.count(1)


class Api:
    def __init__(self, client: Any, key: str | None, signing_secret: str | None = None) -> None:
        self.client = client
        self.key = key
        self.signing_secret = signing_secret

    def _headers(self, idem: str | None, extra: dict[str, str]) -> dict[str, str]:
        h = {}
        if self.key:
            h["HTTP_AUTHORIZATION"] = f"Bearer {self.key}"
        if idem is not None:
            h["HTTP_IDEMPOTENCY_KEY"] = idem
        h.update(extra)
        return h

    def _signed(self, method: str, path: str, body: bytes) -> dict[str, str]:
        if self.signing_secret and path.startswith("/pos/"):
            return signed_headers(self.signing_secret, method, f"/api/v1{path}", body)
        return {}

    def get(self, path: str, **extra: str) -> Any:
        return self.client.get(f"/api/v1{path}", **self._headers(None, {**self._signed("GET", path, b""), **extra}))

    def write(self, method: str, path: str, body: Any, idem: str | None = "auto", raw: bool = False, **extra: str):
        if idem == "auto":
            idem = f"idem-{next(_keys)}"
        data = body_bytes(body) if raw else json.dumps(body).encode()
        headers = self._headers(idem, {**self._signed(method, path, data), **extra})
        call = getattr(self.client, method)
        return call(f"/api/v1{path}", data, content_type="application/json", **headers)

    def post(self, path: str, body: Any, idem: str | None = "auto", **kw: Any) -> Any:
        return self.write("post", path, body, idem, **kw)

    def patch(self, path: str, body: Any, idem: str | None = "auto", **kw: Any) -> Any:
        return self.write("patch", path, body, idem, **kw)


@pytest.fixture
def api(client, pos_key):
    """A client with every scope, unbound to a store."""
    issued = pos_key(*ALL_SCOPES)
    return Api(client, issued.plain, issued.signing_secret)


@pytest.fixture
def make_api(client, pos_key):
    def make(*scopes: str, bound_store: Any = None, key: str | None = None) -> Api:
        if key is not None:
            return Api(client, key)
        issued = pos_key(*scopes, bound_store=bound_store)
        return Api(client, issued.plain, issued.signing_secret)

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
