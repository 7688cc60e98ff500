"""The demo generator: deterministic, valid, and with the purchase rhythms it promises.
Runs on SQLite, and on PostgreSQL when DATABASE_URL points at one (COPY path)."""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from decimal import Decimal
from io import StringIO

import phonenumbers
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F, Sum

from patron.demo.generator import DAY, DemoConfig, DemoGenerator, generate
from patron.earning import queries as earning_queries
from patron.ledger import audit
from patron.ledger import queries as ledger_queries
from patron.ledger.models import Journal, JournalKind
from patron.members import queries, services
from patron.members.models import Member, TimelineEntry, Transaction, TransactionLine
from patron.members.names import pinyin_keys
from patron.members.numbers import is_valid_member_no
from tests.factories import make_member

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def drafts(members: int = 300, months: int = 6, seed: int = 11) -> list:
    return list(DemoGenerator(DemoConfig(members=members, months=months, seed=seed, now=NOW)).members())


def fingerprint(members: list) -> list:
    return [(m.member_no, m.name, m.phone, m.joined_at, m.status, m.transactions, m.tags, m.consents) for m in members]


def test_same_seed_gives_identical_data_and_another_seed_does_not():
    assert fingerprint(drafts(seed=5)) == fingerprint(drafts(seed=5))
    assert fingerprint(drafts(seed=5)) != fingerprint(drafts(seed=6))


def test_phones_are_valid_unique_chinese_mobiles():
    generator = DemoGenerator(DemoConfig(members=50_000, months=1, seed=3, now=NOW))
    phones = [generator.phone(i) for i in range(50_000)]
    assert len(set(phones)) == len(phones)
    assert len({p[-4:] for p in phones}) > 9_000  # last four digits spread out, so last-4 search stays selective
    for phone in phones[::50]:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number) and number.country_code == 86
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE


def test_a_regular_buyer_comes_back_after_their_personal_interval():
    regulars = [m for m in drafts(members=2000, months=24) if m.profile.kind == "regular"]
    all_gaps = []
    for member in regulars:
        sales = [t.at for t in member.transactions if t.kind == "sale"]
        if len(sales) < 5:
            continue
        gaps = [(b - a) / DAY / member.profile.interval_days for a, b in itertools.pairwise(sales)]
        assert 0.8 < statistics.median(gaps) < 1.2
        assert all(0.6 < g < 1.4 for g in gaps)  # jittered, and moved into shop hours, never erratic
        all_gaps.extend(gaps)
    assert len(all_gaps) > 1000
    assert 0.97 < statistics.mean(all_gaps) < 1.03
    assert 0.05 < statistics.stdev(all_gaps) < 0.15  # a rhythm, not a metronome


def test_churners_buy_nothing_after_they_churn_and_seasonal_buyers_buy_before_festivals():
    members = drafts(members=2000, months=24)
    churners = [m for m in members if m.profile.kind == "churner"]
    assert len(churners) > 200
    for member in churners:
        assert all(t.at < member.profile.churn_at for t in member.transactions)
    kinds = {m.profile.kind for m in members}
    assert kinds >= {"regular", "occasional", "seasonal", "churner"}


def test_purchases_have_a_long_tail_and_refunds_reference_their_sale():
    txns = [t for m in drafts(members=2000, months=12) for t in m.transactions]
    sales = {t.id: t for t in txns if t.kind == "sale"}
    refunds = [t for t in txns if t.kind == "refund"]
    amounts = sorted(t.cents for t in sales.values())
    assert amounts[int(len(amounts) * 0.99)] > 4 * amounts[len(amounts) // 2]
    assert 0.015 < len(refunds) / len(sales) < 0.045
    for refund in refunds:
        assert refund.cents <= sales[refund.original_id].cents and refund.at > sales[refund.original_id].at


@pytest.mark.django_db
def test_generated_database_is_consistent():
    stats = generate(DemoConfig(members=300, months=6, seed=11, now=NOW, batch_members=128))
    assert Member.objects.count() == stats.members == 300
    members = list(Member.objects.values("id", "phone", "member_no", "name", "name_pinyin", "name_initials"))
    assert len({m["phone"] for m in members}) == 300
    for m in members:
        assert phonenumbers.is_valid_number(phonenumbers.parse(m["phone"]))
        assert is_valid_member_no(m["member_no"])
        assert (m["name_pinyin"], m["name_initials"]) == pinyin_keys(m["name"])
    assert Transaction.objects.count() == stats.transactions > 300
    assert Transaction.objects.filter(member__isnull=False, store__isnull=False).count() == stats.transactions
    assert not Transaction.objects.filter(kind="refund", original__isnull=True).exists()
    over_refunded = (
        Transaction.objects.filter(kind="sale")
        .annotate(refunded=Sum("refunds__amount"))
        .filter(refunded__gt=F("amount"))
    )
    assert not over_refunded.exists()
    assert TimelineEntry.objects.filter(kind="joined").values("member").distinct().count() == 300
    assert Member.objects.filter(status="pending", entry_route="application").count() >= 3
    _lines_add_up_to_their_sale()
    _timeline_rows_have_the_services_shape()


def _timeline_rows_have_the_services_shape():
    """The generator writes sale rows as text for speed; they must read like the service's."""
    for entry in TimelineEntry.objects.filter(kind__in=["sale", "refund"])[:50]:
        txn = Transaction.objects.select_related("store").get(pk=entry.data["transaction_id"])
        assert entry.data == services.transaction_timeline_data(
            transaction_id=txn.pk,
            amount=txn.amount,
            currency=txn.currency,
            store_code=txn.store.code,
            external_id=txn.external_id,
        )


def _lines_add_up_to_their_sale():
    with_lines = Transaction.objects.annotate(n=Count("lines"), total=Sum("lines__amount")).filter(n__gt=0)
    assert with_lines.exists()
    for txn in with_lines[:50]:
        assert txn.total == txn.amount
    assert TransactionLine.objects.exclude(category="").count() == TransactionLine.objects.count()


@pytest.mark.django_db
def test_generated_members_are_found_by_search_and_new_ids_follow_the_generated_ones():
    generate(DemoConfig(members=300, months=6, seed=11, now=NOW))
    member = Member.objects.filter(status="active").order_by("id")[10]
    assert member in queries.search_queryset(member.phone[3:])
    assert member in queries.search_queryset(member.name_initials)
    assert member in queries.search_queryset(member.name[:2])
    created = make_member(name="新会员", phone="+8613900000001")  # the sequences were moved past the demo ids
    assert created.pk > 300
    assert Transaction.objects.filter(amount__lt=Decimal("0")).count() == 0


@pytest.mark.django_db
def test_commands_generate_once_and_print_the_logins():
    out = StringIO()
    call_command("demo_data", members=40, months=3, seed=2, stdout=out)
    assert "40 members" in out.getvalue()
    again = StringIO()
    call_command("demo_data", members=40, months=3, seed=2, if_empty=True, stdout=again)
    assert "already exist" in again.getvalue() and Member.objects.count() == 40
    logins = StringIO()
    call_command("demo_logins", stdout=logins)
    text = logins.getvalue()
    assert "http://127.0.0.1:8000" in text
    for username in (
        "demo_admin",
        "demo_marketer",
        "demo_analyst",
        "demo_agent",
        "demo_supervisor",
        "demo_cashier",
        "demo_promoter",
    ):
        assert username in text


@pytest.mark.django_db
def test_demo_points_ledger_passes_the_audit_and_matches_its_totals():
    # Without the points mall, whose orders spend points the generator's totals do not count.
    stats = generate(DemoConfig(members=400, months=24, seed=11, now=NOW, batch_members=150, rewards=False))
    totals = stats.ledger
    assert totals is not None
    failed = [(c.name, c.detail) for c in audit.run() if not c.ok]
    assert not failed, failed
    figures = ledger_queries.liability()
    assert (figures.issued, figures.reversed, figures.redeemed, figures.expired, figures.outstanding) == (
        totals.issued,
        totals.reversed,
        totals.redeemed,
        totals.expired,
        totals.outstanding,
    )
    # Two years of history: points earned, taken back after refunds, spent, and expired at a year end.
    assert min(totals.earns, totals.clawbacks, totals.redemptions, totals.expiries) > 0
    assert Journal.objects.count() == totals.journals
    assert Journal.objects.filter(kind=JournalKind.EARN).count() == totals.earns
    # Every sale earns ⌊yuan⌋ points (the retail preset), naming the rule like a live earn does.
    for journal in Journal.objects.filter(kind=JournalKind.EARN).select_related("transaction")[:50]:
        assert journal.points == int(journal.transaction.amount)
        assert [r["points"] for r in journal.detail["rules"]] == [journal.points]
    # New sales after the demo earn by the same rule.
    assert list(earning_queries.rules().values_list("preset", flat=True)) == ["retail_base"]


@pytest.mark.django_db
def test_demo_without_points_leaves_the_ledger_empty():
    stats = generate(DemoConfig(members=50, months=3, seed=2, now=NOW, points=False))
    assert stats.ledger is None
    assert not Journal.objects.exists()


@pytest.mark.django_db
def test_demo_members_are_placed_in_tiers_by_replaying_their_history():
    from patron.tiers import services as tier_services
    from patron.tiers.models import MemberTier, ModelStatus, TierChange, TierModel
    from patron.tiers.replay import events_by_member, join_days, replay_member

    stats = generate(DemoConfig(members=400, months=24, seed=11, now=NOW, batch_members=150))
    live = tier_services.live_model()
    assert live is not None and TierModel.objects.filter(status=ModelStatus.DRAFT).count() == 1
    placed = MemberTier.objects.exclude(level=0)
    assert stats.tiers == placed.count() > 0
    # Each member's tier is what a replay of their history gives, and their history is recorded.
    member = placed.first().member
    engine = tier_services.TierEngine(live.config)
    start = tier_services.start_of_day(tier_services.replay_start(live.config, tier_services.local_day(NOW)))
    ((_id, events),) = events_by_member(member.pk, member.pk + 1, start, NOW, with_points=False)
    run = replay_member(
        engine.for_member(join_days(member.pk, member.pk + 1)[member.pk]),
        member.pk,
        events,
        tier_services.local_day(NOW),
    )
    assert placed.get(member=member).level == run.state.level
    assert TierChange.objects.filter(member=member).count() == len(run.moves)


@pytest.mark.django_db
def test_demo_points_mall_orders_coupons_and_badges_keep_the_ledger_whole():
    from patron.rewards.models import Badge, CouponRedemption, MemberBadge, RedemptionOrder, Reward

    stats = generate(DemoConfig(members=400, months=24, seed=11, now=NOW, batch_members=150))
    assert stats.rewards is not None
    assert Reward.objects.count() == stats.rewards.rewards >= 8
    assert RedemptionOrder.objects.count() == stats.rewards.orders > 0
    assert CouponRedemption.objects.count() == stats.rewards.redemptions > 0
    assert MemberBadge.objects.count() == stats.rewards.badges > 0
    assert (
        Badge.objects.get(code="first-purchase").holders.count()
        == Member.objects.filter(transactions__kind="sale").distinct().count()
    )
    # Each redemption points at a real sale of that member in that store.
    for use in CouponRedemption.objects.all():
        sale = Transaction.objects.get(store=use.store, external_id=use.sale_external_id)
        assert sale.member_id == use.member_id and sale.amount == use.order_amount
    failed = [c.name for c in audit.run() if not c.ok]
    assert failed == []


def _planner_has_statistics_for(table: str) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = %s", [table])
        else:
            cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", [table])
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db
def test_the_generated_rows_are_analyzed_so_the_planner_does_not_plan_for_an_empty_database():
    generate(DemoConfig(members=50, months=3, seed=2, now=NOW, points=False))
    assert _planner_has_statistics_for("members_member")
    assert _planner_has_statistics_for("members_transaction")
