from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import APIKeyHeader, HttpBearer

from patron.api.errors import ErrorCode, SignatureRefused
from patron.api.services import SIGNATURE_MAX_AGE, VerifiedKey, do_claim_nonce, verify_api_key
from patron.core import clock
from patron.core.api import Caller
from patron.core.context import Actor
from patron.core.middleware import client_ip
from patron.integrations import signing

# Every route under this prefix, whichever app's router it lives in, takes signed requests only.
SIGNED_PREFIX = "/api/v1/pos/"


def _caller_for(request: HttpRequest, token: str) -> Caller | None:
    verified = verify_api_key(token)
    if verified is None:
        return None
    if request.path_info.startswith(SIGNED_PREFIX):
        check_signature(request, verified)
    request.patron_actor = Actor(  # type: ignore[attr-defined]
        user=None,
        label=f"api:{verified.name}"[:150],
        request_id=getattr(request, "request_id", ""),
        ip=client_ip(request),
    )
    return Caller(key_id=verified.id, name=verified.name, scopes=verified.scopes, store_id=verified.store_id)


def check_signature(request: HttpRequest, verified: VerifiedKey) -> None:
    """Refuse the request unless the key's secret signed this method, path, body, time and nonce,
    the time is within SIGNATURE_MAX_AGE of now and the nonce is new for this key (ADR 0006)."""
    timestamp = request.headers.get(signing.TIMESTAMP_HEADER, "").strip()
    nonce = request.headers.get(signing.NONCE_HEADER, "").strip()
    signature = request.headers.get(signing.SIGNATURE_HEADER, "").strip()
    missing = [
        name
        for name, value in (
            (signing.TIMESTAMP_HEADER, timestamp),
            (signing.NONCE_HEADER, nonce),
            (signing.SIGNATURE_HEADER, signature),
        )
        if not value
    ]
    if missing:
        raise SignatureRefused(
            _("Sign this request: send the X-Patron-Timestamp, X-Patron-Nonce and X-Patron-Signature headers."),
            code=ErrorCode.SIGNATURE_MISSING,
            fields={name: _("required") for name in missing},
        )
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused(
            _("The request signature is not valid."),
            fields={signing.TIMESTAMP_HEADER: _("unix time in whole seconds")},
        )
    if not signing.NONCE_PATTERN.fullmatch(nonce):
        raise SignatureRefused(
            _("The request signature is not valid."),
            fields={signing.NONCE_HEADER: _("8 to 64 letters, digits, '-' or '_'")},
        )
    path = request.path
    query = request.META.get("QUERY_STRING", "")
    if query:
        path = f"{path}?{query}"
    if verified.signing_secret is None:
        raise SignatureRefused(_("This key has no signing secret: create one on the API keys page."))
    if not signing.verify_request(
        verified.signing_secret,
        timestamp=timestamp,
        nonce=nonce,
        method=request.method or "",
        path=path,
        body=request.body,
        signature=signature,
    ):
        raise SignatureRefused(_("The request signature is not valid."))
    if abs(clock.now().timestamp() - int(timestamp)) > SIGNATURE_MAX_AGE:
        raise SignatureRefused(
            _("The request is too old or too far in the future: check the till's clock."),
            code=ErrorCode.REQUEST_EXPIRED,
        )
    if not do_claim_nonce(key_id=verified.id, nonce=nonce):
        raise SignatureRefused(
            _("This request was already received: sign every request with a new nonce."),
            code=ErrorCode.NONCE_REPLAYED,
        )


class BearerKey(HttpBearer):
    """`Authorization: Bearer pk_xxxxxxxx_secret`."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return _caller_for(request, token)


class HeaderKey(APIKeyHeader):
    """`X-Api-Key: pk_xxxxxxxx_secret`, for tills that cannot set Authorization."""

    param_name = "X-Api-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return _caller_for(request, key) if key else None
