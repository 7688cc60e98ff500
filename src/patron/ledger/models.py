"""The points ledger: double-entry accounts, append-only journals and postings, lots and holds.

Every movement of points is a journal whose postings sum to zero. A member's points sit in their
member accounts (available, pending, held, debt: one of each per point type); the program's side
sits in program accounts (issuance, redemption, expiry, adjustment, clawback). Postings are never
updated or deleted (a trigger refuses it on both databases); a correction is a new journal that
points at the one it reverses.

Each earn also creates a lot (how many points, when they expire). Spending consumes lots
first-expiring-first and every change to a lot's remainder is a `LotMove` row, so the audit can
prove that a member's balance = sum of postings = sum of open lot remainders.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patron.members.models import Member, Transaction


class PointType(models.TextChoices):
    PURCHASE = "purchase", _("Purchase points")
    ACTIVITY = "activity", _("Activity points")
    BONUS = "bonus", _("Bonus points")
    ADJUSTMENT = "adjustment", _("Adjustment points")


class AccountKind(models.TextChoices):
    # A member's side. Balances are cached on the row and never negative, except debt (never positive).
    AVAILABLE = "available", _("Available")
    PENDING = "pending", _("Pending")
    HELD = "held", _("Held")
    DEBT = "debt", _("Owed after a refund")
    # The program's side. Their balances are sums of postings, not cached: every earn in the chain
    # would otherwise queue on one row.
    ISSUANCE = "issuance", _("Issued")
    REDEMPTION = "redemption", _("Redeemed")
    EXPIRY = "expiry", _("Expired")
    ADJUSTMENT = "adjustment", _("Adjusted")
    CLAWBACK = "clawback", _("Clawback written off")


MEMBER_KINDS = (AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.HELD, AccountKind.DEBT)
PROGRAM_KINDS = (
    AccountKind.ISSUANCE,
    AccountKind.REDEMPTION,
    AccountKind.EXPIRY,
    AccountKind.ADJUSTMENT,
    AccountKind.CLAWBACK,
)


class Account(models.Model):
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.PROTECT, related_name="point_accounts")
    kind = models.CharField(max_length=12, choices=AccountKind.choices)
    point_type = models.CharField(max_length=12, choices=PointType.choices)
    balance = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind", "point_type"],
                condition=Q(member__isnull=False),
                name="ledger_member_account_unique",
            ),
            models.UniqueConstraint(
                fields=["kind", "point_type"], condition=Q(member__isnull=True), name="ledger_program_account_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.HELD], balance__gte=0)
                | Q(kind=AccountKind.DEBT, balance__lte=0)
                | Q(kind__in=list(PROGRAM_KINDS), balance=0),
                name="ledger_member_balance_never_negative",
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=False, kind__in=list(MEMBER_KINDS))
                | Q(member__isnull=True, kind__in=list(PROGRAM_KINDS)),
                name="ledger_account_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        owner = f"member {self.member_id}" if self.member_id else "program"
        return f"{owner} {self.kind}/{self.point_type}"


class JournalKind(models.TextChoices):
    EARN = "earn", _("Earned")
    RELEASE = "release", _("Pending points released")
    REDEEM = "redeem", _("Redeemed")
    HOLD = "hold", _("Held")
    COMMIT = "commit", _("Hold committed")
    VOID = "void", _("Hold released")
    CLAWBACK = "clawback", _("Taken back after a refund")
    RESTORE = "restore", _("Returned after a refund")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Adjusted")
    REVERSAL = "reversal", _("Reversal")


class Journal(models.Model):
    """One movement of points. Its postings sum to zero; it is never changed after it is written."""

    kind = models.CharField(max_length=10, choices=JournalKind.choices)
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="journals")
    points = models.BigIntegerField()  # what the member gained (+) or lost (−) in total, for lists
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="journals"
    )
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals")
    hold = models.ForeignKey("Hold", null=True, blank=True, on_delete=models.PROTECT, related_name="journals")
    memo = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)  # e.g. the earning rules that fired
    created_at = models.DateTimeField()
    actor_label = models.CharField(max_length=150, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["member", "-created_at"], name="journal_member_time_idx"),
            models.Index(fields=["created_at"], name="journal_time_idx"),
        ]


class Posting(models.Model):
    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.BigIntegerField()  # signed; the journal's postings sum to zero

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_posting_not_zero")]


class Lot(models.Model):
    """Points earned together, with one expiry. `remaining` is what is left to spend."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="lots")
    point_type = models.CharField(max_length=12, choices=PointType.choices)
    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="lots")
    transaction = models.ForeignKey(Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="lots")
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    pending = models.BooleanField(default=False)
    available_at = models.DateTimeField(null=True, blank=True)  # when a pending lot becomes spendable
    expires_at = models.DateTimeField(null=True, blank=True)  # None: never
    earned_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_lot_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0, remaining__lte=models.F("amount")), name="ledger_lot_remaining_in_range"
            ),
        ]
        indexes = [
            # First-expiring-first spending reads a member's open lots in this order.
            models.Index(fields=["member", "expires_at", "id"], condition=Q(remaining__gt=0), name="lot_open_fefo_idx"),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="lot_open_expiry_idx"),
            models.Index(fields=["available_at"], condition=Q(pending=True), name="lot_pending_idx"),
        ]


class LotMove(models.Model):
    """A change to a lot's remainder made by a journal (−: spent, held, expired; +: returned)."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="moves")
    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="lot_moves")
    amount = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_lot_move_not_zero")]


class HoldStatus(models.TextChoices):
    OPEN = "open", _("Open")
    COMMITTED = "committed", _("Committed")
    VOIDED = "voided", _("Voided")
    EXPIRED = "expired", _("Expired")


class Hold(models.Model):
    """Points set aside for an order in flight: committed, voided or expired exactly once."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="holds")
    points = models.BigIntegerField()
    purpose = models.CharField(max_length=20)
    reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=HoldStatus.choices, default=HoldStatus.OPEN)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(points__gt=0), name="ledger_hold_points_positive")]
        indexes = [models.Index(fields=["expires_at"], condition=Q(status="open"), name="hold_open_expiry_idx")]


class AdjustmentStatus(models.TextChoices):
    AWAITING = "awaiting", _("Awaiting approval")
    POSTED = "posted", _("Posted")
    REJECTED = "rejected", _("Rejected")


class Adjustment(models.Model):
    """A manual correction with a reason; above the program's limit a second person approves it."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="adjustments")
    points = models.BigIntegerField()  # signed
    point_type = models.CharField(max_length=12, choices=PointType.choices, default=PointType.ADJUSTMENT)
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=AdjustmentStatus.choices)
    requested_by = models.ForeignKey("core.User", null=True, on_delete=models.PROTECT, related_name="+")
    requested_label = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_label = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=200, blank=True)
    journal = models.OneToOneField(Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="adjustment")

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(points=0), name="ledger_adjustment_not_zero")]
        indexes = [models.Index(fields=["status", "requested_at"], name="adjustment_queue_idx")]


class ProgramSettings(models.Model):
    """The program's points policy, one row, validated as `ledger.program.ProgramConfig`."""

    config = models.JSONField(default=dict)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.CharField(max_length=150, blank=True)
