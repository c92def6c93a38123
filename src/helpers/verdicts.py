"""Verdicts that could have failed: predictive percentile, power against a stated alternative, status.

A printed number is judged against the distribution of the same number over replicate studies
of the paper's own size, simulated from the model (``helpers.replicate``):

- **predictive percentile**: where the printed value falls in that distribution. A printed token
  stands for an interval ("2.66" is [2.655, 2.665], "<40" is [0, 40], "NR" is "not reached"),
  so the percentile is an interval too: [share of replicates below the interval, share at or
  below it]. "NR" is compared with the share of replicates whose median is not reached, a
  bound with the share of replicates that satisfy it.
- the check **flags** the printed value when its whole percentile interval lies outside the
  central 95% (below 2.5% or above 97.5%), by more than Monte Carlo error (``MC_MARGIN_SE``
  standard errors); within that error of the edge the verdict is ``borderline``, never decided
  by the draw of replicates.
- **power** of the check: the chance it would have flagged the printed value had a stated
  alternative been true (``ALTERNATIVES``, one line of reason each). For an effect the
  alternative is the same model with the effect removed; for a median a 25% longer or shorter
  one; for a percentage 10 points either way. The alternative's replicate distribution is the
  model's, shifted on the quantity's natural scale (log for ratios and times, the P scale with
  uniform P for a null effect); ``tests/test_verdicts.py`` checks this shortcut against full
  simulations with the effect removed.
- **status**: ``supported`` (inside, and the check had at least ``POWER_NEEDED`` power),
  ``uninformative`` (inside, but the check could hardly have failed), ``borderline``,
  ``contradicted`` (outside; with a reason class, see ``REASONS``), ``input`` (a printed count
  fed to the simulator: shown, not judged), ``no-band``, ``not-rederived``, ``not-implemented``.

A qualitative claim ("higher in NDR", "significant") is judged the same way on a 0/1 outcome per
replicate: 1 when the replicate shows the printed direction (and significance, where the source
claims it). Its percentile interval is [1 - share showing it, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

LEVEL = 0.95  # central band of same-size replicate studies
TAIL = (1 - LEVEL) / 2
POWER_NEEDED = 0.80  # conventional design power: below it a check "could hardly have failed"
MC_MARGIN_SE = 2.0  # a percentile within 2 Monte Carlo SEs of a band edge is not decided by the draw
SIGNIFICANCE = 0.05  # what the papers call significant (two-sided)

STATUSES = ("supported", "uninformative", "borderline", "contradicted", "input", "no-band",
            "not-rederived", "not-implemented")  # fmt: skip
JUDGED = ("supported", "uninformative", "borderline", "contradicted")
# Why a printed number can be contradicted: the printed numbers cannot all be true (the audit
# finds them inconsistent), the model's structure cannot produce it, or a named assumption sets it.
REASONS = ("infeasible", "model", "assumption", "unexplained")

Scale = Literal["log", "identity", "p", "outcome"]


@dataclass(frozen=True)
class Alternative:
    """What the check is asked to rule out: an effect removed, or a shift of stated size."""

    text: str  # shown beside the verdict
    scale: Scale  # where the shift is applied
    shift: float | None = None  # +/- shift on ``scale``; None: the effect removed (to ``null``)
    null: float | None = None  # the no-effect value on the quantity's own scale

    def shifted(self, draws: np.ndarray) -> list[np.ndarray]:
        """The alternative's replicate distributions (one per direction for a +/- shift)."""
        fwd, inv = _SCALES[self.scale]
        g = fwd(draws)
        if self.shift is None:
            centre = np.median(g[np.isfinite(g)]) if np.isfinite(g).any() else 0.0
            return [inv(g - centre + fwd(np.float64(self.null)))]
        return [inv(g + self.shift), inv(g - self.shift)]


_SCALES = {
    "log": (lambda x: np.log(np.maximum(x, 1e-300)), np.exp),
    "identity": (lambda x: x, lambda x: x),
}

HR_NULL = Alternative("no effect (ratio 1)", "log", null=1.0)
# One alternative per quantity kind; the reason for each size is on its line.
ALTERNATIVES: dict[str, Alternative] = {
    "HR": HR_NULL,  # the question a hazard ratio answers: is there an effect?
    "OR": HR_NULL,
    "fold_change": HR_NULL,
    "difference": Alternative("no effect (difference 0)", "identity", null=0.0),
    "correlation": Alternative("no association (0)", "identity", null=0.0),
    "AUC": Alternative("no discrimination (AUC 0.5)", "identity", null=0.5),
    # a printed P: the same test with no effect, where P is uniform on (0, 1)
    "P": Alternative("no effect (P uniform)", "p"),
    # a claimed direction: no effect, where each direction (or a significant one) is chance
    "qualitative": Alternative("no effect", "outcome"),
    # times: 25% longer or shorter, a hazard ratio of 0.8 under exponential survival (the
    # smallest difference survival studies are commonly designed to detect)
    "median": Alternative("25% longer or shorter", "log", shift=math.log(1.25)),
    "followup": Alternative("25% longer or shorter", "log", shift=math.log(1.25)),
    "count": Alternative("25% more or fewer", "log", shift=math.log(1.25)),
    # proportions: 10 percentage points, the usual response-rate difference single-arm trials target
    "percent": Alternative("10 points higher or lower", "identity", shift=10.0),
    "landmark_survival": Alternative("10 points higher or lower", "identity", shift=10.0),
    "landmark_event": Alternative("10 points higher or lower", "identity", shift=10.0),
    "rate": Alternative("10 points higher or lower", "identity", shift=10.0),
}


@dataclass(frozen=True)
class Judgement:
    """One printed number against its replicate distribution (see the module docstring)."""

    percentile_lo: float
    percentile_hi: float
    percentile_mcse: float
    check_power: float
    alternative: str
    flagged: bool  # outside the band beyond Monte Carlo error
    borderline: bool  # within Monte Carlo error of a band edge
    replicates: int  # draws that entered (failed analyses excluded)


# A decimal boundary such as 2.345 is not exact in binary floating point: widen each printed
# interval by this relative amount so a true value on the boundary stays inside (as the audit does).
FLOAT_SLACK = 1e-9
EXACT_QUANTITIES = {"count", "n"}  # printed as whole numbers: exact, not rounded


def printed_interval(printed: str | None, value: float | None, quantity: str) -> tuple[float, float, float]:
    """(lo, hi, half_step): the values a printed token stands for, and half its rounding step.

    "2.66" -> [2.655, 2.665]; a count "72" -> [72, 72]; "<40" -> [0, 40]; "NR" -> [inf, inf]
    (not reached); no token -> the value itself. ``half_step`` is 0 for bounds and exact counts.
    """
    from .tokens import parse

    tok = parse(printed) if isinstance(printed, str) else None
    if tok is not None and tok.status == "not_reached":
        return math.inf, math.inf, 0.0
    if tok is None or tok.status == "malformed":
        v = math.nan if value is None else float(value)
        return v, v, 0.0
    if tok.status == "number" and (quantity in EXACT_QUANTITIES and tok.decimals == 0):
        return tok.value, tok.value, 0.0
    lo, hi = tok.interval()
    half = 0.5 * (hi - lo) if tok.status == "number" else 0.0
    return lo - FLOAT_SLACK * max(1.0, abs(lo)), hi + FLOAT_SLACK * max(1.0, abs(hi)), half


def percentile_interval(draws: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """[share of draws below ``lo``, share at or below ``hi``] (draws may hold +/-inf)."""
    return float(np.mean(draws < lo)), float(np.mean(draws <= hi))


def flags(draws: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Would the check flag printed intervals [lo, hi] (arrays), judged against ``draws``?"""
    x = np.sort(draws)
    below = np.searchsorted(x, lo, side="left") / x.size  # share < lo
    at_or_below = np.searchsorted(x, hi, side="right") / x.size  # share <= hi
    return (at_or_below < TAIL) | (below > 1 - TAIL)


def mc_margin(replicates: int) -> float:
    """Monte Carlo SE of a share near a band edge, times ``MC_MARGIN_SE``."""
    return MC_MARGIN_SE * math.sqrt(TAIL * (1 - TAIL) / max(replicates, 1))


def judge(draws, printed_lo: float, printed_hi: float, quantity: str, *, half_step: float = 0.0,
          outcome_null: float | None = None) -> Judgement | None:  # fmt: skip
    """Judge a printed interval against replicate ``draws`` of the same quantity.

    ``half_step``: half the printed rounding step (so the alternative's values are rounded as the
    paper would print them). ``outcome_null``: for a 0/1 outcome (qualitative claims), its
    probability under no effect. Returns None when no draw is usable.
    """
    x = np.asarray(draws, float)
    x = x[~np.isnan(x)]  # a failed analysis is not an outcome; +/-inf (not reached) is
    if x.size == 0:
        return None
    p_lo, p_hi = percentile_interval(x, printed_lo, printed_hi)
    margin = mc_margin(x.size)
    flagged = p_hi < TAIL - margin or p_lo > 1 - TAIL + margin
    borderline = not flagged and (p_hi < TAIL + margin or p_lo > 1 - TAIL - margin)
    alt = ALTERNATIVES.get(quantity)
    if alt is None:
        power = math.nan
    elif _is_statement(printed_lo, printed_hi, half_step) and alt.scale not in ("outcome",):
        power = _statement_power(x, alt, printed_lo, printed_hi)
    else:
        power = _power(x, alt, half_step, outcome_null)
    mid = min(max(0.5 * (p_lo + p_hi), 1 / x.size), 1 - 1 / x.size)
    return Judgement(p_lo, p_hi, math.sqrt(mid * (1 - mid) / x.size), power,
                     alt.text if alt else "", flagged, borderline, int(x.size))  # fmt: skip


def _power(x: np.ndarray, alt: Alternative, half_step: float, outcome_null: float | None) -> float:
    if alt.scale == "outcome":  # 0/1 outcome: the printed one is 1; under no effect P(1) = null
        q = 0.5 if outcome_null is None else outcome_null
        return float(q * flags(x, np.ones(1), np.ones(1))[0] + (1 - q) * flags(x, np.zeros(1), np.zeros(1))[0])
    if alt.scale == "p":  # uniform P on an evenly spaced grid (exact for the shortcut, no noise)
        u = (np.arange(x.size) + 0.5) / x.size
        return float(np.mean(flags(x, u - half_step, u + half_step)))
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return math.nan
    powers = [float(np.mean(flags(x, y - half_step, y + half_step))) for y in alt.shifted(finite)]
    return min(powers)  # the direction the check is weaker in


def _is_statement(lo: float, hi: float, half_step: float) -> bool:
    """A bound ("<40", "<.0001") or "not reached": a statement about where the value lies, not a value."""
    if lo == hi:
        return math.isinf(lo)  # NR; an exact count is a value
    return half_step == 0 and (math.isinf(lo) or math.isinf(hi) or lo <= 0)


def _statement_power(x: np.ndarray, alt: Alternative, lo: float, hi: float) -> float:
    """Power of checking a bound or NR: could the check have told the alternative apart? In each
    direction, 1 if studies under the alternative satisfy the printed statement so rarely (under
    2.5%) that it would have been flagged, else 0; the weaker direction counts."""
    if alt.scale == "p":
        u = (np.arange(x.size) + 0.5) / x.size  # no effect: uniform P
        alternatives = [u]
    else:
        alternatives = alt.shifted(x)
    return min(float(np.mean((y >= lo) & (y <= hi)) < TAIL) for y in alternatives)


def status(role: str, judgement: Judgement | None, has_rederived: bool) -> str:
    """The status word for one row (see the module docstring)."""
    if role == "input":
        return "input"
    if judgement is None:
        return "no-band" if has_rederived else "not-rederived"
    if judgement.flagged:
        return "contradicted"
    if judgement.borderline:
        return "borderline"
    if np.isfinite(judgement.check_power) and judgement.check_power >= POWER_NEEDED:
        return "supported"
    return "uninformative"


def exaggeration(effects: np.ndarray, p: np.ndarray, alpha: float = SIGNIFICANCE) -> float:
    """Winner's curse: median |effect| among significant replicates over the model's |effect|.

    ``effects`` on their additive scale (log ratio, difference). The model's effect is the median
    over all replicates; a value of 1.5 means a study that reaches significance overstates the
    effect by half, typically.
    """
    ok = np.isfinite(effects) & np.isfinite(p)
    e, pv = effects[ok], p[ok]
    if e.size == 0:
        return math.nan
    truth = np.median(e)
    sig = (pv < alpha) & (np.sign(e) == np.sign(truth))
    if truth == 0 or not sig.any():
        return math.nan
    return float(np.median(np.abs(e[sig])) / abs(truth))
