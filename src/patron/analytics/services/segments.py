"""Saving segments and freezing their members into snapshots."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from patron.analytics import segments
from patron.analytics.errors import ErrorCode
from patron.analytics.events import SegmentSnapshotTaken
from patron.analytics.models import Segment, SegmentSnapshot, SnapshotMember
from patron.core import clock
from patron.core.audit import record_audit
from patron.core.context import current_actor
from patron.core.errors import Conflict, ValidationFailed
from patron.core.events import publish
from patron.rewards.models import CouponBatch
from patron.rewards.services import GroupIssue, do_issue_to_group


def checked_rules(rules: Any) -> dict[str, Any]:
    """The rules validated and normalised, or a ValidationFailed naming the condition at fault."""
    return checked(rules)[0]


def checked(rules: Any) -> tuple[dict[str, Any], Q]:
    """The rules validated and normalised, with their compiled filter over Member (for a count and
    sample from one compilation); a ValidationFailed names the condition at fault."""
    try:
        group, q = segments.compiled(rules)
    except segments.SegmentError as exc:
        raise ValidationFailed(str(exc), code=ErrorCode.INVALID_SEGMENT, fields={"rules": str(exc)}) from exc
    return _canonical(group.model_dump(mode="json", exclude_defaults=True)), q


def _canonical(group: dict[str, Any]) -> dict[str, Any]:
    """Defaults left out of conditions, but every group says how it matches and what it holds."""
    items = [_canonical(c) if "conditions" in c or "match" in c else c for c in group.get("conditions", [])]
    return {"match": group.get("match", "all"), "conditions": items}


def _checked_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(
            _("A segment needs a name."), code=ErrorCode.INVALID_SEGMENT, fields={"name": _("required")}
        )
    return name[:100]


@transaction.atomic
def create_segment(*, name: str, rules: Any, description: str = "") -> Segment:
    now, who = clock.now(), current_actor().label[:150]
    try:
        with transaction.atomic():
            segment = Segment.objects.create(
                name=_checked_name(name),
                description=description.strip()[:500],
                rules=checked_rules(rules),
                created_at=now,
                created_by=who,
                updated_at=now,
                updated_by=who,
            )
    except IntegrityError as exc:
        raise _name_taken() from exc
    record_audit("segments.create", obj=segment, after={"name": segment.name, "rules": segment.rules})
    return segment


@transaction.atomic
def update_segment(segment: Segment, *, name: str, rules: Any, description: str = "") -> Segment:
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.archived_at is not None:
        raise Conflict(_("This segment is archived."), code=ErrorCode.SEGMENT_ARCHIVED)
    before = {"name": segment.name, "rules": segment.rules}
    segment.name = _checked_name(name)
    segment.description = description.strip()[:500]
    segment.rules = checked_rules(rules)
    segment.updated_at = clock.now()
    segment.updated_by = current_actor().label[:150]
    segment.last_count = None
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError as exc:
        raise _name_taken() from exc
    record_audit("segments.update", obj=segment, before=before, after={"name": segment.name, "rules": segment.rules})
    return segment


def _name_taken() -> ValidationFailed:
    return ValidationFailed(
        _("Another segment already has this name."), code=ErrorCode.INVALID_SEGMENT, fields={"name": _("taken")}
    )


@transaction.atomic
def archive_segment(segment: Segment) -> Segment:
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.archived_at is None:
        segment.archived_at = clock.now()
        segment.save(update_fields=["archived_at"])
        record_audit("segments.archive", obj=segment)
    return segment


def record_count(segment: Segment, count: int) -> None:
    """Remember the latest count for the list page (not audited: nothing about members changes)."""
    Segment.objects.filter(pk=segment.pk).update(last_count=count, last_counted_at=clock.now())


@transaction.atomic
def take_snapshot(segment: Segment, *, label: str = "") -> SegmentSnapshot:
    """Freeze the members the segment matches now, in one INSERT … SELECT."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.archived_at is not None:
        raise Conflict(_("This segment is archived."), code=ErrorCode.SEGMENT_ARCHIVED)
    snapshot = SegmentSnapshot.objects.create(
        segment=segment,
        label=label.strip()[:100],
        rules=segment.rules,
        taken_at=clock.now(),
        taken_by=current_actor().label[:150],
    )
    members = segments.members_matching(segment.rules).order_by().values("pk")
    sql, params = members.query.sql_with_params()
    table = SnapshotMember._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            # The subquery selects one column, the member id, whatever the backend calls it.
            f"INSERT INTO {table} (snapshot_id, member_id) SELECT %s, m.* FROM ({sql}) m",
            [snapshot.pk, *params],
        )
        count = cur.rowcount
    snapshot.member_count = count
    snapshot.save(update_fields=["member_count"])
    record_count(segment, count)
    record_audit(
        "segments.snapshot", obj=snapshot, after={"segment": segment.pk, "members": count, "label": snapshot.label}
    )
    publish(SegmentSnapshotTaken(snapshot_id=snapshot.pk, segment_id=segment.pk, members=count))
    return snapshot


def issue_coupons(snapshot: SegmentSnapshot, batch: CouponBatch) -> GroupIssue:
    """One coupon of the batch to each member frozen in the snapshot (members who joined the
    segment since get none: that is what the snapshot is for)."""
    member_ids = list(SnapshotMember.objects.filter(snapshot=snapshot).values_list("member_id", flat=True))
    issue = do_issue_to_group(batch=batch, member_ids=member_ids, source_ref=f"snapshot:{snapshot.pk}")
    record_audit(
        "segments.snapshot_coupons",
        obj=snapshot,
        after={"batch": batch.code, "members": issue.members, "queued": issue.result is None},
    )
    return issue
