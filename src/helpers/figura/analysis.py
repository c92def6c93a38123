"""Re-derivation of FIG-01 ... FIG-11 from simulated cohorts, one cohort or a batch of replicates.

``rederive`` (one cohort, the reference libraries): statsmodels GEE for the three lesion-level
ORs, lifelines for the Cox HRs (statsmodels ``PHReg`` when the assumed ties method is Breslow,
which lifelines does not offer) and lifelines' reverse Kaplan–Meier for the median follow-up.
``analyse`` (many cohorts, the batched kernels): ``kernels.gee`` (tested against statsmodels),
``kernels.cox`` and ``kernels.km.followup_median``; beside the GEE it fits the two other
analyses a reader might have assumed — the closed-form 2 x 2 OR (``kernels.odds_ratio``, the
logistic model that treats lesions as independent) and the random-intercept logistic model
(``kernels.glmm``, a conditional OR) — as extra draws named ``<item>__naive`` and
``<item>__mixed``, for the figure that compares the three. The GEE working correlation and the
Cox ties method are assumptions (``gee_working_correlation``, ``cox_ties``) read from settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from .. import ledger, results
from ..kernels import gee, glmm
from ..kernels.cox import cox_fit
from ..kernels.km import followup_median, lifelines_median
from ..kernels.odds_ratio import OddsRatio, two_by_two, wald
from ..settings import Settings
from . import model
from .calibration import OR_ITEMS

PAPER = "figura"
METHODS = {"gee": "GEE, robust SE", "naive": "logistic, lesions independent",
           "mixed": "random-intercept logistic (conditional OR)"}  # fmt: skip
SUFFIX = {"gee": "", "naive": "__naive", "mixed": "__mixed"}
SURVIVAL = {"FIG-10/hr_pfs_any_ge5cm": ("pfs_time", "pfs_event"), "FIG-11/hr_os_any_ge5cm": ("os_time", "os_event")}
# patient counts of the lesion cohort, and the share each is printed as (numerator, denominator)
COUNTS = {"FIG-02/recurred": "recurred", "FIG-03/local_component": "local_component",
          "FIG-04/strictly_local": "strictly_local"}  # fmt: skip
SHARES = {"FIG-02/recurred_pct": ("recurred", "patients"),
          "FIG-03/local_component_pct": ("local_component", "recurred"),
          "FIG-04/strictly_local_pct": ("strictly_local", "recurred"),
          "FIG-05/retained_resolution_pct": ("retained_resolution", "recurred")}  # fmt: skip
INPUT_COUNTS = {"FIG-01/lesions": "lesions", "FIG-01/patients": "patients", "FIG-09/survival_cohort": "survival"}

# Why an item misses when the model contradicts it (used only for a contradicted item; at the
# committed assumptions none is, see the notebook's "What survives"; a sensitivity setting may)
REASONS: dict[str, str] = {
    "FIG-10/hr_pfs_any_ge5cm": "model: a lesion >= 5 cm raises progression only through its own local-failure "
                               "risk and the patient's lesion count; the model has no patient-level effect of "
                               "bulky disease (tumour burden) on progression, which a larger printed HR would need",
    "FIG-11/hr_os_any_ge5cm": "model: as for PFS, and death follows failure at ZUMA-1's post-failure rates for "
                              "every patient (assumptions os_median_months, os_plateau), whatever the lesion sizes",
}  # fmt: skip


def wanted(include: Iterable[str] | None = None) -> set[str]:
    """Ledger refs of the paper selected by ``include`` (claim IDs or refs; None: all)."""
    frame = ledger.frame(PAPER)
    refs = set(frame.claim_id + "/" + frame["item"])
    if include is None:
        return refs
    inc = set(include)
    return {r for r in refs if r in inc or r.split("/")[0] in inc}


def _share(num: float, den: float) -> float:
    return 100.0 * num / den if den > 0 else float("nan")


# ---------------------------------------------------------------- one cohort, reference libraries


def reverse_km_followup(patients: pd.DataFrame) -> float:
    """Median follow-up by reverse Kaplan–Meier (lifelines; being alive and censored is the 'event')."""
    kmf = KaplanMeierFitter().fit(patients.os_time, 1 - patients.os_event)
    return lifelines_median(kmf)[0]  # R/SAS midpoint rule on lifelines' curve


def cox_hr(patients: pd.DataFrame, time: str, event: str, ties: str = "efron") -> OddsRatio:
    """Univariable Cox HR of any lesion >= 5 cm: lifelines (Efron ties), or statsmodels PHReg for
    Breslow ties; returned as a Wald record (``OddsRatio`` holds any ratio)."""
    if ties == "efron":
        from lifelines import CoxPHFitter

        cph = CoxPHFitter().fit(patients[[time, event, "any_ge5cm"]], time, event)
        row = cph.summary.loc["any_ge5cm"]
        return wald(float(row["coef"]), float(row["se(coef)"]))
    if ties == "breslow":
        import statsmodels.api as sm

        fit = sm.PHReg(patients[time].to_numpy(float), patients[["any_ge5cm"]].to_numpy(float),
                       status=patients[event].to_numpy(float), ties="breslow").fit()  # fmt: skip
        return wald(float(fit.params[0]), float(fit.bse[0]))
    raise ValueError(f"cox_ties={ties!r} is not allowed: use efron or breslow")


def lesion_or(lesions: pd.DataFrame, feature: str, method: str, settings: Settings) -> OddsRatio:
    """One lesion-level OR of local failure on one cohort, by ``method`` (reference fits)."""
    y, x, g = lesions.local_failure, lesions[feature], lesions.patient
    if method == "gee":
        return gee.gee_statsmodels(y, x, g, working=settings["gee_working_correlation"])
    if method == "naive":
        import statsmodels.api as sm

        fit = sm.Logit(y.to_numpy(float), sm.add_constant(x.to_numpy(float))).fit(disp=0)
        return wald(float(fit.params[1]), float(fit.bse[1]))
    if method == "mixed":
        return glmm.random_intercept_logistic(y, x, g).odds_ratio
    raise ValueError(f"method={method!r} is not allowed: use one of {', '.join(METHODS)}")


def lesion_methods(cohort: model.Cohort, settings: Settings) -> pd.DataFrame:
    """The three lesion-level ORs per feature by the three methods, on one cohort."""
    rows = [{"claim": ref, "feature": f, "method": m, **_or_columns(lesion_or(cohort.lesions, f, m, settings))}
            for f, ref in OR_ITEMS.items() for m in METHODS]  # fmt: skip
    return pd.DataFrame(rows)


def _or_columns(r: OddsRatio) -> dict:
    return {"odds_ratio": r.odds_ratio, "lo": r.lo, "hi": r.hi, "p": r.p, "ci_ratio": r.hi / r.lo}


def rederive(cohort: model.Cohort, settings: Settings, rng: np.random.Generator | None = None,
             include: Iterable[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Results rows (``helpers.results``) for the ledger items of ``include`` (default: all),
    on one cohort with the reference libraries. ``rng`` is not used: nothing here is random."""
    refs = wanted(include)
    pat = model.lesion_patterns(cohort)
    sizes = {"lesions": pat["lesions"], "patients": pat["patients"], "survival": len(cohort.patients)}
    surv = cohort.patients
    rows = []

    def add(ref, value, r: OddsRatio | None = None, method=""):
        if ref in refs:
            extra = {} if r is None else {"rederived_lo": r.lo, "rederived_hi": r.hi, "rederived_p": r.p}
            rows.append(results.from_ledger(ref, rederived=value, method=method, **extra))

    for ref, key in INPUT_COUNTS.items():
        add(ref, sizes[key], method="count (a printed size the simulator takes as given)")
    if "FIG-02/followup_median" in refs:
        add("FIG-02/followup_median", reverse_km_followup(surv[surv.in_lesion_analysis]),
            method="reverse Kaplan-Meier (lifelines, R/SAS median rule)")  # fmt: skip
    for ref, key in COUNTS.items():
        add(ref, pat[key], method="patients, from the lesion outcomes")
    for ref, (num, den) in SHARES.items():
        add(ref, _share(pat[num], pat[den]), method=f"share: {num} / {den}")
    for f, ref in OR_ITEMS.items():
        if ref in refs:
            r = lesion_or(cohort.lesions, f, "gee", settings)
            add(ref, r.odds_ratio, r, method=f"GEE ({settings['gee_working_correlation']}), robust SE (statsmodels)")
    big = int(surv.any_ge5cm.sum())
    add("FIG-09/any_lesion_ge5cm", big, method="patients with any lesion >= 5 cm")
    add("FIG-09/any_lesion_ge5cm_pct", _share(big, len(surv)), method="share of the survival cohort")
    ties = settings["cox_ties"]
    for ref, (t, e) in SURVIVAL.items():
        if ref in refs:
            r = cox_hr(surv, t, e, ties)
            add(ref, r.odds_ratio, r, method=f"Cox ({'lifelines' if ties == 'efron' else 'statsmodels'}, {ties} ties)")
    return results.frame(rows)


# ---------------------------------------------------------------- many cohorts, batched kernels


def _stack(cohorts: Sequence[model.Cohort], name: str) -> np.ndarray:
    return np.stack([c.patient[name] for c in cohorts])


class _Draws:
    """Long draws collected item by item as arrays, made a DataFrame once (one frame per item
    would cost more than the statistics for the cheap items)."""

    def __init__(self):
        self.parts = []

    def add(self, ref: str, estimate, lo=None, hi=None, p=None, suffix: str = "") -> None:
        est = np.asarray(estimate, float)
        nan = np.full(est.shape, np.nan)
        self.parts.append((ref + suffix, est, *(nan if a is None else np.asarray(a, float) for a in (lo, hi, p))))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["rep", "claim_id", "item", "estimate", "lo", "hi", "p"])
        sizes = [part[1].size for part in self.parts]
        cid, item = zip(*(part[0].split("/") for part in self.parts), strict=True)
        return pd.DataFrame({
            "rep": np.concatenate([np.arange(n) for n in sizes]),
            "claim_id": np.repeat(np.array(cid, dtype=object), sizes),
            "item": np.repeat(np.array(item, dtype=object), sizes),
            **{col: np.concatenate([part[i] for part in self.parts])
               for i, col in enumerate(("estimate", "lo", "hi", "p"), start=1)},
        })  # fmt: skip


def lesion_fits(cohorts: Sequence[model.Cohort], settings: Settings, methods: Iterable[str] = tuple(METHODS)):
    """Every cohort x feature lesion-level OR by each of ``methods``, batched.

    Returns {method: (odds_ratio, lo, hi, p)}, arrays (features, replicates).
    """
    r = len(cohorts)
    y = np.stack([c.local_failure for c in cohorts]).astype(float)
    x = np.stack([c.features for c in cohorts]).transpose(2, 0, 1).astype(float)  # (3, R, n)
    g = np.stack([c.lesion_patient for c in cohorts])
    nf = x.shape[0]
    y3, x3, g3 = np.tile(y, (nf, 1)), x.reshape(nf * r, -1), np.tile(g, (nf, 1))
    out = {}
    table = two_by_two(y3, x3)  # also the independence fit the GEE starts from (closed form)
    c, d = table.cells[:, 2], table.cells[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        start = np.column_stack([np.log(c / d), table.log_or])
    for m in methods:
        if m == "gee":
            f = gee.gee_logistic(y3, x3, g3, working=settings["gee_working_correlation"], start=start)
            vals = (f.odds_ratio[:, 1], f.or_lo[:, 1], f.or_hi[:, 1], f.p[:, 1])
        elif m == "naive":
            vals = (table.odds_ratio, table.lo, table.hi, table.p)
        elif m == "mixed":
            f = glmm.random_intercept_logistic_batch(*glmm.stack_rows(y3, x3, g3))  # unconverged fits are NaN
            vals = (f.odds_ratio, f.lo, f.hi, f.p)
        else:
            raise ValueError(f"method={m!r} is not allowed: use one of {', '.join(METHODS)}")
        out[m] = tuple(v.reshape(nf, r) for v in vals)
    return out


def analyse(cohorts: Sequence[model.Cohort], settings: Settings, include: Iterable[str] | None = None,
            methods: Iterable[str] = tuple(METHODS)) -> pd.DataFrame:  # fmt: skip
    """Batch analysis for ``replicate.run``: one long row per (replicate, item).

    ``include``: claim IDs or refs (default: all). ``methods``: the lesion-level analyses to run
    besides nothing else — "gee" gives the ledger items, "naive" and "mixed" the extra draws
    (leave them out when only the verdicts are needed: the mixed model is the slow part).
    The printed sizes fed to the simulator (``settings.INPUTS``) get no draws.
    """
    refs = wanted(include)
    out = _Draws()
    n = cohorts[0].n_lesion_patients
    if refs & {*COUNTS, *SHARES}:
        pat = {k: _stack(cohorts, k)[:, :n].sum(axis=1).astype(float) for k in model.PATTERNS}
        pat["patients"] = np.full(len(cohorts), float(n))
        for ref, key in COUNTS.items():
            if ref in refs:
                out.add(ref, pat[key])
        with np.errstate(invalid="ignore", divide="ignore"):
            for ref, (num, den) in SHARES.items():
                if ref in refs:
                    out.add(ref, np.where(pat[den] > 0, 100 * pat[num] / pat[den], np.nan))
    if "FIG-02/followup_median" in refs:
        t, e = _stack(cohorts, "os_time")[:, :n], _stack(cohorts, "os_event")[:, :n]
        out.add("FIG-02/followup_median", followup_median(t, e))
    if any(ref in refs for ref in OR_ITEMS.values()):
        fits = lesion_fits(cohorts, settings, methods)
        for j, ref in enumerate(OR_ITEMS.values()):
            if ref in refs:
                for m, vals in fits.items():
                    out.add(ref, *(v[j] for v in vals), suffix=SUFFIX[m])
    big = _stack(cohorts, "any_ge5cm").astype(float)
    if "FIG-09/any_lesion_ge5cm" in refs:
        out.add("FIG-09/any_lesion_ge5cm", big.sum(axis=1))
    if "FIG-09/any_lesion_ge5cm_pct" in refs:
        out.add("FIG-09/any_lesion_ge5cm_pct", 100 * big.mean(axis=1))
    for ref, (t, e) in SURVIVAL.items():
        if ref in refs:
            fit = cox_fit(_stack(cohorts, t), _stack(cohorts, e).astype(float), big, ties=settings["cox_ties"])
            out.add(ref, fit.hr[:, 0], fit.hr_lo[:, 0], fit.hr_hi[:, 0], fit.p[:, 0])
    return out.frame()


def method_bands(draws: pd.DataFrame) -> pd.DataFrame:
    """Replicate 2.5%, 50% and 97.5% points of each lesion-level OR by each method (feature x method)."""
    from ..replicate import band

    rows = []
    for f, ref in OR_ITEMS.items():
        cid, item = ref.split("/")
        for m, suffix in SUFFIX.items():
            est = draws.loc[(draws.claim_id == cid) & (draws["item"] == item + suffix), "estimate"].to_numpy(float)
            est = est[np.isfinite(est)]
            lo, med, hi = band(est) if est.size else (np.nan,) * 3
            rows.append({"feature": f, "method": m, "mc_lo": lo, "mc_median": med, "mc_hi": hi,
                         "replicates": int(est.size)})  # fmt: skip
    return pd.DataFrame(rows)


def method_comparison(table: pd.DataFrame, single: pd.DataFrame, draws: pd.DataFrame) -> pd.DataFrame:
    """Per feature and method: the printed OR and CI, the seeded cohort's OR and CI by that method
    (``lesion_methods``), the CI's upper/lower ratio, and the replicate band of the method.

    Columns follow ``helpers.results`` (reported*, rederived*, mc_*) so ``helpers.figures.forest``
    can draw each method's rows; ``status`` is the verdict of the printed OR (GEE rows only).
    """
    printed = table.assign(ref=table.claim_id + "/" + table["item"]).set_index("ref")
    bands = method_bands(draws).set_index(["feature", "method"])
    rows = []
    for r in single.itertuples():
        p = printed.loc[r.claim] if r.claim in printed.index else None
        b = bands.loc[(r.feature, r.method)]
        rows.append({
            "feature": r.feature, "method": r.method, "item": r.feature,
            "reported": None if p is None else p.reported, "reported_lo": None if p is None else p.reported_lo,
            "reported_hi": None if p is None else p.reported_hi,
            "rederived": r.odds_ratio, "rederived_lo": r.lo, "rederived_hi": r.hi, "rederived_p": r.p,
            "ci_ratio": r.ci_ratio, "mc_lo": b.mc_lo, "mc_median": b.mc_median, "mc_hi": b.mc_hi,
            "status": (None if p is None else p.status) if r.method == "gee" else "",
        })  # fmt: skip
    return pd.DataFrame(rows)
