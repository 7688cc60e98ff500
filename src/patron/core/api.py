"""What every app's API router shares: scope checks and idempotent writes.

The API app authenticates the caller and puts a `Caller` on `request.auth`; routers in each app
ask for scopes and wrap their writes in `idempotent(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from patron.core import idempotency
from patron.core.errors import DomainError, PermissionDenied, ValidationFailed


@dataclass(frozen=True)
class Caller:
    key_id: int
    name: str
    scopes: frozenset[str]
    store_id: int | None


def caller(request: HttpRequest) -> Caller:
    auth = getattr(request, "auth", None)
    if not isinstance(auth, Caller):
        raise PermissionDenied(_("Authentication required."), code="unauthenticated")
    return auth


def require_scope(request: HttpRequest, scope: str, *alternatives: str) -> Caller:
    """The caller, if its key has `scope` (or any of the `alternatives`)."""
    who = caller(request)
    accepted = (scope, *alternatives)
    if not who.scopes.intersection(accepted):
        raise PermissionDenied(
            _("This API key lacks the %(scope)s scope.") % {"scope": " or ".join(accepted)}, code="scope_missing"
        )
    return who


def idempotent(request: HttpRequest, payload: Any, write: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
    """Run `write` once per Idempotency-Key: the key is claimed in the same transaction as the
    write, a retry gets the stored first response, another body under the same key is a 422."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ValidationFailed(_("Send an Idempotency-Key header with every write."), code="idempotency_key_required")
    if len(key) > 200:
        raise ValidationFailed(_("The Idempotency-Key is longer than 200 characters."), code="validation_error")
    who = caller(request)
    fingerprint = idempotency.fingerprint({"path": request.path, "method": request.method, "body": payload})
    with transaction.atomic():
        claimed = idempotency.claim(f"key:{who.key_id}", key, fingerprint)
        if isinstance(claimed, idempotency.Replay):
            return claimed.status_code, claimed.body
        try:
            with transaction.atomic():
                status, body = write()
        except DomainError as exc:
            # A refusal is an answer too: a retry must get the same refusal, not a second try.
            status, body = exc.status, error_body(exc)
        idempotency.complete(claimed, status, body)
    return status, body


def error_body(exc: DomainError) -> dict[str, Any]:
    return {"code": str(exc.code), "message": exc.message, "fields": exc.fields}
