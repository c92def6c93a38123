"""Random-intercept logistic regression by maximum likelihood with Gauss–Hermite quadrature.

A fast stand-in for a mixed-effects logistic model (statsmodels' ``BinomialBayesMixedGLM`` is
variational Bayes and slow): ``logit P(y_ij = 1) = b0 + b1 x_ij + sigma u_i``, u_i ~ N(0, 1),
the random effect integrated out on ``N_NODES`` fixed (non-adaptive) Gauss–Hermite nodes, the
likelihood maximised by BFGS over (b0, b1, log sigma), the Wald CI of b1 from the inverse of a
finite-difference Hessian. The OR it gives is *conditional* (within patient), so it is larger
than the population-averaged GEE OR whenever sigma > 0.

``random_intercept_logistic_batch`` fits the same model (same nodes) to many data sets at once
for the replicates: Newton–Raphson with the analytic gradient and Hessian of the quadrature
log-likelihood. The data sets come in one flat array (``stack``) and may differ in their numbers
of groups and observations. The covariate must take few distinct values in each data set (a
binary or categorical code; at most ``MAX_VALUES``): the likelihood then depends on the data only
through the counts of observations and of events at each (group, value), and the logistic
functions are evaluated once per (data set, value, node) rather than per observation — this
is what makes thousands of fits take seconds. A continuous covariate needs the single fit.

Caveat for both fits: with sigma near 2 and groups with many observations, the fixed-node
likelihood has small ripples in sigma and can have more than one local maximum; the two
optimisers may then stop at different ones (5 of 84 data sets checked from the calibrated
Figura model; where both find the same maximum they agree to ~1e-7). From other starting
points than the one both use, Newton stops at another local maximum in about 4-6% of
Figura-sized data sets, by up to 0.4 in the log odds ratio: the fixed 40-node rule is kept
as it is (an adaptive rule would remove the ripples, and change the estimator).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special
from scipy.special import log_expit

from ..params import ParameterError
from ._common import Z95
from .odds_ratio import OddsRatio, wald
from .quadrature import gauss_hermite

MAX_VALUES = 16  # distinct covariate values per data set the batch fit accepts
N_NODES = 40  # tests show 40 and 80 nodes agree to < 1e-4 in log OR at sigma up to 2.5
LOG_SIGMA_MIN = np.log(1e-4)  # boundary sigma -> 0: below this the conditional OR moves by < 1e-8


def _nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log weights of the project's one Gauss–Hermite rule (``kernels.quadrature``)."""
    t, w = gauss_hermite(n)
    return t, np.log(w)


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
    return MixedFit(wald(res.x[1], np.sqrt(cov[1, 1])), float(np.exp(res.x[2])), float(res.x[0]))


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
class _Counts:
    """Lesions counted by (group, value of x), per data set: the likelihood needs nothing else.

    A group's lesions with the same x share one linear predictor, so a group is the counts
    ``n`` (lesions) and ``k`` (of them with y = 1) at each of its data set's distinct x values.
    Data sets are padded to the same numbers of groups and of values (padding has n = 0 and adds
    nothing to the likelihood, its gradient or its Hessian).
    """

    values: np.ndarray  # (D, V) distinct x values of each data set
    n: np.ndarray  # (D, G, V)
    k: np.ndarray  # (D, G, V)

    @property
    def k_sum(self) -> np.ndarray:  # (D, G): sum of k
        return self.k.sum(axis=2)

    @property
    def kx_sum(self) -> np.ndarray:  # (D, G): sum of k x
        return (self.k * self.values[:, None, :]).sum(axis=2)

    def subset(self, keep: np.ndarray) -> _Counts:
        """The data sets where ``keep`` is True."""
        return _Counts(self.values[keep], self.n[keep], self.k[keep])


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


def stack_rows(y, x, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``stack`` for R data sets given as the rows of (R, n) arrays (``groups``: labels per row)."""
    g = np.asarray(groups)
    g = g[None] if g.ndim == 1 else g
    ya, xa = (np.broadcast_to(np.asarray(a, float), g.shape) for a in (y, x))
    order = np.argsort(g, axis=1, kind="stable")
    gs = np.take_along_axis(g, order, axis=1)
    new = np.ones(gs.shape, dtype=bool)
    new[:, 1:] = gs[:, 1:] != gs[:, :-1]
    per_set = new.sum(axis=1)
    return (np.take_along_axis(ya, order, axis=1).ravel(), np.take_along_axis(xa, order, axis=1).ravel(),
            np.flatnonzero(new.ravel()), _starts(per_set))  # fmt: skip


def _counts(y: np.ndarray, x: np.ndarray, group_starts: np.ndarray, data_starts: np.ndarray) -> _Counts:
    """Count the lesions of the flat layout by (data set, group, distinct value of x)."""
    nset, n_groups = data_starts.size, group_starts.size
    gid = np.repeat(np.arange(n_groups), np.diff(np.r_[group_starts, y.size]))
    group_set = np.repeat(np.arange(nset), np.diff(np.r_[data_starts, n_groups]))
    dset = group_set[gid]
    local_group = gid - data_starts[dset]
    # distinct x values of each data set, numbered 0, 1, ... within it
    order = np.lexsort((x, dset))
    xs, ds = x[order], dset[order]
    new = np.r_[True, (ds[1:] != ds[:-1]) | (xs[1:] != xs[:-1])]
    first_of_set = np.r_[True, ds[1:] != ds[:-1]]
    code = np.cumsum(new) - 1
    slot_sorted = code - code[np.flatnonzero(first_of_set)][np.cumsum(first_of_set) - 1]
    slot = np.empty_like(slot_sorted)
    slot[order] = slot_sorted
    width_g = int(np.diff(np.r_[data_starts, n_groups]).max())
    width_v = int(slot.max()) + 1
    values = np.zeros((nset, width_v))
    values[ds[new], slot_sorted[new]] = xs[new]
    flat = (dset * width_g + local_group) * width_v + slot
    size = nset * width_g * width_v
    n = np.bincount(flat, minlength=size).astype(float).reshape(nset, width_g, width_v)
    k = np.bincount(flat, y, minlength=size).reshape(nset, width_g, width_v)
    return _Counts(values, n, k)


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


def _loglik(theta: np.ndarray, c: _Counts, nodes: np.ndarray, logw: np.ndarray, derivatives: bool = True):
    """Quadrature log-likelihood per data set and, if asked, its gradient and Hessian in
    (b0, b1, log sigma).

    Per group g and node q: l_gq = sum_v k_gv eta_vq - n_gv log(1 + e^eta_vq), with
    eta_vq = b0 + b1 x_v + sigma t_q the same for every group of a data set, so the logistic
    functions are evaluated once per (data set, value, node). With the posterior node weights
    pi_gq = w_q e^l_gq / sum_q' w_q' e^l_gq' (the mixture identity) d log L_g = E_pi[s_gq] and
    d2 log L_g = E_pi[h_gq + s_gq s_gq'] - E_pi[s_gq] E_pi[s_gq]', where s_gq, h_gq are the
    score and Hessian of l_gq: with r = k - n p and v = n p (1 - p) summed over the group's values
    (R0 = sum r, R1 = sum x r, V0, V1, V2 = sum v, x v, x^2 v) and st = sigma t_q,
    s = (R0, R1, st R0) and h = -[[V0, V1, st V0], [V1, V2, st V1], [st V0, st V1, st^2 V0]]
    + st R0 in the (log sigma, log sigma) entry. R0 and R1 are linear in the node functions
    p_vq, so every posterior expectation needed is a combination of the group counts with
    E_pi[f(q)] for a few node functions f (p_v, p_v p_w, v_v, times 1, st or st^2): one matrix
    product of the posterior weights (groups x nodes) with those functions (nodes x functions).
    """
    b0, b1, sigma = theta[:, 0], theta[:, 1], np.exp(theta[:, 2])
    st = sigma[:, None] * nodes[None, :]  # (D, Q)
    eta = (b0[:, None] + b1[:, None] * c.values)[:, :, None] + st[:, None, :]  # (D, V, Q)
    e = np.exp(-np.abs(eta))
    softplus = np.log1p(e) + np.maximum(eta, 0.0)  # log(1 + e^eta) without overflow
    k, kx = c.k_sum, c.kx_sum  # (D, G)
    # l_gq = (k b0 + kx b1) + k st_q - sum_v n_gv softplus_vq + log w_q
    lhs = np.concatenate([c.n, k[:, :, None]], axis=2)  # (D, G, V + 1)
    rhs = np.concatenate([-softplus, st[:, None, :]], axis=1)  # (D, V + 1, Q)
    post = lhs @ rhs
    post += logw
    top = post.max(axis=2, keepdims=True)
    post -= top
    np.exp(post, out=post)  # w_q e^l_gq, scaled by the group's largest term
    norm = post.sum(axis=2)
    total = (np.log(norm) + top[:, :, 0] + k * b0[:, None] + kx * b1[:, None]).sum(axis=1)
    if not derivatives:
        return total
    p = np.where(eta >= 0, 1.0, e) / (1.0 + e)  # expit(eta)
    var = p * (1.0 - p)
    nv = p.shape[1]
    pairs = [p[:, v] * p[:, w] for v in range(nv) for w in range(v, nv)]
    funcs = [*(p[:, v] for v in range(nv)), *pairs, *(var[:, v] for v in range(nv)), np.ones_like(st)]  # (D, Q) each
    m = np.stack([f * fj for fj in (1.0, st, st * st) for f in funcs], axis=1)  # (D, 3F, Q)
    ex = m @ post.transpose(0, 2, 1)  # (D, 3F, G): unnormalised E_pi of each function
    ex /= norm[:, None, :]
    width = len(funcs)
    n = [c.n[:, :, v] for v in range(nv)]  # (D, G) each
    xv = [c.values[:, v, None] for v in range(nv)]  # (D, 1) each

    def moments(j, need):  # E_pi[st^j R0], [st^j R1], [st^j (R0^2, R0 R1, R1^2)], [st^j (V0, V1, V2)]
        block = ex[:, j * width : (j + 1) * width]
        e_p, e_v, e_1 = block[:, :nv], block[:, nv + len(pairs) : -1], block[:, -1]
        out = {}
        sp = sum(n[v] * e_p[:, v] for v in range(nv))
        spx = sum(xv[v] * n[v] * e_p[:, v] for v in range(nv)) if {"r1", "q01", "q11"} & need else None
        if "r0" in need:
            out["r0"] = k * e_1 - sp
        if "r1" in need:
            out["r1"] = kx * e_1 - spx
        quads = [q for q in ("q00", "q01", "q11") if q in need]
        if quads:
            base = {"q00": k * k * e_1 - 2 * k * sp}
            if "q01" in need:
                base["q01"] = k * kx * e_1 - k * spx - kx * sp
            if "q11" in need:
                base["q11"] = kx * kx * e_1 - 2 * kx * spx
            i = nv
            for v in range(nv):
                for w in range(v, nv):
                    both = n[v] * n[w] * block[:, i] * (1.0 if v == w else 2.0)  # E[p_v p_w] is symmetric
                    base["q00"] += both
                    if "q01" in need:
                        base["q01"] += both * (xv[w] + xv[v]) / 2
                    if "q11" in need:
                        base["q11"] += both * xv[v] * xv[w]
                    i += 1
            out.update({q: base[q] for q in quads})
        for name, power in (("v0", 0), ("v1", 1), ("v2", 2)):
            if name in need:
                out[name] = sum(xv[v] ** power * n[v] * e_v[:, v] for v in range(nv))
        return out

    m0 = moments(0, {"r0", "r1", "q00", "q01", "q11", "v0", "v1", "v2"})
    m1 = moments(1, {"r0", "q00", "q01", "v0", "v1"})
    m2 = moments(2, {"q00", "v0"})
    r0, r1, q00, q01, q11, v0, v1, v2 = (m0[k_] for k_ in ("r0", "r1", "q00", "q01", "q11", "v0", "v1", "v2"))
    s_r0, s_q00, s_q01, s_v0, s_v1 = (m1[k_] for k_ in ("r0", "q00", "q01", "v0", "v1"))
    s2_q00, s2_v0 = m2["q00"], m2["v0"]
    g = np.stack([r0, r1, s_r0], axis=-1)  # (D, G, 3)
    h = np.empty(g.shape + (3,))
    h[..., 0, 0], h[..., 1, 1] = q00 - v0, q11 - v2
    h[..., 0, 1] = h[..., 1, 0] = q01 - v1
    h[..., 0, 2] = h[..., 2, 0] = s_q00 - s_v0
    h[..., 1, 2] = h[..., 2, 1] = s_q01 - s_v1
    h[..., 2, 2] = s2_q00 - s2_v0 + s_r0
    h -= g[..., :, None] * g[..., None, :]
    return total, g.sum(axis=1), h.sum(axis=1)


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
                                    tol: float = 1e-6, max_iter: int = 100, start=None) -> MixedBatchFit:  # fmt: skip
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
    cells = _counts(y, x, group_starts, data_starts)
    if cells.values.shape[1] > MAX_VALUES:
        raise ParameterError(f"x takes more than {MAX_VALUES} distinct values in a data set: the batch fit is "
                             "for a binary or categorical covariate; fit a continuous one with random_intercept_logistic")  # fmt: skip
    nset = data_starts.size
    group_set = np.repeat(np.arange(nset), np.diff(np.r_[data_starts, group_starts.size]))
    lesions_per_group = np.diff(np.r_[group_starts, y.size])
    mean = np.bincount(group_set, np.add.reduceat(y, group_starts), nset) / np.bincount(
        group_set, lesions_per_group, nset)  # fmt: skip
    mean = np.clip(mean, 1e-3, 1 - 1e-3)
    theta = np.column_stack([np.log(mean / (1 - mean)), np.zeros(nset), np.zeros(nset)])
    if start is not None:
        theta = np.array(np.broadcast_to(np.asarray(start, float), theta.shape))
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
        # converged: the next Newton step is below tol. It is taken without evaluating the
        # likelihood again (its error is O(step^2)); the information is the one at th.
        final = np.abs(step).max(axis=1) < tol
        if final.any():
            last = th[final] + step[final]
            last[:, 2] = np.maximum(last[:, 2], LOG_SIGMA_MIN)
            idx = active[final]
            theta[idx], boundary[idx], info[idx] = last, bnd[final], -hess[final]
            converged[idx] = True
            if final.all():
                break
            keep = ~final
            active, c = active[keep], c.subset(keep)
            th, ll, grad, hess, bnd, step = th[keep], ll[keep], grad[keep], hess[keep], bnd[keep], step[keep]
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
        th = np.where(stuck[:, None], th, new)
        ll, grad = np.where(stuck, ll, new_ll), np.where(stuck[:, None], grad, new_grad)
        hess = np.where(stuck[:, None, None], hess, new_hess)
        theta[active], boundary[active], info[active] = th, bnd, -hess
        iterations[active] += 1
        keep = ~stuck
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
