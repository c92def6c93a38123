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
    """Cumulative share of same-size studies reaching each P (log scale), one curve per printed P;
    the printed P is the dot on its curve (its height: the share reaching it), .05 dotted."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in table[table.quantity == "P"].itertuples():
        p = np.sort(draws[(draws.claim_id == r.claim_id) & (draws["item"] == r.item)]["p"].to_numpy(float))
        share = np.arange(1, p.size + 1) / p.size
        line = ax.step(np.clip(p, 1e-6, 1), share, where="post", label=f"{r.claim_id} {r.item} (P = {r.reported:g})")[0]
        ax.plot(r.reported, np.mean(p <= r.reported), "o", color=line.get_color())
    ax.axvline(0.05, color="tab:red", ls=":", lw=1)
    ax.set(xscale="log", xlim=(1e-6, 1), ylim=(0, 1), xlabel="P of a same-size study",
           ylabel="share of studies with P at most this")  # fmt: skip
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return save(fig, "jain_p_distributions")
