"""Calibration: effect sizes back-calculated from the five printed P values at the assumed subset sizes.

For each printed P of a two-group comparison (``COMPARISONS``), under the assumed two-group test
(``settings["two_group_test"]``, an assumption: the sources name no test):

1. the effect that gives exactly that P at the assumed group sizes: for ``mann_whitney`` the AUC
   of the normal approximation (``kernels.rank.implied_auc``); for ``welch_log`` the Welch t with
   the P's quantile (n1 + n2 - 2 df);
2. the latent correlation whose population effect between the two groups equals it (AUC or
   expected t on the analysed scale, by integrals on a quantile grid: deterministic);
3. the five free path coefficients (``FREE``) solved so that the model's correlations equal
   the five targets, the other coefficients held at their assumed values.

The fold changes printed beside two of the P values (10x, JAIN-06; 4x, JAIN-07) are not fitted:
the model predicts them from the calibrated correlation and the assumed spread of peak CAR T.
``python -m helpers.calibrate jain`` writes ``data/calibrated/jain.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from ..kernels.rank import implied_auc, p_from_auc
from ..kernels.welch import implied_t
from . import model

PAPER = "jain"
# (ledger item, latent marker, latent that splits the groups, sign of the claimed direction as
#  a correlation with the split latent, assay subset holding the comparison)
COMPARISONS = (
    ("JAIN-03/pdl1_ndr_vs_dr", "pdl1", "liability", -1, "n_ihc"),
    ("JAIN-04/mhc2_ndr_vs_dr", "mhc2", "liability", -1, "n_ihc"),
    ("JAIN-05/mmdsc_ndr_vs_dr", "mdsc", "liability", -1, "n_mmdsc"),
    ("JAIN-06/peak_cart_p_dr_vs_ndr", "expansion", "liability", +1, "n_cart"),
    ("JAIN-07/peak_cart_p_by_mmdsc", "expansion", "mdsc", -1, "n_mmdsc"),
)
TARGETS = tuple(c[0] for c in COMPARISONS)
FREE = ("ifn_on_pdl1", "ifn_on_mhc2", "burden_on_mdsc", "mdsc_on_expansion", "expansion_on_outcome")
# the observed marker each latent marker is measured as (its analysed scale for welch_log)
OBSERVED = {"pdl1": "pdl1_pct", "mhc2": "mhc2_pct", "mdsc": "mmdsc_pct", "expansion": "peak_cart"}
SETTINGS = {
    "targets": list(TARGETS),
    "free": list(FREE),
    "effect": "population effect (AUC, or expected Welch t) equal to the one the printed P gives at the "
              "expected group sizes (normal approximation without continuity correction)",
    "grid_points": 600,
    "difference_bins": 4000,
    "hermite_nodes": 40,
    "start": [0.7, 0.7, 0.3, 0.3, 0.3],
    "tolerance": 1e-12,
}  # fmt: skip
GRID = (np.arange(SETTINGS["grid_points"]) + 0.5) / SETTINGS["grid_points"]  # quantile mid-points
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(SETTINGS["hermite_nodes"])
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
TESTS = ("mann_whitney", "welch_log")


class CalibrationSetupError(ValueError):
    """An unknown test or target was asked for."""


def split_grid(threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-probability points of the split latent above (high group) and below (low group) it."""
    below = stats.norm.cdf(threshold)
    return stats.norm.ppf(below + (1 - below) * GRID), stats.norm.ppf(below * GRID)


def auc_split(r: float, threshold: float) -> float:
    """P(X_high > X_low) for X with correlation r to a split latent S, groups S > / < threshold.

    X_high - X_low = r (S_high - S_low) + sqrt(2 (1 - r^2)) Z, so the AUC is the mean of
    Phi(r D / sqrt(2 (1 - r^2))) over the differences D of the two groups' grid points
    (``split_differences``: their distribution collapsed into narrow bins, computed once per split).
    """
    d, w = split_differences(float(threshold))
    return float(w @ special.ndtr(r * d / np.sqrt(2 * (1 - r**2))))


@lru_cache(maxsize=32)
def split_differences(threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, weight) of the grid differences S_high - S_low in ``DIFFERENCE_BINS`` equal-width bins.

    Replacing each difference by its bin mean changes the average of Phi(c D) by at most
    max|d2 Phi(c D)/dD2| width^2 / 8: below 1e-7 for r <= 0.95 (tests/test_jain.py compares the
    full 600 x 600 grid), and 100 times faster.
    """
    hi, lo = split_grid(threshold)
    diff = (hi[:, None] - lo[None, :]).ravel()
    edges = np.linspace(diff.min(), diff.max(), SETTINGS["difference_bins"] + 1)
    idx = np.clip(np.searchsorted(edges, diff, side="right") - 1, 0, SETTINGS["difference_bins"] - 1)
    counts = np.bincount(idx, minlength=SETTINGS["difference_bins"]).astype(float)
    sums = np.bincount(idx, weights=diff, minlength=SETTINGS["difference_bins"])
    keep = counts > 0
    return sums[keep] / counts[keep], counts[keep] / diff.size


def _scale_fn(latent: str, settings: Mapping[str, Any]):
    """Latent value -> the observed marker on the welch_log analysis scale."""
    marker = OBSERVED[latent]

    def h(x: np.ndarray) -> np.ndarray:
        z = dict.fromkeys(model.LATENTS, np.zeros_like(x))
        z[latent] = x
        return model.analysis_scale(marker, model.observe(z, settings)[marker])

    return h


def welch_split(r: float, threshold: float, n_hi: float, n_lo: float, h) -> float:
    """Expected Welch t (high minus low group) of h(X), X with correlation r to the split latent."""
    moments = []
    for points in split_grid(threshold):
        x = h(r * points[:, None] + np.sqrt(1 - r**2) * _NODES[None, :])
        m = float(np.mean(x @ _WEIGHTS))
        moments.append((m, float(np.mean((x**2) @ _WEIGHTS)) - m**2))
    (m1, v1), (m2, v2) = moments
    return (m1 - m2) / np.sqrt(v1 / n_hi + v2 / n_lo)


def threshold_of(split: str, settings: Mapping[str, Any]) -> tuple[float, float]:
    """Split threshold on the latent scale and the high group's share."""
    if split == "liability":
        share = float(settings["durable_share"])
        return float(stats.norm.isf(share)), share
    q = float(settings["mmdsc_high_quantile"])
    return float(stats.norm.ppf(q)), 1 - q


def implied_correlation(test: str, p: float, n_hi: float, n_lo: float, threshold: float, h=None) -> tuple[float, float]:
    """(effect, latent correlation >= 0) the printed two-sided ``p`` implies under ``test``.

    effect: the AUC (mann_whitney) or the Welch t (welch_log) that gives ``p`` at these sizes.
    """
    if test == "mann_whitney":
        auc = implied_auc(p, n_hi, n_lo)
        return auc, float(optimize.brentq(lambda r: auc_split(r, threshold) - auc, 0.0, 0.999, xtol=1e-14))
    if test == "welch_log":
        t = implied_t(p, n_hi + n_lo - 2)
        return t, float(optimize.brentq(lambda r: welch_split(r, threshold, n_hi, n_lo, h) - t, 0.0, 0.999, xtol=1e-14))
    raise CalibrationSetupError(f"two_group_test={test!r} is not one of {TESTS}")


def p_of_correlation(test: str, r: float, n_hi: float, n_lo: float, threshold: float, h=None) -> float:
    """The two-sided P a study sees when its effect equals the population one of correlation ``r``."""
    if test == "mann_whitney":
        return p_from_auc(auc_split(abs(r), threshold), n_hi, n_lo)
    t = welch_split(abs(r), threshold, n_hi, n_lo, h)
    return float(2 * stats.t.sf(abs(t), n_hi + n_lo - 2))


def target_table(settings: Mapping[str, Any], targets: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Per calibration target: printed P, expected group sizes, implied effect and latent correlation."""
    from .. import ledger

    wanted = TARGETS if targets is None else tuple(targets)
    unknown = sorted(set(wanted) - set(TARGETS))
    if unknown:
        raise CalibrationSetupError(f"{unknown} are not calibration targets; TARGETS = {TARGETS}")
    test = settings["two_group_test"]
    rows = []
    for ref, marker, split, sign, subset in COMPARISONS:
        if ref not in wanted:
            continue
        p = float(ledger.lookup(PAPER, ref).p)
        t, share = threshold_of(split, settings)
        n = float(settings[subset])
        n_hi, n_lo = n * share, n * (1 - share)
        h = _scale_fn(marker, settings) if test == "welch_log" else None
        effect, r = implied_correlation(test, p, n_hi, n_lo, t, h)
        rows.append({"ref": ref, "marker": marker, "split": split, "subset": subset, "n_high": n_hi,
                     "n_low": n_lo, "reported_p": p, "implied_effect": effect, "target_r": sign * r,
                     "threshold": t, "h": h})  # fmt: skip
    return rows


def calibrate(settings=None, start: Mapping[str, float] | None = None,
              targets: Iterable[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Fit ``FREE`` to the printed P values of ``targets`` (default: all of ``TARGETS``).

    ``settings``: the assumptions to fit under (default: ``settings.load(calibrated={})``);
    ``start``: warm start (FREE -> value). Deterministic (no random numbers: grid integrals).
    With fewer targets than free coefficients the fit is one of many exact solutions, the
    closest the solver finds from ``start``.
    """
    from .settings import load

    s = load(calibrated={}) if settings is None else settings
    rows = target_table(s, targets)
    fixed = {k: float(s[k]) for k in model.ASSUMED}
    target = np.array([r["target_r"] for r in rows])
    x0 = SETTINGS["start"] if start is None else [float(start[k]) for k in FREE]

    def model_r(x: np.ndarray) -> np.ndarray:
        corr = model.correlation({**fixed, **dict(zip(FREE, x, strict=True))})
        return np.array([corr.loc[r["marker"], r["split"]] for r in rows])

    def residual(x: np.ndarray) -> np.ndarray:
        try:
            return model_r(x) - target
        except model.ModelError:
            return np.full(target.size, 10.0)  # infeasible: more than unit variance

    tol = SETTINGS["tolerance"]
    sol = optimize.least_squares(residual, x0, bounds=(-0.999, 0.999), xtol=tol, ftol=tol, gtol=tol)
    params = dict(zip(FREE, map(float, sol.x), strict=True))
    test = s["two_group_test"]
    out_targets = []
    for r, fitted_r in zip(rows, model_r(sol.x), strict=True):
        claim_id, item = r["ref"].split("/")
        out_targets.append({
            "claim_id": claim_id, "item": item, "reported": r["reported_p"],
            "fitted": p_of_correlation(test, fitted_r, r["n_high"], r["n_low"], r["threshold"], r["h"]),
            "weight": 1.0, "residual": float(fitted_r - r["target_r"]), "implied_effect": r["implied_effect"],
            "effect_kind": "AUC" if test == "mann_whitney" else "Welch t", "n_high": r["n_high"], "n_low": r["n_low"],
        })  # fmt: skip
    objective = float(sum(t["residual"] ** 2 for t in out_targets))
    converged = bool(sol.status > 0 and max((abs(t["residual"]) for t in out_targets), default=0.0) < 1e-8)
    return {"params": params, "targets": out_targets, "objective": objective, "converged": converged,
            "settings": SETTINGS, "assumed": used_assumptions(s)}  # fmt: skip


def used_assumptions(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The assumed values the calibration depends on (the currency test compares them)."""
    keys = (*model.ASSUMED, *model.SUBSETS, "durable_share", "mmdsc_high_quantile", "two_group_test",
            "tumor_and_blood_scales")  # fmt: skip
    return {k: settings[k] for k in keys}


def median_shift(r: float, threshold: float) -> float:
    """Median of X in the high group minus median in the low group (X standard normal)."""
    hi, lo = split_grid(threshold)
    sd = np.sqrt(1 - r**2)

    def median(points: np.ndarray) -> float:
        return optimize.brentq(lambda x: np.mean(special.ndtr((x - r * points) / sd)) - 0.5, -6, 6)

    return float(median(hi) - median(lo))


def predicted_fold_changes(settings: Mapping[str, Any]) -> dict[str, float]:
    """The model's population ratio of group medians of peak CAR T (the held-out fold changes)."""
    corr = model.correlation(settings)
    t_dr, _ = threshold_of("liability", settings)
    t_md, _ = threshold_of("mdsc", settings)
    dr = median_shift(corr.loc["expansion", "liability"], t_dr)  # DR minus NDR
    md = -median_shift(corr.loc["expansion", "mdsc"], t_md)  # low minus high M-MDSC
    sd = float(settings["peak_cart_log_sd"])
    return {"JAIN-06/peak_cart_dr_over_ndr": float(np.exp(sd * dr)),
            "JAIN-07/peak_cart_low_over_high_mmdsc": float(np.exp(sd * md)),
            "shift_dr": dr, "shift_mmdsc": md}  # fmt: skip
