"""Re-derivation of the review's qualitative claims from virtual cohorts.

Every item of VEN-01 ... VEN-05 is a direction ("higher burden -> lower expansion"); each is
turned into one signed number per cohort (``ITEMS``: the number, the sign the review claims, the
method) and judged on whether same-size studies show that sign (``helpers.verdicts``). Plus one
external, held-out check: Dean et al.'s PFS hazard ratio by tumor volume.

- ``rederive(cohort, settings, rng)``: one cohort, with the reference libraries (scipy,
  statsmodels, lifelines; the DeLong CI of an AUC difference from ``helpers.kernels.delong``,
  whose point estimate scipy's Mann-Whitney U gives);
- ``analyse(cohorts, settings)``: a batch of replicate cohorts with the batched kernels
  (``helpers.kernels``: logistic, Cox, DeLong), the kinetics solved once for the whole batch;
- ``REASONS``: why an item the model contradicts misses.

The rest are the notebook's exploratory tables (single cohort, reference libraries).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .. import kernels, ledger, results
from ..kernels import delong
from ..params import ParameterError
from . import kinetics, model

PAPER = "ventin"
DEAN = "VEN-01/external_dean_pfs_hr"


@dataclass(frozen=True)
class Item:
    sign: int  # the direction the review claims, as the sign of ``estimate``
    method: str


ITEMS: dict[str, Item] = {
    "VEN-01/burden_lowers_expansion": Item(-1, "correlation of log burden with log expansion (settings: correlation, expansion_measure)"),
    "VEN-01/burden_lowers_durable_response": Item(-1, "logistic log OR of durable response per SD of log burden"),
    "VEN-01/burden_raises_inflammation": Item(+1, "correlation of log burden with IL-6 (settings: correlation)"),
    "VEN-02/ratio_beats_burden_and_peak": Item(+1, "smaller of AUC(ratio) - AUC(burden) and AUC(ratio) - AUC(peak) for durable response; paired DeLong CI and P of that difference"),
    "VEN-02/ratio_not_sufficient": Item(+1, "1 - AUC of the peak/burden ratio for durable response (DeLong CI)"),
    "VEN-03/burden_raises_severe_crs": Item(+1, "logistic log OR of grade >= 3 CRS per SD of log burden"),
    "VEN-03/burden_raises_severe_icans": Item(+1, "logistic log OR of grade >= 3 ICANS per SD of log burden"),
    "VEN-04/debulking_raises_durable_response": Item(+1, "paired risk difference of durable response, debulked - as drawn (Wald CI, McNemar P)"),
    "VEN-05/biomarker_association_attenuated_by_burden": Item(+1, "|crude| - |burden-adjusted| logistic log OR per SD of the marker (settings: confounded_marker) for non-durable response"),
}  # fmt: skip
NOTES = {
    "VEN-02/ratio_beats_burden_and_peak": "published kill term: killing depends on the CAR T level only, so peak expansion alone "
                                          "discriminates best; with tumor-saturated killing (h_B > 0) the ratio can win",
}  # fmt: skip
DEAN_METHOD = "Cox PFS HR, high vs low burden (settings: dean_cutoff), first dean_cohort_size patients"
DEAN_NOTE = ("external, not the review's: Dean et al., Blood Adv 2020;4(14):3268, validation PFS HR 0.29 (0.12-0.69) "
             "low vs high MTV, inverted to high vs low; from data/assumed/ventin.yaml; replicate studies of "
             "dean_cohort_size patients")  # fmt: skip
REASONS = {
    "VEN-02/ratio_beats_burden_and_peak": (
        "assumption h_B: under the published kill term of Kimmel et al. (h_B = 0) the kill rate per "
        "tumor cell depends on the CAR T level only, so peak expansion alone discriminates durable "
        "response best and burden only adds noise to the peak/burden ratio; the ratio beats both "
        "parts only if tumor cells saturate killing (h_B > 0, notebook parameter ratio_saturation)"
    ),
}


def claimed_sign(ref: str) -> int:
    """The sign the review claims for a qualitative item (of its ``estimate``)."""
    return ITEMS[ref].sign


def refs(include: Iterable[str] | None = None) -> list[str]:
    """The ledger items (and the external Dean row) of ``include`` (claim IDs or refs; None: all)."""
    frame = ledger.frame(PAPER)
    every = [f"{c}/{i}" for c, i in zip(frame.claim_id, frame["item"], strict=True)]
    missing = sorted(set(every) - set(ITEMS))
    if missing:
        raise ParameterError(f"ledger items without an analysis: {missing}")
    every.append(DEAN)
    if include is None:
        return every
    wanted = set(include)
    return [r for r in every if r in wanted or r.split("/")[0] in wanted]


# ---- shared small pieces ----


def _std(v: np.ndarray) -> np.ndarray:
    """Standardised along the last axis (population SD, as in ``numpy.std``)."""
    v = np.asarray(v, float)
    return (v - v.mean(-1, keepdims=True)) / v.std(-1, keepdims=True)


def _expansion(df: pd.DataFrame, s: Mapping[str, Any]) -> np.ndarray:
    column = {"peak": "peak_car_t", "day28": "car_t_d28"}.get(s["expansion_measure"])
    if column is None:
        raise ParameterError(f"expansion_measure={s['expansion_measure']!r}: one of peak, day28")
    return np.log(df[column].to_numpy())


def _high_burden(burden_ml: np.ndarray, s: Mapping[str, Any]) -> np.ndarray:
    """High vs low burden for the Dean et al. check (along the last axis)."""
    cut = s["dean_cutoff"]
    if cut == "median":
        return (burden_ml > np.median(burden_ml, axis=-1, keepdims=True)).astype(float)
    try:
        return (burden_ml > float(cut)).astype(float)
    except ValueError:
        raise ParameterError(f"dean_cutoff={cut!r}: 'median' or a cut-off in mL") from None


def _paired_difference(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, ...]:
    """Risk difference after - before on paired 0/1 outcomes (along the last axis): estimate,
    Wald 95% CI and the McNemar chi-square P (no continuity correction)."""
    b, a = np.asarray(before, bool), np.asarray(after, bool)
    n = b.shape[-1]
    gained, lost = (a & ~b).sum(-1), (b & ~a).sum(-1)
    d = (gained - lost) / n
    se = np.sqrt(np.maximum(gained + lost - n * d**2, 0.0)) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(gained + lost > 0, stats.chi2.sf((gained - lost) ** 2 / (gained + lost), 1), np.nan)
    return d, d - delong.Z95 * se, d + delong.Z95 * se, p


# ---- one cohort, reference libraries ----


def _logit(y: np.ndarray, columns: Sequence[np.ndarray]) -> tuple[float, float, float, float]:
    """statsmodels Logit; (coef, lo, hi, p) of the first covariate, NaN if it cannot be fitted."""
    from statsmodels.discrete.discrete_model import Logit  # statsmodels.api imports far more

    y = np.asarray(y, float)
    if y.min() == y.max():
        return (np.nan,) * 4
    x = np.column_stack([np.ones(len(y)), *columns])
    try:
        fit = Logit(y, x).fit(disp=0, maxiter=100)
    except Exception:  # perfect separation and singular fits: the analysis failed (NaN)
        return (np.nan,) * 4
    lo, hi = fit.conf_int()[1]
    return float(fit.params[1]), float(lo), float(hi), float(fit.pvalues[1])


def _corr(a: np.ndarray, b: np.ndarray, s: Mapping[str, Any]) -> tuple[float, float]:
    kind = s["correlation"]
    if kind not in ("pearson", "spearman"):
        raise ParameterError(f"correlation={kind!r}: one of pearson, spearman")
    r = stats.pearsonr(a, b) if kind == "pearson" else stats.spearmanr(a, b)
    return float(r[0]), float(r[1])


def _mw_auc(score: np.ndarray, y: np.ndarray) -> float:
    """AUC as the Mann-Whitney U of the positives over m x n (scipy)."""
    pos, neg = score[y], score[~y]
    return float(stats.mannwhitneyu(pos, neg).statistic) / (pos.size * neg.size)


def effects(cohort: model.Cohort, settings: Mapping[str, Any], include: Iterable[str] | None = None) -> dict[str, dict]:
    """ref -> {estimate, lo, hi, p} for one cohort, with the reference libraries."""
    s, df = settings, cohort.patients
    wanted = refs(include)
    out: dict[str, dict] = {}

    def put(ref, est, lo=np.nan, hi=np.nan, p=np.nan):
        out[ref] = {"estimate": float(est), "lo": float(lo), "hi": float(hi), "p": float(p)}

    y = df.durable.to_numpy(bool)
    lb = df.log_burden.to_numpy()
    if "VEN-01/burden_lowers_expansion" in wanted:
        r, p = _corr(lb, _expansion(df, s), s)
        put("VEN-01/burden_lowers_expansion", r, p=p)
    if "VEN-01/burden_raises_inflammation" in wanted:
        r, p = _corr(lb, df.il6.to_numpy(), s)
        put("VEN-01/burden_raises_inflammation", r, p=p)
    if "VEN-01/burden_lowers_durable_response" in wanted:
        put("VEN-01/burden_lowers_durable_response", *_logit(y, [_std(lb)]))
    if any(r.startswith("VEN-02/") for r in wanted):
        ratio, burden, peak = df.log_ratio.to_numpy(), -lb, np.log(df.peak_car_t.to_numpy())
        if y.all() or not y.any():
            put("VEN-02/ratio_beats_burden_and_peak", np.nan)
            put("VEN-02/ratio_not_sufficient", np.nan)
        else:
            a_r, a_b, a_p = (_mw_auc(v, y) for v in (ratio, burden, peak))
            other = burden if a_r - a_b <= a_r - a_p else peak
            d = delong.auc_difference(ratio, other, y)
            a = delong.auc(ratio, y)
            put("VEN-02/ratio_beats_burden_and_peak", min(a_r - a_b, a_r - a_p), d.lo[0], d.hi[0], d.p[0])
            put("VEN-02/ratio_not_sufficient", 1 - a_r, 1 - a.hi[0], 1 - a.lo[0])
    for tox in ("crs", "icans"):
        ref = f"VEN-03/burden_raises_severe_{tox}"
        if ref in wanted:
            put(ref, *_logit(df[f"severe_{tox}"].to_numpy(), [_std(lb)]))
    if "VEN-04/debulking_raises_durable_response" in wanted:
        d, lo, hi, p = _paired_difference(y, cohort.debulked.durable.to_numpy(bool))
        put("VEN-04/debulking_raises_durable_response", d, lo, hi, p)
    ref = "VEN-05/biomarker_association_attenuated_by_burden"
    if ref in wanted:
        marker = _std(df[s["confounded_marker"]].to_numpy())
        crude = _logit(~y, [marker])[0]
        adjusted = _logit(~y, [marker, _std(lb)])[0]
        put(ref, abs(crude) - abs(adjusted))
    if DEAN in wanted:
        put(DEAN, *dean_cox(df.iloc[: int(s["dean_cohort_size"])], s))
    return out


def dean_cox(df: pd.DataFrame, s: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """PFS HR high vs low burden (lifelines Cox, Efron ties): HR, 95% CI, P."""
    from lifelines import CoxPHFitter

    d = pd.DataFrame({"t": df.pfs_days.to_numpy(), "e": df.pfs_event.astype(int).to_numpy(),
                      "high": _high_burden(df.burden_ml.to_numpy(), s)})  # fmt: skip
    if d.high.nunique() < 2 or d.e.sum() == 0:
        return (np.nan,) * 4
    row = CoxPHFitter().fit(d, "t", "e").summary.loc["high"]
    return (float(row["exp(coef)"]), float(row["exp(coef) lower 95%"]), float(row["exp(coef) upper 95%"]),
            float(row["p"]))  # fmt: skip


def rederive(cohort: model.Cohort, settings: Mapping[str, Any], rng: np.random.Generator | None = None,
             include: Iterable[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Results rows (``helpers.results``) of every ledger item of the review, and the external
    Dean et al. check, from one cohort. ``rng`` is unused: no item needs resampling."""
    found = effects(cohort, settings, include)
    rows = []
    for ref, e in found.items():
        kw = {"rederived": e["estimate"], "rederived_lo": e["lo"], "rederived_hi": e["hi"], "rederived_p": e["p"]}
        if ref == DEAN:
            rows.append(dean_row(settings, **kw))
            continue
        row = results.from_ledger(ref, method=ITEMS[ref].method, note=NOTES.get(ref, ""), **kw)
        row["reported"] = float(claimed_sign(ref))  # a direction: the review's claimed sign
        rows.append(row)
    return results.frame(rows)


def dean_row(settings: Mapping[str, Any], **rederived: float) -> dict[str, Any]:
    """The external Dean et al. check: not a ledger item, so its role is given (held-out)."""
    est, lo, hi = settings["external_dean_pfs_hr_low_vs_high"]
    claim_id, item = DEAN.split("/")
    return results.row(claim_id, item, "HR", "held-out", paper=PAPER, reported=1 / est, reported_lo=1 / hi,
                       reported_hi=1 / lo, method=DEAN_METHOD, note=DEAN_NOTE, **rederived)  # fmt: skip


# ---- many cohorts, batched kernels ----


def _batched_corr(a: np.ndarray, b: np.ndarray, s: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    if s["correlation"] == "spearman":
        a, b = stats.rankdata(a, axis=-1), stats.rankdata(b, axis=-1)
    elif s["correlation"] != "pearson":
        raise ParameterError(f"correlation={s['correlation']!r}: one of pearson, spearman")
    r = np.clip((_std(a) * _std(b)).mean(-1), -1.0, 1.0)
    n = a.shape[-1]
    with np.errstate(divide="ignore"):
        t = r * np.sqrt((n - 2) / np.maximum(1 - r**2, 1e-300))
    return r, 2 * stats.t.sf(np.abs(t), n - 2)


def _batched_logits(jobs: Mapping[str, tuple[np.ndarray, Sequence[np.ndarray]]]) -> dict[str, tuple[np.ndarray, ...]]:
    """Several logistic fits (name -> (y (R, n), covariates)) of the same shape as ONE batched fit
    (replicates stacked: each is fitted on its own, the kernel only shares the loop)."""
    out = {}
    by_k: dict[int, list[str]] = {}
    for name, (_, cols) in jobs.items():
        by_k.setdefault(len(cols), []).append(name)
    for names in by_k.values():
        y = np.concatenate([np.asarray(jobs[nm][0], float) for nm in names])
        x = np.concatenate([np.stack(jobs[nm][1], axis=-1) for nm in names])
        fit = kernels.logistic_fit(y, x)
        R = len(jobs[names[0]][0])
        for i, nm in enumerate(names):
            sl = slice(i * R, (i + 1) * R)
            out[nm] = (fit.beta[sl, 1], np.log(fit.or_lo[sl, 1]), np.log(fit.or_hi[sl, 1]), fit.p[sl, 1])
    return out


def analyse(cohorts: Sequence[model.Cohort], settings: Mapping[str, Any],
            include: Iterable[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Draws (rep, claim_id, item, estimate, lo, hi, p) of a batch of same-size cohorts."""
    s = settings
    wanted = refs(include)
    noise = model.concatenate(cohorts)
    R, n = len(cohorts), len(cohorts[0])
    base = model.realise(noise, s)

    def col(name: str, df: pd.DataFrame = base) -> np.ndarray:
        return df[name].to_numpy().reshape(R, n)

    y = col("durable").astype(bool)
    lb = col("log_burden")
    out: dict[str, tuple] = {}
    logits: dict[str, tuple] = {}  # fitted together below
    z_b = _std(lb)
    if "VEN-01/burden_lowers_expansion" in wanted:
        r, p = _batched_corr(lb, _expansion(base, s).reshape(R, n), s)
        out["VEN-01/burden_lowers_expansion"] = (r, None, None, p)
    if "VEN-01/burden_raises_inflammation" in wanted:
        r, p = _batched_corr(lb, col("il6"), s)
        out["VEN-01/burden_raises_inflammation"] = (r, None, None, p)
    if "VEN-01/burden_lowers_durable_response" in wanted:
        logits["VEN-01/burden_lowers_durable_response"] = (y, [z_b])
    if any(r.startswith("VEN-02/") for r in wanted):
        ratio, burden, peak = (delong.components(v, y) for v in (col("log_ratio"), -lb, np.log(col("peak_car_t"))))
        a_r, a_b, a_p = (delong.auc(c) for c in (ratio, burden, peak))
        use_burden = a_r.auc - a_b.auc <= a_r.auc - a_p.auc
        d_b, d_p = delong.auc_difference(ratio, burden), delong.auc_difference(ratio, peak)
        pick = [np.where(use_burden, getattr(d_b, f), getattr(d_p, f)) for f in ("lo", "hi", "p")]
        out["VEN-02/ratio_beats_burden_and_peak"] = (np.minimum(a_r.auc - a_b.auc, a_r.auc - a_p.auc), *pick)
        out["VEN-02/ratio_not_sufficient"] = (1 - a_r.auc, 1 - a_r.hi, 1 - a_r.lo, None)
    for tox in ("crs", "icans"):
        ref = f"VEN-03/burden_raises_severe_{tox}"
        if ref in wanted:
            logits[ref] = (col(f"severe_{tox}"), [z_b])
    if "VEN-04/debulking_raises_durable_response" in wanted:
        debulked = model.what_if(noise, s, model.debulk_factor(noise, s), base)
        out["VEN-04/debulking_raises_durable_response"] = _paired_difference(y, col("durable", debulked))
    ref = "VEN-05/biomarker_association_attenuated_by_burden"
    if ref in wanted:
        marker = _std(col(s["confounded_marker"]))
        logits["crude"], logits["adjusted"] = (~y, [marker]), (~y, [marker, z_b])
    if DEAN in wanted:
        k = int(s["dean_cohort_size"])
        if k > n:
            raise ParameterError(f"dean_cohort_size={k} exceeds the cohort size {n}")
        fit = kernels.cox_fit(col("pfs_days")[:, :k], col("pfs_event")[:, :k].astype(bool),
                              _high_burden(col("burden_ml")[:, :k], s))  # fmt: skip
        out[DEAN] = (fit.hr[:, 0], fit.hr_lo[:, 0], fit.hr_hi[:, 0], fit.p[:, 0])
    fitted = _batched_logits(logits)
    if ref in wanted:
        fitted[ref] = (np.abs(fitted.pop("crude")[0]) - np.abs(fitted.pop("adjusted")[0]), None, None, None)
    out.update(fitted)
    parts = []
    nan = np.full(R, np.nan)
    for ref, (est, lo, hi, p) in out.items():
        claim_id, item = ref.split("/")
        parts.append(pd.DataFrame({"rep": np.arange(R), "claim_id": claim_id, "item": item, "estimate": est,
                                   "lo": nan if lo is None else lo, "hi": nan if hi is None else hi,
                                   "p": nan if p is None else p}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def direction_shares(draws: pd.DataFrame) -> pd.DataFrame:
    """Per qualitative item: share of replicate studies showing the review's direction, and the
    share of those reaching P < .05 where the item's analysis has a P."""
    d = draws[draws["claim_id"].str.cat(draws["item"], sep="/").isin(ITEMS)].copy()
    ref = d["claim_id"] + "/" + d["item"]
    d["shows"] = (np.sign(d["estimate"]) == ref.map(claimed_sign)).astype(float)
    d["shows_significant"] = np.where(d["p"].isna(), np.nan, d["shows"] * (d["p"] < 0.05))
    out = d.assign(failed=d["estimate"].isna()).groupby(["claim_id", "item"], sort=False)[
        ["shows", "shows_significant", "failed"]].mean()  # fmt: skip
    out.columns = ["shows the claimed direction", "and P < .05", "analysis failed"]
    return (100 * out).round(1)


# ---- exploratory tables of the notebook (one cohort, reference libraries) ----


def solver_check(rates: Sequence[float] = (0.105, 0.19, 0.265)) -> pd.DataFrame:
    """The three growth rates of Kimmel et al. at their published parameters: RK4 (1-day steps)
    and the family table against scipy LSODA, and what each patient's course is."""
    rows = []
    grid = np.arange(0.0, 366.0)
    for r_b in rates:
        ref = kinetics.solve_reference({"r_B": r_b}, t_eval=grid)
        rk4 = kinetics.solve({"r_B": r_b}, dt=1.0)
        table = kinetics.summary({"r_B": np.array([r_b])}, car_t_days=(7, 14, 28, 90), method="table")
        sol = kinetics.summary({"r_B": np.array([r_b])}, method="rk4")
        rows.append({"r_B per day": r_b,
                     "RK4 max |log C error|": float(np.abs(np.log(rk4.C[0] / ref[1])).max()),
                     "table |log C error| days 7-90": float(max(abs(np.log(table[f"car_t_d{d}"][0] / ref[1][d]))
                                                                for d in (7, 14, 28, 90))),
                     "peak CAR T (1e9 cells)": table["peak_car_t"][0] / 1e9, "peak day": table["peak_day"][0],
                     "eradicated": bool(table["cured"][0]), "progression day": table["progression_day"][0],
                     "RK4 agrees": bool(sol["cured"][0] == table["cured"][0]
                                        and sol["progression_day"][0] == table["progression_day"][0])})  # fmt: skip
    return pd.DataFrame(rows).set_index("r_B per day")


def cohort_summary(cohort: model.Cohort) -> pd.DataFrame:
    """Mean and quartiles of the cohort's main variables (shares for yes/no outcomes)."""
    cols = ["burden_ml", "growth_rate", "peak_car_t", "durable", "cured", "severe_crs", "severe_icans"]
    return cohort.patients[cols].astype(float).describe().T[["mean", "25%", "50%", "75%"]]


def car_t_check(cohort: model.Cohort) -> pd.DataFrame:
    """Blood CAR T (cells/uL) of the cohort against ZUMA-1's medians and quartiles; only the day-7
    median was fitted (``blood_fraction``), days 14, 28 and 90 and every quartile are held out."""
    s, df = cohort.settings, cohort.patients
    to_ul = s["blood_fraction"] / s["blood_volume_ul"]
    days = [int(d) for d in s["external_zuma1_car_t_days"]]
    sim = np.array([np.quantile(df[f"car_t_d{d}"].to_numpy() * to_ul, [0.25, 0.5, 0.75]) for d in days])
    return pd.DataFrame({"ZUMA-1 Q1": s["external_zuma1_car_t_q1"], "ZUMA-1 median": s["external_zuma1_car_t_median"],
                         "ZUMA-1 Q3": s["external_zuma1_car_t_q3"], "simulated Q1": sim[:, 0],
                         "simulated median": sim[:, 1], "simulated Q3": sim[:, 2]},
                        index=pd.Index(days, name="day"))  # fmt: skip


def auc_table(cohort: model.Cohort, ratio_saturation: float) -> pd.DataFrame:
    """AUC (DeLong 95% CI) of burden, peak CAR T and their ratio for durable response, and the
    paired differences ratio - burden and ratio - peak: published kill term beside h_B =
    ``ratio_saturation`` (same patients, same noise; 0 = the published term again)."""
    sat = model.Cohort(cohort.noise, cohort.settings.replace(h_B=float(ratio_saturation)))
    return pd.concat({"published (h_B = 0)": _aucs(cohort.patients), f"h_B = {ratio_saturation:g}": _aucs(sat.patients)},
                     axis=1)  # fmt: skip


def _aucs(df: pd.DataFrame) -> pd.DataFrame:
    y = df.durable.to_numpy(bool)
    scores = {"burden (lower = better)": -df.log_burden.to_numpy(), "peak CAR T": np.log(df.peak_car_t.to_numpy()),
              "peak / burden": df.log_ratio.to_numpy()}  # fmt: skip
    names = list(scores)
    one = [delong.auc(v, y) for v in scores.values()]
    diffs = [delong.auc_difference(scores["peak / burden"], scores[k], y) for k in names[:2]]
    return pd.DataFrame({
        "AUC": [a.auc[0] for a in one] + [d.difference[0] for d in diffs],
        "lo": [a.lo[0] for a in one] + [d.lo[0] for d in diffs],
        "hi": [a.hi[0] for a in one] + [d.hi[0] for d in diffs],
        "P": [np.nan] * 3 + [d.p[0] for d in diffs],
    }, index=pd.Index([*names, "ratio - burden", "ratio - peak"], name="predictor"))  # fmt: skip


def quartile_rates(cohort: model.Cohort, outcomes: Sequence[str] = ("severe_crs", "severe_icans")) -> pd.DataFrame:
    """Share (%) with each outcome by quartile of log burden (Q1 = smallest)."""
    df = cohort.patients
    q = pd.qcut(df.log_burden, 4, labels=["Q1", "Q2", "Q3", "Q4"])
    out = df.groupby(q, observed=True)[list(outcomes)].mean() * 100
    out["patients"] = df.groupby(q, observed=True).size()
    out.index.name = "burden quartile"
    return out


def what_if_table(cohort: model.Cohort, rng: np.random.Generator, draws: int = 2000) -> pd.DataFrame:
    """Durable response before and after debulking the bulky patients, and at minimal residual
    disease, on the same patients; paired bootstrap 95% CI of the difference (``rng``)."""
    base = cohort.patients.durable.to_numpy(float)
    arms = {"debulking": cohort.debulked.durable.to_numpy(float), "minimal residual disease": cohort.at_mrd().durable.to_numpy(float)}
    changed = {"debulking": int((model.debulk_factor(cohort.noise, cohort.settings) < 1).sum()), "minimal residual disease": len(cohort)}
    rows = {}
    for name, after in arms.items():
        diff = after - base
        boot = diff[rng.integers(0, diff.size, (draws, diff.size))].mean(axis=1)
        rows[name] = {"patients changed": changed[name], "durable before": base.mean(), "durable after": after.mean(),
                      "difference": diff.mean(), "lo": np.quantile(boot, 0.025), "hi": np.quantile(boot, 0.975)}  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index").astype({"patients changed": int})


def confounding_table(cohort: model.Cohort) -> pd.DataFrame:
    """Odds ratio per SD of each marker for no durable response, crude and adjusted for log
    burden (statsmodels logistic), as a Jain et al.-type baseline association study would see."""
    df = cohort.patients
    y = ~df.durable.to_numpy(bool)
    rows = []
    for m in model.MARKERS:
        for label, cols in (("crude", [_std(df[m].to_numpy())]),
                            ("adjusted for burden", [_std(df[m].to_numpy()), _std(df.log_burden.to_numpy())])):  # fmt: skip
            b, lo, hi, p = _logit(y, cols)
            rows.append({"marker": m, "model": label, "OR per SD": np.exp(b), "lo": np.exp(lo), "hi": np.exp(hi), "P": p})
    return pd.DataFrame(rows).set_index(["marker", "model"])
