"""Customer lifetime value: BG/NBD (Fader, Hardie & Lee 2005) for how many purchases a member will
still make and whether they are still "alive", and Gamma-Gamma (Fader & Hardie 2013) for what a
purchase is worth. Both are fitted by maximum likelihood with NumPy/SciPy. Pure: arrays in, numbers
out, no database.

Inputs per member, in one time unit (weeks for CDNOW, days for the nightly job):
- `x` (frequency): repeat purchase periods after the first purchase (purchase *days*, so two
  receipts on one day are one purchase),
- `t_x` (recency): time from the first to the last purchase,
- `T`: time from the first purchase to the end of the observation window,
- `m` (monetary): the mean value of the repeat purchases (Gamma-Gamma only, for `x > 0`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Summary:
    """The per-member inputs of the models, as parallel arrays."""

    ids: list[str]
    x: Array
    t_x: Array
    T: Array
    m: Array  # 0 where x == 0


def summarize(transactions: Iterable[tuple[str, dt.date, float]], *, end: dt.date, unit_days: float = 7.0) -> Summary:
    """Frequency, recency, age and mean repeat value from raw (member, day, value) rows up to `end`.
    Rows on one day are one purchase (their values summed); the first purchase day is not a repeat."""
    days: dict[str, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    for member, day, value in transactions:
        if day <= end:
            days[member][day] += float(value)
    ids = sorted(days)
    x, t_x, age, m = (np.zeros(len(ids)) for _ in range(4))
    for i, member in enumerate(ids):
        ordered = sorted(days[member])
        first, last = ordered[0], ordered[-1]
        x[i] = len(ordered) - 1
        t_x[i] = (last - first).days / unit_days
        age[i] = (end - first).days / unit_days
        repeats = [days[member][d] for d in ordered[1:]]
        m[i] = sum(repeats) / len(repeats) if repeats else 0.0
    return Summary(ids, x, t_x, age, m)


# --------------------------------------------------------------------------- BG/NBD


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    members: int

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
        """The probability that a member with this history has not dropped out (FHL 2005, eq. 11)."""
        x, t_x, T = _arrays(x, t_x, T)
        ratio = np.where(x > 0, self._dropout_odds(x, t_x, T), 0.0)
        return np.asarray(1.0 / (1.0 + ratio))

    def expected_purchases(self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
        """Expected purchases in the next `t` time units for a member with this history (eq. 10)."""
        x, t_x, T = _arrays(x, t_x, T)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        head = (a + b + x - 1) / (a - 1)
        body = 1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        alive = 1.0 + np.where(x > 0, self._dropout_odds(x, t_x, T), 0.0)
        return np.asarray(head * body / alive)

    def _dropout_odds(self, x: Array, t_x: Array, T: Array) -> Array:
        safe = np.maximum(self.b + x - 1, 1e-12)
        return np.asarray(self.a / safe * ((self.alpha + T) / (self.alpha + t_x)) ** (self.r + x))


def _arrays(*values: ArrayLike) -> tuple[Array, ...]:
    return tuple(np.asarray(v, dtype=float) for v in values)


def _bgnbd_log_likelihood(params: Array, x: Array, t_x: Array, T: Array, weights: Array) -> float:
    r, alpha, a, b = np.exp(params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return float(np.sum(weights * (a1 + a2 + np.logaddexp(a3, a4))))


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> BgNbd:
    """Maximum likelihood over log-parameters (so they stay positive). Members with the same
    (x, t_x, T) are one row with a weight, which is what makes a million members quick."""
    x, t_x, T = _arrays(x, t_x, T)
    rows, weights = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    ux, ut, uT = rows[:, 0], rows[:, 1], rows[:, 2]
    w = weights.astype(float)
    scale = max(float(np.mean(T)), 1e-9)  # start α near the time scale of the data

    def objective(params: Array) -> float:
        return -_bgnbd_log_likelihood(params, ux, ut, uT, w) / len(x)

    start = np.log([1.0, scale, 1.0, 1.0])
    best = optimize.minimize(
        objective, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 20_000}
    )
    best = optimize.minimize(objective, best.x, method="L-BFGS-B")  # polish
    r, alpha, a, b = np.exp(best.x)
    return BgNbd(float(r), float(alpha), float(a), float(b), -float(best.fun) * len(x), len(x))


# --------------------------------------------------------------------------- Gamma-Gamma


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float  # γ in Fader & Hardie's note; `v` in the lifetimes package
    log_likelihood: float
    members: int

    def expected_value(self, x: ArrayLike, m: ArrayLike) -> Array:
        """The expected value of a member's future purchase, shrunk from their own mean `m` towards
        the population mean by how many repeat purchases it rests on (eq. 5). Members without a
        repeat purchase get the population mean."""
        x, m = _arrays(x, m)
        population = self.p * self.v / (self.q - 1)
        own = (self.p * (self.v + x * m)) / (self.p * x + self.q - 1)
        return np.asarray(np.where(x > 0, own, population))


def _gg_log_likelihood(params: Array, x: Array, m: Array) -> float:
    p, q, v = np.exp(params)
    ll = (
        special.gammaln(p * x + q)
        - special.gammaln(q)
        + (p * x - 1) * np.log(m)
        + q * np.log(v)
        + (p * x) * np.log(x)
        - special.gammaln(p * x)
        - (p * x + q) * np.log(x * m + v)
    )
    return float(np.sum(ll))


def fit_gamma_gamma(x: ArrayLike, m: ArrayLike) -> GammaGamma:
    """Maximum likelihood on the members with at least one repeat purchase and a positive mean value."""
    x, m = _arrays(x, m)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]

    def objective(params: Array) -> float:
        return -_gg_log_likelihood(params, x, m) / len(x)

    best = optimize.minimize(
        objective,
        np.log([1.0, 1.0, 1.0]),
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 20_000},
    )
    best = optimize.minimize(objective, best.x, method="L-BFGS-B")
    p, q, v = np.exp(best.x)
    return GammaGamma(float(p), float(q), float(v), -float(best.fun) * len(x), len(x))


# --------------------------------------------------------------------------- CLV


def clv(
    purchases: BgNbd,
    value: GammaGamma,
    summary: Summary,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    units_per_month: float = 30.0 / 7.0,
) -> Array:
    """Discounted value of each member's expected purchases over the next `months`: the expected
    purchases in each month (the difference of the cumulative expectation) times the expected value
    of a purchase, discounted at `monthly_discount` a month."""
    per_purchase = value.expected_value(summary.x, summary.m)
    total = np.zeros(len(summary.x))
    before = np.zeros(len(summary.x))
    for month in range(1, months + 1):
        upto = purchases.expected_purchases(month * units_per_month, summary.x, summary.t_x, summary.T)
        total += (upto - before) * per_purchase / (1 + monthly_discount) ** month
        before = upto
    return total
