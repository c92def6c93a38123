"""Figures of the Jain re-derivation; each returns its figure, saved by ``helpers.figures.save``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..figures import save

MARKER_LABELS = {
    "mtv": "MTV (mL)", "ifn_score": "IFN score", "pdl1_pct": "PD-L1+ tumor %",
    "mhc2_pct": "MHC-II+ tumor %", "macrophage_pct": "macrophage %", "tcell_score": "T-cell score",
    "mmdsc_pct": "M-MDSC % live", "peak_cart": "peak CAR T /uL", "ferritin": "ferritin ng/mL",
    "crp": "CRP mg/L", "il6": "IL-6 pg/mL", "il15": "IL-15 pg/mL", "tnfa": "TNF-a pg/mL",
    "ang_ratio": "ANG2/ANG1",
}  # fmt: skip


def expansion_vs_mmdsc(cohort: pd.DataFrame) -> plt.Figure:
    """Peak CAR T against baseline M-MDSC in one cohort, DR and NDR, the M-MDSC median dotted."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for durable, label in ((1.0, "DR"), (0.0, "NDR")):
        d = cohort[cohort.durable == durable]
        ax.scatter(d["mmdsc_pct"], d["peak_cart"], s=14, label=label)
    ax.set(xscale="log", yscale="log", xlabel=MARKER_LABELS["mmdsc_pct"], ylabel=MARKER_LABELS["peak_cart"])
    ax.axvline(cohort["mmdsc_pct"].median(), color="grey", ls=":", lw=1)
    ax.legend()
    fig.tight_layout()
    return save(fig, "jain_expansion_vs_mmdsc")


def p_distributions(draws: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """Replicate P values (log scale) of each printed P, the printed P and .05 marked."""
    printed = table[table.quantity == "P"]
    fig, axes = plt.subplots(1, len(printed), figsize=(3 * len(printed), 3), sharey=True, squeeze=False)
    bins = np.linspace(-6, 0, 31)
    for ax, r in zip(axes[0], printed.itertuples(), strict=True):
        p = draws[(draws.claim_id == r.claim_id) & (draws["item"] == r.item)]["p"].to_numpy(float)
        ax.hist(np.log10(np.clip(p, 1e-6, 1)), bins=bins, color="tab:blue", alpha=0.7)
        ax.axvline(np.log10(r.reported), color="k", lw=2, label="printed P")
        ax.axvline(np.log10(0.05), color="tab:red", ls="--", lw=1, label="0.05")
        ax.set_title(f"{r.claim_id} {r.item}", fontsize=8)
        ax.set_xlabel("log10 P")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return save(fig, "jain_p_distributions")
