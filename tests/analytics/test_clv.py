"""The CLV models fitted on the public CDNOW data must give the published parameters (to within 1%),
from the published summary and from the raw transactions alike. No database."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from patron.analytics import clv

CDNOW = Path(__file__).resolve().parents[3] / "shared" / "data" / "cdnow"
CALIBRATION_END = dt.date(1997, 9, 30)  # 39 weeks after 1 January 1997

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW sample of 2,357.
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
BGNBD_LOG_LIKELIHOOD = -9582.4
# Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", the 946 repeat buyers.
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}

pytestmark = pytest.mark.skipif(not CDNOW.exists(), reason="needs ../shared/data/cdnow")


def close(value: float, published: float) -> bool:
    return abs(value - published) <= 0.01 * abs(published)


@pytest.fixture(scope="module")
def from_summary() -> clv.Summary:
    with (CDNOW / "cdnow_customers_summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    return clv.Summary(
        ids=[r["ID"] for r in rows],
        x=np.array([float(r["frequency"]) for r in rows]),
        t_x=np.array([float(r["recency"]) for r in rows]),
        T=np.array([float(r["T"]) for r in rows]),
        m=np.zeros(len(rows)),
    )


@pytest.fixture(scope="module")
def from_transactions() -> clv.Summary:
    rows = []
    with (CDNOW / "CDNOW_sample.txt").open() as f:
        for line in f:
            _master_id, sample_id, day, _cds, value = line.split()  # the summary is keyed by sample id
            rows.append((sample_id, dt.datetime.strptime(day, "%Y%m%d").date(), float(value)))
    return clv.summarize(rows, end=CALIBRATION_END)


def test_bgnbd_from_the_summary_matches_the_published_parameters(from_summary):
    fit = clv.fit_bgnbd(from_summary.x, from_summary.t_x, from_summary.T)
    assert fit.members == 2357
    assert {k: round(getattr(fit, k), 3) for k in BGNBD} == pytest.approx(BGNBD, rel=0.01)
    assert all(close(getattr(fit, k), v) for k, v in BGNBD.items())
    assert fit.log_likelihood == pytest.approx(BGNBD_LOG_LIKELIHOOD, abs=0.5)


def test_summary_from_raw_transactions_is_the_published_summary(from_summary, from_transactions):
    assert len(from_transactions.ids) == 2357
    assert from_transactions.x.sum() == from_summary.x.sum() == 2457
    order = np.argsort([int(i) for i in from_transactions.ids])
    assert np.allclose(from_transactions.T[order], from_summary.T, atol=0.01)
    assert np.allclose(from_transactions.t_x[order], from_summary.t_x, atol=0.01)


def test_bgnbd_from_raw_transactions_matches_the_published_parameters(from_transactions):
    fit = clv.fit_bgnbd(from_transactions.x, from_transactions.t_x, from_transactions.T)
    assert all(close(getattr(fit, k), v) for k, v in BGNBD.items()), fit


def test_gamma_gamma_from_raw_transactions_matches_the_published_parameters(from_transactions):
    fit = clv.fit_gamma_gamma(from_transactions.x, from_transactions.m)
    assert fit.members == 946
    assert all(close(getattr(fit, k), v) for k, v in GAMMA_GAMMA.items()), fit


def test_predictions_of_the_published_model():
    model = clv.BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0.0, members=0)
    # The paper's worked example: 2 repeat purchases, the last at week 30.43 of 38.86.
    assert model.expected_purchases(39, 2, 30.43, 38.86)[()] == pytest.approx(1.226, rel=0.01)
    assert model.p_alive(0, 0, 38.86)[()] == 1.0  # no repeat purchase: no evidence of dropping out
    # The same frequency, but silent for longer, is less likely alive and expected to buy less.
    assert model.p_alive(2, 10.0, 38.86)[()] < model.p_alive(2, 30.43, 38.86)[()]
    assert model.expected_purchases(39, 2, 10.0, 38.86)[()] < 1.226


def test_gamma_gamma_shrinks_towards_the_population_mean():
    model = clv.GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=0.0, members=0)
    population = 6.25 * 15.44 / (3.74 - 1)
    few, many = model.expected_value([1, 20], [100.0, 100.0])
    assert population < few < many < 100.0
    assert model.expected_value([0], [0.0])[0] == pytest.approx(population)


def test_clv_discounts_and_grows_with_the_horizon(from_transactions):
    purchases = clv.fit_bgnbd(from_transactions.x, from_transactions.t_x, from_transactions.T)
    value = clv.fit_gamma_gamma(from_transactions.x, from_transactions.m)
    year = clv.clv(purchases, value, from_transactions, months=12, monthly_discount=0.01)
    two = clv.clv(purchases, value, from_transactions, months=24, monthly_discount=0.01)
    undiscounted = clv.clv(purchases, value, from_transactions, months=12, monthly_discount=0.0)
    assert (year >= 0).all() and (two >= year).all() and (undiscounted >= year).all()
    expected_year = purchases.expected_purchases(
        12 * 30 / 7, from_transactions.x, from_transactions.t_x, from_transactions.T
    )
    per = value.expected_value(from_transactions.x, from_transactions.m)
    assert np.allclose(undiscounted, expected_year * per)
