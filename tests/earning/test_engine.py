"""The rule engine as a pure function: every condition, rounding rule, combination and cap, by table."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from patron.earning.engine import (
    Award,
    Basket,
    BasketLine,
    MemberFacts,
    Quote,
    Usage,
    evaluate,
    period_keys,
)
from patron.earning.rules import Rule, RuleConfig

UTC = dt.UTC
WED_NOON = dt.datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # Wednesday 12:00 in Shanghai
SAT_NOON = dt.datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # Saturday 12:00 in Shanghai


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return dt.datetime(y, mo, d, h, mi, tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(UTC)


def rule(rule_id: int = 1, **config: Any) -> Rule:
    config.setdefault("kind", "base")
    if config["kind"] == "base":
        config.setdefault("rate", "1")
    return Rule(rule_id, f"rule {rule_id}", RuleConfig.model_validate(config))


def line(category: str = "", amount: str = "0", sku: str = "sku") -> BasketLine:
    return BasketLine(sku=sku, category=category, quantity=Decimal(1), amount=Decimal(amount))


def basket(
    amount: str = "100.00",
    at: dt.datetime = WED_NOON,
    store: str = "SH001",
    channel: str = "store",
    lines: tuple[BasketLine, ...] = (),
) -> Basket:
    return Basket(store_code=store, channel=channel, at=at, amount=Decimal(amount), currency="CNY", lines=lines)


def points(quote: Quote) -> dict[int, int]:
    return {a.rule_id: a.points for a in quote.awards}


FOOD_TOYS = (line("food", "60.00", "apple"), line("toys", "40.00", "robot"))


# --------------------------------------------------------------------------- conditions

CONDITIONS = [
    # (case, conditions, basket, facts, points of a 1-per-¥1 base rule on ¥100)
    ("store listed", {"stores": ["SH001", "BJ001"]}, basket(), None, 100),
    ("store not listed", {"stores": ["BJ001"]}, basket(), None, 0),
    ("channel listed", {"channels": ["online"]}, basket(channel="online"), None, 100),
    ("channel not listed", {"channels": ["online"]}, basket(), None, 0),
    ("category lines only", {"categories": ["food"]}, basket(lines=FOOD_TOYS), None, 60),
    ("no line in the category", {"categories": ["books"]}, basket(lines=FOOD_TOYS), None, 0),
    ("sku lines only", {"skus": ["robot"]}, basket(lines=FOOD_TOYS), None, 40),
    ("category or sku", {"categories": ["food"], "skus": ["robot"]}, basket(lines=FOOD_TOYS), None, 100),
    ("a basket without lines has no category", {"categories": ["food"]}, basket(), None, 0),
    ("weekend on Saturday", {"days_of_week": [6, 7]}, basket(at=SAT_NOON), None, 100),
    ("weekend on Wednesday", {"days_of_week": [6, 7]}, basket(), None, 0),
    # Saturday 00:30 in Shanghai is still Friday in UTC
    ("weekday is local", {"days_of_week": [6]}, basket(at=local(2026, 11, 28, 0, 30)), None, 100),
    ("in the date range", {"date_range": {"start": "2026-11-25", "end": "2026-11-25"}}, basket(), None, 100),
    ("before the date range", {"date_range": {"start": "2026-11-26"}}, basket(), None, 0),
    ("after the date range", {"date_range": {"end": "2026-11-24"}}, basket(), None, 0),
    # 2026-11-25 23:30 in Shanghai is 15:30 UTC the same day; 00:30 on the 26th is 16:30 UTC on the 25th
    ("date range is local", {"date_range": {"start": "2026-11-26"}}, basket(at=local(2026, 11, 26, 0, 30)), None, 100),
    (
        "in the evening window",
        {"time_window": {"start": "18:00", "end": "22:00"}},
        basket(at=local(2026, 11, 25, 19)),
        None,
        100,
    ),
    (
        "window start is inclusive",
        {"time_window": {"start": "18:00", "end": "22:00"}},
        basket(at=local(2026, 11, 25, 18)),
        None,
        100,
    ),
    (
        "window end is exclusive",
        {"time_window": {"start": "18:00", "end": "22:00"}},
        basket(at=local(2026, 11, 25, 22)),
        None,
        0,
    ),
    (
        "before the window",
        {"time_window": {"start": "18:00", "end": "22:00"}},
        basket(at=local(2026, 11, 25, 17, 59)),
        None,
        0,
    ),
    (
        "window crossing midnight, late",
        {"time_window": {"start": "22:00", "end": "02:00"}},
        basket(at=local(2026, 11, 25, 23, 30)),
        None,
        100,
    ),
    (
        "window crossing midnight, early",
        {"time_window": {"start": "22:00", "end": "02:00"}},
        basket(at=local(2026, 11, 26, 1, 30)),
        None,
        100,
    ),
    (
        "window crossing midnight, ended",
        {"time_window": {"start": "22:00", "end": "02:00"}},
        basket(at=local(2026, 11, 26, 2, 0)),
        None,
        0,
    ),
    ("window crossing midnight, noon", {"time_window": {"start": "22:00", "end": "02:00"}}, basket(), None, 0),
    (
        "member has one of the tags",
        {"member_tags": ["vip", "staff"]},
        basket(),
        MemberFacts(1, frozenset({"vip"})),
        100,
    ),
    ("member has none of the tags", {"member_tags": ["vip"]}, basket(), MemberFacts(1, frozenset({"new"})), 0),
    ("anonymous shopper has no tags", {"member_tags": ["vip"]}, basket(), None, 0),
    (
        "attribute equals",
        {"member_attributes": {"car_owner": True}},
        basket(),
        MemberFacts(1, attributes={"car_owner": True}),
        100,
    ),
    (
        "attribute differs",
        {"member_attributes": {"car_owner": True}},
        basket(),
        MemberFacts(1, attributes={"car_owner": False}),
        0,
    ),
    ("attribute missing", {"member_attributes": {"car_owner": True}}, basket(), MemberFacts(1), 0),
    ("true is not 1", {"member_attributes": {"kids": 1}}, basket(), MemberFacts(1, attributes={"kids": True}), 0),
    (
        "decimal attribute",
        {"member_attributes": {"score": "2.5"}},
        basket(),
        MemberFacts(1, attributes={"score": "2.50"}),
        100,
    ),
    (
        "all attributes must match",
        {"member_attributes": {"city": "上海", "kids": 2}},
        basket(),
        MemberFacts(1, attributes={"city": "上海", "kids": 1}),
        0,
    ),
    ("tier listed", {"tiers": ["gold", "diamond"]}, basket(), MemberFacts(1, tier="gold"), 100),
    ("tier not listed", {"tiers": ["gold"]}, basket(), MemberFacts(1, tier="silver"), 0),
    ("no tier yet", {"tiers": ["gold"]}, basket(), MemberFacts(1, tier=None), 0),
    ("minimum spend met", {"min_spend": "100.00"}, basket(), None, 100),
    ("minimum spend missed", {"min_spend": "100.01"}, basket(), None, 0),
    (
        "minimum spend counts eligible lines",
        {"categories": ["food"], "min_spend": "61"},
        basket(lines=FOOD_TOYS),
        None,
        0,
    ),
    (
        "all conditions together",
        {"stores": ["SH001"], "days_of_week": [6], "min_spend": "50"},
        basket(at=SAT_NOON),
        None,
        100,
    ),
    (
        "one condition fails them all",
        {"stores": ["SH001"], "days_of_week": [6], "min_spend": "500"},
        basket(at=SAT_NOON),
        None,
        0,
    ),
]


@pytest.mark.parametrize(
    ("conditions", "the_basket", "facts", "expected"), [c[1:] for c in CONDITIONS], ids=[c[0] for c in CONDITIONS]
)
def test_conditions(conditions, the_basket, facts, expected):
    quote = evaluate([rule(conditions=conditions)], the_basket, facts or MemberFacts())
    assert quote.total == expected


# --------------------------------------------------------------------------- rounding

ROUNDING = [
    # (rate, amount, floor, half up, ceil)
    ("1", "88.80", 88, 89, 89),
    ("1", "10.00", 10, 10, 10),
    ("0.5", "3.00", 1, 2, 2),
    ("0.5", "2.98", 1, 1, 2),
    ("1.5", "33.33", 49, 50, 50),
    ("10", "0.05", 0, 1, 1),
    ("0.01", "0.01", 0, 0, 1),
]


@pytest.mark.parametrize(("rate", "amount", "floor", "half_up", "ceil"), ROUNDING)
def test_base_rounding(rate, amount, floor, half_up, ceil):
    got = [evaluate([rule(rate=rate, rounding=mode)], basket(amount)).total for mode in ("floor", "half_up", "ceil")]
    assert got == [floor, half_up, ceil]


def test_points_are_integers_and_money_is_never_float():
    quote = evaluate([rule(rate="1.1")], basket("0.10"))
    assert quote.total == 0 and quote.awards == ()
    quote = evaluate([rule(rate="3.3333")], basket("3.00"))
    assert quote.total == 9 and type(quote.total) is int


# --------------------------------------------------------------------------- kinds and combination


def test_base_rule_awards_purchase_points_and_promotions_bonus_points():
    quote = evaluate(
        [rule(1), rule(2, kind="multiplier", factor="2"), rule(3, kind="fixed_bonus", points=50)], basket("88.80")
    )
    assert [(a.rule_id, a.point_type, a.points) for a in quote.awards] == [
        (1, "purchase", 88),
        (2, "bonus", 88),
        (3, "bonus", 50),
    ]
    assert quote.by_type == {"purchase": 88, "bonus": 138}
    assert quote.total == 226


def test_double_points_double_exactly_whatever_the_base_rounding():
    quote = evaluate([rule(1, rounding="half_up"), rule(2, kind="multiplier", factor="2")], basket("88.50"))
    assert points(quote) == {1: 89, 2: 89}


def test_multiplier_multiplies_only_its_lines():
    quote = evaluate(
        [rule(1), rule(2, kind="multiplier", factor="3", conditions={"categories": ["food"]})], basket(lines=FOOD_TOYS)
    )
    assert points(quote) == {1: 100, 2: 120}  # the extra 2× on ¥60 of food


def test_multiplier_of_a_category_base_rule_covers_the_lines_both_select():
    rules = [
        rule(1, conditions={"categories": ["food"]}),
        rule(2, kind="multiplier", factor="2", conditions={"skus": ["apple", "robot"]}),
    ]
    assert points(evaluate(rules, basket(lines=FOOD_TOYS))) == {1: 60, 2: 60}


def test_fractional_multiplier_rounds_its_extra_by_its_own_rule():
    rules = [rule(1), rule(2, kind="multiplier", factor="1.5", rounding="ceil")]
    assert points(evaluate(rules, basket("33.00"))) == {1: 33, 2: 17}


def test_multiplier_without_base_points_gives_nothing_and_says_why():
    quote = evaluate([rule(2, kind="multiplier", factor="2")], basket())
    assert quote.total == 0
    assert quote.notes == ("rule 2: no base points to multiply.",)


def test_multiplier_uses_base_points_before_the_base_caps():
    rules = [rule(1, caps={"per_transaction": 30}), rule(2, kind="multiplier", factor="2")]
    assert points(evaluate(rules, basket())) == {1: 30, 2: 100}


def test_fixed_bonus_with_line_conditions_needs_a_matching_line():
    bonus = rule(3, kind="fixed_bonus", points=20, conditions={"categories": ["food"]})
    assert evaluate([bonus], basket(lines=FOOD_TOYS)).total == 20
    assert evaluate([bonus], basket(lines=(line("toys", "100"),))).total == 0


def test_stack_rules_add_up():
    assert evaluate([rule(1), rule(2, rate="2")], basket()).total == 300


def test_best_of_keeps_the_rule_that_gives_most():
    retail = rule(1, combine="best_of", group="base")
    dinner = rule(
        2, rate="10", combine="best_of", group="base", conditions={"time_window": {"start": "17:00", "end": "22:00"}}
    )
    at_dinner = evaluate([retail, dinner], basket(at=local(2026, 11, 25, 19)))
    assert points(at_dinner) == {2: 1000}
    assert at_dinner.notes == ("rule 1: rule 2 gives more in group base.",)
    assert points(evaluate([retail, dinner], basket())) == {1: 100}


def test_best_of_tie_goes_to_the_higher_priority_then_the_lower_id():
    a = rule(1, combine="best_of", group="g", priority=10)
    b = rule(2, combine="best_of", group="g", priority=20)
    c = rule(3, combine="best_of", group="g", priority=20)
    assert points(evaluate([a, b, c], basket())) == {2: 100}
    assert points(evaluate([a, c], basket())) == {3: 100}


def test_best_of_compares_points_after_caps():
    big = rule(1, rate="10", combine="best_of", group="g", caps={"per_transaction": 150})
    small = rule(2, rate="2", combine="best_of", group="g")
    assert points(evaluate([big, small], basket())) == {2: 200}


def test_best_of_groups_are_separate_and_stack_with_each_other():
    rules = [
        rule(1, combine="best_of", group="base"),
        rule(2, kind="multiplier", factor="2", combine="best_of", group="promo"),
        rule(3, kind="fixed_bonus", points=150, combine="best_of", group="promo"),
        rule(4, kind="fixed_bonus", points=5),
    ]
    assert points(evaluate(rules, basket())) == {1: 100, 3: 150, 4: 5}


def test_a_multiplier_does_not_multiply_a_base_rule_that_lost_its_group():
    rules = [
        rule(1, combine="best_of", group="base"),
        rule(2, rate="3", combine="best_of", group="base", conditions={"categories": ["toys"]}),
        rule(3, kind="multiplier", factor="2"),
    ]
    # food 60 + toys 40: rule 1 gives 100, rule 2 gives 120 and wins; the multiplier doubles rule 2 only
    assert points(evaluate(rules, basket(lines=FOOD_TOYS))) == {2: 120, 3: 120}


def test_awards_come_in_priority_order_then_id():
    rules = [rule(5, priority=1), rule(3, priority=50), rule(4, priority=50), rule(1, priority=10)]
    assert [a.rule_id for a in evaluate(rules, basket()).awards] == [3, 4, 1, 5]


# --------------------------------------------------------------------------- caps and budget

CAPS = [
    # (case, rule config, usage, points, note)
    ("per transaction", {"caps": {"per_transaction": 30}}, Usage(), 30, "capped at 30 per transaction"),
    ("per day, unused", {"caps": {"per_member_day": 50}}, Usage(), 50, "capped at 50 per day"),
    ("per day, partly used", {"caps": {"per_member_day": 50}}, Usage(day={1: 45}), 5, "capped at 5 per day"),
    ("per day, used up", {"caps": {"per_member_day": 50}}, Usage(day={1: 50}), 0, None),
    ("per day, overused", {"caps": {"per_member_day": 50}}, Usage(day={1: 70}), 0, None),
    ("per day, other rule's usage", {"caps": {"per_member_day": 50}}, Usage(day={2: 50}), 50, "capped at 50 per day"),
    (
        "per month, partly used",
        {"caps": {"per_member_month": 300}},
        Usage(month={1: 260}),
        40,
        "capped at 40 per month",
    ),
    ("per month, room left", {"caps": {"per_member_month": 300}}, Usage(month={1: 100}), 100, ""),
    (
        "day and month: the tighter",
        {"caps": {"per_member_day": 80, "per_member_month": 300}},
        Usage(day={1: 10}, month={1: 280}),
        20,
        "capped at 20 per month",
    ),
    ("budget, room left", {"budget": 1000}, Usage(budget={1: 500}), 100, ""),
    ("budget, what is left", {"budget": 1000}, Usage(budget={1: 930}), 70, "campaign budget: 70 left"),
    ("budget, spent", {"budget": 1000}, Usage(budget={1: 1000}), 0, None),
    (
        "all caps",
        {"caps": {"per_transaction": 90, "per_member_day": 100, "per_member_month": 1000}, "budget": 10000},
        Usage(day={1: 20}, month={1: 0}, budget={1: 9990}),
        10,
        "campaign budget: 10 left",
    ),
]


@pytest.mark.parametrize(("config", "usage", "expected", "note"), [c[1:] for c in CAPS], ids=[c[0] for c in CAPS])
def test_caps(config, usage, expected, note):
    quote = evaluate([rule(1, **config)], basket(), MemberFacts(7), usage)
    assert quote.total == expected
    if expected:
        assert quote.awards[0].note == note
    else:
        assert quote.awards == ()
        assert len(quote.notes) == 1 and quote.notes[0].startswith("rule 1: ")


def test_caps_apply_to_fixed_bonuses_and_multipliers_too():
    rules = [
        rule(1),
        rule(2, kind="multiplier", factor="3", caps={"per_transaction": 50}),
        rule(3, kind="fixed_bonus", points=200, caps={"per_member_day": 200}),
    ]
    assert points(evaluate(rules, basket(), MemberFacts(7), Usage(day={3: 150}))) == {1: 100, 2: 50, 3: 50}


# --------------------------------------------------------------------------- schedule and enabled


@pytest.mark.parametrize(
    ("config", "at", "expected"),
    [
        ({"starts_at": "2026-11-25T04:00:00Z"}, WED_NOON, 100),
        ({"starts_at": "2026-11-25T04:00:01Z"}, WED_NOON, 0),
        ({"ends_at": "2026-11-25T04:00:00Z"}, WED_NOON, 0),
        ({"ends_at": "2026-11-25T04:00:01Z"}, WED_NOON, 100),
        ({"starts_at": "2026-11-01T00:00:00+08:00", "ends_at": "2026-12-01T00:00:00+08:00"}, WED_NOON, 100),
        ({"enabled": False}, WED_NOON, 0),
    ],
)
def test_schedule_and_enabled(config, at, expected):
    assert evaluate([rule(**config)], basket(at=at)).total == expected


# --------------------------------------------------------------------------- baskets


def test_a_basket_without_lines_counts_its_whole_amount_as_one_uncategorized_line():
    rules = [rule(1), rule(2, kind="fixed_bonus", points=10, conditions={"categories": ["food"]})]
    assert points(evaluate(rules, basket("42.00"))) == {1: 42}


def test_lines_count_as_paid_never_above_the_basket_nor_below_zero():
    discounted = (line("food", "150.00"), line("food", "-20.00"))
    assert evaluate([rule(conditions={"categories": ["food"]})], basket("100.00", lines=discounted)).total == 100
    refunded = (line("food", "-5.00"),)
    assert evaluate([rule(conditions={"categories": ["food"]})], basket("10.00", lines=refunded)).total == 0


def test_without_line_conditions_the_paid_amount_counts_not_the_lines():
    assert evaluate([rule()], basket("90.00", lines=FOOD_TOYS)).total == 90


def test_no_rules_no_points():
    assert evaluate([], basket()) == Quote()


def test_a_naive_basket_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        evaluate([rule()], basket(at=dt.datetime(2026, 1, 1, 12)))


def test_quote_by_type_and_detail_shape():
    quote = Quote.of([Award(1, "a", "purchase", 5), Award(2, "b", "bonus", 0), Award(3, "c", "bonus", 7)])
    assert quote.total == 12 and quote.by_type == {"purchase": 5, "bonus": 7}
    assert [a.rule_id for a in quote.awards] == [1, 3]
    assert quote.awards[0].as_detail() == {"id": 1, "name": "a", "points": 5, "type": "purchase"}


@pytest.mark.parametrize(
    ("at", "keys"),
    [
        (dt.datetime(2026, 11, 25, 15, 59, tzinfo=UTC), ("d:2026-11-25", "m:2026-11")),
        (dt.datetime(2026, 11, 25, 16, 0, tzinfo=UTC), ("d:2026-11-26", "m:2026-11")),
        (dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC), ("d:2026-12-01", "m:2026-12")),
    ],
)
def test_cap_periods_are_local_days_and_months(at, keys):
    assert period_keys(at) == keys
