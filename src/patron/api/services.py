"""API keys: issue, revoke, verify (with a short in-process cache: the hot path is every request),
and the per-key request-signing secret that /api/v1/pos/ calls are signed with (ADR 0006)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from patron.api import crypto
from patron.api.models import ApiKey, Scope, UsedNonce
from patron.core import clock
from patron.core.audit import record_audit
from patron.core.cache import KeyedProcessCache
from patron.core.context import current_actor
from patron.core.db import insert_or_nothing
from patron.core.errors import ValidationFailed
from patron.members.models import Store

_CACHE_SECONDS = 10.0  # a revocation takes effect within this time on every process
_LAST_USED_EVERY = 60.0
SIGNATURE_MAX_AGE = 300  # seconds a signed request's timestamp may be away from now, either way
NONCE_RETENTION_SECONDS = 2 * SIGNATURE_MAX_AGE  # a nonce outlives every timestamp it could be replayed with


@dataclass(frozen=True)
class VerifiedKey:
    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    store_id: int | None
    signing_secret: str | None = field(default=None, repr=False, compare=False)


_last_used: dict[int, float] = {}
_lock = threading.Lock()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_signing_secret() -> str:
    return f"pss_{secrets.token_urlsafe(32)}"


@transaction.atomic
def do_issue_api_key(*, name: str, scopes: list[str], store: Store | None = None) -> tuple[ApiKey, str, str]:
    """Create a key; return it with its plain text (shown once, only a hash is stored) and its
    request-signing secret (shown once, stored sealed)."""
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
    signing_secret = _new_signing_secret()
    now = clock.now()
    key = ApiKey.objects.create(
        name=name.strip(),
        prefix=prefix,
        secret_hash=_hash(plain),
        scopes=sorted(set(scopes)),
        store=store,
        created_at=now,
        created_by=current_actor().label[:150],
        signing_secret_sealed=crypto.seal(signing_secret),
        signing_secret_rotated_at=now,
    )
    record_audit(
        "apikey.issue", obj=key, after={"name": key.name, "scopes": key.scopes, "store": store.code if store else None}
    )
    return key, plain, signing_secret


@transaction.atomic
def do_rotate_signing_secret(*, key: ApiKey) -> str:
    """Give the key a new signing secret and return it (shown once). The old one stops working at
    once in this process and within the cache time (10 s) in every other."""
    if key.revoked_at is not None:
        raise ValidationFailed(_("This key is revoked."), code="validation_error")
    signing_secret = _new_signing_secret()
    key.signing_secret_sealed = crypto.seal(signing_secret)
    key.signing_secret_rotated_at = clock.now()
    key.save(update_fields=["signing_secret_sealed", "signing_secret_rotated_at"])
    record_audit("apikey.rotate_signing_secret", obj=key)
    transaction.on_commit(lambda: _forget(key.prefix))
    _forget(key.prefix)
    return signing_secret


def _forget(prefix: str) -> None:
    _keys.forget(prefix)


@transaction.atomic
def do_revoke_api_key(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        key.save(update_fields=["revoked_at"])
        record_audit("apikey.revoke", obj=key)
    _forget(key.prefix)
    return key


def verify_api_key(plain: str) -> VerifiedKey | None:
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != "pk":
        return None
    secret_hash, verified = _keys.get(parts[1])
    if verified is None or not hmac.compare_digest(secret_hash, _hash(plain)):
        return None
    _touch(verified.id, time.monotonic())
    return verified


def _load(prefix: str) -> tuple[str, VerifiedKey | None]:
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None:
        return "", None
    signing_secret = crypto.unseal(key.signing_secret_sealed) if key.signing_secret_sealed else None
    verified = VerifiedKey(key.pk, key.name, key.prefix, frozenset(key.scopes), key.store_id, signing_secret)
    return key.secret_hash, verified


_keys: KeyedProcessCache[str, tuple[str, VerifiedKey | None]] = KeyedProcessCache(_CACHE_SECONDS, _load)


def _touch(key_id: int, now: float) -> None:
    """Record last use, at most once a minute per key and process: not a write per request."""
    with _lock:
        if now - _last_used.get(key_id, 0.0) < _LAST_USED_EVERY:
            return
        _last_used[key_id] = now
    ApiKey.objects.filter(pk=key_id).update(last_used_at=clock.now())


def do_claim_nonce(*, key_id: int, nonce: str) -> bool:
    """Record that the key used this nonce; False when it already had (a replay). Outside a
    transaction the row commits at once whatever the request then does, so a nonce is good for one
    request only; inside one it commits or rolls back with it (the caller's business: ADR 0008)."""
    return insert_or_nothing(UsedNonce(key_id=key_id, nonce=nonce, seen_at=clock.now()), ("key", "nonce"))


def clear_cache() -> None:
    _keys.forget()
    with _lock:
        _last_used.clear()
