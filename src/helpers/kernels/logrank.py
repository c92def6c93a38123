"""Log-rank test for k groups across replicate cohorts (equals lifelines' ``multivariate_logrank_test``).

At each distinct event time the observed deaths per group are compared with those expected
under a common hazard; the statistic is (O - E)' V^- (O - E) with the hypergeometric
covariance V, chi-square on (number of groups present - 1) degrees of freedom.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._common import as_batch, complete_case, sort_by_time


def logrank(time, event, group, mask=None, n_groups: int | None = None):
    """Return ``(chi2, df, p)`` arrays (R,). ``group`` holds integer labels 0 .. n_groups-1.

    A group with no patients in a replicate lowers that replicate's df (pseudo-inverse of V);
    with fewer than two groups present, or no events, the result is NaN.
    """
    t = as_batch(time, "time")
    e = as_batch(event, "event")
    g = as_batch(group, "group")
    keep = complete_case(t, mask, e, g)
    gi = np.where(keep, g, 0).astype(int)
    if (gi < 0).any():
        raise ValueError("group labels must be integers 0 .. n_groups-1")
    k = int(gi.max()) + 1 if n_groups is None else int(n_groups)
    s = sort_by_time(t, e, keep)
    onehot = (s.take(gi)[..., None] == np.arange(k)).astype(float) * s.keep[..., None]  # (R, n, k)
    at_risk_g = s.at_risk(onehot)  # (R, n, k)
    deaths_g = s.group_sum(onehot * s.event[..., None])
    at_risk = at_risk_g.sum(-1)
    deaths = deaths_g.sum(-1)
    use = s.last & (deaths > 0) & (at_risk > 0)
    n_safe = np.where(use, at_risk, 1.0)
    share = at_risk_g / n_safe[..., None]  # (R, n, k)
    o_minus_e = np.where(use[..., None], deaths_g - deaths[..., None] * share, 0.0).sum(1)
    # hypergeometric factor d (N - d) / (N - 1); 0 when a single patient is at risk
    factor = np.where(use & (at_risk > 1), deaths * (at_risk - deaths) / np.maximum(n_safe - 1, 1), 0.0)
    cov = np.einsum("rn,rnk,kl->rkl", factor, share, np.eye(k)) - np.einsum(
        "rn,rnk,rnl->rkl", factor, share, share
    )
    present = onehot.sum(1) > 0  # (R, k)
    df = present.sum(1) - 1
    inv = np.linalg.pinv(cov, rcond=1e-10, hermitian=True)
    chi2 = np.einsum("rk,rkl,rl->r", o_minus_e, inv, o_minus_e)
    ok = (df >= 1) & (s.event.sum(1) > 0)  # no events: nothing to compare
    chi2 = np.where(ok, chi2, np.nan)
    p = np.where(ok, stats.chi2.sf(chi2, np.maximum(df, 1)), np.nan)
    return chi2, df.astype(float), p
