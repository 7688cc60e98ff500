"""CLV for every member from the batch's metrics: fit BG/NBD and Gamma-Gamma on this run's members,
then score each (ADR 0011). Weeks are the time unit, as in the papers; money is in yuan."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from patron.analytics import clv

log = logging.getLogger(__name__)

MIN_BUYERS = 20  # fewer members with a purchase than this and a fit means nothing
MIN_REPEATERS = 10
# The models have four and three population parameters: a quarter of a million buyers pin them down
# as well as a million do (ADR 0011 has the comparison), at a fraction of the fitting time. Every
# member is scored with them.
FIT_SAMPLE = 250_000
DAYS_PER_WEEK = 7.0


@dataclass
class Scores:
    p_alive: pa.Array
    expected_purchases: pa.Array
    expected_value_cents: pa.Array
    clv_cents: pa.Array
    fit: dict[str, Any] = field(default_factory=dict)


def score(metrics: pa.Table, as_of_day: int, *, forecast_days: int, months: int, monthly_discount: float) -> Scores:
    """Members without a purchase (and everyone when the fit cannot be made) get nulls."""
    n = metrics.num_rows
    bought = np.asarray(metrics["purchase_days"].to_numpy(zero_copy_only=False)) > 0
    nulls = Scores(*(pa.nulls(n, t) for t in (pa.float64(), pa.float64(), pa.int64(), pa.int64())))
    summary = _summary(metrics, as_of_day, bought)
    repeaters = int(np.sum((summary.x > 0) & (summary.m > 0)))
    if len(summary.x) < MIN_BUYERS or repeaters < MIN_REPEATERS:
        nulls.fit = {"skipped": "too_few", "buyers": len(summary.x), "repeaters": repeaters}
        return nulls
    sample = _sample(len(summary.x), seed=as_of_day)
    purchases = clv.fit_bgnbd(summary.x[sample], summary.t_x[sample], summary.T[sample])
    value = clv.fit_gamma_gamma(summary.x[sample], summary.m[sample])
    fit = {
        "fitted_on": len(sample),
        "bgnbd": {
            "r": purchases.r,
            "alpha": purchases.alpha,
            "a": purchases.a,
            "b": purchases.b,
            "log_likelihood": purchases.log_likelihood,
            "members": purchases.members,
            "converged": purchases.converged,
            "evaluations": purchases.evaluations,
        },
        "gamma_gamma": {
            "p": value.p,
            "q": value.q,
            "v": value.v,
            "log_likelihood": value.log_likelihood,
            "members": value.members,
            "converged": value.converged,
            "evaluations": value.evaluations,
        },
    }
    if not _usable(purchases, value):
        log.warning("CLV fit not usable: %s", fit)
        nulls.fit = {**fit, "skipped": "unusable"}
        return nulls
    alive = purchases.p_alive(summary.x, summary.t_x, summary.T)
    expected = purchases.expected_purchases(forecast_days / DAYS_PER_WEEK, summary.x, summary.t_x, summary.T)
    per_purchase = value.expected_value(summary.x, summary.m)
    lifetime = clv.clv(purchases, value, summary, months=months, monthly_discount=monthly_discount)
    return Scores(
        _spread(alive, bought, pa.float64()),
        _spread(expected, bought, pa.float64()),
        _spread(np.round(per_purchase * 100), bought, pa.int64()),
        _spread(np.round(lifetime * 100), bought, pa.int64()),
        fit,
    )


def _sample(n: int, *, seed: int) -> np.ndarray:
    """Which buyers the models are fitted on: all of them, or a seeded random FIT_SAMPLE (the same
    members for the same day, so a rerun gives the same figures)."""
    if n <= FIT_SAMPLE:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=FIT_SAMPLE, replace=False))


def _summary(metrics: pa.Table, as_of_day: int, bought: np.ndarray) -> clv.Summary:
    def column(name: str) -> np.ndarray:
        return np.asarray(metrics[name].fill_null(0).to_numpy(zero_copy_only=False), dtype=float)[bought]

    first, last = column("first_day"), column("last_day")
    x = column("purchase_days") - 1
    repeat_cents = column("sales_cents") - column("first_day_cents")
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(x > 0, repeat_cents / 100 / np.maximum(x, 1), 0.0)
    ids = [str(i) for i in np.asarray(metrics["member_id"].to_numpy())[bought]]
    return clv.Summary(ids, x, (last - first) / DAYS_PER_WEEK, (as_of_day - first) / DAYS_PER_WEEK, m)


def _usable(purchases: clv.BgNbd, value: clv.GammaGamma) -> bool:
    numbers = [purchases.r, purchases.alpha, purchases.a, purchases.b, value.p, value.q, value.v]
    # q ≤ 1: the mean value is infinite; a fit stopped at a bound or short of a maximum is not used.
    return bool(np.all(np.isfinite(numbers))) and value.q > 1 and purchases.converged and value.converged


def _spread(values: np.ndarray, bought: np.ndarray, type_: pa.DataType) -> pa.Array:
    """Back to one value per metrics row: the buyers' values in order, null for the others."""
    full = np.full(len(bought), np.nan)
    full[bought] = values
    mask = ~np.isfinite(full)
    if pa.types.is_integer(type_):
        return pa.array(np.where(mask, 0, full).astype(np.int64), type=type_, mask=mask)
    return pa.array(full, type=type_, mask=mask)
