"""Re-derivation of a spec paper's ledger items: one declaration (the spec's ``items:``), two engines.

- ``rederive(cohort, settings, rng)``: one cohort with the reference libraries (lifelines,
  statsmodels, scipy), results rows for every ledger item;
- ``analyse(cohorts, settings, include)``: many cohorts at once with ``helpers.kernels`` (draws
  ``rep, claim_id, item, estimate, lo, hi, p``), no loop over replicates.

What is computed follows the item's quantity kind (``plan.SUPPORTED`` says it in words). Both
engines take their subsets, counts and design matrices from the same functions below, so they
can only differ in the fit itself; ``tests/test_spec_analysis.py`` checks they agree on one
cohort for every kind. A median not reached is ``+inf`` (never NaN); NaN means the analysis
failed (a Cox or logistic fit without a maximum, a landmark beyond the last follow-up).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .. import kernels, results
from ..kernels import km as kkm
from ..kernels._common import Z95
from ..kernels.binomial import clopper_pearson
from ..kernels.contingency import chi2_test, fisher_2x2, tables
from ..kernels.cox import MAX_ABS_BETA
from ..settings import Settings
from .plan import ItemPlan, Plan, is_continuous, load, terms, variable_levels
from .schema import Assumed, TimeEndpoint

DRAW_COLUMNS = ["rep", "claim_id", "item", "estimate", "lo", "hi", "p"]
METHODS = {
    "n": "patients counted", "count": "patients counted", "percent": "count / patients, exact (Clopper-Pearson) 95% CI",
    "median": "Kaplan-Meier median, log-log 95% CI, R/SAS midpoint rule", "landmark_survival": "Kaplan-Meier survival at the landmark",
    "landmark_event": "100 - Kaplan-Meier survival at the landmark", "followup": "reverse Kaplan-Meier median",
    "HR": "Cox proportional hazards, Wald 95% CI", "OR": "logistic regression, Wald 95% CI",
}  # fmt: skip
TESTS = {"logrank": "log-rank test", "cox_wald": "Cox Wald test", "wald": "Wald test", "fisher": "Fisher's exact test",
         "chi2": "Pearson chi-squared test"}  # fmt: skip


def cox_ties(plan: Plan, settings: Settings) -> str:
    ties = plan.spec.analysis.cox_ties
    return str(settings[ties.assumed]) if isinstance(ties, Assumed) else ties


# ----------------------------------------------------------------------------- shared pieces
def subset(data: dict, plan: Plan, item: ItemPlan) -> np.ndarray:
    """Patients in the item's subset (bool, the shape of the data: (n,) or (R, n))."""
    keep = np.ones_like(data["group"], dtype=bool)
    for var, value in item.map.subset.items():
        levels = variable_levels(plan.spec, var)
        code = levels.index(str(value)) if levels else float(value)
        keep &= data[var] == code
    return keep


def design(data: dict, plan: Plan, covariates: list[str]) -> np.ndarray:
    """Model matrix (..., n, k) of ``covariates`` in ``plan.terms`` order (NaN where missing):
    indicators of non-reference levels, continuous covariates per their ``unit``."""
    cols = []
    for name in covariates:
        x = data[name]
        levels = variable_levels(plan.spec, name)
        if levels:
            cols += [np.where(np.isnan(x), np.nan, (x == k).astype(float)) for k in range(1, len(levels))]
        elif is_continuous(plan.spec, name):
            cols.append(x / plan.spec.covariates[name].unit)
        else:
            cols.append(x)
    return np.stack(cols, axis=-1)


def term_index(plan: Plan, item: ItemPlan) -> int:
    names = terms(plan.spec, item.map.covariates)
    return names.index(item.map.term or names[0])


def counted(data: dict, plan: Plan, item: ItemPlan) -> tuple[np.ndarray, np.ndarray]:
    """(count, denominator) of the item over the last axis: patients with the endpoint / level
    among those in the subset with a non-missing value (events of a time endpoint)."""
    keep = subset(data, plan, item)
    m = item.map
    if m.endpoint and isinstance(plan.spec.endpoints[m.endpoint], TimeEndpoint):
        hit, known = data[f"{m.endpoint}_event"] == 1, keep
    elif m.endpoint or m.covariate:
        x = data[m.endpoint or m.covariate]
        levels = variable_levels(plan.spec, m.covariate) if m.covariate else None
        code = levels.index(m.level) if levels else float(m.level if m.level is not None else 1)
        known = keep & ~np.isnan(x)
        hit = x == code
    else:
        hit = known = keep
    return (hit & known).sum(-1).astype(float), known.sum(-1).astype(float)


def times(data: dict, endpoint: str) -> tuple[np.ndarray, np.ndarray]:
    return data[f"{endpoint}_time"], data[f"{endpoint}_event"]


def codes(data: dict, plan: Plan, name: str) -> tuple[np.ndarray, int]:
    """Integer codes of a grouping variable (NaN where missing) and how many codes it has."""
    levels = variable_levels(plan.spec, name)
    return data[name], len(levels) if levels else 2


def _as_percent(share, lo, hi, event: bool = False):
    if event:  # the share with the event: 1 - S, bounds swapped
        return 100 * (1 - share), 100 * (1 - hi), 100 * (1 - lo)
    return 100 * share, 100 * lo, 100 * hi


# ----------------------------------------------------------------------------- one cohort, reference libraries
def reference(data: dict, plan: Plan, item: ItemPlan, settings: Settings | None) -> tuple[float, float, float, float]:
    """(estimate, lo, hi, p) of one item on one cohort with lifelines / statsmodels / scipy
    (``settings`` are read only for an assumed ``cox_ties``)."""
    from lifelines import KaplanMeierFitter

    q, m, nan = item.quantity, item.map, np.nan
    keep = subset(data, plan, item)
    if q in ("n", "count", "percent"):
        k, n = counted(data, plan, item)
        if q != "percent":
            return float(n if q == "n" else k), nan, nan, nan
        if n == 0:
            return nan, nan, nan, nan
        ci = stats.binomtest(int(k), int(n)).proportion_ci(method="exact")
        return 100 * k / n, 100 * ci.low, 100 * ci.high, nan
    if q == "median" and m.covariate:
        return float(pd.Series(data[m.covariate][keep]).median()), nan, nan, nan
    if q in ("median", "landmark_survival", "landmark_event", "followup"):
        t, e = times(data, m.endpoint)
        t, e = t[keep], e[keep]
        if t.size == 0:  # nobody in the subset: nothing estimated (the kernels give NaN too)
            return nan, nan, nan, nan
        if q == "followup":
            return kkm.lifelines_median(KaplanMeierFitter().fit(t, 1 - e))[0], nan, nan, nan
        kmf = KaplanMeierFitter().fit(t, e)
        if q == "median":
            return (*kkm.lifelines_median(kmf), nan)
        if item.time > t.max():
            return nan, nan, nan, nan
        s = float(kmf.survival_function_at_times([item.time]).iloc[0])
        lo, hi = kmf.confidence_interval_.reindex([item.time], method="ffill").to_numpy()[0]
        return (*_as_percent(s, lo, hi, q == "landmark_event"), nan)
    test = item.test
    if test in ("logrank", "fisher", "chi2") and q == "P":
        return _p_row(_reference_test(data, plan, item, keep))
    x = design(data, plan, m.covariates)
    ok = keep & np.isfinite(x).all(-1)
    j = term_index(plan, item)
    if q == "OR" or test == "wald":
        y = data[m.endpoint]
        ok &= np.isfinite(y)
        est, lo, hi, p = _logit_reference(y[ok], x[ok], j)
    else:
        t, e = times(data, m.endpoint)
        est, lo, hi, p = _cox_reference(t[ok], e[ok], x[ok], j, cox_ties(plan, settings))
    if test in ("logrank", "fisher", "chi2"):
        p = _reference_test(data, plan, item, keep)
    return _p_row(p) if q == "P" else (est, lo, hi, p)


def _p_row(p: float) -> tuple[float, float, float, float]:
    return p, np.nan, np.nan, p


def _reference_test(data: dict, plan: Plan, item: ItemPlan, keep: np.ndarray) -> float:
    from lifelines.statistics import multivariate_logrank_test

    m = item.map
    by, _ = codes(data, plan, m.by or m.covariates[0])
    if item.test == "logrank":
        t, e = times(data, m.endpoint)
        ok = keep & np.isfinite(by)
        if len(np.unique(by[ok])) < 2 or e[ok].sum() == 0:
            return np.nan
        return float(multivariate_logrank_test(t[ok], by[ok], e[ok]).p_value)
    y = data[m.endpoint]
    ok = keep & np.isfinite(by) & np.isfinite(y)
    table = pd.crosstab(by[ok], y[ok]).to_numpy()
    if table.shape[0] < 2 or table.shape[1] < 2:
        return 1.0 if item.test == "fisher" else np.nan
    if item.test == "fisher":
        return float(stats.fisher_exact(table)[1])
    return float(stats.chi2_contingency(table, correction=m.correction).pvalue)


def _cox_reference(t, e, x, j: int, ties: str) -> tuple[float, float, float, float]:
    """Cox fit of one cohort: lifelines (Efron ties) or statsmodels PHReg (Breslow ties)."""
    nan4 = (np.nan,) * 4
    if e.sum() == 0:
        return nan4
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if ties == "efron":
                from lifelines import CoxPHFitter

                df = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]).assign(T=t, E=e)
                fit = CoxPHFitter().fit(df, "T", "E")
                beta, se, p = fit.params_.iloc[j], fit.standard_errors_.iloc[j], fit.summary["p"].iloc[j]
            else:
                from statsmodels.duration.hazard_regression import PHReg

                fit = PHReg(t, x, status=e, ties="breslow").fit(disp=0)
                beta, se, p = fit.params[j], fit.bse[j], fit.pvalues[j]
    except Exception:  # no maximum (e.g. no event in one arm): the kernel's NaN
        return nan4
    if not np.isfinite(beta) or abs(beta) > MAX_ABS_BETA:
        return nan4
    return float(np.exp(beta)), float(np.exp(beta - Z95 * se)), float(np.exp(beta + Z95 * se)), float(p)


def _logit_reference(y, x, j: int) -> tuple[float, float, float, float]:
    from statsmodels.discrete.discrete_model import Logit

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = Logit(y, np.column_stack([np.ones(len(y)), x])).fit(disp=0, maxiter=100)
    except Exception:  # perfect separation: no maximum
        return (np.nan,) * 4
    beta, se = fit.params[j + 1], fit.bse[j + 1]
    if not fit.mle_retvals["converged"] or abs(beta) > kernels.logistic.MAX_ABS_BETA or not np.isfinite(se):
        return (np.nan,) * 4
    return float(np.exp(beta)), float(np.exp(beta - Z95 * se)), float(np.exp(beta + Z95 * se)), float(fit.pvalues[j + 1])


def rederive(cohort: dict, settings: Settings, rng: np.random.Generator | None = None,
             include: Iterable[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Results rows for every ledger item of the paper (or of ``include``: claim IDs or refs)."""
    from .. import ledger

    plan = load(settings.paper)
    wanted = _wanted(include)
    frame = ledger.frame(plan.paper)
    rows = []
    for ref in frame.claim_id + "/" + frame["item"]:
        if wanted is not None and ref not in wanted and ref.split("/")[0] not in wanted:
            continue
        item = plan.items.get(ref)
        if plan.spec.is_draft or item is None:
            why = f"draft: data/specs/{plan.key}.yaml declares no groups yet" if plan.spec.is_draft else \
                f"the study spec (data/specs/{plan.key}.yaml, items:) does not say how to compute it from the patients"  # fmt: skip
            rows.append(results.from_ledger(ref, note=why, model=plan.key))
            continue
        est, lo, hi, p = reference(cohort, plan, item, settings)
        rows.append(results.from_ledger(ref, rederived=_f(est), rederived_lo=_f(lo), rederived_hi=_f(hi),
                                        rederived_p=_f(p), method=_method(plan, item, settings),
                                        model=plan.key))  # fmt: skip
    return results.frame(rows)


def _method(plan: Plan, item: ItemPlan, settings: Settings) -> str:
    if item.quantity == "median" and item.map.covariate:
        return "sample median"
    text = METHODS.get(item.quantity, "")
    if item.quantity == "HR":
        text += f" ({cox_ties(plan, settings)} ties)"
    if item.test:
        text = f"{text}; P: {TESTS[item.test]}" if text else TESTS[item.test]
    return text


def _f(x) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


def _wanted(include: Iterable[str] | None) -> set[str] | None:
    return None if include is None else set(include)


# ----------------------------------------------------------------------------- many cohorts, kernels
def stack(cohorts: Sequence[dict]) -> dict[str, np.ndarray]:
    """Cohorts of one size -> one dict of (R, n) arrays."""
    return {k: np.stack([np.asarray(c[k], float) for c in cohorts]) for k in cohorts[0]}


def analyse(cohorts: Sequence[dict], settings: Settings, include: Iterable[str] | None = None) -> pd.DataFrame:
    """Draws (``DRAW_COLUMNS``) of every mapped item (or of ``include``) over ``cohorts``, batched."""
    plan = load(settings.paper)
    wanted = _wanted(include)
    items = [it for ref, it in plan.items.items() if wanted is None or ref in wanted or it.claim_id in wanted]
    if plan.spec.is_draft or not items or not cohorts:
        return pd.DataFrame(columns=DRAW_COLUMNS)
    data = stack(cohorts)
    reps = np.arange(len(cohorts))
    cache: dict = {}
    parts = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for item in items:
            est, lo, hi, p = (np.broadcast_to(np.asarray(a, float), reps.shape)
                              for a in _batched(data, plan, item, settings, cache))  # fmt: skip
            parts.append(pd.DataFrame({"rep": reps, "claim_id": item.claim_id, "item": item.item,
                                       "estimate": est, "lo": lo, "hi": hi, "p": p}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _batched(data: dict, plan: Plan, item: ItemPlan, settings: Settings, cache: dict):
    """(estimate, lo, hi, p) arrays (R,) of one item; ``cache`` keeps KM curves and model fits
    shared between the items of one call."""
    q, m, nan = item.quantity, item.map, np.nan
    keep = subset(data, plan, item)
    if q in ("n", "count", "percent"):
        k, n = counted(data, plan, item)
        if q != "percent":
            return (n if q == "n" else k), nan, nan, nan
        return (*_as_percent(*clopper_pearson(k, n)), nan)
    if q == "median" and m.covariate:
        return np.nanmedian(np.where(keep, data[m.covariate], np.nan), axis=1), nan, nan, nan
    if q == "followup":
        t, e = times(data, m.endpoint)
        return kkm.followup_median(t, e, keep), nan, nan, nan
    if q in ("median", "landmark_survival", "landmark_event"):
        key = ("km", m.endpoint, tuple(sorted(m.subset.items())))
        if key not in cache:
            cache[key] = kkm.kaplan_meier(*times(data, m.endpoint), keep)
        if q == "median":
            return (*kkm.median(cache[key]), nan)
        s, lo, hi = (a[:, 0] for a in kkm.survival_at(cache[key], [item.time]))
        return (*_as_percent(s, lo, hi, q == "landmark_event"), nan)
    p = None
    if item.test in ("logrank", "fisher", "chi2"):
        p = _batched_test(data, plan, item, keep)
        if q == "P":
            return p, nan, nan, p
    j = term_index(plan, item)
    key = (m.endpoint, tuple(m.covariates), tuple(sorted(m.subset.items())))
    if key not in cache:  # one fit per model, whichever items read it (an HR and its printed P)
        x = design(data, plan, m.covariates)
        cache[key] = (kernels.logistic_fit(data[m.endpoint], x, keep) if q == "OR" or item.test == "wald" else
                      kernels.cox_fit(*times(data, m.endpoint), x, keep, ties=cox_ties(plan, settings)))  # fmt: skip
    fit = cache[key]
    if isinstance(fit, kernels.LogitFit):
        est, lo, hi, pw = fit.odds_ratio[:, j + 1], fit.or_lo[:, j + 1], fit.or_hi[:, j + 1], fit.p[:, j + 1]
    else:
        est, lo, hi, pw = fit.hr[:, j], fit.hr_lo[:, j], fit.hr_hi[:, j], fit.p[:, j]
    if q == "P":
        return pw, nan, nan, pw
    return est, lo, hi, (pw if p is None else p)


def _batched_test(data: dict, plan: Plan, item: ItemPlan, keep: np.ndarray) -> np.ndarray:
    m = item.map
    by, k = codes(data, plan, m.by or m.covariates[0])
    if item.test == "logrank":
        t, e = times(data, m.endpoint)
        ok = keep & np.isfinite(by)
        return kernels.logrank(t, e, np.where(ok, by, 0), ok, n_groups=k)[2]
    tab = tables(by, data[m.endpoint], k, 2, keep)
    return fisher_2x2(tab) if item.test == "fisher" else chi2_test(tab, correction=m.correction)[2]

