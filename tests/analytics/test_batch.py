"""The batch expressions on small hand-made histories with known answers (DuckDB, no database)."""

from __future__ import annotations

import math

import pytest

from patron.analytics import batch
from tests.analytics.history import every, metrics, params_, ts

# --------------------------------------------------------------------------- purchase figures


def test_two_receipts_on_one_local_day_are_one_purchase_day():
    rows = metrics({1: [(5, 1000), (5, 2500), (6, 700)]})
    m = rows[1]
    assert (m["purchase_days"], m["receipts"], m["sales_cents"]) == (2, 3, 4200)
    assert m["average_basket_cents"] == 1400
    assert m["first_day_cents"] == 700  # the day six days ago


def test_a_day_is_the_program_s_local_day():
    # 23:30 and 00:30 local time are two days, though both fall on one UTC day (15:30 and 16:30).
    from tests.analytics import history

    late, early = ts(3, hour=23) + 1800, ts(2, hour=0) + 1800
    assert late // 86400 == early // 86400  # the same UTC day
    tables = history.inputs({1: []})
    tables["purchases"] = tables["purchases"].from_pylist(
        [
            {"txn_id": 1, "member_id": 1, "ts": late, "kind": "sale", "cents": 100},
            {"txn_id": 2, "member_id": 1, "ts": early, "kind": "sale", "cents": 100},
        ],
        schema=tables["purchases"].schema,
    )
    import ibis

    t = {k: ibis.memtable(v) for k, v in tables.items()}
    row = ibis.duckdb.connect().to_pyarrow(batch.member_metrics(t["purchases"], t["members"], t["points"], params_()))
    assert row.to_pylist()[0]["purchase_days"] == 2


def test_windows_count_the_last_n_days_including_today():
    rows = metrics({1: [(0, 100), (29, 100), (30, 100), (89, 100), (90, 100), (364, 100), (365, 100)]})
    m = rows[1]
    assert (m["purchase_days_short"], m["purchase_days_medium"], m["purchase_days_long"]) == (2, 4, 6)
    assert (m["spend_cents_short"], m["spend_cents_medium"], m["spend_cents_long"]) == (200, 400, 600)
    assert m["purchase_days"] == 7


def test_purchases_after_the_day_are_left_out():
    rows = metrics({1: [(-1, 500), (10, 100)]})
    assert rows[1]["purchase_days"] == 1
    assert rows[1]["last_day"] == rows[1]["first_day"]


def test_spend_is_net_of_refunds_on_the_refund_s_day():
    rows = metrics({1: [(100, 10_000), (10, 4_000, "refund"), (5, 3_000)]})
    m = rows[1]
    assert m["sales_cents"] == 13_000
    assert m["spend_cents"] == 9_000
    assert m["spend_cents_short"] == -1_000  # this month: 3,000 bought, 4,000 refunded
    assert (m["refunds"], m["refund_cents"]) == (1, 4_000)
    assert m["purchase_days"] == 2  # a refund is not a purchase


def test_a_member_without_purchases_has_zeros_not_nulls():
    m = metrics({1: []}, joined={1: 10})[1]
    assert (m["purchase_days"], m["spend_cents"], m["refunds"], m["earned"]) == (0, 0, 0, 0)
    assert m["first_day"] is None and m["recency_days"] is None and m["average_basket_cents"] is None
    assert m["r_score"] is None and m["rfm_segment"] is None and m["value_class"] is None


def test_points_are_joined_per_member():
    rows = metrics({1: [(1, 100)], 2: [(1, 100)]}, points={2: (300, 120)})
    assert (rows[1]["earned"], rows[1]["redeemed"]) == (0, 0)
    assert (rows[2]["earned"], rows[2]["redeemed"]) == (300, 120)


def test_intervals_between_purchase_days():
    rows = metrics({1: every(30, 5), 2: [(0, 1), (10, 1), (40, 1), (50, 1)], 3: [(3, 1)]})
    assert (rows[1]["interval_mean"], rows[1]["interval_median"], rows[1]["interval_spread"]) == (30, 30, 0)
    gaps = [10, 30, 10]
    mean = sum(gaps) / 3
    assert rows[2]["interval_mean"] == pytest.approx(mean)
    assert rows[2]["interval_median"] == 10
    assert rows[2]["interval_spread"] == pytest.approx(math.sqrt(sum((g - mean) ** 2 for g in gaps) / 3))
    assert rows[3]["interval_median"] is None  # one purchase: no interval


# --------------------------------------------------------------------------- RFM


def test_quintile_scores_by_rank_with_ties_sharing_a_score():
    # Members 1..10 bought 1..10 times in the window; 11 and 12 bought 4 times like member 4.
    history = {m: every(7, m, cents=1000 * m) for m in range(1, 11)}
    history[11] = every(7, 4, cents=4000)
    history[12] = every(7, 4, cents=4000)
    rows = metrics(history)
    f = {m: rows[m]["f_score"] for m in rows}
    # 12 buyers: rank (0-based, ties share the lowest) * 5 // 12 + 1
    # frequencies 1, 2, 3, 4 (x3), 5 .. 10 have ranks 0, 1, 2, 3, 6 .. 11
    assert [f[m] for m in range(1, 11)] == [1, 1, 1, 2, 3, 3, 4, 4, 5, 5]
    assert f[11] == f[12] == f[4]


def test_recency_scores_favour_the_most_recent():
    rows = metrics({m: [(m * 10, 100)] for m in range(1, 6)})
    assert [rows[m]["r_score"] for m in range(1, 6)] == [5, 4, 3, 2, 1]


def test_members_who_did_not_buy_in_the_window_get_no_scores_and_do_not_shift_the_others():
    rows = metrics({1: [(400, 100)], 2: [(10, 100)], 3: [(20, 100)]})
    assert rows[1]["r_score"] is None and rows[1]["rfm_frequency"] == 0
    assert (rows[2]["r_score"], rows[3]["r_score"]) == (3, 1)  # ranks 1 and 0 of 2 buyers


def test_fixed_bands():
    bands = batch.Bands(recency=(30, 60, 120, 240), frequency=(1, 2, 4, 8), monetary=(20_000, 50_000, 150_000, 400_000))
    rows = metrics(
        {1: every(3, 9, cents=50_000), 2: [(45, 20_000)], 3: [(130, 20_001), (300, 100)], 4: [(240, 1)]},
        params_(bands=bands),
    )
    assert (rows[1]["r_score"], rows[1]["f_score"], rows[1]["m_score"]) == (5, 5, 5)
    assert (rows[2]["r_score"], rows[2]["f_score"], rows[2]["m_score"]) == (4, 1, 1)
    assert (rows[3]["r_score"], rows[3]["f_score"], rows[3]["m_score"]) == (2, 2, 2)
    assert rows[4]["r_score"] == 1  # exactly 240 days is not under 240


@pytest.mark.parametrize(
    ("r", "f", "segment"),
    [
        (5, 5, "champions"),
        (5, 4, "champions"),
        (4, 5, "loyal"),
        (3, 4, "loyal"),
        (5, 1, "new"),
        (4, 2, "potential"),
        (3, 1, "hibernating"),
        (2, 2, "hibernating"),
        (2, 3, "at_risk"),
        (1, 4, "at_risk"),
        (1, 5, "cant_lose"),
        (2, 5, "cant_lose"),
        (1, 1, "lost"),
        (1, 2, "lost"),
    ],
)
def test_rfm_segments_from_r_and_f(r, f, segment):
    recency_days = {5: 10, 4: 45, 3: 90, 2: 180, 1: 300}[r]
    times = {1: 1, 2: 2, 3: 4, 4: 8, 5: 9}[f]
    bands = batch.Bands(recency=(30, 60, 120, 240), frequency=(1, 2, 4, 8), monetary=(1, 2, 3, 4))
    history = [(recency_days + k, 100) for k in range(times)]  # consecutive days: the last is the most recent
    m = metrics({1: history}, params_(bands=bands))[1]
    assert (m["r_score"], m["f_score"], m["rfm_segment"]) == (r, f, segment)


def test_every_cell_of_the_grid_has_a_segment():
    assert all(len(row) == 5 for row in batch.RFM_GRID.values())
    assert sorted(batch.RFM_GRID) == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------------- A/B/C/D


def test_value_classes_by_frequency_and_spend():
    p = params_(class_frequency_high=6, class_frequency_low=3, class_spend_high=300_000, class_spend_low=80_000)
    rows = metrics(
        {
            1: every(30, 6, cents=50_000),  # 6 purchases, ¥3,000: A
            2: every(30, 6, cents=49_999),  # just under ¥3,000: B
            3: every(30, 3, cents=30_000),  # 3 purchases, ¥900: B
            4: every(30, 2, cents=50_000),  # ¥1,000 but seldom: C
            5: every(30, 5, cents=1_000),  # often but little: D
        },
        p,
    )
    assert [rows[m]["value_class"] for m in range(1, 6)] == ["A", "B", "B", "C", "D"]


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle_stages():
    rows = metrics(
        {
            1: [],  # joined, never bought
            2: [(20, 100), (60, 100)],  # first purchase 60 days ago
            3: every(60, 4, start=10),  # tenure 190 days, active
            4: every(30, 13, start=5),  # a year of monthly purchases: mature
            5: [(400, 100), (120, 100)],
            6: [(500, 100), (300, 100)],
            7: [(900, 100), (500, 100)],
            8: [(900, 100), (800, 100)],
        },
    )
    stages = {m: rows[m]["lifecycle_stage"] for m in rows}
    assert stages == {
        1: "prospect",
        2: "new",
        3: "active",
        4: "mature",
        5: "at_risk",
        6: "lapsed_recent",
        7: "lapsed_mid",
        8: "dormant",
    }


def test_mature_needs_both_tenure_and_purchases():
    rows = metrics({1: [*every(30, 5, start=5), (400, 100)], 2: every(30, 6, start=5)})
    assert rows[1]["lifecycle_stage"] == "active"  # long tenure, 5 purchases in the year
    assert rows[2]["lifecycle_stage"] == "active"  # 6 purchases, but only 155 days since the first


# --------------------------------------------------------------------------- churn early warning


def test_the_monthly_gas_refill_silent_for_40_days_is_overdue():
    """Seed 000: a household refills its gas every month; 40 days without a refill means trouble."""
    rows = metrics({1: every(30, 6, start=40), 2: every(30, 6, start=35), 3: every(30, 2, start=60)})
    assert rows[1]["overdue"] is True  # 40 > 30 + max(2 x 0, 7)
    assert rows[2]["overdue"] is False  # 35 ≤ 37
    assert rows[3]["overdue"] is False  # two purchases are not a habit


def test_overdue_allows_for_the_member_s_own_spread():
    # Gaps 20, 40, 20, 40: median 30, spread 10, so 49 silent days are fine and 51 are not.
    gaps = [20, 40, 20, 40]

    def history(silent: int) -> list[tuple[int, int]]:
        days, out = silent, [(silent, 100)]
        for g in gaps:
            days += g
            out.append((days, 100))
        return out

    rows = metrics({1: history(50), 2: history(51)})
    assert rows[1]["interval_median"] == 30 and rows[1]["interval_spread"] == 10
    assert rows[1]["overdue"] is False
    assert rows[2]["overdue"] is True


def test_gone_cold_when_the_recent_rate_falls_under_30_percent_of_the_year_before():
    monthly = [(100 + 30 * k, 100) for k in range(12)]  # 12 purchases 91-455 days ago
    fortnightly = [(100 + 15 * k, 100) for k in range(24)]  # 24 of them
    rows = metrics(
        {
            1: monthly,  # nothing in the last 90 days
            2: [*fortnightly, (10, 100)],  # 1/90 < 0.3 x 24/365
            3: [*monthly, (10, 100)],  # 1/90 ≥ 0.3 x 12/365: about the usual pace
            4: [(100, 100), (200, 100), (300, 100)],  # too few earlier purchases to judge
        }
    )
    assert [rows[m]["gone_cold"] for m in range(1, 5)] == [True, True, False, False]
    assert (rows[2]["cold_recent"], rows[2]["cold_base"]) == (1, 24)
