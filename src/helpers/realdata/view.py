"""What notebook 50 and the report show of the real-data validation: tables, the figure, the live run.

``section(study)`` returns the README/report section's tables and figure path (see its docstring);
the notebook calls the same functions, so the two cannot disagree.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import figures, io, ledger, paths, provenance
from ..params import ParameterError
from . import paper, splits, validate
from .datasets import DATASETS, cohort, dataset

FIGURE = "real_data_validation"
FIGURE_BANDS = FIGURE + "_bands"  # both band kinds
TABLE = "real_data_validation.csv"


def check(name: str, model: str) -> None:
    """The live run's data set and model, refused by name before any work."""
    if name not in DATASETS:
        raise ParameterError(f"dataset={name!r} is not allowed: use one of {', '.join(DATASETS)}")
    if model not in paper.MODELS:
        raise ParameterError(f"model={model!r} is not allowed: use one of {', '.join(paper.MODELS)}")


def live_choice(number: int, by_arm: bool) -> tuple[str, str]:
    """Notebook 50's parameters (a data set's number, by arm or not) as (data set, model)."""
    names = list(validate.DATASETS_ORDER)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(names):
        choices = ", ".join(f"{i} {n}" for i, n in enumerate(names, 1))
        raise ParameterError(f"dataset={number!r} is not allowed: use 1 to {len(names)} ({choices})")
    return names[number - 1], paper.MODELS[int(bool(by_arm))]


def datasets_table() -> pd.DataFrame:
    """One line per data set: size, arms, events, covariates, endpoint, source."""
    rows = []
    for name in validate.DATASETS_ORDER:
        ds, c = dataset(name), cohort(name)
        rows.append({"data set": name, "patients": len(c["group"]), "events": int(c[f"{ds.endpoint}_event"].sum()),
                     "compared": " vs ".join(ds.group_labels) if ds.two_arms else f"by {ds.covariate(ds.by).label}",
                     "covariates": ", ".join(v.label for v in ds.covariates), "endpoint": f"{ds.endpoint_label} ({ds.time_unit})",
                     "shipped by": ds.loader, "study": ds.title})  # fmt: skip
    return pd.DataFrame(rows).set_index("data set")


@dataclass
class Live:
    """The live run of notebook 50: one data set, the mimic split, one model."""

    run: validate.SplitRun
    rows: pd.DataFrame
    printed: pd.DataFrame  # the generated ledger, as the machinery reads it
    roles: pd.DataFrame


def live(name: str, model: str, *, seed: int, replicates: int) -> Live:
    """Generate the paper of ``name``, fit the mimic split, draw ``replicates`` studies, compare."""
    check(name, model)
    split = splits.mimic(dataset(name))
    with tempfile.TemporaryDirectory(prefix=f"realdata-{name}-") as tmp:
        folder = Path(tmp) / name
        run = validate.run_split(name, split, replicates=replicates, seed=seed, folder=folder, model=model)
        with ledger.outside(name, folder):
            printed = ledger.frame(name)[["claim_id", "item", "quantity", "printed", "lo_printed", "hi_printed", "p_printed",
                                          "count", "n", "time", "group", "where"]]  # fmt: skip
            roles = provenance.role_table(name)
    return Live(run, validate.rows(run), printed, roles)


def fit_table(lv: Live) -> pd.DataFrame:
    """Printed against fitted for each target, then the fitted parameters."""
    t = pd.DataFrame(lv.run.fit["targets"])[["claim_id", "item", "reported", "fitted", "residual"]]
    params = pd.DataFrame({"item": list(lv.run.fit["params"]), "fitted": list(lv.run.fit["params"].values())})
    return pd.concat([t, params.assign(claim_id="(parameter)")], ignore_index=True).round(3).fillna("")


def bands_table(rows: pd.DataFrame, role: str = "held-out") -> pd.DataFrame:
    """The rows of one role, rounded for display: printed, truth, band, covered, verdicts."""
    out = rows[rows.role == role][["item", "kind", "printed", "truth", "mc_lo", "mc_median", "mc_hi", "covered",
                                   "truth_percentile", "status", "false_printed", "false_status"]].copy()  # fmt: skip
    for col in ("truth", "mc_lo", "mc_median", "mc_hi"):
        out[col] = [_fmt(v, k) for v, k in zip(out[col], out.kind, strict=True)]
    out["truth_percentile"] = (100 * out.truth_percentile).round(1)
    return out.fillna("").reset_index(drop=True)


def _fmt(x: float, kind: str) -> str:
    if not np.isfinite(x):
        return "NR" if x == math.inf else ""
    if kind.startswith("P"):
        return "<0.0001" if x < 1e-4 else f"{x:.4f}"
    return f"{x:.0f}" if kind == "events" else f"{x:.1f}" if kind in ("median", "landmark") else f"{x:.2f}"


def agreement(lv: Live, study: pd.DataFrame) -> pd.DataFrame:
    """The live run beside the committed study's rows of the same data set, split and model: the
    number of rows, how many agree on covered and status, and the largest band difference."""
    want = study[(study.dataset == lv.run.dataset) & (study.model == _model_of(lv)) & (study.split == "mimic")]
    got = lv.rows.merge(want, on=["item", "band"], suffixes=("", "_committed"))
    diff = max(float(np.nanmax(np.abs(got[c] - got[f"{c}_committed"]) / np.maximum(np.abs(got[c]), 1e-12)))
               for c in ("mc_lo", "mc_hi")) if len(got) else math.nan  # fmt: skip
    return pd.DataFrame({"live rows": [len(lv.rows)], "committed rows": [len(want)],
                         "covered agrees": [int((got.covered == got.covered_committed).sum())],
                         "status agrees": [int((got.status == got.status_committed).sum())],
                         "largest relative band difference": [_small(diff)]})  # fmt: skip


def _small(x: float) -> str:
    """A difference as stable text: last-bit differences (below 1e-6 relative: the study ran in a
    worker process, the live run here) print as such, not as digits that vary by machine."""
    return "below 1e-6" if x < 1e-6 else f"{x:.1e}"


def _model_of(lv: Live) -> str:
    return lv.run.model if dataset(lv.run.dataset).two_arms else "pooled"


def save_table(study: pd.DataFrame) -> Path:
    """The study's rows to ``reports/tables/real_data_validation.csv``."""
    path = paths.tables_dir() / TABLE
    io.write_csv_atomic(study, path)
    return path


def by_model(study: pd.DataFrame, by: str = "kind") -> pd.DataFrame:
    """Coverage under each model side by side (pooled: as the four papers' specs; by_arm: improved)."""
    parts = {m: validate.coverage(study, by, model=m)[["numbers", "coverage", "mc_se", "mimic", "split_sd"]] for m in paper.MODELS}
    return pd.concat(parts, axis=1).round(3)


def rounded(table: pd.DataFrame) -> pd.DataFrame:
    """A summary table with shares as whole percentages (stable text)."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype.kind == "f":
            out[col] = out[col].round(3)
    return out


def figure(study: pd.DataFrame, model: str = "pooled") -> plt.Figure:
    """Coverage of held-out bands per kind (dot: all splits; thick bar: 2 Monte Carlo SEs; thin bar:
    the spread between random splits, 1 SD each side; cross: the mimic split), and where the truths
    fell within their bands (a histogram of truth percentiles: flat if the bands are calibrated)."""
    table = validate.coverage(study, model=model)
    h = validate.held_out(study, model=model)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
    y = np.arange(len(table))[::-1]
    ax.axvline(0.95, color="0.5", ls=":", lw=1)
    ax.errorbar(table.coverage, y, xerr=table.split_sd.fillna(0), fmt="none", ecolor="0.6", lw=1)
    ax.errorbar(table.coverage, y, xerr=2 * table.mc_se, fmt="o", color="tab:blue", lw=3, ms=5)
    ax.plot(table.mimic, y, "x", color="tab:red", label="mimic split")
    ax.set_yticks(y, [f"{k} ({n})" for k, n in zip(table.index, table.numbers, strict=True)])
    ax.set_xlim(0.4, 1.0)
    ax.set_xlabel("share of truths inside the held-out 95% band")
    ax.legend(loc="lower left", frameon=False)
    bx.hist(h.truth_percentile, bins=np.linspace(0, 1, 21), color="tab:blue", alpha=0.7)
    bx.axhline(len(h) / 20, color="0.5", ls=":", lw=1)
    bx.set_xlabel("truth's percentile among same-size studies")
    bx.set_ylabel("held-out numbers")
    fig.suptitle(f"Real patient data: held-out bands against the truth ({model} covariates)")
    fig.tight_layout()
    return figures.save(fig, FIGURE)


def section(study: pd.DataFrame | None = None) -> dict:
    """The report's section "How far can the held-out predictions be trusted?": ``title``,
    ``tables`` (coverage by kind and by data set under both models, the verdicts on true and false
    numbers) and ``figure`` (the PNG under reports/figures/). Reads the committed study by default."""
    study = validate.load_study() if study is None else study
    figure(study)
    two = len(band_kinds(study)) > 1
    if two:
        band_figure(study)
    plt.close("all")
    return {
        "title": "How far can the held-out predictions be trusted?",
        "tables": {
            "coverage by kind": by_model(study, "kind"),
            "coverage by data set": by_model(study, "dataset"),
            "verdicts on true and false numbers": rounded(validate.verdict_table(study)),
            **({"what each band answers": questions(study),
                "runs with each band kind": runs_by_band(study),
                "independent and conditional bands by kind": by_band(study, "kind"),
                "independent and conditional bands by data set": by_band(study, "dataset"),
                "verdicts under each band": verdicts_by_band(study)} if two else {}),
        },  # fmt: skip
        "figure": paths.figures_dir() / f"{FIGURE}.png",
        **({"figure_bands": paths.figures_dir() / f"{FIGURE_BANDS}.png"} if two else {}),
    }


# ----------------------------------------------------------------------------- the two band kinds
BAND_NAMES = {"predictive": "independent", "conditional": "conditional"}
BAND_QUESTIONS = {
    "predictive": "what would another study of this size show, were the fitted parameters exactly true?",
    "conditional": "given the other numbers printed from these patients (the split's targets), where should this one "
                   "lie? Parameter uncertainty included.",
}  # fmt: skip


def band_kinds(study: pd.DataFrame) -> list[str]:
    return [b for b in validate.BANDS if b in set(study.band)]


def questions(study: pd.DataFrame) -> pd.DataFrame:
    """One sentence per band kind in the study: the question its band answers."""
    return pd.DataFrame({"band": [BAND_NAMES[b] for b in band_kinds(study)],
                         "answers": [BAND_QUESTIONS[b] for b in band_kinds(study)]}).set_index("band")  # fmt: skip


def by_band(study: pd.DataFrame, by: str = "kind", model: str = "pooled") -> pd.DataFrame:
    """Coverage of held-out truths by each band kind side by side (per kind of number or data set):
    numbers judged, coverage with its Monte Carlo SE, misses below and above, the median band width
    (in the kind's unit: ``validate.WIDTH_UNITS``), and the median ratio of the conditional band's
    width to the independent one's for the same number (paired). Only the runs (data set, model,
    split) that have both kinds count: the conditional band was computed for fewer runs."""
    study = paired_runs(study)
    parts = {}
    for band in band_kinds(study):
        t = validate.coverage(study, by, band=band, model=model)  # per kind: with the median band width
        parts[BAND_NAMES[band]] = t[["numbers", "coverage", "mc_se", "misses_below", "misses_above",
                                     *(["band_width"] if by == "kind" else [])]]  # fmt: skip
    out = pd.concat(parts, axis=1)
    if {"predictive", "conditional"} <= set(band_kinds(study)):
        out[("paired", "width ratio")] = width_ratio(study, by, model)
    if by == "kind":
        out[("", "width unit")] = [validate.WIDTH_UNITS.get(k, "") for k in out.index]
    return out.round(3)


def paired_runs(study: pd.DataFrame) -> pd.DataFrame:
    """The rows of the runs (data set, model, split) computed with every band kind in the study."""
    keys = ["dataset", "model", "split"]
    n_kinds = study.groupby(keys)["band"].transform("nunique")
    return study[n_kinds == study["band"].nunique()]


def runs_by_band(study: pd.DataFrame) -> pd.DataFrame:
    """How many runs (data set, model, split) each band kind was computed for, per data set."""
    runs = study[["band", "dataset", "model", "split"]].drop_duplicates()
    out = runs.assign(band=runs.band.map(BAND_NAMES)).groupby(["dataset", "band"]).size().unstack(fill_value=0)
    return out.reindex([d for d in validate.DATASETS_ORDER if d in out.index])


def width_ratio(study: pd.DataFrame, by: str = "kind", model: str = "pooled") -> pd.Series:
    """Median over held-out numbers of the conditional band's width over the independent band's
    (on the natural scale: hi - lo for landmarks, log(hi / lo) for the others), per ``by`` and all."""
    keys = ["dataset", "model", "split", "item"]
    a, b = (validate.held_out(study, band, model).set_index(keys) for band in ("predictive", "conditional"))
    both = a.join(b[["mc_lo", "mc_hi"]], rsuffix="_cond", how="inner").reset_index()
    spread = [_spread(both, s, "kind") for s in ("", "_cond")]
    with np.errstate(divide="ignore", invalid="ignore"):  # an unbounded band on either side: no ratio
        ratio = both.assign(ratio=spread[1] / spread[0])
    ratio = ratio[np.isfinite(ratio.ratio) & (ratio.ratio > 0)]
    out = ratio.groupby(by).ratio.median()
    out.loc["all"] = ratio.ratio.median()
    return out


def _spread(df: pd.DataFrame, suffix: str, kind_col: str) -> np.ndarray:
    lo, hi = df[f"mc_lo{suffix}"].to_numpy(float), df[f"mc_hi{suffix}"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(df[kind_col] == "landmark", hi - lo, np.log(hi / lo))


def verdicts_by_band(study: pd.DataFrame, model: str = "pooled") -> pd.DataFrame:
    """How right the verdicts are under each band kind, per kind of number: on the true printed
    numbers how often *supported* and *contradicted* (a false alarm: every number here is true)
    and *uninformative* (a check that could hardly fail); on false numbers how often *supported*;
    and how often a *supported* is right when true and false numbers are equally common."""
    cols = {"supported": "supported (true)", "contradicted": "contradicted (true)", "uninformative": "uninformative (true)",
            "false supported": "supported (false)", "supported right (1:1)": "supported right (1:1)"}  # fmt: skip
    study = paired_runs(study)
    parts = {BAND_NAMES[b]: validate.verdict_table(study, band=b, model=model)[list(cols)].rename(columns=cols)
             for b in band_kinds(study)}  # fmt: skip
    return pd.concat(parts, axis=1).round(3)


def band_figure(study: pd.DataFrame, model: str = "pooled") -> plt.Figure:
    """Coverage (left, with 2 Monte Carlo SEs) and the paired width ratio (right, log scale) per kind
    of held-out number, for both band kinds."""
    t = by_band(study, "kind", model)
    kinds = [k for k in t.index]
    y = np.arange(len(kinds))[::-1]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    ax.axvline(0.95, color="0.5", ls=":", lw=1)
    for band, colour, dy in (("independent", "0.45", 0.12), ("conditional", "tab:blue", -0.12)):
        if band in t.columns.get_level_values(0):
            ax.errorbar(t[(band, "coverage")], y + dy, xerr=2 * t[(band, "mc_se")], fmt="o", color=colour, lw=2, ms=5, label=band)
    ax.set_yticks(y, [f"{k} ({n})" for k, n in zip(kinds, t[(t.columns[0][0], "numbers")], strict=True)])
    ax.set_xlabel("share of held-out truths inside the 95% band")
    ax.legend(loc="lower left", frameon=False)
    if ("paired", "width ratio") in t.columns:
        bx.axvline(1, color="0.5", ls=":", lw=1)
        bx.plot(t[("paired", "width ratio")], y, "s", color="tab:blue")
        bx.set_xscale("log")
        bx.set_xlabel("conditional band width / independent band width (median)")
    fig.suptitle(f"Real patient data: independent-study and conditional bands ({model} covariates)")
    fig.tight_layout()
    return figures.save(fig, FIGURE_BANDS)
