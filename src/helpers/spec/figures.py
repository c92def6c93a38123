"""Figures of a spec paper, drawn with ``helpers.figures``: survival curves and ratio forest plots."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .. import figures
from .plan import load as load_plan
from .schema import TimeEndpoint


def survival(paper: str, cohort: dict, name: str | None = None):
    """Kaplan–Meier curves of every time endpoint of one cohort (by group when there are several),
    with numbers at risk; saved as ``reports/figures/<name or paper_survival>.png``. None if the
    spec has no time endpoint (or is a draft)."""
    spec = load_plan(paper).spec
    endpoints = [n for n, ep in spec.endpoints.items() if isinstance(ep, TimeEndpoint)]
    if spec.is_draft or not endpoints:
        return None
    fig, axes = plt.subplots(1, len(endpoints), figsize=(5.5 * len(endpoints), 4.2), squeeze=False)
    for ax, ep in zip(axes[0], endpoints, strict=True):
        t, e = cohort[f"{ep}_time"], cohort[f"{ep}_event"]
        groups = {g: (t[cohort["group"] == k], e[cohort["group"] == k]) for k, g in enumerate(spec.group_names())}
        figures.km(ax, groups, title=f"{ep} (one simulated cohort)", xlabel=spec.time_unit)
    fig.tight_layout()
    return figures.save(fig, name or f"{paper}_survival")


def ratios(paper: str, table: pd.DataFrame, name: str | None = None):
    """Forest plot of the paper's HR and OR rows: printed, re-derived, band of same-size studies."""
    rows = table[table.quantity.isin(["HR", "OR"]) & table.reported.notna()]
    if rows.empty:
        return None
    ax = figures.forest(rows, labels=list(rows.claim_id + " " + rows["item"]), title=f"{paper}: ratios",
                        xlabel="hazard or odds ratio (log scale)")  # fmt: skip
    ax.figure.tight_layout()
    return figures.save(ax.figure, name or f"{paper}_ratios")
