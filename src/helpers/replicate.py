"""The replication engine: how much would each re-derived number vary between same-size studies?

A paper supplies two functions:

- ``simulate(rng) -> cohort``: one cohort at the study's own size, all randomness from ``rng``;
- ``analyse(cohorts) -> DataFrame``: a *batch* of cohorts -> long rows with columns
  ``rep`` (0-based index within the batch), ``claim_id``, ``item``, ``estimate`` and, where
  the item has them, ``lo``, ``hi``, ``p`` and ``effect`` (the effect behind a bare P value, on
  its additive scale, for the winner's-curse view). A median not reached is ``+inf``. Batching lets the numpy kernels in
  ``helpers.kernels`` fit all cohorts of a chunk at once.

``run`` draws ``replicates`` cohorts, each from its own generator spawned from the notebook's
seed (``numpy.random.SeedSequence``), in fixed-size chunks; chunks are spread over worker
processes with joblib. Because the chunking does not depend on the worker count and each
replicate has its own stream, the draws are identical serial or parallel.
``summarise`` turns the draws into the Monte Carlo columns of the results rows.

Large cohorts: a notebook that scales its cohort (a sample-size multiplier k, so the simulator
draws n×k patients) should pass ``chunk=replicate.chunk_size(n * k)``: the batched kernels hold
arrays of size chunk × n × covariates², and ``chunk_size`` keeps that bounded. The chunk size
changes only how cohorts are grouped for ``analyse`` — every replicate keeps its own random
stream — so the draws do not depend on it, nor on the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm  # plain text bar: tqdm.auto warns without ipywidgets

from . import tokens, verdicts
from .params import check_positive, check_replicates, check_seed
from .results import NULL_VALUE
from .results import frame as results_frame

CHUNK = 50  # replicates per batch: large enough to amortise numpy overhead, small for memory
CHUNK_PATIENTS = 50 * 250  # patients per batch (replicates × cohort size) that CHUNK was tuned for
DRAW_COLUMNS = ["rep", "claim_id", "item", "estimate", "lo", "hi", "p", "effect"]

Simulate = Callable[[np.random.Generator], Any]
Analyse = Callable[[Sequence[Any]], pd.DataFrame]


def replicate_generators(seed: int, replicates: int) -> list[np.random.Generator]:
    """One independent generator per replicate, spawned from the seed."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(replicates)]


def chunk_size(n_patients: int) -> int:
    """Replicates per batch for cohorts of ``n_patients``: CHUNK up to ~250 patients, fewer above."""
    return int(max(1, min(CHUNK, CHUNK_PATIENTS // max(int(n_patients), 1))))


def _run_chunk(simulate: Simulate, analyse: Analyse, seeds: list[np.random.SeedSequence],
               first: int) -> pd.DataFrame:  # fmt: skip
    cohorts = [simulate(np.random.default_rng(s)) for s in seeds]
    draws = analyse(cohorts)
    missing = [c for c in ("rep", "claim_id", "item", "estimate") if c not in draws]
    if missing:
        raise ValueError(f"analyse() must return columns rep, claim_id, item, estimate; lacks {missing}")
    draws = draws.reindex(columns=DRAW_COLUMNS)
    draws["rep"] = draws["rep"].astype(int) + first
    return draws


def default_workers() -> int:
    """Worker processes: CART_WORKERS if set, else the machine's cores (at most 2 here)."""
    return int(os.environ.get("CART_WORKERS", min(os.cpu_count() or 1, 4)))


def run(simulate: Simulate, analyse: Analyse, *, seed: int, replicates: int,
        n_jobs: int | None = None, progress: bool | None = None, desc: str = "replicates",
        chunk: int = CHUNK) -> pd.DataFrame:  # fmt: skip
    """Draw ``replicates`` cohorts and analyse them; returns long draws (see module docstring).

    ``chunk``: replicates per ``analyse`` call (see ``chunk_size`` for large cohorts).
    """
    check_seed(seed)
    check_replicates(replicates)
    check_positive("chunk", chunk, integer=True)
    seeds = np.random.SeedSequence(seed).spawn(replicates)
    chunks = [(seeds[i : i + chunk], i) for i in range(0, replicates, chunk)]
    n_jobs = default_workers() if n_jobs is None else n_jobs
    if progress is None:  # on for people; off for stored runs (runner, nbval set CART_NO_PROGRESS=1)
        progress = os.environ.get("CART_NO_PROGRESS") != "1"
    bar = tqdm(total=replicates, desc=desc, disable=not progress, mininterval=0.5, leave=False)
    parts = []
    if n_jobs == 1 or len(chunks) == 1:
        for part_seeds, first in chunks:
            parts.append(_run_chunk(simulate, analyse, part_seeds, first))
            bar.update(len(part_seeds))
    else:
        jobs = (delayed(_run_chunk)(simulate, analyse, c, f) for c, f in chunks)
        for (part_seeds, _), part in zip(
            chunks, Parallel(n_jobs=n_jobs, return_as="generator")(jobs), strict=True
        ):
            parts.append(part)
            bar.update(len(part_seeds))
    bar.close()
    return pd.concat(parts, ignore_index=True).sort_values(["claim_id", "item", "rep"], kind="stable")


def converge(simulate_at: Callable[[np.random.Generator, int], Any], analyse: Analyse, *, seed: int,
             multipliers: Sequence[int] = (1, 4, 16)) -> pd.DataFrame:  # fmt: skip
    """Large-n mode: one cohort of n × k patients for each k, analysed like the replicates.

    ``simulate_at(rng, k)`` draws a cohort k times the study's size. Returns one row per item and
    one column per k: as k grows each estimate settles on the model's population value, which is
    where a calibration is checked (sampling noise at the study's own n hides it).
    """
    check_seed(seed)
    parts = []
    for k, ss in zip(multipliers, np.random.SeedSequence(seed).spawn(len(multipliers)), strict=True):
        check_positive("multiplier", k, integer=True)
        draws = analyse([simulate_at(np.random.default_rng(ss), k)])
        parts.append(draws.assign(k=k))
    wide = pd.concat(parts).pivot_table(index=["claim_id", "item"], columns="k", values="estimate", aggfunc="first")
    wide.columns = [f"n x {k}" for k in wide.columns]
    return wide


def band(est: np.ndarray, level: float = verdicts.LEVEL) -> tuple[float, float, float]:
    """2.5th, 50th and 97.5th percentiles of replicate estimates (order statistics: +inf, i.e.
    "not reached", stays a value, never dropped or interpolated into NaN)."""
    q = (1 - level) / 2
    lo, med, hi = np.quantile(est, [q, 0.5, 1 - q], method="inverted_cdf")
    return float(lo), float(med), float(hi)


def summarise(draws: pd.DataFrame, results: pd.DataFrame, alpha: float = verdicts.SIGNIFICANCE,
              level: float = verdicts.LEVEL) -> pd.DataFrame:  # fmt: skip
    """Fill the Monte Carlo and verdict columns of ``results`` from the replicate ``draws``.

    - ``mc_lo, mc_median, mc_hi``: 2.5th, 50th and 97.5th percentiles of the estimate;
    - ``within_band``: the printed value, with its rounding interval, meets that band;
    - ``percentile_lo/hi/mcse, alternative, check_power, band_position``: the verdict's numbers
      (``helpers.verdicts``): where the printed value falls among same-size studies, and the
      chance the check had of flagging it under the stated alternative;
    - ``power``: share of replicates with P < ``alpha`` (a same-size study reaching significance);
    - ``p_reach``: share of replicates with P at most the printed P (where a P is printed);
    - ``exaggeration``: for a printed significant result, how much a significant same-size study
      overstates the model's effect (``verdicts.exaggeration``);
    - ``ci_excludes_null``: share of replicates whose CI excludes the null (1 for ratios).
    Items with no draws keep empty Monte Carlo columns.
    """
    if not isinstance(results, pd.DataFrame):  # a list of rows from results.row / from_ledger
        results = results_frame(results)
    draws = draws.reindex(columns=DRAW_COLUMNS)  # lo, hi, p, effect are optional in hand-made draws
    out = results.copy().reset_index(drop=True)
    for col in _VERDICT_COLUMNS:
        if col not in out:
            out[col] = None
    grouped = {key: g for key, g in draws.groupby(["claim_id", "item"], sort=False)}
    for i, r in out.iterrows():
        g = grouped.get((r["claim_id"], r["item"]))  # r.item would be Series.item
        if g is None:
            continue
        est = g["estimate"].to_numpy(float)
        est = est[~np.isnan(est)]
        if est.size == 0:
            continue
        pvals = g["p"].to_numpy(float)
        out.loc[i, ["mc_lo", "mc_median", "mc_hi"]] = band(est, level)
        if r["quantity"] != "qualitative" and not _missing(r["reported"]):
            p_lo, p_hi, _ = verdicts.printed_interval(r.get("reported_printed"), r["reported"], r["quantity"])
            mc_lo, mc_hi = out.loc[i, "mc_lo"], out.loc[i, "mc_hi"]
            out.loc[i, "within_band"] = bool(p_lo <= mc_hi and mc_lo <= p_hi)
        if np.isfinite(pvals).any():
            out.loc[i, "power"] = float(np.mean(np.nan_to_num(pvals, nan=1.0) < alpha))
            if not _missing(r["reported_p"]):
                out.loc[i, "p_reach"] = float(np.mean(np.nan_to_num(pvals, nan=1.0) <= r["reported_p"]))
        null = NULL_VALUE.get(r["quantity"])
        if null is not None and g["lo"].notna().any():
            excl = (g["lo"].to_numpy(float) > null) | (g["hi"].to_numpy(float) < null)
            out.loc[i, "ci_excludes_null"] = float(np.mean(excl))
        _judge(out, i, r, g, alpha)
    for col in _NUMERIC_VERDICT_COLUMNS:  # None-initialised columns would stay object dtype
        out[col] = pd.to_numeric(out[col], errors="coerce")
    return out


_NUMERIC_VERDICT_COLUMNS = ("mc_lo", "mc_median", "mc_hi", "percentile_lo", "percentile_hi", "percentile_mcse",
                            "check_power", "power", "p_reach", "exaggeration", "ci_excludes_null")  # fmt: skip
_VERDICT_COLUMNS = ("percentile_lo", "percentile_hi", "percentile_mcse", "alternative", "check_power",
                    "band_position", "p_reach", "exaggeration")  # fmt: skip


def _judge(out: pd.DataFrame, i: int, r: pd.Series, g: pd.DataFrame, alpha: float) -> None:
    """The verdict columns of row ``i`` (see ``helpers.verdicts``)."""
    quantity = r["quantity"]
    est, pvals = g["estimate"].to_numpy(float), g["p"].to_numpy(float)
    if quantity == "qualitative":
        if _missing(r["reported"]):
            return
        # the printed outcome: the claimed sign, and significance where the source claims it
        claims_sig = not _missing(r["reported_p"])
        seen = np.sign(est) == np.sign(r["reported"])
        if claims_sig:
            seen &= np.nan_to_num(pvals, nan=1.0) < r["reported_p"]
        judged = np.where(np.isnan(est), np.nan, seen.astype(float))
        j = verdicts.judge(judged, 1.0, 1.0, quantity, outcome_null=alpha / 2 if claims_sig else 0.5)
    else:
        if _missing(r["reported"]) and not _is_nr(r.get("reported_printed")):
            return
        judged = pvals if quantity == "P" and np.isfinite(pvals).any() else est
        lo, hi, half = verdicts.printed_interval(r.get("reported_printed"), r["reported"], quantity)
        j = verdicts.judge(judged, lo, hi, quantity, half_step=half)
    if j is None:
        return
    position = ("below" if j.percentile_hi < verdicts.TAIL else "above") if j.flagged else \
        "edge" if j.borderline else "inside"  # fmt: skip
    out.loc[i, ["percentile_lo", "percentile_hi", "percentile_mcse", "check_power"]] = [
        j.percentile_lo, j.percentile_hi, j.percentile_mcse, j.check_power]
    out.loc[i, ["alternative", "band_position"]] = [j.alternative, position]
    if _significant(r):
        effects = g["effect"].to_numpy(float) if g["effect"].notna().any() else _effect_scale(est, quantity)
        if effects is not None:
            out.loc[i, "exaggeration"] = verdicts.exaggeration(effects, pvals, alpha)


def _effect_scale(est: np.ndarray, quantity: str) -> np.ndarray | None:
    """Estimates on their additive effect scale (log ratio, difference), or None if not an effect."""
    if quantity in ("HR", "OR", "fold_change"):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(est)
    if quantity in ("difference", "correlation"):
        return est
    if quantity == "AUC":
        return est - 0.5
    return None


def _significant(r: pd.Series) -> bool:
    """Does the paper print this result as significant (P < .05 or a CI excluding the null)?"""
    p = r["reported_p"]
    if not _missing(p) and p < verdicts.SIGNIFICANCE + 1e-12:
        return True
    null = NULL_VALUE.get(r["quantity"])
    lo, hi = r["reported_lo"], r["reported_hi"]
    return null is not None and not _missing(lo) and not _missing(hi) and (lo > null or hi < null)


def _is_nr(printed) -> bool:
    tok = tokens.parse(printed) if isinstance(printed, str) else None
    return tok is not None and tok.status == "not_reached"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x))
