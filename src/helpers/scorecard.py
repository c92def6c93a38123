"""The scorecard: every notebook's results rows in one table, with the gaps left visible.

A claim ID that no notebook has re-derived yet gets one row with status ``not-implemented``, so
the table always has every claim of the index.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import ledger, paths, results, verdicts
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
    """Re-derived value and Monte Carlo band relative to the printed value (log scale), one row per item.

    Dividing by the printed value puts counts, medians and ratios on one axis: 1 means agreement.
    """
    df = card[(card.paper == paper) & card.quantity.ne("qualitative")].copy()
    df = df[pd.to_numeric(df.reported, errors="coerce").gt(0)]
    if df.empty:
        return None
    ref = df.reported.astype(float)
    rel = {c: pd.to_numeric(df[c], errors="coerce") / ref for c in ("rederived", "mc_lo", "mc_median", "mc_hi")}
    y = np.arange(len(df))[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(df) + 1.2))
    colour = np.where(df.role.eq("calibrated"), "tab:grey", "tab:blue")
    ax.hlines(y, rel["mc_lo"], rel["mc_hi"], color=colour, lw=2, alpha=0.6)
    ax.scatter(rel["rederived"], y, color=colour, s=14, zorder=3, label="re-derived (one cohort)")
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, df.claim_id + " " + df["item"], fontsize=7)
    ax.set_xlabel("relative to the printed value (1 = agreement); bar = 95% Monte Carlo band")
    ax.set_title(f"{paper}: re-derived vs printed (grey = calibrated, blue = held-out)", fontsize=9)
    fig.tight_layout()
    return fig
