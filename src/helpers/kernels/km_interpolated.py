"""Kaplan-Meier median with the curve interpolated linearly between event times.

The median of R survival / SAS LIFETEST (``kernels.km.median``) is the first event time at which
S(t) <= 0.5: a step function of the event times, which jumps from one event time to the next as
a simulated cohort's times move with a model's parameters. Interpolating S linearly between
consecutive event times (from (0, 1) before the first event) and reading where it crosses 0.5
gives a median that moves continuously with the event times, for objectives that are
differentiated numerically (simulated-moments calibrations). It lies between the previous event
time and the R/SAS median, so it is never above the latter. Not a substitute for the R/SAS
median in reported results.
"""

from __future__ import annotations

import numpy as np

from .km import KMCurves, kaplan_meier


def interpolated_median(curves: KMCurves) -> np.ndarray:
    """Median of each replicate's KM curve, S interpolated linearly between event times; ``inf``
    where S never gets to 0.5 (not reached). Array (R,)."""
    surv, t = curves.survival, curves.time
    r = np.arange(surv.shape[0])
    reach = surv <= 0.5
    j = np.argmax(reach, axis=1)  # the first drop to or below 0.5
    found = reach[r, j]
    # the step before position j: the last position where S dropped (an earlier event), else (0, 1)
    drop = np.ones_like(reach)
    drop[:, 1:] = surv[:, 1:] < surv[:, :-1]
    drop[:, 0] = surv[:, 0] < 1.0
    idx = np.where(drop, np.arange(surv.shape[1]), -1)
    prev_event = np.maximum.accumulate(idx, axis=1)
    k = np.where(j > 0, prev_event[r, np.maximum(j - 1, 0)], -1)
    t_prev = np.where(k >= 0, t[r, np.maximum(k, 0)], 0.0)
    s_prev = np.where(k >= 0, surv[r, np.maximum(k, 0)], 1.0)
    s_j, t_j = surv[r, j], t[r, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(s_prev > s_j, (s_prev - 0.5) / (s_prev - s_j), 1.0)
    return np.where(found, t_prev + frac * (t_j - t_prev), np.inf)


def km_interpolated_median(time, event, mask=None) -> np.ndarray:
    """Shortcut: the interpolated median per replicate, (R,)."""
    return interpolated_median(kaplan_meier(time, event, mask))
