"""Figures of notebook 20, drawn with ``helpers.figures``: the verdict forest of the effects, the
lesion-level ORs by three methods, Kaplan–Meier by any lesion >= 5 cm, the patient-by-lesion map."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import figures
from .analysis import METHODS, SURVIVAL
from .calibration import OR_ITEMS
from .model import Cohort

EFFECTS = [*OR_ITEMS.values(), *SURVIVAL]
LABELS = {"FIG-06/or_diameter_ge5cm": "OR local failure, >= 5 cm", "FIG-07/or_suvmax_ge10": "OR local failure, SUVmax >= 10",
          "FIG-08/or_extranodal": "OR local failure, extranodal", "FIG-10/hr_pfs_any_ge5cm": "HR PFS, any lesion >= 5 cm",
          "FIG-11/hr_os_any_ge5cm": "HR OS, any lesion >= 5 cm"}  # fmt: skip


def effects_forest(table: pd.DataFrame) -> plt.Figure:
    """The printed ORs and HRs (coloured by verdict), the seeded cohort's, and the replicate bands."""
    refs = table.claim_id + "/" + table["item"]
    rows = table[refs.isin(EFFECTS)].assign(ref=refs).set_index("ref").loc[EFFECTS].reset_index()
    ax = figures.forest(rows, labels=[LABELS[r] for r in rows.ref], xlabel="ratio (log scale)",
                        title="Printed effects against same-size studies")  # fmt: skip
    fig = ax.figure
    fig.tight_layout()
    return figures.save(fig, "20_figura_effects")


def methods_forest(comparison: pd.DataFrame) -> plt.Figure:
    """One panel per method: the printed OR, the seeded cohort's OR by that method and its band."""
    fig, axes = plt.subplots(1, len(METHODS), figsize=(13, 4.0), sharex=True)
    for ax, (method, text) in zip(axes, METHODS.items(), strict=True):
        rows = comparison[comparison.method == method].reset_index(drop=True)
        figures.forest(rows, ax=ax, title=text, xlabel="odds ratio of local failure (log scale)")
        ax.get_legend().remove()
        if ax is not axes[0]:
            ax.set_yticklabels([])
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return figures.save(fig, "20_figura_methods")


def km_by_large_lesion(cohort: Cohort) -> plt.Figure:
    """PFS and OS of the survival cohort by any lesion >= 5 cm, with numbers at risk."""
    pts = cohort.patients
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (label, (t, e)) in zip(axes, {"PFS": ("pfs_time", "pfs_event"), "OS": ("os_time", "os_event")}.items(),
                                   strict=True):  # fmt: skip
        groups = {name: (pts.loc[pts.any_ge5cm == flag, t].to_numpy(), pts.loc[pts.any_ge5cm == flag, e].to_numpy())
                  for flag, name in ((1, "any lesion >= 5 cm"), (0, "all lesions < 5 cm"))}  # fmt: skip
        figures.km(ax, groups, title=f"{label}, seeded cohort ({len(pts)} patients)")
    fig.tight_layout()
    return figures.save(fig, "20_figura_km")


def lesion_map(cohort: Cohort) -> plt.Figure:
    """One row per lesion-analysis patient, one cell per pretreatment lesion: red local failure,
    green resolved; a blue cell in the last column marks a de novo failure. Recurrent first."""
    pts = cohort.patients[cohort.patients.in_lesion_analysis].copy()
    pts["order"] = -(pts.recurred * 4 + pts.local_component * 2 + pts.denovo)
    pts = pts.sort_values(["order", "n_lesions"], kind="stable")
    width = int(pts.n_lesions.max()) + 2
    grid = np.full((len(pts), width), np.nan)
    starts = np.r_[0, np.cumsum(cohort.patient["n_lesions"][: cohort.n_lesion_patients])]
    row_of = np.empty(cohort.n_lesion_patients, dtype=int)
    row_of[pts.patient.to_numpy()] = np.arange(len(pts))
    col = np.arange(cohort.lesion_patient.size) - starts[cohort.lesion_patient]
    grid[row_of[cohort.lesion_patient], col] = cohort.local_failure
    grid[row_of, -1] = np.where(cohort.patient["denovo"][: cohort.n_lesion_patients] == 1, 2, np.nan)
    fig, ax = plt.subplots(figsize=(8, 9))
    cmap = plt.matplotlib.colors.ListedColormap(["tab:green", "tab:red", "tab:blue"])
    ax.imshow(grid, aspect="auto", cmap=cmap, vmin=-0.5, vmax=2.5, interpolation="nearest")
    ax.set_xlabel("pretreatment lesions (green resolved, red local failure); last column: de novo (blue)")
    ax.set_ylabel("patients of the lesion analysis (recurrent first)")
    fig.tight_layout()
    return figures.save(fig, "20_figura_lesion_map")
