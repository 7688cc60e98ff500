"""The ledger under concurrent writers: only a real database with row locks can show these races.
Run with DATABASE_URL=postgres://...

`clock.frozen` pins the time for the whole process, so it is used only while setting up, never
while the threads run.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from typing import Any

import pytest

from patron.core import clock
from patron.ledger import audit, queries, services
from patron.ledger.models import Account, AccountKind, Hold, HoldStatus
from tests.factories import make_member
from tests.threads import attempt, run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def assert_audit_ok() -> None:
    failed = [(c.name, c.detail, c.rows) for c in audit.run() if not c.ok]
    assert not failed, failed


def assert_no_negative_balance() -> None:
    assert not Account.objects.filter(
        kind__in=[AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.HELD], balance__lt=0
    ).exists()
    assert not Account.objects.filter(kind=AccountKind.DEBT).exclude(balance=0).exists()


def test_a_thousand_concurrent_redemptions_never_overspend():
    members = [make_member(name=f"会员{i}") for i in range(100)]
    for m in members:
        services.do_earn(member=m, points=500)
    rng = random.Random(20260310)
    requests = [(rng.randrange(len(members)), rng.randint(1, 100)) for _ in range(1000)]
    n_threads = 16

    def work(t: int) -> list[tuple[int, int, str | None]]:
        done = []
        for index, points in requests[t::n_threads]:
            _journal, refused = attempt(services.do_redeem, member=members[index], points=points)
            done.append((index, points, refused))
        return done

    outcomes = [row for rows in run_threads(n_threads, work) for row in rows]
    assert len(outcomes) == 1000
    accepted: dict[int, int] = defaultdict(int)
    for index, points, refused in outcomes:
        if refused is None:
            accepted[index] += points
    refusals = Counter(refused for _i, _p, refused in outcomes if refused is not None)
    assert set(refusals) <= {"insufficient_points"}, refusals
    assert refusals, "no request was refused: the test does not exhaust any balance"
    assert_no_negative_balance()
    for index, m in enumerate(members):
        final = queries.balance(m).available
        assert 0 <= final <= 500
        assert accepted[index] <= 500
        assert accepted[index] == 500 - final, (index, accepted[index], final)
    assert queries.liability().redeemed == sum(accepted.values())
    assert_audit_ok()


def test_earn_expiry_redemption_and_holds_at_once_reconcile():
    services.do_update_program(
        changes={
            "expiry": {
                "purchase": {"mode": "year_end", "n": 1},
                "activity": {"mode": "months", "n": 12},
                "bonus": {"mode": "months", "n": 1},  # earned 90 days ago: already past its date
                "adjustment": {"mode": "months", "n": 12},
            }
        }
    )
    members = [make_member(name=f"会员{i}") for i in range(30)]
    past = clock.now() - dt.timedelta(days=90)
    earned = 0
    to_expire = 0
    with clock.frozen(past):
        for i, m in enumerate(members):
            services.do_earn(member=m, points=200, point_type="purchase")
            services.do_earn(member=m, points=50 + i, point_type="bonus")
            earned += 250 + i
            to_expire += 50 + i
    n_workers = 12
    rng = random.Random(7)
    plans = [[(rng.randrange(len(members)), rng.randint(1, 60)) for _ in range(60)] for _ in range(n_workers)]

    def work(t: int) -> dict[str, Any]:
        tally: dict[str, Any] = {"earned": 0, "redeemed": 0, "committed": 0, "refused": Counter(), "expiry_runs": 0}
        if t == 0:  # the expiry job, run over and over beside everything else
            for _ in range(20):
                services.run_expiry()
                tally["expiry_runs"] += 1
            return tally
        role = t % 3  # 1, 4, 7, 10: earn; 2, 5, 8, 11: redeem; 3, 6, 9: holds
        for index, points in plans[t]:
            member = members[index]
            if role == 1:
                services.do_earn(member=member, points=points, point_type="purchase")
                tally["earned"] += points
            elif role == 2:
                _journal, refused = attempt(services.do_redeem, member=member, points=points)
                if refused:
                    tally["refused"][refused] += 1
                else:
                    tally["redeemed"] += points
            else:
                hold, refused = attempt(services.do_hold, member=member, points=points)
                if refused:
                    tally["refused"][refused] += 1
                    continue
                if points % 2:
                    services.do_commit_hold(hold=hold)
                    tally["committed"] += points
                else:
                    services.do_void_hold(hold=hold)
        return tally

    tallies = run_threads(n_workers, work)
    services.run_expiry()  # whatever raced past the last run
    earned += sum(t["earned"] for t in tallies)
    spent = sum(t["redeemed"] + t["committed"] for t in tallies)
    refusals = sum((t["refused"] for t in tallies), Counter())
    assert set(refusals) <= {"insufficient_points"}, refusals

    assert_no_negative_balance()
    assert not Hold.objects.filter(status=HoldStatus.OPEN).exists()
    figures = queries.liability()
    assert figures.issued == earned
    assert figures.expired == to_expire  # exactly the lots past their date, once
    assert figures.redeemed == spent
    assert figures.outstanding == earned - spent - to_expire
    assert sum(queries.balance(m).total for m in members) == figures.outstanding
    assert_audit_ok()


def test_fifty_threads_closing_one_hold_exactly_one_wins():
    member = make_member()
    services.do_earn(member=member, points=500)
    hold = services.do_hold(member=member, points=120)

    def close(i: int) -> tuple[str, str | None]:
        action = services.do_commit_hold if i % 2 else services.do_void_hold
        _journal, refused = attempt(action, hold=Hold.objects.get(pk=hold.pk))
        return action.__name__, refused

    results = run_threads(50, close)
    winners = [name for name, refused in results if refused is None]
    assert len(winners) == 1, results
    assert {refused for _name, refused in results if refused is not None} == {"hold_not_open"}
    hold.refresh_from_db()
    b = queries.balance(member)
    if winners == ["do_commit_hold"]:
        assert hold.status == HoldStatus.COMMITTED
        assert (b.available, b.held) == (380, 0)
    else:
        assert hold.status == HoldStatus.VOIDED
        assert (b.available, b.held) == (500, 0)
    assert_audit_ok()
