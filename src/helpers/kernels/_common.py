"""Shared plumbing of the batched kernels: input checks, the complete-case mask, sorting by time.

Every kernel takes arrays shaped ``(R, n)`` (``R`` replicate cohorts of ``n`` patients; a 1-D
array is one cohort) and an optional boolean ``mask`` of the same shape: ``False`` drops the
patient from that replicate's analysis, so complete-case analyses can have different
missingness in each replicate. Rows with a non-finite time or covariate are dropped too
(complete case), so a simulator may simply write NaN for a missing value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # standard normal 97.5th percentile: two-sided 95% intervals


def as_batch(a, name: str, ndim: int = 2) -> np.ndarray:
    """Return ``a`` as a float array with a leading replicate axis (adds it for one cohort)."""
    arr = np.asarray(a, dtype=float)
    if arr.ndim == ndim - 1:
        arr = arr[None]
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim - 1} or {ndim} dimensions (R, n, ...); got shape {arr.shape}")
    return arr


def weighted_gram(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_n weight_rn x_rn x_rn' per replicate (R, k, k), as a batched matrix product."""
    return np.matmul((x * weight[..., None]).transpose(0, 2, 1), x)


def well_conditioned(info: np.ndarray, limit: float = 1e12) -> np.ndarray:
    """(R,) True where the symmetric information matrix is finite and not near-singular.

    A condition number above ``limit`` means a flat direction of the likelihood (no unique
    maximum, e.g. separation): Newton steps there are meaningless.
    """
    ok = np.isfinite(info).all((1, 2))
    out = np.zeros(len(info), dtype=bool)
    if ok.any():
        eig = np.linalg.eigvalsh(info[ok])
        out[ok] = (eig[:, 0] > 0) & (eig[:, -1] < limit * eig[:, 0])
    return out


def wald_summary(info: np.ndarray, beta: np.ndarray, converged: np.ndarray, nan_if_unconverged: bool,
                 z: float) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Standard errors from the information matrix, Wald z, P and exp(beta) with its CI.

    A fit whose information matrix is singular at the end gets no standard errors and counts
    as not converged. Returns (beta, se, z, p, exp(beta), lower, upper, converged).
    """
    from scipy import stats

    cov = np.full_like(info, np.nan)
    ok = well_conditioned(info, limit=1e14)
    if ok.any():
        cov[ok] = np.linalg.inv(info[ok])
    var = np.diagonal(cov, axis1=1, axis2=2)
    with np.errstate(invalid="ignore"):
        se = np.where(var > 0, np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    converged = converged & np.isfinite(se).all(1)
    if nan_if_unconverged:
        beta = np.where(converged[:, None], beta, np.nan)
        se = np.where(converged[:, None], se, np.nan)
    zstat = beta / se
    p = 2 * stats.norm.sf(np.abs(zstat))
    with np.errstate(over="ignore"):
        return beta, se, zstat, p, np.exp(beta), np.exp(beta - z * se), np.exp(beta + z * se), converged


def complete_case(time: np.ndarray, mask, *others: np.ndarray) -> np.ndarray:
    """Boolean (R, n): patients kept — inside ``mask`` and with finite time and covariates."""
    keep = np.isfinite(time)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.ndim == 1:
            m = m[None]
        if m.shape != time.shape:
            raise ValueError(f"mask must have the shape of time {time.shape}; got {m.shape}")
        keep &= m
    for arr in others:
        fin = np.isfinite(arr)
        keep &= fin if fin.ndim == 2 else fin.all(axis=-1)
    return keep


@dataclass
class Sorted:
    """One replicate per row, patients sorted by time, dropped patients moved to the end.

    Tied times form a *tie group*; ``start``/``last`` flag the first/last position of each
    group; ``first_idx``/``last_idx`` give, for every position, its group's first/last position.
    """

    order: np.ndarray  # (R, n) permutation applied to each row
    time: np.ndarray  # (R, n) sorted times, +inf for dropped patients
    keep: np.ndarray  # (R, n) float 0/1
    event: np.ndarray  # (R, n) float 0/1, 0 for dropped patients
    start: np.ndarray  # (R, n) bool
    last: np.ndarray  # (R, n) bool
    first_idx: np.ndarray  # (R, n) int
    last_idx: np.ndarray  # (R, n) int

    def __post_init__(self):
        r, n = self.time.shape
        base = (np.arange(r) * n)[:, None]
        # flat positions into an (R*n, ...) view: plain fancy indexing beats take_along_axis
        self._first_flat = (base + self.first_idx).ravel()
        self._last_flat = (base + self.last_idx).ravel()

    def take(self, a: np.ndarray) -> np.ndarray:
        """Reorder an (R, n) or (R, n, k) array like the sorted rows."""
        idx = self.order if a.ndim == 2 else self.order[..., None]
        return np.take_along_axis(a, idx, axis=1)

    def _at(self, a: np.ndarray, flat: np.ndarray) -> np.ndarray:
        r, n = a.shape[:2]
        return a.reshape((r * n,) + a.shape[2:])[flat].reshape(a.shape)

    def at_risk(self, w: np.ndarray) -> np.ndarray:
        """Sum of ``w`` over the risk set (time >= this position's time), per position.

        ``w`` is (R, n) or (R, n, ...) already in sorted order.
        """
        # reverse cumulative sum, not total minus forward sum: small late risk sets stay exact
        rev = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
        return self._at(rev, self._first_flat)

    def cum_through_group(self, w: np.ndarray) -> np.ndarray:
        """Sum of ``w`` over all positions with time <= this position's time."""
        return self._at(np.cumsum(w, axis=1), self._last_flat)

    def group_sum(self, w: np.ndarray) -> np.ndarray:
        """Sum of ``w`` over each position's tie group (same time), per position."""
        cum = np.cumsum(w, axis=1)
        return self._at(cum, self._last_flat) - self._at(cum, self._first_flat) + self._at(w, self._first_flat)

    def rank_in_group(self, w: np.ndarray) -> np.ndarray:
        """Running count of ``w`` before this position within its tie group (0, 1, ...)."""
        cum = np.cumsum(w, axis=1)
        return cum - w - self._at(cum, self._first_flat) + self._at(w, self._first_flat)

    def subset(self, rows: np.ndarray) -> Sorted:
        """The same sorting for a subset of the replicates."""
        return Sorted(self.order[rows], self.time[rows], self.keep[rows], self.event[rows],
                      self.start[rows], self.last[rows], self.first_idx[rows], self.last_idx[rows])  # fmt: skip


def sort_by_time(time: np.ndarray, event: np.ndarray, keep: np.ndarray) -> Sorted:
    """Sort each replicate by time (dropped patients last) and mark the tie groups."""
    t = np.where(keep, time, np.inf)
    order = np.argsort(t, axis=1, kind="stable")
    ts = np.take_along_axis(t, order, axis=1)
    ks = np.take_along_axis(keep, order, axis=1).astype(float)
    es = np.take_along_axis(np.where(keep, event, 0.0), order, axis=1)
    if not np.isin(es, (0.0, 1.0)).all():
        raise ValueError("event must be 0/1 (or boolean)")
    n = ts.shape[1]
    start = np.ones_like(ts, dtype=bool)
    start[:, 1:] = ts[:, 1:] != ts[:, :-1]
    last = np.ones_like(ts, dtype=bool)
    last[:, :-1] = start[:, 1:]
    idx = np.broadcast_to(np.arange(n), ts.shape)
    first_idx = np.maximum.accumulate(np.where(start, idx, 0), axis=1)
    rev = np.where(last[:, ::-1], idx[:, ::-1], n)
    last_idx = np.minimum.accumulate(rev, axis=1)[:, ::-1]
    return Sorted(order, ts, ks, es, start, last, first_idx, np.ascontiguousarray(last_idx))
