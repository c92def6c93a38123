"""The DESCAR-T figures, drawn with ``helpers.figures``: Kaplan-Meier curves of the simulated
cohort (the paper's Figures 2-5) and forest plots of the Cox models (Table 3 and the text)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import figures

GROUP_LABELS = ("D0-D30", "D31-D90", ">D90")


def km(cohort: Mapping[str, Any], name: str, xlim: float = 18.0) -> plt.Figure:
    """PFS-2 and OS-2 of the seeded cohort, overall and by failure timing, numbers at risk below."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 9))
    for col, (tk, ek, label) in enumerate((("pfs2", "pfs2_event", "PFS-2"), ("os2", "os2_event", "OS-2"))):
        figures.km(axes[0, col], {"all failures": (cohort[tk], cohort[ek])}, ci=True, xlim=xlim,
                   title=f"{label}, simulated cohort (n = {cohort[tk].size})", xlabel="months from failure")  # fmt: skip
        by_group = {g: (cohort[tk][cohort["group"] == k], cohort[ek][cohort["group"] == k])
                    for k, g in enumerate(GROUP_LABELS)}  # fmt: skip
        figures.km(axes[1, col], by_group, xlim=xlim, title=f"{label} by time to failure", xlabel="months from failure")
    fig.tight_layout()
    return figures.save(fig, name)


def forest(table: pd.DataFrame, claims: Sequence[str], name: str) -> plt.Figure:
    """Printed vs re-derived HRs with the 95% band of same-size studies, one panel per claim.

    A band reaching "not estimable" (+inf) is drawn to the panel's edge.
    """
    n_rows = int(np.ceil(len(claims) / 2))
    fig, axes = plt.subplots(n_rows, 2, figsize=(13, 4.5 * n_rows), squeeze=False)
    for ax, claim in zip(axes.ravel(), claims, strict=False):
        rows = table[(table.claim_id == claim) & (table.quantity == "HR")].reset_index(drop=True).copy()
        for col in ("mc_lo", "mc_hi", "rederived", "reported"):
            rows[col] = pd.to_numeric(rows[col], errors="coerce").clip(upper=20.0)
        figures.forest(rows, title=claim, ax=ax)
        ax.set_xlim(0.02, 20)
    for ax in axes.ravel()[len(claims):]:
        ax.set_visible(False)
    fig.tight_layout()
    return figures.save(fig, name)
