"""Area under the ROC curve with DeLong's variance, and the paired difference of two AUCs,
for R replicate cohorts at once.

DeLong, DeLong & Clarke-Pearson, Biometrics 1988;44:837. The AUC of a score for a binary
outcome is the Mann-Whitney probability P(score of a positive > score of a negative) (ties count
one half). Its structural components are V10 (per positive: the share of negatives it beats) and
V01 (per negative: the share of positives that beat it); the variance is
var(V10) / m + var(V01) / n (m positives, n negatives, sample variances), and for two scores
on the same patients the paired difference takes the variance of the differences of the
components. The components come from midranks (no n x n comparison matrix). CIs are Wald (estimate +/- z SE) and, for a single AUC, clipped to [0, 1]; P values
two-sided normal. A replicate with only one outcome class gets NaN.

Inputs: ``score`` and ``y`` shaped (R, n), or (n,) for one cohort (results then keep a leading
axis of length 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

Z95 = float(stats.norm.ppf(0.975))


@dataclass
class AUC:
    """Per replicate (arrays of shape (R,)): AUC, DeLong SE, Wald CI, and the class sizes."""

    auc: np.ndarray
    se: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray


@dataclass
class AUCDifference:
    """Per replicate: AUC(a) - AUC(b) on the same patients, paired DeLong SE, Wald CI, two-sided P."""

    difference: np.ndarray
    se: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    p: np.ndarray


def _batch(score, y) -> tuple[np.ndarray, np.ndarray]:
    s = np.atleast_2d(np.asarray(score, dtype=float))
    yy = np.atleast_2d(np.asarray(y))
    if s.shape != yy.shape:
        raise ValueError(f"score and y must have one shape (R, n) or (n,); got {s.shape} and {yy.shape}")
    if not np.isin(yy, (0, 1)).all():
        raise ValueError("y must be 0/1 (or boolean)")
    if np.isnan(s).any():
        raise ValueError("score has NaN: drop those patients first")
    return s, yy.astype(bool)


@dataclass
class Components:
    """DeLong's structural components of one score: V10 (R, n) on the positives (0 elsewhere), V01
    on the negatives, the outcome mask and the class sizes m (positives) and n (negatives)."""

    v10: np.ndarray
    v01: np.ndarray
    positive: np.ndarray
    m: np.ndarray
    n: np.ndarray


def components(score, y) -> Components:
    """DeLong's components from midranks (Sun & Xu, IEEE Signal Process Lett 2014;21:1389):
    V10_i = (rank of i among all - rank among positives) / n, V01_j = 1 - (rank of j among all -
    rank among negatives) / m; ties count one half. O(n log n) per replicate."""
    s, pos = _batch(score, y)
    neg = ~pos
    m, n = pos.sum(1), neg.sum(1)
    r_all = stats.rankdata(s, axis=1)
    # ranks within one class: the other class moved above every score, which leaves these ranks alone
    r_pos = stats.rankdata(np.where(pos, s, np.inf), axis=1)
    r_neg = stats.rankdata(np.where(neg, s, np.inf), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        v10 = np.where(pos, (r_all - r_pos) / n[:, None], 0.0)
        v01 = np.where(neg, 1.0 - (r_all - r_neg) / m[:, None], 0.0)
    return Components(v10, v01, pos, m, n)


def _as_components(score, y) -> Components:
    return score if isinstance(score, Components) else components(score, y)


def _mean_var(v: np.ndarray, mask: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(mask, v, 0.0).sum(1) / k
        var = np.where(mask, (v - mean[:, None]) ** 2, 0.0).sum(1) / (k - 1)
    return mean, var


def auc(score, y=None, *, z: float = Z95) -> AUC:
    """AUC of ``score`` for ``y`` per replicate, with DeLong SE and Wald CI (clipped to [0, 1]).
    ``score`` may be ``Components`` already computed (then ``y`` is not needed)."""
    c = _as_components(score, y)
    est, var10 = _mean_var(c.v10, c.positive, c.m)
    _, var01 = _mean_var(c.v01, ~c.positive, c.n)
    ok = (c.m >= 2) & (c.n >= 2)
    est = np.where((c.m > 0) & (c.n > 0), est, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(ok, np.sqrt(var10 / c.m + var01 / c.n), np.nan)
    return AUC(est, se, np.clip(est - z * se, 0, 1), np.clip(est + z * se, 0, 1), c.m, c.n)


def auc_difference(score_a, score_b, y=None, *, z: float = Z95) -> AUCDifference:
    """AUC(a) - AUC(b) per replicate on the same patients, with the paired DeLong SE and P
    (either score may be ``Components``)."""
    a, b = _as_components(score_a, y), _as_components(score_b, y)
    if not np.array_equal(a.positive, b.positive):
        raise ValueError("the two scores must be compared on the same patients and outcome")
    d10_mean, d10_var = _mean_var(a.v10 - b.v10, a.positive, a.m)
    _, d01_var = _mean_var(a.v01 - b.v01, ~a.positive, a.n)
    ok = (a.m >= 2) & (a.n >= 2)
    d = np.where((a.m > 0) & (a.n > 0), d10_mean, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(ok, np.sqrt(d10_var / a.m + d01_var / a.n), np.nan)
        p = np.where(se > 0, 2 * stats.norm.sf(np.abs(d) / se), np.nan)
    return AUCDifference(d, se, d - z * se, d + z * se, p)
