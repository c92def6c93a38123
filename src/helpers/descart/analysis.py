"""Re-derivation of the DESCAR-T numbers from simulated cohorts.

One specification (the tables below: which curve, which subgroup, which covariates) drives two
engines, so the single seeded cohort and the Monte Carlo replicates compute the same things:

- ``single_cohort(cohort, rng)``: lifelines / scipy on one cohort (the notebook's reference);
- ``batched(cohorts)``: the numpy kernels of ``helpers.kernels`` on many cohorts at once
  (rows ``rep, claim_id, item, estimate, lo, hi, p`` for ``replicate.run``).

Conventions: Kaplan–Meier medians with the 95% CI of Brookmeyer–Crowley type on the log-log scale
(lifelines' curve and band with R survival's / SAS LIFETEST's midpoint rule, ``kernels.km``; the
log-log transform is SAS LIFETEST's default, and the paper used SAS 9.3); log-rank tests; Cox models with Efron ties;
multivariable models on complete cases; CRP and ferritin in the assumed units.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from ..kernels import km as kkm
from ..kernels.cox import cox_fit
from ..kernels.logrank import logrank
from .model import GROUPS, SALVAGE

DIVERGED_LOG_HR = 10.0  # |log HR| > 10 (HR > 22,000) only arises when the likelihood has no maximum
DIVERGED_SE = 5.0  # SE(log HR) > 5: a 95% CI spanning e^±10, the same monotone likelihood stopped early


def _diverged(beta, se):
    """Coefficients whose HR is 'not reached' (monotone likelihood), for lifelines and kernel alike."""
    beta, se = np.asarray(beta, float), np.asarray(se, float)
    return (np.abs(beta) > DIVERGED_LOG_HR) | ~(se <= DIVERGED_SE)
SALVAGE_INDEX = {name: i for i, name in enumerate(SALVAGE)}
LOGRANK_SALVAGE = ("bispecific", "lenalidomide", "targeted", "immunochemo")  # the four compared

Selector = Callable[[dict], np.ndarray]


def _all(c: dict) -> np.ndarray:
    return np.ones(c["pfs2"].size, dtype=bool)


def _group(k: int) -> Selector:
    return lambda c: c["group"] == k


def _salvage(name: str) -> Selector:
    return lambda c: c["salvage"] == SALVAGE_INDEX[name]


# (reference, time key, event key, selector)
MEDIANS = [
    ("DES-08/pfs2_median", "pfs2", "pfs2_event", _all),
    ("DES-09/os2_median", "os2", "os2_event", _all),
    *[(f"DES-10/pfs2_median_{g}", "pfs2", "pfs2_event", _group(k)) for k, g in enumerate(GROUPS)],
    *[(f"DES-11/os2_median_{g}", "os2", "os2_event", _group(k)) for k, g in enumerate(GROUPS)],
    ("DES-12/os_median_d0_d30_abstract", "os2", "os2_event", _group(0)),
    ("DES-12/os_median_after_d30_abstract", "os2", "os2_event", lambda c: c["group"] > 0),
    *[(f"DES-13/pfs2_median_{s}", "pfs2", "pfs2_event", _salvage(s)) for s in (*LOGRANK_SALVAGE, "radiotherapy")],
    *[(f"DES-14/os2_median_{s}", "os2", "os2_event", _salvage(s)) for s in (*LOGRANK_SALVAGE, "radiotherapy")],
    ("DES-19/registry_pfs_median", "reg_pfs", "reg_pfs_event", None),
    ("DES-19/dor_median", "dor", "dor_event", None),
]  # fmt: skip
# (reference, time key, event key, selector, landmark month, report as event % (True) or survival %)
LANDMARKS = [
    ("DES-08/pfs2_event_6m", "pfs2", "pfs2_event", _all, 6.0, True),
    ("DES-08/pfs2_event_12m", "pfs2", "pfs2_event", _all, 12.0, True),
    ("DES-09/os2_surv_6m", "os2", "os2_event", _all, 6.0, False),
    ("DES-09/os2_surv_12m", "os2", "os2_event", _all, 12.0, False),
    ("DES-12/os_surv_6m_d0_d30", "os2", "os2_event", _group(0), 6.0, False),
    ("DES-19/registry_pfs_6m", "reg_pfs", "reg_pfs_event", None, 6.0, False),
    ("DES-19/dor_6m", "dor", "dor_event", None, 6.0, False),
]
# (reference, time key, event key, labeller -> integer labels (-1 = not in the test))
def _timing3(c: dict) -> np.ndarray:
    return c["group"]


def _timing2(c: dict) -> np.ndarray:
    return (c["group"] > 0).astype(int)


def _salvage4(c: dict) -> np.ndarray:
    lab = np.full(c["salvage"].size, -1)
    for k, s in enumerate(LOGRANK_SALVAGE):
        lab[c["salvage"] == SALVAGE_INDEX[s]] = k
    return lab


LOGRANKS = [
    ("DES-10/pfs2_logrank_p", "pfs2", "pfs2_event", _timing3),
    ("DES-11/os2_logrank_p", "os2", "os2_event", _timing3),
    ("DES-12/os_d0_d30_vs_after_p", "os2", "os2_event", _timing2),
    ("DES-13/pfs2_salvage_logrank_p", "pfs2", "pfs2_event", _salvage4),
    ("DES-14/os2_salvage_logrank_p", "os2", "os2_event", _salvage4),
]

COVARIATES = ("high_ldh", "ecog_ge2", "fail_d0_d30", "crp", "ferritin", "bispecific", "lenalidomide", "targeted")
UNI_ITEM = {"fail_d0_d30": "fail_d0_d30", "high_ldh": "high_ldh", "ecog_ge2": "ecog_ge2"}
ENDPOINTS = {"pfs2": ("pfs2", "pfs2_event", "DES-15", "DES-17"), "os2": ("os2", "os2_event", "DES-16", "DES-18")}
# the multivariable items the paper prints (the models themselves use all COVARIATES)
MULTI_PRINTED = {
    "pfs2": ("high_ldh", "ferritin", "bispecific", "lenalidomide", "targeted"),
    "os2": ("high_ldh", "crp", "fail_d0_d30", "bispecific", "targeted", "lenalidomide"),
}


def covariate_matrix(c: dict, params: dict) -> np.ndarray:
    """(n, 8) design in COVARIATES order; CRP and ferritin in the assumed units; NaN = missing.

    Salvage indicators: each class against every other failure, those with no recorded
    further line included (an assumption: the paper does not name its reference group).
    """
    ind = {s: (c["salvage"] == SALVAGE_INDEX[s]).astype(float) for s in ("bispecific", "lenalidomide", "targeted")}
    cols = [c["high_ldh"], c["ecog_ge2"], c["fail_d0_d30"], c["crp"] / params["crp_unit_mg_l"],
            c["ferritin"] / params["ferritin_unit_ug_l"], ind["bispecific"], ind["lenalidomide"], ind["targeted"]]  # fmt: skip
    return np.column_stack(cols)


def cox_refs(endpoint: str, kind: str) -> list[tuple[str, str]]:
    """(reference, covariate) pairs of the univariable ('uni') or multivariable ('multi') table."""
    _, _, uni_claim, multi_claim = ENDPOINTS[endpoint]
    if kind == "uni":
        return [(f"{uni_claim}/{endpoint}_uni_{cov}", cov) for cov in COVARIATES]
    return [(f"{multi_claim}/{endpoint}_multi_{cov}", cov) for cov in MULTI_PRINTED[endpoint]]


def _reverse_km_refs() -> list[tuple[str, Callable[[dict], tuple]]]:
    """Median follow-up by reverse Kaplan–Meier (censoring as the event) of OS from infusion."""

    def registry(c):
        return c["reg_os"], 1.0 - c["reg_os_event"], None

    def failures(product):
        return lambda c: (c["ttf"] + c["os2"], 1.0 - c["os2_event"], c["axicel"] == product)

    return [("DES-01/followup", registry), ("DES-01/followup_axicel", failures(1)),
            ("DES-01/followup_tisacel", failures(0))]  # fmt: skip


FOLLOWUPS = _reverse_km_refs()


# ----------------------------------------------------------------------------- single cohort
def _finite(x: float) -> float:
    return float(x) if np.isfinite(x) else np.nan


def single_cohort(c: dict, params: dict, rng: np.random.Generator, fisher_resamples: int = 2000,
                  parts: tuple[str, ...] = ("outcomes", "cox")) -> pd.DataFrame:  # fmt: skip
    """Re-derived numbers of one cohort with lifelines / scipy: rows ref, estimate, lo, hi, p, method.

    ``parts``: "outcomes" (KM, log-rank, follow-up, counts, cytopenia) and/or "cox" (DES-15 … DES-18).
    """
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    from lifelines.utils import median_survival_times

    rows = []

    def add(ref, est, lo=np.nan, hi=np.nan, p=np.nan, method=""):
        rows.append({"ref": ref, "estimate": est, "lo": lo, "hi": hi, "p": p, "method": method})

    def km(t, e):
        return KaplanMeierFitter().fit(t, e)

    if "outcomes" in parts:
        _single_outcomes(c, rng, fisher_resamples, add, km, median_survival_times, multivariate_logrank_test)
    if "cox" in parts:
        _single_cox(c, params, add, CoxPHFitter)
    return pd.DataFrame(rows, columns=["ref", "estimate", "lo", "hi", "p", "method"])


def _single_outcomes(c, rng, fisher_resamples, add, km, median_survival_times, multivariate_logrank_test) -> None:
    for ref, tk, ek, sel in MEDIANS:
        keep = np.ones(c[tk].size, bool) if sel is None else sel(c)
        fit = km(c[tk][keep], c[ek][keep])
        add(ref, *kkm.lifelines_median(fit), method="KM median, log-log CI (lifelines curve, R/SAS midpoint rule)")
    for ref, tk, ek, sel, t0, as_event in LANDMARKS:
        keep = np.ones(c[tk].size, bool) if sel is None else sel(c)
        fit = km(c[tk][keep], c[ek][keep])
        s = float(fit.survival_function_at_times(t0).iloc[0])
        lo, hi = (float(fit.confidence_interval_survival_function_.loc[:t0].iloc[-1, k]) for k in (0, 1))
        est, lo_, hi_ = ((1 - s, 1 - hi, 1 - lo) if as_event else (s, lo, hi))
        add(ref, 100 * est, 100 * lo_, 100 * hi_, method=f"KM at {t0:g} months (lifelines)")
    for ref, fn in FOLLOWUPS:
        t, e, sel = fn(c)
        keep = np.ones(t.size, bool) if sel is None else sel
        add(ref, kkm.lifelines_median(km(t[keep], e[keep]))[0], method="reverse KM median follow-up")
    for ref, tk, ek, lab in LOGRANKS:
        g = lab(c)
        keep = g >= 0
        res = multivariate_logrank_test(c[tk][keep], g[keep], c[ek][keep])
        add(ref, res.p_value, p=res.p_value, method="log-rank (lifelines)")
    add("DES-02/ttf_median", float(np.median(c["ttf"])), method="sample median")
    add("DES-19/responders", float(c["dor"].size), method="count")
    chi = cytopenia_chi2(c["cytopenia_d30"], c["axicel"])
    add("DES-20/cytopenia_product_chi2_p", chi[1], p=chi[1], method="Pearson chi-squared, D30, 2x2 (scipy)")
    diff = c["cytopenia_d30"][c["axicel"] == 1].mean() - c["cytopenia_d30"][c["axicel"] == 0].mean()
    add("DES-20/cytopenia_axicel_gt_tisacel", diff, method="difference in D30 cytopenia share, axi-cel minus tisa-cel")
    fp = fisher_rxc_mc(c["cytopenia_d30"], c["salvage"], rng, fisher_resamples)
    add("DES-20/cytopenia_salvage_fisher_p", fp, p=fp, method=f"Fisher exact (Monte Carlo, {fisher_resamples} tables)")


def _single_cox(c, params, add, CoxPHFitter) -> None:
    x = covariate_matrix(c, params)
    for endpoint, (tk, ek, _, _) in ENDPOINTS.items():
        for ref, cov in cox_refs(endpoint, "uni"):
            j = COVARIATES.index(cov)
            add(ref, *_lifelines_cox(CoxPHFitter, c[tk], c[ek], x[:, [j]], [cov])[cov], method="Cox univariable (lifelines)")
        multi = _lifelines_cox(CoxPHFitter, c[tk], c[ek], x, list(COVARIATES))
        for ref, cov in cox_refs(endpoint, "multi"):
            add(ref, *multi[cov], method="Cox multivariable, complete cases (lifelines)")


def _lifelines_cox(fitter_cls, t, e, x, names) -> dict[str, tuple]:
    """HR, CI and P per covariate from lifelines on complete cases; NaN when the fit diverges."""
    keep = np.isfinite(x).all(axis=1)
    df = pd.DataFrame(x[keep], columns=names).assign(T=t[keep], E=e[keep])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fitter_cls().fit(df, "T", "E")
    s = fit.summary
    del caught  # lifelines warns about the same monotone likelihoods that _diverged() flags
    diverged = {n for n in names if _diverged(s.loc[n, "coef"], s.loc[n, "se(coef)"])}
    out = {}
    for n in names:
        if n in diverged:
            out[n] = (np.nan, np.nan, np.nan, float(s.loc[n, "p"]))
        else:
            out[n] = (float(s.loc[n, "exp(coef)"]), float(s.loc[n, "exp(coef) lower 95%"]),
                      float(s.loc[n, "exp(coef) upper 95%"]), float(s.loc[n, "p"]))  # fmt: skip
    return out


def cytopenia_chi2(cyto: np.ndarray, axicel: np.ndarray) -> tuple[float, float]:
    """Pearson chi-squared (no continuity correction, as SAS prints first) of cytopenia by product."""
    table = np.array([[np.sum((axicel == a) & (cyto == k)) for k in (1, 0)] for a in (1, 0)])
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    return float(chi2), float(p)


def fisher_rxc_mc(cyto: np.ndarray, salvage: np.ndarray, rng: np.random.Generator, resamples: int) -> float:
    """Fisher's exact test of cytopenia (2 rows) by salvage class (5 named classes), Monte Carlo P.

    The statistic is the table's log probability under independence with fixed margins; P is the
    share of permuted tables at most as probable (with the +1 correction).
    """
    keep = salvage < SALVAGE_INDEX["other"]
    y, g = cyto[keep].astype(int), salvage[keep]
    k = SALVAGE_INDEX["other"]

    col = np.bincount(g, minlength=k)

    def logprob(tables):  # tables (B, k): cytopenia counts per class; margins fixed
        return (gammaln(col + 1) - gammaln(tables + 1) - gammaln(col - tables + 1)).sum(-1)

    obs = np.bincount(g[y == 1], minlength=k)[None]
    perms = np.argsort(rng.random((resamples, y.size)), axis=1)  # each row: one relabelling
    rows = np.repeat(np.arange(resamples), y.size)
    hits = y[perms].ravel() == 1
    sims = np.bincount(rows[hits] * k + np.tile(g, resamples)[hits], minlength=resamples * k).reshape(resamples, k)
    lp_obs, lp_sim = logprob(obs)[0], logprob(sims)
    return float((1 + np.sum(lp_sim <= lp_obs + 1e-9)) / (resamples + 1))


# ----------------------------------------------------------------------------- batched
def _stack(cohorts: Sequence[dict], key: str) -> np.ndarray:
    arrays = [np.asarray(c[key], float) for c in cohorts]
    width = max(a.size for a in arrays)
    out = np.full((len(arrays), width), np.nan)
    for i, a in enumerate(arrays):
        out[i, : a.size] = a
    return out


def _stack_sel(cohorts: Sequence[dict], sel: Selector | None, key: str) -> np.ndarray | None:
    if sel is None:
        return None
    masks = [sel(c) for c in cohorts]
    width = _stack(cohorts, key).shape[1]
    out = np.zeros((len(cohorts), width), bool)
    for i, m_ in enumerate(masks):
        out[i, : m_.size] = m_
    return out


def batched(cohorts: Sequence[dict], params: dict, include="all") -> pd.DataFrame:
    """Kernel re-analysis of many cohorts: long rows rep, claim_id, item, estimate, lo, hi, p.

    ``include``: "all"; "calibration" (only the calibration targets, faster); or an iterable of
    claim IDs and/or "CLAIM/item" references to compute.
    """
    from .calibration import TARGETS

    if isinstance(include, str) and include == "all":
        wanted = None
    elif isinstance(include, str) and include == "calibration":
        wanted = set(TARGETS)
    else:
        wanted = _Wanted(include)
    R = len(cohorts)
    reps = np.arange(R)
    parts = []

    def emit(ref, est, lo=None, hi=None, p=None):
        if wanted is not None and ref not in wanted:
            return
        claim_id, item = ref.split("/")
        nan = np.full(R, np.nan)
        parts.append(pd.DataFrame({
            "rep": reps, "claim_id": claim_id, "item": item, "estimate": np.asarray(est, float),
            "lo": nan if lo is None else lo, "hi": nan if hi is None else hi, "p": nan if p is None else p,
        }))  # fmt: skip

    def need(refs):
        return wanted is None or any(r in wanted for r in refs)

    cache: dict = {}

    def curves(tk, ek, sel):
        key = (tk, ek, id(sel))
        if key not in cache:
            cache[key] = kkm.kaplan_meier(_stack(cohorts, tk), _stack(cohorts, ek), _stack_sel(cohorts, sel, tk))
        return cache[key]

    for ref, tk, ek, sel in MEDIANS:
        if need([ref]):
            med, lo, hi = kkm.median(curves(tk, ek, sel))
            emit(ref, np.where(np.isinf(med), np.nan, med), np.where(np.isinf(lo), np.nan, lo), np.where(np.isinf(hi), np.nan, hi))
    for ref, tk, ek, sel, t0, as_event in LANDMARKS:
        if need([ref]):
            s, lo, hi = (a[:, 0] for a in kkm.survival_at(curves(tk, ek, sel), [t0]))
            if as_event:
                emit(ref, 100 * (1 - s), 100 * (1 - hi), 100 * (1 - lo))
            else:
                emit(ref, 100 * s, 100 * lo, 100 * hi)
    for ref, fn in FOLLOWUPS:
        if need([ref]):
            trip = [fn(c) for c in cohorts]
            t = np.stack([a for a, _, _ in trip])
            e = np.stack([b for _, b, _ in trip])
            mask = None if trip[0][2] is None else np.stack([s for _, _, s in trip])
            med, _, _ = kkm.km_median(t, e, mask)
            emit(ref, np.where(np.isinf(med), np.nan, med))
    for ref, tk, ek, lab in LOGRANKS:
        if need([ref]):
            g = np.stack([lab(c) for c in cohorts])
            _, _, p = logrank(_stack(cohorts, tk), _stack(cohorts, ek), np.maximum(g, 0), g >= 0)
            emit(ref, p, p=p)
    x = np.stack([covariate_matrix(c, params) for c in cohorts])
    # a replicate with a monotone likelihood (e.g. no event among the few bispecific patients of a
    # complete-case model) makes the kernel divide by zero on its way to flagging the fit as
    # unconverged (NaN estimates); those NaNs are the result, the floating-point warnings are noise
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        _batched_cox(cohorts, x, need, emit)
    if need(["DES-02/ttf_median", "DES-19/responders", "DES-20/cytopenia_product_chi2_p",
             "DES-20/cytopenia_salvage_fisher_p"]):  # fmt: skip
        emit("DES-02/ttf_median", [np.median(c["ttf"]) for c in cohorts])
        emit("DES-19/responders", [c["dor"].size for c in cohorts])
        cyto, axi = _stack(cohorts, "cytopenia_d30"), _stack(cohorts, "axicel")
        p_chi = _chi2_2x2_batch(cyto, axi)
        emit("DES-20/cytopenia_product_chi2_p", p_chi, p=p_chi)
        diff = (cyto * axi).sum(1) / axi.sum(1) - (cyto * (1 - axi)).sum(1) / (1 - axi).sum(1)
        emit("DES-20/cytopenia_axicel_gt_tisacel", diff)
        # the band of the Fisher P uses Pearson's chi-squared on the same 2 x 5 table (the exact
        # test needs resampling per replicate); under independence both P are close to uniform
        p_fisher = _chi2_rxc_batch(cyto, _stack(cohorts, "salvage"), SALVAGE_INDEX["other"])
        emit("DES-20/cytopenia_salvage_fisher_p", p_fisher, p=p_fisher)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["rep", "claim_id", "item", "estimate", "lo", "hi", "p"])


def _batched_cox(cohorts, x, need, emit) -> None:
    """Univariable and multivariable Cox fits of both endpoints across the replicates."""
    for endpoint, (tk, ek, _, _) in ENDPOINTS.items():
        t, e = _stack(cohorts, tk), _stack(cohorts, ek)
        for ref, cov in cox_refs(endpoint, "uni"):
            if need([ref]):
                j = COVARIATES.index(cov)
                fit = cox_fit(t, e, x[:, :, [j]])
                emit(ref, fit.hr[:, 0], fit.hr_lo[:, 0], fit.hr_hi[:, 0], fit.p[:, 0])
        multi_refs = cox_refs(endpoint, "multi")
        if need([r for r, _ in multi_refs]):
            fit = _multi_fit(t, e, x)
            for ref, cov in multi_refs:
                j = COVARIATES.index(cov)
                emit(ref, fit.hr[:, j], fit.hr_lo[:, j], fit.hr_hi[:, j], fit.p[:, j])


def _multi_fit(t, e, x):
    """Multivariable fit; a coefficient running off to infinity (HR "not reached") gets NaN alone.

    With few patients in a class and no event among them (the paper's bispecific HR of PFS-2),
    the likelihood has no maximum in that coefficient only; the others converge to finite limits,
    as lifelines reports them. A fit that fails for any other reason gets NaN throughout.
    """
    fit = cox_fit(t, e, x, nan_if_unconverged=False)
    diverged = _diverged(fit.beta, fit.se)
    failed = (~fit.converged & ~diverged.any(axis=1))[:, None] | ~np.isfinite(fit.beta)
    bad = diverged | failed
    for name in ("hr", "hr_lo", "hr_hi", "p"):
        setattr(fit, name, np.where(bad, np.nan, getattr(fit, name)))
    return fit


class _Wanted:
    """Membership by claim ID ("DES-15") or by full reference ("DES-15/pfs2_uni_crp")."""

    def __init__(self, include):
        self.refs = set(include)

    def __contains__(self, ref: str) -> bool:
        return ref in self.refs or ref.split("/")[0] in self.refs


def _chi2_rxc_batch(cyto: np.ndarray, group: np.ndarray, k: int) -> np.ndarray:
    """Pearson chi-squared P of cytopenia (2 rows) by group labels 0..k-1, per replicate."""
    onehot = group[..., None] == np.arange(k)  # (R, n, k); other labels fall out
    col = onehot.sum(1).astype(float)
    yes = (onehot * (cyto[..., None] == 1)).sum(1).astype(float)
    n = col.sum(1, keepdims=True)
    share = yes.sum(1, keepdims=True) / n
    expected_yes, expected_no = col * share, col * (1 - share)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (yes - expected_yes) ** 2 / expected_yes + (col - yes - expected_no) ** 2 / expected_no
    chi2 = np.nansum(np.where(col > 0, terms, 0.0), axis=1)
    return stats.chi2.sf(chi2, (col > 0).sum(1) - 1)


def _chi2_2x2_batch(cyto: np.ndarray, axi: np.ndarray) -> np.ndarray:
    """Pearson chi-squared P (1 df, no correction) of a 2x2 table per replicate."""
    a = (cyto * axi).sum(1)
    b = ((1 - cyto) * axi).sum(1)
    c_ = (cyto * (1 - axi)).sum(1)
    d = ((1 - cyto) * (1 - axi)).sum(1)
    n = a + b + c_ + d
    chi2 = n * (a * d - b * c_) ** 2 / ((a + b) * (c_ + d) * (a + c_) * (b + d))
    return stats.chi2.sf(chi2, 1)
