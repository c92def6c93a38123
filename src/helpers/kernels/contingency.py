"""Tests of association in contingency tables across replicate cohorts, without Python loops.

- ``fisher_2x2``: Fisher's exact test of 2 x 2 tables, two-sided, exact (the hypergeometric
  probabilities of every table with the same margins, evaluated for all replicates at once);
  equals ``scipy.stats.fisher_exact``. For 2 x k tables see ``helpers.kernels.exact`` (Monte Carlo).
- ``chi2_test``: Pearson's chi-squared test of r x c tables, with Yates' continuity correction
  for 1 degree of freedom when ``correction`` (the default of ``scipy.stats.chi2_contingency``
  and of R's ``chisq.test``); rows or columns with no patients drop out of the degrees of freedom.
- ``tables``: the (R, r, c) tables of two integer-coded variables, per replicate.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

# scipy's fisher_exact counts tables "at most as probable" within this relative tolerance
FISHER_RELATIVE_TOLERANCE = 1e-14


def tables(rows, cols, n_rows: int, n_cols: int, mask=None) -> np.ndarray:
    """Counts (R, n_rows, n_cols) of integer codes ``rows`` x ``cols`` (R, n); NaN or mask drops."""
    r = np.atleast_2d(np.asarray(rows, dtype=float))
    c = np.atleast_2d(np.asarray(cols, dtype=float))
    keep = np.isfinite(r) & np.isfinite(c)
    if mask is not None:
        keep &= np.atleast_2d(np.asarray(mask, dtype=bool))
    cell = np.where(keep, np.nan_to_num(r).astype(int) * n_cols + np.nan_to_num(c).astype(int), -1)
    if (keep & ((cell < 0) | (cell >= n_rows * n_cols))).any():
        raise ValueError(f"codes must lie in 0..{n_rows - 1} (rows) and 0..{n_cols - 1} (columns)")
    onehot = cell[..., None] == np.arange(n_rows * n_cols)
    return onehot.sum(1).reshape(len(r), n_rows, n_cols).astype(float)


def fisher_2x2(table) -> np.ndarray:
    """Two-sided exact P per replicate of 2 x 2 tables ``table`` (R, 2, 2) (or one (2, 2))."""
    t = np.asarray(table, dtype=float)
    if t.ndim == 2:
        t = t[None]
    if t.shape[1:] != (2, 2):
        raise ValueError(f"fisher_2x2 needs (R, 2, 2) tables; got {t.shape}")
    a = t[:, 0, 0]
    row1 = t[:, 0].sum(1)
    col1 = t[:, :, 0].sum(1)
    total = t.sum((1, 2))
    x = np.arange(int(total.max()) + 1 if total.size else 1)[None, :]
    with np.errstate(invalid="ignore"):
        pmf = stats.hypergeom.pmf(x, total[:, None], row1[:, None], col1[:, None])
        observed = stats.hypergeom.pmf(a[:, None], total[:, None], row1[:, None], col1[:, None])
    pmf = np.nan_to_num(pmf)
    p = np.where(pmf <= observed * (1 + FISHER_RELATIVE_TOLERANCE), pmf, 0.0).sum(1)
    degenerate = (row1 == 0) | (row1 == total) | (col1 == 0) | (col1 == total)
    return np.where(degenerate, 1.0, np.minimum(p, 1.0))


def chi2_test(table, correction: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson chi-squared (statistic, df, P) per replicate of r x c tables (R, r, c).

    NaN where fewer than two rows or two columns have patients (no test possible).
    """
    t = np.asarray(table, dtype=float)
    if t.ndim == 2:
        t = t[None]
    row = t.sum(2, keepdims=True)
    col = t.sum(1, keepdims=True)
    total = t.sum((1, 2), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = row * col / total
    df = ((row[:, :, 0] > 0).sum(1) - 1) * ((col[:, 0, :] > 0).sum(1) - 1)
    diff = t - expected
    if correction:  # Yates: |O - E| shrunk by 1/2 (never past 0) when df = 1, as scipy and R do
        yates = (df == 1)[:, None, None]
        diff = np.where(yates, np.sign(diff) * np.maximum(np.abs(diff) - 0.5, 0.0), diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, diff**2 / expected, 0.0)
    stat = terms.sum((1, 2))
    ok = df >= 1
    stat = np.where(ok, stat, np.nan)
    p = np.where(ok, stats.chi2.sf(stat, np.maximum(df, 1)), np.nan)
    return stat, df.astype(float), p
