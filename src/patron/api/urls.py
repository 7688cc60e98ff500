"""The versioned REST API at /api/v1/, with its OpenAPI document at /api/v1/openapi.json."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from patron.api.auth import BearerKey, HeaderKey
from patron.core.api import error_body
from patron.core.errors import DomainError
from patron.earning.api import activities_router
from patron.earning.api import router as pos_router
from patron.members.api import router as members_router
from patron.members.api import transactions_router


def _refuse_unstorable(value: Any, where: str) -> None:
    """NUL characters and lone surrogates cannot be stored (PostgreSQL refuses them): say so up front."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{where} is not valid Unicode") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable(key, where)
            _refuse_unstorable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            _refuse_unstorable(item, where)


class StrictJsonParser(Parser):
    """JSON bodies (a parse failure is a 400) and query strings without characters no database stores."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = json.loads(request.body)
        _refuse_unstorable(data, "body")
        return data

    def parse_querydict(self, data: Any, list_fields: list[str], request: HttpRequest) -> Any:
        result = super().parse_querydict(data, list_fields, request)
        try:
            _refuse_unstorable(result, "query")
        except ValueError as exc:
            raise NinjaValidationError([{"loc": ("query",), "msg": str(exc), "type": "value_error"}]) from exc
        return result


DESCRIPTION = """Members, identification at the till, transactions and refunds, points, tiers, the points
mall, coupons (validated and redeemed at the till under `/api/v1/pos/coupons/`), daily check-in,
badges, members' analytics (RFM, lifecycle, churn reasons, CLV) and segments. Every write takes an
Idempotency-Key header; errors are JSON `{"code", "message", "fields"}` with a stable `code`.

## Signed requests (`/api/v1/pos/...`)

Every call under `/api/v1/pos/` must also be signed with the key's **signing secret** (shown once
when the key is created or its secret rotated, on the API keys page). Send three headers:

| header | value |
| --- | --- |
| `X-Patron-Timestamp` | the current unix time in whole seconds |
| `X-Patron-Nonce` | a fresh random string of 8–64 characters from `A-Z a-z 0-9 _ -`, never reused with this key |
| `X-Patron-Signature` | hex HMAC-SHA256, keyed with the signing secret, of the bytes below |

The signed bytes are `"{timestamp}.{nonce}.{METHOD}.{path}."` (UTF-8) followed by the raw request
body exactly as sent (empty for a GET). `METHOD` is upper case; `path` is the URL path, e.g.
`/api/v1/pos/identify`, followed by `?` and the query string as sent when there is one. In Python:

```python
message = f"{ts}.{nonce}.POST./api/v1/pos/identify.".encode() + body
signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
```

Refusals are 401s: `signature_missing` (a header is absent), `signature_invalid` (wrong signature,
or a malformed timestamp or nonce), `request_expired` (timestamp more than 300 s from the server's
clock, either way), `nonce_replayed` (the nonce was already used by this key). A retry of a write
is signed again with a new nonce and keeps its Idempotency-Key.
"""

api = NinjaAPI(
    title="Patron API",
    version="1",
    description=DESCRIPTION,
    auth=[BearerKey(), HeaderKey()],
    urls_namespace="api-v1",
    parser=StrictJsonParser(),
)
api.add_router("/members", members_router)
api.add_router("/", transactions_router)
api.add_router("/pos", pos_router)
api.add_router("/activities", activities_router)
api.add_router("/", "patron.tiers.api.router")
api.add_router("/", "patron.rewards.api.router")
api.add_router("/pos/coupons", "patron.rewards.api.pos_router")
api.add_router("/", "patron.analytics.api.router")


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(request, error_body(exc), status=exc.status)


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = {}
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "payload")]
        fields[".".join(loc) or "body"] = err.get("msg", "invalid")
    body = {"code": "validation_error", "message": "The request is not valid.", "fields": fields}
    return api.create_response(request, body, status=422)


@api.exception_handler(AuthenticationError)
def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    body = {"code": "invalid_api_key", "message": "A valid API key is required.", "fields": {}}
    return api.create_response(request, body, status=401)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return api.create_response(request, {"code": code, "message": str(exc), "fields": {}}, status=exc.status_code)
