"""Cox models with one covariate across replicate cohorts: scalar Newton, Breslow or Efron ties.

The same partial likelihood as ``kernels.cox.cox_fit`` with k = 1 (and so as lifelines'
``CoxPHFitter`` for Efron ties and statsmodels' ``PHReg`` for Breslow; ``tests/test_kernels_cox_univariable.py``
checks all three), but with scalar score and information: per Newton step one exponential and
three risk-set sums (six with Efron's tie correction), no k x k algebra. A study that prints a
dozen univariable hazard ratios of one outcome fits them in one call: the cohorts are sorted by
time once, and each model keeps its own complete cases.

Robustness as in ``cox_fit``: a step that lowers the log partial likelihood is halved (up to 30
times); a row whose coefficient runs past ``MAX_ABS_BETA`` (monotone likelihood: e.g. no event
among the exposed) or whose information is not positive stops there, ``converged = False``.
"""

from __future__ import annotations

import numpy as np

from ._common import Z95, as_batch, complete_case, sort_by_time, wald_summary
from .cox import MAX_ABS_BETA, CoxFit


def cox_univariable(time, event, x, mask=None, *, ties: str = "breslow", max_iter: int = 50, tol: float = 1e-9,
                    nan_if_unconverged: bool = True, z: float = Z95) -> CoxFit:  # fmt: skip
    """Fit one-covariate Cox models to each replicate: ``time``, ``event`` (R, n) (or (n,));
    ``x`` (R, n) for one model, or (R, n, F) for F separate one-covariate models of the same
    outcome (sorted once; a NaN drops the patient from that model only).

    Returns a ``CoxFit`` whose arrays are (R, F) (``converged``, ``iterations``, ``loglik`` (R,)
    when F = 1, else (R, F)): Wald 95% limits exp(beta -+ z se), as ``cox_fit``.
    Convergence: |Newton step| < ``tol``.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties={ties!r} is not allowed: use 'efron' or 'breslow'")
    t = as_batch(time, "time")
    e = as_batch(event, "event")
    xa = np.asarray(x, dtype=float)
    if xa.shape == np.shape(time):  # one model
        xa = xa[..., None]
    xa = as_batch(xa, "x", ndim=3)
    if xa.shape[:2] != t.shape:
        raise ValueError(f"x must be shaped (R, n) or (R, n, F) with (R, n) = {t.shape}; got {xa.shape}")
    keep = complete_case(t, mask, e)
    s = sort_by_time(t, e, keep)
    xk = s.take(xa)  # (R, n, F)
    kf = s.keep[..., None] * np.isfinite(xk)  # kept in model f
    xs = np.where(kf > 0, xk, 0.0)
    n_keep = np.maximum(kf.sum(1), 1)
    xs = (xs - (xs.sum(1) / n_keep)[:, None, :]) * kf  # centred: same beta, better scaled sums
    d = s.event[..., None] * kf  # events of model f
    if ties == "efron":
        frac = np.where(d > 0, s.rank_in_group(d) / np.maximum(s.group_sum(d), 1), 0.0)
    xs2 = xs * xs
    ev = d > 0

    def pieces(beta: np.ndarray):  # beta (R, F)
        eta = beta[:, None, :] * xs
        shift = np.where(kf > 0, eta, -np.inf).max(axis=1, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0.0)
        w = np.exp(eta - shift) * kf
        s0, s1, s2 = s.at_risk(w), s.at_risk(w * xs), s.at_risk(w * xs2)
        if ties == "efron":
            dw = w * d
            s0 = s0 - frac * s.group_sum(dw)
            s1 = s1 - frac * s.group_sum(dw * xs)
            s2 = s2 - frac * s.group_sum(dw * xs2)
        den = np.where(ev, s0, 1.0)
        m1 = s1 / den
        loglik = np.where(ev, eta - shift - np.log(den), 0.0).sum(1)
        grad = (d * (xs - m1)).sum(1)
        info = (d * (s2 / den - m1 * m1)).sum(1)
        return loglik, grad, info

    shape = xs.shape[0], xs.shape[2]
    beta = np.zeros(shape)
    iters = np.zeros(shape, dtype=int)
    converged = np.zeros(shape, dtype=bool)
    has_events = d.sum(1) > 0
    active = has_events.copy()  # no events: nothing to fit
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ll, grad, info = pieces(beta)
        for it in range(1, max_iter + 1):
            if not active.any():
                break
            bad = active & ~(info > 0)
            new = beta + np.where(active & ~bad, grad / np.where(info > 0, info, 1.0), 0.0)
            ll_new, g_new, i_new = pieces(new)
            tiny = np.abs(new - beta) < tol  # converged: a rounding-level change of loglik is no reason to halve
            for _ in range(30):  # halve the step where the log partial likelihood got worse
                worse = active & ~bad & ~tiny & ~(ll_new >= ll - 1e-10 * (1.0 + np.abs(ll)))
                if not worse.any():
                    break
                new = np.where(worse, beta + (new - beta) / 2, new)
                ll_new, g_new, i_new = pieces(new)
            moved = np.abs(new - beta)
            upd = active & ~bad
            beta = np.where(upd, new, beta)
            ll, grad, info = np.where(upd, ll_new, ll), np.where(upd, g_new, grad), np.where(upd, i_new, info)
            iters[active] = it
            done = upd & (moved < tol)
            diverged = bad | (upd & (np.abs(beta) > MAX_ABS_BETA))
            converged |= done & ~diverged
            active &= ~(done | diverged)
    info = np.where(has_events, info, np.nan)
    r, f = shape
    flat = wald_summary(info.reshape(r * f, 1, 1), beta.reshape(r * f, 1), converged.reshape(r * f),
                        nan_if_unconverged, z)  # fmt: skip
    b, se, zstat, p, hr, lo, hi = (a.reshape(r, f) for a in flat[:7])
    conv = flat[7].reshape(r, f)
    loglik = np.where(has_events, ll, np.nan)
    if f == 1:
        conv, iters, loglik = conv[:, 0], iters[:, 0], loglik[:, 0]
    return CoxFit(b, se, zstat, p, hr, lo, hi, loglik, conv, iters)
