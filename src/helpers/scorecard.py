"""The scorecard: every notebook's results rows in one table, with the gaps left visible.

A claim ID that no notebook has re-derived yet gets one row with status ``not-implemented``, so
the table always has every claim of the index.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from . import figures, ledger, paths, results, verdicts
from .io import write_csv_atomic

JUDGED = verdicts.JUDGED  # statuses that come from a check against same-size replicate studies


def gather() -> pd.DataFrame:
    """All results rows of this run; rows of notebooks not re-run come from the last good run."""
    folders = [paths.results_dir()]
    if os.environ.get(paths.REPORTS_ENV):  # staging run: fall back on the last good run's rows
        folders.append(paths.PROJ_ROOT / "reports" / "tables" / "results")
    found: dict[str, pd.DataFrame] = {}
    for folder in folders:
        for csv in sorted(folder.glob("*.csv")) if folder.exists() else []:
            found.setdefault(csv.stem, pd.read_csv(csv, dtype={"reported_printed": str}))  # tokens stay as printed
    frames = [df.assign(notebook=name) for name, df in sorted(found.items())]
    if not frames:
        return pd.DataFrame(columns=[*results.RESULT_COLUMNS, "notebook"])
    return pd.concat(frames, ignore_index=True)


def build(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of every notebook plus a ``not-implemented`` row for each claim nobody covers."""
    covered = set(rows.claim_id)
    gaps = [
        {**results.row(cid, "(claim)", "qualitative", "descriptive", paper=paper,
                       note="no notebook re-derives this claim yet"),
         "status": "not-implemented", "notebook": ""}
        for paper, ids in ledger.claims_index().items() for cid in ids if cid not in covered
    ]  # fmt: skip
    # from records, not by concatenating frames: an all-NA gap column must not set the dtype
    out = pd.DataFrame([*rows.to_dict("records"), *gaps], columns=rows.columns) if gaps else rows
    order = {p: i for i, p in enumerate(ledger.PAPERS)}
    out = out.assign(_p=out.paper.map(order)).sort_values(["_p", "claim_id", "item"], kind="stable")
    return out.drop(columns="_p").reset_index(drop=True)


def save(card: pd.DataFrame) -> None:
    write_csv_atomic(card, paths.tables_dir() / "scorecard.csv")


def summary(card: pd.DataFrame) -> pd.DataFrame:
    """Per paper and role: how many items got each status (the headline, ``helpers.verdicts``).

    No share of "reproduced" items: a share rewards labels; the counts say how many printed
    numbers a check that could have failed supports, how many no same-size check can test, and
    how many the model contradicts.
    """
    order = [s for s in results.STATUSES if s in set(card.status)]
    tab = pd.crosstab([card.paper, card.role], card.status).reindex(columns=order, fill_value=0)
    papers = {p: i for i, p in enumerate(ledger.PAPERS)}
    roles = {r: i for i, r in enumerate(results.ROLES)}
    keys = sorted(tab.index, key=lambda k: (papers.get(k[0], 99), roles.get(k[1], 99)))
    tab = tab.loc[keys]
    tab.insert(0, "items", tab.sum(axis=1))
    tab.columns.name = None
    return tab


def totals(card: pd.DataFrame) -> pd.DataFrame:
    """All papers together: items per role and status."""
    order = [s for s in results.STATUSES if s in set(card.status)]
    roles = [r for r in results.ROLES if r in set(card.role)]
    tab = pd.crosstab(card.role, card.status).reindex(index=roles, columns=order, fill_value=0)
    tab.insert(0, "items", tab.sum(axis=1))
    tab.columns.name = None
    return tab


def held_out_share(card: pd.DataFrame) -> pd.Series:
    """Share of each paper's items that nothing was fitted to (reported, whatever it is)."""
    numeric = card[card.status.ne("not-implemented")]
    return numeric.groupby("paper", sort=False).role.apply(lambda r: float((r == "held-out").mean())).rename("held-out share")


def misses(card: pd.DataFrame) -> pd.DataFrame:
    """Every item contradicted (with its reason) or not re-derived, with the notebook's note."""
    bad = card[card.status.isin(["contradicted", "borderline", "not-rederived"])]
    return bad[["claim_id", "item", "role", "status", "reason", "note"]].fillna("").reset_index(drop=True)


def forest(card: pd.DataFrame, paper: str):
    """Where each printed number falls among same-size simulated studies, one row per judged item:
    the 95% band (bar) and median (dot) of those studies divided by the printed value (log scale,
    1 = the printed value), coloured by status. P values and qualitative claims are left to the
    table (a ratio of P values says little)."""
    df = card[(card.paper == paper) & card.status.isin(JUDGED) & ~card.quantity.isin(["qualitative", "P"])].copy()
    ref = pd.to_numeric(df.reported, errors="coerce")
    df = df[ref.gt(0) & np.isfinite(ref)]
    if df.empty:
        return None
    ref = df.reported.astype(float)
    # clipped to 1/50..50 so a band reaching "not reached" (inf) ends at the panel's edge
    rel = {c: (pd.to_numeric(df[c], errors="coerce") / ref).clip(0.02, 50) for c in ("mc_lo", "mc_median", "mc_hi")}
    y = np.arange(len(df))[::-1]
    colour = [figures.STATUS_COLOURS.get(s, "k") for s in df.status]
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(df) + 1.6))
    ax.hlines(y, rel["mc_lo"], rel["mc_hi"], color=colour, lw=3, alpha=0.45)
    ax.scatter(rel["mc_median"], y, color=colour, s=16, zorder=3)
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    span = pd.concat(rel.values()).replace([np.inf, -np.inf], np.nan).dropna()
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
             if span.min() / 1.3 <= t <= span.max() * 1.3] or [1]  # fmt: skip
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, df.claim_id + " " + df["item"], fontsize=7)
    ax.set_xlim(span.min() / 1.3, span.max() * 1.3)
    ax.set_xlabel("same-size studies / printed value (log scale; 1 = printed): bar 95% band, dot median", fontsize=8)
    shown = [s for s in JUDGED if s in set(df.status)]
    handles = [Line2D([], [], marker="o", ls="", color=figures.STATUS_COLOURS[s], label=s) for s in shown]
    height = 0.22 * len(df) + 1.6
    fig.legend(handles=handles, fontsize=7, loc="lower center", ncol=len(shown), frameon=False)
    ax.set_title(f"{ledger.load_paper(paper).label or paper}: printed numbers among same-size studies", fontsize=9)
    fig.tight_layout(rect=(0, 0.3 / height, 1, 1))  # room for the legend below the axis label
    return fig
