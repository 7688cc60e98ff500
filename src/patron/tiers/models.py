"""Tier models (the live one and drafts), each member's tier state, tier history and simulations.

- `TierModel`: a ladder and its policy as JSON validated by `tiers.config.TierModelConfig`. One is
  live (a partial unique index guarantees it); the others are drafts being tried in the simulator,
  or retired ones kept for history.
- `MemberTier`: where a member stands under the live model (the engine's `TierState`, with days as
  dates), plus a manual override with its end. A member without a row is at the lowest tier.
- `TierChange`: every move, with why (rule, review, grace, refund, manual, override_ended, go_live).
- `Simulation`: a replay of a model over stored transactions, run in the background; the result is
  saved as JSON so it can be read, compared and exported later.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patron.members.models import Member, Transaction
from patron.tiers.config import TierModelConfig


class ModelStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LIVE = "live", _("Live")
    RETIRED = "retired", _("Retired")


class TierModel(models.Model):
    name = models.CharField(_("name"), max_length=100)
    config = models.JSONField()
    status = models.CharField(max_length=10, choices=ModelStatus.choices, default=ModelStatus.DRAFT)
    preset = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=150, blank=True)
    went_live_at = models.DateTimeField(null=True, blank=True)
    went_live_by = models.CharField(max_length=150, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="live"), name="tiers_one_live_model"),
        ]

    def __str__(self) -> str:
        return self.name

    def parsed(self) -> TierModelConfig:
        return TierModelConfig.model_validate(self.config)


class MemberTier(models.Model):
    member = models.OneToOneField(Member, primary_key=True, on_delete=models.CASCADE, related_name="tier_state")
    model = models.ForeignKey(TierModel, on_delete=models.PROTECT, related_name="+")
    tier_code = models.CharField(max_length=32)
    level = models.SmallIntegerField(default=0)
    since = models.DateField(null=True, blank=True)
    review_on = models.DateField(null=True, blank=True)
    grace_until = models.DateField(null=True, blank=True)
    floor = models.SmallIntegerField(default=0)
    upgraded_from = models.SmallIntegerField(null=True, blank=True)
    at_risk_for = models.DateField(null=True, blank=True)  # the review a warning was sent for
    override_code = models.CharField(max_length=32, blank=True)
    override_until = models.DateTimeField(null=True, blank=True)
    override_reason = models.CharField(max_length=200, blank=True)
    override_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["review_on"], name="membertier_review_idx"),
            models.Index(fields=["grace_until"], name="membertier_grace_idx"),
            models.Index(fields=["override_until"], name="membertier_override_idx"),
            models.Index(fields=["tier_code"], name="membertier_code_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(override_code="", override_until__isnull=True)
                | (~Q(override_code="") & Q(override_until__isnull=False)),
                name="tiers_override_has_an_end",
            ),
        ]


class ChangeReason(models.TextChoices):
    RULE = "rule", _("Qualified")
    REVIEW = "review", _("Review")
    GRACE = "grace", _("End of grace period")
    REFUND = "refund", _("Refund")
    MANUAL = "manual", _("Manual override")
    OVERRIDE_ENDED = "override_ended", _("Override ended")
    GO_LIVE = "go_live", _("New tier model")


class TierChange(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    model = models.ForeignKey(TierModel, on_delete=models.PROTECT, related_name="+")
    from_code = models.CharField(max_length=32)
    to_code = models.CharField(max_length=32)
    reason = models.CharField(max_length=20, choices=ChangeReason.choices)
    at = models.DateTimeField()
    effective_on = models.DateField()
    transaction = models.ForeignKey(Transaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.JSONField(default=dict, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["member", "-at"], name="tierchange_member_idx"),
            models.Index(fields=["at"], name="tierchange_at_idx"),
        ]


class SimulationStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class Simulation(models.Model):
    name = models.CharField(max_length=100, blank=True)
    model = models.ForeignKey(TierModel, on_delete=models.CASCADE, related_name="simulations")
    baseline = models.ForeignKey(TierModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    params = models.JSONField(default=dict)  # period, backtest period, baseline kind
    status = models.CharField(max_length=10, choices=SimulationStatus.choices, default=SimulationStatus.QUEUED)
    progress = models.SmallIntegerField(default=0)  # percent
    result = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def summary(self) -> dict[str, Any]:
        return self.result.get("summary", {}) if self.result else {}
