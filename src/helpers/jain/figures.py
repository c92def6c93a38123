"""Figures of the Jain re-derivation; each returns its figure and saves a PNG (dpi 100)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import paths

MARKER_LABELS = {
    "mtv": "MTV (mL)", "ifn_score": "IFN score", "pdl1_pct": "PD-L1+ tumor %",
    "mhc2_pct": "MHC-II+ tumor %", "macrophage_pct": "macrophage %", "tcell_score": "T-cell score",
    "mmdsc_pct": "M-MDSC % live", "peak_cart": "peak CAR T /uL", "ferritin": "ferritin ng/mL",
    "crp": "CRP mg/L", "il6": "IL-6 pg/mL", "il15": "IL-15 pg/mL", "tnfa": "TNF-a pg/mL",
    "ang_ratio": "ANG2/ANG1",
}  # fmt: skip
LOG_SCALE = {"mtv", "mmdsc_pct", "peak_cart", "ferritin", "crp", "il6", "il15", "tnfa", "ang_ratio"}


def _save(fig: plt.Figure, name: str) -> plt.Figure:
    fig.savefig(paths.figures_dir() / f"{name}.png", dpi=100)
    return fig


def markers_by_response(cohort: pd.DataFrame, rng: np.random.Generator) -> plt.Figure:
    """Box plus jittered points of every marker, DR vs NDR (jitter drawn from ``rng``)."""
    fig, axes = plt.subplots(3, 5, figsize=(14, 8))
    for ax, (marker, label) in zip(axes.flat, MARKER_LABELS.items(), strict=False):
        data = [cohort.loc[cohort.durable == d, marker].dropna().to_numpy() for d in (True, False)]
        ax.boxplot(data, tick_labels=["DR", "NDR"], showfliers=False, widths=0.5)
        for i, d in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.15, 0.15, d.size), d, s=8, alpha=0.6)
        ax.set_yscale("log" if marker in LOG_SCALE else "linear")
        ax.set_title(f"{label} (n={data[0].size}+{data[1].size})", fontsize=9)
    axes.flat[-1].axis("off")
    fig.subplots_adjust(hspace=0.45, wspace=0.35, left=0.05, right=0.98, top=0.95, bottom=0.05)
    return _save(fig, "jain_markers_by_response")


def expansion_vs_mmdsc(cohort: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 4))
    for durable, label in ((True, "DR"), (False, "NDR")):
        d = cohort[cohort.durable == durable]
        ax.scatter(d["mmdsc_pct"], d["peak_cart"], s=14, label=label)
    ax.set(xscale="log", yscale="log", xlabel=MARKER_LABELS["mmdsc_pct"], ylabel=MARKER_LABELS["peak_cart"])
    ax.axvline(cohort["mmdsc_pct"].median(), color="grey", ls=":", lw=1)
    ax.legend()
    fig.tight_layout()
    return _save(fig, "jain_expansion_vs_mmdsc")


def correlation_heatmap(rho: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(rho.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    labels = [MARKER_LABELS.get(c, c) for c in rho.columns]
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    fig.colorbar(im, ax=ax, label="Spearman rho")
    fig.tight_layout()
    return _save(fig, "jain_marker_correlations")


def p_distributions(draws: pd.DataFrame, fit: dict) -> plt.Figure:
    """Replicate P values (log scale) of each calibrated comparison, printed P marked."""
    targets = fit["targets"]
    fig, axes = plt.subplots(1, len(targets), figsize=(3 * len(targets), 3), sharey=True)
    bins = np.linspace(-6, 0, 31)
    for ax, t in zip(axes, targets, strict=True):
        p = draws[(draws.claim_id == t["claim_id"]) & (draws.item == t["item"])]["p"].to_numpy()
        ax.hist(np.log10(np.clip(p, 1e-6, 1)), bins=bins, color="tab:blue", alpha=0.7)
        ax.axvline(np.log10(t["reported"]), color="k", lw=2, label="printed P")
        ax.axvline(np.log10(0.05), color="tab:red", ls="--", lw=1, label="0.05")
        ax.set_title(f"{t['claim_id']} {t['item']}", fontsize=8)
        ax.set_xlabel("log10 P")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, "jain_p_distributions")


def power_heatmap(power: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    im = ax.imshow(power.to_numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(power.shape[1]), [f"{c:g}" for c in power.columns])
    ax.set_yticks(range(power.shape[0]), power.index, fontsize=8)
    ax.set_xlabel("subset_scale (x assumed assay-subset sizes)")
    for (i, j), v in np.ndenumerate(power.to_numpy()):
        ax.text(j, i, f"{v:.0%}", ha="center", va="center", color="w" if v < 0.6 else "k", fontsize=8)
    fig.colorbar(im, ax=ax, label="power (P < .05)")
    fig.tight_layout()
    return _save(fig, "jain_power_by_subset_size")
