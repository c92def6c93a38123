"""The conditional band on a generated study: each held-out number given the split's printed targets.

Issue 18's question, asked of real patient data: "given the other numbers printed from *these*
patients, where should this number lie?" The band is computed exactly as the four papers' are
(``helpers.conditional``), so the real-data study measures the method the papers use:

- **posterior**: ``posterior.fit``, pyabc's ABC-SMC with the papers' settings
  (``posterior.SETTINGS``) and the batched sampler; the prior uniform over the spec's declared
  bounds of its free parameters (``posterior.problem``); the targets' z-scores on their residual
  scales and their root mean square as the distance;
- **draws**: ``conditional.kept_draws``, the kept particles resampled by weight, their cohorts
  simulated again (at the study's own size, from their own seeds, so the held-out numbers come from
  the same patients as the targets) and adjusted to an exact match of the targets.

``draws(settings, replicates, seed)`` has the signature of ``validate.BANDS``; its diagnostics
(generations, final tolerance, effective sample size, cohorts simulated, seconds) ride on the
frame's ``attrs["diagnostics"]``. An earlier version had an ABC-SMC of its own that started near
the posterior (a synthetic likelihood's Gaussian approximation): narrower bands (0.63 of the
independent band's width, against 1.6 now) that covered less (78% against 85%); the README's
real-data section compares the two.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .. import conditional, posterior, replicate
from ..settings import Settings


def problem(settings: Settings) -> posterior.PaperProblem:
    """The study's posterior problem under the split's targets, with the point fit's settings."""
    return posterior.problem(settings.paper, settings=settings)


def draws(settings: Settings, replicates: int, seed: int) -> pd.DataFrame:
    """The conditional band's draws (``replicate.DRAW_COLUMNS``) of every printed number, given the
    split's targets: ``replicates`` particles of the posterior resampled by weight, their cohorts
    drawn again and adjusted (``conditional.kept_draws``). ``attrs["diagnostics"]`` says how close,
    how many and how long."""
    t0 = time.perf_counter()
    prob = problem(settings)
    f = posterior.fit(prob, seed=seed, workers=1)  # the study's runs are spread over processes already
    out, _, same = conditional.kept_draws(prob, f, np.random.default_rng(seed), replicates)
    out = out.reindex(columns=replicate.DRAW_COLUMNS)
    last = f.generations[-1]
    out.attrs["diagnostics"] = {
        "simulations": int(sum(g["simulations"] for g in f.generations)), "generations": len(f.generations),
        "epsilon": last["epsilon"], "ess": round(f.ess, 1), "targets": len(prob.targets), "free": len(prob.free),
        "regenerated_targets_identical": same, "seconds": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    return out
