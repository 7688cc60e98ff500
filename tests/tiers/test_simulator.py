"""The simulator replays what the live engine does: run a year of sales and refunds through the live
path (with the daily job every morning), then simulate the live model over the same year and find
the same tiers and the same moves. Plus the report's figures on a hand-checkable history."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from patron.members import services as members
from patron.members.models import Transaction
from patron.tiers import services
from patron.tiers.models import MemberTier, Simulation, SimulationStatus, TierChange
from patron.tiers.replay import events_by_member, join_days, replay_member
from patron.tiers.simulator import Period, Simulator
from tests.factories import make_member, make_sale
from tests.tiers.conftest import at, on
from tests.tiers.models import ladder, parsed

pytestmark = pytest.mark.django_db

YEAR = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
# Reviews inside the year (every 3 months over a rolling 6), grace, refunds undoing upgrades.
POLICY = {
    "window": {"kind": "rolling", "months": 6},
    "review": {"kind": "every_n_months", "months": 3},
    "grace_days": 10,
    "downgrade": "one_level",
}


def _plan(seed: int, member_count: int) -> list[tuple[dt.datetime, int, str, str | None]]:
    """(when, member index, amount, refund of which external id or None), in time order."""
    rng = random.Random(seed)
    plan = []
    for index in range(member_count):
        rhythm = rng.choice([7, 14, 30, 60])
        day = dt.datetime(2025, 1, 1, 9) + dt.timedelta(days=rng.randrange(40))
        n = 0
        while day.year == 2025:
            amount = rng.choice(["80", "260", "480", "900", "1500", "2600", "4990.99"])
            ext = f"M{index}-{n}"
            plan.append((day + dt.timedelta(minutes=rng.randrange(600)), index, amount, None, ext))
            if rng.random() < 0.12:
                later = day + dt.timedelta(days=rng.randrange(1, 20), hours=3)
                part = amount if rng.random() < 0.5 else str((Decimal(amount) / 2).quantize(Decimal("0.01")))
                plan.append((later, index, part, ext, f"R{index}-{n}"))
            n += 1
            # Some members stop buying half way (they will move down).
            if index % 4 == 0 and day.month > 6:
                break
            day += dt.timedelta(days=max(1, int(rng.gauss(rhythm, rhythm / 3))))
    return sorted(plan)


def _run_live(store, member_count: int, seed: int):
    with on("2024-12-01 10:00"):
        people = [make_member(name=f"会员{i}") for i in range(member_count)]
    sales: dict[str, Transaction] = {}
    plan = [p for p in _plan(seed, member_count) if p[0].year == 2025]
    day = YEAR.first
    index = 0
    while day <= YEAR.last:
        with on(f"{day.isoformat()} 02:00"):
            services.run_reviews()
        while index < len(plan) and plan[index][0].date() == day:
            when, who, amount, refund_of, ext = plan[index]
            index += 1
            text = when.strftime("%Y-%m-%d %H:%M")
            with on(text):
                if refund_of is None:
                    sales[ext] = make_sale(people[who], store, amount=amount, external_id=ext, occurred_at=at(text))
                elif refund_of in sales:
                    original = sales[refund_of]
                    left = original.amount - members.refunded_so_far(original)
                    if left > 0:
                        members.do_record_refund(
                            original=original,
                            external_id=ext,
                            amount=min(Decimal(amount), left),
                            occurred_at=at(text),
                        )
        day += dt.timedelta(days=1)
    with on("2025-12-31 23:59"):
        services.run_reviews()
    return people


def test_the_simulation_of_the_live_model_is_what_the_live_engine_did(live, store):
    model = live(**POLICY)
    people = _run_live(store, member_count=16, seed=7)
    config = model.parsed()
    live_tiers = {row.member_id: row.level for row in MemberTier.objects.all()}
    live_moves = {
        m.pk: list(
            TierChange.objects.filter(member=m).order_by("at", "id").values_list("from_code", "to_code", "reason")
        )
        for m in people
    }
    start, end = at("2025-01-01 00:00"), at("2026-01-01 00:00")
    lo, hi = min(p.pk for p in people), max(p.pk for p in people) + 1
    joined = join_days(lo, hi)
    replayed = {}
    engine = services.TierEngine(config)
    for member_id, events in events_by_member(lo, hi, start, end, with_points=engine.counts_points):
        run = replay_member(engine.for_member(joined[member_id]), member_id, events, YEAR.last.toordinal())
        codes = config.codes
        replayed[member_id] = (run.state.level, [(codes[m.before], codes[m.after], m.reason) for m in run.moves])
    assert {m: r[0] for m, r in replayed.items()} == {m: live_tiers.get(m, 0) for m in replayed}
    assert {m: r[1] for m, r in replayed.items()} == {m: live_moves[m] for m in replayed}
    # The history is not trivial: upgrades, reviews, graces and refunds all happened.
    reasons = {reason for moves in live_moves.values() for _f, _t, reason in moves}
    assert {"rule", "grace", "refund"} <= reasons

    result = Simulator(config, YEAR, baseline=config).run()
    by_code = {row["code"]: row["members"] for row in result["tiers"]}
    for level, code in enumerate(config.codes):
        assert by_code[code] == sum(1 for m in people if live_tiers.get(m.pk, 0) == level)
    changes = TierChange.objects.filter(member__in=people)
    ups = sum(1 for c in changes if config.level_of(c.to_code) > config.level_of(c.from_code))
    assert (result["summary"]["upgrades"], result["summary"]["downgrades"]) == (ups, changes.count() - ups)
    # Baseline = the same model: every member on the diagonal.
    cells = result["matrix"]["cells"]
    assert sum(cells[i][i] for i in range(len(cells))) == result["summary"]["members"]


def _history(store):
    """Five members over 2025: ¥600 (base), ¥700 + ¥500 (silver), ¥6,000 then ¥100 at gold, ¥4,600
    (silver, just below gold), and one who never buys."""
    with on("2024-06-01 10:00"):
        people = [make_member(name=f"会员{i}") for i in range(5)]
    plans = [["600"], ["700", "500"], ["6000", "100"], ["4600"]]
    for person, amounts in zip(people, plans, strict=False):
        for i, amount in enumerate(amounts):
            when = f"2025-0{3 + i}-10 12:00"
            with on(when):
                make_sale(person, store, amount=amount, occurred_at=at(when))
    return people


def test_the_report_counts_tiers_revenue_cost_and_members_just_below(store):
    from patron.ledger import program
    from tests.earning.rules import one_point_per_yuan

    one_point_per_yuan()
    _history(store)
    config = parsed()
    result = Simulator(config, YEAR, baseline_kind="none").run()
    rows = {row["code"]: row for row in result["tiers"]}
    assert [rows[c]["members"] for c in config.codes] == [2, 2, 1, 0]
    assert [rows[c]["revenue"] for c in config.codes] == ["600.00", "5800.00", "6100.00", "0.00"]
    assert rows["silver"]["spend_per_member"] == "2900.00"
    assert rows["gold"]["just_below"] == 1 and rows["diamond"]["just_below"] == 0
    # Only the ¥100 sale was made at gold: 100 points × 0.5 extra.
    assert rows["gold"]["cost"]["multiplier_points"] == 50
    rate = Decimal(program.current().points_per_currency_unit)
    assert Decimal(rows["gold"]["cost"]["multiplier"]) == (Decimal(50) / rate).quantize(Decimal("0.01"))
    assert result["summary"]["members"] == 5
    assert (result["summary"]["upgrades"], result["summary"]["downgrades"]) == (3, 0)
    assert rows["silver"]["share"] == 0.4


def test_backtest_reports_who_kept_their_tier_in_the_next_period(store):
    people = _history(store)
    with on("2026-02-10 12:00"):
        make_sale(people[2], store, amount="7000", occurred_at=at("2026-02-10 12:00"))  # gold keeps buying
    result = Simulator(
        parsed(), YEAR, baseline_kind="none", backtest=Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    ).run()
    rows = {row["code"]: row for row in result["backtest"]["tiers"]}
    # The 2026-01-01 review judges 2025, which every one of them qualified in: all kept through B.
    assert [(rows[c]["members"], rows[c]["kept"]) for c in ("base", "silver", "gold")] == [(2, 2), (2, 2), (1, 1)]
    assert rows["gold"]["revenue_b"] == "7000.00" and rows["silver"]["revenue_b"] == "0.00"


def test_backtest_counts_members_who_moved_down_in_the_next_period(store):
    with on("2024-06-01 10:00"):
        buyer, steady = make_member(name="甲"), make_member(name="乙")
    for person, when, amount in [
        (buyer, "2025-12-01 12:00", "6000"),
        (steady, "2025-11-01 12:00", "6000"),
        (steady, "2026-05-01 12:00", "6000"),
    ]:
        with on(when):
            make_sale(person, store, amount=amount, occurred_at=at(when))
    config = parsed(**{**POLICY, "grace_days": 0})
    later = Period(dt.date(2026, 1, 1), dt.date(2026, 9, 30))
    result = Simulator(config, YEAR, baseline_kind="none", backtest=later).run()
    gold = next(row for row in result["backtest"]["tiers"] if row["code"] == "gold")
    # The buyer's ¥6,000 leaves the rolling 6 months before the 2026-09-01 review: one level down.
    assert (gold["members"], gold["kept"], gold["down"], gold["revenue_b"]) == (2, 1, 1, "6000.00")


def test_previous_period_baseline_gives_the_matrix_rows(store):
    people = _history(store)
    with on("2024-05-01 12:00"):
        make_sale(people[0], store, amount="9000", occurred_at=at("2024-05-01 12:00"))  # gold in 2024
    result = Simulator(parsed(), YEAR, baseline_kind="previous").run()
    matrix = result["matrix"]
    assert matrix["rows"] == matrix["cols"] == ["base", "silver", "gold", "diamond"]
    assert matrix["cells"][2][0] == 1  # gold in 2024, base in 2025


def test_a_simulation_runs_in_the_background_and_is_saved_with_an_excel_export(
    store, django_capture_on_commit_callbacks
):
    from patron.tiers.exports import simulation_xlsx

    _history(store)
    with on("2026-03-01 10:00"):
        model = services.do_create_model(name="候选", config=ladder())
        with django_capture_on_commit_callbacks(execute=True):
            simulation = services.do_start_simulation(model=model, first=YEAR.first, last=YEAR.last, baseline="none")
    simulation = Simulation.objects.get(pk=simulation.pk)
    assert simulation.status == SimulationStatus.DONE and simulation.progress == 100
    assert simulation.result["summary"]["members"] == 5
    assert simulation_xlsx(simulation)[:2] == b"PK"


@pytest.mark.parametrize(
    ("first", "last", "backtest"),
    [
        ("2025-06-01", "2025-01-01", None),
        ("2025-01-01", "2030-01-01", None),
        ("2025-01-01", "2025-12-31", ("2025-06-01", "2025-12-31")),
    ],
)
def test_a_simulation_needs_a_sensible_past_period(store, first, last, backtest):
    from patron.core.errors import ValidationFailed

    model = services.do_create_model(name="候选", config=ladder())
    with on("2026-03-01 10:00"), pytest.raises(ValidationFailed):
        services.do_start_simulation(
            model=model,
            first=dt.date.fromisoformat(first),
            last=dt.date.fromisoformat(last),
            backtest=tuple(dt.date.fromisoformat(d) for d in backtest) if backtest else None,
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_processes_share_the_chunks_and_give_the_same_result(store):
    _history(store)
    sequential = Simulator(parsed(), YEAR, baseline=parsed(), chunk=2).run(workers=1)
    parallel = Simulator(parsed(), YEAR, baseline=parsed(), chunk=2).run(workers=2)
    for result in (sequential, parallel):
        result["summary"].pop("seconds")
    assert parallel == sequential
    assert sequential["summary"]["members"] == 5
