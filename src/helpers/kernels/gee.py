"""Logistic GEE with robust (sandwich) standard errors, across replicate data sets at once.

Generalised estimating equations for clustered binary outcomes (lesions within patients):
``logit P(y_ij = 1) = x_ij beta`` with a *working* correlation between the outcomes of one
cluster, ``exchangeable`` (one common correlation alpha, estimated) or ``independence``
(alpha = 0: the ordinary logistic estimate with cluster-robust SE). The estimate is the
population-averaged (marginal) effect; the robust covariance is valid whatever the true
correlation.

``gee_statsmodels`` is the reference (statsmodels ``GEE``, binomial family, robust covariance).
``gee_logistic`` solves the same equations for R data sets in numpy, following statsmodels
step for step: the independence logistic fit as start, one Fisher-scoring step of beta at the
current alpha, then statsmodels' moment estimator of alpha (``Exchangeable.update``: residual
cross-products over the pairs of each cluster, scale with ``ddof`` = number of coefficients).
Exchangeable matrices have closed-form inverses, V^-1 = (I - c J) / (1 - alpha) with
c = alpha / (1 + alpha (m - 1)) for a cluster of m, so every cluster sum is one ``bincount``.
tests/test_kernels_gee.py checks it against statsmodels.

Data layout: ``y`` (R, n), ``x`` (R, n, k) or (R, n), ``groups`` (R, n) cluster labels (any
integers; the clusters of one row need not be contiguous); an optional ``mask`` drops
observations. A data set whose fit has no solution (a covariate level without events, a
singular matrix, no convergence) is flagged ``converged = False`` and gets NaN estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ._common import Z95, as_batch
from .odds_ratio import OddsRatio, wald

WORKING = ("exchangeable", "independence")
MAX_ABS_BETA = 30.0  # as the logistic kernel: only separation drives |log OR| this far


@dataclass(frozen=True)
class GEEFit:
    """Per data set; arrays (R, k) (intercept first when added) except the (R,) ones."""

    beta: np.ndarray
    se: np.ndarray
    p: np.ndarray
    odds_ratio: np.ndarray
    or_lo: np.ndarray
    or_hi: np.ndarray
    alpha: np.ndarray  # working correlation (0 under independence)
    converged: np.ndarray
    iterations: np.ndarray

    def record(self, i: int = 0, j: int = 1) -> OddsRatio:
        """Coefficient ``j`` of data set ``i`` as an ``OddsRatio`` record (j = 1: first covariate)."""
        return OddsRatio(float(self.odds_ratio[i, j]), float(self.or_lo[i, j]), float(self.or_hi[i, j]),
                         float(self.p[i, j]), float(self.beta[i, j]), float(self.se[i, j]), float(self.alpha[i]))  # fmt: skip


def _check_working(working: str) -> str:
    if working not in WORKING:
        raise ValueError(f"working={working!r} is not allowed: use one of {', '.join(WORKING)}")
    return working


class _Clusters:
    """Cluster sums of each row: observations mapped to (row, cluster slot) cells of an (R, G) grid."""

    def __init__(self, groups: np.ndarray, keep: np.ndarray):
        r, n = groups.shape
        slot = np.empty((r, n), dtype=np.intp)
        # rank of each label within its row: sort labels per row, mark changes, cumulative count
        order = np.argsort(groups, axis=1, kind="stable")
        sorted_g = np.take_along_axis(groups, order, axis=1)
        new = np.ones((r, n), dtype=bool)
        new[:, 1:] = sorted_g[:, 1:] != sorted_g[:, :-1]
        rank = np.cumsum(new, axis=1) - 1
        np.put_along_axis(slot, order, rank, axis=1)
        self.width = int(rank[:, -1].max()) + 1 if n else 1
        self.index = slot + (np.arange(r) * self.width)[:, None]  # flat cell of each observation
        self.rows = r
        self.size = self.sum(keep.astype(float))  # kept observations per cluster (R, G)

    def subset(self, rows: np.ndarray) -> _Clusters:
        out = object.__new__(_Clusters)
        out.width, out.rows = self.width, rows.size
        out.index = (self.index[rows] % self.width) + (np.arange(rows.size) * self.width)[:, None]
        out.size = self.size[rows]
        return out

    def sum(self, a: np.ndarray) -> np.ndarray:
        """Cluster sums of ``a`` (R, n) -> (R, G), or (R, n, k) -> (R, G, k)."""
        flat = self.index.ravel()
        cells = self.rows * self.width
        if a.ndim == 2:
            return np.bincount(flat, a.ravel(), cells).reshape(self.rows, self.width)
        cols = [np.bincount(flat, a[..., j].ravel(), cells) for j in range(a.shape[2])]
        return np.stack(cols, axis=-1).reshape(self.rows, self.width, a.shape[2])


def gee_logistic(y, x, groups, mask=None, *, working: str = "exchangeable", add_intercept: bool = True,
                 tol: float = 1e-10, max_iter: int = 100, nan_if_unconverged: bool = True,
                 z: float = Z95, start=None) -> GEEFit:  # fmt: skip
    """Fit the logistic GEE to each data set (row); see the module docstring for the layout.

    Iterations: Fisher scoring with alpha = 0 until the independence (ordinary logistic) fit has
    converged — statsmodels' start — then, for the exchangeable structure, alternate a scoring
    step of beta with the moment update of alpha until both move by less than ``tol``.
    ``start`` (R, k): where the scoring of the independence fit begins (default 0; the ordinary
    logistic estimate, when the caller has it in closed form, saves its iterations). The
    independence fit is unique, so the result does not depend on it.
    """
    _check_working(working)
    ya = as_batch(y, "y")
    xa = np.asarray(x, dtype=float)
    if xa.shape == np.shape(y):
        xa = xa[..., None]
    xa = as_batch(xa, "x", ndim=3)
    g = np.asarray(groups)
    g = g[None] if g.ndim == 1 else g
    if xa.shape[:2] != ya.shape or g.shape != ya.shape:
        raise ValueError(f"y (R, n), x (R, n, k) and groups (R, n) must agree; got {ya.shape}, {xa.shape}, {g.shape}")
    keep = np.isfinite(ya) & np.isfinite(xa).all(axis=2)
    if mask is not None:
        keep &= np.broadcast_to(np.asarray(mask, bool), ya.shape)
    if not np.isin(ya[keep], (0.0, 1.0)).all():
        raise ValueError("y must be 0/1 (or boolean)")
    yw = np.where(keep, ya, 0.0)
    kw = keep.astype(float)
    cols = [np.where(keep, xa[..., j], 0.0) for j in range(xa.shape[2])]  # covariates first: contiguous rows
    xw = np.stack(([kw] if add_intercept else []) + cols)  # (k, R, n)
    k, r_all, _ = xw.shape
    clusters = _Clusters(g, keep)
    n_kept = kw.sum(1)
    n_pairs = (0.5 * clusters.size * (clusters.size - 1)).sum(1)

    beta = np.zeros((r_all, k))
    if start is not None:
        b0 = np.broadcast_to(np.asarray(start, float), beta.shape)
        beta = np.where(np.isfinite(b0), b0, 0.0)
    alpha = np.zeros(r_all)
    second = np.zeros(r_all, dtype=bool)  # past the independence start (exchangeable only)
    converged = np.zeros(r_all, dtype=bool)
    iters = np.zeros(r_all, dtype=int)
    exch = working == "exchangeable"
    active = np.arange(r_all)
    cl, ys, xs, ks = clusters, yw, xw, kw
    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        b, a_old, ph2 = beta[active], alpha[active], second[active]
        mu, res = _residuals(ys, xs, ks, b)
        a = a_old
        if exch and ph2.any():  # statsmodels' moment estimator of alpha at the current beta
            ssr_g = cl.sum(res * res)
            sr = cl.sum(res)
            scale = ssr_g.sum(1) / (n_kept[active] - k)
            with np.errstate(divide="ignore", invalid="ignore"):
                moment = ((sr * sr - ssr_g) / 2).sum(1) / scale / (n_pairs[active] - k)
            a = np.where(ph2, moment, 0.0)
        bmat, score = _scoring(mu, res, xs, ks, cl, a)
        ok = _invertible(bmat)
        step = np.zeros_like(score)
        if ok.any():
            step[ok] = np.linalg.solve(bmat[ok], score[ok][..., None])[..., 0]
        b_new = b + step
        beta[active], alpha[active] = b_new, a
        iters[active] = it
        small = ok & (np.abs(step).max(1) < tol)
        bad = ~ok | ~np.isfinite(b_new).all(1) | (np.abs(b_new).max(1) > MAX_ABS_BETA) | ~np.isfinite(a)
        done = small & ~bad & (ph2 | (not exch)) & (np.abs(a - a_old) < tol)
        second[active[small & ~bad]] = exch  # the independence start has converged
        converged[active[done]] = True
        stay = ~(done | bad)
        if not stay.all():
            active = active[stay]
            cl, ys, xs, ks = clusters.subset(active), yw[active], xw[:, active], kw[active]

    # robust (sandwich) covariance at the solution: B^-1 (sum_g u_g u_g') B^-1
    bmat, _, u_g = _scoring(*_residuals(yw, xw, kw, beta), xw, kw, clusters, alpha, cluster_scores=True)
    ok = converged & _invertible(bmat, limit=1e14)
    binv = np.full_like(bmat, np.nan)
    if ok.any():
        binv[ok] = np.linalg.inv(bmat[ok])
    cov = binv @ np.einsum("rgk,rgl->rkl", u_g, u_g) @ binv
    var = np.diagonal(cov, axis1=1, axis2=2)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.where(var > 0, var, np.nan))
    converged = ok & np.isfinite(se).all(1)
    if nan_if_unconverged:
        beta = np.where(converged[:, None], beta, np.nan)
        se = np.where(converged[:, None], se, np.nan)
        alpha = np.where(converged, alpha, np.nan)
    p = 2 * special.ndtr(-np.abs(beta / se))
    with np.errstate(over="ignore"):
        return GEEFit(beta, se, p, np.exp(beta), np.exp(beta - z * se), np.exp(beta + z * se), alpha,
                      converged, iters)  # fmt: skip


def _invertible(mat: np.ndarray, limit: float = 1e12) -> np.ndarray:
    """(R,) True where the symmetric matrix is finite and not near-singular. Unlike the likelihood
    kernels' check it allows negative eigenvalues: with a working correlation above 1 (see
    ``_scoring``) B need not be positive definite, and statsmodels solves with it all the same."""
    ok = np.isfinite(mat).all((1, 2))
    out = np.zeros(len(mat), dtype=bool)
    if ok.any():
        eig = np.abs(np.linalg.eigvalsh(mat[ok]))
        out[ok] = (eig.min(axis=1) > 0) & (eig.max(axis=1) < limit * eig.min(axis=1))
    return out


def _linear(xs: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """x beta per observation: covariates (k, R, n), beta (R, k) -> (R, n)."""
    out = xs[0] * beta[:, 0, None]
    for j in range(1, xs.shape[0]):
        out += xs[j] * beta[:, j, None]
    return out


def _residuals(ys, xs, ks, beta) -> tuple[np.ndarray, np.ndarray]:
    """Fitted means and Pearson residuals (0 for dropped observations), (R, n) each."""
    mu = special.expit(_linear(xs, beta))
    res = ys - mu
    res /= np.sqrt(mu * (1 - mu))
    res *= ks  # dropped observations (y = 0, x = 0) contribute nothing
    return mu, res


def _scoring(mu, res, xs, ks, cl: _Clusters, alpha, cluster_scores: bool = False):
    """B = sum_g D_g' V_g^-1 D_g and the score sum_g D_g' V_g^-1 (y_g - mu_g), per data set, with
    V_g^-1 = (I - c J) / (1 - alpha). The common 1 / (1 - alpha) cancels from the step and the
    sandwich but keeps B positive definite when the moment estimate of alpha exceeds 1 (it is
    not bounded; statsmodels carries on with it, and so does this kernel)."""
    sd = np.sqrt(mu * (1 - mu))
    sd *= ks
    w = xs * sd  # A^1/2 x, (k, R, n)
    c = alpha[:, None] / (1 + alpha[:, None] * (cl.size - 1))
    sw = [cl.sum(wj) for wj in w]  # k x (R, G)
    sr = cl.sum(res)
    csr = c * sr
    k = xs.shape[0]
    bmat = np.empty((mu.shape[0], k, k))
    score = np.empty((mu.shape[0], k))
    for j in range(k):
        score[:, j] = (w[j] * res).sum(1) - (sw[j] * csr).sum(1)
        cj = c * sw[j]
        for m in range(j, k):
            bmat[:, j, m] = bmat[:, m, j] = (w[j] * w[m]).sum(1) - (cj * sw[m]).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / (1.0 - alpha)
    bmat *= inv[:, None, None]
    score *= inv[:, None]
    if not cluster_scores:
        return bmat, score
    u_g = np.stack([cl.sum(w[j] * res) - sw[j] * csr for j in range(k)], axis=-1) * inv[:, None, None]  # (R, G, k)
    return bmat, score, u_g


def gee_odds_ratio(y, x, groups, *, working: str = "exchangeable") -> OddsRatio:
    """One data set: the odds ratio of the first covariate from ``gee_logistic``."""
    return gee_logistic(np.asarray(y, float), np.asarray(x, float), np.asarray(groups), working=working).record()


def gee_exchangeable(y, x, groups) -> OddsRatio:
    """One data set, exchangeable working correlation (the methods validation calls this)."""
    return gee_odds_ratio(y, x, groups, working="exchangeable")


def gee_statsmodels(y, x, groups, *, working: str = "exchangeable") -> OddsRatio:
    """Reference: statsmodels ``GEE``, binomial, the named working correlation, robust SE;
    the odds ratio of the first covariate (an intercept is added)."""
    import statsmodels.api as sm

    cov = {"exchangeable": sm.cov_struct.Exchangeable, "independence": sm.cov_struct.Independence}
    xa = np.asarray(x, float)
    design = np.column_stack([np.ones(len(xa)), xa if xa.ndim == 2 else xa[:, None]])
    model = sm.GEE(np.asarray(y, float), design, groups=np.asarray(groups), family=sm.families.Binomial(),
                   cov_struct=cov[_check_working(working)]())  # fmt: skip
    fit = model.fit()
    alpha = float(fit.model.cov_struct.dep_params) if working == "exchangeable" else 0.0
    return wald(float(fit.params[1]), float(fit.bse[1]), alpha)
