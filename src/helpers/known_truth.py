"""A toy "paper" whose truth is known: the test bed of the conditional bands (issue 18).

One single-arm survival study as a paper would print it: ``N`` = 238 patients, Weibull survival
(median ``median`` months, shape ``shape``), accrual uniform over ``ACCRUAL`` months and the data
cut ``MIN_FOLLOWUP`` months after the last patient entered. The paper prints the Kaplan–Meier
median with its 95% CI (one decimal, months) and the landmark survival at 6 and 12 months (percent,
one decimal). The median is the calibration target; S(6) and S(12) of the same patients are held
out. ``Toy`` has the interface ``helpers.posterior`` fits (``free``, ``bounds``, ``targets``,
``summaries``), so the known-truth checks run the very code the papers run.

``independent_band`` is today's band: the median's scale fitted to the printed median (the
assumed shape held), then same-size studies simulated from that fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .kernels import kaplan_meier, median, survival_at

N = 238
ACCRUAL = 24.0  # months of uniform accrual
MIN_FOLLOWUP = 12.0  # months from the last entry to the data cut
LANDMARKS = {"s6": 6.0, "s12": 12.0}
TRUE_SHAPE = 0.8  # the toy: Weibull shape 0.8
# prior of the median (months): uniform; the truth of each simulated paper is drawn from it too,
# so the predictive intervals' coverage is nominal on average over papers (exact Bayes)
MEDIAN_RANGE = (3.0, 15.0)
SHAPE_RANGE = (0.5, 1.5)
ITEMS = ("median", "s6", "s12")
QUANTITY = {"median": "median", "s6": "landmark_survival", "s12": "landmark_survival"}
DECIMALS = 1  # every printed number has one decimal


def simulate(rng: np.random.Generator, median_months: np.ndarray, shape: np.ndarray, n: int = N):
    """(time, event) arrays (m, n) of m cohorts, one per row of the parameter arrays."""
    med = np.asarray(median_months, float).reshape(-1, 1)
    k = np.broadcast_to(np.asarray(shape, float).reshape(-1, 1), med.shape)
    scale = med / math.log(2) ** (1 / k)
    t = scale * rng.standard_exponential((med.shape[0], n)) ** (1 / k)
    cut = ACCRUAL + MIN_FOLLOWUP - ACCRUAL * rng.random((med.shape[0], n))  # time from entry to the cut
    return np.minimum(t, cut), (t <= cut).astype(float)


def summarise(time: np.ndarray, event: np.ndarray) -> dict[str, np.ndarray]:
    """What the paper prints, unrounded: KM median with CI (months), S(6), S(12) (percent)."""
    km = kaplan_meier(time, event)
    med, lo, hi = median(km)
    surv = survival_at(km, list(LANDMARKS.values()))[0] * 100
    return {"median": med, "median_lo": lo, "median_hi": hi,
            **{name: surv[:, j] for j, name in enumerate(LANDMARKS)}}  # fmt: skip


def printed(values: Mapping[str, float]) -> dict[str, str]:
    """Each number as the paper prints it (one decimal; "NR" for a median not reached)."""
    return {k: ("NR" if not np.isfinite(v) else f"{v:.{DECIMALS}f}") for k, v in values.items()}


@dataclass
class Toy:
    """A simulated paper: what it printed, and the model ``helpers.posterior`` conditions on it.

    ``free``: the parameters given a prior (the median; and the shape when ``shape`` is None);
    ``shape``: the assumed shape otherwise (the truth, or a wrong assumption).
    """

    tokens: dict[str, str]
    shape: float | None = TRUE_SHAPE
    name: str = "toy"
    free: tuple[str, ...] = field(init=False)
    bounds: dict[str, tuple[float, float]] = field(init=False)
    targets: tuple = field(init=False)
    held_out: tuple[str, ...] = ("s6", "s12")

    def __post_init__(self):
        from .posterior import Target, target_scale

        self.free = ("median",) if self.shape is not None else ("median", "shape")
        self.bounds = {"median": MEDIAN_RANGE, **({} if self.shape is not None else {"shape": SHAPE_RANGE})}
        scale, se = target_scale("median", self.tokens["median"], self.tokens["median_lo"], self.tokens["median_hi"], n=N)
        self.targets = (Target("median", "median", self.tokens["median"], float(self.tokens["median"]), scale, se),)

    def summaries(self, theta: np.ndarray, seeds: Sequence[int], refs: Sequence[str]) -> np.ndarray:
        """(m, len(refs)) printed quantities of one cohort per parameter row, each from its own seed."""
        theta = np.atleast_2d(np.asarray(theta, float))
        shape = theta[:, 1] if self.shape is None else np.full(len(theta), self.shape)
        rows = []
        for s, med, k in zip(seeds, theta[:, 0], shape, strict=True):
            rows.append(simulate(np.random.default_rng(int(s)), med, k))
        time, event = (np.concatenate(x) for x in zip(*rows, strict=True))
        out = summarise(time, event)
        return np.column_stack([out[r] for r in refs])


def paper(rng: np.random.Generator, median_months: float, shape: float = TRUE_SHAPE) -> tuple[dict[str, str], dict[str, float]]:
    """One simulated paper: (printed tokens, unrounded values) of one cohort from the truth."""
    time, event = simulate(rng, np.array([median_months]), np.array([shape]))
    values = {k: float(v[0]) for k, v in summarise(time, event).items()}
    return printed(values), values


def independent_band(rng: np.random.Generator, tokens: Mapping[str, str], shape: float = TRUE_SHAPE,
                     replicates: int = 300) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Today's band: the median fitted to the printed one (Weibull median = printed median, the
    assumed ``shape`` held), then ``replicates`` same-size studies; 2.5th and 97.5th percentiles of
    each held-out item."""
    fitted = float(tokens["median"])
    time, event = simulate(rng, np.full(replicates, fitted), np.full(replicates, shape))
    out = summarise(time, event)
    return {k: tuple(np.nanquantile(out[k], [0.025, 0.975])) for k in LANDMARKS}
