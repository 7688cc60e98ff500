"""Every write of the tiers app.

Models: `do_create_model`, `do_create_model_from_preset`, `do_copy_model`, `do_update_model` (drafts
only: the live model changes by going live with an edited copy, after simulating it),
`do_go_live` (records who, retires the previous model, and enqueues the re-evaluation of every
member, `reevaluate_members`).

Members: `on_transaction` is the sale/refund hook (upgrade at once on the sale that qualifies;
refunds may undo an upgrade); `evaluate_member` brings one member up to date (reviews and grace ends
due, an override that ended); `run_reviews` is the daily job over the members with something due,
which also warns those at risk; `do_set_override` / `do_end_override` for the manual override.

Every evaluation of a member runs under the member's row lock, and a review is identified by its
date on the member's row, so it is done exactly once however many jobs and sales race for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.cache import ProcessCache
from patron.core.context import current_actor
from patron.core.errors import ValidationFailed
from patron.core.events import on_commit, publish
from patron.members.models import LIVE_STATUSES, Member, Transaction, TransactionKind
from patron.members.services import add_timeline, lock_member
from patron.tiers import events, presets
from patron.tiers.config import TierModelConfig, check_model_config
from patron.tiers.engine import Move, Outcome, TierEngine, TierState, catch_up, date_of
from patron.tiers.errors import ErrorCode
from patron.tiers.history import local_day, start_of_day, window_on
from patron.tiers.models import (
    ChangeReason,
    MemberTier,
    ModelStatus,
    Simulation,
    SimulationStatus,
    TierChange,
    TierModel,
)

__all__ = ["TierChange"]  # registered as a merge target by apps.py

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- the live model


@dataclass(frozen=True)
class LiveModel:
    id: int
    config: TierModelConfig


def _load_live() -> LiveModel | None:
    row = TierModel.objects.filter(status=ModelStatus.LIVE).first()
    return LiveModel(row.pk, row.parsed()) if row is not None else None


_live_cache = ProcessCache(5.0, _load_live)


def live_model() -> LiveModel | None:
    """The live model's config, cached in the process for a few seconds (every sale reads it)."""
    return _live_cache.get()


def forget_live_model() -> None:
    _live_cache.forget()


# --------------------------------------------------------------------------- models


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(
            _("A tier model needs a name of 1 to 100 characters."),
            code=ErrorCode.INVALID_MODEL,
            fields={"name": _("invalid")},
        )
    return name


@transaction.atomic
def do_create_model(*, name: str, config: TierModelConfig | dict[str, Any], preset: str = "") -> TierModel:
    """A new draft model. It changes nothing until it goes live."""
    checked = check_model_config(config)
    now, who = clock.now(), current_actor().label[:150]
    model = TierModel.objects.create(
        name=_check_name(name),
        config=checked.as_json(),
        preset=preset[:40],
        created_at=now,
        created_by=who,
        updated_at=now,
        updated_by=who,
    )
    record_audit("tiers.model_create", obj=model, after={"name": model.name, "config": model.config})
    return model


def do_create_model_from_preset(*, preset: str, name: str = "") -> TierModel:
    found = presets.get(preset)
    if found is None:
        raise ValidationFailed(
            _("There is no tier preset called %(p)s.") % {"p": preset}, code=ErrorCode.UNKNOWN_PRESET
        )
    return do_create_model(name=name or found.display(), config=found.config, preset=preset)


def do_copy_model(*, model: TierModel, name: str = "") -> TierModel:
    """A draft copy of any model (the way to change the live one: copy, simulate, go live)."""
    return do_create_model(
        name=name or _("Copy of %(n)s") % {"n": model.name}, config=model.config, preset=model.preset
    )


@transaction.atomic
def do_update_model(
    *, model: TierModel, name: str | None = None, config: TierModelConfig | dict[str, Any] | None = None
) -> TierModel:
    model = TierModel.objects.select_for_update().get(pk=model.pk)
    if model.status != ModelStatus.DRAFT:
        raise ValidationFailed(
            _("Only a draft can be edited; copy the model to change it."), code=ErrorCode.MODEL_NOT_DRAFT
        )
    before = {"name": model.name, "config": model.config}
    if name is not None:
        model.name = _check_name(name)
    if config is not None:
        model.config = check_model_config(config).as_json()
    model.updated_at, model.updated_by = clock.now(), current_actor().label[:150]
    model.save()
    record_audit("tiers.model_update", obj=model, before=before, after={"name": model.name, "config": model.config})
    return model


@transaction.atomic
def do_go_live(*, model: TierModel, reason: str = "") -> TierModel:
    """Make a draft the live model. Members are re-evaluated under it by a background job, which
    keeps their history and records each move as `go_live`."""
    model = TierModel.objects.select_for_update().get(pk=model.pk)
    if model.status != ModelStatus.DRAFT:
        raise ValidationFailed(_("Only a draft can go live."), code=ErrorCode.MODEL_NOT_DRAFT)
    check_model_config(model.config)
    previous = TierModel.objects.select_for_update().filter(status=ModelStatus.LIVE).first()
    now, who = clock.now(), current_actor().label[:150]
    if previous is not None:
        previous.status, previous.retired_at = ModelStatus.RETIRED, now
        previous.save(update_fields=["status", "retired_at"])
    model.status, model.went_live_at, model.went_live_by = ModelStatus.LIVE, now, who
    model.save(update_fields=["status", "went_live_at", "went_live_by"])
    record_audit(
        "tiers.model_go_live",
        obj=model,
        before={"live": previous.pk if previous else None},
        after={"live": model.pk},
        reason=reason,
    )
    forget_live_model()
    on_commit(forget_live_model)
    publish(events.TierModelWentLive(model.pk, previous.pk if previous else None))
    model_id = model.pk
    on_commit(lambda: _enqueue_reevaluation(model_id))
    return model


def _enqueue_reevaluation(model_id: int) -> None:
    from patron.tiers import tasks  # tasks import these services

    tasks.reevaluate_members.enqueue(model_id)


# --------------------------------------------------------------------------- state rows


def state_of(row: MemberTier | None, config: TierModelConfig) -> TierState:
    if row is None:
        return TierState()
    level = config.level_of(row.tier_code)

    def day(value: dt.date | None) -> int | None:
        return value.toordinal() if value else None

    return TierState(
        level=level,
        since=day(row.since),
        review_on=day(row.review_on),
        grace_until=day(row.grace_until),
        floor=min(row.floor, level),
        upgraded_from=row.upgraded_from,
    )


def _write_state(row: MemberTier, state: TierState, config: TierModelConfig, model_id: int) -> None:
    def date(value: int | None) -> dt.date | None:
        return date_of(value) if value is not None else None

    row.model_id = model_id
    row.level = state.level
    row.tier_code = config.tiers[state.level].code
    row.since = date(state.since)
    row.review_on = date(state.review_on)
    row.grace_until = date(state.grace_until)
    row.floor = state.floor
    row.upgraded_from = state.upgraded_from
    row.updated_at = clock.now()


def _locked_row(member_id: int, live: LiveModel) -> MemberTier:
    row = MemberTier.objects.select_for_update().filter(member_id=member_id).first()
    if row is None:
        row = MemberTier(member_id=member_id, model_id=live.id, tier_code=live.config.tiers[0].code, level=0)
        row.updated_at = clock.now()
    return row


def override_active(row: MemberTier | None, now: dt.datetime | None = None) -> bool:
    return bool(row and row.override_code and row.override_until and row.override_until > (now or clock.now()))


def effective_code(row: MemberTier | None, config: TierModelConfig) -> str:
    if row is None:
        return config.tiers[0].code
    if override_active(row):
        return row.override_code
    return config.tiers[config.level_of(row.tier_code)].code


# --------------------------------------------------------------------------- recording moves


def _record(
    member: Member,
    live: LiveModel,
    before: str,
    after: str,
    reason: str,
    *,
    effective_on: dt.date,
    txn: Transaction | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One move of the member's shown tier: history row, timeline row, event after commit."""
    if before == after:
        return
    config = live.config
    now = clock.now()
    TierChange.objects.create(
        member_id=member.pk,
        model_id=live.id,
        from_code=before,
        to_code=after,
        reason=reason,
        at=now,
        effective_on=effective_on,
        transaction=txn,
        detail=detail or {},
        actor_label=current_actor().label[:150],
    )
    add_timeline(member, "tier_changed", before=before, after=after, reason=reason)
    up = config.level_of(after) > config.level_of(before)
    event_type = events.TierUpgraded if up else events.TierDowngraded
    publish(event_type(member.pk, before, after, reason, now))


def _apply(member: Member, row: MemberTier, live: LiveModel, outcome: Outcome, txn: Transaction | None = None) -> None:
    """Store the engine's outcome; each move of the shown tier is recorded (none while an override
    shows another tier: the override's end records where the member landed)."""
    shown = override_active(row)
    codes = live.config.codes
    moves: list[Move] = outcome.moves
    _write_state(row, outcome.state, live.config, live.id)
    row.save()
    if shown:
        return
    for move in moves:
        reason = move.reason
        _record(
            member,
            live,
            codes[move.before],
            codes[move.after],
            reason,
            effective_on=date_of(move.day),
            txn=txn if reason in (ChangeReason.RULE, ChangeReason.REFUND) else None,
        )


# --------------------------------------------------------------------------- evaluating a member


def _engine(live: LiveModel, member: Member) -> TierEngine:
    return TierEngine(live.config).for_member(local_day(member.joined_at))


def _catch_up(engine: TierEngine, member: Member, state: TierState, today: int) -> Outcome:
    return catch_up(engine, state, today, lambda day: window_on(engine, member.pk, day).metrics())


def _bring_up_to_date(member: Member, row: MemberTier, live: LiveModel, engine: TierEngine, today: int) -> None:
    """Do whatever reviews and grace ends are due by `today` and store the result (row locked)."""
    state = state_of(row, live.config)
    outcome = _catch_up(engine, member, state, today)
    if outcome.moves or outcome.state != state or row.pk is None:
        _apply(member, row, live, outcome)


def on_transaction(txn: Transaction) -> None:
    """The hook: runs inside the transaction that records the sale or refund, member row locked."""
    live = live_model()
    if live is None:
        return
    member = txn.member
    engine = _engine(live, member)
    row = _locked_row(member.pk, live)
    today = local_day(clock.now())
    outcome = _catch_up(engine, member, state_of(row, live.config), today)
    metrics = window_on(engine, member.pk, today).metrics()
    after = (
        engine.after_sale(outcome.state, today, metrics)
        if txn.kind == TransactionKind.SALE
        else engine.after_refund(outcome.state, today, metrics)
    ) or Outcome(outcome.state)
    outcome = Outcome(after.state, outcome.moves + after.moves, outcome.graced)
    if outcome.moves or after.state != state_of(row, live.config) or row.pk is None:
        _apply(member, row, live, outcome, txn)


@transaction.atomic
def evaluate_member(member_id: int, *, now: dt.datetime | None = None) -> MemberTier | None:
    """Bring one member up to date: reviews and grace ends due, an override that has ended, and a
    warning if the next review would move them down."""
    live = live_model()
    if live is None:
        return None
    now = now or clock.now()
    member = lock_member(member_id)
    row = _locked_row(member.pk, live)
    engine = _engine(live, member)
    today = local_day(now)
    _bring_up_to_date(member, row, live, engine, today)
    if row.override_code and row.override_until and row.override_until <= now:
        _end_override(member, row, live, engine, today, reason=ChangeReason.OVERRIDE_ENDED)
    _warn_if_at_risk(member, row, live, engine, today)
    return row


def kept_metrics(engine: TierEngine, member_id: int, today: int, review_on: int) -> Any:
    """What will still count at the review on `review_on` of what the member has done by `today`
    (a rolling window drops the old purchases by then)."""
    window = window_on(engine, member_id, today)
    window.advance(engine.window_start(review_on - 1))
    return window.metrics()


def _warn_if_at_risk(member: Member, row: MemberTier, live: LiveModel, engine: TierEngine, today: int) -> None:
    review_on = row.review_on
    if review_on is None or row.at_risk_for == review_on or override_active(row):
        return
    days_left = review_on.toordinal() - today
    if days_left > live.config.at_risk_days or days_left < 0:
        return
    state = state_of(row, live.config)
    metrics = kept_metrics(engine, member.pk, today, review_on.toordinal())
    if not engine.would_move_down(state, metrics):
        return
    row.at_risk_for = review_on
    row.save(update_fields=["at_risk_for"])
    would_be = engine.review_target(state, engine.qualified(metrics))
    codes = live.config.codes
    add_timeline(member, "tier_at_risk", tier=codes[state.level], would_be=codes[would_be], review_on=review_on)
    publish(events.TierAtRisk(member.pk, codes[state.level], codes[would_be], review_on, days_left))


# --------------------------------------------------------------------------- overrides


def _check_override(config: TierModelConfig, tier_code: str, until: dt.datetime, reason: str) -> str:
    if tier_code not in config.codes:
        raise ValidationFailed(
            _("There is no tier %(t)s in the live model.") % {"t": tier_code},
            code=ErrorCode.UNKNOWN_TIER,
            fields={"tier": _("unknown")},
        )
    if until.tzinfo is None or until <= clock.now():
        raise ValidationFailed(
            _("An override ends at a time in the future."),
            code=ErrorCode.INVALID_OVERRIDE,
            fields={"until": _("must be in the future")},
        )
    if until > clock.now() + dt.timedelta(days=5 * 366):
        raise ValidationFailed(
            _("An override lasts at most five years."), code=ErrorCode.INVALID_OVERRIDE, fields={"until": _("too late")}
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code=ErrorCode.INVALID_OVERRIDE, fields={"reason": _("required")})
    return reason[:200]


def _require_live() -> LiveModel:
    live = live_model()
    if live is None:
        raise ValidationFailed(_("No tier model is live yet."), code=ErrorCode.NO_LIVE_MODEL)
    return live


@transaction.atomic
def do_set_override(*, member: Member, tier_code: str, until: dt.datetime, reason: str) -> MemberTier:
    """Show `tier_code` for this member until `until`, whatever the rules say. When it ends the
    member is re-evaluated: an override is never a permanent floor."""
    live = _require_live()
    reason = _check_override(live.config, tier_code, until, reason)
    member = lock_member(member.pk)
    row = _locked_row(member.pk, live)
    _bring_up_to_date(member, row, live, _engine(live, member), local_day(clock.now()))
    before = effective_code(row, live.config)
    row.override_code, row.override_until = tier_code, until.astimezone(dt.UTC)
    row.override_reason, row.override_by = reason, current_actor().label[:150]
    row.save()
    _record(
        member,
        live,
        before,
        tier_code,
        ChangeReason.MANUAL,
        effective_on=clock.local_today(),
        detail={"until": row.override_until.isoformat(), "reason": reason},
    )
    record_audit(
        "tiers.override_set",
        obj=member,
        before={"tier": before},
        after={"tier": tier_code, "until": row.override_until.isoformat()},
        reason=reason,
    )
    return row


@transaction.atomic
def do_end_override(*, member: Member, reason: str) -> MemberTier:
    live = _require_live()
    if not (reason or "").strip():
        raise ValidationFailed(_("Give a reason."), code=ErrorCode.INVALID_OVERRIDE, fields={"reason": _("required")})
    member = lock_member(member.pk)
    row = MemberTier.objects.select_for_update().filter(member_id=member.pk).first()
    if row is None or not override_active(row):
        raise ValidationFailed(_("This member has no tier override."), code=ErrorCode.NO_OVERRIDE)
    engine = _engine(live, member)
    _end_override(member, row, live, engine, local_day(clock.now()), reason=ChangeReason.OVERRIDE_ENDED)
    record_audit("tiers.override_end", obj=member, after={"tier": row.tier_code}, reason=reason.strip()[:200])
    return row


def _end_override(
    member: Member, row: MemberTier, live: LiveModel, engine: TierEngine, today: int, *, reason: str
) -> None:
    """Drop the override and re-evaluate: the member lands where the rules (now) put them."""
    shown = row.override_code
    row.override_code, row.override_until, row.override_reason, row.override_by = "", None, "", ""
    state = state_of(row, live.config)
    outcome = _catch_up(engine, member, state, today)
    upgrade = engine.after_sale(outcome.state, today, window_on(engine, member.pk, today).metrics()) or outcome
    _write_state(row, upgrade.state, live.config, live.id)
    row.save()
    _record(member, live, shown, row.tier_code, reason, effective_on=date_of(today))


# --------------------------------------------------------------------------- the daily job


def members_due(today: dt.date, now: dt.datetime, at_risk_days: int) -> list[int]:
    """Members with a review or grace end due, an override that ended, or a review close enough to
    warn about."""
    warn_until = today + dt.timedelta(days=at_risk_days)
    due = (
        Q(review_on__lte=today)
        | Q(grace_until__lte=today)
        | Q(override_until__lte=now)
        | (Q(review_on__lte=warn_until) & (Q(at_risk_for__isnull=True) | ~Q(at_risk_for=F("review_on"))))
    )
    return list(
        MemberTier.objects.filter(due, member__status__in=LIVE_STATUSES)
        .order_by("member_id")
        .values_list("member_id", flat=True)
    )


def run_reviews(now: dt.datetime | None = None) -> int:
    """The daily job: every member with something due, each in its own transaction."""
    live = live_model()
    if live is None:
        return 0
    now = now or clock.now()
    today = now.astimezone(clock.member_zone()).date()
    done = 0
    for member_id in members_due(today, now, live.config.at_risk_days):
        evaluate_member(member_id, now=now)
        done += 1
    return done


# --------------------------------------------------------------------------- going live: re-evaluate everyone


def replay_start(config: TierModelConfig, today: int) -> int:
    """How far back a re-evaluation replays so every window and the last review before today are
    judged on full data: the previous calendar year, a rolling window plus one review period, or
    everything for a since-joining window."""
    from patron.tiers.engine import _year_start, add_months

    kind = config.window.kind
    if kind == "calendar_year":
        return _year_start(_year_start(today) - 1)
    if kind == "rolling":
        return add_months(today, -((config.window.months or 12) + config.review.period_months))
    return 1


def reevaluate_members(
    model_id: int, *, chunk: int = 1000, now: dt.datetime | None = None, backfill: bool = False
) -> int:
    """Put every member where the live model would have them had it been live all along (a replay
    of their transactions, as the simulator does), chunk by chunk of member ids, each chunk under
    its members' row locks so a sale at the same moment waits. Moves are recorded as one `go_live`
    change per member; with `backfill` (a program's first model, or the demo) the replayed moves
    are recorded instead, each on its own day with its own reason. Returns how many members' shown
    tier changed."""
    from patron.tiers.replay import events_by_member, join_days, member_id_chunks, replay_member

    live = live_model()
    if live is None or live.id != model_id:
        return 0  # another model went live since: its own job does the work
    now = now or clock.now()
    today = local_day(now)
    start = start_of_day(replay_start(live.config, today))
    until = start_of_day(today + 1)  # all of today, a sale at this very moment included
    changed = 0
    for low, high in member_id_chunks(chunk):
        with transaction.atomic():
            ids = list(
                Member.objects.select_for_update()
                .filter(pk__gte=low, pk__lt=high, status__in=LIVE_STATUSES)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            if not ids:
                continue
            joined = join_days(low, high)
            states: dict[int, TierState] = {}
            replayed: dict[int, list[Move]] = {}
            engine = TierEngine(live.config)
            for member_id, member_events in events_by_member(low, high, start, until, with_points=engine.counts_points):
                if member_id in joined:
                    run = replay_member(engine.for_member(joined[member_id]), member_id, member_events, today)
                    states[member_id] = run.state
                    replayed[member_id] = run.moves
            changed += _store_reevaluation(live, ids, states, today, record=not backfill)
            if backfill:
                _backfill_history(live, replayed)
    return changed


def _backfill_history(live: LiveModel, replayed: dict[int, list[Move]]) -> None:
    """The moves the replay made, dated as they were (instead of one `go_live` row each)."""

    codes, who = live.config.codes, current_actor().label[:150]
    TierChange.objects.bulk_create(
        TierChange(
            member_id=member_id,
            model_id=live.id,
            from_code=codes[move.before],
            to_code=codes[move.after],
            reason=move.reason,
            at=start_of_day(move.day) + dt.timedelta(hours=10),
            effective_on=date_of(move.day),
            actor_label=who,
            detail={"backfilled": True},
        )
        for member_id, moves in replayed.items()
        for move in moves
    )


def _store_reevaluation(
    live: LiveModel, ids: list[int], states: dict[int, TierState], today: int, *, record: bool = True
) -> int:
    from patron.members.services import add_timeline_rows

    rows = {row.member_id: row for row in MemberTier.objects.filter(member_id__in=ids)}
    to_create, to_update, changes = [], [], []
    lowest = TierState()
    for member_id in ids:
        state = states.get(member_id, lowest)
        row = rows.get(member_id)
        if row is None and state == lowest:
            continue
        # As shown before, in the old model's own code (which the new model may not have).
        before = (
            live.config.tiers[0].code if row is None else (row.override_code if override_active(row) else row.tier_code)
        )
        if row is None:
            row = MemberTier(member_id=member_id)
            to_create.append(row)
        else:
            to_update.append(row)
        if row.override_code and row.override_code not in live.config.codes:
            row.override_code, row.override_until, row.override_reason, row.override_by = "", None, "", ""
        _write_state(row, state, live.config, live.id)
        row.at_risk_for = None
        after = effective_code(row, live.config)
        if after != before:
            changes.append((member_id, before, after))
    MemberTier.objects.bulk_create(to_create)
    MemberTier.objects.bulk_update(
        to_update,
        [
            "model",
            "tier_code",
            "level",
            "since",
            "review_on",
            "grace_until",
            "floor",
            "upgraded_from",
            "at_risk_for",
            "override_code",
            "override_until",
            "override_reason",
            "override_by",
            "updated_at",
        ],
    )
    if not record:
        return len(changes)
    now, who = clock.now(), current_actor().label[:150]
    TierChange.objects.bulk_create(
        TierChange(
            member_id=member_id,
            model_id=live.id,
            from_code=before,
            to_code=after,
            reason=ChangeReason.GO_LIVE,
            at=now,
            effective_on=date_of(today),
            actor_label=who,
        )
        for member_id, before, after in changes
    )
    add_timeline_rows(
        "tier_changed",
        (
            (member_id, {"before": before, "after": after, "reason": ChangeReason.GO_LIVE})
            for member_id, before, after in changes
        ),
    )
    return len(changes)


# --------------------------------------------------------------------------- simulations

MAX_SIMULATION_DAYS = 3 * 366


def _check_period(first: dt.date, last: dt.date, what: str) -> None:
    if last < first:
        raise ValidationFailed(
            _("The %(what)s ends before it starts.") % {"what": what},
            code=ErrorCode.INVALID_SIMULATION,
            fields={what: _("ends before it starts")},
        )
    if (last - first).days + 1 > MAX_SIMULATION_DAYS:
        raise ValidationFailed(
            _("A simulated period is at most three years."),
            code=ErrorCode.INVALID_SIMULATION,
            fields={what: _("too long")},
        )
    if last >= clock.local_today():
        raise ValidationFailed(
            _("A simulation replays the past: the period must end before today."),
            code=ErrorCode.INVALID_SIMULATION,
            fields={what: _("not over yet")},
        )


@transaction.atomic
def do_start_simulation(
    *,
    model: TierModel,
    first: dt.date,
    last: dt.date,
    baseline: str = "live",
    backtest: tuple[dt.date, dt.date] | None = None,
    name: str = "",
) -> Simulation:
    """Queue a replay of `model` over [first, last] (see `tiers.simulator`). `baseline`: live (the
    live model over the same period), previous (this model over the period before) or none."""
    check_model_config(model.config)
    if baseline not in ("live", "previous", "none"):
        raise ValidationFailed(
            _("Unknown baseline."), code=ErrorCode.INVALID_SIMULATION, fields={"baseline": _("unknown")}
        )
    _check_period(first, last, "period")
    if backtest is not None:
        _check_period(backtest[0], backtest[1], "backtest")
        if backtest[0] <= last:
            raise ValidationFailed(
                _("The backtest period starts after the calibration period."),
                code=ErrorCode.INVALID_SIMULATION,
                fields={"backtest": _("must come after")},
            )
    live = TierModel.objects.filter(status=ModelStatus.LIVE).first()
    params: dict[str, Any] = {"first": first.isoformat(), "last": last.isoformat(), "baseline": baseline}
    if backtest is not None:
        params["backtest"] = [backtest[0].isoformat(), backtest[1].isoformat()]
    simulation = Simulation.objects.create(
        name=(name or model.name)[:100],
        model=model,
        baseline=live if baseline == "live" else None,
        params=params,
        created_at=clock.now(),
        created_by=current_actor().label[:150],
    )
    record_audit("tiers.simulation_start", obj=simulation, after=params)
    simulation_id = simulation.pk
    on_commit(lambda: _enqueue_simulation(simulation_id))
    return simulation


def _enqueue_simulation(simulation_id: int) -> None:
    from patron.tiers import tasks

    tasks.run_simulation.enqueue(simulation_id)


def run_simulation(simulation_id: int) -> Simulation:
    """Run a queued simulation (the background task). Progress is saved as it goes; a failure is
    saved with its message rather than lost."""
    from patron.tiers.simulator import Period, Simulator

    updated = Simulation.objects.filter(pk=simulation_id, status=SimulationStatus.QUEUED).update(
        status=SimulationStatus.RUNNING, progress=0
    )
    simulation = Simulation.objects.select_related("model", "baseline").get(pk=simulation_id)
    if not updated:  # already run (a retried task): nothing to do twice
        return simulation
    params = simulation.params
    try:
        backtest = params.get("backtest")
        simulator = Simulator(
            simulation.model.parsed(),
            Period(dt.date.fromisoformat(params["first"]), dt.date.fromisoformat(params["last"])),
            baseline=simulation.baseline.parsed() if simulation.baseline else None,
            baseline_kind=params.get("baseline", "live"),
            backtest=Period(dt.date.fromisoformat(backtest[0]), dt.date.fromisoformat(backtest[1]))
            if backtest
            else None,
        )

        def save_progress(percent: int) -> None:
            Simulation.objects.filter(pk=simulation_id).update(progress=percent)

        result = simulator.run(progress=save_progress, workers=settings.PATRON["SIMULATION_WORKERS"])
    except Exception as exc:  # saved on the row for the person who started it, and logged
        log.exception("tier simulation %s failed", simulation_id)
        Simulation.objects.filter(pk=simulation_id).update(
            status=SimulationStatus.FAILED, message=str(exc)[:2000], finished_at=clock.now()
        )
        simulation.refresh_from_db()
        return simulation
    Simulation.objects.filter(pk=simulation_id).update(
        status=SimulationStatus.DONE,
        progress=100,
        result=result,
        seconds=result["summary"]["seconds"],
        finished_at=clock.now(),
    )
    simulation.refresh_from_db()
    return simulation
