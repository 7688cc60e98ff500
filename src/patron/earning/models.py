"""Earning rules, the counters that make their caps hold, and activity points.

A rule's config is JSON validated by `earning.rules.RuleConfig`; `enabled` and `priority` are copied
out of it into columns (the services keep them in step) so lists can sort and filter on them.

Caps hold under concurrency because the counters are rows the database guards:

- `RuleBudget`: one row per rule with a budget. Points are taken with a conditional
  `UPDATE … SET awarded = awarded + n WHERE awarded + n <= cap` (or, for what is left, under a row
  lock), and a check constraint refuses `awarded > cap` whatever the code does.
- `MemberRuleUsage`: points a rule gave one member in one local day or month; written while the
  member row is locked (as every ledger write for that member is), unique per (member, rule, period).
- `ActivityAward`: an activity paid to a member. `day_seq` / `life_seq` number the awards within a
  limited day or lifetime, so "once per local day" and "once ever" are unique keys, and a reference
  (a survey, an event, a referred member) pays once per member.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F, Q

from patron.earning.rules import Rule, RuleConfig
from patron.ledger.models import Journal
from patron.members.models import Member


class EarningRule(models.Model):
    name = models.CharField(max_length=100)
    config = models.JSONField()
    enabled = models.BooleanField(default=True)
    priority = models.IntegerField(default=100)
    preset = models.CharField(max_length=40, blank=True)  # the preset it was made from, if any
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-priority", "id"]
        indexes = [models.Index(fields=["enabled", "-priority", "id"], name="earningrule_live_idx")]

    def __str__(self) -> str:
        return self.name

    def rule(self) -> Rule:
        return Rule(id=self.pk, name=self.name, config=RuleConfig.model_validate(self.config))


class RuleBudget(models.Model):
    rule = models.OneToOneField(EarningRule, on_delete=models.CASCADE, related_name="budget_counter")
    cap = models.BigIntegerField(null=True, blank=True)  # None: the rule no longer has a budget
    awarded = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(awarded__gte=0), name="earning_budget_awarded_not_negative"),
            models.CheckConstraint(
                condition=Q(cap__isnull=True) | Q(awarded__lte=F("cap")), name="earning_budget_never_overspent"
            ),
        ]


class MemberRuleUsage(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="rule_usage")
    rule = models.ForeignKey(EarningRule, on_delete=models.CASCADE, related_name="usage")
    period = models.CharField(max_length=12)  # "d:2026-11-25" or "m:2026-11", member-local
    points = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "rule", "period"], name="earning_usage_once_per_period"),
            models.CheckConstraint(condition=Q(points__gte=0), name="earning_usage_not_negative"),
        ]


class ActivityProgram(models.Model):
    """The activity points program, one row, validated as `earning.activities.ActivityConfig`."""

    config = models.JSONField(default=dict)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.CharField(max_length=150, blank=True)


class ActivityAward(models.Model):
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="activity_awards")
    activity = models.CharField(max_length=40)
    reference = models.CharField(max_length=100, blank=True)
    local_date = models.DateField()
    day_seq = models.PositiveIntegerField(null=True, blank=True)  # n-th award that local day, when limited
    life_seq = models.PositiveIntegerField(null=True, blank=True)  # n-th award ever, when limited
    streak = models.PositiveIntegerField(default=0)  # consecutive local days, for once-a-day activities
    points = models.BigIntegerField()  # in all, with any streak bonus
    bonus_points = models.BigIntegerField(default=0)
    journal = models.OneToOneField(Journal, on_delete=models.PROTECT, related_name="activity_award")
    awarded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "activity", "local_date", "day_seq"],
                condition=Q(day_seq__isnull=False),
                name="activity_day_limit",
            ),
            models.UniqueConstraint(
                fields=["member", "activity", "life_seq"],
                condition=Q(life_seq__isnull=False),
                name="activity_lifetime_limit",
            ),
            models.UniqueConstraint(
                fields=["member", "activity", "reference"], condition=~Q(reference=""), name="activity_reference_once"
            ),
            models.CheckConstraint(condition=Q(points__gt=0), name="activity_points_positive"),
        ]
        indexes = [models.Index(fields=["member", "activity", "local_date"], name="activity_member_day_idx")]

    def as_dict(self) -> dict[str, Any]:
        return {
            "activity": self.activity,
            "reference": self.reference,
            "date": self.local_date.isoformat(),
            "points": self.points,
            "bonus_points": self.bonus_points,
            "streak": self.streak,
        }
