"""API keys: issue, revoke, verify (with a short in-process cache: the hot path is every request)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from patron.api.models import ApiKey, Scope
from patron.core import clock
from patron.core.audit import record_audit
from patron.core.context import current_actor
from patron.core.errors import ValidationFailed
from patron.members.models import Store

_CACHE_SECONDS = 10.0  # a revocation takes effect within this time on every process
_LAST_USED_EVERY = 60.0


@dataclass(frozen=True)
class VerifiedKey:
    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    store_id: int | None


_cache: dict[str, tuple[float, str, VerifiedKey | None]] = {}
_last_used: dict[int, float] = {}
_lock = threading.Lock()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def do_issue_api_key(*, name: str, scopes: list[str], store: Store | None = None) -> tuple[ApiKey, str]:
    """Create a key and return it with its plain text, which is shown once and never stored."""
    if not name.strip():
        raise ValidationFailed(_("Name the key."), fields={"name": _("required")})
    unknown = set(scopes) - set(Scope.values)
    if unknown or not scopes:
        raise ValidationFailed(
            _("Choose valid scopes."), fields={"scopes": ", ".join(sorted(unknown)) or _("required")}
        )
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    plain = f"pk_{prefix}_{secret}"
    key = ApiKey.objects.create(
        name=name.strip(),
        prefix=prefix,
        secret_hash=_hash(plain),
        scopes=sorted(set(scopes)),
        store=store,
        created_at=clock.now(),
        created_by=current_actor().label[:150],
    )
    record_audit(
        "apikey.issue", obj=key, after={"name": key.name, "scopes": key.scopes, "store": store.code if store else None}
    )
    return key, plain


@transaction.atomic
def do_revoke_api_key(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        key.save(update_fields=["revoked_at"])
        record_audit("apikey.revoke", obj=key)
    with _lock:
        _cache.pop(key.prefix, None)
    return key


def verify_api_key(plain: str) -> VerifiedKey | None:
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != "pk":
        return None
    prefix = parts[1]
    now = time.monotonic()
    with _lock:
        cached = _cache.get(prefix)
    if cached is None or now - cached[0] > _CACHE_SECONDS:
        cached = (now, *_load(prefix))
        with _lock:
            _cache[prefix] = cached
    _at, secret_hash, verified = cached
    if verified is None or not hmac.compare_digest(secret_hash, _hash(plain)):
        return None
    _touch(verified.id, now)
    return verified


def _load(prefix: str) -> tuple[str, VerifiedKey | None]:
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None:
        return "", None
    return key.secret_hash, VerifiedKey(key.pk, key.name, key.prefix, frozenset(key.scopes), key.store_id)


def _touch(key_id: int, now: float) -> None:
    """Record last use, at most once a minute per key and process: not a write per request."""
    with _lock:
        if now - _last_used.get(key_id, 0.0) < _LAST_USED_EVERY:
            return
        _last_used[key_id] = now
    ApiKey.objects.filter(pk=key_id).update(last_used_at=clock.now())


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _last_used.clear()
