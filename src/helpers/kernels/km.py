"""Kaplan–Meier survival across replicate cohorts: curve, median with 95% CI, landmark S(t).

Conventions (those of lifelines' ``KaplanMeierFitter``, which the tests compare against):

- Greenwood variance of log S; where S reaches 0 the Greenwood term is set to 0, as lifelines does.
- Pointwise 95% CI on the log(-log S) scale ("log-log", SAS's default ``CONFTYPE=LOGLOG``).
- Median = first time at which S(t) <= 0.5; ``inf`` if S never gets there ("not reached").
- Median 95% CI of Brookmeyer–Crowley type: the first times at which the lower and the upper
  pointwise log-log bands reach 0.5 (``inf`` if never) — what
  ``lifelines.utils.median_survival_times(kmf.confidence_interval_)`` and SAS LIFETEST give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import Z95, Sorted, as_batch, complete_case, sort_by_time


@dataclass
class KMCurves:
    """Kaplan–Meier curves of R replicates, one value per sorted position (see ``kaplan_meier``)."""

    sorted: Sorted
    survival: np.ndarray  # (R, n) S just after each sorted position's time
    lower: np.ndarray  # (R, n) lower log-log 95% band
    upper: np.ndarray  # (R, n) upper log-log 95% band
    n_at_risk: np.ndarray  # (R, n) patients at risk at each position's time
    last_time: np.ndarray  # (R,) largest time among the kept patients (NaN if none)

    @property
    def time(self) -> np.ndarray:
        return self.sorted.time


def kaplan_meier(time, event, mask=None, z: float = Z95) -> KMCurves:
    """Kaplan–Meier estimate and log-log pointwise CI for each replicate (rows of ``time``)."""
    t = as_batch(time, "time")
    e = as_batch(event, "event")
    keep = complete_case(t, mask, e)
    s = sort_by_time(t, e, keep)
    at_risk = s.at_risk(s.keep)
    deaths = s.group_sum(s.event)
    step = s.last & (at_risk > 0) & (deaths > 0)
    safe_n = np.where(step, at_risk, 1.0)
    d = np.where(step, deaths, 0.0)
    # product-limit in log space, summed in time order exactly as lifelines does: the same
    # floating-point S, so a curve landing on 0.5 gives the same median
    with np.errstate(divide="ignore"):
        surv = np.exp(np.cumsum(np.log(safe_n - d) - np.log(safe_n), axis=1))
    # Greenwood term d / (n (n - d)); lifelines sets it to 0 where d == n (S drops to 0)
    gw_den = safe_n * (safe_n - d)
    gw = np.cumsum(np.where(step & (gw_den > 0), d / np.where(gw_den > 0, gw_den, 1.0), 0.0), axis=1)
    lower, upper = loglog_band(surv, gw, z)
    last_time = np.where(keep.any(axis=1), np.where(keep, t, -np.inf).max(axis=1), np.nan)
    return KMCurves(s, surv, lower, upper, at_risk, last_time)


def loglog_band(surv: np.ndarray, greenwood: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S on the log(-log S) scale; (1, 1) where S = 1 and (0, 0) where S = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(surv)
        half = z * np.sqrt(greenwood) / v
        a = np.exp(-np.exp(np.log(-v) - half))
        b = np.exp(-np.exp(np.log(-v) + half))
    lower, upper = np.minimum(a, b), np.maximum(a, b)
    lower = np.where(surv >= 1.0, 1.0, np.where(surv <= 0.0, 0.0, lower))
    upper = np.where(surv >= 1.0, 1.0, np.where(surv <= 0.0, 0.0, upper))
    return lower, upper


def _first_time_at_or_below(curve: np.ndarray, times: np.ndarray, q: float) -> np.ndarray:
    hit = curve <= q
    idx = np.argmax(hit, axis=1)
    found = hit[np.arange(len(idx)), idx]
    return np.where(found, times[np.arange(len(idx)), idx], np.inf)


def median(curves: KMCurves, q: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median survival (or the ``q`` quantile of S) with its 95% CI; ``inf`` = not reached.

    NaN for a replicate with no patients left after the mask.
    """
    t = curves.time
    empty = np.isnan(curves.last_time)
    return tuple(
        np.where(empty, np.nan, _first_time_at_or_below(c, t, q))
        for c in (curves.survival, curves.lower, curves.upper)
    )


def survival_at(curves: KMCurves, times) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S(t) with its log-log 95% CI at each landmark time: arrays (R, len(times)).

    NaN where t lies beyond the replicate's last observed time (S is not estimated there).
    """
    times = np.atleast_1d(np.asarray(times, dtype=float))
    t = curves.time
    r = np.arange(t.shape[0])[:, None]
    # number of sorted positions with time <= landmark; S after the last of them applies
    pos = (t[:, :, None] <= times[None, None, :]).sum(axis=1)
    idx = np.maximum(pos - 1, 0)
    before = pos == 0
    out = []
    for arr in (curves.survival, curves.lower, curves.upper):
        val = np.where(before, 1.0, arr[r, idx])
        out.append(np.where(times[None, :] > curves.last_time[:, None], np.nan, val))
    return tuple(out)


def km_median(time, event, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shortcut: median and its 95% CI per replicate, arrays (R,)."""
    return median(kaplan_meier(time, event, mask))


def km_survival_at(time, event, times, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shortcut: landmark S(t) and its 95% CI per replicate, arrays (R, len(times))."""
    return survival_at(kaplan_meier(time, event, mask), times)
