"""One results format for every paper: one row per numeric item.

A notebook builds rows with ``row(...)`` (or ``from_ledger(...)``, which copies the reported
numbers from the ledger so they are never typed twice), the replication engine fills the Monte
Carlo columns, ``finalise`` sets ``status``, and ``save`` writes them where the scorecard
notebook gathers them. ``display`` rounds each quantity to a fixed number of decimals so that
notebook outputs are stable text for nbval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import ledger, paths, provenance, verdicts
from .io import write_csv_atomic

RESULT_COLUMNS = [
    "paper", "claim_id", "item", "quantity", "role", "used_by",
    "reported_printed", "reported", "reported_lo", "reported_hi", "reported_p",
    "rederived", "rederived_lo", "rederived_hi", "rederived_p",
    "mc_lo", "mc_median", "mc_hi", "within_band",
    "percentile_lo", "percentile_hi", "percentile_mcse", "band_position", "alternative", "check_power",
    "power", "p_reach", "exaggeration", "ci_excludes_null",
    "status", "reason", "method", "note",
]  # fmt: skip
# the conditional band and verdict of helpers.conditional, kept beside today's when a posterior exists
CONDITIONAL_COLUMNS = ["cond_lo", "cond_median", "cond_hi", "cond_percentile_lo", "cond_percentile_hi",
                       "cond_check_power", "cond_status"]  # fmt: skip
# input: a printed count fed to the simulator; calibrated: used to fit it or to set an assumption
# (or the same number printed again); held-out: nothing used it; descriptive: no band applies.
ROLES = ("input", "calibrated", "held-out", "descriptive")
STATUSES = verdicts.STATUSES

# Decimals shown per quantity: chosen to match the papers' own precision, so a displayed
# difference is a real one and a re-run on another machine prints the same text.
DECIMALS = {
    "count": 0, "n": 0, "percent": 1, "median": 1, "followup": 1, "range": 1,
    "landmark_survival": 1, "landmark_event": 1, "HR": 2, "OR": 2, "fold_change": 1,
    "correlation": 2, "P": 4, "qualitative": 2, "AUC": 2, "rate": 1, "difference": 2,
}  # fmt: skip
# The columns every paper notebook shows for its verdicts (results.display(table, VIEW))
# (percentile_mcse: the Monte Carlo SE of the percentile, in points, so a reader sees how firm it is)
VIEW = ["claim_id", "item", "role", "reported", "rederived", "mc_lo", "mc_median", "mc_hi", "percentile",
        "percentile_mcse", "alternative", "check_power", "status"]  # fmt: skip
NOT_REACHED_KINDS = ("median", "followup")  # +inf is "not reached" (shown NR, as printed)
NULL_VALUE = {"HR": 1.0, "OR": 1.0, "fold_change": 1.0, "correlation": 0.0, "difference": 0.0}


class ResultsError(ValueError):
    """A results table does not have the one shape every notebook shares."""


def row(claim_id: str, item: str, quantity: str, role: str | None = None, *, paper: str | None = None,
        model: str | None = None,
        reported: float | None = None, reported_lo: float | None = None,
        reported_hi: float | None = None, reported_p: float | None = None,
        rederived: float | None = None, rederived_lo: float | None = None,
        rederived_hi: float | None = None, rederived_p: float | None = None,
        method: str = "", note: str = "", reported_printed: str | None = None) -> dict[str, Any]:  # fmt: skip
    """One results row; Monte Carlo columns start empty and ``status`` is set by ``finalise``.

    ``reported_printed`` is the token as printed ("2.66", "<.0001"): the band check then accepts
    every value that rounds to it, so a printed "1.01" is not treated as exactly 1.0100.
    ``role``: computed from provenance (``helpers.provenance``) for a ledger item; give it only
    for a row that is not a ledger item (an external number, a placeholder). ``model``: the model
    key whose declared uses give the role (default: the paper; a spec variant such as
    ``descart.survival`` has roles of its own, ``helpers.contract``).
    """
    paper = paper or _paper_of(claim_id)
    used_by = ""
    if role is None:
        role, used_by = provenance.role_of(model or paper, f"{claim_id}/{item}")
    if role not in ROLES:
        raise ResultsError(f"{claim_id}/{item}: role {role!r} is not one of {ROLES}")
    return {
        "paper": paper, "claim_id": claim_id, "item": item, "quantity": quantity, "role": role, "used_by": used_by,
        "reported_printed": reported_printed, "reported": reported, "reported_lo": reported_lo, "reported_hi": reported_hi,
        "reported_p": reported_p, "rederived": rederived, "rederived_lo": rederived_lo,
        "rederived_hi": rederived_hi, "rederived_p": rederived_p,
        **dict.fromkeys(_MC_COLUMNS), "status": None, "reason": None, "method": method, "note": note,
    }  # fmt: skip


def _paper_of(claim_id: str) -> str:
    paper = ledger.paper_of(claim_id)
    if paper is not None:
        return paper
    raise ResultsError(f"claim ID {claim_id!r} has no known paper prefix ({sorted(ledger.PREFIX.values())})")


def from_ledger(ref: str, role: str | None = None, *, reported: float | None = None, rederived: float | None = None,
                rederived_lo: float | None = None, rederived_hi: float | None = None,
                rederived_p: float | None = None, method: str = "", note: str = "",
                quantity: str | None = None, model: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A row whose reported numbers come from the ledger item 'CLAIM-ID/item' (role from provenance,
    of ``model`` when given: see ``row``).

    ``reported``: for a qualitative item, the claimed sign (+1 or -1) of the paper's effect
    measure, which only the paper's analysis knows ("NDR > DR" is +1 for NDR minus DR).
    """
    claim_id, item = ref.split("/")
    paper = _paper_of(claim_id)
    rec = ledger.lookup(paper, ref)
    # a bare P value ("P = .03" with no estimate) is itself the reported number
    bare_p = rec.quantity == "P" and _num(rec.value) is None
    printed = _num(rec.p) if bare_p else _num(rec.value)
    if reported is None:
        reported = printed
    elif rec.quantity != "qualitative":
        raise ResultsError(f"{ref}: a printed number comes from the ledger; `reported=` is for a claimed sign only")
    # a qualitative claim stated as significant is judged as "P < .05 in the claimed direction"
    p_claimed = verdicts.SIGNIFICANCE if rec.quantity == "qualitative" and rec.significant == "yes" else _num(rec.p)
    return row(
        claim_id, item, quantity or rec.quantity, role, paper=paper, model=model,
        reported_printed=rec.p_printed if bare_p else rec.printed, reported=reported, reported_lo=_num(rec.lo), reported_hi=_num(rec.hi),
        reported_p=p_claimed, rederived=rederived, rederived_lo=rederived_lo,
        rederived_hi=rederived_hi, rederived_p=rederived_p, method=method, note=note,
    )  # fmt: skip


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> a validated DataFrame with exactly ``RESULT_COLUMNS``."""
    df = pd.DataFrame(list(rows))
    validate(df)
    return df[RESULT_COLUMNS].copy()


def validate(df: pd.DataFrame) -> None:
    missing = [c for c in RESULT_COLUMNS if c not in df.columns]
    if missing:
        raise ResultsError(f"results table lacks columns {missing}; build rows with helpers.results.row")
    dup = df[df.duplicated(["claim_id", "item"], keep=False)]
    if not dup.empty:
        pairs = sorted(set(dup.claim_id + "/" + dup.item))
        raise ResultsError(f"results rows repeated for {pairs}; each (claim_id, item) appears once")
    bad_roles = sorted(set(df.role) - set(ROLES))
    if bad_roles:
        raise ResultsError(f"unknown role(s) {bad_roles}; use one of {ROLES}")


def finalise(df: pd.DataFrame, reasons: dict[str, str] | None = None) -> pd.DataFrame:
    """Set ``status`` (one rule for every paper, ``helpers.verdicts``) and the reason of a miss.

    ``reasons``: "CLAIM-ID/item" -> reason class and text ("model: ...", "assumption NAME: ...",
    "infeasible: ..."); a contradicted item without one is marked ``unexplained``.
    """
    out = df.copy()
    for col in ("band_position", "check_power", "reason", "used_by"):
        if col not in out:
            out[col] = None
    reasons = reasons or {}
    status, why, roles = [], [], []
    for r in out.itertuples():
        if r.status == "not-implemented":
            status.append(r.status)
            why.append(r.reason)
            roles.append(r.role)
            continue
        has_rederived = not (_missing(r.rederived) and _missing(r.mc_median))
        if r.role == "held-out" and _missing(r.band_position):
            roles.append("descriptive")  # nothing used it, and no band can judge it
        else:
            roles.append(r.role)
        if r.role == "input":
            s = "input"
        elif _missing(r.band_position):
            s = "no-band" if has_rederived else "not-rederived"
        elif r.band_position in ("below", "above"):
            s = "contradicted"
        elif r.band_position == "edge":
            s = "borderline"
        else:
            powered = not _missing(r.check_power) and r.check_power >= verdicts.POWER_NEEDED
            s = "supported" if powered else "uninformative"
        status.append(s)
        why.append(reasons.get(f"{r.claim_id}/{r.item}", "unexplained") if s == "contradicted" else None)
    out["status"] = status
    out["reason"] = why
    out["role"] = roles
    return out


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def save(df: pd.DataFrame, name: str) -> None:
    """Write a notebook's rows to ``reports/tables/results/<name>.csv`` (atomically)."""
    validate(df)
    extra = [c for c in CONDITIONAL_COLUMNS if c in df]  # helpers.conditional, where a posterior exists
    out = df[RESULT_COLUMNS + extra].copy()
    for col in _NUMERIC_COLS + [c for c in extra if c != "cond_status"]:  # object columns bypass the float format
        out[col] = pd.to_numeric(out[col], errors="coerce")
    write_csv_atomic(out, paths.results_dir() / f"{name}.csv")


def format_value(x: Any, quantity: str) -> str:
    """A number rounded for display by its quantity; '' for missing."""
    if _missing(x):
        return ""
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if quantity == "P":
        return format_p(float(x))
    if quantity in NOT_REACHED_KINDS and float(x) == math.inf:
        return "NR"  # a median (of survival, or of follow-up) not reached
    return f"{float(x):.{DECIMALS.get(quantity, 2)}f}"


def format_p(p: float) -> str:
    """P values the way journals print them: 3 significant digits, '<0.0001' below that."""
    if _missing(p):
        return ""
    return "<0.0001" if p < 1e-4 else f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


_MC_COLUMNS = ["mc_lo", "mc_median", "mc_hi", "within_band", "percentile_lo", "percentile_hi",
               "percentile_mcse", "band_position", "alternative", "check_power", "power", "p_reach",
               "exaggeration", "ci_excludes_null"]  # fmt: skip
_NUMERIC_COLS = ["reported", "reported_lo", "reported_hi", "reported_p", "rederived", "rederived_lo",
                 "rederived_hi", "rederived_p", "mc_lo", "mc_median", "mc_hi", "percentile_lo",
                 "percentile_hi", "percentile_mcse", "check_power", "power", "p_reach", "exaggeration",
                 "ci_excludes_null"]  # fmt: skip
_VALUE_COLS = ["reported", "reported_lo", "reported_hi", "rederived", "rederived_lo",
               "rederived_hi", "mc_lo", "mc_median", "mc_hi"]  # fmt: skip


def display(df: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """A copy with every number rounded for its quantity and turned into text (stable output)."""
    out = df.copy()
    for col in _VALUE_COLS:
        if col in out:
            out[col] = [format_value(v, q) for v, q in zip(out[col], out["quantity"], strict=True)]
    if "reported" in out and "reported_printed" in out:  # a printed token with no value ("NR") as printed
        out["reported"] = [t if v == "" and isinstance(t, str) else v
                           for v, t in zip(out.reported, out.reported_printed, strict=True)]  # fmt: skip
    for col in ("reported_p", "rederived_p"):
        if col in out:
            out[col] = [format_p(v) for v in out[col]]
    for col in ("power", "ci_excludes_null", "check_power", "p_reach"):
        if col in out:
            out[col] = [format_value(v, "rate") if _missing(v) else f"{100 * v:.0f}%" for v in out[col]]
    if "percentile_lo" in out and "percentile_hi" in out:
        out["percentile"] = [format_percentile(a, b) for a, b in zip(out.percentile_lo, out.percentile_hi, strict=True)]
    if "percentile_mcse" in out:
        out["percentile_mcse"] = ["" if _missing(v) else f"{100 * v:.1f}" for v in out["percentile_mcse"]]
    if "exaggeration" in out:
        out["exaggeration"] = ["" if _missing(v) else f"{v:.2f}x" for v in out["exaggeration"]]
    if "within_band" in out:
        out["within_band"] = [format_value(v, "") for v in out["within_band"]]
    cols = columns or [c for c in out.columns if c not in ("paper", "method", "note", "reported_printed")]
    return out[cols].fillna("").reset_index(drop=True)


def side_by_side(tables: Mapping[str, pd.DataFrame], refs: Iterable[str] | None = None) -> pd.DataFrame:
    """The same printed numbers judged by several models (``{"hand-built": table, "spec": table}``):
    one row per item (of ``refs``, default: the items every table judges, in the first table's
    order), the printed token, then per model its role, its band of same-size studies (2.5th to
    97.5th percentile) and its status. Text, rounded per quantity (stable notebook output)."""
    first = next(iter(tables.values()))
    if refs is None:
        common = set.intersection(*(set(t.claim_id + "/" + t["item"]) for t in tables.values()))
        refs = [k for k in first.claim_id + "/" + first["item"] if k in common]
    keys = list(refs)
    printed = {f"{r.claim_id}/{r.item}": (r.quantity, r.reported_printed) for r in first.itertuples()}
    out = pd.DataFrame({"item": keys, "printed": [printed.get(k, ("", ""))[1] or "" for k in keys]})
    for name, table in tables.items():
        by_ref = {f"{r.claim_id}/{r.item}": r for r in table.itertuples()}
        role, band, status = [], [], []
        for k in keys:
            r = by_ref.get(k)
            role.append("" if r is None else r.role)
            status.append("" if r is None else r.status)
            band.append("" if r is None or _missing(r.mc_lo) else
                        f"{format_value(r.mc_lo, r.quantity)} to {format_value(r.mc_hi, r.quantity)}")  # fmt: skip
        out[f"{name} role"], out[f"{name} band"], out[f"{name} status"] = role, band, status
    return out.set_index("item")


def format_percentile(lo: float, hi: float) -> str:
    """The predictive percentile of a printed value, in %: one number, or a range when the printed
    rounding (or a bound) spans several."""
    if _missing(lo) or _missing(hi):
        return ""
    a, b = 100 * lo, 100 * hi
    return f"{a:.1f}" if abs(b - a) < 0.05 else f"{a:.1f}-{b:.1f}"
