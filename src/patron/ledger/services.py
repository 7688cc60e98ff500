"""Every write to the points ledger.

Each `do_*` runs in one transaction that first locks the member row, so all ledger writes for one
member are serialized (and a write for one member never waits on another's). The journal, its
postings, the lots it touches and the cached member balances are written together; events are
published after commit. A caller that already holds an open transaction (the sale that earns,
the API's idempotency key) gets the postings in that same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.context import current_actor
from patron.core.db import add_remembered, remember_related
from patron.core.errors import NotFound, PermissionDenied, ValidationFailed, check_config
from patron.core.events import publish
from patron.ledger import accounts, events, posting, program
from patron.ledger.errors import ErrorCode
from patron.ledger.models import (
    Account,
    AccountKind,
    Adjustment,
    AdjustmentStatus,
    Hold,
    HoldStatus,
    Journal,
    JournalKind,
    Lot,
    LotMove,
    PointType,
    Posting,
)
from patron.members.models import LIVE_STATUSES, Member, MemberStatus, Transaction, TransactionKind
from patron.members.services import add_timeline, add_timeline_rows, lock_member, refunded_so_far

MAX_POINTS = 10**12


# --------------------------------------------------------------------------- the posting primitive


@dataclass
class Entry:
    """A journal being built: postings by account, lot changes, new lots."""

    member: Member
    kind: str
    postings: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    member_postings: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    member_delta: int = 0
    lot_moves: list[tuple[Lot, int]] = field(default_factory=list)
    new_lots: list[Lot] = field(default_factory=list)
    _accounts: accounts.MemberAccounts | None = None

    @property
    def accounts(self) -> accounts.MemberAccounts:
        if self._accounts is None:
            self._accounts = accounts.MemberAccounts(self.member.pk)
        return self._accounts

    def post(self, kind: str, point_type: str, amount: int) -> None:
        if amount == 0:
            return
        if accounts.is_member_kind(kind):
            account = self.accounts.id_for(kind, point_type)
            self.member_postings[account] += amount
            self.accounts.balances[(kind, point_type)] += amount
            self.member_delta += amount
        else:
            account = accounts.program_account(kind, point_type)
        self.postings[account] += amount


def _write(
    entry: Entry,
    *,
    transaction_: Transaction | None = None,
    reverses: Journal | None = None,
    hold: Hold | None = None,
    memo: str = "",
    detail: dict[str, Any] | None = None,
) -> Journal:
    """Write the journal, its postings, lot changes and cached balances. Postings must balance."""
    journal = _journal(entry, transaction_=transaction_, reverses=reverses, hold=hold, memo=memo, detail=detail)
    posting.write(
        journal,
        posting.Writes(
            postings={a: v for a, v in entry.postings.items() if v},
            balances={a: v for a, v in entry.member_postings.items() if v},
            lot_moves=entry.lot_moves,
            new_lots=entry.new_lots,
        ),
    )
    remember_related(journal, "lots", entry.new_lots)
    if transaction_ is not None:  # the till's answer reads the sale's journals (pos.sale_outcome)
        add_remembered(transaction_, "journals", journal)
    publish(events.PointsPosted(journal.pk, entry.member.pk, entry.kind, entry.member_delta))
    return journal


def _journal(
    entry: Entry,
    *,
    transaction_: Transaction | None = None,
    reverses: Journal | None = None,
    hold: Hold | None = None,
    memo: str = "",
    detail: dict[str, Any] | None = None,
) -> Journal:
    """The entry's journal, not yet saved. Its postings must balance."""
    if sum(entry.postings.values()) != 0:  # a programming error, never a user error
        raise AssertionError(f"unbalanced journal {entry.kind}: {dict(entry.postings)}")
    return Journal(
        kind=entry.kind,
        member=entry.member,
        points=entry.member_delta,
        transaction=transaction_,
        reverses=reverses,
        hold=hold,
        memo=memo[:200],
        detail=detail or {},
        created_at=clock.now(),
        actor_label=current_actor().label[:150],
    )


def _postings(entry: Entry, journal: Journal) -> list[Posting]:
    return [Posting(journal=journal, account_id=a, amount=v) for a, v in entry.postings.items() if v]


def _lot_moves(entry: Entry, journal: Journal) -> list[LotMove]:
    return [LotMove(lot=lot, journal=journal, amount=amount) for lot, amount in entry.lot_moves]


def _check_points(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points < MAX_POINTS:
        raise ValidationFailed(
            _("Points must be a whole number above zero."),
            code=ErrorCode.INVALID_POINTS,
            fields={"points": _("invalid")},
        )
    return points


def _check_member_can_use_points(member: Member) -> None:
    if member.status == MemberStatus.FROZEN:
        raise ValidationFailed(_("This membership is frozen."), code=ErrorCode.MEMBER_FROZEN)
    if member.status not in LIVE_STATUSES:
        raise ValidationFailed(
            _("This membership is %(s)s.") % {"s": member.get_status_display()}, code=ErrorCode.MEMBER_NOT_ACTIVE
        )


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code=ErrorCode.REASON_REQUIRED, fields={"reason": _("required")})
    return reason[:200]


# --------------------------------------------------------------------------- crediting points


def _credit(
    entry: Entry,
    point_type: str,
    points: int,
    *,
    source_kind: str,
    expires_at: dt.datetime | None,
    earned_at: dt.datetime,
    transaction_: Transaction | None = None,
    pending_until: dt.datetime | None = None,
) -> None:
    """Credit points to the member from a program account. Available points first repay any debt
    left by an earlier clawback; pending points repay it when they are released."""
    entry.post(source_kind, point_type, -points)
    if pending_until is not None:
        entry.post(AccountKind.PENDING, point_type, points)
        entry.new_lots.append(
            _lot(entry.member, point_type, points, expires_at, earned_at, transaction_, pending_until=pending_until)
        )
        return
    to_lot = _repay_debt(entry, points)
    if to_lot:
        entry.post(AccountKind.AVAILABLE, point_type, to_lot)
        entry.new_lots.append(_lot(entry.member, point_type, to_lot, expires_at, earned_at, transaction_))


def _repay_debt(entry: Entry, points: int) -> int:
    """Use up to `points` to repay the member's debt accounts; return what is left."""
    left = points
    for point_type, owed in entry.accounts.debts():
        repay = min(left, owed)
        entry.post(AccountKind.DEBT, point_type, repay)
        left -= repay
        if not left:
            break
    return left


def _lot(
    member: Member,
    point_type: str,
    points: int,
    expires_at: dt.datetime | None,
    earned_at: dt.datetime,
    transaction_: Transaction | None,
    pending_until: dt.datetime | None = None,
) -> Lot:
    return Lot(
        member=member,
        point_type=point_type,
        transaction=transaction_,
        amount=points,
        remaining=points,
        pending=pending_until is not None,
        available_at=pending_until,
        expires_at=expires_at,
        earned_at=earned_at,
    )


@transaction.atomic
def do_earn(
    *,
    member: Member,
    points: int,
    point_type: str = PointType.PURCHASE,
    transaction_: Transaction | None = None,
    pending: bool = False,
    memo: str = "",
    detail: dict[str, Any] | None = None,
    earned_at: dt.datetime | None = None,
) -> Journal:
    """Credit earned points as a new lot. Purchase points wait out the return window when `pending`."""
    _check_points(points)
    member = lock_member(member.pk)
    config = program.current()
    earned_at = earned_at or clock.now()
    pending_until = None
    if pending and config.return_window_days:
        # The return window runs from the sale, so a late-posted old sale is spendable at once.
        window_from = transaction_.occurred_at if transaction_ is not None else earned_at
        pending_until = window_from + dt.timedelta(days=config.return_window_days)
        if pending_until <= clock.now():
            pending_until = None
    entry = Entry(member, JournalKind.EARN)
    _credit(
        entry,
        point_type,
        points,
        source_kind=AccountKind.ISSUANCE,
        expires_at=config.expiry_for(point_type, earned_at),
        earned_at=earned_at,
        transaction_=transaction_,
        pending_until=pending_until,
    )
    return _write(entry, transaction_=transaction_, memo=memo, detail=detail)


# --------------------------------------------------------------------------- spending points


def spendable_lots(member: Member, point_types: Iterable[str] | None = None) -> list[Lot]:
    """Open, available, unexpired lots in the order they are spent: first expiring first, ties by id."""
    lots = Lot.objects.filter(member=member, remaining__gt=0, pending=False).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=clock.now())
    )
    if point_types is not None:
        lots = lots.filter(point_type__in=list(point_types))
    return list(lots.order_by(F("expires_at").asc(nulls_last=True), "id"))


def _take_from_lots(entry: Entry, lots: Iterable[Lot], points: int, to_kind: str, from_kind: str | None = None) -> int:
    """Consume up to `points` from `lots` in order, moving them to the program account `to_kind`
    (or the member's held account). Returns how many were taken."""
    left = points
    for lot in lots:
        if not left:
            break
        take = min(left, lot.remaining)
        if take <= 0:
            continue
        lot.remaining -= take
        entry.lot_moves.append((lot, -take))
        source = from_kind or (AccountKind.PENDING if lot.pending else AccountKind.AVAILABLE)
        entry.post(source, lot.point_type, -take)
        entry.post(to_kind, lot.point_type, take)
        left -= take
    return points - left


def _spend(member: Member, points: int, purpose: str, kind: str, to_kind: str) -> tuple[Entry, Member]:
    _check_points(points)
    member = lock_member(member.pk)
    _check_member_can_use_points(member)
    entry = Entry(member, kind)
    if entry.accounts.debts():
        raise ValidationFailed(
            _("Points cannot be redeemed until the points owed after a refund are repaid."),
            code=ErrorCode.REDEMPTION_BLOCKED,
        )
    config = program.current()
    try:
        types = config.spendable_types(purpose)
    except ValueError as exc:
        raise ValidationFailed(_("Unknown purpose."), fields={"purpose": _("invalid")}) from exc
    lots = spendable_lots(member, types)
    available = sum(lot.remaining for lot in lots)
    if available < points:
        raise ValidationFailed(
            _("Not enough points: %(a)s can be spent on this, %(p)s asked.") % {"a": available, "p": points},
            code=ErrorCode.INSUFFICIENT_POINTS,
            fields={"points": str(available)},
        )
    _take_from_lots(entry, lots, points, to_kind)
    return entry, member


@transaction.atomic
def do_redeem(
    *,
    member: Member,
    points: int,
    purpose: str = program.Purpose.PAYMENT,
    transaction_: Transaction | None = None,
    memo: str = "",
    detail: dict[str, Any] | None = None,
) -> Journal:
    """Spend points now, first-expiring first, from the point types the program allows for `purpose`."""
    entry, member = _spend(member, points, purpose, JournalKind.REDEEM, AccountKind.REDEMPTION)
    journal = _write(entry, transaction_=transaction_, memo=memo, detail={"purpose": purpose, **(detail or {})})
    add_timeline(member, "points_redeemed", points=points, purpose=purpose, journal_id=journal.pk)
    return journal


@transaction.atomic
def do_hold(*, member: Member, points: int, purpose: str = program.Purpose.REWARD, reference: str = "") -> Hold:
    """Set points aside for an order in flight; they leave the available balance now."""
    entry, member = _spend(member, points, purpose, JournalKind.HOLD, AccountKind.HELD)
    now = clock.now()
    hold = Hold.objects.create(
        member=member,
        points=points,
        purpose=purpose,
        reference=reference[:100],
        created_at=now,
        expires_at=now + dt.timedelta(minutes=program.current().hold_minutes),
    )
    _write(entry, hold=hold, memo=reference, detail={"purpose": purpose})
    return hold


def _close_hold(hold: Hold, status: str) -> Hold:
    """Move an open hold to its final status exactly once (a second caller finds it closed)."""
    locked = lock_member(hold.member_id)
    closed = Hold.objects.filter(pk=hold.pk, status=HoldStatus.OPEN).update(status=status, closed_at=clock.now())
    if not closed:
        current = Hold.objects.get(pk=hold.pk)
        raise ValidationFailed(
            _("This hold is already %(s)s.") % {"s": current.get_status_display()}, code=ErrorCode.HOLD_NOT_OPEN
        )
    hold.member = locked
    hold.status = status
    return hold


def _held_by_type(hold: Hold) -> dict[str, int]:
    moves = LotMove.objects.filter(journal__hold=hold, journal__kind=JournalKind.HOLD).select_related("lot")
    by_type: dict[str, int] = defaultdict(int)
    for move in moves:
        by_type[move.lot.point_type] -= move.amount
    return by_type


@transaction.atomic
def do_commit_hold(*, hold: Hold, transaction_: Transaction | None = None, memo: str = "") -> Journal:
    hold = _close_hold(hold, HoldStatus.COMMITTED)
    entry = Entry(hold.member, JournalKind.COMMIT)
    for point_type, points in _held_by_type(hold).items():
        entry.post(AccountKind.HELD, point_type, -points)
        entry.post(AccountKind.REDEMPTION, point_type, points)
    return _write(entry, hold=hold, transaction_=transaction_, memo=memo or hold.reference)


@transaction.atomic
def do_void_hold(*, hold: Hold, expired: bool = False) -> Journal:
    """Give held points back to the lots they came from (an expired lot is swept by the next expiry run)."""
    hold = _close_hold(hold, HoldStatus.EXPIRED if expired else HoldStatus.VOIDED)
    entry = Entry(hold.member, JournalKind.VOID)
    moves = LotMove.objects.filter(journal__hold=hold, journal__kind=JournalKind.HOLD).select_related("lot")
    for move in moves:
        entry.lot_moves.append((move.lot, -move.amount))
        entry.post(AccountKind.HELD, move.lot.point_type, move.amount)
        entry.post(AccountKind.AVAILABLE, move.lot.point_type, -move.amount)
    return _write(entry, hold=hold, memo=hold.reference)


def get_hold(hold_id: int, member: Member | None = None) -> Hold:
    hold = Hold.objects.filter(pk=hold_id).first()
    if hold is None or (member is not None and hold.member_id != member.pk):
        raise NotFound(_("Hold not found."), code=ErrorCode.HOLD_NOT_FOUND)
    return hold


def expire_holds(now: dt.datetime | None = None) -> int:
    """Void every open hold past its time. Each in its own transaction; a hold closed meanwhile is skipped."""
    now = now or clock.now()
    count = 0
    for hold in Hold.objects.filter(status=HoldStatus.OPEN, expires_at__lte=now).order_by("id"):
        try:
            do_void_hold(hold=hold, expired=True)
            count += 1
        except ValidationFailed:
            continue
    return count


# --------------------------------------------------------------------------- refunds and reversals


def _proportional(total: int, part: Any, whole: Any) -> int:
    """floor(total × part / whole) without float error; the whole of it when part covers whole."""
    if part >= whole:
        return total
    return int(total * part // whole)


def _already_reversed(journal: Journal, kind: str) -> int:
    """Points already taken back from `journal`, counted on the issuance side: under the floor
    policy part of a clawback is written off rather than taken from the member."""
    done = Posting.objects.filter(
        journal__reverses=journal, journal__kind=kind, account__kind=AccountKind.ISSUANCE
    ).aggregate(s=Sum("amount"))["s"]
    return done or 0


def _take_back(entry: Entry, source: Journal, points: int) -> None:
    """Take `points` back to the issuance account: from the source's own lots first, then from
    other available lots first-expiring-first; what is missing follows the clawback policy."""
    own = list(Lot.objects.filter(journal=source, remaining__gt=0).order_by("id"))
    taken = _take_from_lots(entry, own, points, AccountKind.ISSUANCE)
    if taken < points:
        others = [lot for lot in spendable_lots(entry.member) if lot.journal_id != source.pk]
        taken += _take_from_lots(entry, others, points - taken, AccountKind.ISSUANCE)
    short = points - taken
    if short:
        point_type = _journal_type(source)
        entry.post(AccountKind.ISSUANCE, point_type, short)
        if program.current().clawback_policy == program.ClawbackPolicy.NEGATIVE:
            entry.post(AccountKind.DEBT, point_type, -short)
        else:
            entry.post(AccountKind.CLAWBACK, point_type, -short)


def _journal_type(journal: Journal) -> str:
    lot = Lot.objects.filter(journal=journal).first()
    if lot is not None:
        return lot.point_type
    posting = Posting.objects.filter(journal=journal, account__member__isnull=True).select_related("account").first()
    return posting.account.point_type if posting else PointType.PURCHASE


def on_transaction(txn: Transaction) -> None:
    """A refund recorded anywhere (till, console, API) takes back its share of the sale's points.

    Runs first for every new transaction, which has no journals yet: from here the journals written
    for it are kept on it as they are written, so the answer need not read them back."""
    remember_related(txn, "journals", [])
    if txn.kind == TransactionKind.REFUND:
        do_apply_refund(refund=txn)


@transaction.atomic
def do_apply_refund(*, refund: Transaction) -> list[Journal]:
    """Reverse what a refunded sale earned and return what was spent on it, in proportion to the
    share of the sale refunded so far (never more than it earned or spent)."""
    original = refund.original
    if original is None:
        return []
    member = lock_member(original.member_id)
    share, whole = refunded_so_far(original), original.amount
    written = []
    for earn in Journal.objects.filter(transaction=original, kind=JournalKind.EARN).order_by("id"):
        clawed = _already_reversed(earn, JournalKind.CLAWBACK)
        due = _proportional(earn.points, share, whole) - clawed
        # A reversal of a mistaken earn already took some back: never take more than it earned.
        due = min(due, earn.points - clawed - _already_reversed(earn, JournalKind.REVERSAL))
        if due > 0:
            entry = Entry(member, JournalKind.CLAWBACK)
            _take_back(entry, earn, due)
            written.append(_write(entry, transaction_=refund, reverses=earn, memo=refund.external_id))
    spent = Journal.objects.filter(transaction=original, kind__in=[JournalKind.REDEEM, JournalKind.COMMIT])
    for spend in spent.order_by("id"):
        restored = _already_reversed_restore(spend)
        due = _proportional(-spend.points, share, whole) - restored
        if due > 0:
            written.append(_restore(member, spend, due, refund, after=restored))
    return written


def _already_reversed_restore(spend: Journal) -> int:
    return Journal.objects.filter(reverses=spend, kind=JournalKind.RESTORE).aggregate(s=Sum("points"))["s"] or 0


def _consumed_lots(spend: Journal) -> list[tuple[Lot, int]]:
    journal = spend
    if spend.kind == JournalKind.COMMIT and spend.hold_id:
        journal = Journal.objects.get(hold_id=spend.hold_id, kind=JournalKind.HOLD)
    return [(m.lot, -m.amount) for m in LotMove.objects.filter(journal=journal).select_related("lot").order_by("id")]


def _restore(
    member: Member, spend: Journal, points: int, refund: Transaction | None, *, after: int = 0, memo: str = ""
) -> Journal:
    """Spent points come back as new lots keeping the original expiry, but never expiring sooner
    than the program's grace period (ADR 0007). They mirror the lots the spend consumed, in the
    order consumed, starting past the `after` points that earlier refunds already returned."""
    config = program.current()
    now = clock.now()
    floor = now + dt.timedelta(days=config.restore_grace_days)
    entry = Entry(member, JournalKind.RESTORE)
    left, skip = points, after
    for lot, consumed in _consumed_lots(spend):
        if skip >= consumed:
            skip -= consumed
            continue
        give = min(left, consumed - skip)
        skip = 0
        if give <= 0:
            continue
        expires = None if lot.expires_at is None else max(lot.expires_at, floor)
        _credit(entry, lot.point_type, give, source_kind=AccountKind.REDEMPTION, expires_at=expires, earned_at=now)
        left -= give
        if not left:
            break
    return _write(entry, transaction_=refund, reverses=spend, memo=memo or (refund.external_id if refund else ""))


@transaction.atomic
def do_return_spend(*, spend: Journal, reason: str) -> Journal:
    """Give back the points a redemption or committed hold spent (a mall order cancelled after it was
    confirmed), as new lots keeping the original expiry like a refund's (ADR 0007). At most once."""
    reason = _check_reason(reason)
    if spend.kind not in (JournalKind.REDEEM, JournalKind.COMMIT):
        raise ValidationFailed(_("Only spent points can be returned."), code=ErrorCode.NOTHING_TO_REVERSE)
    member = lock_member(spend.member_id)
    spent = spend.hold.points if spend.kind == JournalKind.COMMIT and spend.hold else -spend.points
    due = spent - _already_reversed_restore(spend)
    if due <= 0:
        raise ValidationFailed(_("These points were already returned."), code=ErrorCode.NOTHING_TO_REVERSE)
    journal = _restore(member, spend, due, None, memo=reason)
    add_timeline(member, "points_returned", points=due, reason=reason, journal_id=journal.pk)
    return journal


@transaction.atomic
def do_reverse_journal(*, journal: Journal, reason: str) -> Journal:
    """Correct a mistaken earn or positive adjustment with a reversing journal linked to it."""
    reason = _check_reason(reason)
    if journal.kind not in (JournalKind.EARN, JournalKind.ADJUST) or journal.points <= 0:
        raise ValidationFailed(_("Only earned or added points can be reversed."), code=ErrorCode.NOTHING_TO_REVERSE)
    member = lock_member(journal.member_id)
    due = (
        journal.points
        - _already_reversed(journal, JournalKind.REVERSAL)
        - _already_reversed(journal, JournalKind.CLAWBACK)
    )
    if due <= 0:
        raise ValidationFailed(_("These points were already reversed."), code=ErrorCode.NOTHING_TO_REVERSE)
    entry = Entry(member, JournalKind.REVERSAL)
    _take_back(entry, journal, due)
    reversal = _write(entry, reverses=journal, memo=reason)
    record_audit("points.reverse", obj=member, after={"journal": journal.pk, "points": due}, reason=reason)
    return reversal


# --------------------------------------------------------------------------- pending points and expiry


@transaction.atomic
def release_member_pending(member_id: int, now: dt.datetime | None = None) -> Journal | None:
    """Make a member's pending lots whose return window has passed spendable."""
    now = now or clock.now()
    member = lock_member(member_id)
    lots = list(Lot.objects.filter(member=member, pending=True, available_at__lte=now).order_by("id"))
    if not lots:
        return None
    entry = Entry(member, JournalKind.RELEASE)
    for lot in lots:
        if lot.remaining:
            entry.post(AccountKind.PENDING, lot.point_type, -lot.remaining)
            entry.post(AccountKind.AVAILABLE, lot.point_type, lot.remaining)
            repaid = lot.remaining - _repay_debt(entry, lot.remaining)
            if repaid:
                entry.post(AccountKind.AVAILABLE, lot.point_type, -repaid)
                entry.lot_moves.append((lot, -repaid))
    Lot.objects.filter(pk__in=[lot.pk for lot in lots]).update(pending=False)
    if not entry.postings:
        return None
    return _write(entry, memo="return window passed")


def expire_member_lots(member_id: int, now: dt.datetime | None = None) -> Journal | None:
    """One expiry journal for everything of this member's that is past its date."""
    journals = _expire_batch([member_id], now or clock.now())
    return journals[0] if journals else None


@transaction.atomic
def _expire_batch(member_ids: list[int], now: dt.datetime) -> list[Journal]:
    """Expire the due lots of a batch of members in one transaction: lock the members (in id order,
    as every other writer does one at a time), re-read their due lots under the lock, build one
    EXPIRE entry per member as `_take_from_lots` does for any spend, then write all the entries with
    one statement per table instead of `_write`'s statements per entry."""
    locked = {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=member_ids).order_by("pk")}
    due: dict[int, list[Lot]] = defaultdict(list)
    for lot in Lot.objects.filter(member_id__in=list(locked), remaining__gt=0, expires_at__lte=now).order_by(
        "member_id", "expires_at", "id"
    ):
        due[lot.member_id].append(lot)
    member_accounts = accounts.MemberAccounts.of_members(list(due))
    entries: list[tuple[Entry, list[int]]] = []
    for member_id, lots in due.items():
        entry = Entry(locked[member_id], JournalKind.EXPIRE, _accounts=member_accounts[member_id])
        lot_ids = [lot.pk for lot in lots]  # before _take_from_lots empties them
        _take_from_lots(entry, lots, sum(lot.remaining for lot in lots), AccountKind.EXPIRY)
        entries.append((entry, lot_ids))
    journals = _write_expiries(entries)
    add_timeline_rows("points_expired", ((j.member_id, {"points": -j.points, "journal_id": j.pk}) for j in journals))
    return journals


def _write_expiries(entries: list[tuple[Entry, list[int]]]) -> list[Journal]:
    """`_write` for a batch of EXPIRE entries (each with the lots it swept): journals, postings, lot
    moves, lot remainders (all now 0) and cached balances, one bulk statement each."""
    journals = [_journal(entry, memo="expired", detail={"lots": lot_ids}) for entry, lot_ids in entries]
    Journal.objects.bulk_create(journals)
    pairs = [(entry, journal) for (entry, _ids), journal in zip(entries, journals, strict=True)]
    Posting.objects.bulk_create(p for entry, journal in pairs for p in _postings(entry, journal))
    LotMove.objects.bulk_create(m for entry, journal in pairs for m in _lot_moves(entry, journal))
    Lot.objects.filter(pk__in=[pk for _entry, ids in entries for pk in ids]).update(remaining=0)
    moved = [entry.accounts.balance_rows(a for a, v in entry.member_postings.items() if v) for entry, _j in pairs]
    Account.objects.bulk_update([row for rows in moved for row in rows], ["balance"])
    for entry, journal in pairs:
        publish(events.PointsPosted(journal.pk, entry.member.pk, entry.kind, entry.member_delta))
    return journals


def members_with_due(now: dt.datetime, *, pending: bool) -> list[int]:
    if pending:
        rows = Lot.objects.filter(pending=True, available_at__lte=now)
    else:
        rows = Lot.objects.filter(remaining__gt=0, expires_at__lte=now)
    return sorted(set(rows.values_list("member_id", flat=True)))


def run_release(now: dt.datetime | None = None) -> int:
    now = now or clock.now()
    return sum(1 for member_id in members_with_due(now, pending=True) if release_member_pending(member_id, now))


def run_expiry(now: dt.datetime | None = None, batch: int = 1000) -> int:
    """Expire every lot past its date, a batch of members per transaction. Safe to run twice, or
    beside redemptions: members are locked and their lots re-read, and an expired lot has nothing
    left to expire. Returns how many members lost points."""
    now = now or clock.now()
    due = members_with_due(now, pending=False)
    return sum(len(_expire_batch(due[i : i + batch], now)) for i in range(0, len(due), batch))


# --------------------------------------------------------------------------- manual adjustments


@transaction.atomic
def do_request_adjustment(
    *, member: Member, points: int, reason: str, point_type: str = PointType.ADJUSTMENT
) -> Adjustment:
    """Add (points > 0) or remove points by hand. Above the program's limit it waits for a second
    person's approval; otherwise it posts at once."""
    reason = _check_reason(reason)
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or abs(points) >= MAX_POINTS:
        raise ValidationFailed(
            _("Points must be a whole number other than zero."),
            code=ErrorCode.INVALID_POINTS,
            fields={"points": _("invalid")},
        )
    if point_type not in PointType.values:
        raise ValidationFailed(_("Unknown point type."), fields={"point_type": _("invalid")})
    member = lock_member(member.pk)
    actor = current_actor()
    needs_approval = abs(points) > program.current().adjustment_approval_over
    adjustment = Adjustment.objects.create(
        member=member,
        points=points,
        point_type=point_type,
        reason=reason,
        status=AdjustmentStatus.AWAITING if needs_approval else AdjustmentStatus.POSTED,
        requested_by=actor.user if actor.user and actor.user.pk else None,
        requested_label=actor.label[:150],
        requested_at=clock.now(),
    )
    record_audit(
        "points.adjust_request", obj=member, after={"points": points, "adjustment": adjustment.pk}, reason=reason
    )
    if needs_approval:
        publish(events.AdjustmentAwaitingApproval(adjustment.pk, member.pk, points))
    else:
        _post_adjustment(adjustment, member)
    return adjustment


def _post_adjustment(adjustment: Adjustment, member: Member) -> Journal:
    entry = Entry(member, JournalKind.ADJUST)
    if adjustment.points > 0:
        now = clock.now()
        expires = program.current().expiry_for(adjustment.point_type, now)
        _credit(
            entry,
            adjustment.point_type,
            adjustment.points,
            source_kind=AccountKind.ADJUSTMENT,
            expires_at=expires,
            earned_at=now,
        )
    else:
        wanted = -adjustment.points
        lots = spendable_lots(member)
        if sum(lot.remaining for lot in lots) < wanted:
            raise ValidationFailed(
                _("The member has fewer points than the adjustment removes."), code=ErrorCode.INSUFFICIENT_POINTS
            )
        _take_from_lots(entry, lots, wanted, AccountKind.ADJUSTMENT)
    journal = _write(entry, memo=adjustment.reason, detail={"adjustment": adjustment.pk})
    adjustment.journal = journal
    adjustment.save(update_fields=["journal"])
    add_timeline(member, "points_adjusted", points=adjustment.points, reason=adjustment.reason, journal_id=journal.pk)
    return journal


def _decide(adjustment: Adjustment, status: str, note: str) -> Adjustment:
    actor = current_actor()
    if actor.user is None or (adjustment.requested_by_id and adjustment.requested_by_id == actor.user.pk):
        raise PermissionDenied(_("A second person must approve an adjustment this large."), code=ErrorCode.FOUR_EYES)
    changed = Adjustment.objects.filter(pk=adjustment.pk, status=AdjustmentStatus.AWAITING).update(
        status=status,
        decided_by=actor.user,
        decided_label=actor.label[:150],
        decided_at=clock.now(),
        decision_note=note[:200],
    )
    if not changed:
        raise ValidationFailed(_("This adjustment was already decided."), code=ErrorCode.ADJUSTMENT_NOT_AWAITING)
    adjustment.refresh_from_db()
    return adjustment


@transaction.atomic
def do_approve_adjustment(*, adjustment: Adjustment, note: str = "") -> Adjustment:
    member = lock_member(adjustment.member_id)
    adjustment = _decide(adjustment, AdjustmentStatus.POSTED, note)
    _post_adjustment(adjustment, member)
    record_audit("points.adjust_approve", obj=member, after={"adjustment": adjustment.pk, "points": adjustment.points})
    return adjustment


@transaction.atomic
def do_reject_adjustment(*, adjustment: Adjustment, note: str) -> Adjustment:
    note = _check_reason(note)
    lock_member(adjustment.member_id)
    adjustment = _decide(adjustment, AdjustmentStatus.REJECTED, note)
    record_audit("points.adjust_reject", obj=adjustment.member, after={"adjustment": adjustment.pk}, reason=note)
    return adjustment


# --------------------------------------------------------------------------- program settings


@transaction.atomic
def do_update_program(*, changes: dict[str, Any]) -> program.ProgramConfig:
    from patron.ledger.models import ProgramSettings

    row, _created = ProgramSettings.objects.select_for_update().get_or_create(pk=1)
    merged = {**program.ProgramConfig.model_validate(row.config or {}).model_dump(mode="json"), **changes}
    config = check_config(
        program.ProgramConfig,
        merged,
        message=_("The points program settings are not valid: %(why)s"),
        code=ErrorCode.INVALID_PROGRAM,
    )
    row.config = config.model_dump(mode="json")
    row.updated_at = clock.now()
    row.updated_by = current_actor().label[:150]
    row.save()
    record_audit("points.program_update", object_type="points_program", object_id=1, after=row.config)
    transaction.on_commit(program.forget)
    program.forget()
    return config
