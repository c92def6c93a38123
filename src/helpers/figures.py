"""Figures every paper draws the same way: saving, the forest plot, Kaplan–Meier with numbers at risk.

Each figure is saved as ``reports/figures/<name>.png`` at a fixed resolution (notebook outputs
compare the numbers behind a figure, never its pixels) and returned for display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

from . import paths

DPI = 100
STATUS_COLOURS = {"supported": "tab:green", "uninformative": "0.55", "borderline": "tab:orange",
                  "contradicted": "tab:red", "input": "0.75", "no-band": "0.75", "not-rederived": "0.75"}  # fmt: skip


def save(fig: plt.Figure, name: str) -> plt.Figure:
    """Write ``fig`` to reports/figures/<name>.png and return it."""
    fig.savefig(paths.figures_dir() / f"{name}.png", dpi=DPI)
    return fig


def forest(rows: pd.DataFrame, *, labels: Sequence[str] | None = None, title: str = "",
           xlabel: str = "hazard ratio (log scale)", log: bool = True, ax: plt.Axes | None = None,
           band_label: str = "95% band of same-size studies") -> plt.Axes:  # fmt: skip
    """Printed estimate and CI, the seeded cohort's re-derived one, and the replicate band.

    ``rows``: results rows (``helpers.results``); the printed marker is coloured by status.
    """
    ax = ax or plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))[1]
    rows = rows.reset_index(drop=True)
    y = np.arange(len(rows))[::-1].astype(float)
    ax.hlines(y, rows.mc_lo, rows.mc_hi, color="0.8", lw=7, label=band_label)
    _errorbar(ax, rows.rederived, rows.rederived_lo, rows.rederived_hi, y - 0.15, "o", "C0", "re-derived, seeded cohort")
    colours = [STATUS_COLOURS.get(s, "k") for s in rows.get("status", pd.Series(["" for _ in y]))]
    _errorbar(ax, rows.reported, rows.reported_lo, rows.reported_hi, y + 0.15, "none", "0.3", "printed (colour: status)")
    ax.scatter(rows.reported, y + 0.15, marker="s", c=colours, zorder=3)
    if log:
        ax.set_xscale("log")
        ax.axvline(1, color="k", lw=0.8)
        ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if _in_range(t, rows)]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, labels if labels is not None else rows["item"])
    ax.set(title=title, xlabel=xlabel)
    ax.legend(loc="best", fontsize=7)
    return ax


def _errorbar(ax, est, lo, hi, y, fmt, colour, label) -> None:
    est, lo, hi = (pd.to_numeric(v, errors="coerce").to_numpy(float) for v in (est, lo, hi))
    xerr = np.vstack([np.where(np.isnan(lo), 0, est - lo), np.where(np.isnan(hi), 0, hi - est)])
    ax.errorbar(est, y, xerr=np.nan_to_num(xerr), fmt=fmt, color=colour, label=label, capsize=2)


def _in_range(t: float, rows: pd.DataFrame) -> bool:
    cols = [c for c in ("mc_lo", "mc_hi", "reported_lo", "reported_hi", "rederived_lo", "rederived_hi") if c in rows]
    values = pd.to_numeric(rows[cols].stack(), errors="coerce").dropna()
    values = values[np.isfinite(values) & (values > 0)]
    return values.empty or values.min() / 1.5 <= t <= values.max() * 1.5


def km(ax: plt.Axes, groups: Mapping[str, tuple[np.ndarray, np.ndarray]], *, title: str = "",
       xlabel: str = "months", xlim: float | None = None, at_risk: bool = True, ci: bool = False) -> plt.Axes:  # fmt: skip
    """Kaplan–Meier curves (lifelines) of ``groups`` (label -> (time, event)), numbers at risk below."""
    from lifelines import KaplanMeierFitter
    from lifelines.plotting import add_at_risk_counts

    fits = [KaplanMeierFitter(label=label).fit(t, e) for label, (t, e) in groups.items()]
    for fit in fits:
        fit.plot_survival_function(ax=ax, ci_show=ci)
    if at_risk:
        add_at_risk_counts(*fits, ax=ax, rows_to_show=["At risk"])
    ax.set(title=title, xlabel=xlabel, ylabel="probability", ylim=(0, 1.02))
    if xlim is not None:
        ax.set_xlim(0, xlim)
    return ax
