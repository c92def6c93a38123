"""Calibrate to a split's targets, predict the rest with bands, and compare with the patient data.

``run_split(name, split, ...)`` writes the outside study (``paper.write``) into a work folder and,
with it registered (``helpers.ledger.outside``), fits the spec's free parameters to the split's
targets (``helpers.spec.calibration``), draws same-size replicate studies, and computes the truth
by re-deriving every printed number from the patient data (``helpers.spec.analysis.rederive`` on
the real cohort: the estimator the replicates use). ``rows(run)`` gives one row per judged number
and band kind: the band, whether it covers the truth, and the project's verdict on the printed
(true) number — and on a false one, to say how often "supported" is right.

**Band kinds.** A band is the central 95% of replicate draws of the number; ``BANDS`` maps a kind
to the function drawing them: ``predictive`` (same-size studies from the calibrated parameters:
"what would another study of this size show, were the fitted parameters exactly true?") and
``conditional`` (``conditional_band``: the same patients' number given the split's printed
targets, parameter uncertainty included: "given the other numbers printed from these patients,
where should this one lie?"). Every table below groups by ``band``. A conditional band gives no
band to the targets it conditions on (``CONDITIONED``: their draws are the printed numbers).
The conditional band costs a calibration's worth of cohorts per run (gbsg2's mimic split: ~5 min
on one core), so the committed study has it for fewer runs than the independent band: pooled
covariates only, the mimic split of every data set and random splits 1-2 of the four smaller ones
(``make validate-real`` says how; ``view.by_band`` compares the two kinds on those runs only).

``study(...)`` runs every data set and split (``python -m helpers.realdata.validate``, ``make
validate-real``; ``--bands`` chooses the kinds computed, default ``predictive``, and keeps the
other kinds' rows) and
writes ``data/validation/real_data_validation.csv``; ``coverage``, ``verdict_table`` and
``section`` summarise it for the notebook and the report.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .. import io, ledger, paths, replicate, verdicts
from ..settings import Settings
from ..spec import analysis as spec_analysis
from ..spec import calibration as spec_calibration
from ..spec import model as spec_model
from ..spec import schema
from ..spec import settings as spec_settings
from . import conditional_band, paper, splits
from .datasets import cohort, dataset

COLUMNS = ["dataset", "model", "split", "band", "claim_id", "item", "quantity", "kind", "role", "printed", "truth",
           "mc_lo", "mc_median", "mc_hi", "covered", "truth_percentile", "width", "replicates", "status",
           "check_power", "false_printed", "false_status"]  # fmt: skip
KINDS = ("events", "median", "landmark", "HR univariable", "HR multivariable", "P log-rank", "P univariable",
         "P multivariable")  # fmt: skip
STUDY_CSV = paths.DATA / "validation" / "real_data_validation.csv"
DEFAULTS = {"replicates": 200, "n_random": 6, "seed": 20221208}  # the committed full study


@dataclass
class SplitRun:
    """One data set under one split: the fit, the calibrated settings, the truth and the draws."""

    dataset: str
    model: str  # paper.MODELS: covariates pooled over arms, or by arm
    split: splits.Split
    fit: dict
    settings: Settings
    truth: pd.DataFrame  # results rows re-derived from the patient data (rederived = truth)
    draws: dict[str, pd.DataFrame]  # band kind -> replicate draws (DRAW_COLUMNS)
    seconds: float


def predictive(settings: Settings, replicates: int, seed: int) -> pd.DataFrame:
    """Draws of same-size studies simulated from the calibrated parameters (the project's bands)."""
    n = len(cohort(settings.paper)["group"])
    return replicate.run(lambda r: spec_model.simulate(r, settings), lambda c: spec_analysis.analyse(c, settings),
                         seed=seed, replicates=replicates, n_jobs=1, progress=False,
                         chunk=replicate.chunk_size(n))  # fmt: skip


BANDS: dict[str, Callable[[Settings, int, int], pd.DataFrame]] = {"predictive": predictive,
                                                                  "conditional": conditional_band.draws}
CONDITIONED = ("conditional",)  # band kinds conditioned on the targets: none for the targets themselves


def run_split(name: str, split: splits.Split, *, replicates: int, seed: int, folder: Path, model: str = "pooled",
              bands: tuple[str, ...] = ("predictive",)) -> SplitRun:  # fmt: skip
    """Fit, draw and re-derive one data set under one split and model (see the module docstring)."""
    t0 = time.perf_counter()
    ds = dataset(name)
    paper.write(ds, folder, list(split.targets), split.shape_free, split.starts, model)
    with ledger.outside(ds.name, folder):
        fit = spec_calibration.calibrate(ds.name)
        s = spec_settings.load(ds.name, calibrated=fit["params"])
        # the truth: every printed number re-derived from the patient data (roles from provenance)
        truth = spec_analysis.rederive(cohort(name), s)
        printed_p = ledger.frame(ds.name)[["claim_id", "item", "p_printed"]]
        truth = truth.merge(printed_p, on=["claim_id", "item"], how="left")
        draws = {kind: BANDS[kind](s, replicates, seed) for kind in bands}
    return SplitRun(name, model, split, fit, s, truth, draws, time.perf_counter() - t0)


# ----------------------------------------------------------------------------- rows
def kind_of(item: str, quantity: str, p_of_hr: bool = False) -> str:
    if quantity == "P":
        return "P log-rank"
    if quantity == "HR":
        table = "univariable" if item.startswith("uni_") else "multivariable"
        return f"P {table}" if p_of_hr else f"HR {table}"
    return {"count": "events", "median": "median", "landmark_survival": "landmark"}.get(quantity, quantity)


def width(lo: float, hi: float, kind: str) -> float:
    """Band width on the number's natural scale: fold (hi / lo) for times, counts and ratios,
    points for percentages, decades (log10 hi / lo) for P values."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 and kind != "landmark":
        return math.inf if np.isfinite(lo) or np.isfinite(hi) else math.nan
    if kind == "landmark":
        return hi - lo
    if kind.startswith("P"):
        return math.log10(hi / lo)
    return hi / lo


def false_number(truth: float, printed: str, kind: str, truth_lo: float, truth_hi: float) -> tuple[float, str] | None:
    """A wrong printed number of the kind the verdicts' alternatives describe (``helpers.verdicts``),
    printed in the house style: a time or count 25% higher, a landmark 10 points lower (higher
    below 15%), an HR with the effect removed and a P of .50 where the data show an effect (CI or
    P excluding it); None where no such number is clearly wrong."""
    if kind in ("events", "median"):
        if not math.isfinite(truth):
            return None
        v = truth * 1.25
        return (v, f"{v:.0f}") if kind == "events" else (v, paper.fmt(v, paper.DECIMALS["time"]))
    if kind == "landmark":
        v = truth - 10 if truth >= 15 else truth + 10
        return v, paper.fmt(v, paper.DECIMALS["landmark"])
    if kind.startswith("HR") and (truth_lo > 1 or truth_hi < 1):
        return 1.0, "1.00"
    if kind.startswith("P") and truth < verdicts.SIGNIFICANCE:
        return 0.5, ".50"
    return None


def _judge(draws: np.ndarray, printed: str, value: float, quantity: str, role: str) -> tuple[str, float]:
    lo, hi, half = verdicts.printed_interval(printed, value, quantity)
    j = verdicts.judge(draws, lo, hi, quantity, half_step=half)
    return verdicts.status(role, j, True), (j.check_power if j is not None else math.nan)


def rows(run: SplitRun) -> pd.DataFrame:
    """One row per judged printed number (and per P printed with an HR) and band kind."""
    out = []
    for band, draws in run.draws.items():
        grouped = {key: g for key, g in draws.groupby(["claim_id", "item"], sort=False)}
        for r in run.truth.itertuples():
            if r.role not in ("held-out", "calibrated") or (r.claim_id, r.item) not in grouped:
                continue
            if r.claim_id.endswith(("-01", "-02")):  # Table 1 and follow-up: inputs, or set by the design
                continue
            g = grouped[(r.claim_id, r.item)]
            parts = [(r.quantity, False)] + ([("P", True)] if r.quantity == "HR" else [])
            if band in CONDITIONED and f"{r.claim_id}/{r.item}" in run.split.targets:
                parts = parts[1:]  # the target itself was conditioned on; its P was not
            for quantity, p_of_hr in parts:
                if quantity == "P":
                    x, truth, printed, value = g["p"].to_numpy(float), (r.rederived_p if p_of_hr else r.rederived), \
                        r.p_printed, r.reported_p  # fmt: skip
                else:
                    x, truth, printed, value = g["estimate"].to_numpy(float), r.rederived, r.reported_printed, r.reported
                x = x[~np.isnan(x)]
                if x.size == 0 or truth is None or (isinstance(truth, float) and np.isnan(truth)):
                    continue
                kind = kind_of(r.item, r.quantity, p_of_hr)
                lo, med, hi = replicate.band(x)
                status, power = _judge(x, printed, value, quantity, r.role)
                false = false_number(truth, printed, kind, r.rederived_lo, r.rederived_hi)
                false_status = _judge(x, false[1], false[0], quantity, r.role)[0] if false else None
                out.append({
                    "dataset": run.dataset, "model": run.model, "split": run.split.name, "band": band, "claim_id": r.claim_id,
                    "item": r.item + ("/p" if p_of_hr else ""), "quantity": quantity, "kind": kind, "role": r.role,
                    "printed": printed, "truth": truth, "mc_lo": lo, "mc_median": med, "mc_hi": hi,
                    "covered": bool(lo <= truth <= hi), "truth_percentile": _percentile(x, truth),
                    "width": width(lo, hi, kind), "replicates": int(x.size), "status": status, "check_power": power,
                    "false_printed": false[1] if false else None, "false_status": false_status,
                })  # fmt: skip
    return pd.DataFrame(out, columns=COLUMNS)


def _percentile(x: np.ndarray, truth: float) -> float:
    """Where the truth falls among the draws: mid-rank share (ties split), in [0, 1]."""
    return float((np.sum(x < truth) + 0.5 * np.sum(x == truth)) / x.size)


# ----------------------------------------------------------------------------- the study
def _task(name: str, split: splits.Split, model: str, replicates: int, seed: int,
          bands: tuple[str, ...] = ("predictive",)) -> tuple[pd.DataFrame, list[dict]]:  # fmt: skip
    """One data set under one split, in whichever process runs it (it registers its own folder):
    its rows, and one line per band kind (the fit; a conditional band's diagnostics)."""
    with tempfile.TemporaryDirectory(prefix=f"realdata-{name}-") as tmp:
        run = run_split(name, split, replicates=replicates, seed=seed, folder=Path(tmp) / name, model=model, bands=bands)
    info = {"dataset": name, "model": model, "split": split.name, "targets": len(split.targets), "shape_free": split.shape_free,
            "objective": run.fit["objective"], "evaluations": run.fit["evaluations"], "seconds": round(run.seconds, 1)}
    lines = [{**info, "band": band, **run.draws[band].attrs.get("diagnostics", {})} for band in bands]
    return rows(run), lines


def study(names: list[str] | None = None, *, replicates: int = DEFAULTS["replicates"], n_random: int = DEFAULTS["n_random"],
          seed: int = DEFAULTS["seed"], n_jobs: int = 1, models: tuple[str, ...] = paper.MODELS,
          bands: tuple[str, ...] = ("predictive",)) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Every data set under the mimic split and ``n_random`` random ones, for each model: (rows, one
    line per run and band kind). One cohort has no arms, so its models are the same and it runs
    once (pooled).

    Random splits are drawn from ``seed``; replicate studies of every run from ``seed`` too."""
    from joblib import Parallel, delayed

    tasks = [(n, s, m) for m in models for n in (names or list(DATASETS_ORDER)) if m == "pooled" or dataset(n).two_arms
             for s in splits.splits(dataset(n), n_random, seed)]  # fmt: skip
    done = Parallel(n_jobs=n_jobs)(delayed(_task)(n, s, m, replicates, seed, bands) for n, s, m in tasks)
    table = pd.concat([d[0] for d in done], ignore_index=True)
    return table, pd.DataFrame([line for d in done for line in d[1]])


def merged(old: pd.DataFrame, new: pd.DataFrame, bands: tuple[str, ...], names: list[str] | None = None) -> pd.DataFrame:
    """``old`` without the rows of ``bands`` (of the data sets ``names``, default all), then ``new``
    (rows, or run lines; lines written before band kinds were recorded count as ``predictive``)."""
    old = old if "band" in old else old.assign(band="predictive")
    replaced = old["band"].isin(bands) & (old["dataset"].isin(names) if names else True)
    return pd.concat([old[~replaced], new], ignore_index=True)


DATASETS_ORDER = ("gbsg2", "lung", "rossi", "larynx", "leukemia")


def generated_folder(name: str) -> Path:
    """Where the generated paper of a data set is committed (its mimic split), for reading and audit."""
    return STUDY_CSV.parent / name


def generate(names: list[str] | None = None) -> list[Path]:
    """Write each data set's generated paper (ledger, assumptions, spec of the mimic split; the
    by-arm model's spec beside it for two arms) into ``data/validation/<name>/`` (tests check these
    are what the generator gives)."""
    out = []
    for name in names or DATASETS_ORDER:
        ds, split = dataset(name), splits.mimic(dataset(name))
        folder = paper.write(ds, generated_folder(name), list(split.targets), split.shape_free, split.starts)
        if ds.two_arms:
            spec = paper.spec(ds, list(split.targets), split.shape_free, split.starts, "by_arm")
            schema.write(spec, folder / "spec_by_arm.yaml")
        out.append(folder)
    return out


def load_study(path: Path = STUDY_CSV) -> pd.DataFrame:
    """The committed full study (``make validate-real`` writes it)."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make validate-real` (or restore it from git)")
    return pd.read_csv(path, dtype={"printed": str, "false_printed": str})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.realdata.validate", description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", help=f"data sets (default all: {', '.join(DATASETS_ORDER)})")
    parser.add_argument("--replicates", type=int, default=DEFAULTS["replicates"])
    parser.add_argument("--random-splits", type=int, default=DEFAULTS["n_random"])
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--jobs", type=int, default=replicate.default_workers())
    parser.add_argument("--out", type=Path, default=STUDY_CSV)
    parser.add_argument("--bands", nargs="+", choices=list(BANDS), default=["predictive"],
                        help="band kinds to compute (default predictive; the conditional band costs far more: "
                             "see `make validate-real`); the others' rows are kept from --out")
    parser.add_argument("--models", nargs="+", choices=list(paper.MODELS), default=list(paper.MODELS),
                        help="covariate models to run (default all)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    bands = tuple(args.bands)
    generate(args.datasets or None)
    table, runs = study(args.datasets or None, replicates=args.replicates, n_random=args.random_splits,
                        seed=args.seed, n_jobs=args.jobs, models=tuple(args.models), bands=bands)  # fmt: skip
    runs_path = args.out.with_name(args.out.stem + "_runs.csv")
    if (set(bands) != set(BANDS) or args.datasets) and args.out.exists():  # replace only what was computed
        table = merged(load_study(args.out), table, bands, args.datasets)
        runs = merged(pd.read_csv(runs_path), runs, bands, args.datasets) if runs_path.exists() else runs
    io.write_csv_atomic(table, args.out)
    io.write_csv_atomic(runs.dropna(axis=1, how="all"), runs_path)  # a diagnostic no run reports any more
    print(runs.to_string(index=False))
    print(f"{len(table)} rows -> {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# ----------------------------------------------------------------------------- summaries
WIDTH_UNITS = {"events": "x", "median": "x", "landmark": "points", "HR univariable": "x", "HR multivariable": "x",
               "P log-rank": "decades", "P univariable": "decades", "P multivariable": "decades"}  # fmt: skip


def covered_probability(percentile: np.ndarray, replicates: np.ndarray) -> np.ndarray:
    """Chance that a band of ``replicates`` draws covers a truth at this percentile of the draws'
    distribution: the band's ends are empirical 2.5% and 97.5% quantiles, so the truth is inside
    when its empirical percentile, with SD sqrt(u (1 - u) / R), falls between them."""
    u = np.clip(np.asarray(percentile, float), 0.5 / replicates, 1 - 0.5 / replicates)
    sd = np.sqrt(u * (1 - u) / replicates)
    return stats.norm.cdf((u - verdicts.TAIL) / sd) * stats.norm.cdf((1 - verdicts.TAIL - u) / sd)


def _summary(g: pd.DataFrame) -> pd.Series:
    """Coverage of one group of held-out numbers, with its Monte Carlo SE and split-to-split SD."""
    pc = covered_probability(g.truth_percentile.to_numpy(), g.replicates.to_numpy())
    per_split = g[g.split != "mimic"].groupby(["split"]).covered.mean()
    mimic = g[g.split == "mimic"].covered
    below = ((~g.covered) & (g.truth < g.mc_lo)).sum()
    return pd.Series({
        "numbers": len(g), "coverage": g.covered.mean(),
        "mc_se": math.sqrt(float(np.sum(pc * (1 - pc)))) / len(g),
        "mimic": mimic.mean() if len(mimic) else math.nan,
        "random_splits": per_split.mean() if len(per_split) else math.nan,
        "split_sd": per_split.std(ddof=1) if len(per_split) > 1 else math.nan,
        "misses_below": int(below), "misses_above": int((~g.covered).sum() - below),
    })  # fmt: skip


def held_out(df: pd.DataFrame, band: str = "predictive", model: str = "pooled") -> pd.DataFrame:
    """Held-out rows of one band kind under one model (a cohort without arms counts under both)."""
    same = (df.model == model) | (~df.dataset.map(_two_arms) & (df.model == "pooled"))
    return df[(df.role == "held-out") & (df.band == band) & same]


def _two_arms(name: str) -> bool:
    return dataset(name).two_arms


def coverage(df: pd.DataFrame, by: str = "kind", band: str = "predictive", model: str = "pooled") -> pd.DataFrame:
    """Coverage of the truth by held-out 95% bands per ``by`` (kind or dataset), with ``mc_se`` (from
    the finite replicates: each truth's chance to fall inside a band redrawn), the mimic split's and
    the random splits' coverage and the SD of coverage between random splits, misses below and
    above the band, and (per kind) the median band width in its unit."""
    h = held_out(df, band, model)
    order = list(KINDS) if by == "kind" else list(DATASETS_ORDER)
    table = h.groupby(by).apply(_summary, include_groups=False)
    table = table.reindex([k for k in order if k in table.index])
    table.loc["all"] = _summary(h)
    if by == "kind":
        widths = h[np.isfinite(h.width)].groupby("kind").width.median()
        table["band_width"] = widths.reindex(table.index)
        table["width_unit"] = [WIDTH_UNITS.get(k, "") for k in table.index]
    return table.astype({"numbers": int, "misses_below": int, "misses_above": int})


def verdict_table(df: pd.DataFrame, band: str = "predictive", model: str = "pooled") -> pd.DataFrame:
    """The project's verdicts on held-out numbers per kind: on the true printed numbers (how often
    each status; "contradicted" on a true number is a false alarm), and on false ones (the
    verdicts' stated alternative: a 25% longer time, 10 points off, an effect removed), and how often
    "supported" is right when true and false numbers are equally common."""
    h = held_out(df, band, model)
    rows = {}
    for kind, g in [*h.groupby("kind"), ("all", h)]:
        f = g[g.false_printed.notna()]
        sup_true = (f.status == "supported").mean() if len(f) else math.nan
        sup_false = (f.false_status == "supported").mean() if len(f) else math.nan
        rows[kind] = {
            "true numbers": len(g), **{s: (g.status == s).mean() for s in verdicts.JUDGED},
            "false numbers": len(f), "false supported": sup_false,
            "false contradicted": (f.false_status == "contradicted").mean() if len(f) else math.nan,
            "supported right (1:1)": sup_true / (sup_true + sup_false) if sup_true + sup_false > 0 else math.nan,
        }  # fmt: skip
    order = [k for k in [*KINDS, "all"] if k in rows]
    return pd.DataFrame.from_dict(rows, orient="index").reindex(order)


def misses(df: pd.DataFrame, band: str = "predictive", model: str = "pooled") -> pd.DataFrame:
    """Held-out numbers whose band misses the truth, with where the truth fell."""
    h = held_out(df, band, model)
    out = h[~h.covered].assign(side=lambda d: np.where(d.truth < d.mc_lo, "below", "above"))
    return out[["dataset", "split", "item", "kind", "printed", "truth", "mc_lo", "mc_median", "mc_hi", "side"]]
