"""Odds ratios: the Wald record every odds-ratio fit returns, and the 2 x 2 table across replicates.

``two_by_two`` is the odds ratio of a binary outcome for a binary covariate with Woolf's
(log-scale Wald) 95% CI and P, for R replicate data sets at once. It equals ordinary logistic
regression on that one covariate (statsmodels ``Logit``: the saturated model reproduces the
table), so it is the "lesions independent" analysis of clustered data, computed in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ._common import Z95, as_batch


@dataclass(frozen=True)
class OddsRatio:
    """One fitted odds ratio: estimate, Wald 95% CI and P, on the log scale too."""

    odds_ratio: float
    lo: float
    hi: float
    p: float
    log_or: float
    se: float
    alpha: float = float("nan")  # working correlation (GEE only)


def wald(log_or: float, se: float, alpha: float = float("nan"), z: float = Z95) -> OddsRatio:
    """The Wald record of a log odds ratio and its standard error."""
    stat = log_or / se
    return OddsRatio(float(np.exp(log_or)), float(np.exp(log_or - z * se)), float(np.exp(log_or + z * se)),
                     float(2 * special.ndtr(-abs(stat))), float(log_or), float(se), float(alpha))  # fmt: skip


@dataclass(frozen=True)
class TwoByTwo:
    """Per replicate (R,): odds ratio, Woolf 95% CI, Wald P; NaN where a cell of the table is 0."""

    odds_ratio: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    p: np.ndarray
    log_or: np.ndarray
    se: np.ndarray
    cells: np.ndarray  # (R, 4): x=1 & y=1, x=1 & y=0, x=0 & y=1, x=0 & y=0


def two_by_two(y, x, mask=None, z: float = Z95) -> TwoByTwo:
    """Odds ratio of ``y`` (R, n) 0/1 for ``x`` (R, n) 0/1, per replicate (a 1-D input is one data set).

    ``mask`` (R, n): False drops an observation. A table with an empty cell has no finite odds
    ratio (logistic regression does not converge there either): NaN.
    """
    ya, xa = as_batch(y, "y"), as_batch(x, "x")
    if ya.shape != xa.shape:
        raise ValueError(f"y and x must have one shape; got {ya.shape} and {xa.shape}")
    if not (np.isin(ya, (0.0, 1.0)).all() and np.isin(xa, (0.0, 1.0)).all()):
        raise ValueError("y and x must hold 0 or 1 only")
    keep = np.ones(ya.shape) if mask is None else np.broadcast_to(np.asarray(mask, bool), ya.shape).astype(float)
    a = (keep * xa * ya).sum(1)
    b = (keep * xa).sum(1) - a
    c = (keep * ya).sum(1) - a
    d = keep.sum(1) - a - b - c
    cells = np.column_stack([a, b, c, d])
    ok = cells.min(axis=1) > 0
    safe = np.where(ok[:, None], cells, 1.0)
    log_or = np.where(ok, np.log(safe[:, 0] * safe[:, 3] / (safe[:, 1] * safe[:, 2])), np.nan)
    se = np.where(ok, np.sqrt((1.0 / safe).sum(axis=1)), np.nan)
    p = 2 * special.ndtr(-np.abs(log_or / se))
    return TwoByTwo(np.exp(log_or), np.exp(log_or - z * se), np.exp(log_or + z * se), p, log_or, se, cells)
