"""The tier engine on hand-made histories: thresholds, windows, reviews, grace, refunds, lifetime."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from patron.tiers.config import TierModelConfig
from patron.tiers.engine import QualifyingWindow, TierEngine, add_months, date_of
from patron.tiers.replay import REFUND, SALE, replay_member
from tests.tiers.models import ladder, parsed

_ids = itertools.count(1)


def day(text: str) -> int:
    return dt.date.fromisoformat(text).toordinal()


def sale(on: str, yuan: str, points: int = 0) -> tuple:
    return (day(on), SALE, next(_ids), int(float(yuan) * 100), points, 0)


def refund(on: str, of: tuple, yuan: str, points: int = 0) -> tuple:
    return (day(on), REFUND, next(_ids), int(float(yuan) * 100), points, of[2])


def run(config: TierModelConfig, events: list[tuple], until: str, joined: str = "2020-01-01"):
    engine = TierEngine(config).for_member(day(joined))
    result = replay_member(engine, 1, sorted(events, key=lambda e: (e[0], e[2])), day(until))
    codes = config.codes
    moves = [(date_of(m.day).isoformat(), codes[m.before], codes[m.after], m.reason) for m in result.moves]
    return codes[result.state.level], moves, result.state


# --------------------------------------------------------------------------- thresholds


def test_upgrade_happens_on_the_sale_that_reaches_the_threshold_exactly():
    tier, moves, _state = run(parsed(), [sale("2025-03-01", "600"), sale("2025-03-02", "400")], "2025-06-30")
    assert tier == "silver"
    assert moves == [("2025-03-02", "base", "silver", "rule")]


def test_one_cent_below_the_threshold_does_not_qualify():
    tier, moves, _state = run(parsed(), [sale("2025-03-01", "600"), sale("2025-03-02", "399.99")], "2025-06-30")
    assert (tier, moves) == ("base", [])


def test_an_upgrade_skips_levels_straight_to_the_qualified_tier():
    tier, moves, _state = run(parsed(), [sale("2025-05-05", "20000")], "2025-06-30")
    assert tier == "diamond"
    assert moves == [("2025-05-05", "base", "diamond", "rule")]


def test_purchase_days_count_distinct_local_days_not_sales():
    same_day = [sale("2025-04-01", "10") for _ in range(6)]
    assert run(parsed(), same_day, "2025-06-30")[0] == "base"
    five_days = [sale(f"2025-04-0{d}", "10") for d in range(1, 6)]
    assert run(parsed(), five_days, "2025-06-30")[0] == "silver"


def test_all_of_needs_every_threshold():
    config = ladder()
    config["tiers"][1]["qualify"] = {"combine": "all", "spend": "1000", "purchase_days": 3}
    big_once = [sale("2025-04-01", "3000")]
    assert run(TierModelConfig.model_validate(config), big_once, "2025-06-30")[0] == "base"
    three_days = [sale("2025-04-01", "500"), sale("2025-04-02", "300"), sale("2025-04-03", "200")]
    assert run(TierModelConfig.model_validate(config), three_days, "2025-06-30")[0] == "silver"


def test_qualifying_points_are_points_earned_not_the_balance():
    config = ladder()
    config["tiers"][1]["qualify"] = {"points": 1000}
    earned = [sale("2025-04-01", "10", points=600), sale("2025-04-02", "10", points=400)]
    tier, _moves, _state = run(TierModelConfig.model_validate(config), earned, "2025-06-30")
    assert tier == "silver"


# --------------------------------------------------------------------------- reviews


def test_calendar_year_review_on_1_january_moves_down_one_level():
    events = [sale("2025-02-01", "25000"), sale("2026-03-01", "100")]
    tier, moves, _state = run(parsed(), events, "2027-01-01")
    assert moves == [
        ("2025-02-01", "base", "diamond", "rule"),
        ("2027-01-01", "diamond", "gold", "review"),
    ]
    assert tier == "gold"


def test_a_review_keeps_the_tier_of_a_member_who_requalified_in_the_year():
    events = [sale("2025-02-01", "6000"), sale("2026-11-30", "5000")]
    tier, moves, _state = run(parsed(), events, "2027-01-01")
    assert tier == "gold"
    assert moves == [("2025-02-01", "base", "gold", "rule")]


def test_downgrade_to_qualified_goes_straight_down():
    events = [sale("2025-02-01", "25000"), sale("2026-03-01", "100")]
    tier, moves, _state = run(parsed(downgrade="to_qualified"), events, "2027-01-01")
    assert tier == "base"
    assert moves[-1] == ("2027-01-01", "diamond", "base", "review")


def test_a_review_due_while_nothing_happens_is_still_done():
    tier, _moves, _state = run(parsed(), [sale("2025-02-01", "6000")], "2026-01-01")
    assert tier == "gold"  # 2025 counted at the review on 2026-01-01
    tier, _moves, _state = run(parsed(), [sale("2025-02-01", "6000")], "2027-01-01")
    assert tier == "silver"  # 2026 had nothing: one level down


def test_anniversary_review_is_a_year_after_the_tier_started():
    config = parsed(window={"kind": "rolling", "months": 12}, review={"kind": "anniversary"})
    tier, moves, state = run(config, [sale("2025-05-20", "6000")], "2026-05-19")
    assert tier == "gold" and date_of(state.review_on).isoformat() == "2026-05-20"
    # The review judges the 12 months to the day before: 2025-05-20 .. 2026-05-19, so it keeps gold.
    tier, moves, state = run(config, [sale("2025-05-20", "6000")], "2026-05-20")
    assert tier == "gold" and date_of(state.review_on).isoformat() == "2027-05-20"
    tier, moves, _state = run(config, [sale("2025-05-20", "6000")], "2027-05-20")
    assert moves[-1] == ("2027-05-20", "gold", "silver", "review")


def test_leap_day_anniversary_falls_on_28_february():
    config = parsed(window={"kind": "rolling", "months": 12}, review={"kind": "anniversary"})
    _tier, _moves, state = run(config, [sale("2028-02-29", "6000")], "2028-03-01")
    assert date_of(state.review_on) == dt.date(2029, 2, 28)
    assert add_months(day("2028-02-29"), 48) == day("2032-02-29")  # from the anchor, not the clamped date


def test_every_n_months_review():
    config = parsed(window={"kind": "rolling", "months": 6}, review={"kind": "every_n_months", "months": 6})
    tier, moves, state = run(config, [sale("2025-01-10", "6000")], "2025-07-10")
    assert tier == "gold"  # judged on 2025-01-10 .. 2025-07-09
    tier, moves, state = run(config, [sale("2025-01-10", "6000")], "2026-01-10")
    assert moves[-1] == ("2026-01-10", "gold", "silver", "review")
    assert date_of(state.review_on) == dt.date(2026, 7, 10)


def test_rolling_window_edges():
    config = parsed(window={"kind": "rolling", "months": 12}, review={"kind": "every_n_months", "months": 1})
    # ¥600 on 2025-03-15 still counts on 2026-03-14 (its last day in the window) and not on 2026-03-15.
    inside = [sale("2025-03-15", "600"), sale("2026-03-14", "400")]
    assert run(config, inside, "2026-03-14")[0] == "silver"
    outside = [sale("2025-03-15", "600"), sale("2026-03-15", "400")]
    assert run(config, outside, "2026-03-15")[0] == "base"


def test_since_joining_window_counts_everything_from_the_join_day():
    config = parsed(window={"kind": "since_joining"}, review={"kind": "anniversary"})
    events = [sale("2021-01-01", "600"), sale("2025-01-01", "400")]
    assert run(config, events, "2025-01-02", joined="2020-06-01")[0] == "silver"


# --------------------------------------------------------------------------- grace and lifetime


def test_grace_period_delays_the_downgrade_and_requalifying_cancels_it():
    config = parsed(window={"kind": "rolling", "months": 12}, review={"kind": "anniversary"}, grace_days=30)
    base = [sale("2025-05-20", "6000")]
    # Kept at the 2026-05-20 review; the 2027-05-20 review finds an empty year and starts the grace.
    tier, moves, state = run(config, base, "2027-06-18")
    assert tier == "gold" and date_of(state.grace_until) == dt.date(2027, 6, 19)
    tier, moves, _state = run(config, base, "2027-06-19")
    assert moves[-1] == ("2027-06-19", "gold", "silver", "grace")
    requalified = [*base, sale("2027-06-01", "5000")]
    tier, moves, state = run(config, requalified, "2027-07-30")
    assert tier == "gold" and state.grace_until is None
    assert [m[3] for m in moves] == ["rule"]


def test_a_lifetime_tier_is_never_lost():
    config = ladder()
    config["tiers"][2]["lifetime"] = True
    events = [sale("2025-02-01", "25000")]
    tier, moves, state = run(TierModelConfig.model_validate(config), events, "2030-01-01")
    assert tier == "gold"  # diamond → gold at the 2027 review, then held by the lifetime floor
    assert [m[2] for m in moves] == ["diamond", "gold"]
    assert state.review_on is None


# --------------------------------------------------------------------------- refunds


def test_a_refund_before_the_review_counts_against_qualification():
    buy = sale("2025-11-01", "6000")
    events = [sale("2024-05-01", "6000"), buy, refund("2025-12-20", buy, "6000")]
    # Gold since 2024; 2025's purchase is refunded before the review, so 2025 does not qualify.
    _tier, moves, _state = run(parsed(refund_reverts_upgrade=False), events, "2026-01-01")
    assert moves[-1] == ("2026-01-01", "gold", "silver", "review")


def test_a_refund_after_the_review_does_not_reopen_it():
    buy = sale("2025-11-01", "6000")
    events = [buy, refund("2026-01-05", buy, "6000")]
    tier, moves, _state = run(parsed(), events, "2026-06-30")
    # Gold on 2025-11-01, kept at the review of 2026-01-01 (2025 qualified), and the 2026 refund of
    # a 2025 purchase no longer touches a window that has moved on.
    assert tier == "gold"
    assert moves == [("2025-11-01", "base", "gold", "rule")]


def test_a_refund_undoes_an_unconfirmed_upgrade():
    first, buy = sale("2025-03-01", "1200"), sale("2025-06-01", "4000")
    events = [first, buy, refund("2025-06-05", buy, "4000")]
    tier, moves, _state = run(parsed(), events, "2025-06-30")
    assert moves == [
        ("2025-03-01", "base", "silver", "rule"),
        ("2025-06-01", "silver", "gold", "rule"),
        ("2025-06-05", "gold", "silver", "refund"),
    ]
    assert tier == "silver"


def test_a_partial_refund_that_keeps_the_threshold_changes_nothing():
    buy = sale("2025-06-01", "5600")
    events = [buy, refund("2025-06-05", buy, "600")]
    assert run(parsed(), events, "2025-06-30")[1] == [("2025-06-01", "base", "gold", "rule")]


def test_refund_reverting_can_be_switched_off():
    buy = sale("2025-06-01", "5000")
    events = [buy, refund("2025-06-05", buy, "5000")]
    assert run(parsed(refund_reverts_upgrade=False), events, "2025-06-30")[0] == "gold"


def test_a_fully_refunded_day_is_no_longer_a_purchase_day():
    window = QualifyingWindow()
    window.add_sale(1, 100, 5000, 0)
    window.add_sale(2, 101, 5000, 0)
    window.refund(1, 5000, 0)
    assert window.metrics().purchase_days == 1
    window.advance(101)
    assert window.metrics().purchase_days == 1 and window.metrics().spend == 5000


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["tiers"][0].update(qualify={"spend": "1"}), "starts at zero"),
        (lambda c: c["tiers"][2]["qualify"].update(spend="900"), "must be above"),
        (lambda c: c["tiers"][3].update(code="gold"), "own code"),
        (lambda c: c.update(review={"kind": "anniversary"}), "1 January"),
        (lambda c: c["tiers"][1].update(qualify={}), "at least one threshold"),
        (lambda c: c.update(window={"kind": "rolling"}), "number of months"),
        (lambda c: c.update(review={"kind": "fixed_date", "month": 2, "day": 29}), "every year"),
    ],
)
def test_model_validation_refuses_inconsistent_ladders(change, message):
    from patron.core.errors import ValidationFailed
    from patron.tiers.config import check_model_config

    config = ladder()
    change(config)
    with pytest.raises(ValidationFailed) as refused:
        check_model_config(config)
    assert message in refused.value.message
