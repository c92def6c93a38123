"""Choose the likelihood-free inference library by measurement (issue 18): accuracy, time, install.

Known-truth case: the toy paper of ``helpers.known_truth`` (238 patients, Weibull shape 0.8
assumed, median 8 months, uniform accrual), one cohort printed as a paper would print it. The
posterior of the median given the printed KM median, and the conditional distribution of the
same patients' S(12), are computed

- exactly, for reference: rejection sampling of ``--reference`` cohorts from the prior, keeping
  those whose median *rounds to the printed token* (exact conditioning on what was printed);
- by each library, with the same budget of ``--budget`` simulated cohorts: pyabc (ABC-SMC,
  2 worker processes), ELFI (ABC-SMC, vectorised batches), sbi (neural posterior estimation of
  the median and S(12) jointly, CPU torch). abcpy 0.6.3 is tried for installation only.

Accuracy: errors of the 2.5th, 50th and 97.5th percentiles against the reference, in units of the
reference SD (median parameter; S(12)). Each library runs in its own virtual environment (their
pins conflict: ELFI needs matplotlib < 3.9, the project has 3.11), e.g.::

    python3 -m venv /tmp/lfi/pyabc && /tmp/lfi/pyabc/bin/pip install pyabc==0.13.0 lifelines pandas
    PYTHONPATH=src /tmp/lfi/pyabc/bin/python benchmarks/bench_lfi.py --library pyabc
    (likewise elfi==0.8.8, torch==2.13.0 sbi==0.27.0; --library reference for the exact posterior)

Each run prints one JSON line and appends it to ``reports/bench_lfi.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from helpers import known_truth as kt
from helpers import posterior

SEED = 20240601
TRUE_MEDIAN = 8.0
QUANTILES = (0.025, 0.5, 0.975)
OUT = Path(__file__).resolve().parents[1] / "reports" / "bench_lfi.jsonl"


def observed():
    tokens, _ = kt.paper(np.random.default_rng(SEED), TRUE_MEDIAN)
    return kt.Toy(tokens)


def batch(rng, medians):
    time_, event = kt.simulate(rng, medians, np.full(len(medians), kt.TRUE_SHAPE))
    return kt.summarise(time_, event)


def reference(toy, total: int, chunk: int = 5000):
    """Exact conditioning on the printed median: keep cohorts whose median rounds to it."""
    rng = np.random.default_rng(SEED + 1)
    lo, hi = kt.MEDIAN_RANGE
    printed = float(toy.tokens["median"])
    keep_m, keep_s = [], []
    for _ in range(total // chunk):
        m = rng.uniform(lo, hi, chunk)
        out = batch(rng, m)
        ok = np.abs(out["median"] - printed) <= 0.05 + 1e-9
        keep_m.append(m[ok])
        keep_s.append(out["s12"][ok])
    return np.concatenate(keep_m), np.concatenate(keep_s), None


def z_of(toy, medians):
    return posterior.zscores(toy.targets, np.asarray(medians)[:, None])[:, 0]


def run_pyabc(toy, budget: int, population: int = 1000):
    import tempfile

    import pyabc

    lo, hi = kt.MEDIAN_RANGE
    printed = float(toy.tokens["median"])
    half_z = 0.05 / printed / toy.targets[0].se  # half the rounding step, in z units

    def model(par):
        theta = np.array([par["median"]])
        seed = posterior.cohort_seed(SEED, theta)
        s = toy.summaries(theta[None], [seed], ["median", "s12"])[0]
        return {"z": float(z_of(toy, [s[0]])[0]), "s12": float(s[1])}

    def dist(x, _):
        return abs(x["z"])

    abc = pyabc.ABCSMC(model, pyabc.Distribution(median=pyabc.RV("uniform", lo, hi - lo)), dist,
                       population_size=population, sampler=pyabc.sampler.MulticoreEvalParallelSampler(n_procs=2))  # fmt: skip
    db = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "abc.db")
    abc.new(db, {"z": 0.0, "s12": 0.0})
    hist = abc.run(minimum_epsilon=half_z, max_total_nr_simulations=budget)
    params, w = hist.get_distribution()
    _, stats = hist.get_weighted_sum_stats()
    s12 = np.array([s["s12"] for s in stats])
    return params["median"].to_numpy(), s12, w / w.sum(), int(hist.total_nr_simulations)


def run_elfi(toy, budget: int, population: int = 1000):
    import elfi

    lo, hi = kt.MEDIAN_RANGE

    def simulator(median, batch_size=1, random_state=None):
        seeds = random_state.randint(0, 2**31 - 1, size=batch_size)
        m = np.broadcast_to(np.asarray(median, float), (batch_size,))
        s = toy.summaries(m[:, None], seeds, ["median", "s12"])
        return s

    elfi.new_model()
    med = elfi.Prior("uniform", lo, hi - lo, name="median")
    sim = elfi.Simulator(simulator, med, observed=np.array([[float(toy.tokens["median"]), np.nan]]))
    z = elfi.Summary(lambda s: z_of(toy, s[:, 0])[:, None], sim)
    s12 = elfi.Summary(lambda s: s[:, 1:2], sim)
    d = elfi.Distance(lambda a, b: np.abs(a[:, :1]), z)
    # each round halves the threshold; rounds cost more as acceptance falls (the count is measured)
    smc = elfi.SMC(d, batch_size=population, seed=SEED, output_names=[s12.name])
    res = smc.sample(population, quantiles=[0.5] * 5)
    n_sims = int(sum(p.n_sim for p in res.populations))
    return res.samples["median"], res.outputs[s12.name][:, 0], res.weights / res.weights.sum(), n_sims


def run_sbi_smcabc(toy, budget: int, population: int = 1000):
    import torch
    from sbi.inference import SMCABC
    from sbi.utils import BoxUniform

    torch.manual_seed(SEED)
    lo, hi = kt.MEDIAN_RANGE

    def simulator(theta):
        t = theta.numpy().astype(np.float64)
        seeds = [posterior.cohort_seed(SEED, row) for row in t]
        s = toy.summaries(t, seeds, ["median", "s12"])
        z = np.where(np.isfinite(s[:, 0]), z_of(toy, s[:, 0]), 1e6)
        return torch.tensor(np.column_stack([z, np.nan_to_num(s[:, 1])]), dtype=torch.float32)

    def dist(xo, x):
        return torch.abs(x[:, 0] - xo[..., 0])

    smc = SMCABC(simulator, BoxUniform(torch.tensor([lo]), torch.tensor([hi])), distance=dist, requires_iid_data=False,
                 simulation_batch_size=population, show_progress_bars=False)  # fmt: skip
    theta, info = smc(torch.zeros(1, 2), num_particles=population, num_initial_pop=2 * population,
                      num_simulations=budget, epsilon_decay=0.5, distance_based_decay=True, return_summary=True)  # fmt: skip
    w = info["weights"][-1].exp().numpy()
    return theta.numpy()[:, 0], info["xs"][-1].numpy()[:, 1], w / w.sum(), int(smc.simulation_counter)


def run_sbi(toy, budget: int):
    import torch
    from sbi.inference import NPE
    from sbi.utils import BoxUniform

    torch.manual_seed(SEED)
    lo, hi = kt.MEDIAN_RANGE
    rng = np.random.default_rng(SEED + 2)
    m = rng.uniform(lo, hi, budget)
    out = batch(rng, m)
    ok = np.isfinite(out["median"]) & np.isfinite(out["s12"])
    # joint "parameters": the median and the same cohort's S(12), given its printed median
    theta = torch.tensor(np.column_stack([m[ok], out["s12"][ok]]), dtype=torch.float32)
    x = torch.tensor(np.log(out["median"][ok])[:, None], dtype=torch.float32)
    prior = BoxUniform(torch.tensor([lo, 0.0]), torch.tensor([hi, 100.0]))
    npe = NPE(prior=prior)
    npe.append_simulations(theta, x).train(show_train_summary=False)
    post = npe.build_posterior()
    draws = post.sample((4000,), x=torch.tensor([[np.log(float(toy.tokens["median"]))]]), show_progress_bars=False)
    d = draws.numpy()
    return d[:, 0], d[:, 1], None, budget


def wquantile(x, w, q):
    x = np.asarray(x, float)
    w = np.ones_like(x) if w is None else np.asarray(w, float)
    o = np.argsort(x)
    c = np.cumsum(w[o]) / w.sum()
    return np.interp(q, c - 0.5 * w[o] / w.sum(), x[o])


def summary(x, w):
    w1 = np.ones(len(x)) if w is None else np.asarray(w)
    mean = float(np.average(x, weights=w1))
    sd = float(np.sqrt(np.average((x - mean) ** 2, weights=w1)))
    return {"quantiles": [round(float(v), 3) for v in wquantile(x, w, QUANTILES)], "sd": round(sd, 4),
            "ess": round(float(w1.sum() ** 2 / (w1**2).sum()), 1)}  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", required=True, choices=["reference", "pyabc", "elfi", "sbi", "sbi-smcabc"])
    ap.add_argument("--budget", type=int, default=20_000, help="simulated cohorts per library run")
    ap.add_argument("--reference", type=int, default=1_000_000, help="cohorts of the exact rejection reference")
    args = ap.parse_args(argv)
    toy = observed()
    t0 = time.perf_counter()
    if args.library == "reference":
        theta, s12, w = reference(toy, args.reference)
        sims = args.reference
    else:
        theta, s12, w, sims = {"pyabc": run_pyabc, "elfi": run_elfi, "sbi": run_sbi, "sbi-smcabc": run_sbi_smcabc}[args.library](toy, args.budget)
    seconds = time.perf_counter() - t0
    ok = np.isfinite(s12)
    record = {"library": args.library, "printed": toy.tokens, "simulations": sims, "seconds": round(seconds, 1),
              "cores": os.cpu_count(), "python": platform.python_version(),
              "median": summary(theta, w), "s12": summary(s12[ok], None if w is None else w[ok])}  # fmt: skip
    print(json.dumps(record))
    OUT.parent.mkdir(exist_ok=True)
    with OUT.open("a") as f:
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
