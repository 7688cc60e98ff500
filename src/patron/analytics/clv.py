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
from collections.abc import Callable, Iterable
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
    converged: bool = True  # the optimiser stopped at a maximum inside the bounds
    evaluations: int = 0

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
        """The probability that a member with this history has not dropped out (FHL 2005, eq. 11)."""
        x, t_x, T = _arrays(x, t_x, T)
        ratio = np.where(x > 0, self._dropout_odds(x, t_x, T), 0.0)
        return np.asarray(1.0 / (1.0 + ratio))

    def expected_purchases(self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
        """Expected purchases in the next `t` time units for a member with this history (eq. 10)."""
        x, t_x, T = _arrays(x, t_x, T)
        return self._expected_by_pair(t, _Pairs.of(x, T)) / self._alive_denominator(x, t_x, T)

    def _expected_by_pair(self, t: float, pairs: _Pairs) -> Array:
        """The numerator of eq. 10, which depends on (x, T) only: the Gaussian hypergeometric function
        is evaluated once per distinct pair, not once per member."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, T = pairs.x, pairs.T
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        head = (a + b + x - 1) / (a - 1)
        body = 1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        return np.asarray(head * body)[pairs.index]

    def _alive_denominator(self, x: Array, t_x: Array, T: Array) -> Array:
        return 1.0 + np.where(x > 0, self._dropout_odds(x, t_x, T), 0.0)

    def _dropout_odds(self, x: Array, t_x: Array, T: Array) -> Array:
        safe = np.maximum(self.b + x - 1, 1e-12)
        return np.asarray(self.a / safe * ((self.alpha + T) / (self.alpha + t_x)) ** (self.r + x))


def _group(*columns: Array) -> tuple[list[Array], Array, NDArray[np.intp]]:
    """Distinct rows of the columns (sorted), how many times each occurs, and each input row's
    distinct row: `np.unique(axis=0)` with a lexsort, several times faster on a million rows."""
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    starts = np.ones(len(order), dtype=bool)
    for c in ordered:
        starts[1:] &= c[1:] == c[:-1]
    starts = ~starts
    starts[0] = True
    group_of_sorted = np.cumsum(starts) - 1
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = group_of_sorted
    counts = np.diff(np.append(np.flatnonzero(starts), len(order)))
    return [c[starts] for c in ordered], counts.astype(float), inverse


@dataclass(frozen=True)
class _Pairs:
    """Distinct (x, T) pairs and, per member, which pair is theirs."""

    x: Array
    T: Array
    index: NDArray[np.intp]

    @classmethod
    def of(cls, x: Array, T: Array) -> _Pairs:
        (px, pT), _counts, index = _group(np.atleast_1d(x), np.atleast_1d(T))
        return cls(px, pT, index)


def _arrays(*values: ArrayLike) -> tuple[Array, ...]:
    return tuple(np.asarray(v, dtype=float) for v in values)


def _bgnbd_log_likelihood(params: Array, rows: _Rows) -> float:
    r, alpha, a, b = np.exp(params)
    ux = rows.unique_x  # the terms in x alone are computed once per distinct x
    by_x = special.gammaln(r + ux) + special.gammaln(b + ux) - special.gammaln(a + b + ux)
    a1_a2 = by_x[rows.x_index] - special.gammaln(r) + r * np.log(alpha) + special.gammaln(a + b) - special.gammaln(b)
    a3 = -(r + rows.x) * np.log(alpha + rows.T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            rows.x > 0,
            np.log(a) - np.log(np.maximum(b + rows.x - 1, 1e-300)) - (r + rows.x) * np.log(alpha + rows.t_x),
            -np.inf,
        )
    return float(np.sum(rows.weights * (a1_a2 + np.logaddexp(a3, a4))))


@dataclass(frozen=True)
class _Rows:
    """Distinct (x, t_x, T) histories with how many members share each, and the distinct x."""

    x: Array
    t_x: Array
    T: Array
    weights: Array
    unique_x: Array
    x_index: NDArray[np.intp]

    @classmethod
    def of(cls, x: Array, t_x: Array, T: Array) -> _Rows:
        (rx, rt, rT), weights, _inverse = _group(x, t_x, T)
        unique_x, x_index = np.unique(rx, return_inverse=True)
        return cls(rx, rt, rT, weights, unique_x, x_index.ravel())


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> BgNbd:
    """Maximum likelihood over log-parameters (so they stay positive). Members with the same
    (x, t_x, T) are one row with a weight, which is what makes a million members quick."""
    x, t_x, T = _arrays(x, t_x, T)
    rows = _Rows.of(x, t_x, T)
    scale = max(float(np.mean(T)), 1e-9)  # start α near the time scale of the data

    def objective(params: Array) -> float:
        return -_bgnbd_log_likelihood(params, rows) / len(x)

    best = _maximise(objective, np.log([1.0, scale, 1.0, 1.0]))
    r, alpha, a, b = np.exp(best.x)
    return BgNbd(
        float(r), float(alpha), float(a), float(b), -float(best.fun) * len(x), len(x), bool(best.success), best.nfev
    )


LOG_BOUND = 10.0  # parameters stay within e^±10: a fit running off to 0 or ∞ stops there, visibly


def _maximise(objective: Callable[[Array], float], start: Array) -> optimize.OptimizeResult:
    """Minimise the negative mean log-likelihood over log-parameters: bounded L-BFGS-B from the
    start (quick), then Nelder-Mead from there to settle on flat ridges; the better of the two is
    kept, so a polish that wanders off can never make the fit worse."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    first = optimize.minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    second = optimize.minimize(
        objective,
        first.x,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4_000},
    )
    best = second if np.isfinite(second.fun) and second.fun <= first.fun else first
    best.success = bool(first.success or second.success) and bool(np.all(np.abs(best.x) < LOG_BOUND - 1e-6))
    best.nfev = int(first.nfev) + int(second.nfev)
    return best


# --------------------------------------------------------------------------- Gamma-Gamma


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float  # γ in Fader & Hardie's note; `v` in the lifetimes package
    log_likelihood: float
    members: int
    converged: bool = True
    evaluations: int = 0

    def expected_value(self, x: ArrayLike, m: ArrayLike) -> Array:
        """The expected value of a member's future purchase, shrunk from their own mean `m` towards
        the population mean by how many repeat purchases it rests on (eq. 5). Members without a
        repeat purchase get the population mean."""
        x, m = _arrays(x, m)
        population = self.p * self.v / (self.q - 1)
        own = (self.p * (self.v + x * m)) / (self.p * x + self.q - 1)
        return np.asarray(np.where(x > 0, own, population))


@dataclass(frozen=True)
class _Values:
    """The Gamma-Gamma data reduced to what the likelihood needs: per-row x·m and x, the distinct
    x with their counts, and the sums that do not depend on the parameters."""

    x: Array
    xm: Array
    unique_x: Array
    counts: Array
    sum_x_log_m: float
    sum_log_m: float
    sum_x_log_x: float

    @classmethod
    def of(cls, x: Array, m: Array) -> _Values:
        unique_x, counts = np.unique(x, return_counts=True)
        log_m = np.log(m)
        return cls(
            x,
            x * m,
            unique_x,
            counts.astype(float),
            float(np.sum(x * log_m)),
            float(np.sum(log_m)),
            float(np.sum(x * np.log(x))),
        )


def _gg_log_likelihood(params: Array, d: _Values) -> float:
    """Fader & Hardie (2013), summed: only the last term needs a pass over every member."""
    p, q, v = np.exp(params)
    n = len(d.x)
    px = p * d.unique_x
    by_x = float(np.sum(d.counts * (special.gammaln(px + q) - special.gammaln(px))))
    return (
        by_x
        - n * special.gammaln(q)
        + p * d.sum_x_log_m
        - d.sum_log_m
        + n * q * np.log(v)
        + p * d.sum_x_log_x
        - float(np.sum((p * d.x + q) * np.log(d.xm + v)))
    )


def fit_gamma_gamma(x: ArrayLike, m: ArrayLike) -> GammaGamma:
    """Maximum likelihood on the members with at least one repeat purchase and a positive mean value."""
    x, m = _arrays(x, m)
    keep = (x > 0) & (m > 0)
    data = _Values.of(x[keep], m[keep])
    n = len(data.x)

    def objective(params: Array) -> float:
        return -_gg_log_likelihood(params, data) / n

    best = _maximise(objective, np.log([1.0, 1.0, 1.0]))
    p, q, v = np.exp(best.x)
    return GammaGamma(float(p), float(q), float(v), -float(best.fun) * n, n, bool(best.success), best.nfev)


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
    pairs = _Pairs.of(summary.x, summary.T)
    alive = purchases._alive_denominator(summary.x, summary.t_x, summary.T)
    total = np.zeros(len(summary.x))
    before = np.zeros(len(summary.x))
    for month in range(1, months + 1):
        upto = purchases._expected_by_pair(month * units_per_month, pairs) / alive
        total += (upto - before) * per_purchase / (1 + monthly_discount) ** month
        before = upto
    return total
