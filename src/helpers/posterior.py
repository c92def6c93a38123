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

pyabc draws its proposals from NumPy's global random state; ``fit`` seeds that state from the
declared seed for the run and restores it afterwards, and its default sampler (``helpers.smc``)
simulates the cohorts in batches with the batched kernels yet gives the same posterior, bit for
bit, as pyabc's one-process sampler: ``make calibrate`` re-run gives the committed files again.
pyabc's multicore and Dask samplers (``--backend processes`` / ``dask``) do not: their workers
reseed from the operating system.
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
    elif quantity == "count" and n and 0 < value < n:
        se = max(se, math.sqrt((1 - value / n) / value), 0.5 / value)  # binomial on the log scale; half a patient
    if not se > 0 or not np.isfinite(se):
        raise ValueError(f"no residual scale for printed {printed!r} ({quantity}): give a CI, an n, or a rounded token")
    return scale, float(se)


def _finite(x) -> float | None:
    if x is None:
        return None
    try:
        v = tokens.value_of(x) if isinstance(x, str) else float(x)
    except (TypeError, ValueError):
        return None
    return None if v is None or not np.isfinite(v) else float(v)


def zscores(targets: Sequence[Target], simulated: np.ndarray) -> np.ndarray:
    """(m, k) standardised residuals of simulated targets (columns in ``targets`` order); a target
    the cohort cannot estimate (NaN, not reached) is infinitely far."""
    sim = np.atleast_2d(np.asarray(simulated, float))
    out = np.empty_like(sim)
    for j, t in enumerate(targets):
        out[:, j] = (transform(t.scale, sim[:, j]) - transform(t.scale, t.value)) / t.se
    return np.where(np.isfinite(out), out, np.inf)


def distance(z: np.ndarray, unestimable: float | None = None) -> np.ndarray:
    """Root mean square of the z-scores, per row. A row with a target its cohort cannot estimate (a
    median not reached where the paper printed one) is at least ``unestimable`` away (default:
    ``SETTINGS["unestimable_distance"]``), not infinitely: were it infinite, a prior under which most
    cohorts leave a median unreached would keep every tolerance infinite and the posterior the prior."""
    z = np.atleast_2d(np.asarray(z, float))
    cap = SETTINGS["unestimable_distance"] if unestimable is None else unestimable
    bad = ~np.isfinite(z)
    filled = np.where(bad, cap * np.sqrt(z.shape[1]), z)  # one such target alone: RMS = cap
    return np.sqrt(np.mean(filled**2, axis=1))


def cohort_seed(seed: int, theta: np.ndarray) -> int:
    """The seed of a particle's cohort: a function of the run's seed and its parameters' bits."""
    bits = np.ascontiguousarray(np.asarray(theta, np.float64)).view(np.uint32)
    return int(np.random.SeedSequence([int(seed), *map(int, bits)]).generate_state(1, np.uint64)[0])


def uniform_prior(bounds: dict[str, tuple[float, float]]):
    """scipy frozen uniform distributions of the prior, by parameter."""
    return {k: stats.uniform(lo, hi - lo) for k, (lo, hi) in bounds.items()}


# ------------------------------------------------------------------ a paper as an inference problem


class PosteriorError(RuntimeError):
    """A posterior cannot be set up, or the committed one is missing or stale."""


# How every paper's posterior is computed (``make calibrate``); part of the inputs hash.
SETTINGS = {
    "library": "pyabc 0.13.0, ABC-SMC (benchmarks/bench_lfi.py chose it)",
    "seed": 20260601,  # pyabc's proposals, cohort seeds and the final resampling
    "sampler": "batched (helpers.smc), NumPy prior density and kernel draws: deterministic for the seed",
    "population": 400,  # particles per generation (and conditional draws kept)
    "budget": 8_000,  # simulated cohorts at most (the last generation may run past it)
    "unestimable_distance": 10.0,  # RMS z of a cohort missing a target: far past any final tolerance (< 2)
    "epsilon_quantile": 0.5,  # each generation's tolerance: this quantile of the last one's distances
    "minimum_epsilon": 0.25,  # RMS z at which to stop early: a quarter of each target's SE
    "min_acceptance_rate": 0.01,
    "regression_adjustment": True,  # held-out draws adjusted for the kept particles' residual mismatch
}
CHUNK = 50  # cohorts per analysis call when the kept cohorts are drawn again


@dataclass
class PaperProblem:
    """A paper's posterior problem: its free parameters, their priors, its printed targets, and
    the cohorts of its model at the study's own size, re-analysed with its batched analysis."""

    paper: str
    free: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    targets: tuple[Target, ...]
    settings: object  # helpers.settings.Settings (the committed fit; FREE replaced per particle)

    def cohorts(self, theta: np.ndarray, seeds: Sequence[int]) -> list:
        from . import study

        model = study.module(self.paper, "model")
        out = []
        for row, seed in zip(np.atleast_2d(theta), seeds, strict=True):
            s = self.settings.with_calibrated({**self.settings.calibrated, **dict(zip(self.free, map(float, row), strict=True))})
            try:
                out.append(model.simulate(np.random.default_rng(int(seed)), s))
            except ValueError:  # a parameter vector the model cannot hold (e.g. more than unit variance)
                out.append(None)
        return out

    def draws(self, theta: np.ndarray, seeds: Sequence[int], include: Sequence[str] | None = None):
        """Replicate-style draws (rep, claim_id, item, estimate, lo, hi, p, effect), one rep per row."""
        import pandas as pd

        from . import replicate, study

        analysis = study.module(self.paper, "analysis")
        cohorts = self.cohorts(theta, seeds)
        ok = [i for i, c in enumerate(cohorts) if c is not None]
        if not ok:
            return pd.DataFrame(columns=replicate.DRAW_COLUMNS)
        d = analysis.analyse([cohorts[i] for i in ok], self.settings, include=include).reindex(columns=replicate.DRAW_COLUMNS)
        d["rep"] = np.asarray(ok)[d["rep"].to_numpy(int)]
        return d

    def summaries(self, theta: np.ndarray, seeds: Sequence[int], refs: Sequence[str]) -> np.ndarray:
        """(m, len(refs)): each ref's printed quantity (P for a P value) per cohort; NaN if it failed."""
        out = np.full((len(seeds), len(refs)), np.nan)
        d = self.draws(theta, seeds, include=list(refs))
        if d.empty:
            return out
        col = {r: j for j, r in enumerate(refs)}
        quantity = {t.ref: t.quantity for t in self.targets}
        for r in d.itertuples():
            j = col.get(f"{r.claim_id}/{r.item}")
            if j is not None:
                out[r.rep, j] = r.p if quantity.get(f"{r.claim_id}/{r.item}") == "P" else r.estimate
        return out


def problem(paper: str, settings=None) -> PaperProblem:
    """The posterior problem of a paper with a calibration: FREE with the priors declared in
    ``data/assumed/<paper>.yaml`` (a spec paper: its free parameters' bounds), TARGETS with their
    printed values and residual scales, and the committed settings (or ``settings``: a fit not
    committed, as an outside study's)."""
    from . import assumptions, contract, ledger, study

    cal = contract.module(paper, "calibration")
    if cal is None or not tuple(getattr(cal, "TARGETS", ())):
        raise PosteriorError(f"{paper} has no calibration targets: there is nothing printed to condition on")
    free = tuple(cal.FREE)
    if contract.is_spec_paper(paper):
        from .spec.plan import load as load_plan

        declared = load_plan(paper).spec.calibration.free
        bounds = {k: tuple(map(float, declared[k].bounds)) for k in free}
    else:
        priors = assumptions.priors(paper)
        missing = [k for k in free if k not in priors]
        if missing:
            raise PosteriorError(f"data/assumed/{paper}.yaml declares no prior for {missing}: add them under `priors:` "
                                 "(range, why, source)")  # fmt: skip
        bounds = {k: tuple(map(float, priors[k].range)) for k in free}
    settings = study.load_settings(paper) if settings is None else settings
    size = _study_size(settings)
    targets = []
    for ref in cal.TARGETS:
        row = ledger.lookup(paper, ref)
        is_p = row.quantity == "P"
        printed = row.p_printed if is_p else row.printed
        value = float(row.p if is_p else row.value)
        n = _finite(row.n) or size
        scale, se = target_scale(row.quantity, printed, row.lo, row.hi, n=n)
        targets.append(Target(ref, row.quantity, printed, value, scale, se))
    return PaperProblem(paper, free, bounds, tuple(targets), settings)


def _study_size(settings) -> float | None:
    for name in ("n_failures", "n_patients", "n", "n_survival"):
        if name in settings:
            return float(settings[name])
    return None


# ------------------------------------------------------------------ ABC-SMC with pyabc


@dataclass
class Fit:
    """The last ABC-SMC generation: kept parameter vectors, weights, z-scores and cohort seeds, with
    the run's diagnostics (one row per generation)."""

    theta: np.ndarray  # (m, p)
    weights: np.ndarray  # (m,) normalised
    z: np.ndarray  # (m, k) targets' z-scores of each kept cohort
    seeds: np.ndarray  # (m,) cohort seeds
    generations: list[dict]
    seconds: float
    backend: str

    @property
    def ess(self) -> float:
        return float(1 / np.sum(self.weights**2))


BACKENDS = ("batched", "single", "processes", "dask")
DETERMINISTIC = ("batched", "single")  # pyabc's multicore and Dask samplers reseed workers from the OS


def sampler(model, backend: str = "batched", workers: int = 2, client=None):
    """pyabc's sampler for ``model`` (a ``smc.Simulator``): "batched" (cohorts simulated in
    batches over ``workers`` local processes; deterministic, ``helpers.smc``), "single"
    (pyabc's one-process sampler; the same result), "processes" (pyabc's multicore sampler) or
    "dask" (pyabc's own Dask sampler on the cluster of ``client``); the last two are not reproducible."""
    from pyabc import sampler as samplers

    from .smc import BatchSampler

    if backend == "batched":
        return BatchSampler(model, workers=workers)
    if backend == "single":
        return samplers.SingleCoreSampler(check_max_eval=True)
    if backend == "processes":
        return samplers.MulticoreEvalParallelSampler(n_procs=workers)
    if backend == "dask":
        if client is None:
            raise PosteriorError("backend 'dask' needs a dask.distributed Client (see `python -m helpers.calibrate --help`)")
        return samplers.DaskDistributedSampler(dask_client=client)
    raise PosteriorError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")


def fit(prob, *, seed: int = SETTINGS["seed"], population: int = SETTINGS["population"],
        budget: int = SETTINGS["budget"], minimum_epsilon: float = SETTINGS["minimum_epsilon"],
        backend: str = "batched", workers: int = 2, client=None) -> Fit:  # fmt: skip
    """ABC-SMC of ``prob`` (a ``PaperProblem`` or ``known_truth.Toy``): uniform priors over its bounds,
    RMS z-distance of its targets, tolerances from the ``epsilon_quantile`` of each generation's
    distances, until ``minimum_epsilon``, ``budget`` simulated cohorts or an acceptance rate under
    ``min_acceptance_rate``. pyabc's proposals come from NumPy's global random state, seeded from
    ``seed`` for the run and restored afterwards (``smc.seeded``): with a deterministic
    backend (``DETERMINISTIC``) the same seed gives the same posterior, bit for bit."""
    import logging
    import tempfile
    import time
    from pathlib import Path

    import pyabc

    from .smc import NormalKernel, OneModel, Simulator, UniformBox, seeded

    for name in ("ABC", "Epsilon", "Sampler", "pyabc", "Distance", "Data_plot", "History", "Redis", "Acceptor"):
        logging.getLogger(name).setLevel(logging.WARNING)
    prior = UniformBox(prob.bounds)

    model = Simulator(prob, seed)
    refs = model.refs

    def rms(x, _x0):
        return float(distance(x["z"][None])[0])

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, seeded(seed):
        abc = pyabc.ABCSMC(model, prior, rms, population_size=population, transitions=NormalKernel(), model_prior=OneModel(),
                           sampler=sampler(model, backend, workers, client),
                           eps=pyabc.QuantileEpsilon(alpha=SETTINGS["epsilon_quantile"]))  # fmt: skip
        abc.new("sqlite:///" + str(Path(tmp) / "abc.db"), {"z": np.zeros(len(refs)), "theta": np.zeros(len(model.free)), "seed": 0})
        history = abc.run(minimum_epsilon=minimum_epsilon, max_total_nr_simulations=budget,
                          min_acceptance_rate=SETTINGS["min_acceptance_rate"])  # fmt: skip
        pops = history.get_all_populations()
        gens = []
        for r in pops[pops.t >= 0].itertuples():
            w = history.get_weighted_distances(t=int(r.t))["w"].to_numpy(float)  # not the sum stats: far slower to load
            w = w / np.sum(w)
            gens.append({"generation": int(r.t), "epsilon": round(float(r.epsilon), 4), "simulations": int(r.samples),
                         "accepted": int(r.particles), "acceptance_rate": round(r.particles / max(r.samples, 1), 4),
                         "ess": round(float(1 / np.sum(w**2)), 1)})  # fmt: skip
        w, stats = history.get_weighted_sum_stats()
    seconds = time.perf_counter() - t0
    w = np.asarray(w, float)
    return Fit(np.array([s["theta"] for s in stats]), w / w.sum(), np.array([s["z"] for s in stats]),
               np.array([int(s["seed"]) for s in stats], dtype=np.uint64), gens, seconds, backend)  # fmt: skip


def resample(f: Fit, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Indices of an equally weighted sample of the kept particles (systematic resampling)."""
    m = size or len(f.weights)
    edges = np.cumsum(f.weights)
    edges[-1] = 1.0
    return np.searchsorted(edges, (rng.random() + np.arange(m)) / m)
