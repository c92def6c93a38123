"""Lesion-level odds ratios, three ways: GEE (exchangeable), naive logistic, and a fast GEE.

``gee_statsmodels`` is the reference (statsmodels ``GEE``, binomial, exchangeable working
correlation, robust sandwich SE). ``gee_exchangeable`` is the same estimator in plain numpy for
the replicates: exchangeable matrices have closed-form inverses, so every cluster sum is a
``np.add.reduceat`` over lesions sorted by patient. It follows statsmodels' moment estimator
of the correlation (``ddof_scale`` = number of coefficients) and is tested against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import special, stats

from .. import kernels

Z95 = stats.norm.ppf(0.975)


@dataclass(frozen=True)
class OddsRatio:
    odds_ratio: float
    lo: float
    hi: float
    p: float
    log_or: float
    se: float
    alpha: float = float("nan")  # exchangeable working correlation (GEE only)


def _wald(beta: float, se: float, alpha: float = float("nan")) -> OddsRatio:
    z = beta / se
    return OddsRatio(float(np.exp(beta)), float(np.exp(beta - Z95 * se)), float(np.exp(beta + Z95 * se)),
                     float(2 * stats.norm.sf(abs(z))), float(beta), float(se), float(alpha))  # fmt: skip


def _design(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, float)
    return np.column_stack([np.ones(len(x)), x if x.ndim == 2 else x[:, None]])


def gee_statsmodels(y, x, groups) -> OddsRatio:
    """Reference GEE: statsmodels, binomial, exchangeable, robust SE; OR of the first covariate."""
    model = sm.GEE(np.asarray(y, float), _design(x), groups=np.asarray(groups),
                   family=sm.families.Binomial(), cov_struct=sm.cov_struct.Exchangeable())  # fmt: skip
    fit = model.fit()
    return _wald(fit.params[1], fit.bse[1], fit.model.cov_struct.dep_params)


def naive_logistic(y, x) -> OddsRatio:
    """Ordinary logistic regression that treats the lesions as independent (model SE)."""
    fit = sm.Logit(np.asarray(y, float), _design(x)).fit(disp=0)
    return _wald(fit.params[1], fit.bse[1])


def gee_exchangeable(y, x, groups, *, tol: float = 1e-10, max_iter: int = 100) -> OddsRatio:
    """Exchangeable-correlation logistic GEE with robust SE, in numpy (lesions sorted by group)."""
    y = np.asarray(y, float)
    X = _design(x)
    g = np.asarray(groups)
    if np.any(np.diff(g) < 0):
        order = np.argsort(g, kind="stable")
        y, X, g = y[order], X[order], g[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    size = np.diff(np.r_[starts, len(g)]).astype(float)
    n, k = X.shape
    n_pairs = 0.5 * size * (size - 1)
    beta = _independence_start(y, X)
    alpha = 0.0
    for _ in range(max_iter):
        mu = special.expit(X @ beta)
        sd = np.sqrt(mu * (1 - mu))
        r = (y - mu) / sd
        w = X * sd[:, None]  # A^1/2 X
        c = alpha / (1 + alpha * (size - 1))
        sw = np.add.reduceat(w, starts, axis=0)  # (G, k)
        sr = np.add.reduceat(r, starts)
        bmat = (w.T @ w - (c[:, None] * sw).T @ sw) / (1 - alpha)
        score = (w.T @ r - sw.T @ (c * sr)) / (1 - alpha)
        step = np.linalg.solve(bmat, score)
        beta = beta + step
        # statsmodels' moment estimator of alpha (Exchangeable.update), from the new means
        mu = special.expit(X @ beta)
        r = (y - mu) / np.sqrt(mu * (1 - mu))
        ssr_g = np.add.reduceat(r * r, starts)
        sr = np.add.reduceat(r, starts)
        scale = ssr_g.sum() / (n - k)
        new_alpha = ((sr**2 - ssr_g) / 2).sum() / scale / (n_pairs.sum() - k)
        done = np.max(np.abs(step)) < tol and abs(new_alpha - alpha) < tol
        alpha = new_alpha
        if done:
            break
    # robust (sandwich) covariance at the solution
    mu = special.expit(X @ beta)
    sd = np.sqrt(mu * (1 - mu))
    r = (y - mu) / sd
    w = X * sd[:, None]
    c = alpha / (1 + alpha * (size - 1))
    sw = np.add.reduceat(w, starts, axis=0)
    sr = np.add.reduceat(r, starts)
    bmat = (w.T @ w - (c[:, None] * sw).T @ sw) / (1 - alpha)
    u_g = (np.add.reduceat(w * r[:, None], starts, axis=0) - sw * (c * sr)[:, None]) / (1 - alpha)
    binv = np.linalg.inv(bmat)
    cov = binv @ (u_g.T @ u_g) @ binv
    return _wald(beta[1], np.sqrt(cov[1, 1]), alpha)


def _independence_start(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Ordinary logistic fit (the shared kernel) — statsmodels also starts GEE from the independence fit."""
    fit = kernels.logistic_fit(y[None], X[None, :, 1:], nan_if_unconverged=False)  # X[:, 0] is the intercept
    return fit.beta[0]


def lesion_ors(lesions: pd.DataFrame, features, method: str = "gee") -> dict[str, OddsRatio]:
    """Univariable OR of local failure for each feature, by ``method`` (gee, gee_sm, naive)."""
    fit = {"gee": lambda f: gee_exchangeable(lesions.local_failure, lesions[f], lesions.patient),
           "gee_sm": lambda f: gee_statsmodels(lesions.local_failure, lesions[f], lesions.patient),
           "naive": lambda f: naive_logistic(lesions.local_failure, lesions[f])}  # fmt: skip
    if method not in fit:
        raise ValueError(f"method={method!r} is not allowed: use one of {sorted(fit)}")
    return {f: fit[method](f) for f in features}
