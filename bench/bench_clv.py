"""BG/NBD and Gamma-Gamma fit times at 235,700 and 942,800 customers, next to the `lifetimes` package.

The data: the CDNOW sample (2,357 customers who first bought in Q1 1997, calibration period to
1997-09-30, time in weeks): `frequency, recency, T` from ../shared/data/cdnow/cdnow_customers_summary.csv,
and for Gamma-Gamma each customer's mean repeat-purchase value (dollars per purchase day after the
first, to 1997-09-30) from ../shared/data/cdnow/CDNOW_sample.txt — the script checks that the
frequency/recency/T it derives from the transactions are the summary's. Both replicated ×100 and ×400
(--copies) with np.tile: 235,700 and 942,800 customers.

Per size, the same float64 arrays go to:
- ours: `patron.analytics.clv.fit_bgnbd(x, t_x, T)` and `fit_gamma_gamma(x, m)`, timed around the
  call in this process (the project's venv);
- `lifetimes` 0.11.3: `BetaGeoFitter().fit(frequency, recency, T)` and
  `GammaGammaFitter().fit(frequency, monetary_value)` (repeat buyers only, as it requires), in a
  subprocess on its own venv (var/bench/lifetimes-venv, made by this script with the pins below:
  `lifetimes` is not a project dependency), timed around `.fit(...)` alone (which in lifetimes also
  takes the Hessian for the standard errors);
- `lifetimes` again with `weights=` on the rows collapsed to distinct (x, t_x, T), which is what ours
  does inside its fit (the collapsing is inside its timing too): the same algorithmic trick, apart
  from the optimiser.
Replicating a sample leaves only 2,357 distinct rows however many copies, so the collapsing fits
flatter real data, where the distinct rows grow with the members (bench_analytics.py times the fit on
a million members in the nightly refresh).

Each fit runs --repeat times (the median is shown, every time is saved). Printed side by side: fit
seconds and the ratio lifetimes / ours, the fitted parameters and the total log-likelihood of each
fit's parameters, by the papers' formulas written out in this script (neither fitter's code; the
same data, so the higher is the better optimum). Results in bench/results/bench_clv.json.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_clv.py [--copies 100,400] [--repeat 3] [--no-lifetimes]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import betaln, gammaln

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_demo import ROOT, write_results

from patron.analytics import clv

CDNOW = ROOT.parent / "shared" / "data" / "cdnow"
CALIBRATION_END = dt.date(1997, 9, 30)  # the summary's T: 38.86 weeks for a customer who started on 1 January
VENV = ROOT / "var" / "bench" / "lifetimes-venv"
SCRATCH = ROOT / "var" / "bench" / "bench_clv"
# Lifetimes 0.11.3 (2020) imports and fits on these current releases on Python 3.11 as they are;
# pinned so that a later release cannot change the peer under the figures.
LIFETIMES_PINS = (
    "lifetimes==0.11.3",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "pandas==3.1.1",
    "autograd==1.9.1",
    "dill==0.4.1",
)

LIFETIMES_FIT = """
import json, resource, sys, time, warnings
import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter

warnings.simplefilter("ignore")
data = np.load(sys.argv[1])
model, repeat = sys.argv[2], int(sys.argv[3])
seconds = []
for _ in range(repeat):
    begun = time.perf_counter()
    if model == "bgnbd":
        fitter = BetaGeoFitter().fit(data["x"], data["t_x"], data["T"])
    elif model == "bgnbd_weights":
        rows, counts = np.unique(np.column_stack([data["x"], data["t_x"], data["T"]]), axis=0, return_counts=True)
        fitter = BetaGeoFitter().fit(rows[:, 0], rows[:, 1], rows[:, 2], weights=counts)
    else:
        fitter = GammaGammaFitter().fit(data["x"], data["m"])
    seconds.append(time.perf_counter() - begun)
print(json.dumps({
    "seconds": seconds,
    "params": {k: float(v) for k, v in fitter.params_.items()},
    "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}))
"""


# --------------------------------------------------------------------------- the data


def cdnow() -> dict[str, np.ndarray]:
    """x, t_x, T (weeks) per CDNOW sample customer, and m (dollars, 0 without a repeat purchase)."""
    summary = np.genfromtxt(CDNOW / "cdnow_customers_summary.csv", delimiter=",", names=True)
    rows = []
    with open(CDNOW / "CDNOW_sample.txt") as lines:
        for line in lines:
            _master, sample_id, day, _cds, dollars = line.split()
            rows.append((sample_id, dt.datetime.strptime(day, "%Y%m%d").date(), float(dollars)))
    derived = clv.summarize(rows, end=CALIBRATION_END, unit_days=7.0)
    by_id = dict(zip((int(i) for i in derived.ids), range(len(derived.ids)), strict=True))
    order = np.array([by_id[int(i)] for i in summary["ID"]])
    x, t_x, T, m = (derived.x[order], derived.t_x[order], derived.T[order], derived.m[order])
    same = (
        np.array_equal(x, summary["frequency"])
        and np.allclose(t_x, summary["recency"], atol=0.006)
        and np.allclose(T, summary["T"], atol=0.006)
    )
    if not same:
        raise SystemExit("CDNOW_sample.txt does not give the summary's frequency/recency/T")
    # The summary's own (rounded) recency and T, as every CDNOW fit uses them.
    return {"x": x, "t_x": summary["recency"], "T": summary["T"], "m": m}


# --------------------------------------------------------------------------- the lifetimes venv


def lifetimes_python() -> Path:
    python = VENV / "bin" / "python"
    marker = VENV / "patron-pins.txt"
    wanted = "\n".join(LIFETIMES_PINS)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    print(f"== making {VENV.relative_to(ROOT)}: {' '.join(LIFETIMES_PINS)}", flush=True)
    subprocess.run(["python3.11", "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *LIFETIMES_PINS], check=True
    )
    check = subprocess.run(
        [str(python), "-c", "import lifetimes; print(lifetimes.__version__)"], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise SystemExit(f"lifetimes does not import in {VENV}:\n{check.stderr}")
    marker.write_text(wanted)
    return python


def lifetimes_fit(python: Path, arrays: dict[str, np.ndarray], model: str, repeat: int) -> dict[str, Any]:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = SCRATCH / f"arrays-{os.getpid()}.npz"
    np.savez(path, **arrays)
    try:
        done = subprocess.run(
            [str(python), "-c", LIFETIMES_FIT, str(path), model, str(repeat)], capture_output=True, text=True
        )
    finally:
        path.unlink(missing_ok=True)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (done.stderr or done.stdout)[-1500:]
        print(f"   lifetimes {model} failed (exit {done.returncode}):\n{tail}", flush=True)
        return {"error": tail}


# --------------------------------------------------------------------------- ours


def our_fit(arrays: dict[str, np.ndarray], model: str, repeat: int) -> dict[str, Any]:
    seconds = []
    for _ in range(repeat):
        begun = time.perf_counter()
        if model == "bgnbd":
            fit: Any = clv.fit_bgnbd(arrays["x"], arrays["t_x"], arrays["T"])
        else:
            fit = clv.fit_gamma_gamma(arrays["x"], arrays["m"])
        seconds.append(time.perf_counter() - begun)
    names = ("r", "alpha", "a", "b") if model == "bgnbd" else ("p", "q", "v")
    return {"seconds": seconds, "params": {k: getattr(fit, k) for k in names}}


def log_likelihood(model: str, params: dict[str, float], arrays: dict[str, np.ndarray]) -> float:
    """The total log-likelihood of `params` on the arrays: BG/NBD (Fader, Hardie & Lee 2005, eq. 6)
    and Gamma-Gamma (Fader & Hardie 2013), written out here so that the referee is neither fitter
    (lifetimes reports a mean over time-rescaled data)."""
    if model == "bgnbd":
        r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
        x, t_x, T = arrays["x"], arrays["t_x"], arrays["T"]
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf
            )
        return float(np.sum(head + np.logaddexp(a3, a4)))
    p, q, v = (params[k] for k in ("p", "q", "v"))
    keep = (arrays["x"] > 0) & (arrays["m"] > 0)
    x, m = arrays["x"][keep], arrays["m"][keep]
    ll = (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )
    return float(np.sum(ll))


# --------------------------------------------------------------------------- the run


def median(run: dict[str, Any]) -> float | None:
    return statistics.median(run["seconds"]) if run.get("seconds") else None


def run_size(copies: int, base: dict[str, np.ndarray], python: Path | None, repeat: int) -> dict[str, Any]:
    arrays = {k: np.tile(v, copies) for k, v in base.items()}
    repeaters = (arrays["x"] > 0) & (arrays["m"] > 0)
    buyers = {k: arrays[k][repeaters] for k in ("x", "m")}
    n = len(arrays["x"])
    print(f"\n== ×{copies}: {n:,} customers, {int(repeaters.sum()):,} repeat buyers", flush=True)
    out: dict[str, Any] = {"copies": copies, "customers": n, "repeat_buyers": int(repeaters.sum())}
    fits = {
        "bgnbd": ("bgnbd", arrays, [("lifetimes", "bgnbd"), ("lifetimes_weights", "bgnbd_weights")]),
        "gamma_gamma": ("gamma_gamma", buyers, [("lifetimes", "gamma_gamma")]),
    }
    for name, (model, data, peers) in fits.items():
        results = {"ours": our_fit(data, model, repeat)}
        print(f"   ours {name}: {results['ours']}", flush=True)
        if python is not None:
            for label, peer_model in peers:
                results[label] = lifetimes_fit(python, data, peer_model, repeat)
                print(f"   {label} {name}: {results[label]}", flush=True)
        for result in results.values():
            if "params" in result:
                result["log_likelihood"] = log_likelihood(model, result["params"], arrays)
        out[name] = results
    return out


def report(sizes: list[dict[str, Any]]) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nCLV fits on CDNOW replicated (2 cores shared with other work; load average {load})")
    for size in sizes:
        print(f"\n×{size['copies']}: {size['customers']:,} customers, {size['repeat_buyers']:,} repeat buyers")
        for name, names in (("bgnbd", ("r", "alpha", "a", "b")), ("gamma_gamma", ("p", "q", "v"))):
            results = size[name]
            columns = [k for k in ("ours", "lifetimes", "lifetimes_weights") if k in results]
            heads = {"ours": "ours", "lifetimes": "lifetimes", "lifetimes_weights": "lifetimes+weights"}
            print(
                f"  {'BG/NBD' if name == 'bgnbd' else 'Gamma-Gamma':<22}" + "".join(f"{heads[c]:>20}" for c in columns)
            )

            def row(label: str, values: list[str]) -> None:
                print(f"  {label:<22}" + "".join(f"{v:>20}" for v in values))

            row("fit s (median)", [_fmt(median(results[c]), ".3f") for c in columns])
            ours = median(results["ours"])
            row("  time / ours", [_ratio(median(results[c]), ours) for c in columns])
            for p in names:
                row(p, [_fmt(results[c].get("params", {}).get(p), ".6f") for c in columns])
            row("log-likelihood", [_fmt(results[c].get("log_likelihood"), ",.4f") for c in columns])
            for c in columns:
                if "error" in results[c]:
                    print(f"  {c} failed: {results[c]['error'].splitlines()[-1]}")
            if "lifetimes" in results and "params" in results["lifetimes"]:
                worst = max(abs(results["lifetimes"]["params"][p] / results["ours"]["params"][p] - 1) for p in names)
                print(f"  largest relative parameter difference ours vs lifetimes: {worst:.2e}")


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _ratio(top: float | None, bottom: float | None) -> str:
    if top is None or not bottom:
        return "—"
    return f"{top / bottom:,.2f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", default="100,400", help="replications of the 2,357 CDNOW customers")
    parser.add_argument("--repeat", type=int, default=3, help="fits per model and size (the median is shown)")
    parser.add_argument("--no-lifetimes", action="store_true", help="ours only (no venv, no peer)")
    args = parser.parse_args()
    load_start = os.getloadavg()
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in load_start)}", flush=True)
    base = cdnow()
    print(
        f"CDNOW sample: {len(base['x']):,} customers, {int((base['x'] > 0).sum()):,} with a repeat purchase "
        "(summary checked against CDNOW_sample.txt)",
        flush=True,
    )
    python = None if args.no_lifetimes else lifetimes_python()
    sizes = [run_size(int(c), base, python, args.repeat) for c in args.copies.split(",") if c]
    report(sizes)
    write_results(
        "bench_clv",
        {
            "sizes": sizes,
            "repeat": args.repeat,
            "lifetimes_pins": list(LIFETIMES_PINS) if python else None,
            "loadavg_at_start": [round(x, 2) for x in load_start],
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


if __name__ == "__main__":
    main()
