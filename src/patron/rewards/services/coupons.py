"""Coupon batches, bulk codes, issuing and claiming, validation and redemption at the till,
refund hand-backs and the failed-lookup limits."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.context import current_actor
from patron.core.errors import DomainError, NotFound, ValidationFailed
from patron.core.events import publish
from patron.members.models import Member, MemberStatus, Store, Transaction, TransactionKind
from patron.members.services import add_timeline, add_timeline_rows, lock_member, refunded_so_far
from patron.rewards import codes, discounts, events
from patron.rewards.errors import ErrorCode
from patron.rewards.models import (
    AttemptCounter,
    CodeMode,
    Coupon,
    CouponBatch,
    CouponKind,
    CouponRedemption,
    CouponSource,
    CouponStatus,
)
from patron.rewards.services.common import TooManyAttempts, refuse

# =========================================================================== coupon batches


BATCH_FIELDS = (  # noqa: SIM905
    "name name_en description kind amount_off percent_off max_discount gift_sku currency min_spend "
    "categories valid_from valid_until valid_days code_mode shared_code usage_limit per_member_limit "
    "total_limit stacking max_per_order claimable restore_on_refund unredeem_hours is_active"
).split()


def check_batch(batch: CouponBatch) -> None:
    problems: dict[str, str] = {}
    if batch.kind == CouponKind.AMOUNT_OFF and not (batch.amount_off and batch.amount_off > 0):
        problems["amount_off"] = _("Set the amount off.")
    if batch.kind == CouponKind.PERCENT_OFF and not (batch.percent_off and 1 <= batch.percent_off <= 99):
        problems["percent_off"] = _("A percentage between 1 and 99.")
    if batch.kind == CouponKind.GIFT_ITEM and not batch.gift_sku:
        problems["gift_sku"] = _("Which item is the gift (its SKU)?")
    if batch.min_spend < 0:
        problems["min_spend"] = _("Cannot be negative.")
    if batch.max_discount is not None and batch.max_discount <= 0:
        problems["max_discount"] = _("Must be above zero.")
    for name in ("valid_days", "usage_limit", "total_limit"):
        if getattr(batch, name) is not None and getattr(batch, name) < 1:
            problems[name] = _("At least 1.")
    if batch.unredeem_hours < 0:
        problems["unredeem_hours"] = _("Cannot be negative.")
    if batch.valid_from and batch.valid_until and batch.valid_until <= batch.valid_from:
        problems["valid_until"] = _("The end must come after the start.")
    if not batch.valid_until and not batch.valid_days:
        problems["valid_days"] = _("Give an end date or a number of days after issue.")
    if batch.code_mode == CodeMode.SHARED:
        batch.shared_code = codes.normalize(batch.shared_code or "")
        if not 4 <= len(batch.shared_code) <= 40:
            problems["shared_code"] = _("A shared code of 4 to 40 letters and digits.")
        elif CouponBatch.objects.filter(shared_code=batch.shared_code).exclude(pk=batch.pk).exists():
            problems["shared_code"] = _("Another batch uses this code.")
        elif Coupon.objects.filter(code=batch.shared_code).exists():
            problems["shared_code"] = _("A coupon has this code.")
    else:
        batch.shared_code = None
        batch.usage_limit = None
    if batch.stacking == "exclusive":
        batch.max_per_order = 1
    elif not 2 <= batch.max_per_order <= 20:
        problems["max_per_order"] = _("A stackable coupon allows 2 to 20 coupons per order.")
    if batch.per_member_limit < 1:
        problems["per_member_limit"] = _("At least 1.")
    if problems:
        raise ValidationFailed(_("The coupon batch is not valid."), code=ErrorCode.INVALID_BATCH, fields=problems)


@transaction.atomic
def do_create_batch(*, code: str, stores: Iterable[Store] = (), **fields: Any) -> CouponBatch:
    unknown = set(fields) - set(BATCH_FIELDS)
    if unknown:
        raise TypeError(f"unknown batch fields: {sorted(unknown)}")
    if CouponBatch.objects.filter(code=code).exists():
        raise refuse(ErrorCode.INVALID_BATCH, _("A batch with this code exists."), code=_("taken"))
    batch = CouponBatch(code=code, created_at=clock.now(), created_by=current_actor().label[:150], **fields)
    check_batch(batch)
    batch.save(force_insert=True)
    batch.stores.set(list(stores))
    record_audit("coupons.batch_create", obj=batch, after={"code": code, "kind": batch.kind})
    return batch


@transaction.atomic
def do_update_batch(*, batch: CouponBatch, stores: Iterable[Store] | None = None, **changes: Any) -> CouponBatch:
    """Edit a batch's terms; coupons already issued keep the validity they were issued with."""
    unknown = set(changes) - set(BATCH_FIELDS)
    if unknown:
        raise TypeError(f"unknown batch fields: {sorted(unknown)}")
    batch = CouponBatch.objects.select_for_update().get(pk=batch.pk)
    if "code_mode" in changes and changes["code_mode"] != batch.code_mode and batch.coupons.exists():
        raise refuse(ErrorCode.INVALID_BATCH, _("Coupons exist: the code mode cannot change."), code_mode=_("fixed"))
    before = {k: str(getattr(batch, k)) for k in changes}
    for key, value in changes.items():
        setattr(batch, key, value)
    check_batch(batch)
    batch.save()
    if stores is not None:
        batch.stores.set(list(stores))
        transaction.on_commit(forget_batch_stores)
    record_audit("coupons.batch_update", obj=batch, before=before, after={k: str(v) for k, v in changes.items()})
    return batch


def _validity(batch: CouponBatch, at: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    until = batch.valid_until
    if batch.valid_days:
        local_day = at.astimezone(clock.member_zone()).date() + dt.timedelta(days=batch.valid_days - 1)
        relative = clock.local_day_end(local_day)
        until = min(until, relative) if until else relative
    return batch.valid_from, until


def _count_issue(batch: CouponBatch, n: int) -> None:
    if batch.total_limit is None:
        return
    if not CouponBatch.objects.filter(pk=batch.pk, issued_count__lte=F("total_limit") - n).update(
        issued_count=F("issued_count") + n
    ):
        raise refuse(ErrorCode.BATCH_EXHAUSTED, _("All coupons of this batch have been issued."))


# --------------------------------------------------------------------------- bulk code generation


GENERATE_CHUNK = 20_000


def check_generate(batch: CouponBatch, count: int) -> None:
    """Whether `count` codes can be generated for the batch (asked before a background job is queued)."""
    if batch.code_mode != CodeMode.UNIQUE:
        raise refuse(ErrorCode.INVALID_BATCH, _("A shared-code batch has no codes to generate."))
    if not batch.is_active:
        raise refuse(ErrorCode.INVALID_BATCH, _("This coupon batch is switched off."))
    if not 1 <= count <= 10_000_000:
        raise refuse(ErrorCode.INVALID_BATCH, _("Generate between 1 and 10,000,000 codes."), count=_("out of range"))
    if batch.total_limit is not None and batch.issued_count + count > batch.total_limit:
        raise refuse(
            ErrorCode.BATCH_EXHAUSTED, _("All coupons of this batch have been issued."), count=_("over the limit")
        )


def do_generate_codes(*, batch: CouponBatch, count: int) -> int:
    """Create `count` unassigned unique codes (to print, hand out or give a partner), in chunks of
    one multi-row statement each. A collision (one in ~10¹² per pair) is skipped by the unique key
    and made up in the next chunk. Returns how many were created."""
    check_generate(batch, count)
    _count_issue(batch, count)  # its own statement: a limit refuses before anything is written
    now = clock.now()
    valid_from, valid_until = _validity(batch, now)
    made = 0
    while made < count:
        want = min(GENERATE_CHUNK, count - made)
        with transaction.atomic():
            made += _insert_codes(batch.pk, codes.random_codes(want), now, valid_from, valid_until)
    record_audit("coupons.generate", obj=batch, after={"count": made})
    return made


def _insert_codes(
    batch_id: int, new: list[str], now: dt.datetime, valid_from: dt.datetime | None, valid_until: dt.datetime | None
) -> int:
    ops = connection.ops
    table = Coupon._meta.db_table
    cols = "batch_id, code, status, source, source_ref, valid_from, valid_until, created_at"
    stamp = ops.adapt_datetimefield_value
    fixed = [
        CouponStatus.AVAILABLE.value,
        CouponSource.GENERATED.value,
        "",
        stamp(valid_from),
        stamp(valid_until),
        stamp(now),
    ]
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"INSERT INTO {table} ({cols}) SELECT %s, c, %s, %s, %s, %s, %s, %s FROM unnest(%s::text[]) AS c "
                "ON CONFLICT (code) DO NOTHING",
                [batch_id, *fixed, new],
            )
            return cur.rowcount
        cur.executemany(
            f"INSERT OR IGNORE INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(batch_id, code, *fixed) for code in new],
        )
        return cur.rowcount


# --------------------------------------------------------------------------- issuing


def _held_from_batch(batch: CouponBatch, member: Member) -> int:
    return Coupon.objects.filter(batch=batch, member=member).exclude(status=CouponStatus.VOIDED).count()


def check_can_issue(batch: CouponBatch, member: Member, n: int = 1) -> None:
    if member.status != MemberStatus.ACTIVE:
        raise refuse(
            ErrorCode.MEMBER_NOT_ACTIVE,
            _("This membership is %(s)s: no coupons.") % {"s": member.get_status_display()},
        )
    if not batch.is_active:
        raise refuse(ErrorCode.INVALID_BATCH, _("This coupon batch is switched off."))
    now = clock.now()
    if batch.valid_until and batch.valid_until <= now:
        raise refuse(ErrorCode.COUPON_EXPIRED, _("This coupon batch has ended."))
    held = _held_from_batch(batch, member)
    if held + n > batch.per_member_limit:
        raise refuse(
            ErrorCode.COUPON_LIMIT,
            _("A member may hold %(n)s of this coupon; this member has %(held)s.")
            % {"n": batch.per_member_limit, "held": held},
        )
    if batch.total_limit is not None and batch.issued_count + n > batch.total_limit:
        raise refuse(ErrorCode.BATCH_EXHAUSTED, _("All coupons of this batch have been issued."))


def issue_locked(batch: CouponBatch, member: Member, source: str, source_ref: str = "") -> Coupon:
    """Issue one coupon to a locked member: a fresh unique code, or a wallet entry for a shared code."""
    check_can_issue(batch, member)
    _count_issue(batch, 1)
    return _create_coupons(batch, [member.pk], source, source_ref[:100])[0]


def _create_coupons(batch: CouponBatch, member_ids: list[int], source: str, source_ref: str) -> list[Coupon]:
    """The coupons of members already checked and counted, their timeline rows and events."""
    now = clock.now()
    valid_from, valid_until = _validity(batch, now)
    unique = batch.code_mode == CodeMode.UNIQUE
    new_codes: list[str | None] = list(codes.random_codes(len(member_ids))) if unique else [None] * len(member_ids)
    coupons = Coupon.objects.bulk_create(
        Coupon(
            batch=batch,
            code=code,
            member_id=member_id,
            status=CouponStatus.ISSUED,
            source=source,
            source_ref=source_ref,
            issued_at=now,
            valid_from=valid_from,
            valid_until=valid_until,
            created_at=now,
        )
        for member_id, code in zip(member_ids, new_codes, strict=True)
    )
    shown = [codes.display(code or batch.shared_code or "") for code in new_codes]
    add_timeline_rows(
        "coupon_issued",
        [(m, {"batch": batch.name, "code": code, "source": source}) for m, code in zip(member_ids, shown, strict=True)],
    )
    for coupon, member_id in zip(coupons, member_ids, strict=True):
        publish(events.CouponIssued(coupon.pk, member_id, batch.code, source))
    return coupons


@transaction.atomic
def do_issue_coupon(
    *, batch: CouponBatch, member: Member, source: str = CouponSource.MANUAL, source_ref: str = ""
) -> Coupon:
    member = lock_member(member.pk)
    batch = CouponBatch.objects.get(pk=batch.pk)
    coupon = issue_locked(batch, member, source, source_ref)
    if source in (CouponSource.MANUAL, CouponSource.API):
        record_audit("coupons.issue", obj=member, after={"batch": batch.code, "coupon": coupon.pk})
    return coupon


ISSUE_CHUNK = 1000


@dataclass
class BulkIssue:
    issued: int = 0
    skipped: int = 0  # at their limit, closed, or unknown


GROUP_INLINE = 200  # a group up to this size is issued while the page waits; a larger one in the background


@dataclass
class GroupIssue:
    members: int
    result: BulkIssue | None  # None: queued, issued in the background after the commit

    def summary(self) -> str:
        """What happened, for the page that asked."""
        if self.result is None:
            return _("Coupons for %(n)s members are being issued in the background.") % {"n": self.members}
        return _("%(issued)s coupons issued; %(skipped)s members skipped (at their limit, or the batch is closed).") % {
            "issued": self.result.issued,
            "skipped": self.result.skipped,
        }


def do_issue_to_group(*, batch: CouponBatch, member_ids: Iterable[int], source_ref: str = "") -> GroupIssue:
    """One coupon each to a group chosen in the console (a tag, a tier, pasted numbers, a segment's
    snapshot): at once for a small group, by a background task for a large one."""
    from patron.rewards import tasks  # tasks call the services

    ids = sorted(set(member_ids))
    if len(ids) > GROUP_INLINE:
        transaction.on_commit(lambda: tasks.issue_to_members.enqueue(batch.pk, ids, source_ref))
        return GroupIssue(len(ids), None)
    return GroupIssue(len(ids), do_issue_to_members(batch=batch, member_ids=ids, source_ref=source_ref))


def do_issue_to_members(
    *, batch: CouponBatch, member_ids: Iterable[int], source: str = CouponSource.BULK, source_ref: str = ""
) -> BulkIssue:
    """Issue one coupon to each member (a group chosen in the console, a segment, a campaign's
    audience), 1,000 members to a transaction: each chunk's members are locked in id order, those
    who may not have another (not active, or at the batch's per-member limit) are skipped, and the
    rest get their coupons, timeline rows and events by bulk statements. When the batch's overall
    limit runs out, the members past it are skipped."""
    ids = sorted(set(member_ids))
    result = BulkIssue()
    for start in range(0, len(ids), ISSUE_CHUNK):
        chunk = ids[start : start + ISSUE_CHUNK]
        with transaction.atomic():
            issued = _issue_chunk(batch.pk, chunk, source, source_ref[:100])
        result.issued += issued
        result.skipped += len(chunk) - issued
    record_audit("coupons.issue_bulk", obj=batch, after={"issued": result.issued, "skipped": result.skipped})
    return result


def _issue_chunk(batch_id: int, member_ids: list[int], source: str, source_ref: str) -> int:
    batch = CouponBatch.objects.get(pk=batch_id)
    now = clock.now()
    if not batch.is_active or (batch.valid_until and batch.valid_until <= now):
        return 0
    locked = Member.objects.select_for_update().filter(pk__in=member_ids).order_by("pk").values_list("pk", "status")
    held = dict(
        Coupon.objects.filter(batch=batch, member_id__in=member_ids)
        .exclude(status=CouponStatus.VOIDED)
        .values_list("member_id")
        .annotate(n=Count("id"))
    )
    chosen = [pk for pk, status in locked if status == MemberStatus.ACTIVE and held.get(pk, 0) < batch.per_member_limit]
    if batch.total_limit is not None:  # members are locked first, then the batch row, as in issue_locked
        row = CouponBatch.objects.select_for_update().get(pk=batch_id)
        chosen = chosen[: max(0, row.total_limit - row.issued_count)]  # type: ignore[operator]
        CouponBatch.objects.filter(pk=batch_id).update(issued_count=F("issued_count") + len(chosen))
    if not chosen:
        return 0
    return len(_create_coupons(batch, chosen, source, source_ref))


@transaction.atomic
def do_claim_coupon(*, member: Member, code: str) -> Coupon:
    """A member enters a code (printed, from a partner, a shared promo code) and the coupon becomes theirs."""
    text = codes.normalize(code)
    member = lock_member(member.pk)
    coupon = Coupon.objects.select_related("batch").filter(code=text).first()
    if coupon is not None:
        if not coupon.batch.claimable:
            raise refuse(ErrorCode.COUPON_NOT_FOUND, _("No coupon can be claimed with this code."))
        if coupon.member_id == member.pk:
            return coupon
        if coupon.member_id is not None or coupon.status != CouponStatus.AVAILABLE:
            raise refuse(ErrorCode.COUPON_USED, _("This code has already been claimed or used."))
        check_can_issue(coupon.batch, member)
        now = clock.now()
        taken = Coupon.objects.filter(pk=coupon.pk, status=CouponStatus.AVAILABLE, member__isnull=True).update(
            member=member, status=CouponStatus.ISSUED, issued_at=now, source=CouponSource.CLAIM
        )
        if not taken:
            raise refuse(ErrorCode.COUPON_USED, _("This code has already been claimed or used."))
        coupon.refresh_from_db()
        add_timeline(
            member, "coupon_issued", batch=coupon.batch.name, code=codes.display(text), source=CouponSource.CLAIM
        )
        publish(events.CouponIssued(coupon.pk, member.pk, coupon.batch.code, CouponSource.CLAIM))
        return coupon
    batch = CouponBatch.objects.filter(shared_code=text, claimable=True).first()
    if batch is None:
        raise refuse(ErrorCode.COUPON_NOT_FOUND, _("No coupon can be claimed with this code."))
    return issue_locked(batch, member, CouponSource.CLAIM, text)


@transaction.atomic
def do_void_coupon(*, coupon: Coupon, reason: str) -> Coupon:
    reason = (reason or "").strip()
    if not reason:
        raise refuse(ErrorCode.COUPON_VOIDED, _("Say why the coupon is voided."), reason=_("required"))
    if not Coupon.objects.filter(pk=coupon.pk, status__in=[CouponStatus.ISSUED, CouponStatus.AVAILABLE]).update(
        status=CouponStatus.VOIDED
    ):
        raise refuse(ErrorCode.COUPON_USED, _("Only an unused coupon can be voided."))
    coupon.refresh_from_db()
    if coupon.member_id is not None:
        add_timeline(coupon.member, "coupon_voided", batch=coupon.batch.name, reason=reason)  # type: ignore[arg-type]
    record_audit("coupons.void", obj=coupon, after={"status": coupon.status}, reason=reason)
    return coupon


def expire_coupons(now: dt.datetime | None = None) -> int:
    """Mark unused coupons past their end as expired (validation checks the date anyway; this keeps
    lists and reports honest)."""
    now = now or clock.now()
    return Coupon.objects.filter(status__in=[CouponStatus.ISSUED, CouponStatus.AVAILABLE], valid_until__lt=now).update(
        status=CouponStatus.EXPIRED
    )


# =========================================================================== coupons at the till


@dataclass
class Found:
    """A code as typed, what it is, and the terms it carries."""

    code: str
    batch: CouponBatch
    coupon: Coupon | None  # None: a shared code without a wallet entry for this member
    terms: discounts.Terms


_STORES_SECONDS = 10.0
_stores_of: dict[int, tuple[float, frozenset[int]]] = {}


def _store_ids(batch_id: int) -> frozenset[int]:
    """The stores a batch is limited to, cached in the process for a few seconds like the other
    program configuration (every till validation reads it)."""
    now = time.monotonic()
    hit = _stores_of.get(batch_id)
    if hit is None or now - hit[0] > _STORES_SECONDS:
        ids = frozenset(
            CouponBatch.stores.through.objects.filter(couponbatch_id=batch_id).values_list("store_id", flat=True)
        )
        hit = _stores_of[batch_id] = (now, ids)
    return hit[1]


def forget_batch_stores() -> None:
    _stores_of.clear()


def terms_of(batch: CouponBatch) -> discounts.Terms:
    return discounts.Terms(
        batch=batch.code,
        kind=batch.kind,
        amount_off=batch.amount_off,
        percent_off=batch.percent_off,
        max_discount=batch.max_discount,
        gift_sku=batch.gift_sku,
        currency=batch.currency,
        min_spend=batch.min_spend,
        store_ids=_store_ids(batch.pk),
        categories=tuple(batch.categories or ()),
        stacking=batch.stacking,
        max_per_order=batch.max_per_order,
    )


def _find(text: str, member: Member | None) -> Found:
    code = codes.normalize(text)
    coupon = Coupon.objects.select_related("batch").filter(code=code).first() if code else None
    if coupon is not None:
        return Found(code, coupon.batch, coupon, terms_of(coupon.batch))
    batch = CouponBatch.objects.filter(shared_code=code).first() if code else None
    if batch is None:
        raise NotFound(_("No coupon has the code %(code)s.") % {"code": text}, code=ErrorCode.COUPON_NOT_FOUND)
    wallet = None
    if member is not None:
        wallet = Coupon.objects.filter(batch=batch, member=member, status=CouponStatus.ISSUED).order_by("id").first()
    return Found(code, batch, wallet, terms_of(batch))


def _check_usable(found: Found, member: Member | None, now: dt.datetime) -> None:
    batch, coupon = found.batch, found.coupon
    if not batch.is_active:
        raise refuse(ErrorCode.COUPON_VOIDED, _("This coupon batch is switched off."))
    valid_from = coupon.valid_from if coupon else batch.valid_from
    valid_until = coupon.valid_until if coupon else batch.valid_until
    if coupon is not None:
        if coupon.status == CouponStatus.REDEEMED:
            raise refuse(
                ErrorCode.COUPON_USED, _("This coupon was already used on %(d)s.") % {"d": _local(coupon.redeemed_at)}
            )
        if coupon.status == CouponStatus.VOIDED:
            raise refuse(ErrorCode.COUPON_VOIDED, _("This coupon was voided."))
        if coupon.member_id is not None and (member is None or coupon.member_id != member.pk):
            raise refuse(ErrorCode.COUPON_NOT_YOURS, _("This coupon belongs to another member: identify its holder."))
    if valid_from and now < valid_from:
        raise refuse(ErrorCode.COUPON_NOT_YET_VALID, _("This coupon is valid from %(d)s.") % {"d": _local(valid_from)})
    if (valid_until and now > valid_until) or (coupon is not None and coupon.status == CouponStatus.EXPIRED):
        raise refuse(ErrorCode.COUPON_EXPIRED, _("This coupon expired on %(d)s.") % {"d": _local(valid_until)})
    if coupon is None or coupon.code is None:  # the shared code
        if batch.usage_limit is not None and batch.redeemed_count >= batch.usage_limit:
            raise refuse(ErrorCode.BATCH_EXHAUSTED, _("This code has been used as often as it may be."))
        if member is not None and _uses_by(batch, member) >= batch.per_member_limit:
            raise refuse(ErrorCode.COUPON_LIMIT, _("This member has used this code as often as they may."))
    elif coupon.member_id is None and member is not None and _uses_by(batch, member) >= batch.per_member_limit:
        raise refuse(ErrorCode.COUPON_LIMIT, _("This member has used this coupon as often as they may."))


def _local(at: dt.datetime | None) -> str:
    return at.astimezone(clock.member_zone()).date().isoformat() if at else ""


def _uses_by(batch: CouponBatch, member: Member) -> int:
    return CouponRedemption.objects.filter(batch=batch, member=member, reversed_at__isnull=True).count()


@dataclass
class Check:
    """The till's question answered: each code's discount or refusal, and the total."""

    found: list[Found]
    outcome: discounts.Outcome
    refusals: dict[str, discounts.Refusal]  # code → why (not found, used, expired, …)

    @property
    def ok(self) -> bool:
        return not self.refusals and self.outcome.ok

    def first_refusal(self) -> discounts.Refusal | None:
        if self.refusals:
            return next(iter(self.refusals.values()))
        if self.outcome.refusal:
            return self.outcome.refusal
        return next((a.refusal for a in self.outcome.applied if a.refusal), None)


def check_coupons(*, texts: Sequence[str], basket: discounts.Basket, member: Member | None) -> Check:
    """Validate codes against a basket without using them (the till's 'validate')."""
    now = clock.now()
    found: list[Found] = []
    refusals: dict[str, discounts.Refusal] = {}
    seen: set[str] = set()
    for text in texts:
        try:
            item = _find(text, member)
            if item.code in seen and (item.coupon is None or item.coupon.code):
                raise refuse(ErrorCode.STACKING, _("The same code twice on one order."))
            seen.add(item.code)
            _check_usable(item, member, now)
            found.append(item)
        except DomainError as exc:
            refusals[text] = discounts.Refusal(str(exc.code), exc.message)
    outcome = discounts.apply([(f.code, f.terms) for f in found], basket)
    return Check(found, outcome, refusals)


@dataclass(frozen=True)
class RedeemRequest:
    texts: tuple[str, ...]
    basket: discounts.Basket
    member: Member | None
    store: Store
    sale_external_id: str = ""
    api_key_id: int | None = None


@transaction.atomic
def do_redeem_coupons(*, request: RedeemRequest) -> list[CouponRedemption]:
    """Use the codes on one order, all or none. Each unique coupon moves issued → redeemed by one
    conditional UPDATE, and the partial unique index allows one live redemption per coupon: of two
    tills racing on a code, exactly one succeeds."""
    member = lock_member(request.member.pk) if request.member is not None else None
    check = check_coupons(texts=request.texts, basket=request.basket, member=member)
    refusal = check.first_refusal()
    if refusal is not None:
        unknown = refusal.code == ErrorCode.COUPON_NOT_FOUND
        raise (NotFound if unknown else ValidationFailed)(refusal.message, code=refusal.code)
    now = clock.now()
    written = []
    for item, applied in zip(check.found, check.outcome.applied, strict=True):
        _use(item, member, now)
        written.append(
            CouponRedemption(
                coupon=item.coupon,
                batch=item.batch,
                member=member,
                store=request.store,
                api_key_id=request.api_key_id,
                sale_external_id=request.sale_external_id[:64],
                order_amount=request.basket.amount,
                discount=applied.discount,
                currency=request.basket.currency,
                redeemed_at=now,
            )
        )
    try:  # no savepoint: a failure here rolls the whole redemption back anyway
        CouponRedemption.objects.bulk_create(written)
    except IntegrityError as exc:  # the unique index caught a race the conditional update did not
        raise refuse(ErrorCode.COUPON_USED, _("This coupon was just used at another till.")) from exc
    if member is not None:
        add_timeline(
            member,
            "coupons_redeemed",
            codes=[codes.display(f.code) for f in check.found],
            discount=str(check.outcome.discount),
            store=request.store.code,
        )
    for redemption in written:
        publish(events.CouponRedeemed(redemption.pk, redemption.batch.code, member.pk if member else None))
    return written


def _use(item: Found, member: Member | None, now: dt.datetime) -> None:
    coupon = item.coupon
    if coupon is not None:
        changes: dict[str, Any] = {"status": CouponStatus.REDEEMED, "redeemed_at": now}
        if coupon.member_id is None and member is not None:
            changes["member"] = member
        if not Coupon.objects.filter(pk=coupon.pk, status__in=[CouponStatus.ISSUED, CouponStatus.AVAILABLE]).update(
            **changes
        ):
            raise refuse(ErrorCode.COUPON_USED, _("This coupon was just used at another till."))
    shared = coupon is None or coupon.code is None
    if shared and item.batch.usage_limit is not None and not _count_shared_use(item.batch):
        raise refuse(ErrorCode.BATCH_EXHAUSTED, _("This code has been used as often as it may be."))


def _count_shared_use(batch: CouponBatch) -> bool:
    return bool(
        CouponBatch.objects.filter(pk=batch.pk, redeemed_count__lt=F("usage_limit")).update(
            redeemed_count=F("redeemed_count") + 1
        )
    )


def _undo(redemption: CouponRedemption, reason: str) -> None:
    now = clock.now()
    if not CouponRedemption.objects.filter(pk=redemption.pk, reversed_at__isnull=True).update(
        reversed_at=now, reversed_reason=reason
    ):
        raise refuse(ErrorCode.NOTHING_TO_UNREDEEM, _("This use was already undone."))
    coupon = redemption.coupon
    if coupon is not None:
        back = CouponStatus.ISSUED if coupon.member_id is not None else CouponStatus.AVAILABLE
        if coupon.valid_until and coupon.valid_until < now:
            back = CouponStatus.EXPIRED
        Coupon.objects.filter(pk=coupon.pk).update(status=back, redeemed_at=None)
    if (coupon is None or coupon.code is None) and redemption.batch.usage_limit is not None:
        CouponBatch.objects.filter(pk=redemption.batch_id, redeemed_count__gt=0).update(
            redeemed_count=F("redeemed_count") - 1
        )
    if redemption.member_id:
        add_timeline(redemption.member, "coupon_unredeemed", batch=redemption.batch.name, reason=reason)  # type: ignore[arg-type]


@transaction.atomic
def do_unredeem(*, store: Store, sale_external_id: str, texts: Sequence[str] = ()) -> list[CouponRedemption]:
    """The till takes back a coupon use (a voided sale), within the batch's hours. With no codes,
    every coupon used on that sale."""
    uses = CouponRedemption.objects.select_related("batch", "coupon", "member").filter(
        store=store, sale_external_id=sale_external_id, reversed_at__isnull=True
    )
    if texts:
        wanted = {codes.normalize(t) for t in texts}
        uses = uses.filter(Q(coupon__code__in=wanted) | Q(batch__shared_code__in=wanted))
    found = list(uses.order_by("id"))
    if not found:
        raise refuse(ErrorCode.NOTHING_TO_UNREDEEM, _("No coupon was used on this sale."))
    now = clock.now()
    for use in found:
        if now - use.redeemed_at > dt.timedelta(hours=use.batch.unredeem_hours):
            raise refuse(
                ErrorCode.UNREDEEM_TOO_LATE,
                _("A use of %(batch)s can be undone within %(h)s hours only.")
                % {"batch": use.batch.name, "h": use.batch.unredeem_hours},
            )
        _undo(use, "till_undo")
    return found


def on_transaction(txn: Transaction) -> None:
    """A full refund gives back the coupons its sale used, where the batch says so (a partial refund
    keeps them used: the member kept part of what the coupon paid for)."""
    if txn.kind != TransactionKind.REFUND or txn.original_id is None:
        return
    original = txn.original
    if original is None or refunded_so_far(original) < original.amount:
        return
    uses = CouponRedemption.objects.select_related("batch", "coupon", "member").filter(
        store_id=original.store_id, sale_external_id=original.external_id, reversed_at__isnull=True
    )
    for use in uses:
        if use.batch.restore_on_refund:
            _undo(use, "refund")


# --------------------------------------------------------------------------- anti-guessing


def _attempt_limits() -> dict[str, tuple[int, int]]:
    """(failures, window seconds) per kind of caller; PATRON['COUPON_ATTEMPTS'] overrides."""
    defaults = {"key": (30, 600), "member": (5, 600)}
    return {**defaults, **getattr(settings, "PATRON", {}).get("COUPON_ATTEMPTS", {})}


def _windows(scopes: dict[str, str], at: dt.datetime) -> list[tuple[str, int, int]]:
    limits = _attempt_limits()
    return [(scope, int(at.timestamp()) // limits[kind][1], limits[kind][0]) for kind, scope in scopes.items()]


def attempt_scopes(*, key_id: int | None, member: Member | None) -> dict[str, str]:
    scopes = {}
    if key_id is not None:
        scopes["key"] = f"key:{key_id}"
    if member is not None:
        scopes["member"] = f"member:{member.pk}"
    return scopes


def check_attempts(scopes: dict[str, str]) -> None:
    """Refuse (429) while a key or a member is over its failed-lookup limit in the current window."""
    windows = _windows(scopes, clock.now())
    if not windows:
        return
    wanted = Q()
    for scope, window, _limit in windows:
        wanted |= Q(scope=scope, window=window)
    counts = dict(AttemptCounter.objects.filter(wanted).values_list("scope", "count"))  # one query for all
    if any(counts.get(scope, 0) >= limit for scope, _window, limit in windows):
        raise TooManyAttempts(_("Too many invalid coupon codes; try again in a few minutes."))


def record_failed_attempt(scopes: dict[str, str]) -> None:
    """Count a failed lookup in its own autocommit statement, so it stays counted whatever rolls back."""
    q = connection.ops.quote_name  # "window" is a reserved word in PostgreSQL
    table, scope_, window_, count = q(AttemptCounter._meta.db_table), q("scope"), q("window"), q("count")
    with connection.cursor() as cur:
        for scope, window, _limit in _windows(scopes, clock.now()):
            cur.execute(
                f"INSERT INTO {table} ({scope_}, {window_}, {count}) VALUES (%s, %s, 1) "
                f"ON CONFLICT ({scope_}, {window_}) DO UPDATE SET {count} = {table}.{count} + 1",
                [scope, window],
            )


GUESSING_CODES = frozenset({ErrorCode.COUPON_NOT_FOUND, ErrorCode.COUPON_NOT_YOURS})


def prune_attempts(now: dt.datetime | None = None) -> int:
    """Drop counters of windows that have ended (each kind counts in windows of its own length)."""
    now = now or clock.now()
    pruned = 0
    for kind, (_limit, seconds) in _attempt_limits().items():
        current = int(now.timestamp()) // seconds
        pruned += AttemptCounter.objects.filter(scope__startswith=f"{kind}:", window__lt=current - 1).delete()[0]
    return pruned
