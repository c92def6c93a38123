"""Rank tests for one cohort or a batch of cohorts at once (rows = replicates).

Missing measurements are NaN; each row may have its own number of measured patients and its
own group sizes. The single-cohort reference is scipy (``mannwhitneyu(method="asymptotic")``,
``spearmanr``); ``tests/test_jain.py`` checks these kernels against it.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of the finite entries of each row (NaN rows positions get NaN); no ties assumed."""
    filled = np.where(np.isfinite(x), x, np.inf)
    order = np.argsort(filled, axis=-1, kind="stable")
    ranks = np.empty_like(filled)
    np.put_along_axis(ranks, order, np.arange(1, x.shape[-1] + 1, dtype=float)[None, :].repeat(x.shape[0], 0), axis=-1)
    return np.where(np.isfinite(x), ranks, np.nan)


def mann_whitney(x: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUC = P(x in group True > x in group False) and two-sided P, per row.

    Normal approximation with continuity correction, as scipy's ``method="asymptotic"``
    (continuous markers: no tie correction needed).
    """
    x, group = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(group, bool))
    ok = np.isfinite(x)
    ranks = _ranks(x)
    n1 = np.sum(ok & group, axis=1).astype(float)
    n2 = np.sum(ok & ~group, axis=1).astype(float)
    u1 = np.nansum(np.where(group, ranks, 0.0), axis=1) - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    sd = np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (np.abs(u1 - mu) - 0.5) / sd
        p = np.minimum(1.0, 2 * stats.norm.sf(z))
        auc = u1 / (n1 * n2)
    return auc, p


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman rho and two-sided P (t approximation, as scipy), over pairs measured in both."""
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    both = np.isfinite(x) & np.isfinite(y)
    rx, ry = _ranks(np.where(both, x, np.nan)), _ranks(np.where(both, y, np.nan))
    n = both.sum(axis=1).astype(float)
    rx, ry = rx - np.nanmean(rx, axis=1, keepdims=True), ry - np.nanmean(ry, axis=1, keepdims=True)
    rho = np.nansum(rx * ry, axis=1) / np.sqrt(np.nansum(rx**2, axis=1) * np.nansum(ry**2, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rho * np.sqrt((n - 2) / (1 - rho**2))
    p = 2 * stats.t.sf(np.abs(t), n - 2)
    return rho, p


def median_ratio(x: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Median of x in group True over median in group False, per row."""
    x, group = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(group, bool))
    return np.nanmedian(np.where(group, x, np.nan), axis=1) / np.nanmedian(np.where(~group, x, np.nan), axis=1)


def bootstrap_median_ratio(rng: np.random.Generator, x: np.ndarray, group: np.ndarray,
                           draws: int = 2000, level: float = 0.95) -> tuple[float, float]:  # fmt: skip
    """Percentile CI of the median ratio, resampling patients within each group."""
    ok = np.isfinite(x)
    a, b = x[ok & group], x[ok & ~group]
    med_a = np.median(a[rng.integers(0, a.size, (draws, a.size))], axis=1)
    med_b = np.median(b[rng.integers(0, b.size, (draws, b.size))], axis=1)
    q = (1 - level) / 2
    lo, hi = np.quantile(med_a / med_b, [q, 1 - q])
    return float(lo), float(hi)


def implied_auc(p: float, n1: float, n2: float) -> float:
    """The AUC whose Mann-Whitney normal approximation gives two-sided ``p`` with groups n1, n2."""
    z = stats.norm.isf(p / 2)
    return 0.5 + z * np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12) / (n1 * n2)


def p_from_auc(auc: float, n1: float, n2: float) -> float:
    """Two-sided P the normal approximation gives for ``auc`` at group sizes n1, n2 (inverse of implied_auc)."""
    z = abs(auc - 0.5) * n1 * n2 / np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return float(2 * stats.norm.sf(z))


def power(auc: float, n1: float, n2: float, alpha: float = 0.05) -> float:
    """Approximate power of a two-sided Mann-Whitney test (Noether: null SD, shift of AUC - 0.5)."""
    se = np.sqrt((n1 + n2 + 1) / (12 * n1 * n2))
    z = abs(auc - 0.5) / se
    crit = stats.norm.isf(alpha / 2)
    return float(stats.norm.cdf(z - crit) + stats.norm.cdf(-z - crit))
