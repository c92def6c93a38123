"""Random-intercept logistic regression by maximum likelihood with Gauss–Hermite quadrature.

A fast stand-in for a mixed-effects logistic model (statsmodels' ``BinomialBayesMixedGLM`` is
variational Bayes and slow): ``logit P(y_ij = 1) = b0 + b1 x_ij + sigma u_i``, u_i ~ N(0, 1),
the random effect integrated out on ``N_NODES`` fixed (non-adaptive) Gauss–Hermite nodes, the
likelihood maximised by BFGS over (b0, b1, log sigma), the Wald CI of b1 from the inverse of a
finite-difference Hessian. The OR it gives is *conditional* (within patient), so it is larger
than the population-averaged GEE OR whenever sigma > 0.

``random_intercept_logistic_batch`` fits the same model (same nodes) to many data sets at once
for the replicates: Newton–Raphson with the analytic gradient and Hessian of the quadrature
log-likelihood. The lesions of all data sets come in one flat array; lesions of a patient with
the same x are pooled into binomial cells (exact), padded to the same number of cells per
patient, and per-data-set sums are ``np.add.reduceat`` over patients, so data sets may differ
in their numbers of patients and lesions. Caveat for both fits: with sigma near 2 and patients
with many lesions, the fixed-node likelihood has small ripples in sigma and can have more than
one local maximum; the two optimisers may then stop at different ones (5 of 84 data sets
checked from the calibrated Figura model; where both find the same maximum they agree to ~1e-7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special
from scipy.special import log_expit

from ..params import ParameterError
from .gee import Z95, OddsRatio, _wald

N_NODES = 40  # tests show 40 and 80 nodes agree to < 1e-4 in log OR at sigma up to 2.5
LOG_SIGMA_MIN = np.log(1e-4)  # boundary sigma -> 0: below this the conditional OR moves by < 1e-8


def _nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(n)  # weight exp(-x^2 / 2)
    return x, np.log(w / np.sqrt(2 * np.pi))


def negloglik(theta: np.ndarray, y: np.ndarray, x: np.ndarray, starts: np.ndarray, n_nodes: int = N_NODES) -> float:
    b0, b1, log_sigma = theta
    nodes, logw = _nodes(n_nodes)
    eta = (b0 + b1 * x)[:, None] + np.exp(log_sigma) * nodes[None, :]  # lesions x nodes
    ll = np.where(y[:, None] == 1, log_expit(eta), log_expit(-eta))
    per_group = np.add.reduceat(ll, starts, axis=0) + logw[None, :]
    return -float(special.logsumexp(per_group, axis=1).sum())


@dataclass(frozen=True)
class MixedFit:
    odds_ratio: OddsRatio
    sigma: float
    intercept: float


def random_intercept_logistic(y, x, groups, n_nodes: int = N_NODES) -> MixedFit:
    """Fit the random-intercept logistic model; returns the conditional OR of ``x``."""
    y = np.asarray(y, float)
    x = np.asarray(x, float)
    g = np.asarray(groups)
    order = np.argsort(g, kind="stable")
    y, x, g = y[order], x[order], g[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    mean = np.clip(y.mean(), 1e-3, 1 - 1e-3)
    theta0 = np.array([np.log(mean / (1 - mean)), 0.0, 0.0])
    res = optimize.minimize(negloglik, theta0, args=(y, x, starts, n_nodes), method="BFGS",
                            options={"gtol": 1e-6})  # fmt: skip
    hess = _hessian(lambda t: negloglik(t, y, x, starts, n_nodes), res.x)
    cov = np.linalg.inv(hess)
    return MixedFit(_wald(res.x[1], np.sqrt(cov[1, 1])), float(np.exp(res.x[2])), float(res.x[0]))


def _hessian(f, theta: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central finite-difference Hessian (h = 1e-4 balances truncation and rounding error)."""
    k = theta.size
    out = np.empty((k, k))
    eye = np.eye(k) * h
    for i in range(k):
        for j in range(i, k):
            out[i, j] = out[j, i] = (
                f(theta + eye[i] + eye[j]) - f(theta + eye[i] - eye[j])
                - f(theta - eye[i] + eye[j]) + f(theta - eye[i] - eye[j])
            ) / (4 * h * h)  # fmt: skip
    return out


# ---------------------------------------------------------------- many data sets at once


@dataclass(frozen=True)
class MixedBatchFit:
    """One entry per data set; Wald CI and P of b1 from the analytic information."""

    log_or: np.ndarray
    se: np.ndarray
    odds_ratio: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    p: np.ndarray
    intercept: np.ndarray
    sigma: np.ndarray
    converged: np.ndarray  # Newton step below tol (False: estimates are NaN)
    at_boundary: np.ndarray  # sigma held at exp(LOG_SIGMA_MIN): the likelihood rises as sigma -> 0
    iterations: np.ndarray


@dataclass(frozen=True)
class _Cells:
    """Lesions aggregated to binomial cells (group, x): successes k of n, padded to the same number
    of cells per group (padding has n = 0 and adds nothing); flat over data sets."""

    x: np.ndarray  # cells x groups (cells first: sums over a group's cells are contiguous)
    k: np.ndarray
    n: np.ndarray
    data_starts: np.ndarray  # first group of each data set

    def subset(self, keep: np.ndarray) -> _Cells:
        """The groups of the data sets where ``keep`` is True."""
        groups_per_set = np.diff(np.r_[self.data_starts, self.x.shape[1]])
        g = np.repeat(keep, groups_per_set)
        return _Cells(self.x[:, g], self.k[:, g], self.n[:, g], _starts(groups_per_set[keep]))


def _starts(sizes: np.ndarray) -> np.ndarray:
    return np.r_[0, np.cumsum(sizes)[:-1]].astype(np.intp)


def stack(datasets) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat layout of ``(y, x, groups)`` data sets for the batch fit: lesions sorted by group within
    each data set; returns ``y, x, group_starts, data_starts`` (first lesion of each group, first
    group of each data set)."""
    ys, xs, sizes, per_set = [], [], [], []
    for y, x, g in datasets:
        g = np.asarray(g)
        order = np.argsort(g, kind="stable")
        g = g[order]
        ys.append(np.asarray(y, float)[order])
        xs.append(np.asarray(x, float)[order])
        size = np.diff(np.r_[np.flatnonzero(np.r_[True, g[1:] != g[:-1]]), g.size])
        sizes.append(size)
        per_set.append(size.size)
    return np.concatenate(ys), np.concatenate(xs), _starts(np.concatenate(sizes)), _starts(np.array(per_set))


def _cells(y: np.ndarray, x: np.ndarray, group_starts: np.ndarray, data_starts: np.ndarray) -> _Cells:
    """Lesions of a group with the same x share one linear predictor: aggregate them (exact)."""
    n_groups = group_starts.size
    gid = np.repeat(np.arange(n_groups), np.diff(np.r_[group_starts, y.size]))
    order = np.lexsort((x, gid))
    x, y, gid = x[order], y[order], gid[order]
    first = np.flatnonzero(np.r_[True, (gid[1:] != gid[:-1]) | (x[1:] != x[:-1])])
    cell_gid = gid[first]
    cell_start = np.flatnonzero(np.r_[True, cell_gid[1:] != cell_gid[:-1]])
    slot = np.arange(first.size) - np.repeat(cell_start, np.diff(np.r_[cell_start, first.size]))
    width = int(slot.max()) + 1
    out = [np.zeros((width, n_groups)) for _ in range(3)]
    for arr, vals in zip(out, (x[first], np.add.reduceat(y, first), np.diff(np.r_[first, y.size])), strict=True):
        arr[slot, cell_gid] = vals
    return _Cells(*out, data_starts)


def _check_batch(y, x, group_starts, data_starts):
    y, x = np.asarray(y, float), np.asarray(x, float)
    group_starts, data_starts = np.asarray(group_starts, np.intp), np.asarray(data_starts, np.intp)
    if y.ndim != 1 or x.shape != y.shape or not np.all(np.isfinite(x)):
        raise ParameterError(f"y and x must be finite 1-D arrays of one length; got shapes {y.shape}, {x.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ParameterError("y must hold 0 or 1 only")
    for name, starts, total in (("group_starts", group_starts, y.size), ("data_starts", data_starts, group_starts.size)):
        if starts.size == 0 or starts[0] != 0 or np.any(np.diff(starts) <= 0) or starts[-1] >= total:
            raise ParameterError(f"{name} must start at 0 and increase strictly below {total}")
    return y, x, group_starts, data_starts


def _loglik(theta: np.ndarray, c: _Cells, nodes: np.ndarray, logw: np.ndarray, derivatives: bool = True):
    """Quadrature log-likelihood per data set and, if asked, its gradient and Hessian in
    (b0, b1, log sigma).

    Per group g and node q: l_gq = sum_cells k eta - n log(1 + e^eta), eta = b0 + b1 x + sigma t_q.
    With the posterior node weights pi_gq = w_q e^l_gq / sum_q' w_q' e^l_gq' (the mixture identity)
    d log L_g = E_pi[s_gq] and d2 log L_g = E_pi[h_gq + s_gq s_gq'] - E_pi[s_gq] E_pi[s_gq]', where
    s_gq, h_gq are the score and Hessian of l_gq: with r = k - n p, v = n p (1 - p) summed over
    the group's cells (R0 = sum r, R1 = sum x r, V0, V1, V2 = sum v, x v, x^2 v) and st = sigma t_q,
    s = (R0, R1, st R0) and h = -[[V0, V1, st V0], [V1, V2, st V1], [st V0, st V1, st^2 V0]]
    + st R0 in the (log sigma, log sigma) entry.
    """
    per_group = np.diff(np.r_[c.data_starts, c.x.shape[1]])
    b0, b1, sigma = (np.repeat(v, per_group) for v in (theta[:, 0], theta[:, 1], np.exp(theta[:, 2])))
    st = sigma[:, None] * nodes[None, :]  # groups x nodes
    eta = (b0 + b1 * c.x)[:, :, None] + st[None, :, :]  # cells x groups x nodes
    nn, xx = c.n[:, :, None], c.x[:, :, None]
    k_sum, kx_sum = c.k.sum(axis=0), (c.k * c.x).sum(axis=0)  # sum of k eta is linear in the parameters
    positive = eta >= 0
    e = np.abs(eta)
    np.negative(e, out=e)
    np.exp(e, out=e)  # exp(-|eta|)
    softplus = np.log1p(e)
    np.maximum(eta, 0.0, out=eta)  # eta is not needed after this (in place: big arrays are costly)
    softplus += eta  # log(1 + e^eta) without overflow
    softplus *= nn
    l_gq = (k_sum * b0 + kx_sum * b1)[:, None] + k_sum[:, None] * st - _cell_sum(softplus) + logw[None, :]
    top = l_gq.max(axis=1, keepdims=True)
    post = np.exp(l_gq - top)
    norm = post.sum(axis=1, keepdims=True)
    total = np.add.reduceat(np.log(norm[:, 0]) + top[:, 0], c.data_starts)
    if not derivatives:
        return total
    post /= norm  # pi_gq
    p = np.where(positive, 1.0, e)
    e += 1.0
    p /= e  # expit(eta) from the same exponential
    n_p = e  # reuse the buffer
    np.multiply(p, nn, out=n_p)
    np.subtract(1.0, p, out=p)
    v = p
    v *= n_p  # n p (1 - p)
    R0 = k_sum[:, None] - _cell_sum(n_p)
    n_p *= xx
    R1 = kx_sum[:, None] - _cell_sum(n_p)
    V0 = _cell_sum(v)
    v *= xx
    V1 = _cell_sum(v)
    v *= xx
    V2 = _cell_sum(v)
    # h + s s' before the sigma t factors: [[a00, a01, .], [a01, a11, .], ...]
    q_terms = np.stack([R0, R1, R0 * R0 - V0, R0 * R1 - V1, R1 * R1 - V2])
    w = np.stack([post, post * st, post * st * st])  # weights of the entries carrying (sigma t)^0, 1, 2
    m = np.einsum("wgq,mgq->wmg", w, q_terms)
    g = np.column_stack([m[0, 0], m[0, 1], m[1, 0]])
    h = np.empty((g.shape[0], 3, 3))
    h[:, 0, 0], h[:, 1, 1] = m[0, 2], m[0, 4]
    h[:, 0, 1] = h[:, 1, 0] = m[0, 3]
    h[:, 0, 2] = h[:, 2, 0] = m[1, 2]
    h[:, 1, 2] = h[:, 2, 1] = m[1, 3]
    h[:, 2, 2] = m[2, 2] + g[:, 2]
    h -= g[:, :, None] * g[:, None, :]
    return total, np.add.reduceat(g, c.data_starts, axis=0), np.add.reduceat(h, c.data_starts, axis=0)


def _cell_sum(a: np.ndarray) -> np.ndarray:
    """Sum over the (few) cells of each group: a loop of contiguous adds beats a strided reduction."""
    out = a[0].copy()
    for row in a[1:]:
        out += row
    return out


def _ascent_direction(grad: np.ndarray, hess: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    """Newton direction -H^-1 g where H is negative definite; elsewhere the eigenvalues of -H are
    replaced by their absolute values (still an ascent direction). At the sigma boundary the
    log-sigma coordinate is held and the step is Newton in (b0, b1)."""
    info = -hess.copy()
    g = grad.copy()
    info[boundary, 2, :] = 0.0
    info[boundary, :, 2] = 0.0
    info[boundary, 2, 2] = 1.0
    g[boundary, 2] = 0.0
    lam, vec = np.linalg.eigh(info)
    floor = 1e-10 * np.maximum(np.abs(lam).max(axis=1, keepdims=True), 1e-300)
    lam = np.maximum(np.abs(lam), floor)
    return np.einsum("rij,rj->ri", vec, np.einsum("rji,rj->ri", vec, g) / lam)


def random_intercept_logistic_batch(y, x, group_starts, data_starts, *, n_nodes: int = N_NODES,
                                    tol: float = 1e-6, max_iter: int = 100) -> MixedBatchFit:  # fmt: skip
    """Fit the random-intercept logistic model to many data sets at once (see module docstring).

    ``y, x``: all data sets' lesions in one flat array, each group's lesions contiguous;
    ``group_starts``: index of each group's first lesion; ``data_starts``: index (into the groups)
    of each data set's first group (``stack`` builds all four from ``(y, x, groups)`` triples).
    Newton–Raphson on (b0, b1, log sigma) from the start of ``random_intercept_logistic``, with
    step halving until the log-likelihood does not fall; a data set has converged when its
    largest Newton step is below ``tol`` (Newton's error after a step d is O(d^2), so 1e-6
    leaves ~1e-12 in the estimates). If the likelihood keeps rising as sigma -> 0, log sigma
    is held at ``LOG_SIGMA_MIN`` (``at_boundary``) and the fit is the (b0, b1) maximum there.
    """
    y, x, group_starts, data_starts = _check_batch(y, x, group_starts, data_starts)
    nodes, logw = _nodes(n_nodes)
    cells = _cells(y, x, group_starts, data_starts)
    nset = data_starts.size
    group_set = np.repeat(np.arange(nset), np.diff(np.r_[data_starts, group_starts.size]))
    lesions_per_group = np.diff(np.r_[group_starts, y.size])
    mean = np.bincount(group_set, np.add.reduceat(y, group_starts), nset) / np.bincount(
        group_set, lesions_per_group, nset)  # fmt: skip
    mean = np.clip(mean, 1e-3, 1 - 1e-3)
    theta = np.column_stack([np.log(mean / (1 - mean)), np.zeros(nset), np.zeros(nset)])
    converged = np.zeros(nset, bool)
    boundary = np.zeros(nset, bool)
    iterations = np.zeros(nset, int)
    info = np.empty((nset, 3, 3))
    active = np.arange(nset)
    c = cells
    th = theta.copy()
    ll, grad, hess = _loglik(th, c, nodes, logw)
    for _ in range(max_iter):
        bnd = (th[:, 2] <= LOG_SIGMA_MIN) & (grad[:, 2] <= 0)
        step = _ascent_direction(grad, hess, bnd)
        step *= np.minimum(1.0, 3.0 / np.abs(step).max(axis=1))[:, None]  # no leap far beyond the quadratic model
        scale = np.ones(active.size)
        new = th + step
        new[:, 2] = np.maximum(new[:, 2], LOG_SIGMA_MIN)
        new_ll, new_grad, new_hess = _loglik(new, c, nodes, logw)
        # a rise, or a fall within rounding of a log-likelihood of this size, is accepted
        bad = new_ll < ll - 1e-12 * np.abs(ll)
        for _ in range(40):  # step halving, on the data sets whose likelihood fell
            if not bad.any():
                break
            scale[bad] *= 0.5
            trial = th[bad] + scale[bad, None] * step[bad]
            trial[:, 2] = np.maximum(trial[:, 2], LOG_SIGMA_MIN)
            out = _loglik(trial, c.subset(bad), nodes, logw)
            idx = np.flatnonzero(bad)
            new[idx], new_ll[idx], new_grad[idx], new_hess[idx] = trial, *out
            bad[idx] = out[0] < ll[idx] - 1e-12 * np.abs(ll[idx])
        stuck = bad  # no rise even after 40 halvings: left unconverged
        moved = np.abs(new - th).max(axis=1)
        th = np.where(stuck[:, None], th, new)
        ll, grad = np.where(stuck, ll, new_ll), np.where(stuck[:, None], grad, new_grad)
        hess = np.where(stuck[:, None, None], hess, new_hess)
        theta[active], boundary[active], info[active] = th, bnd, -hess
        iterations[active] += 1
        done = ~stuck & (moved < tol)
        converged[active[done]] = True
        keep = ~(done | stuck)
        if not keep.any():
            break
        if not keep.all():
            active, c = active[keep], c.subset(keep)
            th, ll, grad, hess = th[keep], ll[keep], grad[keep], hess[keep]
    # Wald SE of b1 from the analytic information; at the boundary from its (b0, b1) block
    b_only = np.linalg.inv(info[:, :2, :2])[:, 1, 1]
    with np.errstate(invalid="ignore"):
        full = np.linalg.inv(np.where(boundary[:, None, None], np.eye(3), info))[:, 1, 1]
        se = np.sqrt(np.where(boundary, b_only, full))
    ok = converged & np.isfinite(se)
    b1 = np.where(ok, theta[:, 1], np.nan)
    se = np.where(ok, se, np.nan)
    with np.errstate(invalid="ignore"):
        p = 2 * special.ndtr(-np.abs(b1 / se))
    return MixedBatchFit(log_or=b1, se=se, odds_ratio=np.exp(b1), lo=np.exp(b1 - Z95 * se), hi=np.exp(b1 + Z95 * se),
                         p=p, intercept=np.where(ok, theta[:, 0], np.nan),
                         sigma=np.where(ok, np.exp(theta[:, 2]), np.nan), converged=ok,
                         at_boundary=boundary & ok, iterations=iterations)  # fmt: skip
