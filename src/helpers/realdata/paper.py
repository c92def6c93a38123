"""The paper a real data set would have produced, generated from its patient data.

``entries(ds)`` lists every number a typical clinical paper prints, as ledger fields and the study
spec's mapping of how it is re-derived:

- **Table 1**: patients, group sizes, each binary covariate's count and %, each level of a
  categorical one, the median and range of a continuous one;
- **follow-up**: reverse Kaplan-Meier median, and the range among censored patients;
- **Figure 1**: per group (or per level of the compared variable): events, Kaplan-Meier median with
  95% CI, survival at the landmarks with 95% CI; the log-rank P;
- **Table 2**: univariable Cox HRs (95% CI, Wald P) of the arm and every covariate;
- **Table 3**: one multivariable Cox model of the arm and every covariate.

``truth(ds)`` computes every mapped number with the spec's own reference engine
(``helpers.spec.analysis.reference``: lifelines, statsmodels, scipy) on the patient data, so the
truth and the replicate studies use one estimator; ``ledger(ds)`` prints them in the house style
below. ``assumptions(ds)`` and ``spec(ds, targets)`` are the rest of a study a calibration runs on;
``write(ds, folder, targets)`` writes ledger.yaml, assumed.yaml and spec.yaml of an outside study
(``helpers.ledger.outside``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from ..spec import analysis, plan, schema
from .datasets import Dataset, cohort, dataset

# The house style of the generated papers: decimals printed per kind of number, chosen as clinical
# journals print them (percentages to 0.1, times to 0.1 of their unit, landmark survival in whole
# percent, ratios to 0.01; P as ".03", ".004", "<.001").
DECIMALS = {"percent": 1, "time": 1, "landmark": 0, "HR": 2}
P_FLOOR = 0.001
MODELS = ("pooled", "by_arm")
LOG_HR_BOUND = 3.0  # a fitted HR between 1/20 and 20: wider than any printed here (0.46 to 5.7)
NOTEBOOK = "50_real_data_validation"
CALIBRATION = {"n_multiplier": 10, "seed": 20221208, "max_nfev": 60, "tolerance": 1e-3}  # why: see spec()


@dataclass(frozen=True)
class Entry:
    """One printed number: its ledger fields (without the number) and its spec mapping."""

    claim_id: str
    item: str
    quantity: str
    where: str
    mapping: dict[str, Any] | None  # ItemMap fields; None: printed but not re-derivable (a range)
    time: float | None = None  # landmark time, in the data set's time unit
    unit: str | None = None
    group: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.claim_id}/{self.item}"


def slug(term: str) -> str:
    """A model term ('size:t2', 'group:hormone') as an item-name part ('size_t2', 'hormone')."""
    return term.removeprefix("group:").replace(":", "_")


def terms(ds: Dataset) -> list[tuple[str, str, str | None]]:
    """Model terms: (variable, term, level) for the arm (two arms) and every covariate."""
    out = [("group", f"group:{g}", g) for g in ds.groups[1:]]
    for c in ds.covariates:
        if c.kind == "categorical":
            out += [(c.name, f"{c.name}:{lv}", lv) for lv in c.levels[1:]]
        else:
            out.append((c.name, c.name, None))
    return out


def variables(ds: Dataset) -> list[str]:
    return (["group"] if ds.two_arms else []) + [c.name for c in ds.covariates]


def claims(ds: Dataset) -> dict[str, str]:
    p = ds.prefix
    by = "arm" if ds.by == "group" else ds.covariate(ds.by).label
    return {f"{p}-01": "patients and baseline characteristics", f"{p}-02": "follow-up",
            f"{p}-03": f"{ds.endpoint_label} by {by}", f"{p}-04": f"univariable Cox models of {ds.endpoint_label}",
            f"{p}-05": f"multivariable Cox model of {ds.endpoint_label}"}  # fmt: skip


def curve_levels(ds: Dataset) -> list[tuple[str, dict]]:
    """(name, subset) of each Kaplan-Meier curve printed: one per level of ``by`` (and, for one
    cohort compared by a covariate, the whole cohort first)."""
    out = [] if ds.by == "group" else [("all", {})]
    return out + [(lv, {ds.by: lv}) for lv in ds.levels_of(ds.by)]


def entries(ds: Dataset) -> list[Entry]:
    p, ep = ds.prefix, ds.endpoint
    c1, c2, c3, c4, c5 = (f"{p}-0{i}" for i in range(1, 6))
    out = [Entry(c1, "patients", "n", "Table 1", {})]
    if ds.two_arms:
        out += [Entry(c1, f"n_{g}", "n", "Table 1", {"subset": {"group": g}}, group=label)
                for g, label in zip(ds.groups, ds.group_labels, strict=True)]  # fmt: skip
    # Table 1: a column for all patients, and one per arm (two arms)
    columns = [("", {}, None)] + [(f"_{g}", {"subset": {"group": g}}, label)
                                  for g, label in zip(ds.groups, ds.group_labels, strict=True) if ds.two_arms]  # fmt: skip
    for c in ds.covariates:
        for suffix, sub, arm in columns:
            if c.kind == "binary":
                out.append(Entry(c1, f"{c.name}_pct{suffix}", "percent", "Table 1", {"covariate": c.name, **sub}, group=arm))
            elif c.kind == "categorical":
                out += [Entry(c1, f"{c.name}_{lv}_pct{suffix}", "percent", "Table 1", {"covariate": c.name, "level": lv, **sub},
                              group=f"{label}, {arm}" if arm else label)
                        for lv, label in zip(c.levels, c.level_labels, strict=True)]  # fmt: skip
            else:
                out.append(Entry(c1, f"{c.name}_median{suffix}", "median", "Table 1", {"covariate": c.name, **sub}, group=arm))
        if c.kind == "continuous":
            out.append(Entry(c1, f"{c.name}_range", "range", "Table 1", None))
    out += [Entry(c2, "followup", "followup", "Results", {"endpoint": ep}, unit=ds.time_unit),
            Entry(c2, "followup_range", "range", "Results", None, unit=ds.time_unit,
                  extra={"note": "range of follow-up among censored patients"})]  # fmt: skip
    for name, sub in curve_levels(ds):
        label = dict(zip(ds.levels_of(ds.by), ds.level_labels_of(ds.by), strict=True)).get(name, "all patients")
        out += [Entry(c3, f"events_{name}", "count", "Figure 1", {"endpoint": ep, "subset": sub}, group=label),
                Entry(c3, f"median_{name}", "median", "Figure 1", {"endpoint": ep, "subset": sub}, unit=ds.time_unit, group=label)]  # fmt: skip
        out += [Entry(c3, f"s{t:g}_{name}", "landmark_survival", "Figure 1", {"endpoint": ep, "subset": sub}, time=t,
                      unit="%", group=label) for t in ds.landmarks if t <= _last_time(ds, sub)]  # fmt: skip
    out.append(Entry(c3, "logrank_p", "P", "Figure 1", {"endpoint": ep, "test": "logrank", "by": ds.by}))
    for var, term, _ in terms(ds):
        out.append(Entry(c4, f"uni_{slug(term)}", "HR", "Table 2", {"endpoint": ep, "covariates": [var], "term": term}))
    for _, term, _ in terms(ds):
        out.append(Entry(c5, f"multi_{slug(term)}", "HR", "Table 3", {"endpoint": ep, "covariates": variables(ds), "term": term}))
    return out


def _last_time(ds: Dataset, subset: dict) -> float:
    """The last follow-up time of a curve (a landmark past it is not printed: nothing estimates it)."""
    data = cohort(ds.name)
    keep = np.ones(len(data["group"]), bool)
    for var, level in subset.items():
        keep &= data[var] == ds.levels_of(var).index(level)
    return float(data[f"{ds.endpoint}_time"][keep].max())


# ----------------------------------------------------------------------------- the model
def free_names(ds: Dataset) -> dict[str, str]:
    """Model term -> its free log-HR parameter name."""
    return {term: f"log_hr_{slug(term) if var != 'group' else 'arm_' + slug(term)}" for var, term, _ in terms(ds)}


def spec(ds: Dataset, targets: list[str], shape_free: bool, starts: dict[str, float], model: str = "pooled") -> schema.Spec:
    """The study spec with ``targets`` as calibration targets.

    Free: the baseline median (the time scale), one log HR per model term, and the Weibull shape
    when ``shape_free`` (else the assumed exponential); ``starts``: the optimiser's start for the
    baseline median and any log HR (the null elsewhere). ``model``: "pooled", covariates drawn
    alike in both arms from the all-patients column of Table 1 (as the four papers' specs); "by_arm",
    each arm's covariates from its own column (``by_group``). The calibration cohort is 10x the printed
    sizes (calibration noise about a third of the study's own sampling SE, ``1/sqrt(10)``), and at
    most 60 evaluations: 4-5 Jacobians of up to 13 parameters, enough for least squares from the
    null start to settle (objective change under 1e-3 in the runs of ``validate``)."""
    if model not in MODELS:
        raise ValueError(f"model {model!r}: choose one of {', '.join(MODELS)}")
    p = ds.prefix
    by_arm = model == "by_arm" and ds.two_arms

    def ref(item: str):  # a Table 1 number: the all-patients column, or each arm's own
        if not by_arm or not item.startswith(f"{p}-01/"):
            return schema.ref(item)
        return {"by_group": {g: schema.ref(f"{item}_{g}") for g in ds.groups}}

    if ds.two_arms:
        groups = [schema.Group(name=g, n=schema.ref(f"{p}-01/n_{g}")) for g in ds.groups]
    else:
        groups = [schema.Group(name=ds.groups[0], n=schema.ref(f"{p}-01/patients"))]
    covariates: dict[str, Any] = {}
    for c in ds.covariates:
        if c.kind == "binary":
            covariates[c.name] = {"kind": "binary", "prevalence": ref(f"{p}-01/{c.name}_pct")}
        elif c.kind == "categorical":
            shares = [schema.ref(f"{p}-01/{c.name}_{lv}_pct") for lv in c.levels[1:]]
            if by_arm:
                shares = {"by_group": {g: [schema.ref(f"{p}-01/{c.name}_{lv}_pct_{g}") for lv in c.levels[1:]] for g in ds.groups}}
            covariates[c.name] = {"kind": "categorical", "levels": list(c.levels), "shares": shares}
        elif c.distribution == "normal":
            covariates[c.name] = {"kind": "continuous", "distribution": "normal", "mean": ref(f"{p}-01/{c.name}_median"),
                                  "sd": schema.assumed(f"{c.name}_sd"), "unit": c.unit}  # fmt: skip
        else:
            covariates[c.name] = {"kind": "continuous", "distribution": "lognormal", "median": ref(f"{p}-01/{c.name}_median"),
                                  "sdlog": schema.assumed(f"{c.name}_sdlog"), "unit": c.unit}  # fmt: skip
    names = free_names(ds)
    log_hr: dict[str, Any] = {}
    for var, term, level in terms(ds):
        if level is None:
            log_hr[var] = schema.free(names[term])
        else:
            log_hr.setdefault(var, {})[level] = schema.free(names[term])
    shape = schema.free("shape") if shape_free else schema.assumed("shape")
    endpoint = {"kind": "time", "log_hr": log_hr,
                "baseline": {"distribution": "weibull", "median": schema.free("baseline_median"), "shape": shape}}  # fmt: skip
    median = starts["baseline_median"]
    free = {"baseline_median": {"start": median, "bounds": [median / 20, median * 20], "transform": "log"}}
    if shape_free:
        free["shape"] = {"start": 1.0, "bounds": [0.25, 4.0], "transform": "log"}
    free.update({names[t]: {"start": starts.get(names[t], 0.0), "bounds": [-LOG_HR_BOUND, LOG_HR_BOUND]} for _, t, _ in terms(ds)})
    items = {e.ref: e.mapping for e in entries(ds) if e.mapping is not None}
    return schema.Spec.model_validate({
        "paper": ds.name, "time_unit": ds.time_unit, "groups": groups, "covariates": covariates,
        "endpoints": {ds.endpoint: endpoint},
        "censoring": {"accrual": schema.assumed("accrual"), "followup": schema.assumed("followup_after_last")},
        "analysis": {"cox_ties": "efron"}, "items": items,
        "calibration": {"targets": list(targets), "free": free, **CALIBRATION},
    })  # fmt: skip


# ----------------------------------------------------------------------------- the truth
@cache
def _truth(name: str) -> pd.DataFrame:
    ds = dataset(name)
    s = spec(ds, [f"{ds.prefix}-03/events_{curve_levels(ds)[0][0]}"], shape_free=False, starts={"baseline_median": 1.0})
    data = cohort(name)
    es = [e for e in entries(ds) if e.mapping is not None]
    items = {e.ref: plan.item_plan(e.ref, e.quantity, schema.ItemMap(**e.mapping), s, e.time) for e in es}
    pl = plan.Plan(ds.name, Path("."), s, items)
    rows = []
    for e in es:
        it = items[e.ref]
        est, lo, hi, p = analysis.reference(data, pl, it, None)
        count, n = analysis.counted(data, pl, it) if e.quantity in ("percent", "count") else (math.nan, math.nan)
        rows.append({"claim_id": e.claim_id, "item": e.item, "quantity": e.quantity, "truth": est, "truth_lo": lo,
                     "truth_hi": hi, "truth_p": p, "count": float(count), "n": float(n)})  # fmt: skip
    return pd.DataFrame(rows)


def truth(name: str) -> pd.DataFrame:
    """Every mapped printed number computed from the patient data, unrounded (claim_id, item,
    quantity, truth, truth_lo, truth_hi, truth_p, count, n)."""
    return _truth(name).copy()


def _ranges(ds: Dataset) -> dict[str, tuple[float, float]]:
    """Minimum and maximum of each continuous covariate, and of follow-up among the censored."""
    data = cohort(ds.name)
    out = {c.name: (float(np.min(data[c.name])), float(np.max(data[c.name]))) for c in ds.covariates if c.kind == "continuous"}
    t, e = data[f"{ds.endpoint}_time"], data[f"{ds.endpoint}_event"]
    out["followup"] = (float(t[e == 0].min()), float(t[e == 0].max()))
    return out


# ----------------------------------------------------------------------------- printing
def fmt(x: float, decimals: int) -> str:
    """A number as printed: fixed decimals; 'NR' for a median not reached, 'NE' for a bound that
    could not be estimated."""
    if x is None or not math.isfinite(x):
        return "NR" if x == math.inf else "NE"
    return f"{x:.{decimals}f}"


def fmt_p(p: float) -> str:
    """A P value as journals print it: '<.001', '.004', '.03', '1.00'."""
    if p < P_FLOOR:
        return "<.001"
    text = f"{p:.3f}" if p < 0.01 else f"{p:.2f}"
    return text[1:] if text.startswith("0") else text


def _decimals(ds: Dataset, name: str) -> int:
    """Decimals of a continuous covariate's median and range: whole units, or 0.01 below 10 units."""
    lo, hi = _ranges(ds)[name]
    return 0 if hi - lo >= 10 else 2


def ledger_items(ds: Dataset) -> dict[str, list[dict[str, str]]]:
    """The printed items per claim, as ledger entries (every number a string, as printed)."""
    tr = truth(ds.name).set_index(["claim_id", "item"])
    ranges = _ranges(ds)
    out: dict[str, list[dict[str, str]]] = {c: [] for c in claims(ds)}
    for e in entries(ds):
        row: dict[str, str] = {"item": e.item, "quantity": e.quantity}
        if e.quantity == "range":
            key = "followup" if e.item == "followup_range" else e.item.removesuffix("_range")
            d = DECIMALS["time"] if key == "followup" else _decimals(ds, key)
            lo, hi = ranges[key]
            row |= {"value": fmt(hi, d), "lo": fmt(lo, d), "hi": fmt(hi, d),
                    "note": e.extra.get("note", "minimum-maximum") + "; value repeats the maximum (the schema needs one)"}  # fmt: skip
        else:
            t = tr.loc[(e.claim_id, e.item)]
            row |= _printed(ds, e, t)
        if e.time is not None:
            row["time"] = f"{e.time:g}"
        if e.unit:
            row["unit"] = e.unit
        if e.group:
            row["group"] = e.group
        row["where"] = e.where
        out[e.claim_id].append(row)
    return out


def _printed(ds: Dataset, e: Entry, t: pd.Series) -> dict[str, str]:
    q = e.quantity
    if q == "n":
        return {"value": f"{t.truth:.0f}"}
    if q == "count":
        return {"value": f"{t.truth:.0f}", "n": f"{t.n:.0f}"}
    if q == "percent":
        return {"value": fmt(t.truth, DECIMALS["percent"]), "count": f"{t['count']:.0f}", "n": f"{t.n:.0f}"}
    if q == "median" and e.mapping.get("covariate"):
        return {"value": fmt(t.truth, _decimals(ds, e.mapping["covariate"]))}
    if q == "followup":
        return {"value": fmt(t.truth, DECIMALS["time"])}
    if q == "median":
        return {"value": fmt(t.truth, DECIMALS["time"]), "lo": fmt(t.truth_lo, DECIMALS["time"]), "hi": fmt(t.truth_hi, DECIMALS["time"])}
    if q == "landmark_survival":
        return {"value": fmt(t.truth, DECIMALS["landmark"]), "lo": fmt(t.truth_lo, DECIMALS["landmark"]),
                "hi": fmt(t.truth_hi, DECIMALS["landmark"])}  # fmt: skip
    if q == "HR":
        d = DECIMALS["HR"]
        return {"value": fmt(t.truth, d), "lo": fmt(t.truth_lo, d), "hi": fmt(t.truth_hi, d), "p": fmt_p(t.truth_p)}
    if q == "P":
        return {"p": fmt_p(t.truth_p)}
    raise ValueError(f"{e.ref}: no house style for a {q}")


def relations(ds: Dataset) -> list[dict[str, Any]]:
    """What the audit can check between the printed numbers: group sizes add to the total, the
    levels of a covariate add to 100%, events within the cohort, each landmark against its median."""
    p = ds.prefix
    out: list[dict[str, Any]] = []
    if ds.two_arms:
        out.append({"kind": "sum", "items": [f"{p}-01/n_{g}" for g in ds.groups], "total": f"{p}-01/patients"})
    arms = [""] + ([f"_{g}" for g in ds.groups] if ds.two_arms else [])
    for c in ds.covariates:
        if c.kind == "categorical":
            out += [{"kind": "sum", "items": [f"{p}-01/{c.name}_{lv}_pct{a}" for lv in c.levels]} for a in arms]
    names = [name for name, _ in curve_levels(ds)]
    out.append({"kind": "subset", "items": [f"{p}-03/events_{n}" for n in names], "total": f"{p}-01/patients"})
    printed = {e.ref for e in entries(ds)}
    for name in names:
        for t in ds.landmarks:
            mark = f"{p}-03/s{t:g}_{name}"
            if mark in printed:
                out.append({"kind": "landmark_median", "items": [mark, f"{p}-03/median_{name}"]})
    return out


def ledger(ds: Dataset) -> dict[str, Any]:
    """The ledger of the generated paper (``data/reported/README.md`` format)."""
    items = ledger_items(ds)
    return {
        "paper": ds.name, "label": f"{ds.name} (real data, generated summary)",
        "citation": ds.citation, "doi": ds.doi,
        "source": f"generated by helpers.realdata.paper from the patient data of {ds.loader}: not a published paper; "
                  f"{ds.coding}",
        "notebooks": [NOTEBOOK],
        "claims": [{"claim_id": c, "claim": text, "items": items[c]} for c, text in claims(ds).items()],
        "relations": relations(ds),
    }  # fmt: skip


# ----------------------------------------------------------------------------- assumptions
def sd_from_range(lo: float, hi: float, n: int) -> float:
    """SD of a normal sample from its range (Wan et al. 2014, BMC Med Res Methodol 14:135):
    (max - min) / (2 z), z the normal quantile at (n - 0.375) / (n + 0.25)."""
    return (hi - lo) / (2 * stats.norm.ppf((n - 0.375) / (n + 0.25)))


def assumptions(ds: Dataset) -> dict[str, dict[str, Any]]:
    """What the generated paper does not give, each derived from what it prints where possible."""
    p = ds.prefix
    tr = truth(ds.name).set_index("item")
    n = int(tr.loc["patients", "truth"])
    ranges = _ranges(ds)
    fu_max = float(fmt(ranges["followup"][1], DECIMALS["time"]))
    fu_median = float(fmt(tr.loc["followup", "truth"], DECIMALS["time"]))
    # uniform entry: potential follow-up uniform from F to F + A, with the printed median (F + A / 2)
    # and the longest printed follow-up (F + A); the shortest one is a loss, not the design
    after_last = max(0.0, 2 * fu_median - fu_max)
    why = "potential follow-up uniform up to the longest printed follow-up, with the printed median"
    out: dict[str, dict[str, Any]] = {
        "accrual": {
            "value": round(fu_max - after_last, 3), "range": [0.0, round(2 * (fu_max - after_last), 3)],
            "unit": ds.time_unit, "derived_from": [f"{p}-02/followup", f"{p}-02/followup_range"],
            "source": "assumption from the printed follow-up", "why": f"uniform entry: {why}",
        },
        "followup_after_last": {
            "value": round(after_last, 3), "range": [0.0, fu_median], "unit": ds.time_unit,
            "derived_from": [f"{p}-02/followup", f"{p}-02/followup_range"],
            "source": "assumption from the printed follow-up", "why": f"the last patient's follow-up: {why}",
        },
        "shape": {
            "value": 1.0, "range": [0.5, 2.0], "source": "assumption",
            "why": "exponential baseline where the targets cannot fix the shape: nothing printed says how the hazard moves",
        },
    }  # fmt: skip
    for c in ds.covariates:
        if c.kind != "continuous":
            continue
        d = _decimals(ds, c.name)
        lo, hi = (float(fmt(x, d)) for x in ranges[c.name])
        if c.distribution == "normal":
            name, value = f"{c.name}_sd", float(sd_from_range(lo, hi, n))
        else:
            name, value = f"{c.name}_sdlog", float(sd_from_range(math.log(lo), math.log(hi), n))
        out[name] = {"value": round(value, 4), "range": [round(0.75 * value, 4), round(1.33 * value, 4)],
                     "derived_from": [f"{p}-01/{c.name}_range"], "source": "Wan X et al. BMC Med Res Methodol 2014;14:135",
                     "why": f"SD {'of the log ' if c.distribution == 'lognormal' else ''}from the printed range at n = {n}"}  # fmt: skip
    return out


# ----------------------------------------------------------------------------- files
def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=200)


def write(ds: Dataset, folder: Path, targets: list[str], shape_free: bool, starts: dict[str, float],
          model: str = "pooled") -> Path:  # fmt: skip
    """ledger.yaml, assumed.yaml and spec.yaml of the outside study ``ds`` with these targets."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ledger.yaml").write_text(_dump(ledger(ds)), encoding="utf-8")
    (folder / "assumed.yaml").write_text(_dump(assumptions(ds)), encoding="utf-8")
    schema.write(spec(ds, targets, shape_free, starts, model), folder / "spec.yaml")
    return folder
