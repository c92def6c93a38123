"""The conditional band on a generated study: each held-out number given the split's printed targets.

Issue 18's question, asked of real patient data: "given the other numbers printed from *these*
patients, where should this number lie?" The band comes from joint draws of (parameters, cohort)
whose printed targets match the printed ones, parameter uncertainty included:

- **prior**: uniform over the spec's declared bounds of its free parameters, on their natural
  scale (as ``helpers.posterior.problem`` sets it for spec papers);
- **targets, distance, adjustment**: ``helpers.posterior`` (each target's z-score on its residual
  scale; the distance is the root mean square of the z-scores) and ``helpers.conditional.adjust``
  (local-linear regression adjustment to an exact match, weighted), the code behind the four
  papers' conditional bands;
- **sampler**: likelihood-free, ABC by sequential Monte Carlo (population Monte Carlo: Beaumont,
  Cornuet, Marin and Robert, Biometrika 2009), the algorithm pyabc runs for the papers, here with
  each generation's cohorts simulated and analysed in batches (pyabc asks for one cohort at a
  time: 10-20 times slower per cohort with the spec's batched analysis, which is what made the
  study's 63 runs affordable). Each generation perturbs particles of the last (by weight) with a
  Gaussian of twice their weighted covariance, keeps the cohorts within the last generation's
  median distance and weighs each by prior over proposal density. Generation 0 is only a start
  (``start``): the cohorts closest to the printed targets among draws from a multivariate t
  around the posterior's Gaussian approximation (Wood's synthetic likelihood, Nature 2010,
  linearised at the calibration's point fit), equally weighted.

Every cohort is simulated at the study's own size from its own seed (``posterior.cohort_seed``)
and analysed with all the study's printed numbers at once, so the held-out numbers of a kept
cohort come from the same patients as its targets. The last generation's held-out numbers are
adjusted and ``replicates`` of them resampled by weight: the band's draws.

Checked on lung (mimic split) against importance-sampling ABC with 22,000 cohorts (S(12) of
men: 26-42% there, 28-43% here); see ``tests/test_realdata_conditional.py`` for what is tested.
``draws(settings, replicates, seed)`` has the signature of ``validate.BANDS``; its diagnostics
(generations, tolerance, effective sample size, cohorts simulated, seconds) ride on the frame's
``attrs["diagnostics"]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .. import conditional, posterior, replicate
from ..settings import Settings
from ..spec import calibration as spec_calibration
from ..spec.plan import load as load_plan
from .datasets import cohort

SETTINGS = {
    "population": 200,  # particles per generation
    "first": 3,  # generation 0 keeps the closest third of its draws
    "budget": 6000,  # cohorts simulated per run (the last generation ends where it passes this)
    "at_fit": 200,  # cohorts simulated at the point fit, for the synthetic likelihood's noise
    "spread": 1.5,  # the start's SD over the Gaussian approximation's
    "df": 5,  # the start's degrees of freedom (heavier tails than the Gaussian it widens)
    "step": 0.05,  # finite-difference step of the Jacobian, transformed parameters
}
_FORWARD = {"identity": lambda v: v, "log": np.log, "logit": lambda v: np.log(v / (1 - v))}
_INVERSE = {"identity": lambda x: x, "log": np.exp, "logit": lambda x: 1 / (1 + np.exp(-x))}
_DERIVATIVE = {"identity": np.ones_like, "log": lambda v: v, "logit": lambda v: v * (1 - v)}  # d value / d x


def problem(settings: Settings) -> posterior.PaperProblem:
    """The study's posterior problem under the split's targets, with the point fit's settings."""
    return posterior.problem(settings.paper, settings=settings)


@dataclass
class Space:
    """The free parameters on the calibration's transformed scale (log, logit or identity), where
    the sampler moves, with the prior's bounds there."""

    prob: posterior.PaperProblem

    def __post_init__(self):
        free = load_plan(self.prob.paper).spec.calibration.free
        self.transforms = [free[k].transform for k in self.prob.free]
        self.lo, self.hi = (np.array([_FORWARD[t](self.prob.bounds[k][i]) for t, k in zip(self.transforms, self.prob.free, strict=True)])
                            for i in (0, 1))  # fmt: skip

    def to_x(self, params) -> np.ndarray:
        return np.array([_FORWARD[t](params[k]) for t, k in zip(self.transforms, self.prob.free, strict=True)])

    def theta(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack([_INVERSE[t](x[:, j]) for j, t in enumerate(self.transforms)])

    def log_prior(self, x: np.ndarray) -> np.ndarray:
        """Log density on this scale of the prior uniform on the natural one (up to a constant): the
        transforms' log derivatives; minus infinity outside the bounds."""
        inside = np.all((x > self.lo) & (x < self.hi), axis=1)
        theta = self.theta(np.where(inside[:, None], x, (self.lo + self.hi) / 2))
        out = sum(np.log(_DERIVATIVE[t](theta[:, j])) for j, t in enumerate(self.transforms))
        return np.where(inside, out, -np.inf)


def simulate(prob: posterior.PaperProblem, theta: np.ndarray, seeds: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
    """Every printed number of one cohort per parameter row, each from its seed, analysed in
    batches: (long draws, rep = row; the targets' z-scores (m, k))."""
    chunk = replicate.chunk_size(len(cohort(prob.paper)["group"]))
    parts = [prob.draws(theta[i : i + chunk], seeds[i : i + chunk]).pipe(lambda d, i=i: d.assign(rep=d["rep"] + i))
             for i in range(0, len(theta), chunk)]  # fmt: skip
    long = pd.concat(parts, ignore_index=True)
    return long, conditional._target_z(prob, long, len(theta))


# ------------------------------------------------------------------ generation 0: where to start


def expected_z(space: Space, x: np.ndarray) -> np.ndarray:
    """The targets' z-scores of the calibration's own cohort at ``x`` (common random numbers, the
    printed sizes times ``n_multiplier``: the expected targets, not one study's)."""
    prob = space.prob
    refs = [t.ref for t in prob.targets]
    theta = dict(zip(prob.free, map(float, space.theta(x[None])[0]), strict=True))
    fitted = spec_calibration.fitted_values({**prob.settings.calibrated, **theta}, prob.settings, refs)
    return posterior.zscores(prob.targets, np.array([[fitted.get(r, np.nan) for r in refs]]))[0]


def start(space: Space, seed: int, *, at_fit: int, step: float, spread: float, df: int):
    """Generation 0's proposal (scipy multivariate t): the posterior's Gaussian approximation by the
    targets' synthetic likelihood, z(x) ~ N(m + J (x - x_fit), R), linearised at the point fit
    (J by forward differences of ``expected_z``; the mean m and covariance R of one study's targets
    from ``at_fit`` cohorts simulated at the fit), times a Gaussian of the prior's own variance (a
    direction the targets leave free spreads over its bounds); its SD times ``spread``."""
    x = space.to_x(space.prob.settings.calibrated)
    at = expected_z(space, x)
    jac = np.column_stack([(expected_z(space, x + step * e) - at) / step for e in np.eye(len(x))])
    theta = space.theta(x[None])
    _, z = simulate(space.prob, np.repeat(theta, at_fit, axis=0), [posterior.cohort_seed(seed + i, theta[0]) for i in range(at_fit)])
    z = z[np.isfinite(z).all(axis=1)]  # a target not reached (a median) matches no printed one
    m, r = z.mean(axis=0), np.atleast_2d(np.cov(z.T))
    precision = jac.T @ np.linalg.solve(r, jac) + np.diag(12 / (space.hi - space.lo) ** 2)
    mean = x - np.linalg.solve(precision, jac.T @ np.linalg.solve(r, m))
    return stats.multivariate_t(loc=mean, shape=spread**2 * np.linalg.inv(precision), df=df)


# ------------------------------------------------------------------ the ABC-SMC


@dataclass
class Population:
    """Particles (transformed scale) with normalised weights, their targets' z-scores and distances,
    and every printed number of their cohorts (long draws, rep = particle)."""

    x: np.ndarray
    w: np.ndarray
    z: np.ndarray
    distance: np.ndarray
    long: pd.DataFrame

    @property
    def ess(self) -> float:
        return float(1 / np.sum(self.w**2))

    def take(self, keep: np.ndarray, log_w: np.ndarray) -> Population:
        """The particles ``keep`` (renumbered in order), weighted by ``log_w`` (of all particles)."""
        keep = np.sort(keep)
        long = self.long[self.long["rep"].isin(keep)]
        long = long.assign(rep=np.searchsorted(keep, long["rep"].to_numpy()))
        return Population(self.x[keep], normalised(log_w[keep]), self.z[keep], self.distance[keep], long)


def normalised(log_w: np.ndarray) -> np.ndarray:
    """Weights summing to 1, each at most sqrt(m) times their mean (truncated importance sampling,
    Ionides, J Comput Graph Stat 2008: a particle in a tail of the proposal cannot carry the
    population alone; the bias this buys vanishes as m grows)."""
    if not len(log_w):
        return np.asarray(log_w, float)
    w = np.exp(log_w - log_w.max())
    w = np.minimum(w, w.mean() * np.sqrt(len(w)))
    return w / w.sum()


def _cohorts(space: Space, x: np.ndarray, seed: int) -> Population:
    """One batch of proposals: those inside the prior's bounds, simulated and analysed (unweighted)."""
    x = x[np.isfinite(space.log_prior(x))]
    theta = space.theta(x)
    long, z = simulate(space.prob, theta, [posterior.cohort_seed(seed, row) for row in theta])
    return Population(x, np.full(len(x), np.nan), z, posterior.distance(z), long)


def _concat(parts: list[Population]) -> Population:
    offsets = np.cumsum([0, *(len(p.x) for p in parts[:-1])])
    long = pd.concat([p.long.assign(rep=p.long["rep"] + o) for p, o in zip(parts, offsets, strict=True)], ignore_index=True)
    return Population(np.vstack([p.x for p in parts]), np.concatenate([p.w for p in parts]), np.vstack([p.z for p in parts]),
                      np.concatenate([p.distance for p in parts]), long)  # fmt: skip


def smc(prob: posterior.PaperProblem, rng: np.random.Generator, seed: int, *, population: int, first: int, budget: int,
        at_fit: int, spread: float, df: int, step: float) -> tuple[Population, list[dict]]:  # fmt: skip
    """The last generation of the ABC-SMC (see the module docstring) and one line per generation.

    It stops once ``budget`` cohorts are simulated and a weighted generation exists (at most twice
    the budget: a first generation that cannot fill by then raises; a later one ends the run at
    the generation before it, and its line says ``filled: False``)."""
    space = Space(prob)
    q0 = start(space, seed, at_fit=at_fit, step=step, spread=spread, df=df)
    cand = _cohorts(space, q0.rvs(size=first * population, random_state=rng).reshape(first * population, -1), seed)
    used = at_fit + len(cand.x)
    pop = cand.take(np.argsort(cand.distance, kind="stable")[:population], np.zeros(len(cand.x)))
    log = [_line(0, used, pop, float(pop.distance.max()))]
    while used < budget or len(log) == 1:
        eps = float(np.median(pop.distance))
        cov = 2 * np.atleast_2d(np.cov(pop.x.T, aweights=pop.w))  # Beaumont et al. 2009: twice the weighted covariance
        kernel = stats.multivariate_normal(np.zeros(len(space.lo)), cov, allow_singular=True)
        found, tried = [], 0
        while sum(len(f.x) for f in found) < population and used + tried < 2 * budget:
            parents = pop.x[rng.choice(len(pop.x), size=population, p=pop.w)]
            batch = _cohorts(space, parents + kernel.rvs(size=population, random_state=rng).reshape(population, -1), seed)
            tried += population
            found.append(batch.take(np.flatnonzero(batch.distance <= eps), np.zeros(len(batch.x))))
        used += tried
        new = _concat(found)
        if len(new.x) < population:
            if len(log) == 1:
                raise RuntimeError(f"{prob.paper}: no weighted ABC-SMC generation within {2 * budget} cohorts; raise the budget")
            # the cohorts of a generation that did not fill count too (the cost), not its tolerance
            log.append({**_line(len(log), tried, pop, eps), "accepted": len(new.x), "filled": False})
            break
        mixture = np.array([np.log(np.sum(pop.w * kernel.pdf(xi - pop.x))) for xi in new.x])
        pop = new.take(np.arange(len(new.x)), space.log_prior(new.x) - mixture)
        log.append(_line(len(log), tried, pop, eps))
    return pop, log


def _line(generation: int, simulated: int, pop: Population, eps: float) -> dict:
    return {"generation": generation, "simulations": simulated, "accepted": len(pop.x), "epsilon": round(eps, 4),
            "ess": round(pop.ess, 1)}  # fmt: skip


# ------------------------------------------------------------------ the band kind


def draws(settings: Settings, replicates: int, seed: int) -> pd.DataFrame:
    """The conditional band's draws (``replicate.DRAW_COLUMNS``) of every printed number, given the
    split's targets: the last generation's numbers adjusted to an exact match of the targets
    (weighted), ``replicates`` of them resampled by weight. ``attrs["diagnostics"]`` says how
    close, how many and how long."""
    t0 = time.perf_counter()
    prob = problem(settings)
    rng = np.random.default_rng(seed)
    pop, log = smc(prob, rng, seed, **SETTINGS)
    adjusted = conditional.adjust_draws(pop.long, pop.z, prob.paper, pop.w)
    fit = posterior.Fit(pop.x, pop.w, pop.z, np.zeros(len(pop.x), np.uint64), log, 0.0, "batched ABC-SMC")
    by_rep = dict(tuple(adjusted.groupby("rep", sort=True)))
    out = pd.concat([by_rep[int(r)].assign(rep=i) for i, r in enumerate(posterior.resample(fit, rng, replicates))],
                    ignore_index=True).reindex(columns=replicate.DRAW_COLUMNS)  # fmt: skip
    filled = [g for g in log if g.get("filled", True)]
    out.attrs["diagnostics"] = {
        "simulations": sum(g["simulations"] for g in log), "generations": len(filled) - 1, "epsilon": filled[-1]["epsilon"],
        "ess": filled[-1]["ess"], "stopped": "budget" if len(filled) == len(log) else "a generation did not fill",
        "targets": len(prob.targets), "free": len(prob.free), "seconds": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    return out
