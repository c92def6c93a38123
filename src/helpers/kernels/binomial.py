"""Binomial proportions across replicate cohorts: share with the exact (Clopper–Pearson) 95% CI.

Equals ``statsmodels.stats.proportion.proportion_confint(k, n, method="beta")`` and
``scipy.stats.binomtest(k, n).proportion_ci(method="exact")`` (tests/test_kernels_binomial.py):
the interval inverts two one-sided binomial tests, each at half the level, so it covers at least
95% whatever the true share (conservative, never below).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

LEVEL = 0.95


def clopper_pearson(count, n, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(share, lower, upper) for ``count`` successes of ``n`` (arrays of any matching shape).

    The lower bound is 0 when ``count`` is 0 and the upper bound 1 when ``count`` equals ``n``;
    everything is NaN where ``n`` is 0 (no patients: no share).
    """
    k = np.asarray(count, dtype=float)
    m = np.asarray(n, dtype=float)
    if np.any((k < 0) | (k > m)):
        raise ValueError("clopper_pearson needs 0 <= count <= n")
    alpha = 1.0 - level
    empty = m <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(empty, np.nan, k / np.where(empty, 1.0, m))
        lower = np.where(k > 0, stats.beta.ppf(alpha / 2, np.maximum(k, 1e-300), m - k + 1), 0.0)
        upper = np.where(k < m, stats.beta.ppf(1 - alpha / 2, k + 1, np.maximum(m - k, 1e-300)), 1.0)
    return share, np.where(empty, np.nan, lower), np.where(empty, np.nan, upper)
