"""Activity points: limits per local day, month and lifetime, references that pay once, streaks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from patron.core import clock
from patron.core.errors import ValidationFailed
from patron.core.models import AuditEntry
from patron.earning import activities, queries, services
from patron.earning.models import ActivityAward
from patron.ledger import audit
from patron.ledger import queries as ledger_queries
from patron.members import services as member_services
from patron.members.models import TimelineEntry
from tests.factories import make_member

UTC = dt.UTC


def local(y: int, mo: int, d: int, h: int = 12, mi: int = 0) -> dt.datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return dt.datetime(y, mo, d, h, mi, tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(UTC)


T0 = local(2026, 3, 10)


@pytest.fixture(autouse=True)
def _invariants_hold(db):
    yield
    failed = [c for c in audit.run() if not c.ok]
    assert not failed, [(c.name, c.detail, c.rows) for c in failed]


@pytest.fixture
def member(db):
    return make_member()


def award(member, activity: str, reference: str = "", at: dt.datetime = T0) -> ActivityAward:
    with clock.frozen(at):
        return services.do_award_activity(member=member, activity=activity, reference=reference, at=at)


def refused(member, activity: str, reference: str = "", at: dt.datetime = T0) -> str:
    with pytest.raises(ValidationFailed) as err:
        award(member, activity, reference, at)
    return err.value.code


def test_check_in_pays_activity_points_with_a_journal_and_a_timeline_row(member):
    a = award(member, "daily_checkin")
    assert (a.points, a.bonus_points, a.streak, a.local_date) == (5, 0, 1, dt.date(2026, 3, 10))
    assert a.journal.points == 5 and a.journal.detail["activity"] == "daily_checkin"
    assert a.journal.detail["rules"] == [
        {"id": "activity:daily_checkin", "name": "每日签到", "points": 5, "type": "activity"}
    ]
    assert ledger_queries.balance(member).by_type["activity"]["available"] == 5
    row = TimelineEntry.objects.get(member=member, kind="activity_awarded")
    assert row.data["activity"] == "daily_checkin" and row.data["points"] == 5


def test_check_in_once_per_local_day_across_the_utc_date_boundary(member):
    # 00:30 on 10 March in Shanghai is 9 March in UTC; 23:00 the same local day is 10 March in UTC
    award(member, "daily_checkin", at=local(2026, 3, 10, 0, 30))
    assert refused(member, "daily_checkin", at=local(2026, 3, 10, 23, 0)) == "activity_limit_reached"
    # midnight in Shanghai (16:00 UTC) is the next day
    nxt = award(member, "daily_checkin", at=local(2026, 3, 11, 0, 0))
    assert nxt.local_date == dt.date(2026, 3, 11) and nxt.streak == 2


def test_streak_bonus_on_the_seventh_day_and_every_seventh_after(member):
    got = [award(member, "daily_checkin", at=local(2026, 3, 1 + i)) for i in range(14)]
    assert [a.streak for a in got] == list(range(1, 15))
    assert [a.points for a in got] == [5] * 6 + [55] + [5] * 6 + [55]
    seventh = got[6]
    assert seventh.bonus_points == 50
    assert [r["points"] for r in seventh.journal.detail["rules"]] == [5, 50]
    assert seventh.journal.detail["rules"][1]["name"] == "每日签到: 7 days in a row"


def test_a_missed_day_restarts_the_streak(member):
    for day in (1, 2, 3):
        award(member, "daily_checkin", at=local(2026, 3, day))
    assert award(member, "daily_checkin", at=local(2026, 3, 5)).streak == 1


def test_checkin_streak_is_alive_until_a_day_is_missed(member):
    assert queries.checkin_streak(member, at=local(2026, 3, 1)) == 0
    for day in (1, 2, 3):
        award(member, "daily_checkin", at=local(2026, 3, day))
    assert queries.checkin_streak(member, at=local(2026, 3, 3, 23)) == 3
    assert queries.checkin_streak(member, at=local(2026, 3, 4, 9)) == 3  # today's check-in still to come
    assert queries.checkin_streak(member, at=local(2026, 3, 5, 9)) == 0
    with clock.frozen(local(2026, 3, 3, 20)):
        assert queries.checkin_streak(member) == 3


def test_profile_completion_pays_once_ever(member):
    assert award(member, "profile_completed").points == 50
    assert refused(member, "profile_completed", at=local(2027, 1, 1)) == "activity_limit_reached"


def test_a_survey_pays_once_per_reference_and_needs_one(member):
    assert refused(member, "survey_answered") == "reference_required"
    award(member, "survey_answered", reference="NPS-2026Q1")
    assert refused(member, "survey_answered", reference="NPS-2026Q1", at=local(2026, 4, 1)) == "already_awarded"
    assert award(member, "survey_answered", reference="NPS-2026Q2").points == 20
    # another member may answer the same survey
    assert award(make_member(), "survey_answered", reference="NPS-2026Q1").points == 20


def test_monthly_limit_counts_the_local_calendar_month(member):
    for i in range(10):
        award(member, "survey_answered", reference=f"S{i}", at=local(2026, 3, 1 + i))
    assert refused(member, "survey_answered", reference="S10", at=local(2026, 3, 31, 23, 59)) == (
        "activity_limit_reached"
    )
    assert award(member, "survey_answered", reference="S10", at=local(2026, 4, 1, 0, 0)).points == 20


def test_daily_limit_above_one(member):
    for i in range(3):
        assert award(member, "review_written", reference=f"R{i}").day_seq == i + 1
    assert refused(member, "review_written", reference="R3") == "activity_limit_reached"
    assert award(member, "review_written", reference="R3", at=local(2026, 3, 11)).day_seq == 1


def test_unknown_and_disabled_activities(member):
    assert refused(member, "moon_landing") == "unknown_activity"
    config = activities.current().model_dump(mode="json")
    config["activities"]["review_written"]["enabled"] = False
    services.do_update_activity_program(config=config)
    assert refused(member, "review_written", reference="R1") == "unknown_activity"


def test_only_active_members_earn_activity_points(member):
    member_services.do_change_status(member=member, status="frozen", reason="card reported stolen")
    assert refused(member, "daily_checkin") == "member_frozen"
    other = make_member()
    member_services.do_change_status(member=other, status="closed", reason="asked to leave")
    assert refused(other, "daily_checkin") == "member_not_active"
    assert not ActivityAward.objects.exists()


def test_the_activity_program_is_configurable_and_audited(member):
    config = activities.current().model_dump(mode="json")
    config["activities"]["daily_checkin"]["points"] = 8
    config["activities"]["daily_checkin"]["streak_bonuses"] = [{"day": 3, "points": 30}]
    config["activities"]["app_download"] = {"label": "下载 App", "points": 40, "lifetime": 1}
    services.do_update_activity_program(config=config)
    assert AuditEntry.objects.filter(action="earning.activity_program_update").count() == 1
    got = [award(member, "daily_checkin", at=local(2026, 3, d)).points for d in (1, 2, 3, 4)]
    assert got == [8, 8, 38, 8]  # without `repeat` the bonus is paid on day 3 only
    assert award(member, "app_download").points == 40


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"daily_checkin": {"label": "x", "points": 0}}, "activities.daily_checkin.points"),
        (
            {"daily_checkin": {"label": "x", "points": 5, "streak_bonuses": [{"day": 7, "points": 50}]}},
            "activities.daily_checkin",
        ),
        ({"survey": {"label": "x", "points": 5, "per_day": 5, "per_month": 2}}, "activities.survey"),
        ({"bad key!": {"label": "x", "points": 5}}, "activities"),
        ({"survey": {"label": "x", "points": 5, "colour": "red"}}, "activities.survey.colour"),
    ],
)
def test_an_invalid_activity_program_is_refused(db, change, field):
    with pytest.raises(ValidationFailed) as err:
        services.do_update_activity_program(config={"activities": change})
    assert err.value.code == "invalid_activity_program"
    assert field in err.value.fields, err.value.fields


def test_the_database_refuses_a_second_check_in_on_one_local_day(member):
    first = award(member, "daily_checkin")
    second = award(member, "daily_checkin", at=local(2026, 3, 11))
    with pytest.raises(IntegrityError), transaction.atomic():
        ActivityAward.objects.filter(pk=second.pk).update(local_date=first.local_date)


def test_the_database_refuses_a_reference_twice(member):
    award(member, "event_attended", reference="E1")
    second = award(member, "event_attended", reference="E2")
    with pytest.raises(IntegrityError), transaction.atomic():
        ActivityAward.objects.filter(pk=second.pk).update(reference="E1")
