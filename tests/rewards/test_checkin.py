"""Daily check-in (签到): once per member per local day, in the program's zone or the member's own,
with the streak, its day-7 bonus and the calendar."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from patron.core import clock
from patron.core.errors import DomainError
from patron.members import services as members
from patron.rewards import queries, services
from tests.rewards.factories import member_with_points

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str, zone: ZoneInfo = SHANGHAI) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(dt.UTC)


def check_in(member, when: dt.datetime):
    with clock.frozen(when):
        return services.do_check_in(member=member)


def test_once_per_local_day_in_the_programs_zone():
    member = member_with_points(0)
    check_in(member, at("2026-12-01 23:50"))
    with pytest.raises(DomainError) as exc:
        check_in(member, at("2026-12-01 08:00"))
    assert str(exc.value.code) == "activity_limit_reached"
    # Ten minutes later it is the 2nd in Shanghai (still the 1st in UTC): a new day, a streak of two.
    assert check_in(member, at("2026-12-02 00:00")).streak == 2


def test_a_member_in_another_zone_checks_in_on_their_own_day():
    member = member_with_points(0)
    members.do_update_member(member=member, changes={"time_zone": "America/Los_Angeles"})
    member.refresh_from_db()
    la = ZoneInfo("America/Los_Angeles")
    first = check_in(member, at("2026-12-01 09:00", la))  # 01:00 on the 2nd in Shanghai
    assert first.local_date == dt.date(2026, 12, 1)
    with pytest.raises(DomainError):
        check_in(member, at("2026-12-01 20:00", la))  # the 2nd in Shanghai, still the 1st in Los Angeles
    assert check_in(member, at("2026-12-02 07:00", la)).local_date == dt.date(2026, 12, 2)


def test_an_unknown_zone_is_refused():
    member = member_with_points(0)
    with pytest.raises(DomainError) as exc:
        members.do_update_member(member=member, changes={"time_zone": "Mars/Olympus"})
    assert "time_zone" in exc.value.fields


def test_the_seventh_day_pays_the_streak_bonus_and_the_calendar_shows_the_month():
    member = member_with_points(0)
    for day in range(1, 8):
        done = check_in(member, at(f"2026-11-{day:02d} 09:00"))
    assert done.streak == 7 and done.bonus_points == 50 and done.points == 55
    with clock.frozen(at("2026-11-07 12:00")):
        cal = queries.check_in_month(member)
    assert cal.days == [dt.date(2026, 11, d) for d in range(1, 8)]
    assert cal.checked_in_today and cal.streak == 7
    assert (cal.next_bonus_in, cal.next_bonus_points) == (7, 50)  # day 14
    with clock.frozen(at("2026-11-09 12:00")):  # missed the 8th: the streak is broken
        broken = queries.check_in_month(member)
    assert broken.streak == 0 and not broken.checked_in_today and broken.next_bonus_in == 7
