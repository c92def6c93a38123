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
    group and ``first_idx`` gives, for every position, the index of its group's first position.
    """

    order: np.ndarray  # (R, n) permutation applied to each row
    time: np.ndarray  # (R, n) sorted times, +inf for dropped patients
    keep: np.ndarray  # (R, n) float 0/1
    event: np.ndarray  # (R, n) float 0/1, 0 for dropped patients
    start: np.ndarray  # (R, n) bool
    last: np.ndarray  # (R, n) bool
    first_idx: np.ndarray  # (R, n) int

    def take(self, a: np.ndarray) -> np.ndarray:
        """Reorder an (R, n) or (R, n, k) array like the sorted rows."""
        idx = self.order if a.ndim == 2 else self.order[..., None]
        return np.take_along_axis(a, idx, axis=1)

    def at_risk(self, w: np.ndarray) -> np.ndarray:
        """Sum of ``w`` over the risk set (time >= this position's time), per position.

        ``w`` is (R, n) or (R, n, ...) already in sorted order.
        """
        rev = np.flip(np.cumsum(np.flip(w, axis=1), axis=1), axis=1)
        idx = self.first_idx.reshape(self.first_idx.shape + (1,) * (w.ndim - 2))
        return np.take_along_axis(rev, idx, axis=1)

    def group_sum(self, w: np.ndarray) -> np.ndarray:
        """Sum of ``w`` over each position's tie group (same time), per position."""
        cum = np.cumsum(w, axis=1)
        pad = np.concatenate([np.zeros_like(cum[:, :1]), cum], axis=1)
        last_idx = self._last_idx().reshape(self.first_idx.shape + (1,) * (w.ndim - 2))
        first = self.first_idx.reshape(last_idx.shape)
        return np.take_along_axis(pad, last_idx + 1, axis=1) - np.take_along_axis(pad, first, axis=1)

    def rank_in_group(self, w: np.ndarray) -> np.ndarray:
        """Running count of ``w`` before this position within its tie group (0, 1, ...)."""
        cum = np.cumsum(w, axis=1)
        pad = np.concatenate([np.zeros_like(cum[:, :1]), cum], axis=1)
        return cum - w - np.take_along_axis(pad, self.first_idx, axis=1)

    def _last_idx(self) -> np.ndarray:
        n = self.time.shape[1]
        idx = np.broadcast_to(np.arange(n), self.time.shape)
        rev = np.where(np.flip(self.last, axis=1), np.flip(idx, axis=1), n)
        return np.flip(np.minimum.accumulate(rev, axis=1), axis=1)


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
    return Sorted(order, ts, ks, es, start, last, first_idx)
