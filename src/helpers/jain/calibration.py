"""Calibration: effect sizes back-calculated from the printed P values at the assumed subset sizes.

For each printed P of a two-group comparison (``COMPARISONS``):
1. invert the Mann-Whitney normal approximation at the assumed group sizes -> the AUC that
   gives exactly that P (``stats.implied_auc``);
2. find the latent correlation whose population AUC between the two groups equals it
   (``auc_split``: a bivariate-normal integral on a quantile grid, deterministic);
3. solve the five free path coefficients (``model.CALIBRATED``) so that the model's
   correlations equal those five targets, the other coefficients held at their assumed values.

Calibration targets are the five P values below, and only these. The 10x and 4x fold changes
printed beside two of them (JAIN-06, JAIN-07) are held out: the model predicts them from the
calibrated correlation and the assumed spread of log peak CAR T.
``python -m helpers.calibrate jain`` writes ``data/calibrated/jain.json``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, special, stats

from .. import assumptions, ledger
from . import model
from .stats import implied_auc, p_from_auc

PAPER = "jain"
# (ledger item, latent marker, latent that splits the groups, sign of the claimed direction
#  as a correlation with the split latent, assay subset holding the comparison)
COMPARISONS = (
    ("JAIN-03/pdl1_ndr_vs_dr", "pdl1", "liability", -1, "n_ihc"),
    ("JAIN-04/mhc2_ndr_vs_dr", "mhc2", "liability", -1, "n_ihc"),
    ("JAIN-05/mmdsc_ndr_vs_dr", "mdsc", "liability", -1, "n_mmdsc"),
    ("JAIN-06/peak_cart_p_dr_vs_ndr", "expansion", "liability", +1, "n_cart"),
    ("JAIN-07/peak_cart_p_by_mmdsc", "expansion", "mdsc", -1, "n_mmdsc"),
)
TARGETS = tuple(t[0] for t in COMPARISONS)
SETTINGS = {
    "targets": list(TARGETS),
    "free_coefficients": list(model.CALIBRATED),
    "test": "Mann-Whitney, normal approximation without continuity correction, expected group sizes",
    "grid_points": 600,
    "start": [0.7, 0.7, 0.3, 0.3, 0.3],
}
GRID = (np.arange(SETTINGS["grid_points"]) + 0.5) / SETTINGS["grid_points"]  # quantile mid-points


def split_grid(threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-probability points of the split latent above (high group) and below (low group) it."""
    below = stats.norm.cdf(threshold)
    return stats.norm.ppf(below + (1 - below) * GRID), stats.norm.ppf(below * GRID)


def auc_split(r: float, threshold: float) -> float:
    """P(X_high > X_low) for X with correlation r to a split latent S, groups S > / < threshold."""
    hi, lo = split_grid(threshold)
    scale = np.sqrt(2 * (1 - r**2))
    return float(np.mean(special.ndtr(r * (hi[:, None] - lo[None, :]) / scale)))


def correlation_for_auc(auc: float, threshold: float) -> float:
    """The non-negative correlation whose split AUC equals ``auc`` (>= 0.5)."""
    return float(optimize.brentq(lambda r: auc_split(r, threshold) - auc, 0.0, 0.999))


def median_shift(r: float, threshold: float) -> float:
    """Median of X in the high group minus median in the low group (X standard normal)."""
    hi, lo = split_grid(threshold)
    sd = np.sqrt(1 - r**2)

    def median(points: np.ndarray) -> float:
        return optimize.brentq(lambda x: np.mean(special.ndtr((x - r * points) / sd)) - 0.5, -6, 6)

    return float(median(hi) - median(lo))


def threshold_of(split: str, design: model.Design) -> tuple[float, float]:
    """Split threshold on the latent scale and the high group's share."""
    if split == "liability":
        return float(stats.norm.isf(design.durable_share)), design.durable_share
    q = design.mmdsc_high_quantile
    return float(stats.norm.ppf(q)), 1 - q


def target_table(design: model.Design) -> list[dict[str, Any]]:
    """Per calibration target: printed P, group sizes, implied AUC and latent correlation."""
    rows = []
    for ref, marker, split, sign, subset in COMPARISONS:
        p = float(ledger.lookup(PAPER, ref).p)
        t, share = threshold_of(split, design)
        n = getattr(design, subset)
        n_hi, n_lo = n * share, n * (1 - share)
        auc = implied_auc(p, n_hi, n_lo)
        rows.append({"ref": ref, "marker": marker, "split": split, "subset": subset,
                     "n_high": n_hi, "n_low": n_lo, "reported_p": p, "implied_auc": auc,
                     "target_r": sign * correlation_for_auc(auc, t), "threshold": t})  # fmt: skip
    return rows


def fit(assumed: dict[str, Any], design: model.Design) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Solve the free coefficients; returns all coefficients and the target rows with fitted values."""
    rows = target_table(design)
    fixed = {k: float(assumed[k]) for k in model.ASSUMED}
    target = np.array([r["target_r"] for r in rows])

    def model_r(x: np.ndarray) -> np.ndarray:
        corr = model.correlation({**fixed, **dict(zip(model.CALIBRATED, x, strict=True))})
        return np.array([corr.loc[r["marker"], r["split"]] for r in rows])

    def residual(x: np.ndarray) -> np.ndarray:
        try:
            return model_r(x) - target
        except model.ModelError:
            return np.full(target.size, 10.0)  # infeasible: more than unit variance

    sol = optimize.least_squares(residual, SETTINGS["start"], bounds=(-0.999, 0.999), xtol=1e-12, ftol=1e-12)
    coef = {**fixed, **dict(zip(model.CALIBRATED, map(float, sol.x), strict=True))}
    for r, fitted_r in zip(rows, model_r(sol.x), strict=True):
        fitted_auc = auc_split(abs(fitted_r), r["threshold"])
        r["fitted_r"] = float(fitted_r)
        r["fitted_auc"] = fitted_auc
        r["fitted_p"] = p_from_auc(fitted_auc, r["n_high"], r["n_low"])
    return coef, rows


def predicted_fold_changes(coef: dict[str, float], design: model.Design, peak_log_sd: float) -> dict[str, float]:
    """Held-out predictions: population ratio of group medians of peak CAR T."""
    corr = model.correlation(coef)
    t_dr, _ = threshold_of("liability", design)
    t_md, _ = threshold_of("mdsc", design)
    dr = median_shift(corr.loc["expansion", "liability"], t_dr)  # DR minus NDR
    md = -median_shift(corr.loc["expansion", "mdsc"], t_md)  # low minus high M-MDSC
    return {"JAIN-06/peak_cart_dr_over_ndr": float(np.exp(peak_log_sd * dr)),
            "JAIN-07/peak_cart_low_over_high_mmdsc": float(np.exp(peak_log_sd * md)),
            "shift_dr": dr, "shift_mmdsc": md}  # fmt: skip


def used_assumptions(assumed: dict[str, Any]) -> dict[str, Any]:
    """The assumed values the calibration depends on (the currency test compares them)."""
    keys = (*model.ASSUMED, *model.SUBSETS, "durable_share", "mmdsc_high_quantile")
    return {k: assumed[k] for k in keys}


def calibrate() -> dict[str, Any]:
    assumed = assumptions.load(PAPER)
    design = model.Design.from_assumed(assumed)
    coef, rows = fit(assumed, design)
    targets = [{"claim_id": r["ref"].split("/")[0], "item": r["ref"].split("/")[1],
                "reported": r["reported_p"], "fitted": r["fitted_p"], "weight": 1.0,
                "residual": r["fitted_r"] - r["target_r"], "implied_auc": r["implied_auc"],
                "n_high": r["n_high"], "n_low": r["n_low"]} for r in rows]  # fmt: skip
    objective = float(sum(t["residual"] ** 2 for t in targets))
    return {"params": coef, "targets": targets, "objective": objective, "settings": SETTINGS,
            "assumed": used_assumptions(assumed)}  # fmt: skip
