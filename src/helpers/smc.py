"""pyabc's ABC-SMC made batched, fast and reproducible (issue 18): the pieces ``posterior.fit`` plugs in.

pyabc asks its model for one particle at a time, but a paper's cohorts are re-analysed far faster
in batches (the batched kernels: about 6 ms per DESCAR-T cohort in a batch of 25 or more against
42 ms one by one, ``benchmarks/bench_posterior.py``). ``BatchSampler`` keeps pyabc's algorithm and
bookkeeping and changes only when the cohorts are simulated:

1. *record*: it calls pyabc's ``simulate_one`` for a batch of proposals with the model in record
   mode (the model notes each proposed parameter vector and answers "rejected");
2. *simulate*: the batch's cohorts are simulated and analysed together, split over local processes
   (joblib), each cohort from its own seed (``posterior.cohort_seed``);
3. *replay*: NumPy's global random state is put back to where it was before step 1 and
   ``simulate_one`` is called again: pyabc proposes the same parameters in the same order, and the
   model answers from step 2, until the population is full.

pyabc draws its proposals from NumPy's global random state, so a run is a function of that state's
seed (``seeded``): proposals are drawn in the parent process only, each cohort is a function of its
parameters and the run's seed, and the replay stops exactly where a one-by-one run would stop (the
global state is restored to just after the last proposal used). The result is therefore identical,
bit for bit, to pyabc's own ``SingleCoreSampler`` at the same seed, whatever the number of workers
(tested). pyabc's multicore and Dask samplers reseed each worker from the operating system's entropy
and collect particles in the order they finish, so their runs are not reproducible.

Once cohorts are batched, pyabc's own proposal machinery costs more than the cohorts: a uniform
prior's density as a product of scipy densities (about 1.5 ms for ten parameters), a kernel
draw through pandas and an SVD (about 1 ms), and the one model's prior probability through scipy
(0.2 ms), each once or more per proposal. ``UniformBox``, ``NormalKernel`` and ``OneModel`` are the
same prior, the same perturbation kernel (pyabc's multivariate normal, Silverman bandwidth) and the
same model prior computed with plain NumPy (the same draws: bit-identical posteriors, tested).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
from pyabc import RV, Distribution, Parameter
from pyabc.sampler import Sampler
from pyabc.transition import MultivariateNormalTransition

from . import posterior


@contextlib.contextmanager
def seeded(seed: int):
    """Within the block NumPy's global random state (where pyabc draws its proposals) is seeded
    from ``seed`` through a ``SeedSequence``; afterwards the caller's state is put back."""
    # the legacy global state is what pyabc (and scipy's rvs without a random_state) draws from
    saved = np.random.get_state()  # noqa: NPY002
    np.random.set_state(np.random.RandomState(np.random.MT19937(np.random.SeedSequence(seed))).get_state())  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(saved)  # noqa: NPY002


class Simulator:
    """pyabc's model of a problem (``PaperProblem`` or ``known_truth.Toy``): a particle's targets'
    z-scores from its own cohort. In record mode it only notes the proposal; otherwise it answers
    from the batch simulated by ``fill`` (or simulates the one cohort when not there)."""

    def __init__(self, prob, seed: int):
        self.prob, self.seed = prob, seed
        self.free = tuple(prob.free)
        self.targets = tuple(prob.targets)
        self.refs = [t.ref for t in self.targets]
        self.recording: list[tuple[np.ndarray, int]] | None = None
        self.ready: dict[int, np.ndarray] = {}
        self.misses = 0  # replayed proposals that were not in the batch (zero unless pyabc changed)

    def __call__(self, par) -> dict:
        theta = np.array([float(par[k]) for k in self.free])
        seed = posterior.cohort_seed(self.seed, theta)
        if self.recording is not None:
            self.recording.append((theta, seed))
            return {"z": np.full(len(self.refs), np.inf), "theta": theta, "seed": seed}
        z = self.ready.pop(seed, None)
        if z is None:
            self.misses += 1
            z = simulate(self.prob, theta[None], [seed], self.refs)[0]
        return {"z": z, "theta": theta, "seed": seed}

    def fill(self, proposals: list[tuple[np.ndarray, int]], workers: int, chunk: int) -> None:
        """Simulate and analyse the proposals' cohorts in batches of ``chunk``, over ``workers`` processes."""
        theta = np.array([p[0] for p in proposals])
        seeds = [p[1] for p in proposals]
        parts = [(theta[i : i + chunk], seeds[i : i + chunk]) for i in range(0, len(seeds), chunk)]
        if workers > 1 and len(parts) > 1:
            from joblib import Parallel, delayed

            zs = Parallel(n_jobs=workers)(delayed(simulate)(self.prob, t, s, self.refs) for t, s in parts)
        else:
            zs = [simulate(self.prob, t, s, self.refs) for t, s in parts]
        self.ready = dict(zip(seeds, np.vstack(zs), strict=True))


def simulate(prob, theta: np.ndarray, seeds, refs) -> np.ndarray:
    """(m, k) targets' z-scores of the cohorts of ``theta`` rows, analysed as one batch."""
    return posterior.zscores(prob.targets, prob.summaries(theta, seeds, refs))


class BatchSampler(Sampler):
    """pyabc sampler: record a batch of proposals, simulate their cohorts together, replay (see the
    module docstring). ``workers`` processes share each batch; ``chunk`` cohorts per analysis call.
    Respects pyabc's ``max_eval`` (a generation stops at ``population / min_acceptance_rate``
    simulations), as ``SingleCoreSampler(check_max_eval=True)`` does."""

    def __init__(self, model: Simulator, workers: int = 1, chunk: int = posterior.CHUNK):
        super().__init__()
        self.model, self.workers, self.chunk = model, workers, chunk
        self.rate = 1.0  # the acceptance rate expected in the next batch

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):  # noqa: ARG002
        sample = self._create_empty_sample()
        evaluations = accepted = 0
        while accepted < n and evaluations < max_eval:
            # proposals for the rest of the population at the expected rate (better too few than
            # too many: the surplus of the last batch is simulated for nothing)
            size = n if all_accepted else math.ceil((n - accepted) / self.rate) + self.workers * self.chunk // 2
            size = int(min(size, max_eval - evaluations, 20 * n))
            before = np.random.get_state()  # noqa: NPY002 (pyabc's proposals)
            self.model.recording = []
            try:
                for _ in range(size):
                    simulate_one()
                proposals = self.model.recording
            finally:
                self.model.recording = None
            self.model.fill(proposals, self.workers, self.chunk)
            np.random.set_state(before)  # noqa: NPY002 (the same proposals again)
            for _ in range(size):
                particle = simulate_one()
                sample.append(particle)
                evaluations += 1
                accepted += bool(particle.accepted)
                if accepted == n:
                    break
            self.model.ready = {}
            self.rate = max(accepted / evaluations, 1e-3)
        self.nr_evaluations_ = evaluations
        if accepted < n:
            sample.ok = False
        self.rate = max(0.8 * self.rate, 1e-3)  # the next generation's tolerance is lower
        return sample


class OneModel(RV):
    """pyabc's model prior for a single model (``RV("randint", 0, 1)``, drawn by pyabc as usual:
    the same random numbers) with its probability given at once: 1 for model 0."""

    def __init__(self):
        super().__init__("randint", 0, 1)

    def pmf(self, x, *args, **kwargs) -> float:  # noqa: ARG002 (pyabc's signature)
        return 1.0 if x == 0 else 0.0

    def copy(self) -> OneModel:
        return OneModel()


class UniformBox(Distribution):
    """Independent uniform priors over ``bounds`` (pyabc's RVs, drawn by pyabc as usual) whose
    density is computed at once: the product of 1 / width inside the box, 0 outside."""

    def __init__(self, bounds: dict[str, tuple[float, float]]):
        super().__init__(**{k: RV("uniform", lo, hi - lo) for k, (lo, hi) in bounds.items()})
        self.bounds = dict(bounds)
        self._names = sorted(bounds)
        self._lo, self._hi = np.array([bounds[k] for k in self._names], float).T
        self._density = float(np.prod(1 / (self._hi - self._lo)))

    def pdf(self, x) -> float:
        v = np.array([x[k] for k in self._names], float)
        return self._density if np.all((v >= self._lo) & (v <= self._hi)) else 0.0

    def copy(self) -> UniformBox:
        return UniformBox(self.bounds)


class NormalKernel(MultivariateNormalTransition):
    """pyabc's multivariate normal perturbation kernel (same bandwidth, same density) with a
    NumPy draw: a particle by its weight, plus a normal step through a square root of the
    covariance (symmetric, so a singular covariance is fine)."""

    def fit(self, X, w) -> None:
        super().fit(X, w)
        vals, vecs = np.linalg.eigh(self.cov)
        self._root = vecs * np.sqrt(np.clip(vals, 0, None))
        self._cdf = np.cumsum(self.w)
        self._names = list(self.X.columns)

    def rvs_single(self) -> Parameter:
        i = min(int(np.searchsorted(self._cdf, np.random.random_sample() * self._cdf[-1], side="right")), len(self._cdf) - 1)  # noqa: NPY002
        x = self._X_arr[i] + self._root @ np.random.standard_normal(len(self._names))  # noqa: NPY002
        return Parameter(dict(zip(self._names, x.tolist(), strict=True)))
