"""Figures of notebook 20: lesion-level forest plot, KM by any lesion >= 5 cm, patient-by-lesion map."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.plotting import add_at_risk_counts

from .. import paths

COLORS = {"printed": "black", "gee": "tab:blue", "naive": "tab:orange", "mixed": "tab:green"}


def save(fig, name: str) -> None:
    fig.savefig(paths.figures_dir() / f"{name}.png", dpi=100, bbox_inches="tight")


def forest(table: pd.DataFrame, bands: pd.DataFrame):
    """Printed OR (black) beside GEE, naive and mixed ORs with 95% CI; grey bars: replicate bands."""
    fig, ax = plt.subplots(figsize=(7, 4))
    feats = list(dict.fromkeys(table.feature))
    offsets = {"printed": -0.3, "gee": -0.1, "naive": 0.1, "mixed": 0.3}
    for i, f in enumerate(feats):
        for _, r in table[table.feature == f].iterrows():
            y = i + offsets[r.method]
            ax.errorbar(r.odds_ratio, y, xerr=[[r.odds_ratio - r.lo], [r.hi - r.odds_ratio]], fmt="o",
                        color=COLORS[r.method], capsize=3, label=r.method if i == 0 else None)  # fmt: skip
        for _, b in bands[bands.feature == f].iterrows():
            y = i + offsets[b.method]
            ax.plot([b.mc_lo, b.mc_hi], [y, y], color="grey", lw=6, alpha=0.3, solid_capstyle="butt")
    ax.axvline(1, color="grey", ls=":")
    ax.set_xscale("log")
    ax.set_yticks(range(len(feats)), feats)
    ax.invert_yaxis()
    ax.set_xlabel("odds ratio of local failure (log scale); grey: 95% band of replicate estimates")
    ax.legend(loc="lower right", fontsize=8)
    save(fig, "20_figura_forest")
    return fig


def km_by_large_lesion(patients: pd.DataFrame):
    """PFS and OS by any lesion >= 5 cm, with numbers at risk."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (label, t, e) in zip(axes, [("PFS", "pfs_time", "pfs_event"), ("OS", "os_time", "os_event")], strict=True):
        fits = []
        for flag, name in ((1, "any lesion >= 5 cm"), (0, "all lesions < 5 cm")):
            sub = patients[patients.any_ge5cm == flag]
            kmf = KaplanMeierFitter(label=name).fit(sub[t], sub[e])
            kmf.plot_survival_function(ax=ax, ci_show=False)
            fits.append(kmf)
        add_at_risk_counts(*fits, ax=ax, rows_to_show=["At risk"])
        ax.set_xlabel("months")
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.02)
    fig.tight_layout()
    save(fig, "20_figura_km")
    return fig


def lesion_map(lesions: pd.DataFrame, patients: pd.DataFrame):
    """One row per patient, one cell per pretreatment lesion: red local failure, green resolved;
    a blue square in the last column marks a de novo failure. Patients sorted by pattern."""
    pts = patients[patients.in_lesion_analysis].copy()
    pts["order"] = -(pts.recurred * 4 + pts.local_component * 2 + pts.denovo)
    pts = pts.sort_values(["order", "n_lesions"], kind="stable")
    width = int(pts.n_lesions.max()) + 2
    grid = np.full((len(pts), width), np.nan)
    les = lesions.groupby("patient").local_failure.apply(list)
    for row, (pid, dn) in enumerate(zip(pts.patient, pts.denovo, strict=True)):
        vals = les[pid]
        grid[row, : len(vals)] = vals
        grid[row, -1] = 2 if dn else np.nan
    fig, ax = plt.subplots(figsize=(8, 9))
    cmap = plt.matplotlib.colors.ListedColormap(["tab:green", "tab:red", "tab:blue"])
    ax.imshow(grid, aspect="auto", cmap=cmap, vmin=-0.5, vmax=2.5, interpolation="nearest")
    ax.set_xlabel("pretreatment lesions (green resolved, red local failure); last column: de novo (blue)")
    ax.set_ylabel("patients (recurrent first)")
    save(fig, "20_figura_lesion_map")
    return fig
