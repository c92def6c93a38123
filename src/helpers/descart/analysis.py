"""Re-derivation of the DESCAR-T numbers from simulated cohorts.

One specification (the tables below: which curve, which subgroup, which covariates) drives two
engines, so the seeded cohort and the replicates compute the same things:

- ``rederive(cohort, settings, rng)``: one cohort with the reference libraries (lifelines
  Kaplan-Meier and log-rank, statsmodels ``PHReg`` for Cox with Breslow or Efron ties, scipy's
  chi-squared and Monte Carlo Fisher test) -> results rows;
- ``analyse(cohorts, settings)``: many cohorts at once with ``helpers.kernels`` -> long draws
  (``rep, claim_id, item, estimate, lo, hi, p, effect``) for ``helpers.replicate``.

Conventions: Kaplan-Meier medians with a Brookmeyer-Crowley 95% CI on the log-log scale and R
survival's / SAS LIFETEST's midpoint rule (``kernels.km``); a median not reached is ``+inf``.
Median follow-up by reverse Kaplan-Meier. Log-rank tests. Cox models on complete cases, ties,
covariate set and the reference of the salvage classes from the settings (``cox_ties``,
``multivariable_covariates``, ``salvage_reference``: assumptions, the paper states none); CRP and
ferritin per assumed unit. A Cox coefficient whose likelihood has no maximum (monotone
likelihood: no event among a small class) is "not estimable", the paper's "NR": its HR is
``+inf`` with no CI. A P value is its own estimate. The Fisher test of cytopenia by salvage class
is Monte Carlo (2,000 tables) with the cohort's own generator (``analysis_seed``).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .. import ledger, results
from ..kernels import km as kkm
from ..kernels.cox import cox_fit
from ..kernels.cox_univariable import cox_univariable
from ..kernels.exact import fisher_2xk
from ..kernels.km_interpolated import interpolated_median
from ..kernels.logrank import logrank
from .settings import BRIDGING, GROUPS, INPUTS, PAPER, RESPONSE, SALVAGE

DIVERGED_LOG_HR = 10.0  # |log HR| > 10 (HR > 22,000) only arises when the likelihood has no maximum
DIVERGED_SE = 5.0  # SE(log HR) > 5: a 95% CI spanning e^±10, the same monotone likelihood stopped early
COX_TOL = 1e-7  # Newton stops at a step below this (log HR): quadratic convergence, error ~1e-14
FISHER_RESAMPLES = 2000  # Monte Carlo tables of the Fisher test (SE of P below 0.011)
SALVAGE_INDEX = {name: i for i, name in enumerate(SALVAGE)}
LOGRANK_SALVAGE = ("bispecific", "lenalidomide", "targeted", "immunochemo")  # the four compared
FISHER_CLASSES = 5  # cytopenia by the five named salvage classes (lenalidomide ... immunochemo)

Selector = Callable[[Mapping[str, np.ndarray]], np.ndarray]


# ----------------------------------------------------------------------------- specification
# A selector works on one cohort (1-D arrays) and on stacked cohorts (2-D, one row per cohort).
def _group(k: int) -> Selector:
    return lambda c: c["group"] == k


def _after_d30(c):
    return c["group"] > 0


def _salvage(name: str) -> Selector:
    if name == "radiotherapy":  # the paper's radiotherapy curves are of the 12 localized relapses
        return lambda c: c["rt_localized"]
    return lambda c: c["salvage"] == SALVAGE_INDEX[name]


# (reference, time key, event key, selector or None for every patient of the array)
MEDIANS = [
    ("DES-08/pfs2_median", "pfs2", "pfs2_event", None),
    ("DES-09/os2_median", "os2", "os2_event", None),
    *[(f"DES-10/pfs2_median_{g}", "pfs2", "pfs2_event", _group(k)) for k, g in enumerate(GROUPS)],
    *[(f"DES-11/os2_median_{g}", "os2", "os2_event", _group(k)) for k, g in enumerate(GROUPS)],
    ("DES-12/os_median_d0_d30_abstract", "os2", "os2_event", _group(0)),
    ("DES-12/os_median_after_d30_abstract", "os2", "os2_event", _after_d30),
    *[(f"DES-13/pfs2_median_{s}", "pfs2", "pfs2_event", _salvage(s)) for s in (*LOGRANK_SALVAGE, "radiotherapy")],
    *[(f"DES-14/os2_median_{s}", "os2", "os2_event", _salvage(s)) for s in (*LOGRANK_SALVAGE, "radiotherapy")],
    ("DES-19/registry_pfs_median", "reg_pfs", "reg_pfs_event", None),
    ("DES-19/dor_median", "dor", "dor_event", None),
]  # fmt: skip
# (reference, time key, event key, selector, landmark month, report as event % (True) or survival %)
LANDMARKS = [
    ("DES-08/pfs2_event_6m", "pfs2", "pfs2_event", None, 6.0, True),
    ("DES-08/pfs2_event_12m", "pfs2", "pfs2_event", None, 12.0, True),
    ("DES-09/os2_surv_6m", "os2", "os2_event", None, 6.0, False),
    ("DES-09/os2_surv_12m", "os2", "os2_event", None, 12.0, False),
    ("DES-12/os_surv_6m_d0_d30", "os2", "os2_event", _group(0), 6.0, False),
    ("DES-19/registry_pfs_6m", "reg_pfs", "reg_pfs_event", None, 6.0, False),
    ("DES-19/dor_6m", "dor", "dor_event", None, 6.0, False),
]


def _os_from_infusion(c):
    return c["ttf"] + c["os2"]


# median follow-up by reverse Kaplan-Meier of OS from infusion: (reference, time, event, selector)
FOLLOWUPS = [
    ("DES-01/followup", lambda c: c["reg_os"], "reg_os_event", None),
    ("DES-01/followup_axicel", _os_from_infusion, "os2_event", lambda c: c["axicel"] == 1),
    ("DES-01/followup_tisacel", _os_from_infusion, "os2_event", lambda c: c["axicel"] == 0),
]


def _timing3(c):
    return c["group"]


def _timing2(c):
    return (c["group"] > 0).astype(int)


def _salvage4(c):
    lab = np.full(np.shape(c["salvage"]), -1)
    for k, s in enumerate(LOGRANK_SALVAGE):
        lab[c["salvage"] == SALVAGE_INDEX[s]] = k
    return lab


# (reference, time key, event key, labeller -> integer labels, -1 = not in the test)
LOGRANKS = [
    ("DES-10/pfs2_logrank_p", "pfs2", "pfs2_event", _timing3),
    ("DES-11/os2_logrank_p", "os2", "os2_event", _timing3),
    ("DES-12/os_d0_d30_vs_after_p", "os2", "os2_event", _timing2),
    ("DES-13/pfs2_salvage_logrank_p", "pfs2", "pfs2_event", _salvage4),
    ("DES-14/os2_salvage_logrank_p", "os2", "os2_event", _salvage4),
]
OTHER = ("DES-02/ttf_median", "DES-19/responders", "DES-20/cytopenia_product_chi2_p",
         "DES-20/cytopenia_axicel_gt_tisacel", "DES-20/cytopenia_salvage_fisher_p")  # fmt: skip

# ----------------------------------------------------------------------------- Cox models
MARKERS = ("high_ldh", "ecog_ge2", "fail_d0_d30", "crp", "ferritin")
PRINTED_SALVAGE = ("bispecific", "lenalidomide", "targeted")
COVARIATES = (*MARKERS, *PRINTED_SALVAGE)  # the eight candidates with a printed univariable HR
ENDPOINTS = {"pfs2": ("pfs2", "pfs2_event", "DES-15", "DES-17"), "os2": ("os2", "os2_event", "DES-16", "DES-18")}
# the multivariable rows the paper prints (Table 3)
MULTI_PRINTED = {
    "pfs2": ("high_ldh", "ferritin", "bispecific", "lenalidomide", "targeted"),
    "os2": ("high_ldh", "crp", "fail_d0_d30", "bispecific", "targeted", "lenalidomide"),
}


def salvage_columns(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The salvage indicators of the Cox design under ``settings["salvage_reference"]``."""
    ref = settings["salvage_reference"]
    if ref == "all_other":  # each printed class against every other failure
        return PRINTED_SALVAGE
    if ref == "immunochemo":  # one categorical covariate, immunochemotherapy the reference
        return (*PRINTED_SALVAGE, "radiotherapy", "other_or_none")
    raise ValueError(f"salvage_reference={ref!r}: use 'all_other' or 'immunochemo'")


def design_columns(settings: Mapping[str, Any]) -> tuple[str, ...]:
    return (*MARKERS, *salvage_columns(settings))


def covariate_matrix(c: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> np.ndarray:
    """(..., n, k) design in ``design_columns`` order (works on stacked cohorts too); CRP and
    ferritin in the assumed units; NaN = missing."""
    cols = {"high_ldh": c["high_ldh"], "ecog_ge2": c["ecog_ge2"], "fail_d0_d30": c["fail_d0_d30"],
            "crp": c["crp"] / settings["crp_unit_mg_l"], "ferritin": c["ferritin"] / settings["ferritin_unit_ug_l"]}  # fmt: skip
    sal = c["salvage"]
    for s in PRINTED_SALVAGE:
        cols[s] = (sal == SALVAGE_INDEX[s]).astype(float)
    cols["radiotherapy"] = (sal == SALVAGE_INDEX["radiotherapy"]).astype(float)
    cols["other_or_none"] = (sal >= SALVAGE_INDEX["other"]).astype(float)
    return np.stack([np.asarray(cols[name], float) for name in design_columns(settings)], axis=-1)


def cox_models(settings: Mapping[str, Any]) -> list[dict]:
    """Every Cox model the paper's tables need: endpoint, columns, and the printed rows it gives.

    Univariable: one model per marker; the salvage classes one model each (reference: every
    other failure) or one categorical model (reference: immunochemotherapy). Multivariable:
    all candidates, or only those the paper prints, with the salvage block as in the univariable.
    """
    sal = salvage_columns(settings)
    choice = settings["multivariable_covariates"]
    if choice not in ("all", "printed"):
        raise ValueError(f"multivariable_covariates={choice!r}: use 'all' or 'printed'")
    models = []
    for endpoint, (_, _, uni_claim, multi_claim) in ENDPOINTS.items():
        for cov in MARKERS:
            models.append({"endpoint": endpoint, "kind": "uni", "columns": (cov,),
                           "rows": {f"{uni_claim}/{endpoint}_uni_{cov}": cov}})  # fmt: skip
        if sal == PRINTED_SALVAGE:
            for cov in sal:
                models.append({"endpoint": endpoint, "kind": "uni", "columns": (cov,),
                               "rows": {f"{uni_claim}/{endpoint}_uni_{cov}": cov}})  # fmt: skip
        else:
            models.append({"endpoint": endpoint, "kind": "uni", "columns": sal,
                           "rows": {f"{uni_claim}/{endpoint}_uni_{cov}": cov for cov in PRINTED_SALVAGE}})  # fmt: skip
        printed = MULTI_PRINTED[endpoint]
        markers = MARKERS if choice == "all" else tuple(m for m in MARKERS if m in printed)
        models.append({"endpoint": endpoint, "kind": "multi", "columns": (*markers, *sal),
                       "rows": {f"{multi_claim}/{endpoint}_multi_{cov}": cov for cov in printed}})  # fmt: skip
    return models


def _diverged(beta, se) -> np.ndarray:
    """Coefficients whose HR is 'not estimable' (monotone likelihood), for statsmodels and kernel alike."""
    beta, se = np.asarray(beta, float), np.asarray(se, float)
    return (np.abs(beta) > DIVERGED_LOG_HR) | ~(se <= DIVERGED_SE)


def _cox_outputs(beta, se, converged, separate: bool = False) -> tuple[np.ndarray, ...]:
    """HR, CI and Wald P from coefficients: +inf HR (no CI) where a coefficient diverged, NaN where
    the fit failed for another reason. Arrays (..., k): the k coefficients of one model, or
    (``separate``) k one-covariate models with ``converged`` of the same shape."""
    beta, se = np.asarray(beta, float), np.asarray(se, float)
    div = _diverged(beta, se)
    if separate:
        failed = ~np.isfinite(beta) | (~np.asarray(converged, bool) & ~div)
    else:
        conv = np.asarray(converged, bool)[..., None]
        failed = ~np.isfinite(beta) | (~conv & ~div.any(axis=-1, keepdims=True))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        hr = np.exp(beta)
        lo, hi = np.exp(beta - kkm.Z95 * se), np.exp(beta + kkm.Z95 * se)
        p = 2 * stats.norm.sf(np.abs(beta / se))
    hr = np.where(failed, np.nan, np.where(div, np.inf, hr))
    lo = np.where(failed | div, np.nan, lo)
    hi = np.where(failed | div, np.nan, hi)
    p = np.where(failed | ~np.isfinite(p), np.nan, p)
    return hr, lo, hi, p


# ----------------------------------------------------------------------------- inputs
def _pct(k: float, n: float) -> float:
    return 100.0 * k / n if n else math.nan


def input_checks(c: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Counts and percentages of one simulated cohort for the printed inputs (``settings.INPUTS``)."""
    out: dict[str, float] = {}
    n, n_reg = c["pfs2"].size, c["reg_pfs"].size
    axi_reg, axi = c["reg_axicel"].sum(), c["axicel"].sum()
    out |= {"DES-01/infused": n_reg, "DES-01/infused_axicel": axi_reg, "DES-01/infused_tisacel": n_reg - axi_reg,
            "DES-01/failed": n, "DES-01/failed_pct": _pct(n, n_reg),
            "DES-01/failed_axicel": axi, "DES-01/failed_tisacel": n - axi}  # fmt: skip
    for k, g in enumerate(GROUPS):
        cnt = np.sum(c["group"] == k)
        out |= {f"DES-02/fail_{g}": cnt, f"DES-02/fail_{g}_pct": _pct(cnt, n)}
    out["DES-02/ttf_range"] = c["ttf"].max()
    for key, ref in (("dlbcl", "DES-03/dlbcl"), ("aaipi_2_3", "DES-03/aaipi_2_3"),
                     ("prior_lines_gt3", "DES-03/prior_lines_gt3"), ("transplanted", "DES-03/transplanted"),
                     ("pd_at_infusion", "DES-04/pd_at_infusion"), ("high_ldh", "DES-04/high_ldh")):  # fmt: skip
        out[ref] = np.nansum(c[key])
        out[f"{ref}_pct"] = _pct(np.nansum(c[key]), np.isfinite(c[key]).sum())
    out["DES-03/ecog_ge2_pct"] = _pct(np.nansum(c["ecog_ge2"]), np.isfinite(c["ecog_ge2"]).sum())
    bridged = np.sum(c["bridging"] < len(BRIDGING))
    out |= {"DES-04/bridging": bridged, "DES-04/bridging_pct": _pct(bridged, n)}
    for k, b in enumerate(BRIDGING):
        cnt = np.sum(c["bridging"] == k)
        out |= {f"DES-04/bridging_{b}": cnt, f"DES-04/bridging_{b}_pct": _pct(cnt, bridged)}
    n_np = c["np_status"].size
    out["DES-05/nonprogressive"] = n_np
    for k, s in enumerate(("cr", "pr", "sd")):
        cnt = np.sum(c["np_status"] == k)
        out |= {f"DES-05/np_{s}": cnt, f"DES-05/np_{s}_pct": _pct(cnt, n_np)}
    rec = np.sum(c["salvage"] < len(SALVAGE))
    out |= {"DES-06/salvage": rec, "DES-06/salvage_pct": _pct(rec, n), "DES-06/salvage_pct_abstract": _pct(rec, n)}
    for k, s in enumerate(SALVAGE[:-1]):
        cnt = np.sum(c["salvage"] == k)
        out |= {f"DES-06/{s}": cnt, f"DES-06/{s}_pct": _pct(cnt, rec)}
    evaluable = np.sum((c["response"] >= 0) & (c["response"] < len(RESPONSE) - 1))
    out |= {"DES-07/evaluable": evaluable, "DES-07/evaluable_pct": _pct(evaluable, rec)}
    for k, s in enumerate(RESPONSE[:-1]):
        cnt = np.sum(c["response"] == k)
        out |= {f"DES-07/{s}": cnt, f"DES-07/{s}_pct": _pct(cnt, evaluable)}
    orr = np.sum((c["response"] == 0) | (c["response"] == 1))
    out |= {"DES-07/orr": orr, "DES-07/orr_pct": _pct(orr, evaluable)}
    out["DES-13/radiotherapy_localized_n"] = np.sum(c["rt_localized"])
    return {k: float(v) for k, v in out.items()}


# ----------------------------------------------------------------------------- which items
class _Wanted:
    """Membership by claim ID ("DES-15") or by full reference ("DES-15/pfs2_uni_crp"); None = all."""

    def __init__(self, include: Iterable[str] | None):
        self.refs = None if include is None else set(include)

    def __contains__(self, ref: str) -> bool:
        return self.refs is None or ref in self.refs or ref.split("/")[0] in self.refs

    def any(self, refs: Iterable[str]) -> bool:
        return any(r in self for r in refs)


def _ledger_refs(include) -> list[str]:
    wanted = _Wanted(include)
    df = ledger.frame(PAPER)
    return [r for r in df.claim_id + "/" + df["item"] if r in wanted]


# ----------------------------------------------------------------------------- one cohort
def rederive(cohort: Mapping[str, Any], settings: Mapping[str, Any], rng: np.random.Generator,
             include: Iterable[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Results rows for every ledger item (or those of ``include``: claim IDs or refs) from one
    cohort, with lifelines, statsmodels and scipy (``rng``: the Fisher test's Monte Carlo)."""
    wanted = _Wanted(include)
    est = _single(cohort, settings, rng, wanted)
    inputs = input_checks(cohort) if wanted.any(INPUTS) else {}
    quantity = _quantities()
    rows = []
    for ref in _ledger_refs(include):
        if ref in inputs:
            rows.append(results.from_ledger(ref, rederived=inputs[ref], method="simulated cohort (printed input)"))
        elif ref in est:
            e, lo, hi, p, method = est[ref]
            if quantity[ref] == "P":
                rows.append(results.from_ledger(ref, rederived=p, rederived_p=p, method=method))
            else:
                row = results.from_ledger(ref, rederived=_num(e), rederived_lo=_num(lo), rederived_hi=_num(hi),
                                          rederived_p=_num(p), method=method)  # fmt: skip
                if quantity[ref] == "qualitative":  # the claimed direction, as a sign
                    row["reported"] = 1.0
                rows.append(row)
        else:
            rows.append(results.from_ledger(ref, method="", note=NOT_SIMULATED.get(ref, "")))
    return results.frame(rows)


def _quantities() -> dict[str, str]:
    df = ledger.frame(PAPER)
    return dict(zip(df.claim_id + "/" + df["item"], df.quantity, strict=True))


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


NOT_SIMULATED = {
    "DES-03/transplanted_auto": "autologous vs allogeneic transplant is not simulated",
    "DES-03/transplanted_allo": "autologous vs allogeneic transplant is not simulated",
}


def _single(c, s, rng, wanted: _Wanted) -> dict[str, tuple]:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    out: dict[str, tuple] = {}
    nan = math.nan

    fits: dict = {}

    def fit_km(tk, ek, sel):  # one lifelines fit per curve (medians and landmarks share them)
        if (tk, ek, sel) not in fits:
            keep = np.ones(np.size(c[tk]), bool) if sel is None else sel(c)
            fits[(tk, ek, sel)] = KaplanMeierFitter().fit(c[tk][keep], c[ek][keep])
        return fits[(tk, ek, sel)]

    for ref, tk, ek, sel in MEDIANS:
        if ref in wanted:
            med = kkm.lifelines_median(fit_km(tk, ek, sel))
            out[ref] = (*med, nan, "KM median, log-log CI (lifelines curve, R/SAS midpoint rule)")
    for ref, tk, ek, sel, t0, as_event in LANDMARKS:
        if ref in wanted:
            kmf = fit_km(tk, ek, sel)
            s_t = float(kmf.survival_function_at_times(t0).iloc[0])
            lo, hi = (float(kmf.confidence_interval_survival_function_.loc[:t0].iloc[-1, k]) for k in (0, 1))
            if t0 > float(kmf.durations.max()):  # S is not estimated beyond the last time
                s_t, lo, hi = nan, nan, nan
            e, lo_, hi_ = (1 - s_t, 1 - hi, 1 - lo) if as_event else (s_t, lo, hi)
            out[ref] = (100 * e, 100 * lo_, 100 * hi_, nan, f"KM at {t0:g} months (lifelines)")
    for ref, time, ek, sel in FOLLOWUPS:
        if ref in wanted:
            t = time(c)
            keep = np.ones(t.size, bool) if sel is None else sel(c)
            kmf = KaplanMeierFitter().fit(t[keep], 1.0 - c[ek][keep])
            out[ref] = (kkm.lifelines_median(kmf)[0], nan, nan, nan, "reverse KM median follow-up (lifelines)")
    for ref, tk, ek, lab in LOGRANKS:
        if ref in wanted:
            g = lab(c)
            keep = g >= 0
            p = float(multivariate_logrank_test(c[tk][keep], g[keep], c[ek][keep]).p_value)
            out[ref] = (p, nan, nan, p, "log-rank (lifelines)")
    if "DES-02/ttf_median" in wanted:
        out["DES-02/ttf_median"] = (float(np.median(c["ttf"])), nan, nan, nan, "sample median")
    if "DES-19/responders" in wanted:
        out["DES-19/responders"] = (float(c["dor"].size), nan, nan, nan, "count")
    if wanted.any(OTHER[2:]):
        table = np.array([[np.sum((c["axicel"] == a) & (c["cytopenia_d30"] == k)) for k in (1, 0)] for a in (1, 0)])
        p_chi = float(stats.chi2_contingency(table, correction=False)[1])
        diff = table[0, 0] / table[0].sum() - table[1, 0] / table[1].sum()
        out["DES-20/cytopenia_product_chi2_p"] = (p_chi, nan, nan, p_chi, "Pearson chi-squared, D30, 2x2 (scipy)")
        out["DES-20/cytopenia_axicel_gt_tisacel"] = (float(diff), nan, nan, p_chi,
                                                      "D30 cytopenia share, axi-cel minus tisa-cel (chi-squared P)")  # fmt: skip
        yes, tot = _fisher_table(c["cytopenia_d30"], c["salvage"])
        res = stats.fisher_exact(np.vstack([yes, tot - yes]),
                                 method=stats.MonteCarloMethod(n_resamples=FISHER_RESAMPLES, rng=rng))  # fmt: skip
        out["DES-20/cytopenia_salvage_fisher_p"] = (float(res.pvalue), nan, nan, float(res.pvalue),
                                                     f"Fisher exact 2x5, Monte Carlo {FISHER_RESAMPLES} tables (scipy)")  # fmt: skip
    for model in cox_models(s):
        if wanted.any(model["rows"]):
            out.update(_statsmodels_cox(c, s, model))
    return out


def _fisher_table(cyto: np.ndarray, salvage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cytopenia counts and totals per named salvage class, (..., 5) (works on stacked cohorts)."""
    onehot = salvage[..., None] == np.arange(FISHER_CLASSES)
    return (onehot & (cyto[..., None] == 1)).sum(-2), onehot.sum(-2)


def _statsmodels_cox(c, s, model: dict) -> dict[str, tuple]:
    from statsmodels.duration.hazard_regression import PHReg

    tk, ek, _, _ = ENDPOINTS[model["endpoint"]]
    cols = list(design_columns(s))
    x = covariate_matrix(c, s)[:, [cols.index(k) for k in model["columns"]]]
    keep = np.isfinite(x).all(axis=1) & np.isfinite(c[tk])
    phreg = PHReg(c[tk][keep], x[keep], status=c[ek][keep], ties=s["cox_ties"])
    with warnings.catch_warnings():  # a monotone likelihood warns; _diverged() flags the coefficient
        warnings.simplefilter("ignore")
        fit = phreg.fit()
        if not np.isfinite(fit.params).all():
            # Newton (no step halving) overflows on a monotone likelihood; BFGS stops where the
            # diverging coefficient's gradient vanishes and the others have reached their limits
            fit = phreg.fit(method="bfgs", maxiter=2000, disp=0)
    hr, lo, hi, p = _cox_outputs(fit.params, fit.bse, True)
    kind = "univariable" if model["kind"] == "uni" else "multivariable, complete cases"
    method = f"Cox {kind}, {s['cox_ties']} ties (statsmodels PHReg), n = {int(keep.sum())}"
    return {ref: (hr[j], lo[j], hi[j], p[j], method) for ref, cov in model["rows"].items()
            for j in [model["columns"].index(cov)]}  # fmt: skip


def complete_cases(cohort: Mapping[str, Any], settings: Mapping[str, Any]) -> pd.DataFrame:
    """Patients and events each multivariable model keeps (complete cases) in one cohort."""
    cols = list(design_columns(settings))
    x = covariate_matrix(cohort, settings)
    rows = []
    for m in cox_models(settings):
        if m["kind"] != "multi":
            continue
        tk, ek, _, claim = ENDPOINTS[m["endpoint"]]
        keep = np.isfinite(x[:, [cols.index(k) for k in m["columns"]]]).all(axis=1)
        rows.append({"model": f"{claim} ({m['endpoint'].upper().replace('2', '-2')})",
                     "covariates": ", ".join(m["columns"]), "failures": int(keep.size),
                     "patients kept": int(keep.sum()), "events": int(cohort[ek][keep].sum())})  # fmt: skip
    return pd.DataFrame(rows).set_index("model")


# ----------------------------------------------------------------------------- many cohorts
class _Stack(dict):
    """Cohorts stacked key by key on first use: one row per cohort (shorter arrays NaN-padded)."""

    def __init__(self, cohorts: Sequence[Mapping[str, Any]]):
        super().__init__()
        self.cohorts = cohorts

    def __missing__(self, key):
        arrays = [np.asarray(c[key]) for c in self.cohorts]
        sizes = {a.size for a in arrays}
        if len(sizes) == 1:
            out = np.stack(arrays)
        else:
            out = np.full((len(arrays), max(sizes)), np.nan)
            for i, a in enumerate(arrays):
                out[i, : a.size] = a
        self[key] = out
        return out


def analyse(cohorts: Sequence[Mapping[str, Any]], settings: Mapping[str, Any],
            include: Iterable[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Draws of every simulated item (or those of ``include``) for a batch of cohorts (kernels)."""
    return estimates(cohorts, settings, include)


def estimates(cohorts: Sequence[Mapping[str, Any]], settings: Mapping[str, Any],
              include: Iterable[str] | None = None, median_rule: str = "midpoint") -> pd.DataFrame:  # fmt: skip
    """``analyse`` with a choice of KM median rule: "midpoint" (R/SAS, the paper's) or
    "interpolated" (linear between event times: continuous in the event times, for the
    calibration's objective only)."""
    wanted = _Wanted(include)
    S = _Stack(cohorts)
    R = len(cohorts)
    parts: list[pd.DataFrame] = []
    nan = np.full(R, np.nan)

    def emit(ref, est, lo=None, hi=None, p=None, effect=None):
        if ref not in wanted:
            return
        claim_id, item = ref.split("/")
        parts.append(pd.DataFrame({
            "rep": np.arange(R), "claim_id": claim_id, "item": item, "estimate": np.asarray(est, float),
            "lo": nan if lo is None else lo, "hi": nan if hi is None else hi,
            "p": nan if p is None else p, "effect": nan if effect is None else effect,
        }))  # fmt: skip

    _batched_km(S, R, wanted, emit, median_rule)
    _batched_followup(S, wanted, emit)
    _batched_logrank(S, wanted, emit)
    if "DES-02/ttf_median" in wanted:
        emit("DES-02/ttf_median", np.median(S["ttf"], axis=1))
    if "DES-19/responders" in wanted:
        emit("DES-19/responders", np.isfinite(S["dor"]).sum(axis=1))
    if wanted.any(OTHER[2:]):
        cyto, axi = S["cytopenia_d30"], S["axicel"]
        p_chi, diff = _chi2_2x2_batch(cyto, axi)
        emit("DES-20/cytopenia_product_chi2_p", p_chi, p=p_chi, effect=diff)
        emit("DES-20/cytopenia_axicel_gt_tisacel", diff, p=p_chi, effect=diff)
        if "DES-20/cytopenia_salvage_fisher_p" in wanted:
            yes, tot = _fisher_table(cyto, S["salvage"])
            rngs = [np.random.default_rng(int(c["analysis_seed"])) for c in cohorts]
            p_f = fisher_2xk(yes, tot, rngs, resamples=FISHER_RESAMPLES)
            emit("DES-20/cytopenia_salvage_fisher_p", p_f, p=p_f)
    # a replicate with a monotone likelihood makes the kernel divide by zero on its way to
    # flagging the coefficient; the flag is the result, the floating-point warnings are noise
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        _batched_cox(S, R, settings, wanted, emit)
    if not parts:
        return pd.DataFrame(columns=["rep", "claim_id", "item", "estimate", "lo", "hi", "p", "effect"])
    return pd.concat(parts, ignore_index=True)


def _select(S, sel, tk) -> np.ndarray:
    keep = np.isfinite(S[tk])
    return keep if sel is None else keep & sel(S)


def _batched_km(S, R, wanted, emit, median_rule) -> None:
    """Every KM curve the wanted items need, one kernel call per curve (medians and landmarks of
    the same curve share it). Stacking the curves of one time array into one call measured slower."""
    requests = defaultdict(list)  # (tk, ek, selector) -> [(kind, spec)]
    for ref, tk, ek, sel in MEDIANS:
        if ref in wanted:
            requests[(tk, ek, sel)].append(("median", ref))
    for ref, tk, ek, sel, t0, as_event in LANDMARKS:
        if ref in wanted:
            requests[(tk, ek, sel)].append(("landmark", (ref, t0, as_event)))
    for (tk, ek, sel), reqs in requests.items():
        curves = kkm.kaplan_meier(S[tk], S[ek], _select(S, sel, tk))
        for kind, spec in reqs:
            if kind == "median":
                if median_rule == "midpoint":
                    emit(spec, *kkm.median(curves))
                else:
                    emit(spec, interpolated_median(curves))
            else:
                ref, t0, as_event = spec
                s_t, s_lo, s_hi = (a[:, 0] for a in kkm.survival_at(curves, [t0]))
                if as_event:
                    emit(ref, 100 * (1 - s_t), 100 * (1 - s_hi), 100 * (1 - s_lo))
                else:
                    emit(ref, 100 * s_t, 100 * s_lo, 100 * s_hi)


def _batched_followup(S, wanted, emit) -> None:
    todo = [f for f in FOLLOWUPS if f[0] in wanted]
    if not todo:
        return
    for (ref, time, ek, sel) in todo:
        t = time(S)
        med = kkm.followup_median(t, S[ek], _select_time(t, S, sel))
        emit(ref, med)


def _select_time(t, S, sel) -> np.ndarray:
    keep = np.isfinite(t)
    return keep if sel is None else keep & sel(S)


def _batched_logrank(S, wanted, emit) -> None:
    by_time = defaultdict(list)
    for ref, tk, ek, lab in LOGRANKS:
        if ref in wanted:
            by_time[(tk, ek)].append((ref, lab(S)))
    for (tk, ek), tests in by_time.items():
        k = len(tests)
        g = np.concatenate([lab for _, lab in tests])
        _, _, p = logrank(np.tile(S[tk], (k, 1)), np.tile(S[ek], (k, 1)), np.maximum(g, 0), g >= 0,
                          n_groups=int(g.max()) + 1)  # fmt: skip
        for i, (ref, _) in enumerate(tests):
            rows = p[i * len(S[tk]) : (i + 1) * len(S[tk])]
            emit(ref, rows, p=rows)


def _batched_cox(S, R, settings, wanted, emit) -> None:
    """Every Cox model of the wanted items: one-covariate models with the univariable kernel
    (scalar Newton), wider ones with ``cox_fit``."""
    models = [m for m in cox_models(settings) if wanted.any(m["rows"])]
    if not models:
        return
    cols = list(design_columns(settings))
    x_all = covariate_matrix(S, settings)  # (R, n, k)
    ties = settings["cox_ties"]
    for endpoint, (tk, ek, _, _) in ENDPOINTS.items():
        # one call per model: a call with all of them (x of shape (R, n, F)) iterates every model
        # as long as the slowest and measured slower here
        for m in (m for m in models if m["endpoint"] == endpoint and len(m["columns"]) == 1):
            x = x_all[:, :, cols.index(m["columns"][0])]
            fit = cox_univariable(S[tk], S[ek], x, ties=ties, tol=COX_TOL, nan_if_unconverged=False)
            hr, lo, hi, p = _cox_outputs(fit.beta, fit.se, fit.converged[:, None], separate=True)
            for ref in m["rows"]:
                emit(ref, hr[:, 0], lo[:, 0], hi[:, 0], p[:, 0])
        for m in (m for m in models if m["endpoint"] == endpoint and len(m["columns"]) > 1):
            x = x_all[:, :, [cols.index(c) for c in m["columns"]]]
            # max_iter 15: converging fits need at most 11 Newton steps here (measured over 400
            # registries); a coefficient running to -inf is flagged (|log HR| > 10) by then
            fit = cox_fit(S[tk], S[ek], x, ties=ties, nan_if_unconverged=False, max_iter=15)
            hr, lo, hi, p = _cox_outputs(fit.beta, fit.se, fit.converged)
            for ref, cov in m["rows"].items():
                j = m["columns"].index(cov)
                emit(ref, hr[:, j], lo[:, j], hi[:, j], p[:, j])


def _chi2_2x2_batch(cyto: np.ndarray, axi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson chi-squared P (1 df, no correction) of cytopenia by product per replicate, and the
    difference in shares (axi-cel minus tisa-cel)."""
    a = (cyto * axi).sum(1)
    b = ((1 - cyto) * axi).sum(1)
    c_ = (cyto * (1 - axi)).sum(1)
    d = ((1 - cyto) * (1 - axi)).sum(1)
    n = a + b + c_ + d
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = n * (a * d - b * c_) ** 2 / ((a + b) * (c_ + d) * (a + c_) * (b + d))
        diff = a / (a + b) - c_ / (c_ + d)
    return stats.chi2.sf(chi2, 1), diff


# ----------------------------------------------------------------------------- contradicted items
# Why a printed number the model contradicts misses, by class: "model: ..." (the model's
# structure cannot produce it), "assumption NAME: ..." (a named assumption sets it, not fitted),
# "infeasible: ..." (the printed numbers cannot all be true; the audit's findings are added by
# helpers.study). Written for the items the committed run contradicts or puts at the band's edge.
_FOLLOWUP = ("assumption accrual_ramp: median follow-up is set only by the assumed accrual (32 months, "
             "infusions rising with power 2 of time), never fitted; the simulated registry is followed "
             "longer than printed (10.4 months in a 10x registry); a ramp of 3 gives 7.8")  # fmt: skip
_REGISTRY_PFS = ("model: registry PFS counts the 238 failures and a small non-relapse mortality among the "
                 "312 others (nonprogressive_nrm_rate); 44.5% at 6 months (median 4.6) needs about 300 "
                 "events among 550 by 6 months, about 95 more than the 208 failures the model places before then, "
                 "i.e. deaths without progression at a rate the paper does not report")  # fmt: skip
REASONS: dict[str, str] = {
    "DES-01/followup": _FOLLOWUP,
    "DES-01/followup_axicel": _FOLLOWUP,
    "DES-01/followup_tisacel": _FOLLOWUP,
    "DES-02/ttf_median": ("assumption ttf_mid_power: the median time to failure lies among the D31-D90 failures, "
                          "whose spread within the group is assumed (bunched toward D90 with power 0.7), "
                          "not printed"),  # fmt: skip
    "DES-19/registry_pfs_median": _REGISTRY_PFS,
    "DES-19/registry_pfs_6m": _REGISTRY_PFS,
    "DES-19/responders": ("assumption failure_responded_share: responders are the 216 non-progressive CR/PR "
                          "plus the failures after D30 that had responded first, assumed 90%; 356 needs about "
                          "75%"),  # fmt: skip
    "DES-19/dor_median": ("assumption response_time_months: duration of response is time from an assumed first "
                          "response at 1 month to failure (or non-relapse death); the printed median needs "
                          "longer responses among the non-progressive"),  # fmt: skip
    "DES-17/pfs2_multi_high_ldh": ("model: the markers share one latent tumor-burden factor, so adjusting for "
                                   "ECOG, CRP, ferritin and failure timing shrinks the LDH HR below the "
                                   "univariable one; the paper's adjusted HR (3.42) is larger than its "
                                   "unadjusted 2.66, which positively correlated markers cannot produce"),  # fmt: skip
    "DES-15/pfs2_uni_high_ldh": ("model: with OS-2 = PFS-2 + survival after progression, the calibrated fit puts "
                                 "most of each marker's effect on survival after progression (kappa ~6), so the "
                                 "PFS-2 LDH HR falls well below the OS-2 one; the paper prints the same 2.66 "
                                 "(1.74-4.06) for both endpoints, which the audit finds unlikely by chance "
                                 "(repeated_estimate)"),  # fmt: skip
}
