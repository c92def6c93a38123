"""Every assumption moved, the model refitted, every printed number judged again.

``make sensitivity`` runs ``sweep`` for every paper and writes ``data/sensitivity/<paper>.csv``
(committed, like a calibration: the notebooks show it, ``make all`` only reads it) and
``reports/tables/sensitivity.csv``; ``tornado`` draws which assumptions move which verdicts.

Columns of a sweep table: ``SWEEP_COLUMNS`` (one row per assumption value and printed item).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import paths

SWEEP_COLUMNS = ["paper", "assumption", "value", "is_default", "refit", "objective", "claim_id", "item",
                 "role", "estimate", "percentile_lo", "percentile_hi", "status"]  # fmt: skip
SWEPT = paths.DATA / "sensitivity"


def path(paper: str):
    return SWEPT / f"{paper}.csv"


def load(paper: str) -> pd.DataFrame | None:
    """The committed sweep of ``paper`` (None before the first ``make sensitivity``)."""
    p = path(paper)
    return pd.read_csv(p, dtype={"value": str}) if p.exists() else None


def changes(paper: str, claims=None) -> pd.DataFrame:
    """Per printed item: the statuses it takes across every assumption's range, and which
    assumptions change it (empty when nothing moves it)."""
    sweep = load(paper)
    if sweep is None:
        return pd.DataFrame({"note": [f"no sweep yet for {paper}: run `make sensitivity`"]})
    if claims is not None:
        sweep = sweep[sweep.claim_id.isin(list(claims))]
    base = sweep[sweep.is_default].drop_duplicates(["claim_id", "item"]).set_index(["claim_id", "item"]).status
    rows = []
    for (cid, item), g in sweep.groupby(["claim_id", "item"], sort=False):
        default = base.get((cid, item), "")
        moved = sorted({a for a, s in zip(g.assumption, g.status, strict=True) if s != default})
        rows.append({"claim_id": cid, "item": item, "status": default,
                     "statuses across sweep": ", ".join(sorted(set(g.status))),
                     "changed by": ", ".join(moved)})  # fmt: skip
    return pd.DataFrame(rows)


def tornado(paper: str, claims=None, top: int = 12):
    """For the items of ``claims``: how far each assumption moves the printed value's predictive
    percentile (bar from lowest to highest across the assumption's range); the default run's
    percentile is the dot. A bar crossing 2.5% or 97.5% is an assumption that can flip a verdict."""
    sweep = load(paper)
    if sweep is None:
        print(f"no sweep yet for {paper}: run `make sensitivity`")
        return None
    if claims is not None:
        sweep = sweep[sweep.claim_id.isin(list(claims))]
    sweep = sweep.assign(pct=100 * (sweep.percentile_lo + sweep.percentile_hi) / 2, ref=sweep.claim_id + " " + sweep["item"])
    span = sweep.groupby(["ref", "assumption"]).pct.agg(["min", "max"])
    span["width"] = span["max"] - span["min"]
    refs = list(dict.fromkeys(sweep.ref))
    fig, axes = plt.subplots(1, len(refs), figsize=(3.2 * len(refs), 0.3 * top + 1.5), sharex=True, squeeze=False)
    for ax, ref in zip(axes[0], refs, strict=True):
        s = span.loc[ref].sort_values("width").tail(top)
        y = np.arange(len(s))
        ax.hlines(y, s["min"], s["max"], lw=6, color="tab:blue", alpha=0.6)
        default = sweep[(sweep.ref == ref) & sweep.is_default].pct
        if len(default):
            ax.axvline(float(default.iloc[0]), color="k", lw=0.8)
        for edge in (2.5, 97.5):
            ax.axvline(edge, color="tab:red", lw=0.8, ls=":")
        ax.set_yticks(y, s.index, fontsize=7)
        ax.set(xlim=(0, 100), title=ref, xlabel="predictive percentile of the printed value (%)")
    fig.tight_layout()
    return fig
