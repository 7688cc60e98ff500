"""What coupons are worth on a basket and which may go together: table-driven, no database."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from patron.rewards.discounts import Basket, Line, Terms, apply, check_stack

AMOUNT_20 = Terms(batch="a20", kind="amount_off", amount_off=D("20"), min_spend=D("100"))
PERCENT_10_CAP_15 = Terms(
    batch="p10", kind="percent_off", percent_off=10, max_discount=D("15"), stacking="stackable", max_per_order=3
)
PERCENT_5 = Terms(batch="p5", kind="percent_off", percent_off=5, stacking="stackable", max_per_order=2)
AMOUNT_5_STACK = Terms(batch="a5", kind="amount_off", amount_off=D("5"), stacking="stackable", max_per_order=3)
DRINKS_30 = Terms(batch="d30", kind="amount_off", amount_off=D("30"), categories=("drinks",), min_spend=D("50"))
GIFT = Terms(batch="gift", kind="gift_item", gift_sku="MUG-1")
SHIPPING = Terms(batch="ship", kind="free_shipping")
STORE_7 = Terms(batch="s7", kind="amount_off", amount_off=D("10"), store_ids=frozenset({7}))

LINES = (Line("COKE", "drinks", D("2"), D("40.00")), Line("BREAD", "bakery", D("1"), D("80.00")))


@pytest.mark.parametrize(
    ("terms", "basket", "discount", "refusal"),
    [
        (AMOUNT_20, Basket(amount=D("150")), D("20.00"), None),
        (AMOUNT_20, Basket(amount=D("100")), D("20.00"), None),  # exactly the minimum spend
        (AMOUNT_20, Basket(amount=D("99.99")), D("0"), "coupon_min_spend"),
        (PERCENT_10_CAP_15, Basket(amount=D("120")), D("12.00"), None),
        (PERCENT_10_CAP_15, Basket(amount=D("400")), D("15"), None),  # capped
        (PERCENT_5, Basket(amount=D("33.33")), D("1.67"), None),  # rounded half up to the cent
        (DRINKS_30, Basket(amount=D("120"), lines=LINES), D("0"), "coupon_min_spend"),  # drinks only 40
        (
            DRINKS_30,
            Basket(amount=D("200"), lines=(*LINES, Line("WATER", "drinks", D("5"), D("20")))),
            D("30.00"),
            None,
        ),
        (DRINKS_30, Basket(amount=D("120")), D("0"), "coupon_not_applicable"),  # no lines: nothing in its categories
        (GIFT, Basket(amount=D("60"), lines=(Line("MUG-1", "gifts", D("2"), D("50.00")),)), D("25.00"), None),
        (GIFT, Basket(amount=D("60"), lines=LINES), D("0"), "coupon_not_applicable"),
        (SHIPPING, Basket(amount=D("60"), channel="online", shipping=D("8.00")), D("8.00"), None),
        (SHIPPING, Basket(amount=D("60"), channel="store"), D("0"), "coupon_not_applicable"),
        (STORE_7, Basket(amount=D("60"), store_id=7), D("10.00"), None),
        (STORE_7, Basket(amount=D("60"), store_id=8), D("0"), "coupon_not_applicable"),
        (AMOUNT_20, Basket(amount=D("150"), currency="HKD"), D("0"), "coupon_not_applicable"),
    ],
)
def test_one_coupon_on_a_basket(terms, basket, discount, refusal):
    [applied] = apply([("C", terms)], basket).applied
    assert (applied.refusal.code if applied.refusal else None) == refusal
    assert applied.discount == discount


@pytest.mark.parametrize(
    ("combo", "refusal"),
    [
        ((AMOUNT_20,), None),
        ((AMOUNT_20, PERCENT_10_CAP_15), "coupon_stacking"),  # an exclusive one must be alone
        ((PERCENT_10_CAP_15, AMOUNT_5_STACK), None),
        ((PERCENT_10_CAP_15, AMOUNT_5_STACK, AMOUNT_5_STACK), None),  # all allow 3
        ((PERCENT_10_CAP_15, AMOUNT_5_STACK, PERCENT_5), "coupon_stacking"),  # PERCENT_5 allows 2
        ((PERCENT_5, AMOUNT_5_STACK), None),
        ((AMOUNT_5_STACK,) * 4, "coupon_stacking"),
    ],
)
def test_which_coupons_go_together(combo, refusal):
    result = check_stack(combo)
    assert (result.code if result else None) == refusal


def test_stacked_discounts_never_exceed_the_basket():
    outcome = apply([("A", AMOUNT_5_STACK), ("B", AMOUNT_5_STACK), ("C", AMOUNT_5_STACK)], Basket(amount=D("12.00")))
    assert [a.discount for a in outcome.applied] == [D("5.00"), D("5.00"), D("2.00")]
    assert outcome.ok and outcome.discount == D("12.00")


def test_a_refused_coupon_in_a_stack_spoils_the_outcome():
    outcome = apply([("A", PERCENT_10_CAP_15), ("B", SHIPPING)], Basket(amount=D("100")))
    assert not outcome.ok and outcome.discount == D("10.00")
