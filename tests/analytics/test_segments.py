"""Segment rules: each field gives the same members as the equivalent hand-written query (on demo
data, both databases); AND/OR groups; bad rules are refused with the condition named; snapshots
freeze their members."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import translation

from patron.analytics import queries, segments, services, spend
from patron.analytics.models import MemberMetrics, SegmentSnapshot
from patron.core import clock
from patron.core.errors import Conflict, ValidationFailed
from patron.demo.generator import DemoConfig, generate
from patron.ledger.models import Account
from patron.members.models import (
    LIVE_STATUSES,
    ConsentRecord,
    Member,
    MemberTag,
    Transaction,
    TransactionLine,
)
from patron.tiers.models import MemberTier

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(db):
    with clock.frozen(NOW):
        generate(DemoConfig(members=300, months=24, seed=3, now=NOW, batch_members=150, rewards=False))
        services.refresh_metrics(as_of=NOW.date())
    return NOW


def live() -> set[int]:
    return set(Member.objects.filter(status__in=LIVE_STATUSES).values_list("pk", flat=True))


def matching(rules) -> set[int]:
    with clock.frozen(NOW):
        return set(segments.members_matching(rules).values_list("pk", flat=True))


def one(field: str, **condition) -> dict:
    return {"match": "all", "conditions": [{"field": field, **condition}]}


def metrics_ids(**lookup) -> set[int]:
    return set(MemberMetrics.objects.filter(**lookup).values_list("member_id", flat=True)) & live()


def test_no_rules_is_every_live_member(world):
    assert matching({}) == live()


@pytest.mark.parametrize(
    ("field", "condition", "lookup"),
    [
        (
            "lifecycle_stage",
            {"value": ["at_risk", "lapsed_recent"]},
            {"lifecycle_stage__in": ["at_risk", "lapsed_recent"]},
        ),
        ("rfm_segment", {"value": ["champions"]}, {"rfm_segment": "champions"}),
        ("value_class", {"value": ["A", "B"]}, {"value_class__in": ["A", "B"]}),
        ("overdue", {"value": True}, {"overdue": True}),
        ("gone_cold", {"value": False}, {"gone_cold": False}),
        ("r_score", {"value": [4, None]}, {"r_score__gte": 4}),
        ("clv", {"value": [100, "800.5"]}, {"clv__gte": Decimal(100), "clv__lte": Decimal("800.5")}),
        ("recency_days", {"value": [None, 30]}, {"recency_days__lte": 30}),
        ("spend_long", {"value": [1000, None]}, {"spend_long__gte": 1000}),
    ],
)
def test_analytics_fields_equal_the_metrics_table(world, field, condition, lookup):
    expected = metrics_ids(**lookup)
    assert expected, f"the demo data has members for {field}"
    assert matching(one(field, **condition)) == expected


def test_not_in_is_everyone_else(world):
    at_risk = matching(one("lifecycle_stage", value=["at_risk"]))
    others = matching(one("lifecycle_stage", op="not_in", value=["at_risk"]))
    assert at_risk and others and not at_risk & others
    assert at_risk | others == live()


def test_profile_fields(world):
    members = Member.objects.filter(status__in=LIVE_STATUSES)
    ids = lambda qs: set(qs.values_list("pk", flat=True))  # noqa: E731
    assert matching(one("gender", value=["F"])) == ids(members.filter(gender="F"))
    city = members.exclude(city="").values_list("city", flat=True).first()
    assert matching(one("city", value=[city])) == ids(members.filter(city=city))
    assert matching(one("join_channel", value=["wechat", "store"])) == ids(
        members.filter(join_channel__in=["wechat", "store"])
    )
    assert matching(one("has_email", value=True)) == ids(members.exclude(email=""))
    assert matching(one("birthday_month", value=[1, 2])) == ids(members.filter(birthday__month__in=[1, 2]))
    store = members.exclude(store=None).values_list("store_id", flat=True).first()
    assert matching(one("store", value=[str(store)])) == ids(members.filter(store_id=store))
    # Age 30 to 39 today (NOW): born after 1986-03-01 and on or before 1996-03-01.
    thirties = members.filter(birthday__gt=dt.date(1986, 3, 1), birthday__lte=dt.date(1996, 3, 1))
    assert matching(one("age", value=[30, 39])) == ids(thirties)
    recent = members.filter(joined_at__gt=NOW - dt.timedelta(days=91))
    assert matching(one("joined_days", value=[None, 90])) == ids(recent)


def test_tags_any_all_none(world):
    tagged = MemberTag.objects.filter(member__status__in=LIVE_STATUSES)
    names = list(tagged.values_list("tag__name", flat=True).distinct()[:2])
    assert len(names) == 2
    a = set(tagged.filter(tag__name=names[0]).values_list("member_id", flat=True))
    b = set(tagged.filter(tag__name=names[1]).values_list("member_id", flat=True))
    assert matching(one("tags", op="any", value=names)) == a | b
    assert matching(one("tags", op="all", value=names)) == a & b
    assert matching(one("tags", op="none", value=names)) == live() - (a | b)


def test_tier(world):
    code = MemberTier.objects.exclude(level=0).values_list("tier_code", flat=True).first()
    assert code
    on_tier = set(MemberTier.objects.filter(tier_code=code, override_code="").values_list("member_id", flat=True))
    assert matching(one("tier", value=[code])) == on_tier & live()


def test_points_balance(world):
    balances = dict(
        Account.objects.filter(kind="available", member__isnull=False)
        .values("member_id")
        .annotate(total=Sum("balance"))
        .values_list("member_id", "total")
    )
    rich = {m for m, total in balances.items() if total >= 500} & live()
    poor = {m for m in live() if balances.get(m, 0) <= 100}
    assert rich and poor
    assert matching(one("points_balance", value=[500, None])) == rich
    assert matching(one("points_balance", value=[None, 100])) == poor


def test_bought_category_in_the_last_days(world):
    with clock.frozen(NOW):
        since = spend.window_start(60)
    category = TransactionLine.objects.exclude(category="").values_list("category", flat=True).first()
    bought = TransactionLine.objects.filter(
        category=category, transaction__kind="sale", transaction__occurred_at__gte=since
    )
    expected = set(bought.values_list("transaction__member_id", flat=True)) & live()
    assert expected
    assert matching(one("bought_category", value=[category], days=60)) == expected


def test_spend_in_stores(world):
    with clock.frozen(NOW):
        since = spend.window_start(365)  # today and the 364 days before
    store = Transaction.objects.values_list("store_id", flat=True).first()
    txns = Transaction.objects.filter(store_id=store, occurred_at__gte=since)
    net: dict[int, Decimal] = {}
    for member_id, kind, amount in txns.values_list("member_id", "kind", "amount"):
        net[member_id] = net.get(member_id, Decimal(0)) + (amount if kind == "sale" else -amount)
    big = {m for m, v in net.items() if v >= 500} & live()
    assert big
    assert matching(one("store_spend", value=[500, None], stores=[store], days=365)) == big
    small = {m for m in live() if net.get(m, Decimal(0)) <= 50}
    assert matching(one("store_spend", value=[None, 50], stores=[store], days=365)) == small


def test_consent_is_the_latest_record(world):
    latest: dict[int, bool] = {}
    for member_id, granted in (
        ConsentRecord.objects.filter(purpose="sms_marketing").order_by("at", "id").values_list("member_id", "granted")
    ):
        latest[member_id] = granted
    granted = {m for m, g in latest.items() if g} & live()
    assert granted
    assert matching(one("consent", value="sms_marketing", granted=True)) == granted
    assert matching(one("consent", value="sms_marketing", granted=False)) == live() - granted


def test_and_or_groups(world):
    overdue = metrics_ids(overdue=True)
    champions = metrics_ids(rfm_segment="champions")
    a_class = metrics_ids(value_class="A")
    rules = {
        "match": "all",
        "conditions": [
            {"field": "overdue", "value": True},
            {
                "match": "any",
                "conditions": [
                    {"field": "rfm_segment", "value": ["champions"]},
                    {"field": "value_class", "value": ["A"]},
                ],
            },
        ],
    }
    assert matching(rules) == overdue & (champions | a_class)
    assert matching(
        {"match": "any", "conditions": [*rules["conditions"][:1], {"field": "value_class", "value": ["A"]}]}
    ) == (overdue | a_class)


@pytest.mark.parametrize(
    ("rules", "fragment"),
    [
        (one("no_such_field", value=1), "Unknown field no_such_field."),
        (one("lifecycle_stage", value=[]), "Lifecycle stage: pick at least one value."),
        (one("lifecycle_stage", value=["asleep"]), "Lifecycle stage: unknown value asleep."),
        (one("clv", value=[900, 100]), "Customer lifetime value: the lower end is above the upper end."),
        (one("clv", value=[None, None]), "Customer lifetime value: give at least one end of the range."),
        (one("overdue", value="yes"), "Overdue for the usual purchase: yes or no."),
        (one("tags", op="in", value=["x"]), "Tags: any of, all of or none of."),
        (one("lifecycle_stage", op="any", value=["new"]), "Lifecycle stage: is one of, or is none of."),
        ({"match": "every", "conditions": []}, "match"),
        (
            {
                "match": "all",
                "conditions": [
                    {
                        "match": "all",
                        "conditions": [{"match": "all", "conditions": [{"match": "all", "conditions": []}]}],
                    }
                ],
            },
            "deep",
        ),
    ],
)
def test_bad_rules_are_refused_naming_the_condition(db, rules, fragment):
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        services.checked_rules(rules)
    assert exc.value.code == "invalid_segment"
    assert fragment in str(exc.value)


def test_a_snapshot_freezes_its_members(world):
    segment = services.create_segment(name="逾期会员", rules=one("overdue", value=True))
    with clock.frozen(NOW):
        snapshot = services.take_snapshot(segment, label="三月召回")
    frozen = set(queries.snapshot_members(snapshot).values_list("pk", flat=True))
    assert frozen == metrics_ids(overdue=True) and snapshot.member_count == len(frozen)
    # The members' metrics change; the dynamic segment follows, the snapshot does not.
    MemberMetrics.objects.filter(overdue=True).update(overdue=False)
    assert not matching(segment.rules)
    assert (
        set(queries.snapshot_members(SegmentSnapshot.objects.get(pk=snapshot.pk)).values_list("pk", flat=True))
        == frozen
    )


def test_names_are_unique_among_live_segments_and_archived_ones_are_read_only(db):
    first = services.create_segment(name="高价值", rules=one("value_class", value=["A"]))
    with pytest.raises(ValidationFailed):
        services.create_segment(name="高价值", rules={})
    services.archive_segment(first)
    again = services.create_segment(name="高价值", rules={})
    assert again.pk != first.pk
    with pytest.raises(Conflict):
        services.update_segment(first, name="x", rules={})
    with pytest.raises(Conflict):
        services.take_snapshot(first)


def test_changes_are_audited(db):
    from patron.core.models import AuditEntry

    segment = services.create_segment(name="s", rules={})
    services.update_segment(segment, name="s2", rules=one("overdue", value=True))
    services.take_snapshot(segment)
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "segments.create",
        "segments.update",
        "segments.snapshot",
    ]
