"""Money and points: the value types every ledger builds on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from patron.core.types import Money, is_known_currency, points


def test_money_adds_and_subtracts_in_the_same_currency():
    a = Money(Decimal("10.50"), "CNY")
    b = Money(Decimal("2.25"), "CNY")
    assert a + b == Money(Decimal("12.75"), "CNY")
    assert a - b == Money(Decimal("8.25"), "CNY")
    assert -a == Money(Decimal("-10.50"), "CNY")


def test_money_compares_in_the_same_currency():
    assert Money(Decimal("1"), "CNY") < Money(Decimal("2"), "CNY")
    assert Money(Decimal("2"), "CNY") <= Money(Decimal("2"), "CNY")


@pytest.mark.parametrize("op", ["add", "sub", "lt", "le"])
def test_money_refuses_mixing_currencies(op):
    cny, usd = Money(Decimal("1"), "CNY"), Money(Decimal("1"), "USD")
    with pytest.raises(ValueError, match="currency mismatch"):
        getattr(cny, f"__{op}__")(usd)


def test_money_refuses_unknown_currency_float_and_infinite_amounts():
    with pytest.raises(ValueError, match="unknown currency"):
        Money(Decimal("1"), "XXX")
    with pytest.raises(TypeError):
        Money(1.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        Money(Decimal("Infinity"), "CNY")
    with pytest.raises(ValueError, match="finite"):
        Money(Decimal("NaN"), "CNY")


def test_money_quantizes_half_up_to_the_currency_minor_unit():
    assert Money(Decimal("1.005"), "CNY").quantized().amount == Decimal("1.01")
    assert Money(Decimal("1.004"), "CNY").quantized().amount == Decimal("1.00")
    assert Money(Decimal("1.5"), "JPY").quantized().amount == Decimal("2")
    assert str(Money(Decimal("3"), "CNY")) == "3.00 CNY"
    assert str(Money(Decimal("3"), "JPY")) == "3 JPY"


def test_money_parse_normalises_currency_case_and_quantizes():
    assert Money.parse("12.345", "cny") == Money(Decimal("12.35"), "CNY")
    assert Money.parse(7, "USD").amount == Decimal("7.00")


@pytest.mark.parametrize("bad", ["abc", "", "1,000", "1e999999999", "NaN"])
def test_money_parse_refuses_what_is_not_an_amount_with_value_error(bad):
    with pytest.raises(ValueError):
        Money.parse(bad, "CNY")


def test_known_currencies():
    assert is_known_currency("CNY")
    assert not is_known_currency("cny")
    assert not is_known_currency("ZZZ")


def test_points_accepts_ints_only():
    assert points(5) == 5
    assert points(-3) == -3
    with pytest.raises(TypeError):
        points(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        points(True)
    with pytest.raises(TypeError):
        points(Decimal("1"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        points("3")  # type: ignore[arg-type]
