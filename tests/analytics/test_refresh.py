"""The refresh on demo data: its figures equal plain SQL over the same tables (both databases), the
runs' transitions, episodes and events, the settings, and the engines agreeing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from patron.analytics import config, engines, services
from patron.analytics.events import MemberOverdue, MemberWentCold, MetricsRefreshed
from patron.analytics.models import (
    ChurnEpisode,
    LifecycleTransition,
    MemberMetrics,
    MetricsRun,
    RunStatus,
)
from patron.core import clock
from patron.core.errors import Conflict, ValidationFailed
from patron.core.events import subscribe
from patron.demo.generator import DemoConfig, generate
from patron.ledger.models import Posting
from patron.members.models import LIVE_STATUSES, Member, Store, TransactionLine
from tests.factories import make_member, make_sale, make_store

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 3, 1)


@pytest.fixture
def demo(db):
    generate(DemoConfig(members=400, months=24, seed=11, now=NOW, batch_members=200, rewards=False))


def plain_sql_figures(as_of: dt.date) -> dict[int, tuple]:
    """Per member, by hand: purchase days, receipts, net spend, first and last purchase day, refunds,
    and purchase days and net spend in the last 365 days."""
    if connection.vendor == "postgresql":
        day = "(occurred_at AT TIME ZONE 'Asia/Shanghai')::date"
    else:
        day = "date(occurred_at, '+8 hours')"
    since = as_of - dt.timedelta(days=365)
    sql = f"""
        SELECT member_id,
               COUNT(DISTINCT CASE WHEN kind = 'sale' THEN {day} END),
               SUM(CASE WHEN kind = 'sale' THEN 1 ELSE 0 END),
               SUM(CASE WHEN kind = 'sale' THEN amount ELSE -amount END),
               MIN(CASE WHEN kind = 'sale' THEN {day} END),
               MAX(CASE WHEN kind = 'sale' THEN {day} END),
               SUM(CASE WHEN kind = 'refund' THEN 1 ELSE 0 END),
               COUNT(DISTINCT CASE WHEN kind = 'sale' AND {day} > %s THEN {day} END),
               SUM(CASE WHEN {day} > %s THEN (CASE WHEN kind = 'sale' THEN amount ELSE -amount END) ELSE 0 END)
        FROM members_transaction WHERE {day} <= %s GROUP BY member_id
    """
    with connection.cursor() as cur:
        cur.execute(sql, [since, since, as_of])
        rows = cur.fetchall()

    def as_date(v):
        return v if isinstance(v, dt.date) or v is None else dt.date.fromisoformat(v)

    def money(v):
        return Decimal(str(v)).quantize(Decimal("0.01"))

    return {
        r[0]: (r[1], r[2], money(r[3]), as_date(r[4]), as_date(r[5]), r[6], r[7], money(r[8]))
        for r in rows
        if r[1]  # members with only refunds in the window are not buyers
    }


def test_the_metrics_equal_plain_sql_over_the_demo_data(demo):
    run = services.refresh_metrics(as_of=AS_OF)
    assert run.status == RunStatus.DONE
    live = Member.objects.filter(status__in=LIVE_STATUSES).count()
    assert run.members == live == MemberMetrics.objects.count()

    expected = plain_sql_figures(AS_OF)
    stored = {
        m.member_id: (
            m.purchase_days,
            m.receipts,
            m.spend,
            m.first_purchase,
            m.last_purchase,
            m.refunds,
            m.purchase_days_long,
            m.spend_long,
        )
        for m in MemberMetrics.objects.filter(purchase_days__gt=0)
    }
    live_ids = set(Member.objects.filter(status__in=LIVE_STATUSES).values_list("pk", flat=True))
    expected = {k: v for k, v in expected.items() if k in live_ids}
    assert len(stored) > 300
    assert stored == expected
    for m in MemberMetrics.objects.filter(purchase_days__gt=0)[:50]:
        assert m.recency_days == (AS_OF - m.last_purchase).days


def test_points_earned_and_redeemed_are_the_member_s_net_postings(demo):
    services.refresh_metrics(as_of=AS_OF)
    earned = dict(
        Posting.objects.filter(account__kind="issuance")
        .values_list("journal__member_id")
        .annotate(s=Sum("amount"))
        .values_list("journal__member_id", "s")
    )
    stored = dict(MemberMetrics.objects.filter(points_earned__gt=0).values_list("member_id", "points_earned"))
    assert stored
    assert stored == {m: -s for m, s in earned.items() if s and m in stored}
    assert set(stored) == {
        m for m, s in earned.items() if s < 0 and m in set(MemberMetrics.objects.values_list("pk", flat=True))
    }


def test_categories_bought_and_clv_are_stored(demo):
    run = services.refresh_metrics(as_of=AS_OF)
    assert run.clv_fit["bgnbd"]["members"] > 300
    buyers = MemberMetrics.objects.filter(purchase_days__gt=0)
    for m in buyers[:100]:
        bought = TransactionLine.objects.filter(transaction__member_id=m.member_id, transaction__kind="sale")
        assert m.categories == sorted(set(bought.exclude(category="").values_list("category", flat=True)))
    assert buyers.exclude(categories=[]).count() > 200
    for m in buyers:
        assert 0 <= m.p_alive <= 1
        assert m.expected_purchases >= 0 and m.clv >= 0 and m.expected_value > 0
    assert MemberMetrics.objects.filter(purchase_days=0, clv__isnull=False).count() == 0

    # Among repeat buyers, those still buying are more likely alive than those long gone (one
    # purchase says nothing about dropping out: BG/NBD gives them 1).
    def mean_alive(*stages):
        values = [m.p_alive for m in buyers.filter(purchase_days__gte=3, lifecycle_stage__in=stages)]
        return sum(values) / len(values)

    assert mean_alive("mature", "active") > mean_alive("lapsed_recent", "lapsed_mid", "dormant") + 0.2


def test_every_stage_and_segment_is_known(demo):
    from patron.analytics.models import LifecycleStage, RfmSegment, ValueClass

    services.refresh_metrics(as_of=AS_OF)
    stages = set(MemberMetrics.objects.values_list("lifecycle_stage", flat=True))
    assert stages <= set(LifecycleStage.values) and {"prospect", "active"} <= stages
    assert set(MemberMetrics.objects.values_list("rfm_segment", flat=True)) <= {*RfmSegment.values, ""}
    assert set(MemberMetrics.objects.values_list("value_class", flat=True)) <= {*ValueClass.values, ""}
    assert MemberMetrics.objects.filter(overdue=True).exists()


def buy(member: Member, day: dt.date) -> None:
    make_sale(member, STORE.get(), occurred_at=clock.local_midnight(day) + dt.timedelta(hours=12))


class STORE:
    store = None

    @classmethod
    def get(cls):
        if cls.store is None or not Store.objects.filter(pk=cls.store.pk).exists():
            cls.store = make_store()
        return cls.store


def test_a_later_run_records_transitions_and_opens_and_closes_episodes_once(db, django_capture_on_commit_callbacks):
    heard: list = []
    handlers = [subscribe(kind)(heard.append) for kind in (MemberOverdue, MemberWentCold, MetricsRefreshed)]
    assert handlers
    start = clock.local_today() - dt.timedelta(days=300)  # everything happens in the past
    with clock.frozen(clock.local_midnight(start)):
        regular = make_member()
    for k in range(6):
        buy(regular, start + dt.timedelta(days=10 + 30 * k))  # monthly; the last on day 160
    with django_capture_on_commit_callbacks(execute=True):
        services.refresh_metrics(as_of=start + dt.timedelta(days=161))
    assert LifecycleTransition.objects.count() == 0  # the first run is the baseline
    assert not ChurnEpisode.objects.exists()

    later = start + dt.timedelta(days=206)
    with django_capture_on_commit_callbacks(execute=True):
        services.refresh_metrics(as_of=later)
    episode = ChurnEpisode.objects.get(member=regular)
    assert (episode.kind, episode.started_on, episode.ended_on) == ("overdue", later, None)
    assert episode.detail == {"usual_days": 30.0, "spread_days": 0.0, "silent_days": 46}
    overdue = [e for e in heard if isinstance(e, MemberOverdue)]
    assert overdue == [MemberOverdue(member_id=regular.pk, episode_id=episode.pk, usual_days=30.0, silent_days=46)]
    assert MemberMetrics.objects.get(member=regular).lifecycle_stage == "active"

    # Still overdue the next day: the same episode, no second event.
    with django_capture_on_commit_callbacks(execute=True):
        services.refresh_metrics(as_of=later + dt.timedelta(days=1))
    assert ChurnEpisode.objects.filter(member=regular).count() == 1
    assert len([e for e in heard if isinstance(e, MemberOverdue)]) == 1

    # Silent past the active window: the stage moves to at risk, and the move is stored.
    quiet = start + dt.timedelta(days=260)
    services.refresh_metrics(as_of=quiet)
    assert list(LifecycleTransition.objects.values_list("member_id", "day", "from_stage", "to_stage")) == [
        (regular.pk, quiet, "active", "at_risk")
    ]

    # The member comes back: the episode closes.
    back = start + dt.timedelta(days=262)
    buy(regular, back)
    with django_capture_on_commit_callbacks(execute=True):
        services.refresh_metrics(as_of=back)
    episode.refresh_from_db()
    assert episode.ended_on == back
    assert LifecycleTransition.objects.filter(day=back).get().to_stage == "active"
    assert len([e for e in heard if isinstance(e, MetricsRefreshed)]) == 4


def test_a_refresh_while_another_runs_is_refused(db):
    MetricsRun.objects.create(as_of=AS_OF, engine="duckdb", started_at=dt.datetime.now(dt.UTC))
    with pytest.raises(Conflict) as exc:
        services.refresh_metrics(as_of=AS_OF)
    assert exc.value.code == "analytics_run_in_progress"


def test_a_failed_run_keeps_the_last_metrics(db, monkeypatch):
    member = make_member()
    today = clock.local_today()
    services.refresh_metrics(as_of=today)
    assert MemberMetrics.objects.filter(member=member).exists()

    def broken(*args, **kwargs):
        raise RuntimeError("engine down")

    monkeypatch.setattr(engines, "compute", broken)
    with pytest.raises(RuntimeError):
        services.refresh_metrics(as_of=today + dt.timedelta(days=1))
    failed = MetricsRun.objects.latest("pk")
    assert failed.status == RunStatus.FAILED and "engine down" in failed.error
    assert MemberMetrics.objects.get(member=member).as_of == today


def test_an_unknown_engine_is_refused(db):
    with pytest.raises(ValidationFailed) as exc:
        services.refresh_metrics(engine="excel")
    assert exc.value.code == "unknown_engine"


def test_settings_are_validated_audited_and_used(db):
    with pytest.raises(ValidationFailed) as exc:
        services.update_settings({"recency_bands": [60, 30, 120, 240]})
    assert exc.value.code == "invalid_analytics_settings"
    with pytest.raises(ValidationFailed):
        services.update_settings({"short_days": 100})  # not under the medium window
    settings = services.update_settings({"rfm_method": "bands", "class_spend_high": "5000"})
    assert config.current() == settings
    params = settings.params(AS_OF)
    assert params.bands.monetary == (20_000, 50_000, 150_000, 400_000)
    assert params.class_spend_high == 500_000
    from patron.core.models import AuditEntry

    assert AuditEntry.objects.filter(action="analytics.settings_update").count() == 1


# --------------------------------------------------------------------------- engines agree


def _engine_rows(engine: str, params) -> tuple[list, list]:
    result = engines.compute(engine, params)
    return result.metrics.to_pylist(), result.categories.to_pylist()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_duckdb_and_postgresql_compute_identical_results():
    generate(DemoConfig(members=300, months=24, seed=5, now=NOW, batch_members=150, rewards=False))
    params = config.Settings().params(AS_OF)
    duck = _engine_rows("duckdb", params)
    pg = _engine_rows("postgres", params)
    assert len(duck[0]) > 250
    assert duck == pg


@pytest.mark.spark
# py4j leaves its gateway sockets to the garbage collector.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_duckdb_and_spark_compute_identical_results(demo):
    params = config.Settings().params(AS_OF)
    assert _engine_rows("duckdb", params) == _engine_rows("spark", params)


def test_a_run_left_running_by_a_dead_process_does_not_block_the_next(db):
    from patron.analytics.queries import STALE_AFTER

    dead = MetricsRun.objects.create(
        as_of=AS_OF, engine="duckdb", started_at=dt.datetime.now(dt.UTC) - STALE_AFTER - dt.timedelta(minutes=1)
    )
    make_member()
    run = services.refresh_metrics()
    assert run.status == RunStatus.DONE
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED and dead.error.startswith("abandoned")


def test_the_postgres_engine_runs_only_on_postgresql(db):
    assert ("postgres" in engines.available()) == (connection.vendor == "postgresql")
    if connection.vendor != "postgresql":
        with pytest.raises(ValidationFailed) as exc:
            services.refresh_metrics(engine="postgres")
        assert exc.value.code == "unknown_engine"
        assert not MetricsRun.objects.exists()
