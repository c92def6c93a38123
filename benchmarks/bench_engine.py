"""Time the replication engine with the batched kernels against a plain lifelines loop.

Workload: a DESCAR-T-sized study (n = 238) re-analysed per replicate with
- 20 Cox fits (Efron): 12 univariable (6 covariates × PFS/OS), 2 with all 6 covariates,
  6 with 3 covariates (3 sets × PFS/OS); LDH is missing for ~10% (complete case);
- 10 Kaplan–Meier medians with 95% CI (PFS/OS overall, by LDH, by ECOG);
- 3 log-rank tests (PFS by LDH, OS by ECOG, PFS by 3-level response group).
The engine runs 1,000 replicates; the lifelines loop runs the same analyses on the first 20
replicates (identical cohorts: same seed, same per-replicate streams). Writes reports/bench.json.

Run with `make bench` (or `.venv/bin/python benchmarks/bench_engine.py [--replicates N]`).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from lifelines.utils import median_survival_times

from helpers import io, kernels, paths, replicate

N = 238
SEED = 20221208
COVARIATES = ["ldh_high", "ecog_2plus", "bulky", "age_per10", "crp_high", "stage_iv"]
SETS_OF_THREE = [["ldh_high", "ecog_2plus", "bulky"], ["age_per10", "crp_high", "stage_iv"],
                 ["ldh_high", "crp_high", "age_per10"]]  # fmt: skip
MODELS = [[c] for c in COVARIATES] + [COVARIATES] + SETS_OF_THREE  # 10 models × 2 endpoints = 20
ENDPOINTS = ["pfs", "os"]
KM_SPLITS = [(None, None), ("ldh_high", 0), ("ldh_high", 1), ("ecog_2plus", 0), ("ecog_2plus", 1)]


def simulate(rng: np.random.Generator) -> dict:
    """One cohort: 6 covariates, PFS and OS in months (1 decimal: ties), admin. censoring."""
    x = np.column_stack([
        rng.binomial(1, 0.5, N), rng.binomial(1, 0.3, N), rng.binomial(1, 0.25, N),
        rng.normal(6.0, 1.2, N), rng.binomial(1, 0.45, N), rng.binomial(1, 0.6, N),
    ]).astype(float)  # fmt: skip
    log_hr = x @ np.array([0.6, 0.5, 0.3, 0.05, 0.4, 0.2])
    pfs = rng.exponential(8.0 * np.exp(-log_hr))
    os_ = pfs + rng.exponential(14.0 * np.exp(-0.5 * log_hr))
    follow_up = rng.uniform(6, 36, N)
    x[rng.random(N) < 0.1, 0] = np.nan  # LDH not recorded: complete-case analyses
    cohort = {"x": x, "response": rng.integers(0, 3, N).astype(float)}
    for name, latent in (("pfs", pfs), ("os", os_)):
        cohort[name] = np.round(np.minimum(latent, follow_up), 1).clip(0.1)
        cohort[name + "_event"] = (latent <= follow_up).astype(float)
    return cohort


def _rows(reps, item, estimate, lo=None, hi=None, p=None) -> pd.DataFrame:
    nan = np.full(len(reps), np.nan)
    return pd.DataFrame({"rep": reps, "claim_id": "BENCH", "item": item, "estimate": estimate,
                         "lo": nan if lo is None else lo, "hi": nan if hi is None else hi,
                         "p": nan if p is None else p})  # fmt: skip


def analyse_kernels(cohorts) -> pd.DataFrame:
    """The workload on a batch of cohorts with the batched kernels."""
    x = np.stack([c["x"] for c in cohorts])
    reps = np.arange(len(cohorts))
    out = []
    for ep in ENDPOINTS:
        t = np.stack([c[ep] for c in cohorts])
        e = np.stack([c[ep + "_event"] for c in cohorts])
        for m, cols in enumerate(MODELS):
            fit = kernels.cox_fit(t, e, x[..., [COVARIATES.index(c) for c in cols]])
            for j, c in enumerate(cols):
                out.append(_rows(reps, f"cox_{ep}_m{m}_{c}", fit.beta[:, j], np.log(fit.hr_lo[:, j]),
                                 np.log(fit.hr_hi[:, j]), fit.p[:, j]))  # fmt: skip
        curves_all = None
        for col, level in KM_SPLITS:
            if col is None:
                curves_all = kernels.kaplan_meier(t, e)
                med, lo, hi = kernels.median(curves_all)
            else:
                med, lo, hi = kernels.km_median(t, e, mask=x[..., COVARIATES.index(col)] == level)
            out.append(_rows(reps, f"km_{ep}_{col}_{level}", med, lo, hi))
    tp, ep_ = np.stack([c["pfs"] for c in cohorts]), np.stack([c["pfs_event"] for c in cohorts])
    to, eo = np.stack([c["os"] for c in cohorts]), np.stack([c["os_event"] for c in cohorts])
    for item, (t, e, g) in {
        "lr_pfs_ldh": (tp, ep_, x[..., 0]),
        "lr_os_ecog": (to, eo, x[..., 1]),
        "lr_pfs_response": (tp, ep_, np.stack([c["response"] for c in cohorts])),
    }.items():
        chi2, _, p = kernels.logrank(t, e, g)
        out.append(_rows(reps, item, chi2, p=p))
    return pd.concat(out, ignore_index=True)


# lifelines' default Cox stopping rule (relative log-likelihood change < 1e-9) can stop ~1e-4
# short of the maximum; these options make it a reference good to ~1e-9 (untimed check only)
TIGHT = {"precision": 1e-12, "r_precision": 1e-14}


def analyse_lifelines(cohort: dict, rep: int, fit_options: dict | None = None) -> pd.DataFrame:
    """The same workload on one cohort with plain lifelines calls."""
    df = pd.DataFrame(cohort["x"], columns=COVARIATES)
    for k in ("pfs", "pfs_event", "os", "os_event", "response"):
        df[k] = cohort[k]
    out = []
    r = np.array([rep])
    for ep in ENDPOINTS:
        for m, cols in enumerate(MODELS):
            data = df[cols + [ep, ep + "_event"]].dropna()
            cph = CoxPHFitter().fit(data, ep, ep + "_event", fit_options=fit_options)
            ci = cph.confidence_intervals_.to_numpy()
            for j, c in enumerate(cols):
                out.append(_rows(r, f"cox_{ep}_m{m}_{c}", [cph.params_[c]], [ci[j, 0]], [ci[j, 1]],
                                 [cph.summary.loc[c, "p"]]))  # fmt: skip
        for col, level in KM_SPLITS:
            sub = df if col is None else df[df[col] == level]
            kmf = KaplanMeierFitter().fit(sub[ep], sub[ep + "_event"])
            ci = median_survival_times(kmf.confidence_interval_).to_numpy()[0]
            out.append(_rows(r, f"km_{ep}_{col}_{level}", [kmf.median_survival_time_], [ci[0]], [ci[1]]))
    ldh = df.dropna(subset=["ldh_high"])
    res = logrank_test(ldh.pfs[ldh.ldh_high == 0], ldh.pfs[ldh.ldh_high == 1],
                       ldh.pfs_event[ldh.ldh_high == 0], ldh.pfs_event[ldh.ldh_high == 1])  # fmt: skip
    out.append(_rows(r, "lr_pfs_ldh", [res.test_statistic], p=[res.p_value]))
    res = logrank_test(df.os[df.ecog_2plus == 0], df.os[df.ecog_2plus == 1],
                       df.os_event[df.ecog_2plus == 0], df.os_event[df.ecog_2plus == 1])  # fmt: skip
    out.append(_rows(r, "lr_os_ecog", [res.test_statistic], p=[res.p_value]))
    res = multivariate_logrank_test(df.pfs, df.response, df.pfs_event)
    out.append(_rows(r, "lr_pfs_response", [res.test_statistic], p=[res.p_value]))
    return pd.concat(out, ignore_index=True)


def largest_differences(engine: pd.DataFrame, loop: pd.DataFrame) -> dict:
    """Largest |engine - lifelines| per kind of estimate, on the common replicates.

    Infinite values (median or CI bound not reached) must agree exactly and are left out.
    """
    keys = ["rep", "item"]
    both = engine.merge(loop, on=keys, suffixes=("_k", "_l"))
    both = both[both["rep"].isin(loop["rep"].unique())]
    diffs = {}
    for kind, sel in {"cox_log_hr_ci_p": both.item.str.startswith("cox"),
                      "km_median_and_ci": both.item.str.startswith("km"),  # exact: same floats
                      "logrank_chi2_and_p": both.item.str.startswith("lr")}.items():  # fmt: skip
        worst = 0.0
        for col in ("estimate", "lo", "hi", "p"):
            a, b = both.loc[sel, col + "_k"].to_numpy(float), both.loc[sel, col + "_l"].to_numpy(float)
            same_pattern = np.array_equal(np.isfinite(a), np.isfinite(b)) and np.array_equal(
                a[np.isinf(a)], b[np.isinf(b)]
            )
            if not same_pattern:
                return {"mismatch_in": f"{kind}/{col}"}
            fin = np.isfinite(a)
            if fin.any():
                worst = max(worst, float(np.abs(a[fin] - b[fin]).max()))
        diffs[kind] = worst
    diffs["all"] = max(diffs.values())
    diffs["rows_compared"] = int(len(both))
    return diffs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000, help="engine replicates")
    parser.add_argument("--loop-replicates", type=int, default=20, help="lifelines-loop replicates")
    parser.add_argument("--tight-replicates", type=int, default=3,
                        help="replicates re-fitted (untimed) with tightly converged lifelines")  # fmt: skip
    args = parser.parse_args()
    workers = replicate.default_workers()

    t0 = time.perf_counter()
    engine = replicate.run(simulate, analyse_kernels, seed=SEED, replicates=args.replicates,
                           desc="engine")  # fmt: skip
    engine_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    engine_1 = replicate.run(simulate, analyse_kernels, seed=SEED, replicates=args.replicates,
                             n_jobs=1, desc="engine, 1 worker")  # fmt: skip
    engine_1_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' occasional convergence chatter; numbers kept
        gens = replicate.replicate_generators(SEED, args.loop_replicates)
        loop = pd.concat([analyse_lifelines(simulate(g), i) for i, g in enumerate(gens)],
                         ignore_index=True)  # fmt: skip
    loop_s = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tight = pd.concat([analyse_lifelines(simulate(g), i, TIGHT)
                           for i, g in enumerate(replicate.replicate_generators(SEED, args.tight_replicates))],
                          ignore_index=True)  # fresh generators: the loop's ones are used up  # fmt: skip

    engine_rate = args.replicates / engine_s
    loop_rate = args.loop_replicates / loop_s
    report = {
        "workload": {"n": N, "cox_fits_per_replicate": 2 * len(MODELS), "max_covariates": len(COVARIATES),
                     "km_medians_per_replicate": 2 * len(KM_SPLITS), "logrank_tests_per_replicate": 3,
                     "cox_ties": "efron", "seed": SEED},  # fmt: skip
        "engine": {"replicates": args.replicates, "seconds": round(engine_s, 2), "workers": workers,
                   "replicates_per_s": round(engine_rate, 1)},  # fmt: skip
        "engine_one_worker": {"replicates": args.replicates, "seconds": round(engine_1_s, 2),
                              "replicates_per_s": round(args.replicates / engine_1_s, 1)},  # fmt: skip
        "lifelines_loop": {"replicates": args.loop_replicates, "seconds": round(loop_s, 2),
                           "replicates_per_s": round(loop_rate, 3)},  # fmt: skip
        "speed_ratio": round(engine_rate / loop_rate, 1),
        "speed_ratio_one_worker": round(args.replicates / engine_1_s / loop_rate, 1),
        "engine_parallel_equals_serial": bool(engine.reset_index(drop=True).equals(engine_1.reset_index(drop=True))),
        "max_abs_difference_vs_lifelines": largest_differences(engine, loop),
        "max_abs_difference_vs_tightly_converged_lifelines": largest_differences(engine, tight),
        "note": "Cox differences against default lifelines are lifelines' own convergence error "
                "(it stops when the log-likelihood changes by < 1e-9 relative, up to ~1e-4 short "
                "of the maximum; statsmodels PHReg agrees with the kernel to ~1e-13); against "
                "lifelines with precision=1e-12 they fall to <1e-6 (the largest left is the p-value "
                "of a coefficient near 0, where lifelines' relative stopping rule still stops "
                "early). Compared: log HR with its 95% CI and p; "
                "KM median with CI; log-rank chi2 and p. Rates fall when other jobs share the cores: "
                "see machine.load_average_1min_at_end.",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min_at_end": round(os.getloadavg()[0], 2)},  # fmt: skip
    }
    path = paths.reports_dir() / "bench.json"
    io.write_json_atomic(report, path)
    print(f"engine: {args.replicates} replicates in {engine_s:.1f} s ({engine_rate:.1f}/s, {workers} workers); "
          f"1 worker {engine_1_s:.1f} s; lifelines loop: {args.loop_replicates} in {loop_s:.1f} s "
          f"({loop_rate:.2f}/s); ratio {engine_rate / loop_rate:.0f}; "
          f"max |diff| {report['max_abs_difference_vs_lifelines']}; wrote {path}")  # fmt: skip


if __name__ == "__main__":
    main()
