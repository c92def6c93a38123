"""Batched replicates for ``helpers.replicate.run``: simulate draws noise, analyse solves all at once.

Solving the kinetics of every patient of a chunk of replicate cohorts in one vectorised call
keeps hundreds of ZUMA-1-sized cohorts (101 patients) within the notebook's time budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import analysis, cohort


def debulk_factor(noise: dict[str, np.ndarray], s: dict[str, Any]) -> np.ndarray:
    """Burden multiplier of bridging radiotherapy: bulky patients lose ``debulk_fraction``."""
    burden_ml = s["B0_median_cells"] * np.exp(s["burden_log_sd"] * noise["burden"]) * cohort.ML_PER_CELL
    return np.where(burden_ml > s["bulky_ml"], 1 - s["debulk_fraction"], 1.0)


def make_simulate(n: int) -> Callable[[np.random.Generator], dict[str, np.ndarray]]:
    def simulate(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return cohort.draw_noise(rng, n)

    return simulate


def make_analyse(s: dict[str, Any], dean_n: int) -> Callable[[Sequence[dict]], pd.DataFrame]:
    def analyse(cohorts: Sequence[dict[str, np.ndarray]]) -> pd.DataFrame:
        sizes = [len(c["burden"]) for c in cohorts]
        noise = {k: np.concatenate([c[k] for c in cohorts]) for k in cohort.NOISE_KEYS}
        days = s["followup_days"]
        base = cohort.realise(noise, s, days=days)
        debulked = cohort.realise(noise, s, burden_factor=debulk_factor(noise, s), days=days)
        edges = np.cumsum([0, *sizes])
        rows = []
        for rep, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            one = base.iloc[a:b].reset_index(drop=True)
            alt = debulked.iloc[a:b].reset_index(drop=True)
            for r in analysis.claim_effects(one, alt, dean_n=dean_n):
                rows.append({"rep": rep, **r})
        return pd.DataFrame(rows)

    return analyse
