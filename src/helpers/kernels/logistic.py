"""Logistic regression by Newton–Raphson across replicate cohorts (equals statsmodels ``Logit``).

Same robustness rules as the Cox kernel: step halving on the log likelihood, and a replicate
with (quasi-)complete separation — the likelihood has no maximum, coefficients run off — or a
singular information matrix is flagged ``converged = False`` and gets NaN estimates by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

from ._common import Z95, as_batch, complete_case, wald_summary, weighted_gram, well_conditioned

MAX_ABS_BETA = 30.0  # |log OR| > 30 only arises under separation (fitted probabilities 0 or 1)


@dataclass
class LogitFit:
    """Per-replicate results; arrays (R, k) (intercept first when added) except the (R,) ones."""

    beta: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    odds_ratio: np.ndarray
    or_lo: np.ndarray
    or_hi: np.ndarray
    loglik: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def _loglik(y, x, w, beta):
    eta = np.einsum("rnk,rk->rn", x, beta)
    return (w * (y * log_expit(eta) + (1 - y) * log_expit(-eta))).sum(1), eta


def logistic_fit(y, x, mask=None, *, add_intercept: bool = True, max_iter: int = 50,
                 tol: float = 1e-10, nan_if_unconverged: bool = True, z: float = Z95) -> LogitFit:  # fmt: skip
    """Fit ``logit P(y = 1) = x beta`` to each replicate: ``y`` (R, n) 0/1, ``x`` (R, n, k) or (R, n)."""
    ya = as_batch(y, "y")
    xa = np.asarray(x, dtype=float)
    if xa.shape == np.shape(y):
        xa = xa[..., None]
    xa = as_batch(xa, "x", ndim=3)
    if xa.shape[:2] != ya.shape:
        raise ValueError(f"x must be shaped (R, n, k) with (R, n) = {ya.shape}; got {xa.shape}")
    keep = complete_case(ya, mask, xa)
    if not np.isin(ya[keep], (0.0, 1.0)).all():
        raise ValueError("y must be 0/1 (or boolean)")
    w = keep.astype(float)
    yw = np.where(keep, ya, 0.0)
    xw = np.where(keep[..., None], xa, 0.0)
    if add_intercept:
        xw = np.concatenate([np.ones(ya.shape + (1,)), xw], axis=2)
    r_all, _, k = xw.shape
    beta = np.zeros((r_all, k))
    info = np.full((r_all, k, k), np.nan)
    loglik = np.full(r_all, np.nan)
    iters = np.zeros(r_all, dtype=int)
    converged = np.zeros(r_all, dtype=bool)
    active = np.arange(r_all)
    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        ys, xs, ws, b_old = yw[active], xw[active], w[active], beta[active]
        ll, eta = _loglik(ys, xs, ws, b_old)
        prob = expit(eta)
        grad = np.einsum("rn,rnk->rk", ws * (ys - prob), xs)
        info_act = weighted_gram(ws * prob * (1 - prob), xs)
        info[active] = info_act
        loglik[active] = ll
        step = np.full_like(grad, np.nan)
        ok = well_conditioned(info_act)
        if ok.any():
            step[ok] = np.linalg.solve(info_act[ok], grad[ok][..., None])[..., 0]
        bad = ~ok
        b_new = b_old + np.where(bad[:, None], 0.0, step)
        ll_new, _ = _loglik(ys, xs, ws, b_new)
        for _ in range(30):
            worse = ~(ll_new >= ll - 1e-12) & ~bad
            if not worse.any():
                break
            b_new = np.where(worse[:, None], b_old + (b_new - b_old) / 2, b_new)
            ll_new, _ = _loglik(ys, xs, ws, b_new)
        beta[active] = b_new
        iters[active] = it
        done = (np.abs(b_new - b_old).max(1) < tol) & ~bad
        diverged = bad | (np.abs(b_new).max(1) > MAX_ABS_BETA)
        converged[active[done & ~diverged]] = True
        active = active[~(done | diverged)]
    # information at the final estimate (the loop stored it one step earlier)
    ll, eta = _loglik(yw, xw, w, beta)
    prob = expit(eta)
    info = weighted_gram(w * prob * (1 - prob), xw)
    loglik = ll
    beta, se, zstat, p, odds, lo, hi, converged = wald_summary(info, beta, converged, nan_if_unconverged, z)
    return LogitFit(beta, se, zstat, p, odds, lo, hi, loglik, converged, iters)
