"""Every write of the earning app, and the reads the earn path needs on every sale.

The earn path: `quote(member, basket)` evaluates the active rules (cached in the process for a few
seconds) against the member's facts and the caps already used, and writes nothing. Inside the
transaction that records a sale, `do_earn_for_quote` calls `consume_caps`, which locks the member
row, records the usage of per-member caps and takes from campaign budgets with conditional updates,
reducing any award a concurrent earn has made too large; then it posts one ledger journal per point
type, with the rules that fired in the journal's detail.

Rule changes (`do_create_rule`, `do_update_rule`, `do_set_rule_enabled`, `do_create_rule_from_preset`)
are audited and clear the rule cache at once in this process (and within five seconds
elsewhere). Activity points: `do_award_activity`, `do_update_activity_program`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from pydantic import ValidationError

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.cache import ProcessCache
from patron.core.context import current_actor
from patron.core.errors import NotFound, ValidationFailed, validation_fields
from patron.core.events import publish
from patron.earning import activities, events, presets
from patron.earning.engine import (
    ANONYMOUS,
    EMPTY,
    TIER_MULTIPLIER_ID,
    Basket,
    MemberFacts,
    Quote,
    Usage,
    evaluate,
    period_keys,
)
from patron.earning.errors import ErrorCode
from patron.earning.models import ActivityAward, ActivityProgram, EarningRule, MemberRuleUsage, RuleBudget
from patron.earning.rules import Rule, RuleConfig, check_rule_config
from patron.ledger import services as ledger
from patron.ledger.models import Journal
from patron.members.models import Member, MemberAttribute, MemberStatus, MemberTag, Transaction
from patron.members.services import add_timeline, lock_member
from patron.tiers import queries as tiers

log = logging.getLogger(__name__)

POINT_TYPE_ORDER = ("purchase", "bonus", "activity", "adjustment")


# --------------------------------------------------------------------------- the active rules


def _load_rules() -> tuple[Rule, ...]:
    loaded: list[Rule] = []
    for row in EarningRule.objects.filter(enabled=True).order_by("-priority", "id"):
        try:
            loaded.append(row.rule())
        except ValidationError:  # only a hand edit of the table gets here; the services validate
            log.error("earning rule %s has an invalid config and is skipped", row.pk)
    return tuple(loaded)


_rules_cache = ProcessCache(5.0, _load_rules)


def _enabled_rules() -> tuple[Rule, ...]:
    return _rules_cache.get()


def forget_rules() -> None:
    """Drop the cached rules (after a change, and between tests)."""
    _rules_cache.forget()


def active_rules(at: dt.datetime | None = None) -> list[Rule]:
    """The rules that are enabled and within their schedule at `at` (now by default)."""
    at = at or clock.now()
    return [rule for rule in _enabled_rules() if rule.config.live_at(at)]


def _rules_by_id(ids: Iterable[int]) -> dict[int, Rule]:
    """Rules by id: from the cache, or from the table for any the cache does not hold."""
    wanted = set(ids)
    found = {rule.id: rule for rule in _enabled_rules() if rule.id in wanted}
    missing = wanted - set(found)
    if missing:
        for row in EarningRule.objects.filter(pk__in=missing):
            found[row.pk] = row.rule()
    return found


# --------------------------------------------------------------------------- facts, usage, quote


def member_facts(member: Member, *, tags: bool = True, attributes: bool = True) -> MemberFacts:
    """What the rules may ask of a member: tags, extended-profile attributes and tier."""
    tag_names: frozenset[str] = frozenset()
    values: dict[str, Any] = {}
    if tags:
        tag_names = frozenset(MemberTag.objects.filter(member=member).values_list("tag__name", flat=True))
    if attributes:
        values = dict(MemberAttribute.objects.filter(member=member).values_list("definition__key", "value"))
    tier = tiers.member_tier(member)
    if tier is None:  # no tier model is live
        return MemberFacts(member_id=member.pk, tags=tag_names, attributes=values)
    return MemberFacts(
        member_id=member.pk,
        tags=tag_names,
        attributes=values,
        tier=tier.tier.code,
        tier_name=tier.tier.display(get_language() or "zh-hans"),
        tier_multiplier=tier.tier.multiplier,
    )


def current_usage(member: Member | None, rules: Iterable[Rule], at: dt.datetime) -> Usage:
    """How much of the rules' caps is used: the member's points in `at`'s local day and month, and
    each budget's total. Reads only the rules that have such caps."""
    rules = list(rules)
    day_key, month_key = period_keys(at, clock.member_zone())
    per_member = [r.id for r in rules if r.config.caps.per_member]
    budgeted = [r.id for r in rules if r.config.budget]
    day: dict[int, int] = {}
    month: dict[int, int] = {}
    if member is not None and per_member:
        rows = MemberRuleUsage.objects.filter(member=member, rule_id__in=per_member, period__in=[day_key, month_key])
        for rule_id, period, points in rows.values_list("rule_id", "period", "points"):
            (day if period == day_key else month)[rule_id] = points
    budget: dict[int, int] = {}
    if budgeted:
        budget = dict(RuleBudget.objects.filter(rule_id__in=budgeted).values_list("rule_id", "awarded"))
    return Usage(day=day, month=month, budget=budget)


def quote(member: Member | None, basket: Basket) -> Quote:
    """What the basket would earn now, caps applied against current usage. Writes nothing."""
    rules = active_rules(basket.at)
    if not rules:
        return EMPTY
    facts = ANONYMOUS
    if member is not None:
        conditions = [r.config.conditions for r in rules]
        facts = member_facts(
            member,
            tags=any(c.member_tags for c in conditions),
            attributes=any(c.member_attributes for c in conditions),
        )
    return evaluate(rules, basket, facts, current_usage(member, rules, basket.at), zone=clock.member_zone())


# --------------------------------------------------------------------------- consuming caps, earning


@transaction.atomic(savepoint=False)  # no savepoint: a failure here fails the earn that called it
def consume_caps(member: Member, quote: Quote, at: dt.datetime | None = None) -> Quote:
    """Record the quote's use of per-member caps and budgets, in the caller's transaction, and return
    what may actually be awarded: an award that a concurrent earn has made too large is reduced,
    and a budget that runs out gives what is left of it, never more.

    Locks the member row first (as every ledger write does), then budget rows in rule-id order, so
    two earns never wait on each other crosswise."""
    if not quote.awards:
        return quote
    at = at or clock.now()
    ruled = [a for a in quote.awards if a.rule_id != TIER_MULTIPLIER_ID]
    rules = _rules_by_id(a.rule_id for a in ruled)
    all_found = len(rules) == len({a.rule_id for a in ruled})
    if all_found and not any(r.config.caps.per_member or r.config.budget for r in rules.values()):
        return quote  # nothing to count: no lock, no query
    lock_member(member.pk)
    day_key, month_key = period_keys(at, clock.member_zone())
    used = {
        (rule_id, period): points
        for rule_id, period, points in MemberRuleUsage.objects.filter(
            member=member, rule_id__in=list(rules), period__in=[day_key, month_key]
        ).values_list("rule_id", "period", "points")
    }
    notes = list(quote.notes)
    granted: dict[int, int] = {}
    reasons: dict[int, str] = {}
    for award in quote.awards:
        if award.rule_id == TIER_MULTIPLIER_ID:  # the tier's multiplier has no caps of its own
            granted[award.rule_id] = award.points
            continue
        rule = rules.get(award.rule_id)
        if rule is None:
            granted[award.rule_id] = 0
            notes.append(_("%(rule)s: the rule no longer exists.") % {"rule": award.rule_name})
            continue
        points = award.points
        caps = rule.config.caps
        for cap, key, message in (
            (caps.per_member_day, day_key, _("capped at %(n)s per day")),
            (caps.per_member_month, month_key, _("capped at %(n)s per month")),
        ):
            if cap is not None:
                left = max(cap - used.get((rule.id, key), 0), 0)
                if points > left:
                    points, reasons[rule.id] = left, message % {"n": left}
        granted[rule.id] = points
    for rule_id in sorted(granted):
        rule = rules.get(rule_id)
        if rule is not None and rule.config.budget and granted[rule_id] > 0:
            taken = _take_budget(rule, granted[rule_id])
            if taken < granted[rule_id]:
                granted[rule_id], reasons[rule_id] = taken, _("campaign budget: %(n)s left") % {"n": taken}
    for rule_id, points in granted.items():
        rule = rules.get(rule_id)
        if rule is None or points <= 0:
            continue
        if rule.config.caps.per_member_day:
            _add_usage(member, rule_id, day_key, points)
        if rule.config.caps.per_member_month:
            _add_usage(member, rule_id, month_key, points)
    awards = []
    for award in quote.awards:
        points = granted.get(award.rule_id, 0)
        if points < award.points:
            if points == 0 and award.rule_id in reasons:
                notes.append(_("%(rule)s: %(why)s.") % {"rule": award.rule_name, "why": reasons[award.rule_id]})
            award = dataclasses.replace(award, points=points, note=reasons.get(award.rule_id, award.note))
        awards.append(award)
    return Quote.of(awards, notes)


def _take_budget(rule: Rule, points: int) -> int:
    """Take up to `points` from the rule's budget; return how many were taken.

    All of them in one conditional UPDATE when they fit (on PostgreSQL a concurrent writer makes it
    wait and re-check the condition on the committed row); otherwise what is left, under a row lock."""
    taken = RuleBudget.objects.filter(rule_id=rule.id, cap__isnull=False, awarded__lte=F("cap") - points).update(
        awarded=F("awarded") + points
    )
    if taken:
        return points
    row = RuleBudget.objects.select_for_update().filter(rule_id=rule.id).first()
    if row is None:  # a budget the services did not set up (a hand edit): start counting now
        row, _created = RuleBudget.objects.get_or_create(rule_id=rule.id, defaults={"cap": rule.config.budget})
        row = RuleBudget.objects.select_for_update().get(pk=row.pk)
    if row.cap is None:
        return points
    take = max(0, min(points, row.cap - row.awarded))
    if take:
        RuleBudget.objects.filter(pk=row.pk).update(awarded=F("awarded") + take)
    return take


def _add_usage(member: Member, rule_id: int, period: str, points: int) -> None:
    """Add to the member's usage of a rule in a period (the member row is locked by the caller)."""
    if MemberRuleUsage.objects.filter(member=member, rule_id=rule_id, period=period).update(
        points=F("points") + points
    ):
        return
    MemberRuleUsage.objects.create(member=member, rule_id=rule_id, period=period, points=points)


@transaction.atomic(savepoint=False)  # called by the sale's hook: a failure here fails the sale
def do_earn_for_quote(
    member: Member,
    quote: Quote,
    *,
    transaction_: Transaction | None = None,
    pending: bool = False,
    at: dt.datetime | None = None,
) -> list[Journal]:
    """Award a quote: consume its caps, then credit one journal per point type, with the rules that
    fired in `detail["rules"]`. `at` (the sale's time by default) decides the cap periods and the
    points' expiry; `pending` makes every journal of the sale wait out the return window."""
    at = at or (transaction_.occurred_at if transaction_ is not None else clock.now())
    granted = consume_caps(member, quote, at)
    journals: list[Journal] = []
    for point_type in sorted(granted.by_type, key=_type_order):
        awards = [a for a in granted.awards if a.point_type == point_type]
        journals.append(
            ledger.do_earn(
                member=member,
                points=granted.by_type[point_type],
                point_type=point_type,
                transaction_=transaction_,
                pending=pending,
                memo=", ".join(a.rule_name for a in awards)[:200],
                detail={"rules": [a.as_detail() for a in awards]},
                earned_at=at,
            )
        )
    return journals


def _type_order(point_type: str) -> int:
    return POINT_TYPE_ORDER.index(point_type) if point_type in POINT_TYPE_ORDER else len(POINT_TYPE_ORDER)


# --------------------------------------------------------------------------- rules: create, edit, enable


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(
            _("A rule needs a name of 1 to 100 characters."), code=ErrorCode.INVALID_RULE, fields={"name": _("invalid")}
        )
    return name


def _rule_state(rule: EarningRule) -> dict[str, Any]:
    return {"name": rule.name, "config": rule.config}


def _sync_budget(rule: EarningRule, config: RuleConfig) -> None:
    """Keep the rule's budget counter in step with its config; refuse a budget below what it gave."""
    row = RuleBudget.objects.select_for_update().filter(rule=rule).first()
    if config.budget is None:
        if row is not None and row.cap is not None:
            row.cap = None
            row.save(update_fields=["cap"])
        return
    if row is None:
        RuleBudget.objects.create(rule=rule, cap=config.budget)
        return
    if row.awarded > config.budget:
        raise ValidationFailed(
            _("The rule has already awarded %(n)s points; its budget cannot be less.") % {"n": row.awarded},
            code=ErrorCode.BUDGET_BELOW_AWARDED,
            fields={"budget": _("below what was awarded")},
        )
    row.cap = config.budget
    row.save(update_fields=["cap"])


def _rules_changed(rule: EarningRule, action: str) -> None:
    publish(events.EarningRuleChanged(rule.pk, action))
    transaction.on_commit(forget_rules)
    forget_rules()


@transaction.atomic
def do_create_rule(*, name: str, config: RuleConfig | dict[str, Any], preset: str = "") -> EarningRule:
    """Add an earning rule. It applies from the next quote on (in other processes within seconds)."""
    name = _check_name(name)
    checked = check_rule_config(config)
    now, who = clock.now(), current_actor().label[:150]
    rule = EarningRule.objects.create(
        name=name,
        config=checked.as_json(),
        enabled=checked.enabled,
        priority=checked.priority,
        preset=preset[:40],
        created_at=now,
        created_by=who,
        updated_at=now,
        updated_by=who,
    )
    _sync_budget(rule, checked)
    record_audit("earning.rule_create", obj=rule, after=_rule_state(rule))
    _rules_changed(rule, "created")
    return rule


@transaction.atomic
def do_update_rule(
    *, rule: EarningRule, name: str | None = None, config: RuleConfig | dict[str, Any] | None = None, reason: str = ""
) -> EarningRule:
    """Change a rule's name and/or config. Usage counted so far stays (a cap raised mid-day counts
    what the day already gave)."""
    rule = _locked_rule(rule.pk)
    before = _rule_state(rule)
    if name is not None:
        rule.name = _check_name(name)
    if config is not None:
        checked = check_rule_config(config)
        rule.config = checked.as_json()
        rule.enabled, rule.priority = checked.enabled, checked.priority
        _sync_budget(rule, checked)
    rule.updated_at, rule.updated_by = clock.now(), current_actor().label[:150]
    rule.save()
    record_audit("earning.rule_update", obj=rule, before=before, after=_rule_state(rule), reason=reason)
    _rules_changed(rule, "updated")
    return rule


@transaction.atomic
def do_set_rule_enabled(*, rule: EarningRule, enabled: bool, reason: str = "") -> EarningRule:
    rule = _locked_rule(rule.pk)
    if rule.enabled == enabled and rule.config.get("enabled", True) == enabled:
        return rule
    rule.config = {**rule.config, "enabled": enabled}
    rule.enabled = enabled
    rule.updated_at, rule.updated_by = clock.now(), current_actor().label[:150]
    rule.save()
    record_audit(
        "earning.rule_enable" if enabled else "earning.rule_disable",
        obj=rule,
        after={"enabled": enabled},
        reason=reason,
    )
    _rules_changed(rule, "enabled" if enabled else "disabled")
    return rule


@transaction.atomic
def do_create_rule_from_preset(
    *, preset_key: str, params: dict[str, Any] | None = None, name: str | None = None
) -> EarningRule:
    """Add a rule from a preset (`earning.presets.PRESETS`), with the preset's parameters."""
    preset = presets.PRESETS.get(preset_key)
    if preset is None:
        raise ValidationFailed(
            _("Unknown preset %(key)s.") % {"key": preset_key},
            code=ErrorCode.UNKNOWN_PRESET,
            fields={"preset": _("unknown")},
        )
    params = dict(params or {})
    missing = [p for p in preset.required if not str(params.get(p, "")).strip()]
    unknown = sorted(set(params) - set(preset.params))
    if missing or unknown:
        fields = {p: _("required") for p in missing} | {p: _("unknown") for p in unknown}
        raise ValidationFailed(
            _("The preset needs: %(params)s.") % {"params": ", ".join(missing or unknown)},
            code=ErrorCode.INVALID_RULE,
            fields=fields,
        )
    try:
        config = preset.config(**params)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: a date beyond the calendar
        raise ValidationFailed(
            _("The preset's parameters are not valid: %(why)s") % {"why": exc}, code=ErrorCode.INVALID_RULE
        ) from exc
    return do_create_rule(name=name or str(preset.label), config=config, preset=preset_key)


def _locked_rule(pk: int) -> EarningRule:
    try:
        return EarningRule.objects.select_for_update().get(pk=pk)
    except EarningRule.DoesNotExist as exc:
        raise NotFound(_("Earning rule not found.")) from exc


# --------------------------------------------------------------------------- activity points


def _check_member_can_earn(member: Member) -> None:
    if member.status == MemberStatus.FROZEN:
        raise ValidationFailed(_("This membership is frozen."), code=ErrorCode.MEMBER_FROZEN)
    if member.status != MemberStatus.ACTIVE:
        raise ValidationFailed(
            _("This membership is %(s)s.") % {"s": member.get_status_display()}, code=ErrorCode.MEMBER_NOT_ACTIVE
        )


def _limit_reached(label: str) -> ValidationFailed:
    return ValidationFailed(
        _("The limit for %(activity)s has been reached.") % {"activity": label}, code=ErrorCode.ACTIVITY_LIMIT_REACHED
    )


def _already_awarded(label: str, reference: str) -> ValidationFailed:
    return ValidationFailed(
        _("%(activity)s %(ref)s has already earned points.") % {"activity": label, "ref": reference},
        code=ErrorCode.ALREADY_AWARDED,
        fields={"reference": _("already used")},
    )


@transaction.atomic
def do_award_activity(
    *, member: Member, activity: str, reference: str = "", at: dt.datetime | None = None
) -> ActivityAward:
    """Pay a member for an activity, within its limits.

    Limits count per local day, local calendar month and lifetime; a reference pays once per member.
    The member row is locked first, so two awards for one member queue; the unique keys on
    (member, activity, day, n-th of the day), (member, activity, n-th ever) and (member, activity,
    reference) hold even without that."""
    spec = activities.current().activities.get(activity)
    if spec is None or not spec.enabled:
        raise ValidationFailed(
            _("Unknown activity %(a)s.") % {"a": activity},
            code=ErrorCode.UNKNOWN_ACTIVITY,
            fields={"activity": _("unknown")},
        )
    reference = (reference or "").strip()
    if len(reference) > 100:
        raise ValidationFailed(_("The reference is too long."), fields={"reference": _("too long")})
    if spec.requires_reference and not reference:
        raise ValidationFailed(
            _("%(activity)s needs a reference (which survey, event or member).") % {"activity": spec.display},
            code=ErrorCode.REFERENCE_REQUIRED,
            fields={"reference": _("required")},
        )
    at = at or clock.now()
    member = lock_member(member.pk)
    local_date = at.astimezone(clock.zone_named(member.time_zone)).date()  # the member's own day
    _check_member_can_earn(member)
    mine = ActivityAward.objects.filter(member=member, activity=activity)
    if reference and mine.filter(reference=reference).exists():
        raise _already_awarded(spec.display, reference)
    day_seq = life_seq = None
    if spec.per_day:
        day_seq = mine.filter(local_date=local_date).count() + 1
        if day_seq > spec.per_day:
            raise _limit_reached(spec.display)
    if spec.per_month:
        first = local_date.replace(day=1)
        if mine.filter(local_date__gte=first, local_date__lt=_next_month(first)).count() >= spec.per_month:
            raise _limit_reached(spec.display)
    if spec.lifetime:
        life_seq = mine.count() + 1
        if life_seq > spec.lifetime:
            raise _limit_reached(spec.display)
    streak = 0
    if spec.counts_streak:
        previous = mine.filter(local_date=local_date - dt.timedelta(days=1)).order_by("-id").first()
        streak = previous.streak + 1 if previous is not None else 1
    bonus = spec.streak_bonus(streak)
    rules: list[dict[str, Any]] = [
        {"id": f"activity:{activity}", "name": spec.label, "points": spec.points, "type": spec.point_type}
    ]
    if bonus:
        name = _("%(activity)s: %(n)s days in a row") % {"activity": spec.label, "n": streak}
        rules.append({"id": f"activity:{activity}:streak", "name": name, "points": bonus, "type": spec.point_type})
    journal = ledger.do_earn(
        member=member,
        points=spec.points + bonus,
        point_type=spec.point_type,
        memo=spec.label,
        detail={"activity": activity, "reference": reference, "streak": streak, "rules": rules},
        earned_at=at,
    )
    try:
        with transaction.atomic():
            award = ActivityAward.objects.create(
                member=member,
                activity=activity,
                reference=reference,
                local_date=local_date,
                day_seq=day_seq,
                life_seq=life_seq,
                streak=streak,
                points=spec.points + bonus,
                bonus_points=bonus,
                journal=journal,
                awarded_at=at,
            )
    except IntegrityError as exc:  # a concurrent award the member lock did not serialize
        if reference and mine.filter(reference=reference).exists():
            raise _already_awarded(spec.display, reference) from exc
        raise _limit_reached(spec.display) from exc
    add_timeline(
        member,
        "activity_awarded",
        activity=activity,
        label=spec.label,
        points=award.points,
        bonus_points=bonus,
        streak=streak,
        reference=reference,
        journal_id=journal.pk,
    )
    publish(events.ActivityAwarded(award.pk, member.pk, activity, award.points, reference))
    return award


def _next_month(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1)


@transaction.atomic
def do_update_activity_program(*, config: dict[str, Any]) -> activities.ActivityConfig:
    """Replace the activity program's config (validated); takes effect at once in this process."""
    try:
        checked = activities.ActivityConfig.model_validate(config)
    except ValidationError as exc:
        fields = validation_fields(exc)
        raise ValidationFailed(
            _("The activity points settings are not valid: %(why)s") % {"why": "; ".join(fields.values())},
            code=ErrorCode.INVALID_ACTIVITY_PROGRAM,
            fields=fields,
        ) from exc
    row, _created = ActivityProgram.objects.select_for_update().get_or_create(pk=1)
    before = row.config or None
    row.config = checked.model_dump(mode="json")
    row.updated_at = clock.now()
    row.updated_by = current_actor().label[:150]
    row.save()
    record_audit(
        "earning.activity_program_update",
        object_type="activity_program",
        object_id=1,
        before=before,
        after=row.config,
    )
    transaction.on_commit(activities.forget)
    activities.forget()
    return checked
