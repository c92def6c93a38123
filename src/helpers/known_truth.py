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
from typing import TYPE_CHECKING

import numpy as np

from .kernels import kaplan_meier, median, survival_at

if TYPE_CHECKING:
    import pandas as pd

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


# ------------------------------------------------------------------ the known-truth coverage study

STUDY_SEED = 20260602
HALF_STEP = 0.5 * 10.0**-DECIMALS  # half the printed rounding step of the median


def rejection(toy: Toy, rng: np.random.Generator, simulations: int = 10_000, keep: int = 250):
    """The posterior of ``toy`` by plain rejection: ``simulations`` cohorts from the prior, the
    ``keep`` closest in the same RMS z-distance that ABC-SMC uses; the same conditioning as
    ``posterior.fit``, vectorised (one generator for all cohorts, so the kept cohorts' held-out
    numbers are computed at once instead of drawn again): cheap enough for hundreds of papers.
    Returns (``posterior.Fit`` with equal weights, held-out values (keep, 2) in ``LANDMARKS`` order)."""
    from . import posterior

    lo, hi = np.array([toy.bounds[k] for k in toy.free]).T
    theta = lo + (hi - lo) * rng.random((simulations, len(toy.free)))
    shape = theta[:, 1] if toy.shape is None else np.full(simulations, toy.shape)
    out = summarise(*simulate(rng, theta[:, 0], shape))
    z = posterior.zscores(toy.targets, np.column_stack([out[t.ref] for t in toy.targets]))
    d = posterior.distance(z)
    best = np.argsort(d, kind="stable")[:keep]
    gen = {"generation": 0, "epsilon": round(float(d[best[-1]]), 4), "simulations": simulations, "accepted": keep,
           "acceptance_rate": keep / simulations, "ess": float(keep)}  # fmt: skip
    f = posterior.Fit(theta[best], np.full(keep, 1 / keep), z[best], np.zeros(keep, np.uint64), [gen], 0.0, "rejection")
    return f, np.column_stack([out[k][best] for k in LANDMARKS])


def one_paper(seed_seq: np.random.SeedSequence, shape_assumed: float = TRUE_SHAPE, method: str = "rejection",
              population: int = 200, budget: int = 3000, replicates: int = 300) -> list[dict]:  # fmt: skip
    """One simulated paper (truth: median from the prior, shape ``TRUE_SHAPE``): its held-out S(6)
    and S(12) against the conditional band (with and without the regression adjustment) and
    against today's independent-study band, both computed under ``shape_assumed``.

    ``method``: "rejection" (``rejection``, vectorised) or "pyabc" (``posterior.fit``, the papers'
    ABC-SMC with ``population`` particles and a ``budget`` of cohorts; about 50 times slower)."""
    from . import conditional, posterior

    rng = np.random.default_rng(seed_seq)
    truth = float(rng.uniform(*MEDIAN_RANGE))
    tokens, values = paper(rng, truth)
    if tokens["median"] == "NR":
        return []
    toy = Toy(tokens, shape=shape_assumed)
    half_z = HALF_STEP / float(tokens["median"]) / toy.targets[0].se  # exact conditioning on the token
    held = list(LANDMARKS)
    if method == "pyabc":
        f = posterior.fit(toy, seed=int(rng.integers(2**31)), population=population, budget=budget,
                          minimum_epsilon=half_z, backend="single")  # fmt: skip
        idx = posterior.resample(f, rng)
        sims = toy.summaries(f.theta[idx], f.seeds[idx], held)  # the kept cohorts, drawn again
    else:
        f, sims = rejection(toy, rng)
        idx = np.arange(len(f.weights))
    independent = independent_band(rng, tokens, shape_assumed, replicates)
    rows = []
    for j, item in enumerate(held):
        printed_lo, printed_hi = float(tokens[item]) - HALF_STEP, float(tokens[item]) + HALF_STEP
        bands = {"conditional": _central(conditional.adjust(sims[:, j], f.z[idx], "logit")),
                 "conditional_unadjusted": _central(sims[:, j]), "independent": independent[item]}  # fmt: skip
        row = {"method": method, "shape_assumed": shape_assumed, "truth_median": round(truth, 3), "item": item,
               "printed": tokens[item],
               "final_epsilon": f.generations[-1]["epsilon"], "ess": round(f.ess, 1),
               "simulations": int(sum(g["simulations"] for g in f.generations))}  # fmt: skip
        for name, (lo, hi) in bands.items():
            row[f"{name}_lo"], row[f"{name}_hi"] = lo, hi
            row[f"{name}_covers"] = bool(lo <= printed_hi and printed_lo <= hi)
        rows.append(row)
    return rows


def _central(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    return tuple(float(v) for v in np.quantile(x, [0.025, 0.975])) if x.size else (np.nan, np.nan)


def study(papers: int, *, shape_assumed: float = TRUE_SHAPE, seed: int = STUDY_SEED, n_jobs: int = 2,
          **kwargs) -> pd.DataFrame:  # fmt: skip
    """``papers`` simulated papers (one row per paper and held-out item); see ``one_paper``."""
    import pandas as pd
    from joblib import Parallel, delayed

    seqs = np.random.SeedSequence(seed).spawn(papers)
    parts = Parallel(n_jobs=n_jobs)(delayed(one_paper)(s, shape_assumed, **kwargs) for s in seqs)
    return pd.DataFrame([dict(r, paper=i) for i, rows in enumerate(parts) for r in rows])


def coverage(rows: pd.DataFrame) -> pd.DataFrame:
    """Per held-out item and band: the share of papers whose own value the 95% band covers, its
    Monte Carlo SE, and the mean band width (points)."""
    import pandas as pd

    out = []
    for (method, shape, item), g in rows.groupby(["method", "shape_assumed", "item"]):
        for band in ("conditional", "conditional_unadjusted", "independent"):
            c = g[f"{band}_covers"].to_numpy(float)
            out.append({"method": method, "shape_assumed": shape, "item": item, "band": band, "papers": len(g), "coverage": round(float(c.mean()), 3),
                        "mc_se": round(float(np.sqrt(c.mean() * (1 - c.mean()) / len(c))), 3),
                        "mean_width": round(float((g[f"{band}_hi"] - g[f"{band}_lo"]).mean()), 2)})  # fmt: skip
    return pd.DataFrame(out)
