"""Re-derivation of FIG-01 ... FIG-11 from simulated cohorts, one cohort or a batch of replicates.

Single cohort: statsmodels GEE (the reference), statsmodels Logit (naive) and the quadrature
random-intercept model for the three lesion-level ORs; lifelines for the Cox HRs and the
reverse Kaplan–Meier median follow-up. Replicates: the numpy GEE of ``gee`` (tested against
statsmodels), the closed-form 2 x 2 odds ratio (equal to the naive logistic fit for one binary
covariate), the batched Newton fit of the random-intercept model (``glmm``, tested against the
single fit) and the batched kernels of ``helpers.kernels``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from scipy import stats

from .. import results
from ..kernels.cox import cox_fit
from ..kernels.km import km_median, lifelines_median
from . import gee, glmm, model
from .calibration import OR_ITEMS, role

METHODS = {"gee": "GEE exchangeable, robust SE", "naive": "logistic, lesions independent",
           "mixed": "random-intercept logistic (conditional OR)"}  # fmt: skip
SURVIVAL = {"FIG-10/hr_pfs_any_ge5cm": ("pfs_time", "pfs_event"), "FIG-11/hr_os_any_ge5cm": ("os_time", "os_event")}


def reverse_km_followup(patients: pd.DataFrame) -> float:
    """Median follow-up by reverse Kaplan–Meier (being alive and censored is the 'event')."""
    kmf = KaplanMeierFitter().fit(patients.os_time, 1 - patients.os_event)
    return lifelines_median(kmf)[0]  # R/SAS midpoint rule on lifelines' curve


def cox_hr(patients: pd.DataFrame, time: str, event: str) -> gee.OddsRatio:
    """Univariable Cox HR of any lesion >= 5 cm (lifelines, Efron ties); stored as an OddsRatio record."""
    cph = CoxPHFitter().fit(patients[[time, event, "any_ge5cm"]], time, event)
    s = cph.summary.loc["any_ge5cm"]
    return gee.OddsRatio(float(s["exp(coef)"]), float(s["exp(coef) lower 95%"]), float(s["exp(coef) upper 95%"]),
                         float(s["p"]), float(s["coef"]), float(s["se(coef)"]))  # fmt: skip


def lesion_methods(lesions: pd.DataFrame) -> pd.DataFrame:
    """The three ORs per feature by the three methods (single cohort)."""
    rows = []
    for f, ref in OR_ITEMS.items():
        y, x, g = lesions.local_failure, lesions[f], lesions.patient
        fits = {"gee": gee.gee_statsmodels(y, x, g), "naive": gee.naive_logistic(y, x),
                "mixed": glmm.random_intercept_logistic(y, x, g).odds_ratio}  # fmt: skip
        for m, r in fits.items():
            rows.append({"claim": ref, "feature": f, "method": m, "odds_ratio": r.odds_ratio, "lo": r.lo,
                         "hi": r.hi, "p": r.p, "ci_ratio": r.hi / r.lo})  # fmt: skip
    return pd.DataFrame(rows)


def rederive(cohort: model.Cohort) -> pd.DataFrame:
    """Results rows (helpers.results format) for every ledger item of FIG-01 ... FIG-11."""
    pat = model.lesion_patterns(cohort)
    surv = cohort.patients
    les = cohort.lesions
    rows = []

    def add(ref, value, lo=None, hi=None, p=None, method="", note=""):
        rows.append(results.from_ledger(ref, role(ref), rederived=value, rederived_lo=lo, rederived_hi=hi,
                                        rederived_p=p, method=method, note=note))  # fmt: skip

    add("FIG-01/lesions", pat["lesions"], method="count (fixed by construction)")
    add("FIG-01/patients", pat["patients"], method="count (fixed by construction)")
    add("FIG-02/followup_median", reverse_km_followup(surv[surv.in_lesion_analysis]), method="reverse Kaplan-Meier")
    rec = pat["recurred"]
    add("FIG-02/recurred", rec, method="patients with an observed failure")
    add("FIG-02/recurred_pct", 100 * rec / pat["patients"], method="share of 63")
    for key, ref in (("local_component", "FIG-03/local_component"), ("strictly_local", "FIG-04/strictly_local")):
        add(ref, pat[key], method="from lesion outcomes")
        add(ref + "_pct", 100 * pat[key] / max(rec, 1), method="share of recurrences")
    add("FIG-05/retained_resolution_pct", 100 * pat["retained_resolution"] / max(rec, 1),
        method="recurrent patients with >= 1 lesion free of local failure")
    for f, ref in OR_ITEMS.items():
        r = gee.gee_statsmodels(les.local_failure, les[f], les.patient)
        add(ref, r.odds_ratio, r.lo, r.hi, r.p, method=METHODS["gee"])
    add("FIG-09/survival_cohort", len(surv), method="count (63 + 6 survival-only patients)")
    big = int(surv.any_ge5cm.sum())
    add("FIG-09/any_lesion_ge5cm", big, method="patients with any lesion >= 5 cm")
    add("FIG-09/any_lesion_ge5cm_pct", 100 * big / len(surv), method="share of 69")
    for ref, (t, e) in SURVIVAL.items():
        r = cox_hr(surv, t, e)
        add(ref, r.odds_ratio, r.lo, r.hi, r.p, method="Cox (lifelines), any lesion >= 5 cm")
    return results.frame(rows)


# ---------------------------------------------------------------- replicates


def two_by_two(y: np.ndarray, x: np.ndarray) -> tuple[float, float, float, float]:
    """OR, CI, P of a 2 x 2 table (equals logistic regression on one binary covariate)."""
    a = np.sum((x == 1) & (y == 1)); b = np.sum((x == 1) & (y == 0))  # noqa: E702
    c = np.sum((x == 0) & (y == 1)); d = np.sum((x == 0) & (y == 0))  # noqa: E702
    if min(a, b, c, d) == 0:
        return (np.nan,) * 4
    lor, se = np.log(a * d / (b * c)), np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return (np.exp(lor), np.exp(lor - gee.Z95 * se), np.exp(lor + gee.Z95 * se), 2 * stats.norm.sf(abs(lor / se)))


def analyse(cohorts) -> pd.DataFrame:
    """Batch analysis for ``replicate.run``: one long row per (replicate, item)."""
    rows = []
    mixed_sets, mixed_keys = [], []  # all replicates x features in one batched mixed-model fit
    for rep, c in enumerate(cohorts):
        pat = model.lesion_patterns(c)
        rec = max(pat["recurred"], 1)
        est = {
            "FIG-02/recurred": pat["recurred"], "FIG-02/recurred_pct": 100 * pat["recurred"] / pat["patients"],
            "FIG-03/local_component": pat["local_component"],
            "FIG-03/local_component_pct": 100 * pat["local_component"] / rec,
            "FIG-04/strictly_local": pat["strictly_local"], "FIG-04/strictly_local_pct": 100 * pat["strictly_local"] / rec,
            "FIG-05/retained_resolution_pct": 100 * pat["retained_resolution"] / rec,
            "FIG-09/any_lesion_ge5cm": c.patients.any_ge5cm.sum(),
            "FIG-09/any_lesion_ge5cm_pct": 100 * c.patients.any_ge5cm.mean(),
        }  # fmt: skip
        for ref, v in est.items():
            rows.append((rep, *ref.split("/"), float(v), np.nan, np.nan, np.nan))
        les = c.lesions
        y, g = les.local_failure.to_numpy(), les.patient.to_numpy()
        for f, ref in OR_ITEMS.items():
            x = les[f].to_numpy()
            r = gee.gee_exchangeable(y, x, g)
            cid, item = ref.split("/")
            rows.append((rep, cid, item, r.odds_ratio, r.lo, r.hi, r.p))
            rows.append((rep, cid, item + "__naive", *two_by_two(y, x)))
            mixed_sets.append((y, x, g))
            mixed_keys.append((rep, cid, item + "__mixed"))
    mixed = glmm.random_intercept_logistic_batch(*glmm.stack(mixed_sets))  # unconverged fits are NaN
    for i, key in enumerate(mixed_keys):
        rows.append((*key, mixed.odds_ratio[i], mixed.lo[i], mixed.hi[i], mixed.p[i]))
    draws = pd.DataFrame(rows, columns=["rep", "claim_id", "item", "estimate", "lo", "hi", "p"])
    # survival: all replicates at once with the batched kernels
    pts = [c.patients for c in cohorts]
    big = np.stack([p.any_ge5cm.to_numpy(float) for p in pts])
    extra = []
    for ref, (t, e) in SURVIVAL.items():
        fit = cox_fit(np.stack([p[t].to_numpy() for p in pts]), np.stack([p[e].to_numpy() for p in pts]), big)
        cid, item = ref.split("/")
        extra.append(pd.DataFrame({"rep": np.arange(len(pts)), "claim_id": cid, "item": item,
                                   "estimate": fit.hr[:, 0], "lo": fit.hr_lo[:, 0], "hi": fit.hr_hi[:, 0],
                                   "p": fit.p[:, 0]}))  # fmt: skip
    lesion_pts = [p[p.in_lesion_analysis] for p in pts]
    med, _, _ = km_median(np.stack([p.os_time.to_numpy() for p in lesion_pts]),
                          np.stack([1 - p.os_event.to_numpy() for p in lesion_pts]))  # fmt: skip
    extra.append(pd.DataFrame({"rep": np.arange(len(pts)), "claim_id": "FIG-02", "item": "followup_median",
                               "estimate": med}))  # fmt: skip
    return pd.concat([draws, *extra], ignore_index=True)
