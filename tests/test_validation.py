"""Methods validation on known truth: do the kernels' 95% CIs cover and their tests hold 5%?

Cohorts are simulated from known parameters at the papers' sample sizes (n = 238, DESCAR-T;
n = 69, the smallest cohort) and analysed with the batched kernels:

- KM median 95% CI (Brookmeyer–Crowley, log-log): exponential times, true median 6 months;
- landmark S(12) 95% CI (Greenwood, log-log): Weibull(shape 1.5, scale 15), S(12) = exp(-0.8^1.5);
- log-rank type I error: two arms with the same Weibull distribution;
- Cox (Efron) HR 95% CI: arm HR 0.6 (times rounded to 0.1 month, so ties), plus the type I
  error of the Wald test for a second covariate with no effect;
- logistic OR 95% CI: exposure OR 2, adjusted for a continuous covariate;
- GEE OR 95% CI (exchangeable, robust SE; the numpy GEE of ``helpers.kernels.gee``): 63 patients
  with 469 lesions, a lesion-level binary feature, a patient random intercept (SD 1). The true
  marginal OR is computed by Gauss-Hermite quadrature: the feature is independent of the random
  effect, so the marginal mean is exactly logistic in it and GEE is consistent for that OR;
- Mann-Whitney type I error (``helpers.kernels.rank.mann_whitney``): 40% vs 60% split, no shift.
Censoring is uniform on (0, 36) months, as from staggered entry with a common cut-off.

The fast subset (400 replicates per check) runs in `make test`; the full study (2,000 per
check, `make validate`) also writes reports/validation/validation.csv and coverage.png.
"""

import numpy as np
import pandas as pd
import pytest

from helpers import io, kernels, paths
from helpers.kernels.gee import gee_exchangeable
from helpers.kernels.rank import mann_whitney

SIZES = (238, 69)
FOLLOW_UP = 36.0
MEDIAN = 6.0
WEIBULL_SHAPE, WEIBULL_SCALE, LANDMARK = 1.5, 15.0, 12.0
HR = 0.6
OR, LOGIT_INTERCEPT, LOGIT_SLOPE_Z = 2.0, -0.5, 0.3
NOMINAL_COVERAGE, ALPHA = 0.95, 0.05
GEE_PATIENTS, GEE_LESIONS, GEE_INTERCEPT, GEE_LOG_OR, GEE_RE_SD = 63, 469, -1.0, np.log(2.0), 1.0


def marginal_or(intercept: float, log_or: float, sd: float) -> float:
    """Population-averaged OR of a random-intercept logistic model (Gauss-Hermite, 60 nodes)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    p0, p1 = (float(np.sum(weights / (1 + np.exp(-(intercept + b * log_or + sd * nodes))))) for b in (0, 1))
    return (p1 / (1 - p1)) / (p0 / (1 - p0))


def gee_coverage(rng, replicates: int) -> tuple[float, int]:
    truth = marginal_or(GEE_INTERCEPT, GEE_LOG_OR, GEE_RE_SD)
    sizes = np.full(GEE_PATIENTS, GEE_LESIONS // GEE_PATIENTS)
    sizes[: GEE_LESIONS - sizes.sum()] += 1  # 469 lesions over 63 patients
    groups = np.repeat(np.arange(GEE_PATIENTS), sizes)
    lo, hi = np.full(replicates, np.nan), np.full(replicates, np.nan)
    for r in range(replicates):
        x = rng.binomial(1, 0.4, GEE_LESIONS).astype(float)
        eta = GEE_INTERCEPT + GEE_LOG_OR * x + GEE_RE_SD * rng.normal(size=GEE_PATIENTS)[groups]
        y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
        fit = gee_exchangeable(y, x, groups)
        lo[r], hi[r] = fit.lo, fit.hi
    return covered(lo, hi, truth)


def censor(rng, latent):
    """Observed time and event indicator under uniform censoring on (0, FOLLOW_UP)."""
    c = rng.uniform(0, FOLLOW_UP, latent.shape)
    return np.minimum(latent, c), (latent <= c).astype(float)


def weibull(rng, shape_rn):
    return WEIBULL_SCALE * rng.weibull(WEIBULL_SHAPE, shape_rn)


def covered(lo, hi, truth):
    """Share of usable replicates whose CI contains the truth, and how many were usable."""
    ok = ~(np.isnan(lo) | np.isnan(hi))
    return float(np.mean((lo[ok] <= truth) & (truth <= hi[ok]))), int(ok.sum())


def rejected(p):
    ok = np.isfinite(p)
    return float(np.mean(p[ok] < ALPHA)), int(ok.sum())


def study(n: int, replicates: int, seed: int) -> pd.DataFrame:
    """One row per check: observed coverage (or rejection rate) over ``replicates`` cohorts."""
    rng = np.random.default_rng([seed, n])
    shape = (replicates, n)
    rows = []

    def add(method, quantity, target, value_used):
        value, used = value_used
        rows.append({"method": method, "n": n, "quantity": quantity, "target": target,
                     "replicates": replicates, "used": used, "value": value})  # fmt: skip

    time, event = censor(rng, rng.exponential(MEDIAN / np.log(2), shape))
    _, lo, hi = kernels.km_median(time, event)
    add("KM median CI (Brookmeyer-Crowley, log-log)", "coverage", NOMINAL_COVERAGE, covered(lo, hi, MEDIAN))

    time, event = censor(rng, weibull(rng, shape))
    _, lo, hi = kernels.km_survival_at(time, event, [LANDMARK])
    truth = np.exp(-((LANDMARK / WEIBULL_SCALE) ** WEIBULL_SHAPE))
    add("KM landmark S(12) CI (Greenwood, log-log)", "coverage", NOMINAL_COVERAGE,
        covered(lo[:, 0], hi[:, 0], truth))  # fmt: skip

    arm = rng.binomial(1, 0.5, shape).astype(float)
    time, event = censor(rng, weibull(rng, shape))
    _, _, p = kernels.logrank(time, event, arm)
    add("log-rank test, 2 arms, no difference", "type I error", ALPHA, rejected(p))

    arm = rng.binomial(1, 0.5, shape).astype(float)
    z = rng.normal(size=shape)
    latent = rng.exponential(8.0 / np.log(2) / HR**arm)
    time, event = censor(rng, latent)
    fit = kernels.cox_fit(np.ceil(time * 10) / 10, event, np.stack([arm, z], axis=-1))
    add("Cox HR CI (Efron, Wald)", "coverage", NOMINAL_COVERAGE, covered(fit.hr_lo[:, 0], fit.hr_hi[:, 0], HR))
    add("Cox Wald test, covariate with no effect", "type I error", ALPHA, rejected(fit.p[:, 1]))

    exposure = rng.binomial(1, 0.4, shape).astype(float)
    z = rng.normal(size=shape)
    eta = LOGIT_INTERCEPT + np.log(OR) * exposure + LOGIT_SLOPE_Z * z
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    fit = kernels.logistic_fit(y, np.stack([exposure, z], axis=-1))
    add("logistic OR CI (Wald)", "coverage", NOMINAL_COVERAGE, covered(fit.or_lo[:, 1], fit.or_hi[:, 1], OR))

    group = np.arange(n)[None, :] < round(0.4 * n)
    _, p = mann_whitney(rng.normal(size=shape), np.broadcast_to(group, shape))
    add("Mann-Whitney test, no shift", "type I error", ALPHA, rejected(p))

    if n == SIZES[0]:  # the GEE check has its own size (63 patients, 469 lesions)
        add("GEE OR CI (exchangeable, robust; 63 patients)", "coverage", NOMINAL_COVERAGE,
            gee_coverage(rng, replicates))  # fmt: skip

    out = pd.DataFrame(rows)
    out["mc_se"] = np.sqrt(out["target"] * (1 - out["target"]) / out["used"])
    return out


# Fast subset: 400 replicates give a Monte Carlo SE of sqrt(.95 * .05 / 400) = 0.011 for a
# coverage and 0.011 for a 5% rejection rate. The band is the target +- 4 MC SE: an exact
# method fails it with probability 6e-5, while a CI whose real coverage is 90% or less (a
# wrong SE or a Wald CI on the wrong scale) falls outside it.
FAST_REPLICATES, FAST_BAND_SE = 400, 4.0


@pytest.mark.parametrize("n", SIZES)
def test_fast_coverage_and_type_one_error_within_monte_carlo_band(n):
    res = study(n, FAST_REPLICATES, seed=20240610)
    assert (res["used"] >= 0.98 * FAST_REPLICATES).all(), res  # non-converged fits are rare
    off = (res["value"] - res["target"]).abs() > FAST_BAND_SE * res["mc_se"]
    assert not off.any(), res[off]


# Full study: 2,000 replicates, MC SE 0.0049 for a coverage, so 93%-97% is +- 4 MC SE around 95%;
# type I error within 3%-7% (+- 4.1 MC SE around 5%).
FULL_REPLICATES = 2000
COVERAGE_BAND, TYPE_ONE_BAND = (0.93, 0.97), (0.03, 0.07)


@pytest.mark.slow
def test_full_validation_study_writes_table_and_figure():
    res = pd.concat([study(n, FULL_REPLICATES, seed=20240611) for n in SIZES], ignore_index=True)
    is_coverage = res["quantity"] == "coverage"
    res["band_lo"] = np.where(is_coverage, COVERAGE_BAND[0], TYPE_ONE_BAND[0])
    res["band_hi"] = np.where(is_coverage, COVERAGE_BAND[1], TYPE_ONE_BAND[1])
    res["within_band"] = res["value"].between(res["band_lo"], res["band_hi"])
    out_dir = paths.reports_dir() / "validation"
    io.write_csv_atomic(res, out_dir / "validation.csv")
    plot_coverage(res, out_dir / "coverage.png")
    assert (res["used"] >= 0.98 * FULL_REPLICATES).all(), res
    assert res["within_band"].all(), res[~res["within_band"]]


def plot_coverage(res: pd.DataFrame, path) -> None:
    """Observed coverage / rejection rate per check and n, with 95% Monte Carlo intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    for ax, quantity in zip(axes, ["coverage", "type I error"], strict=True):
        sub = res[res["quantity"] == quantity].reset_index(drop=True)
        labels = sub["method"].unique().tolist()
        for j, n in enumerate(SIZES):
            part = sub[sub["n"] == n]
            ypos = np.array([labels.index(m) for m in part["method"]]) + (j - 0.5) * 0.25
            ax.errorbar(part["value"], ypos, xerr=1.96 * part["mc_se"], fmt="o", capsize=3, label=f"n = {n}")
        ax.axvline(sub["target"].iloc[0], color="k", lw=1)
        ax.axvspan(sub["band_lo"].iloc[0], sub["band_hi"].iloc[0], color="0.9", zorder=0)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlabel(quantity)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=len(SIZES), fontsize=8)
    fig.suptitle(f"Methods validation: {FULL_REPLICATES} simulated cohorts per check (grey: acceptance band)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
