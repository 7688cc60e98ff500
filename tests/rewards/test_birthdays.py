"""A tier's birthday gift: points or a coupon, once a year, on the local birthday."""

from __future__ import annotations

import datetime as dt

import pytest

from patron.ledger import queries as ledger_queries
from patron.rewards import services
from patron.rewards.models import BirthdayGift, Coupon
from patron.tiers import services as tiers
from tests.rewards.factories import make_batch, member_with_points
from tests.tiers.models import ladder

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_with_gifts():
    make_batch(code="bday-gold")
    config = ladder()
    config["tiers"][0]["benefits"] = [{"kind": "birthday_gift", "points": 200}]
    config["tiers"][2]["benefits"].append({"kind": "birthday_gift", "coupon_batch": "bday-gold"})
    model = tiers.do_create_model(name="生日礼测试", config=config)
    tiers.do_go_live(model=model)
    tiers.forget_live_model()


def test_points_on_the_birthday_once_a_year(live_with_gifts):
    member = member_with_points(0, birthday=dt.date(1990, 12, 1))
    member_with_points(0, birthday=dt.date(1990, 12, 2))  # not today
    today = dt.date(2026, 12, 1)
    assert services.give_birthday_gifts(today) == 1
    assert services.give_birthday_gifts(today) == 0  # the second run gives nothing
    assert ledger_queries.balance(member).available == 200
    assert BirthdayGift.objects.get(member=member).year == 2026
    assert services.give_birthday_gifts(dt.date(2027, 12, 1)) == 1


def test_leap_day_birthday_on_28_february_of_a_common_year(live_with_gifts):
    member = member_with_points(0, birthday=dt.date(2000, 2, 29))
    assert services.give_birthday_gifts(dt.date(2027, 2, 28)) == 1
    assert services.give_birthday_gifts(dt.date(2028, 2, 28)) == 0  # a leap year: on the 29th
    assert services.give_birthday_gifts(dt.date(2028, 2, 29)) == 1
    assert BirthdayGift.objects.filter(member=member).count() == 2


def test_a_tier_with_a_coupon_gift_issues_the_coupon(live_with_gifts):
    member = member_with_points(0, birthday=dt.date(1985, 6, 15))
    tiers.do_set_override(member=member, tier_code="gold", reason="测试", until=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert services.give_birthday_gifts(dt.date(2026, 6, 15)) == 1
    coupon = Coupon.objects.get(member=member)
    assert coupon.batch.code == "bday-gold" and coupon.source == "tier"
    assert ledger_queries.balance(member).available == 0


def test_no_live_model_no_gift():
    member_with_points(0, birthday=dt.date(1990, 12, 1))
    assert services.give_birthday_gifts(dt.date(2026, 12, 1)) == 0
