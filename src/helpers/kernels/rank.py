"""Rank statistics for one sample or a batch of samples at once (rows = replicates).

Missing values are NaN; each row may have its own number of measured values and its own group
sizes. Continuous data are assumed (no ties). The single-sample references are scipy's
``mannwhitneyu(method="asymptotic")`` and ``spearmanr`` (``tests/test_kernels_rank.py``):

- ``mann_whitney``: AUC = P(X in group True > X in group False) and the two-sided P of the
  normal approximation with continuity correction (scipy's ``method="asymptotic"``);
- ``spearman`` / ``pearson``: correlation and two-sided P (t approximation, as scipy), over the
  pairs measured in both (Spearman is Pearson on ranks);
- ``nanquantile``: numpy's ``nanquantile`` along rows, vectorised;
- ``median_ratio`` and ``bootstrap_median_ratio``: ratio of group medians and its stratified
  percentile bootstrap CI;
- ``implied_auc`` / ``p_from_auc`` / ``mann_whitney_power``: the AUC a printed Mann-Whitney P
  stands for at given group sizes (normal approximation without continuity correction), its
  inverse, and the Noether power of a two-sided test.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of the finite entries of each row (NaN where the entry is NaN); no ties assumed."""
    x = np.atleast_2d(np.asarray(x, float))
    filled = np.where(np.isfinite(x), x, np.inf)
    order = np.argsort(filled, axis=-1, kind="stable")
    out = np.empty_like(filled)
    np.put_along_axis(out, order, np.broadcast_to(np.arange(1, x.shape[-1] + 1, dtype=float), x.shape), axis=-1)
    return np.where(np.isfinite(x), out, np.nan)


def mann_whitney(x: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUC = P(x in group True > x in group False) and two-sided P, per row (NaN x: not measured)."""
    x, group = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(group, bool))
    ok = np.isfinite(x)
    r = ranks(x)
    n1 = np.sum(ok & group, axis=1).astype(float)
    n2 = np.sum(ok & ~group, axis=1).astype(float)
    u1 = np.nansum(np.where(group, r, 0.0), axis=1) - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    sd = np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (np.abs(u1 - mu) - 0.5) / sd
        p = np.minimum(1.0, 2 * stats.norm.sf(z))
        auc = u1 / (n1 * n2)
    return auc, p


def pearson(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r and two-sided P (t with n - 2 df, as scipy), per row, over pairs measured in both."""
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    both = np.isfinite(x) & np.isfinite(y)
    return _correlation(np.where(both, x, np.nan), np.where(both, y, np.nan), both)


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman rho and two-sided P (t approximation, as scipy), per row, over pairs measured in both."""
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    both = np.isfinite(x) & np.isfinite(y)
    return _correlation(ranks(np.where(both, x, np.nan)), ranks(np.where(both, y, np.nan)), both)


def _correlation(x: np.ndarray, y: np.ndarray, both: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = both.sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx, dy = x - np.nanmean(x, axis=1, keepdims=True), y - np.nanmean(y, axis=1, keepdims=True)
        r = np.nansum(dx * dy, axis=1) / np.sqrt(np.nansum(dx**2, axis=1) * np.nansum(dy**2, axis=1))
        r = np.clip(r, -1.0, 1.0)
        t = r * np.sqrt((n - 2) / (1 - r**2))
    p = 2 * stats.t.sf(np.abs(t), n - 2)
    return r, p


def nanquantile(x: np.ndarray, q: float) -> np.ndarray:
    """``np.nanquantile(x, q, axis=1)`` (linear interpolation), per row, without numpy's per-row loop."""
    x = np.atleast_2d(np.asarray(x, float))
    k = np.isfinite(x).sum(axis=1)
    s = np.sort(np.where(np.isfinite(x), x, np.inf), axis=1)  # measured values first, in order
    pos = (k - 1) * q
    lo = np.clip(np.floor(pos).astype(int), 0, x.shape[1] - 1)
    hi = np.clip(lo + 1, 0, np.maximum(k - 1, 0))
    rows = np.arange(x.shape[0])
    a, b = s[rows, lo], s[rows, hi]
    t = pos - lo
    with np.errstate(invalid="ignore"):
        d = b - a
        out = np.where(t >= 0.5, b - d * (1 - t), a + d * t)  # numpy's _lerp, to the last bit
        out = np.where(t == 0, a, out)  # no interpolation needed (also keeps inf - inf away)
    return np.where(k > 0, out, np.nan)


def median_ratio(x: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Median of x in group True over median in group False, per row."""
    x, group = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(group, bool))
    return nanquantile(np.where(group, x, np.nan), 0.5) / nanquantile(np.where(~group, x, np.nan), 0.5)


def bootstrap_median_ratio(rng: np.random.Generator, x: np.ndarray, group: np.ndarray,
                           draws: int = 2000, level: float = 0.95) -> tuple[float, float]:  # fmt: skip
    """Percentile CI of the median ratio of one sample, resampling within each group."""
    x, group = np.asarray(x, float), np.asarray(group, bool)
    ok = np.isfinite(x)
    a, b = x[ok & group], x[ok & ~group]
    med_a = np.median(a[rng.integers(0, a.size, (draws, a.size))], axis=1)
    med_b = np.median(b[rng.integers(0, b.size, (draws, b.size))], axis=1)
    q = (1 - level) / 2
    lo, hi = np.quantile(med_a / med_b, [q, 1 - q])
    return float(lo), float(hi)


def implied_auc(p: float, n1: float, n2: float) -> float:
    """The AUC (>= 0.5) whose Mann-Whitney normal approximation gives two-sided ``p`` for groups n1, n2."""
    z = stats.norm.isf(p / 2)
    return float(0.5 + z * np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12) / (n1 * n2))


def p_from_auc(auc: float, n1: float, n2: float) -> float:
    """Two-sided P the normal approximation gives for ``auc`` at group sizes n1, n2 (inverse of implied_auc)."""
    z = abs(auc - 0.5) * n1 * n2 / np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return float(2 * stats.norm.sf(z))


def mann_whitney_power(auc: float, n1: float, n2: float, alpha: float = 0.05) -> float:
    """Approximate power of a two-sided Mann-Whitney test (Noether: null SD, shift of AUC - 0.5)."""
    se = np.sqrt((n1 + n2 + 1) / (12 * n1 * n2))
    z = abs(auc - 0.5) / se
    crit = stats.norm.isf(alpha / 2)
    return float(stats.norm.cdf(z - crit) + stats.norm.cdf(-z - crit))
