"""Re-derivation of the review's qualitative claims from virtual cohorts.

Small numeric tools (AUC with DeLong variance; logistic and Cox fits through the shared batched
kernels in ``helpers.kernels``) that run fast enough to analyse hundreds of replicate cohorts;
the single seeded cohort of the notebook is analysed with statsmodels and lifelines, and the
tests check these tools against them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .. import kernels
from ..params import ParameterError


def _placements(score: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong structural components: V10 per positive, V01 per negative (ties count one half)."""
    pos, neg = score[y], score[~y]
    cmp = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return cmp.mean(axis=1), cmp.mean(axis=0)


def auc(score: np.ndarray, y: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """AUC of ``score`` for the binary outcome ``y`` with a DeLong CI (logit-free, clipped to [0, 1])."""
    score, y = np.asarray(score, float), np.asarray(y, bool)
    if score.shape != y.shape or y.all() or (~y).all():
        raise ParameterError("auc needs a score per patient and both outcomes present in y")
    v10, v01 = _placements(score, y)
    est = float(v10.mean())
    se = float(np.sqrt(v10.var(ddof=1) / v10.size + v01.var(ddof=1) / v01.size))
    zq = stats.norm.ppf(0.5 + level / 2)
    return {"auc": est, "lo": max(0.0, est - zq * se), "hi": min(1.0, est + zq * se), "se": se}


def auc_difference(score_a: np.ndarray, score_b: np.ndarray, y: np.ndarray,
                   level: float = 0.95) -> dict[str, float]:  # fmt: skip
    """AUC(a) - AUC(b) on the same patients, paired DeLong CI and two-sided P."""
    y = np.asarray(y, bool)
    a10, a01 = _placements(np.asarray(score_a, float), y)
    b10, b01 = _placements(np.asarray(score_b, float), y)
    d = a10.mean() - b10.mean()
    var = np.var(a10 - b10, ddof=1) / a10.size + np.var(a01 - b01, ddof=1) / a01.size
    se = float(np.sqrt(var))
    zq = stats.norm.ppf(0.5 + level / 2)
    p = float(2 * stats.norm.sf(abs(d) / se)) if se > 0 else float("nan")
    return {"difference": float(d), "lo": float(d - zq * se), "hi": float(d + zq * se), "p": p}


def logistic(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression with an intercept (the shared kernel, one replicate); (coef, se) without intercept."""
    X = np.asarray(X, float)
    fit = kernels.logistic_fit(np.asarray(y, float)[None], X.reshape(1, len(X), -1))
    return fit.beta[0, 1:], fit.se[0, 1:]


def cox_binary(time: np.ndarray, event: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """Cox model with one covariate (the shared kernel, Efron ties as lifelines): HR, Wald 95% CI and P."""
    fit = kernels.cox_fit(np.asarray(time, float)[None], np.asarray(event, bool)[None],
                          np.asarray(x, float)[None])  # fmt: skip
    return {"hr": float(fit.hr[0, 0]), "lo": float(fit.hr_lo[0, 0]), "hi": float(fit.hr_hi[0, 0]),
            "p": float(fit.p[0, 0])}  # fmt: skip


def quartile_rates(df: pd.DataFrame, column: str = "log_burden",
                   outcomes: Sequence[str] = ("severe_crs", "severe_icans")) -> pd.DataFrame:  # fmt: skip
    """Share with each outcome by quartile of ``column`` (Q1 = smallest)."""
    q = pd.qcut(df[column], 4, labels=["Q1", "Q2", "Q3", "Q4"])
    out = df.groupby(q, observed=True)[list(outcomes)].mean() * 100
    out["patients"] = df.groupby(q, observed=True).size()
    out.index.name = f"{column} quartile"
    return out


def std(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, float)
    return (v - v.mean()) / v.std()


def claim_effects(df: pd.DataFrame, debulked: pd.DataFrame | None = None,
                  dean_n: int | None = None) -> list[dict]:  # fmt: skip
    """Every signed effect of VEN-01 ... VEN-05 from one cohort (rows of the draws table).

    Signs follow the ledger's claimed directions: a negative correlation supports 'burden
    lowers expansion'; positive differences support the others.
    """
    y = df.durable.to_numpy(bool)
    lb, lp, lr = df.log_burden.to_numpy(), np.log(df.peak_car_t.to_numpy()), df.log_ratio.to_numpy()
    rows = [
        ("VEN-01", "burden_lowers_expansion", np.corrcoef(lb, lp)[0, 1], None, None, None),
        ("VEN-01", "burden_raises_inflammation", np.corrcoef(lb, df.il6)[0, 1], None, None, None),
    ]
    coef, se = logistic(std(lb)[:, None], y)
    rows.append(("VEN-01", "burden_lowers_durable_response", coef[0], coef[0] - 1.96 * se[0],
                 coef[0] + 1.96 * se[0], 2 * stats.norm.sf(abs(coef[0] / se[0]))))  # fmt: skip
    if y.all() or (~y).all():
        rows += [("VEN-02", "ratio_beats_burden_and_peak", np.nan, None, None, None),
                 ("VEN-02", "ratio_not_sufficient", np.nan, None, None, None)]  # fmt: skip
    else:
        a_r, a_b, a_p = (auc(s, y)["auc"] for s in (lr, -lb, lp))
        rows += [("VEN-02", "ratio_beats_burden_and_peak", min(a_r - a_b, a_r - a_p), None, None, None),
                 ("VEN-02", "ratio_not_sufficient", 1 - a_r, None, None, None)]  # fmt: skip
    for tox in ("crs", "icans"):
        flag = df[f"severe_{tox}"].to_numpy(bool)
        if flag.all() or (~flag).all():
            rows.append(("VEN-03", f"burden_raises_severe_{tox}", np.nan, None, None, None))
            continue
        c, s = logistic(std(lb)[:, None], flag)
        rows.append(("VEN-03", f"burden_raises_severe_{tox}", c[0], c[0] - 1.96 * s[0],
                     c[0] + 1.96 * s[0], 2 * stats.norm.sf(abs(c[0] / s[0]))))  # fmt: skip
    if debulked is not None:
        diff = debulked.durable.mean() - df.durable.mean()
        rows.append(("VEN-04", "debulking_raises_durable_response", diff, None, None, None))
    crude, _ = logistic(std(df.il6)[:, None], ~y)
    adjusted, _ = logistic(np.column_stack([std(df.il6), std(lb)]), ~y)
    rows.append(("VEN-05", "biomarker_association_attenuated_by_burden",
                 abs(crude[0]) - abs(adjusted[0]), None, None, None))  # fmt: skip
    if dean_n:
        sub = df.iloc[:dean_n]
        high = (sub.log_burden > sub.log_burden.median()).to_numpy(float)
        cx = cox_binary(sub.pfs_days.to_numpy(), sub.pfs_event.to_numpy(), high)
        rows.append(("VEN-01", "external_dean_pfs_hr", cx["hr"], cx["lo"], cx["hi"], cx["p"]))
    cols = ["claim_id", "item", "estimate", "lo", "hi", "p"]
    return [dict(zip(cols, r, strict=True)) for r in rows]


# ---- single-cohort analyses with the reference libraries (notebook tables) ----


def auc_table(df: pd.DataFrame) -> pd.DataFrame:
    """AUC (DeLong 95% CI) of burden, peak CAR T and their ratio for durable response, and the
    paired differences ratio - burden and ratio - peak."""
    y = df.durable.to_numpy(bool)
    scores = {"burden (lower = better)": -df.log_burden.to_numpy(), "peak CAR T": np.log(df.peak_car_t.to_numpy()),
              "peak / burden": df.log_ratio.to_numpy()}  # fmt: skip
    rows = [{"predictor": k, **{c: auc(v, y)[c] for c in ("auc", "lo", "hi")}, "p": np.nan}
            for k, v in scores.items()]  # fmt: skip
    for other in ("burden (lower = better)", "peak CAR T"):
        d = auc_difference(scores["peak / burden"], scores[other], y)
        rows.append({"predictor": f"ratio - {other.split(' (')[0]}", "auc": d["difference"],
                     "lo": d["lo"], "hi": d["hi"], "p": d["p"]})  # fmt: skip
    return pd.DataFrame(rows).set_index("predictor")


def confounding_table(df: pd.DataFrame) -> pd.DataFrame:
    """Odds ratio per SD of each marker for no durable response, crude and adjusted for log
    burden (statsmodels logistic), like a Jain et al.-type baseline association study."""
    import statsmodels.api as sm

    from .cohort import MARKERS

    y = (~df.durable.to_numpy(bool)).astype(float)
    rows = []
    for m in MARKERS:
        for label, cols in (("crude", [std(df[m])]), ("adjusted for burden", [std(df[m]), std(df.log_burden)])):
            fit = sm.Logit(y, sm.add_constant(np.column_stack(cols))).fit(disp=0)
            lo, hi = fit.conf_int()[1]
            rows.append({"marker": m, "model": label, "OR_per_SD": np.exp(fit.params[1]),
                         "lo": np.exp(lo), "hi": np.exp(hi), "p": fit.pvalues[1]})  # fmt: skip
    return pd.DataFrame(rows).set_index(["marker", "model"])


def dean_cox(df: pd.DataFrame) -> dict[str, float]:
    """PFS HR high vs low burden (split at the cohort median), lifelines Cox."""
    from lifelines import CoxPHFitter

    d = pd.DataFrame({"t": df.pfs_days, "e": df.pfs_event.astype(int),
                      "high": (df.log_burden > df.log_burden.median()).astype(float)})  # fmt: skip
    fit = CoxPHFitter().fit(d, "t", "e")
    s = fit.summary.loc["high"]
    return {"hr": float(s["exp(coef)"]), "lo": float(s["exp(coef) lower 95%"]),
            "hi": float(s["exp(coef) upper 95%"]), "p": float(s["p"])}  # fmt: skip


def paired_bootstrap_difference(a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                                draws: int = 2000) -> dict[str, float]:  # fmt: skip
    """Mean of b - a over the same patients, with a percentile bootstrap 95% CI."""
    diff = np.asarray(b, float) - np.asarray(a, float)
    idx = rng.integers(0, diff.size, (draws, diff.size))
    boot = diff[idx].mean(axis=1)
    return {"difference": float(diff.mean()), "lo": float(np.quantile(boot, 0.025)),
            "hi": float(np.quantile(boot, 0.975))}  # fmt: skip
