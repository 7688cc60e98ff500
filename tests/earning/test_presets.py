"""Presets are data that make valid rules, and the services make rules from them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from patron.core.errors import ValidationFailed
from patron.earning import presets, services
from patron.earning.engine import Basket, BasketLine, evaluate
from patron.earning.rules import Rule, check_rule_config

REQUIRED = {"category": "饮料", "store": "SH009"}


@pytest.mark.parametrize("key", sorted(presets.PRESETS))
def test_every_preset_makes_a_valid_rule(key):
    preset = presets.PRESETS[key]
    params = {p: REQUIRED[p] for p in preset.required}
    config = check_rule_config(preset.config(**params))
    assert config.enabled
    assert str(preset.label)


def test_retail_and_dinner_presets_give_the_better_rate_not_both():
    retail = Rule(1, "retail", check_rule_config(presets.retail_base()))
    dinner = Rule(2, "dinner", check_rule_config(presets.restaurant_dinner()))
    at_dinner = dt.datetime(2026, 11, 25, 11, 30, tzinfo=dt.UTC)  # 19:30 in Shanghai
    sale = Basket("SH001", "store", at_dinner, Decimal("88.00"), "CNY")
    assert evaluate([retail, dinner], sale).total == 880
    lunch = Basket("SH001", "store", at_dinner - dt.timedelta(hours=7), Decimal("88.00"), "CNY")
    assert evaluate([retail, dinner], lunch).total == 88


def test_store_opening_preset_runs_for_its_days():
    config = check_rule_config(presets.store_opening(store="SH009", starts="2026-12-01", days=14))
    assert config.conditions.date_range is not None
    assert (config.conditions.date_range.start, config.conditions.date_range.end) == (
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 14),
    )


def test_category_preset_triples_that_category():
    base = Rule(1, "base", check_rule_config(presets.retail_base()))
    triple = Rule(2, "3×", check_rule_config(presets.category_multiplier(category="饮料")))
    lines = (
        BasketLine("cola", "饮料", Decimal(2), Decimal("10.00")),
        BasketLine("bread", "烘焙", Decimal(1), Decimal("20.00")),
    )
    sale = Basket("SH001", "store", dt.datetime(2026, 11, 25, 4, tzinfo=dt.UTC), Decimal("30.00"), "CNY", lines)
    assert evaluate([base, triple], sale).total == 30 + 20


def test_create_rule_from_preset(db):
    rule = services.do_create_rule_from_preset(preset_key="category_multiplier", params={"category": "饮料"})
    assert rule.preset == "category_multiplier"
    assert rule.name == "3× points on a category"
    assert rule.rule().config.conditions.categories == ("饮料",)


@pytest.mark.parametrize(
    ("key", "params", "code", "field"),
    [
        ("cashback", None, "unknown_preset", "preset"),
        ("category_multiplier", None, "invalid_rule", "category"),
        ("retail_base", {"colour": "red"}, "invalid_rule", "colour"),
        ("retail_base", {"rate": "0"}, "invalid_rule", "config"),
        ("store_opening", {"store": "SH1", "starts": "someday"}, "invalid_rule", None),
    ],
)
def test_create_rule_from_preset_refusals(db, key, params, code, field):
    with pytest.raises(ValidationFailed) as err:
        services.do_create_rule_from_preset(preset_key=key, params=params)
    assert err.value.code == code
    if field:
        assert field in err.value.fields
