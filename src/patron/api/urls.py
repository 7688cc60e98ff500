"""The versioned REST API at /api/v1/, with its OpenAPI document at /api/v1/openapi.json."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from patron.api.auth import BearerKey, HeaderKey
from patron.core.api import error_body
from patron.core.errors import DomainError
from patron.members.api import router as members_router
from patron.members.api import transactions_router

api = NinjaAPI(
    title="Patron API",
    version="1",
    description="Members, identification at the till, transactions and refunds. Every write takes an "
    "Idempotency-Key header; errors are JSON with a stable `code`.",
    auth=[BearerKey(), HeaderKey()],
    urls_namespace="api-v1",
)
api.add_router("/members", members_router)
api.add_router("/", transactions_router)


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
