"""Approximate posterior of a paper's free parameters given its printed targets (issue 18).

Likelihood-free: approximate Bayesian computation by sequential Monte Carlo (ABC-SMC, pyabc).
A particle is a parameter vector drawn from the prior (uniform over the bounds declared in
``data/assumed/<paper>.yaml``, ``priors:``); its cohort is simulated at the study's own size and
re-analysed with the batched kernels; the particle is kept when its targets lie close to the
printed ones. Closeness is the calibration's residual scale: each target on its natural scale
(log for times, ratios and counts, logit for percentages, the two-sided normal quantile for a P
value), divided by the SE its printed 95% CI implies (or the binomial SE, or one unit of z for a P),
never below its printed rounding (``target_scale``); the distance is the root mean square of those
z-scores, and each SMC generation lowers the tolerance to a quantile of the last one's distances.

Every simulated cohort has its own seed, a function of the run's seed and the particle's
parameters (``cohort_seed``), so the cohort behind a kept particle can be drawn again: its
held-out numbers (``helpers.conditional``) come from the same patients as its targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from . import tokens
from .kernels._common import Z95

LOG_KINDS = ("median", "followup", "HR", "OR", "count", "fold_change")
PERCENT_KINDS = ("percent", "landmark_survival", "landmark_event", "rate")


@dataclass(frozen=True)
class Target:
    """One printed calibration target and its residual scale."""

    ref: str
    quantity: str
    printed: str | None
    value: float
    scale: str  # "log", "logit" (of a percentage), "z" (of a two-sided P), "identity"
    se: float  # SE on that scale


def transform(scale: str, x):
    """A value on its residual scale (see the module docstring)."""
    x = np.asarray(x, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale == "log":
            return np.log(x)
        if scale == "logit":
            return special.logit(x / 100)
        if scale == "z":
            return special.ndtri(1 - x / 2)
    return x


def target_scale(quantity: str, printed: str | None, lo: str | float | None = None, hi: str | float | None = None,
                 n: float | None = None) -> tuple[str, float]:  # fmt: skip
    """(scale, SE) of a printed target: the SE its 95% CI implies on the scale, one-sided when only
    one bound is finite; without a CI the binomial SE of a percentage at ``n``, one unit for a P's z;
    never below the printed rounding (a uniform error over the rounding step: width / sqrt(12))."""
    scale = "log" if quantity in LOG_KINDS else "logit" if quantity in PERCENT_KINDS else \
        "z" if quantity == "P" else "identity"  # fmt: skip
    tok = tokens.parse(printed) if isinstance(printed, str) else None
    value = tok.value if tok is not None and tok.is_number else float("nan")
    se = 0.0
    if tok is not None and tok.status == "number":
        a, b = tok.interval()
        if scale in ("log", "logit", "z"):
            a = max(a, 1e-12)
        ga, gb = transform(scale, [a, b])
        se = abs(float(gb - ga)) / math.sqrt(12)
    lo_v, hi_v = _finite(lo), _finite(hi)
    g = float(transform(scale, value))
    if lo_v is not None and hi_v is not None:
        se = max(se, abs(float(transform(scale, hi_v) - transform(scale, lo_v))) / (2 * Z95))
    elif lo_v is not None or hi_v is not None:
        se = max(se, abs(g - float(transform(scale, lo_v if lo_v is not None else hi_v))) / Z95)
    elif scale == "z":
        se = max(se, 1.0)  # a test statistic's sampling SD
    elif scale == "logit" and n and 0 < value < 100:
        share = value / 100
        se = max(se, 1 / math.sqrt(n * share * (1 - share)))
    if not se > 0 or not np.isfinite(se):
        raise ValueError(f"no residual scale for printed {printed!r} ({quantity}): give a CI, an n, or a rounded token")
    return scale, float(se)


def _finite(x) -> float | None:
    if x is None:
        return None
    v = tokens.value_of(x) if isinstance(x, str) else float(x)
    return None if v is None or not np.isfinite(v) else float(v)


def zscores(targets: Sequence[Target], simulated: np.ndarray) -> np.ndarray:
    """(m, k) standardised residuals of simulated targets (columns in ``targets`` order); a target
    the cohort cannot estimate (NaN, not reached) is infinitely far."""
    sim = np.atleast_2d(np.asarray(simulated, float))
    out = np.empty_like(sim)
    for j, t in enumerate(targets):
        out[:, j] = (transform(t.scale, sim[:, j]) - transform(t.scale, t.value)) / t.se
    return np.where(np.isfinite(out), out, np.inf)


def distance(z: np.ndarray) -> np.ndarray:
    """Root mean square of the z-scores, per row."""
    z = np.atleast_2d(z)
    return np.sqrt(np.mean(z**2, axis=1))


def cohort_seed(seed: int, theta: np.ndarray) -> int:
    """The seed of a particle's cohort: a function of the run's seed and its parameters' bits."""
    bits = np.ascontiguousarray(np.asarray(theta, np.float64)).view(np.uint32)
    return int(np.random.SeedSequence([int(seed), *map(int, bits)]).generate_state(1, np.uint64)[0])


def uniform_prior(bounds: dict[str, tuple[float, float]]):
    """scipy frozen uniform distributions of the prior, by parameter."""
    return {k: stats.uniform(lo, hi - lo) for k, (lo, hi) in bounds.items()}
