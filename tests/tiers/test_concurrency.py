"""Tier reviews under concurrency (PostgreSQL): several daily jobs and sales at the same moment do each
review once, and an upgrade is never lost to a review running beside it."""

from __future__ import annotations

import pytest

from patron.core import clock
from patron.tiers import services
from patron.tiers.models import MemberTier, TierChange
from tests.factories import make_member, make_sale
from tests.threads import race
from tests.tiers.conftest import at, on
from tests.tiers.models import ladder

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(store):
    with on("2024-12-01 09:00"):
        model = services.do_create_model(name="并发", config=ladder())
        services.do_go_live(model=model)
    services.forget_live_model()
    with on("2024-12-01 10:00"):
        members = [make_member(name=f"会员{i}") for i in range(20)]
    for person in members:
        with on("2025-02-01 10:00"):
            make_sale(person, store, amount="6000", occurred_at=at("2025-02-01 10:00"))  # gold
    return members


def test_concurrent_daily_jobs_review_each_member_once(people):
    with clock.frozen(at("2027-01-01 02:00")):  # 2026 had nothing: everyone one level down
        results = race(6, lambda _i: services.run_reviews())
    assert not [r for r in results if isinstance(r, BaseException)], results
    reviews = TierChange.objects.filter(reason="review")
    assert reviews.count() == len(people)
    assert set(MemberTier.objects.values_list("tier_code", flat=True)) == {"silver"}


def test_a_sale_racing_the_review_job_keeps_the_upgrade(people, store):
    buyer = people[0]

    def work(i: int) -> object:
        if i == 0:
            return make_sale(buyer, store, amount="6000", external_id="RACE-1", occurred_at=at("2027-01-01 09:00"))
        return services.run_reviews()

    # The clock is one value for the process: frozen here, around all the threads, not in each.
    with clock.frozen(at("2027-01-01 09:00")):
        results = race(4, work)
    assert not [r for r in results if isinstance(r, BaseException)], results
    # Whoever came first, the review (gold → silver, judged on 2026) happened once and the sale then
    # put the buyer back in gold.
    moves = list(TierChange.objects.filter(member=buyer).order_by("at", "id").values_list("reason", "to_code"))
    assert moves == [("rule", "gold"), ("review", "silver"), ("rule", "gold")]
    assert MemberTier.objects.get(member=buyer).tier_code == "gold"
