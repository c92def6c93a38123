"""The causal model of the virtual cohort as a DAG, drawn with matplotlib (no graphviz)."""

from __future__ import annotations

import matplotlib.pyplot as plt

NODES = {
    "tumor burden": (0.0, 0.5), "IL-6\n(inflammation)": (1.0, 1.3), "tumor IFN\nsignalling": (1.0, 0.85),
    "M-MDSC": (1.0, 0.15), "ferritin\n(bystander)": (1.0, -0.35), "CAR T\nexpansion": (2.0, 0.95),
    "durable\nresponse": (3.0, 0.5), "growth rate": (2.0, -0.2), "severe\nCRS / ICANS": (3.0, 1.6),
}  # fmt: skip
EDGES = [
    ("tumor burden", "IL-6\n(inflammation)"), ("tumor burden", "tumor IFN\nsignalling"),
    ("tumor burden", "M-MDSC"), ("tumor burden", "ferritin\n(bystander)"),
    ("IL-6\n(inflammation)", "CAR T\nexpansion"), ("tumor IFN\nsignalling", "CAR T\nexpansion"),
    ("M-MDSC", "CAR T\nexpansion"), ("CAR T\nexpansion", "durable\nresponse"),
    ("growth rate", "durable\nresponse"), ("tumor burden", "durable\nresponse"),
    ("tumor burden", "severe\nCRS / ICANS"), ("CAR T\nexpansion", "severe\nCRS / ICANS"),
]  # fmt: skip


def draw(ax: plt.Axes | None = None) -> plt.Axes:
    """Boxes for the variables, arrows for the assumed causal effects."""
    ax = ax or plt.subplots(figsize=(9, 4.5))[1]
    for a, b in EDGES:
        (x0, y0), (x1, y1) = NODES[a], NODES[b]
        rad = {"severe\nCRS / ICANS": -0.5}.get(b, 0.0) if a == "tumor burden" else 0.0
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": "0.3", "shrinkA": 28, "shrinkB": 28,
                                "connectionstyle": f"arc3,rad={rad}"})  # fmt: skip
    for name, (x, y) in NODES.items():
        ax.text(x, y, name, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round", "fc": "#fde0c5" if name == "tumor burden" else "#dbe9f6"})  # fmt: skip
    ax.set_xlim(-0.5, 3.5)
    ax.set_ylim(-0.7, 2.3)
    ax.axis("off")
    return ax
