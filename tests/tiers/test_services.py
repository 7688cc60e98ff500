"""The live tier services: upgrades on the qualifying sale, reviews by the daily job (exactly once),
refunds, overrides that end, at-risk warnings, earning multipliers, going live."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from patron.core.errors import ValidationFailed
from patron.members import services as members
from patron.members.models import TimelineEntry
from patron.tiers import events, queries, services
from patron.tiers.models import MemberTier, ModelStatus, TierChange, TierModel
from tests.factories import make_member, make_sale
from tests.tiers.conftest import at, on
from tests.tiers.models import ladder

pytestmark = pytest.mark.django_db


def shown(member) -> str:
    return queries.member_tier(member).tier.code


def moves(member) -> list[tuple[str, str, str]]:
    return list(
        TierChange.objects.filter(member=member).order_by("at", "id").values_list("from_code", "to_code", "reason")
    )


@pytest.fixture
def member(db):
    with on("2024-12-01 10:00"):
        return make_member()


def buy(member, store, when: str, amount: str):
    with on(when):
        return make_sale(member, store, amount=amount, occurred_at=at(when))


def test_without_a_live_model_nothing_happens(member, store):
    buy(member, store, "2025-03-01 10:00", "9000")
    assert queries.member_tier(member) is None
    assert not MemberTier.objects.exists()


def test_the_sale_that_qualifies_upgrades_at_once_with_history_timeline_and_event(
    live, member, store, caught, django_capture_on_commit_callbacks
):
    live()
    buy(member, store, "2025-03-01 10:00", "600")
    assert shown(member) == "base"
    with django_capture_on_commit_callbacks(execute=True):
        txn = buy(member, store, "2025-03-02 10:00", "400")
    assert shown(member) == "silver"
    change = TierChange.objects.get(member=member)
    assert (change.from_code, change.to_code, change.reason, change.transaction) == ("base", "silver", "rule", txn)
    assert change.effective_on == dt.date(2025, 3, 2)
    assert TimelineEntry.objects.filter(member=member, kind="tier_changed").count() == 1
    assert caught == [events.TierUpgraded(member.pk, "base", "silver", "rule", at("2025-03-02 10:00"))]


def test_a_sale_just_after_local_midnight_counts_in_the_new_year(live, member, store):
    live()
    buy(member, store, "2025-12-31 23:50", "900")
    buy(member, store, "2026-01-01 00:10", "200")  # 2025-12-31T16:10Z: already 2026 in Shanghai
    assert shown(member) == "base"  # neither year reached ¥1,000


def test_the_daily_job_reviews_each_member_exactly_once(
    live, member, store, caught, django_capture_on_commit_callbacks
):
    live()
    buy(member, store, "2025-02-01 10:00", "25000")
    assert shown(member) == "diamond"
    with on("2026-01-01 02:00"):
        assert services.run_reviews() >= 1  # 2025 qualified: kept
    assert shown(member) == "diamond"
    with on("2027-01-01 02:00"), django_capture_on_commit_callbacks(execute=True):
        services.run_reviews()
        services.run_reviews()
    with on("2027-01-02 02:00"):
        services.run_reviews()
    assert shown(member) == "gold"
    assert moves(member) == [("base", "diamond", "rule"), ("diamond", "gold", "review")]
    assert [type(e) for e in caught] == [events.TierDowngraded]


def test_a_review_the_job_missed_is_done_by_the_next_sale_with_the_data_of_its_own_day(live, member, store):
    live()
    buy(member, store, "2025-02-01 10:00", "6000")
    # No job ran on 2026-01-01 .. 2027-01-01; on 2027-01-03 the member buys ¥6,000.
    buy(member, store, "2027-01-03 10:00", "6000")
    # The 2026-01-01 review (2025 qualified) kept gold; the 2027-01-01 one (2026 empty) moved to
    # silver; then the sale requalified for gold.
    assert moves(member) == [("base", "gold", "rule"), ("gold", "silver", "review"), ("silver", "gold", "rule")]
    assert TierChange.objects.filter(reason="review").get().effective_on == dt.date(2027, 1, 1)


def test_a_refund_undoes_the_upgrade_its_sale_gave(live, member, store):
    live()
    buy(member, store, "2025-03-01 10:00", "1200")
    sale = buy(member, store, "2025-06-01 10:00", "4000")
    assert shown(member) == "gold"
    with on("2025-06-03 10:00"):
        members.do_record_refund(
            original=sale, external_id="R1", amount=Decimal("4000"), occurred_at=at("2025-06-03 10:00")
        )
    assert shown(member) == "silver"
    assert moves(member)[-1] == ("gold", "silver", "refund")


def test_a_refund_across_the_review_moves_the_member_down_at_the_review(live, member, store):
    live(refund_reverts_upgrade=False)
    buy(member, store, "2024-12-20 10:00", "6000")
    sale = buy(member, store, "2025-11-01 10:00", "6000")
    with on("2025-12-20 10:00"):
        members.do_record_refund(
            original=sale, external_id="R1", amount=Decimal("1001"), occurred_at=at("2025-12-20 10:00")
        )
    with on("2026-01-01 03:00"):
        services.run_reviews()
    assert shown(member) == "silver"  # 2025 net ¥4,999: one cent short of gold


def test_a_manual_override_ends_and_the_member_is_re_evaluated(live, member, store):
    live()
    buy(member, store, "2025-03-01 10:00", "1500")
    with on("2025-04-01 10:00"):
        services.do_set_override(member=member, tier_code="diamond", until=at("2025-05-01 00:00"), reason="投诉补偿")
        assert shown(member) == "diamond"
    with on("2025-04-15 10:00"):
        assert queries.member_tier(member).override_reason == "投诉补偿"
    buy(member, store, "2025-04-20 10:00", "4000")  # qualifies for gold under the rules meanwhile
    with on("2025-04-20 11:00"):
        assert shown(member) == "diamond"
    with on("2025-05-01 01:00"):
        services.run_reviews()
        assert shown(member) == "gold"  # not diamond: the override was no floor
    assert moves(member) == [
        ("base", "silver", "rule"),
        ("silver", "diamond", "manual"),
        ("diamond", "gold", "override_ended"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tier_code": "platinum", "until": at("2025-05-01 00:00"), "reason": "x"}, "tier"),
        ({"tier_code": "gold", "until": at("2025-03-01 00:00"), "reason": "x"}, "until"),
        ({"tier_code": "gold", "until": at("2025-05-01 00:00"), "reason": " "}, "reason"),
    ],
)
def test_an_override_needs_a_known_tier_a_future_end_and_a_reason(live, member, kwargs, field):
    live()
    with on("2025-04-01 10:00"), pytest.raises(ValidationFailed) as refused:
        services.do_set_override(member=member, **kwargs)
    assert field in refused.value.fields


def test_members_about_to_move_down_are_warned_once(live, member, store, caught, django_capture_on_commit_callbacks):
    live(at_risk_days=30)
    buy(member, store, "2025-02-01 10:00", "6000")
    with on("2026-01-01 02:00"):
        services.run_reviews()  # kept; next review 2027-01-01
    with on("2026-12-01 02:00"), django_capture_on_commit_callbacks(execute=True):
        services.run_reviews()
    with on("2026-12-02 02:00"), django_capture_on_commit_callbacks(execute=True):
        services.run_reviews()
    risks = [e for e in caught if isinstance(e, events.TierAtRisk)]
    # 2026-12-01 is 31 days before the review (no warning yet); 2026-12-02 is 30.
    assert risks == [events.TierAtRisk(member.pk, "gold", "silver", dt.date(2027, 1, 1), 30)]
    with on("2026-12-03 02:00"), django_capture_on_commit_callbacks(execute=True):
        services.run_reviews()
    assert len([e for e in caught if isinstance(e, events.TierAtRisk)]) == 1


def test_progress_says_what_is_missing_for_the_next_tier_and_to_keep_this_one(live, member, store):
    live()
    buy(member, store, "2025-02-01 10:00", "6000")
    buy(member, store, "2026-03-01 10:00", "3800")
    with on("2026-06-01 10:00"):
        progress = queries.progress(member)
    assert progress.tier.code == "gold"
    assert progress.keep is not None and progress.keep.by == dt.date(2026, 12, 31)
    assert [(n.metric, n.missing) for n in progress.keep.needs] == [("spend", Decimal("1200.00"))]
    assert progress.next.tier.code == "diamond"
    assert progress.next.needs[0].missing == Decimal("16200.00")


def test_the_tier_multiplier_is_applied_by_the_earning_rules(live, member, store):
    from patron.ledger import queries as ledger
    from tests.earning.rules import one_point_per_yuan

    live()
    one_point_per_yuan()
    buy(member, store, "2025-02-01 10:00", "5000")  # earns 5,000 at base, then becomes gold
    buy(member, store, "2025-02-02 10:00", "100")  # gold: 100 + 50
    assert ledger.balance(member).pending == 5000 + 150


def test_only_a_draft_can_be_edited_or_go_live(live):
    model = live()
    with pytest.raises(ValidationFailed):
        services.do_update_model(model=model, name="改名")
    with pytest.raises(ValidationFailed):
        services.do_go_live(model=model)
    copy = services.do_copy_model(model=model)
    assert copy.status == ModelStatus.DRAFT and copy.config == model.config


def test_going_live_re_evaluates_members_and_keeps_their_history(live, member, store):
    live()
    buy(member, store, "2025-03-01 10:00", "6000")
    assert shown(member) == "gold"
    stricter = ladder()
    stricter["tiers"][2]["qualify"] = {"spend": "8000"}
    stricter["tiers"][3]["qualify"] = {"spend": "30000"}
    with on("2025-06-01 10:00"):
        model = services.do_create_model(name="更严", config=stricter)
        services.do_go_live(model=model, reason="试行新规则")
        services.forget_live_model()
        assert services.reevaluate_members(model.pk) == 1
    assert shown(member) == "silver"
    assert moves(member) == [("base", "gold", "rule"), ("gold", "silver", "go_live")]
    assert TierModel.objects.get(status=ModelStatus.RETIRED).retired_at is not None
    assert TierModel.objects.get(pk=model.pk).went_live_by


def test_presets_make_valid_models():
    from patron.tiers import presets

    for key in presets.PRESETS:
        model = services.do_create_model_from_preset(preset=key)
        assert model.parsed().tiers
    with pytest.raises(ValidationFailed):
        services.do_create_model_from_preset(preset="nope")
