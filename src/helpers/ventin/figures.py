"""Figures of the Ventin notebook, saved with ``helpers.figures.save``: the causal model as a DAG
(matplotlib, no graphviz), blood CAR T against ZUMA-1, and burden against peak expansion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import figures
from . import model

NODES = {
    "tumor burden": (0.0, 0.5), "IL-6\n(inflammation)": (1.0, 1.3), "tumor IFN\nsignalling": (1.0, 0.85),
    "M-MDSC": (1.0, 0.15), "ferritin\n(bystander)": (1.0, -0.35), "CAR T\nexpansion": (2.0, 0.95),
    "durable\nresponse": (3.0, 0.5), "growth rate": (2.0, -0.2), "severe\nCRS / ICANS": (3.0, 1.6),
}  # fmt: skip
# each arrow and the assumption (data/assumed/ventin.yaml) that gives it; None: the kinetic model itself
EDGES = {
    ("tumor burden", "IL-6\n(inflammation)"): "il6_on_burden",
    ("tumor burden", "tumor IFN\nsignalling"): "ifn_on_burden",
    ("tumor burden", "M-MDSC"): "mdsc_on_burden",
    ("tumor burden", "ferritin\n(bystander)"): "ferritin_on_burden",
    ("IL-6\n(inflammation)", "CAR T\nexpansion"): "expansion_per_il6",
    ("tumor IFN\nsignalling", "CAR T\nexpansion"): "expansion_per_ifn",
    ("M-MDSC", "CAR T\nexpansion"): "expansion_per_mdsc",
    ("CAR T\nexpansion", "durable\nresponse"): None,
    ("growth rate", "durable\nresponse"): None,
    ("tumor burden", "durable\nresponse"): None,
    ("tumor burden", "severe\nCRS / ICANS"): "crs_or_per_sd_burden",
    ("CAR T\nexpansion", "severe\nCRS / ICANS"): "crs_or_per_sd_peak",
}


def dag(settings: Mapping[str, Any] | None = None) -> plt.Figure:
    """Boxes for the variables, arrows for the assumed causal effects (an arrow whose assumption
    is set to no effect in ``settings`` is drawn dashed)."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for (a, b), name in EDGES.items():
        (x0, y0), (x1, y1) = NODES[a], NODES[b]
        rad = -0.5 if (a, b) == ("tumor burden", "severe\nCRS / ICANS") else 0.0
        null = _no_effect(name, settings)
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": "0.3", "shrinkA": 28, "shrinkB": 28,
                                "linestyle": "--" if null else "-", "connectionstyle": f"arc3,rad={rad}"})  # fmt: skip
    for name, (x, y) in NODES.items():
        ax.text(x, y, name, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round", "fc": "#fde0c5" if name == "tumor burden" else "#dbe9f6"})  # fmt: skip
    ax.set_xlim(-0.5, 3.5)
    ax.set_ylim(-0.7, 2.3)
    ax.axis("off")
    return figures.save(fig, "40_causal_dag")


def _no_effect(name: str | None, settings: Mapping[str, Any] | None) -> bool:
    """Is this arrow's assumption set to no effect (an odds ratio of 1, any other effect 0)?"""
    if name is None or settings is None:
        return False
    return float(settings[name]) == (1.0 if "_or_" in name else 0.0)


def car_t_kinetics(cohort: model.Cohort, days: float = 120.0) -> plt.Figure:
    """Blood CAR T of the cohort (median and IQR over patients) against the ZUMA-1 medians (IQR)."""
    s = cohort.settings
    traj = model.trajectories(cohort.noise, cohort.settings, days=days)
    blood = traj.C * s["blood_fraction"] / s["blood_volume_ul"]
    med, q1, q3 = (np.asarray(s[f"external_zuma1_car_t_{k}"], float) for k in ("median", "q1", "q3"))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.fill_between(traj.t, *np.quantile(blood, [0.25, 0.75], axis=0), alpha=0.3, label="simulated IQR")
    ax.plot(traj.t, np.median(blood, axis=0), label="simulated median")
    ax.errorbar(s["external_zuma1_car_t_days"], med, yerr=[med - q1, q3 - med], fmt="o", color="k",
                label="ZUMA-1 median (IQR)")  # fmt: skip
    ax.set(yscale="log", xlabel="days after infusion", ylabel="CAR T cells / µL blood", ylim=(1e-3, 1e3))
    ax.legend()
    return figures.save(fig, "40_car_t_kinetics")


def burden_vs_peak(cohort: model.Cohort) -> plt.Figure:
    """Peak CAR T against tumor burden, coloured by durable response."""
    df = cohort.patients
    fig, ax = plt.subplots(figsize=(6, 4))
    for flag, label in ((True, "durable"), (False, "not durable")):
        sub = df[df.durable == flag]
        ax.scatter(sub.burden_ml, sub.peak_car_t, s=8, alpha=0.6, label=label)
    ax.set(xscale="log", yscale="log", xlabel="tumor burden (mL)", ylabel="peak CAR T (cells)")
    ax.legend()
    return figures.save(fig, "40_burden_vs_peak")
