"""The audit log: every sensitive read and every write of consequence leaves a row."""

from __future__ import annotations

from typing import Any

from patron.core import clock
from patron.core.context import current_actor
from patron.core.models import AuditEntry


def record_audit(
    action: str,
    *,
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEntry:
    """Write an audit row in the caller's transaction, attributed to the current actor."""
    actor = current_actor()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    user = actor.user
    return AuditEntry.objects.create(
        at=clock.now(),
        actor=user if user is not None and getattr(user, "pk", None) else None,
        actor_label=actor.label[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        reason=reason,
        request_id=actor.request_id,
        ip=actor.ip,
    )
