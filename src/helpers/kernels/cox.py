"""Cox proportional hazards by Newton–Raphson across replicate cohorts (Efron or Breslow ties).

lifelines' ``CoxPHFitter`` uses Efron's approximation for tied event times (and penalizer 0 by
default); ``ties="efron"`` here reproduces it. Each replicate is fitted separately but all at
once: the partial-likelihood gradient and Hessian are built with cumulative sums over the
time-sorted rows, so the cost is a few numpy passes per Newton step, whatever R is.

Robustness: Newton steps are halved (up to 30 times) whenever the log partial likelihood
does not improve; a replicate that has not converged after ``max_iter`` steps, or whose
coefficients run off to infinity (monotone likelihood, e.g. a binary covariate with no events
in one arm), or whose information matrix is singular, is flagged ``converged = False`` and,
by default, gets NaN estimates instead of meaningless huge ones. Nothing raises for such data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import (
    Z95,
    Sorted,
    as_batch,
    complete_case,
    sort_by_time,
    wald_summary,
    weighted_gram,
    well_conditioned,
)

MAX_ABS_BETA = 20.0  # |log HR| > 20 (HR > 5e8) only arises when the likelihood has no maximum


@dataclass
class CoxFit:
    """Per-replicate results; arrays (R, k) except ``converged``/``iterations``/``loglik`` (R,)."""

    beta: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    hr: np.ndarray
    hr_lo: np.ndarray
    hr_hi: np.ndarray
    loglik: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def _tie_fractions(s: Sorted, ties: str) -> np.ndarray:
    """Efron: the l-th of d tied deaths (l = 0..d-1) removes l/d of the tied deaths' weight."""
    if ties == "breslow":
        return np.zeros_like(s.event)
    n_dead = s.group_sum(s.event)
    return np.where(s.event > 0, s.rank_in_group(s.event) / np.maximum(n_dead, 1), 0.0)


def _pieces(s: Sorted, x: np.ndarray, frac: np.ndarray, beta: np.ndarray, need: str = "all"):
    """Log partial likelihood (and gradient, information) at ``beta`` for every replicate.

    Each death i contributes eta_i - log(den_i), den_i = S0(t_i) - frac_i D0(t_i), where S0 sums
    exp(eta) over the risk set and D0 over the deaths tied at t_i. The information sum
    sum_i [S2(t_i) - frac_i D2(t_i)] / den_i is regrouped per patient j as
    x_j x_j' (w_j A_j - dw_j B_j), A_j = sum of 1/den_i over deaths with t_i <= t_j and
    B_j = sum of frac_i/den_i over deaths tied with j, so no (R, n, k, k) cumulative sums.
    """
    eta = np.einsum("rnk,rk->rn", x, beta)
    # centre eta per replicate for numerical safety (the likelihood is shift invariant)
    shift = np.where(s.keep > 0, eta, -np.inf).max(axis=1, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    w = np.exp(eta - shift) * s.keep
    dw = w * s.event
    ev = s.event > 0
    s0 = s.at_risk(w)
    d0 = s.group_sum(dw)
    den = np.where(ev, s0 - frac * d0, 1.0)
    loglik = np.where(ev, eta - shift - np.log(den), 0.0).sum(1)
    if need == "loglik":
        return loglik, None, None
    s1 = s.at_risk(w[..., None] * x)
    d1 = s.group_sum(dw[..., None] * x)
    mean1 = (s1 - frac[..., None] * d1) / den[..., None]
    grad = (s.event[..., None] * (x - mean1)).sum(1)
    inv_den = s.event / den
    a = s.cum_through_group(inv_den)
    b = s.group_sum(inv_den * frac)
    weight = w * a - dw * b
    info = weighted_gram(weight, x) - weighted_gram(s.event, mean1)
    return loglik, grad, info


def cox_fit(time, event, x, mask=None, *, ties: str = "efron", max_iter: int = 50,
            tol: float = 1e-9, nan_if_unconverged: bool = True, z: float = Z95) -> CoxFit:  # fmt: skip
    """Fit a Cox model to each replicate: ``time``, ``event`` (R, n); ``x`` (R, n, k) or (R, n).

    Convergence: largest absolute Newton step < ``tol`` (on the log-HR scale). A |log HR|
    above ``MAX_ABS_BETA`` counts as divergence, so give covariates natural units (age per
    10 years, not per day-fraction). Returns a ``CoxFit``; ``hr_lo``/``hr_hi`` are Wald 95%
    limits exp(beta -+ z se), as lifelines prints them.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties={ties!r} is not allowed: use 'efron' or 'breslow'")
    t = as_batch(time, "time")
    e = as_batch(event, "event")
    xa = np.asarray(x, dtype=float)
    if xa.shape == np.shape(time):  # one covariate given as (R, n) or (n,)
        xa = xa[..., None]
    xa = as_batch(xa, "x", ndim=3)
    if xa.shape[:2] != t.shape:
        raise ValueError(f"x must be shaped (R, n, k) with (R, n) = {t.shape}; got {xa.shape}")
    keep = complete_case(t, mask, e, xa)
    s = sort_by_time(t, e, keep)
    xs = np.where(s.keep[..., None] > 0, s.take(np.where(keep[..., None], xa, 0.0)), 0.0)
    # centring the covariates does not change beta but keeps exp() and the sums well scaled
    n_keep = np.maximum(s.keep.sum(1), 1)
    xs = (xs - (xs.sum(1) / n_keep[:, None])[:, None, :]) * s.keep[..., None]
    r_all, _, k = xs.shape

    beta = np.zeros((r_all, k))
    info = np.full((r_all, k, k), np.nan)
    loglik = np.full(r_all, np.nan)
    iters = np.zeros(r_all, dtype=int)
    converged = np.zeros(r_all, dtype=bool)
    active = np.flatnonzero(s.event.sum(1) > 0)  # no events: nothing to fit
    sub = s.subset(active)
    x_act = xs[active]
    frac = _tie_fractions(sub, ties)
    ll, grad, info_act = _pieces(sub, x_act, frac, beta[active])
    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        step = _solve(info_act, grad)
        bad = ~np.isfinite(step).all(1)
        b_old = beta[active]
        b_new = b_old + np.where(bad[:, None], 0.0, step)
        ll_new, _, _ = _pieces(sub, x_act, frac, b_new, need="loglik")
        # halve the step while the log partial likelihood gets worse
        for _ in range(30):
            worse = ~(ll_new >= ll - 1e-12) & ~bad
            if not worse.any():
                break
            b_new = np.where(worse[:, None], b_old + (b_new - b_old) / 2, b_new)
            ll_new, _, _ = _pieces(sub, x_act, frac, b_new, need="loglik")
        beta[active] = b_new
        iters[active] = it
        ll, grad, info_act = _pieces(sub, x_act, frac, b_new)
        loglik[active] = ll
        info[active] = info_act
        done = (np.abs(b_new - b_old).max(1) < tol) & ~bad
        diverged = bad | (np.abs(b_new).max(1) > MAX_ABS_BETA)
        converged[active[done & ~diverged]] = True
        stay = ~(done | diverged)
        active, sub = active[stay], sub.subset(np.flatnonzero(stay))
        x_act, frac, ll, grad, info_act = x_act[stay], frac[stay], ll[stay], grad[stay], info_act[stay]

    beta, se, zstat, p, hr, lo, hi, converged = wald_summary(info, beta, converged, nan_if_unconverged, z)
    return CoxFit(beta, se, zstat, p, hr, lo, hi, loglik, converged, iters)


def _solve(info: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Newton step info^-1 grad per replicate; NaN where the information matrix is singular."""
    out = np.full_like(grad, np.nan)
    ok = well_conditioned(info) & np.isfinite(grad).all(1)
    if ok.any():
        out[ok] = np.linalg.solve(info[ok], grad[ok][..., None])[..., 0]
    return out
