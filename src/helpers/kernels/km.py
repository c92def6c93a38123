"""Kaplan–Meier survival across replicate cohorts: curve, median with 95% CI, landmark S(t).

Conventions (those of lifelines' ``KaplanMeierFitter``, which the tests compare against):

- Greenwood variance of log S; where S reaches 0 the Greenwood term is set to 0, as lifelines does.
- Pointwise 95% CI on the log(-log S) scale ("log-log", SAS's default ``CONFTYPE=LOGLOG``);
  ``conf_type="log"`` gives R survival's default instead (used to test against R's outputs).
- Median (any quantile) by R survival's rule (``quantile.survfit``), which SAS LIFETEST shares:
  the first time at which S(t) <= 0.5; where S lies *exactly* on 0.5 over a flat stretch (within
  ``TOLERANCE``, as R), the midpoint of that stretch — up to the next drop, or to the last
  follow-up time when the curve ends flat; ``inf`` if S never gets there ("not reached").
  lifelines differs here: it takes the first time S <= 0.5 and lets floating-point noise decide
  a flat stretch (times 1…6 uncensored give 4 there, 3.5 in R and SAS).
- Median 95% CI of Brookmeyer–Crowley type: the same rule applied to the lower and the upper
  pointwise bands (R's and SAS's construction; lifelines'
  ``median_survival_times(kmf.confidence_interval_)`` without the midpoint rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import Z95, Sorted, as_batch, complete_case, sort_by_time

TOLERANCE = float(np.sqrt(np.finfo(float).eps))  # R's quantile.survfit: sqrt(.Machine$double.eps)
CONF_TYPES = ("log-log", "log")


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


def kaplan_meier(time, event, mask=None, z: float = Z95, conf_type: str = "log-log") -> KMCurves:
    """Kaplan–Meier estimate and pointwise CI for each replicate (rows of ``time``).

    ``conf_type``: "log-log" (SAS LIFETEST's and lifelines' default) or "log" (R survival's).
    """
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}; got {conf_type!r}")
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
    lower, upper = (loglog_band if conf_type == "log-log" else log_band)(surv, gw, z)
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


def log_band(surv: np.ndarray, greenwood: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S on the log S scale (R survival's default), upper bound capped at 1.

    Not estimated (NaN) where S = 0, as in R: such a band never crosses a quantile there.
    """
    half = z * np.sqrt(greenwood)
    with np.errstate(invalid="ignore"):
        lower = np.where(surv > 0.0, surv * np.exp(-half), np.nan)
        upper = np.where(surv > 0.0, np.minimum(1.0, surv * np.exp(half)), np.nan)
    return lower, upper


def crossing_time(curve: np.ndarray, times: np.ndarray, last_time: np.ndarray, q: float = 0.5,
                  tol: float = TOLERANCE) -> np.ndarray:  # fmt: skip
    """Where a survival-type curve crosses ``q``, by R survival's rule (see the module docstring).

    ``curve`` and ``times``: (R, m) values and times in time order (a value holds from its time
    on); ``last_time``: (R,) the last follow-up time, which closes a flat stretch at the end.
    """
    rows = np.arange(curve.shape[0])
    reach = curve <= q + tol  # at or below q, within tolerance
    first = np.argmax(reach, axis=1)
    found = reach[rows, first]
    t_first = np.where(found, times[rows, first], np.inf)
    below = curve < q - tol  # clearly below q: the end of a flat stretch at q
    nxt = np.argmax(below, axis=1)
    t_next = np.where(below[rows, nxt], times[rows, nxt], last_time)
    flat = found & (np.abs(curve[rows, first] - q) < tol)
    return np.where(flat, 0.5 * (t_first + t_next), t_first)


def median(curves: KMCurves, q: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median survival (or the ``q`` quantile of S) with its 95% CI; ``inf`` = not reached.

    NaN for a replicate with no patients left after the mask.
    """
    empty = np.isnan(curves.last_time)
    return tuple(
        np.where(empty, np.nan, crossing_time(c, curves.time, curves.last_time, q))
        for c in (curves.survival, curves.lower, curves.upper)
    )


def lifelines_median(fitter, q: float = 0.5) -> tuple[float, float, float]:
    """Median and 95% CI of a fitted lifelines ``KaplanMeierFitter`` by R's rule (see above).

    The single-cohort reference path: lifelines' own curve and log-log band, R's crossing rule
    (lifelines' ``median_survival_time_`` has no midpoint rule).
    """
    times = fitter.survival_function_.index.to_numpy(float)[None]
    last = np.array([float(fitter.durations.max())])
    curves = (fitter.survival_function_.to_numpy(float)[:, 0],
              fitter.confidence_interval_.to_numpy(float)[:, 0],
              fitter.confidence_interval_.to_numpy(float)[:, 1])  # fmt: skip
    return tuple(float(crossing_time(c[None], times, last, q)[0]) for c in curves)


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


def km_median(time, event, mask=None, conf_type: str = "log-log") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shortcut: median and its 95% CI per replicate, arrays (R,)."""
    return median(kaplan_meier(time, event, mask, conf_type=conf_type))


def followup_median(time, event, mask=None) -> np.ndarray:
    """Median follow-up by reverse Kaplan–Meier: censoring is the 'event', the event censors.

    Per replicate (R,); ``inf`` when fewer than half are ever censored. The same R/SAS rule as
    every median here (a flat stretch at 0.5 gives its midpoint).
    """
    e = as_batch(event, "event")
    return median(kaplan_meier(time, 1.0 - e, mask))[0]


def km_survival_at(time, event, times, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shortcut: landmark S(t) and its 95% CI per replicate, arrays (R, len(times))."""
    return survival_at(kaplan_meier(time, event, mask), times)
