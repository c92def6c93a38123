"""Every assumption moved, the model refitted, every printed number judged again.

One-at-a-time sweep (``sweep``): each entry of ``data/assumed/<paper>.yaml`` is moved alone to
each end of its ``range`` (or to each of its ``alternatives``, for an analysis choice); at each
point the calibration is **refitted** (``calibration.calibrate(settings, start=committed fit)``:
a warm start), then same-size replicate studies are drawn and every printed number is judged as
in the notebooks. Every point uses the same replicate seeds (common random numbers), so a
difference between points is the assumption's, not the draw's. A refit that fails or does not
converge is recorded as such, with its residuals, and the sweep goes on. The most influential
assumptions are then moved together over a Latin hypercube (``joint``).

``python -m helpers.sensitivity`` (``make sensitivity``) writes ``data/sensitivity/<paper>.csv``,
``<paper>_joint.csv`` and ``infeasibility.csv`` (``helpers.infeasibility``) (committed, like a calibration: notebooks show them, ``make all``
only reads them) and ``reports/tables/sensitivity.csv``; a table is replaced only when its
sweep completed, so an interrupted sweep keeps the last complete one. The points run through
joblib: ``--backend dask`` sends them to a Dask cluster (``distributed``) instead of local
processes (see README, "Scaling out").
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from tqdm import tqdm

from . import assumptions, infeasibility, ledger, paths, replicate, results, study
from .io import write_csv_atomic

SWEEP_COLUMNS = ["paper", "assumption", "value", "is_default", "refit", "objective", "residuals", "claim_id",
                 "item", "role", "estimate", "percentile_lo", "percentile_hi", "status"]  # fmt: skip
SWEPT = paths.DATA / "sensitivity"
REPLICATES = 200  # per point: the sweep asks which assumptions move a verdict, not for 4-digit percentiles
SEED = 20221208
JOINT_ASSUMPTIONS = 3  # the most influential, moved together
JOINT_POINTS = 8


@dataclass(frozen=True)
class Point:
    """One sweep point: the assumptions moved (none for the default run) and their values."""

    moved: tuple[tuple[str, Any], ...]
    label: str = ""

    @property
    def is_default(self) -> bool:
        return not self.moved

    @property
    def assumption(self) -> str:
        return self.label or ("(default)" if self.is_default else self.moved[0][0])

    @property
    def value(self) -> str:
        if len(self.moved) == 1 and not self.label:  # one assumption: its name is in `assumption`
            return _fmt(self.moved[0][1])
        return "; ".join(f"{n}={_fmt(v)}" for n, v in self.moved)


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def points(paper: str) -> list[Point]:
    """The default run, then each assumption at each end of its range or at each alternative."""
    out = [Point(())]
    for name, a in assumptions.entries(paper).items():
        values = a.alternatives or ([] if a.range is None else [_cast(a.value, v) for v in a.range])
        out += [Point(((name, v),)) for v in values if v != a.value]
    return out


def _cast(default: Any, v: float) -> Any:
    return int(round(v)) if isinstance(default, int) and not isinstance(default, bool) else float(v)


def unswept(paper: str) -> pd.DataFrame:
    """Assumptions that cannot move, with the one-line reason each gives."""
    rows = [{"assumption": n, "value": a.value, "why it cannot move": a.fixed}
            for n, a in assumptions.entries(paper).items() if a.fixed]  # fmt: skip
    return pd.DataFrame(rows, columns=["assumption", "value", "why it cannot move"])


def reference_rows(paper: str, seed: int = SEED) -> pd.DataFrame:
    """The paper's results rows (printed values, claimed signs, roles) from one default cohort."""
    s = study.load_settings(paper)
    rng = np.random.default_rng(seed)
    cohort = study.module(paper, "model").simulate(rng, s)
    return study.module(paper, "analysis").rederive(cohort, s, rng)


def run_point(paper: str, point: Point, rows: pd.DataFrame, *, seed: int, replicates: int,
              start: dict | None) -> pd.DataFrame:  # fmt: skip
    """Refit at the point, draw replicate studies, judge every printed number."""
    head = {"paper": paper, "assumption": point.assumption, "value": point.value, "is_default": point.is_default}
    try:
        settings, refit, objective, residuals = _refit(paper, dict(point.moved), start)
    except Exception as exc:  # noqa: BLE001 - a failed point is a finding, recorded; the sweep goes on
        return pd.DataFrame([{**head, "refit": f"failed: {type(exc).__name__}: {exc}"[:300]}], columns=SWEEP_COLUMNS)
    model, analysis = study.module(paper, "model"), study.module(paper, "analysis")
    draws = replicate.run(lambda r: model.simulate(r, settings), lambda cs: analysis.analyse(cs, settings),
                          seed=seed, replicates=replicates, n_jobs=1, progress=False)  # fmt: skip
    blank = rows.assign(rederived=np.nan, rederived_lo=np.nan, rederived_hi=np.nan, rederived_p=np.nan)
    table = results.finalise(replicate.summarise(draws, blank))
    out = table.assign(**head, refit=refit, objective=objective, residuals="", estimate=table.mc_median)
    out.loc[out.index[:1], "residuals"] = residuals  # once per point (not repeated on every item's row)
    return out.reindex(columns=SWEEP_COLUMNS)


def _refit(paper: str, moved: dict, start: dict | None):
    settings = study.load_settings(paper, overrides=moved or None)
    if not study.has_calibration(paper) or start is None:
        return settings, "none", math.nan, ""
    if not moved:
        return settings, "committed", math.nan, ""
    fit = study.module(paper, "calibration").calibrate(settings, start=start)
    residuals = "; ".join(f"{t['claim_id']}/{t['item']}={t['residual']:.2f}" for t in fit["targets"])
    status = "converged" if fit.get("converged", True) else "not converged"
    return settings.with_calibrated(fit["params"]), status, float(fit["objective"]), residuals


def sweep(paper: str, *, seed: int = SEED, replicates: int = REPLICATES, n_jobs: int | None = None,
          chosen: Sequence[Point] | None = None, progress: bool = True) -> pd.DataFrame:  # fmt: skip
    """Run every point of ``paper`` (or ``chosen``); one row per point and printed item."""
    rows = reference_rows(paper, seed)
    start = dict(study.load_settings(paper).calibrated) or None
    todo = list(chosen) if chosen is not None else points(paper)
    jobs = (delayed(run_point)(paper, p, rows, seed=seed, replicates=replicates, start=start) for p in todo)
    n_jobs = replicate.default_workers() if n_jobs is None else n_jobs
    parts = []
    bar = tqdm(total=len(todo), desc=f"{paper} sweep", disable=not progress, leave=False)
    for part in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
        parts.append(part)
        bar.update(1)
    bar.close()
    return pd.concat(parts, ignore_index=True)


def influence(table: pd.DataFrame) -> pd.Series:
    """How much each assumption moves the verdicts, as a sortable score: the number of printed
    items whose status it changes, plus the largest move of a predictive percentile (as a share)."""
    key = ["claim_id", "item"]
    base = table[table.is_default].set_index(key)[["status", "percentile_lo", "percentile_hi"]]
    moved = table[~table.is_default].dropna(subset=["status"]).join(base, on=key, rsuffix="_default")
    moved = moved.assign(
        flipped=(moved.status != moved.status_default).astype(int),
        shift=((moved.percentile_lo + moved.percentile_hi) - (moved.percentile_lo_default + moved.percentile_hi_default)).abs() / 2,
    )  # fmt: skip
    per_item = moved.groupby(["assumption", *key]).agg(flipped=("flipped", "max"), shift=("shift", "max"))
    score = per_item.groupby("assumption").agg(flipped=("flipped", "sum"), shift=("shift", "max"))
    return (score.flipped + score["shift"].fillna(0)).sort_values(ascending=False)


def joint_points(paper: str, names: Sequence[str], samples: int = JOINT_POINTS, seed: int = SEED) -> list[Point]:
    """A Latin hypercube over the ranges of ``names`` (numeric assumptions), ``samples`` points."""
    from scipy.stats import qmc

    entries = assumptions.entries(paper)
    names = [n for n in names if entries[n].range is not None]
    if not names:
        return []
    unit = qmc.LatinHypercube(d=len(names), seed=seed).random(samples)
    out = []
    for k, row in enumerate(unit):
        moved = tuple((n, _cast(entries[n].value, lo + u * (hi - lo)))
                      for n, u, (lo, hi) in zip(names, row, (entries[n].range for n in names), strict=True))  # fmt: skip
        out.append(Point(moved, label=f"joint {k + 1}"))
    return out


def write(paper: str, table: pd.DataFrame, suffix: str = "") -> None:
    write_csv_atomic(table, SWEPT / f"{paper}{suffix}.csv")


# ----------------------------------------------------------------------------- reading
def path(paper: str):
    return SWEPT / f"{paper}.csv"


def load(paper: str, suffix: str = "") -> pd.DataFrame | None:
    """The committed sweep of ``paper`` (None before the first ``make sensitivity``)."""
    p = SWEPT / f"{paper}{suffix}.csv"
    return pd.read_csv(p, dtype={"value": str, "residuals": str, "refit": str}) if p.exists() else None


def changes(paper: str, claims=None) -> pd.DataFrame:
    """Per printed item: its default status, the statuses it takes across every assumption's
    range, and which assumptions change it (empty when nothing moves it)."""
    sweep_ = load(paper)
    if sweep_ is None:
        return pd.DataFrame({"note": [f"no sweep yet for {paper}: run `make sensitivity`"]})
    if claims is not None:
        sweep_ = sweep_[sweep_.claim_id.isin(list(claims))]
    sweep_ = sweep_.dropna(subset=["claim_id"])
    base = sweep_[sweep_.is_default].drop_duplicates(["claim_id", "item"]).set_index(["claim_id", "item"]).status
    rows = []
    for (cid, item), g in sweep_.groupby(["claim_id", "item"], sort=False):
        default = base.get((cid, item), "")
        moved = sorted({a for a, s in zip(g.assumption, g.status, strict=True) if s != default})
        rows.append({"claim_id": cid, "item": item, "at the sweep's defaults": default,
                     "statuses across the sweep": ", ".join(sorted(set(g.status.dropna()))),
                     "changed by": ", ".join(moved)})  # fmt: skip
    return pd.DataFrame(rows)


def joint_changes(paper: str, claims=None) -> pd.DataFrame:
    """The most influential assumptions moved together (the Latin-hypercube points): per judged
    item, its default status, how many joint points give each status, and the range of its
    predictive percentile across them (in %)."""
    joint, single = load(paper, "_joint"), load(paper)
    if joint is None or single is None:
        return pd.DataFrame({"note": [f"no sweep yet for {paper}: run `make sensitivity`"]})
    key = ["claim_id", "item"]
    base = single[single.is_default].drop_duplicates(key).set_index(key).status
    joint = joint.dropna(subset=["percentile_lo"])
    if claims is not None:
        joint = joint[joint.claim_id.isin(list(claims))]
    moved = ", ".join(sorted({n.split("=")[0] for v in joint.value.dropna() for n in v.split("; ")}))
    rows = []
    for (cid, item), g in joint.groupby(key, sort=False):
        pct = 50 * (g.percentile_lo + g.percentile_hi)
        counts = g.status.value_counts()
        rows.append({"claim_id": cid, "item": item, "status": base.get((cid, item), ""),
                     "joint points": ", ".join(f"{s} {counts[s]}" for s in counts.index),
                     "percentile range": f"{pct.min():.1f}-{pct.max():.1f}"})  # fmt: skip
    return pd.DataFrame(rows).assign(moved=moved) if rows else pd.DataFrame(columns=[*key, "status"])


def failed_points(paper: str) -> pd.DataFrame:
    """Sweep points whose refit failed or did not converge, with their residuals."""
    sweep_ = load(paper)
    if sweep_ is None:
        return pd.DataFrame()
    bad = sweep_[~sweep_.refit.isin(["converged", "committed", "none"])]
    if bad.empty:
        return pd.DataFrame({"note": ["every refit of the sweep converged"]})
    out = bad.drop_duplicates(["assumption", "value"])[["assumption", "value", "refit", "objective", "residuals"]]
    return out.assign(objective=out.objective.round(3)).reset_index(drop=True)


def tornado(paper: str, claims=None, top: int = 10):
    """For the items of ``claims``: how far each assumption moves the printed value's predictive
    percentile (bar from its lowest to its highest across the assumption's range or choices);
    the default run's percentile is the black line. A bar crossing the red 2.5% or 97.5% lines is
    an assumption that can flip the verdict."""
    sweep_ = load(paper)
    if sweep_ is None:
        print(f"no sweep yet for {paper}: run `make sensitivity`")
        return None
    sweep_ = sweep_.dropna(subset=["percentile_lo"])
    if claims is not None:
        sweep_ = sweep_[sweep_.claim_id.isin(list(claims)) | sweep_.item.isin(list(claims))]
    sweep_ = sweep_.assign(pct=50 * (sweep_.percentile_lo + sweep_.percentile_hi),
                           ref=sweep_.claim_id + " " + sweep_["item"])  # fmt: skip
    refs = list(dict.fromkeys(sweep_.ref))[:8]
    if not refs:
        return None
    span = sweep_.groupby(["ref", "assumption"]).pct.agg(["min", "max"])
    span["width"] = span["max"] - span["min"]
    ncol = min(len(refs), 4)
    nrow = math.ceil(len(refs) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, (0.28 * top + 1.4) * nrow), squeeze=False)
    for ax, ref in zip(axes.ravel(), refs, strict=False):
        s = span.loc[ref].drop(index="(default)", errors="ignore").sort_values("width").tail(top)
        y = np.arange(len(s))
        ax.hlines(y, s["min"], s["max"], lw=6, color="tab:blue", alpha=0.6)
        default = sweep_[(sweep_.ref == ref) & sweep_.is_default].pct
        if len(default):
            ax.axvline(float(default.iloc[0]), color="k", lw=0.8)
        for edge in (2.5, 97.5):
            ax.axvline(edge, color="tab:red", lw=0.8, ls=":")
        ax.set_yticks(y, s.index, fontsize=7)
        ax.set_xlim(0, 100)
        ax.set_title(ref, fontsize=8)
        ax.set_xlabel("predictive percentile of the printed value (%)", fontsize=7)
    for ax in axes.ravel()[len(refs):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.sensitivity", description=__doc__.split("\n\n")[0])
    parser.add_argument("papers", nargs="*", help="papers to sweep (default: every paper with assumptions)")
    parser.add_argument("--replicates", type=int, default=REPLICATES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--no-conflicts", action="store_true", help="skip the leave-one-target-out refits")
    parser.add_argument("--backend", choices=["loky", "dask"], default="loky",
                        help="dask: run the points on a Dask cluster (DASK_SCHEDULER_ADDRESS, or a local one)")
    args = parser.parse_args(argv)
    papers = args.papers or [p for p in ledger.PAPERS if (paths.ASSUMED / f"{p}.yaml").exists()]
    with _backend(args.backend, args.workers):
        tables = []
        for paper in papers:
            t0 = time.time()
            table = sweep(paper, seed=args.seed, replicates=args.replicates, n_jobs=args.workers)
            top = [n for n in influence(table).index if n != "(default)"][:JOINT_ASSUMPTIONS]
            joint = sweep(paper, seed=args.seed, replicates=args.replicates, n_jobs=args.workers,
                          chosen=joint_points(paper, top))  # fmt: skip
            write(paper, table)
            write(paper, joint, "_joint")
            tables.append(table)
            print(f"{paper}: {table.drop_duplicates(['assumption', 'value']).shape[0]} points "
                  f"+ {len(joint_points(paper, top))} joint, {time.time() - t0:.0f} s")  # fmt: skip
        write_csv_atomic(pd.concat(tables, ignore_index=True), paths.tables_dir() / "sensitivity.csv")
        if not args.no_conflicts:
            t0 = time.time()
            conflicts = infeasibility.table(papers)
            kept = infeasibility.load()  # a sweep of some papers keeps the other papers' rows
            if args.papers and kept is not None:
                conflicts = pd.concat([kept[~kept.paper.isin(papers)], conflicts], ignore_index=True)
            infeasibility.write(conflicts)
            print(f"numbers that cannot all be true: {time.time() - t0:.0f} s")
    return 0


class _backend:
    """joblib's backend for the sweep: local processes, or a Dask cluster (``distributed``)."""

    def __init__(self, name: str, workers: int | None):
        self.name, self.workers, self.client, self.config = name, workers, None, None

    def __enter__(self):
        if self.name == "dask":
            import os

            from dask.distributed import Client, LocalCluster

            address = os.environ.get("DASK_SCHEDULER_ADDRESS")
            self.client = Client(address) if address else Client(LocalCluster(n_workers=self.workers or 2,
                                                                               threads_per_worker=1))  # fmt: skip
            self.config = parallel_config(backend="dask")
            self.config.__enter__()
        return self

    def __exit__(self, *exc):
        if self.config is not None:
            self.config.__exit__(*exc)
        if self.client is not None:
            self.client.close()
        return False


if __name__ == "__main__":
    sys.exit(main())
