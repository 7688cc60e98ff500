"""What coupons are worth on a basket, and which may go on one order together. Pure: no database.

A coupon's terms apply to the basket lines in its categories (the whole basket when it names
none); the minimum spend is measured on those lines. Several coupons on one order are applied in
the order given, each on what the previous ones left, so the discounts never exceed the basket.
Stacking: an exclusive coupon must be alone; otherwise the order may carry at most the smallest
`max_per_order` among its coupons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from patron.rewards.errors import ErrorCode

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    quantity: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Basket:
    amount: Decimal
    currency: str = "CNY"
    store_id: int | None = None
    channel: str = "store"
    lines: tuple[Line, ...] = ()
    shipping: Decimal = ZERO


@dataclass(frozen=True)
class Terms:
    """A batch's rules, as the discount engine needs them."""

    batch: str
    kind: str  # amount_off, percent_off, gift_item, free_shipping
    amount_off: Decimal | None = None
    percent_off: int | None = None
    max_discount: Decimal | None = None
    gift_sku: str = ""
    currency: str = "CNY"
    min_spend: Decimal = ZERO
    store_ids: frozenset[int] = frozenset()  # empty: every store
    categories: tuple[str, ...] = ()  # empty: the whole basket
    stacking: str = "exclusive"
    max_per_order: int = 1


@dataclass(frozen=True)
class Refusal(Exception):
    code: str
    message: str


@dataclass
class Applied:
    code: str
    terms: Terms
    discount: Decimal = ZERO
    note: str = ""
    refusal: Refusal | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None


@dataclass
class Outcome:
    applied: list[Applied] = field(default_factory=list)
    refusal: Refusal | None = None  # about the combination (stacking)

    @property
    def ok(self) -> bool:
        return self.refusal is None and all(a.ok for a in self.applied)

    @property
    def discount(self) -> Decimal:
        return sum((a.discount for a in self.applied if a.ok), ZERO)


def eligible_amount(terms: Terms, basket: Basket) -> Decimal:
    if not terms.categories:
        return basket.amount
    if not basket.lines:
        return ZERO
    wanted = set(terms.categories)
    return sum((line.amount for line in basket.lines if line.category in wanted), ZERO)


def check_terms(terms: Terms, basket: Basket) -> None:
    """Raise a Refusal when the coupon cannot be used on this basket at all."""
    if terms.currency != basket.currency:
        raise Refusal(ErrorCode.COUPON_NOT_APPLICABLE, _("This coupon is for another currency."))
    if terms.store_ids and basket.store_id not in terms.store_ids:
        raise Refusal(ErrorCode.COUPON_NOT_APPLICABLE, _("This coupon cannot be used in this store."))
    if terms.kind == "free_shipping" and basket.channel != "online":
        raise Refusal(ErrorCode.COUPON_NOT_APPLICABLE, _("Free shipping applies to online orders only."))
    if terms.kind == "gift_item" and not any(line.sku == terms.gift_sku for line in basket.lines):
        raise Refusal(
            ErrorCode.COUPON_NOT_APPLICABLE,
            _("Add the gift item %(sku)s to the basket first.") % {"sku": terms.gift_sku},
        )
    spend = eligible_amount(terms, basket)
    if terms.categories and spend <= 0:
        raise Refusal(ErrorCode.COUPON_NOT_APPLICABLE, _("Nothing in the basket is in this coupon's categories."))
    if spend < terms.min_spend:
        raise Refusal(
            ErrorCode.MIN_SPEND,
            _("This coupon needs a spend of at least %(min)s (eligible now: %(now)s).")
            % {"min": terms.min_spend, "now": spend},
        )


def value_on(terms: Terms, basket: Basket) -> Decimal:
    """The discount before other coupons are taken into account."""
    spend = eligible_amount(terms, basket)
    if terms.kind == "amount_off":
        return min(terms.amount_off or ZERO, spend)
    if terms.kind == "percent_off":
        off = (spend * Decimal(terms.percent_off or 0) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        return min(off, terms.max_discount) if terms.max_discount is not None else off
    if terms.kind == "gift_item":
        line = next(line for line in basket.lines if line.sku == terms.gift_sku)
        return (line.amount / line.quantity).quantize(CENT, rounding=ROUND_HALF_UP) if line.quantity else ZERO
    return basket.shipping  # free shipping


def check_stack(terms: Sequence[Terms]) -> Refusal | None:
    if len(terms) < 2:
        return None
    if any(t.stacking == "exclusive" for t in terms):
        return Refusal(ErrorCode.STACKING, _("An exclusive coupon cannot be combined with another coupon."))
    limit = min(t.max_per_order for t in terms)
    if len(terms) > limit:
        return Refusal(ErrorCode.STACKING, _("At most %(n)s coupons can be used on this order.") % {"n": limit})
    return None


def apply(coupons: Sequence[tuple[str, Terms]], basket: Basket) -> Outcome:
    """Each coupon's discount on the basket, in order, and whether they may go together."""
    outcome = Outcome(refusal=check_stack([t for _code, t in coupons]))
    left = basket.amount + basket.shipping
    for code, terms in coupons:
        applied = Applied(code=code, terms=terms)
        try:
            check_terms(terms, basket)
        except Refusal as refusal:
            applied.refusal = refusal
        else:
            applied.discount = min(value_on(terms, basket), left).quantize(CENT)
            left -= applied.discount
            if terms.kind == "gift_item":
                applied.note = _("Hand over the gift item %(sku)s.") % {"sku": terms.gift_sku}
        outcome.applied.append(applied)
    return outcome
