"""What a paper's posterior costs per simulated cohort (issue 18): one by one against in batches.

For each paper with a posterior (default: descart, the slowest):

- ``cohort``: the cohorts of ``--cohorts`` prior draws simulated and analysed one per call (what
  pyabc's own samplers do) and in batches of 25 and 50 (``PaperProblem.summaries``: the batched
  kernels), milliseconds per cohort; the largest difference between the two (should be 0);
- ``fit``: a short ABC-SMC run (``--population`` particles, ``--budget`` cohorts) with pyabc's
  one-process sampler and with the batched sampler (``helpers.smc``): seconds, milliseconds per
  simulated cohort, and whether the two posteriors are identical (they should be: same seed).

Usage: ``.venv/bin/python benchmarks/bench_posterior.py [papers...]``; prints one JSON line per
paper and appends it to ``reports/bench_posterior.jsonl``. Measured on a shared 2-core machine:
other work running at the same time inflates every number alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from helpers import posterior

OUT = Path(__file__).resolve().parents[1] / "reports" / "bench_posterior.jsonl"


def per_cohort(prob, n: int, seed: int = 1) -> dict:
    refs = [t.ref for t in prob.targets]
    lo, hi = np.array([prob.bounds[k] for k in prob.free]).T
    theta = lo + (hi - lo) * np.random.default_rng(seed).random((n, len(lo)))
    seeds = [posterior.cohort_seed(seed, row) for row in theta]
    t0 = time.perf_counter()
    one = np.vstack([prob.summaries(theta[i : i + 1], seeds[i : i + 1], refs) for i in range(n)])
    out = {"one_by_one_ms": round(1000 * (time.perf_counter() - t0) / n, 1)}
    for size in (25, 50):
        t0 = time.perf_counter()
        many = np.vstack([prob.summaries(theta[i : i + size], seeds[i : i + size], refs) for i in range(0, n, size)])
        out[f"batch_{size}_ms"] = round(1000 * (time.perf_counter() - t0) / n, 1)
    both = np.isfinite(one) & np.isfinite(many)
    out["largest_difference"] = float(np.max(np.abs(one[both] - many[both]))) if both.any() else None
    out["same_missing"] = bool(np.array_equal(np.isfinite(one), np.isfinite(many)))
    return out


def fits(prob, population: int, budget: int) -> dict:
    out, got = {}, {}
    for backend in ("single", "batched"):
        f = posterior.fit(prob, population=population, budget=budget, backend=backend, workers=1)
        n = sum(g["simulations"] for g in f.generations)
        out[backend] = {"seconds": round(f.seconds, 1), "cohorts": n, "ms_per_cohort": round(1000 * f.seconds / n, 1)}
        got[backend] = f
    out["identical"] = bool(np.array_equal(got["single"].theta, got["batched"].theta)
                            and np.array_equal(got["single"].weights, got["batched"].weights))  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("papers", nargs="*", default=["descart"])
    ap.add_argument("--cohorts", type=int, default=100)
    ap.add_argument("--population", type=int, default=200)
    ap.add_argument("--budget", type=int, default=1500)
    args = ap.parse_args()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    for paper in args.papers:
        prob = posterior.problem(paper)
        row = {"paper": paper, "cohort": per_cohort(prob, args.cohorts), "fit": fits(prob, args.population, args.budget),
               "population": args.population, "budget": args.budget, "cpus": os.cpu_count(),
               "load_average": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version()}  # fmt: skip
        line = json.dumps(row)
        print(line, flush=True)
        with OUT.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
