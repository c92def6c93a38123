"""Welch's two-sample t-test for one sample or a batch of samples at once (rows = replicates).

Missing values are NaN; each row may have its own group sizes. The single-sample reference is
``scipy.stats.ttest_ind(a, b, equal_var=False)`` (``tests/test_kernels_welch.py``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def welch(x: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean difference, t, Welch-Satterthwaite df, two-sided P) of group True minus group False, per row."""
    x, group = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(group, bool))
    ok = np.isfinite(x)
    a, b = ok & group, ok & ~group
    n1, n2 = a.sum(axis=1).astype(float), b.sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        m1 = np.where(a, x, 0.0).sum(axis=1) / n1
        m2 = np.where(b, x, 0.0).sum(axis=1) / n2
        v1 = np.where(a, (x - m1[:, None]) ** 2, 0.0).sum(axis=1) / (n1 - 1)
        v2 = np.where(b, (x - m2[:, None]) ** 2, 0.0).sum(axis=1) / (n2 - 1)
        s1, s2 = v1 / n1, v2 / n2
        t = (m1 - m2) / np.sqrt(s1 + s2)
        df = (s1 + s2) ** 2 / (s1**2 / (n1 - 1) + s2**2 / (n2 - 1))
    p = 2 * stats.t.sf(np.abs(t), df)
    return m1 - m2, t, df, p


def implied_t(p: float, df: float) -> float:
    """The |t| whose two-sided P is ``p`` with ``df`` degrees of freedom."""
    return float(stats.t.isf(p / 2, df))
