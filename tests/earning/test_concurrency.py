"""Caps, budgets and activity limits under concurrent earns. Run with DATABASE_URL=postgres://..."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from patron.core.errors import DomainError
from patron.earning import engine, services
from patron.earning.models import ActivityAward, MemberRuleUsage, RuleBudget
from patron.ledger import audit
from patron.ledger.models import Journal
from tests.earning.rules import make_rule
from tests.factories import make_member
from tests.threads import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _invariants_hold():
    yield
    failed = [c for c in audit.run() if not c.ok]
    assert not failed, [(c.name, c.detail, c.rows) for c in failed]


def basket() -> engine.Basket:
    return engine.Basket("SH001", "store", dt.datetime.now(dt.UTC), Decimal("100.00"), "CNY")


def earned(results: list[Any]) -> list[int]:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return sorted(sum(j.points for j in journals) for journals in results)


@pytest.mark.parametrize(("budget", "expected"), [(500, [0] * 15 + [100] * 5), (450, [0] * 15 + [50] + [100] * 4)])
def test_twenty_concurrent_earns_never_overspend_a_budget(budget, expected):
    rule = make_rule("opening", kind="fixed_bonus", points=100, budget=budget)
    members = [make_member() for _ in range(20)]
    # Every quote is made before any earn: each sees the whole budget free.
    quotes = [services.quote(m, basket()) for m in members]
    assert all(q.total == 100 for q in quotes)

    results = race(20, lambda i: services.do_earn_for_quote(members[i], quotes[i]))

    assert earned(results) == expected
    assert RuleBudget.objects.get(rule=rule).awarded == budget
    assert sum(Journal.objects.values_list("points", flat=True)) == budget


def test_ten_concurrent_earns_of_one_member_never_pass_the_daily_cap():
    make_rule("daily", kind="fixed_bonus", points=100, caps={"per_member_day": 300})
    member = make_member()
    quotes = [services.quote(member, basket()) for _ in range(10)]

    results = race(10, lambda i: services.do_earn_for_quote(member, quotes[i]))

    assert earned(results) == [0] * 7 + [100] * 3
    assert MemberRuleUsage.objects.get(period__startswith="d:").points == 300


def test_ten_concurrent_check_ins_pay_once():
    member = make_member()

    results = race(10, lambda i: services.do_award_activity(member=member, activity="daily_checkin"))

    paid = [r for r in results if isinstance(r, ActivityAward)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(paid) == 1 and len(refused) == 9, results
    assert {e.code for e in refused} == {"activity_limit_reached"}
    assert ActivityAward.objects.count() == 1


def test_ten_concurrent_awards_of_one_survey_pay_once():
    member = make_member()

    results = race(
        10, lambda i: services.do_award_activity(member=member, activity="survey_answered", reference="NPS-1")
    )

    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 9 and {e.code for e in refused} == {"already_awarded"}, results
    assert ActivityAward.objects.count() == 1
