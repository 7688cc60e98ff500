"""Properties of the engine over random rules, baskets, members and usage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from patron.earning.engine import Basket, BasketLine, MemberFacts, Usage, evaluate
from patron.earning.rules import Rule, RuleConfig

CATEGORIES = ["food", "toys", "drinks", ""]
TAGS = ["vip", "staff", "new"]
GROUPS = ["base", "promo", "g"]

money = st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2, allow_nan=False)
small_cap = st.none() | st.integers(min_value=1, max_value=500)


@st.composite
def rule_configs(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["base", "multiplier", "fixed_bonus"]))
    config: dict = {"kind": kind, "rounding": draw(st.sampled_from(["floor", "half_up", "ceil"]))}
    if kind == "base":
        config["rate"] = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("20"), places=2))
    elif kind == "multiplier":
        config["factor"] = draw(st.decimals(min_value=Decimal("1.01"), max_value=Decimal("20"), places=2))
    else:
        config["points"] = draw(st.integers(min_value=1, max_value=1000))
    conditions: dict = {}
    if draw(st.booleans()):
        conditions["categories"] = draw(st.lists(st.sampled_from(CATEGORIES[:3]), min_size=1, max_size=2))
    if draw(st.booleans()):
        conditions["member_tags"] = draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2))
    if draw(st.booleans()):
        conditions["days_of_week"] = draw(st.lists(st.integers(1, 7), min_size=1, max_size=3))
    if draw(st.booleans()):
        conditions["min_spend"] = draw(money)
    config["conditions"] = conditions
    day, month = draw(small_cap), draw(small_cap)
    if day and month and day > month:
        day, month = month, day
    config["caps"] = {"per_transaction": draw(small_cap), "per_member_day": day, "per_member_month": month}
    config["budget"] = draw(st.none() | st.integers(min_value=1, max_value=2000))
    if draw(st.booleans()):
        config["combine"], config["group"] = "best_of", draw(st.sampled_from(GROUPS))
    config["priority"] = draw(st.integers(0, 3))
    return config


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Rule], Basket, MemberFacts, Usage]:
    configs = draw(st.lists(rule_configs(), max_size=6))
    rules = [Rule(i + 1, f"r{i + 1}", RuleConfig.model_validate(c)) for i, c in enumerate(configs)]
    lines = tuple(
        BasketLine(sku=f"sku{i}", category=cat, quantity=Decimal(1), amount=amount)
        for i, (cat, amount) in enumerate(draw(st.lists(st.tuples(st.sampled_from(CATEGORIES), money), max_size=4)))
    )
    at = draw(
        st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 1, 1), timezones=st.just(dt.UTC))
    )
    amount = draw(money)
    facts = MemberFacts(1, frozenset(draw(st.lists(st.sampled_from(TAGS), max_size=3))))
    used = st.dictionaries(st.integers(1, len(rules) or 1), st.integers(0, 2500), max_size=len(rules))
    usage = Usage(day=draw(used), month=draw(used), budget=draw(used))
    return rules, Basket("SH001", "store", at, amount, "CNY", lines), facts, usage


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_quote_total_is_the_sum_of_its_awards_and_no_cap_is_exceeded(scenario):
    rules, basket, facts, usage = scenario
    quote = evaluate(rules, basket, facts, usage)

    assert quote.total == sum(a.points for a in quote.awards) >= 0
    assert all(type(a.points) is int and a.points > 0 for a in quote.awards)
    assert sum(quote.by_type.values()) == quote.total
    by_id = {r.id: r for r in rules}
    assert len({a.rule_id for a in quote.awards}) == len(quote.awards)
    for award in quote.awards:
        config = by_id[award.rule_id].config
        caps = config.caps
        if caps.per_transaction is not None:
            assert award.points <= caps.per_transaction
        if caps.per_member_day is not None:
            assert usage.day.get(award.rule_id, 0) + award.points <= caps.per_member_day
        if caps.per_member_month is not None:
            assert usage.month.get(award.rule_id, 0) + award.points <= caps.per_member_month
        if config.budget is not None:
            assert usage.budget.get(award.rule_id, 0) + award.points <= config.budget
    # one rule at most per best-of group, base rules and promotions resolved apart
    seen: set[tuple[bool, str]] = set()
    for award in quote.awards:
        config = by_id[award.rule_id].config
        if config.combine == "best_of":
            key = (config.kind == "base", config.group)
            assert key not in seen
            seen.add(key)


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_quote_does_not_depend_on_the_order_rules_come_in(scenario, random):
    rules, basket, facts, usage = scenario
    shuffled = list(rules)
    random.shuffle(shuffled)
    assert evaluate(shuffled, basket, facts, usage) == evaluate(rules, basket, facts, usage)
