"""The replication engine: identical draws serial or parallel, whatever the chunking."""

import numpy as np
import pandas as pd
import pytest

from helpers import kernels, replicate
from helpers.params import ParameterError

N = 40


def simulate_tiny(rng):
    """A tiny two-arm cohort: exponential times, uniform censoring."""
    arm = rng.binomial(1, 0.5, N).astype(float)
    latent = rng.exponential(np.where(arm == 1, 8.0, 5.0))
    censor = rng.uniform(0, 15, N)
    return {"time": np.minimum(latent, censor), "event": (latent <= censor).astype(float), "arm": arm}


def analyse_tiny(cohorts):
    """Cox HR for the arm and the KM median, batched over the cohorts."""
    time = np.stack([c["time"] for c in cohorts])
    event = np.stack([c["event"] for c in cohorts])
    arm = np.stack([c["arm"] for c in cohorts])
    cox = kernels.cox_fit(time, event, arm)
    med, lo, hi = kernels.km_median(time, event)
    reps = np.arange(len(cohorts))
    return pd.concat([
        pd.DataFrame({"rep": reps, "claim_id": "T-1", "item": "hr", "estimate": cox.hr[:, 0],
                      "lo": cox.hr_lo[:, 0], "hi": cox.hr_hi[:, 0], "p": cox.p[:, 0]}),
        pd.DataFrame({"rep": reps, "claim_id": "T-1", "item": "median", "estimate": med,
                      "lo": lo, "hi": hi}),
    ])  # fmt: skip


REPLICATES = 2 * replicate.CHUNK + 7  # three chunks, the last one short


def test_draws_identical_serial_parallel_and_any_chunking():
    serial = replicate.run(simulate_tiny, analyse_tiny, seed=7, replicates=REPLICATES,
                           n_jobs=1, progress=False)  # fmt: skip
    parallel = replicate.run(simulate_tiny, analyse_tiny, seed=7, replicates=REPLICATES,
                             n_jobs=2, progress=False)  # fmt: skip
    rechunked = replicate.run(simulate_tiny, analyse_tiny, seed=7, replicates=REPLICATES,
                              n_jobs=1, progress=False, chunk=13)  # fmt: skip
    pd.testing.assert_frame_equal(serial, parallel)
    # other batch shapes may change float summation order in numpy, nothing more
    pd.testing.assert_frame_equal(serial.reset_index(drop=True), rechunked.reset_index(drop=True),
                                  check_exact=False, rtol=1e-12)  # fmt: skip
    assert sorted(serial["rep"].unique()) == list(range(REPLICATES))
    assert list(serial.columns) == replicate.DRAW_COLUMNS


def test_each_replicate_is_its_own_stream_from_the_seed():
    draws = replicate.run(simulate_tiny, analyse_tiny, seed=7, replicates=3, progress=False)
    gen = replicate.replicate_generators(7, 3)[2]
    alone = analyse_tiny([simulate_tiny(gen)])
    got = draws.query("rep == 2 and item == 'hr'")["estimate"].item()
    assert got == alone.query("item == 'hr'")["estimate"].item()


def test_chunk_size_shrinks_for_large_cohorts():
    assert replicate.chunk_size(238) == replicate.CHUNK
    assert replicate.chunk_size(238 * 10) == replicate.CHUNK_PATIENTS // 2380
    assert replicate.chunk_size(10**7) == 1


def test_bad_chunk_is_a_parameter_error():
    with pytest.raises(ParameterError, match="chunk"):
        replicate.run(simulate_tiny, analyse_tiny, seed=1, replicates=2, chunk=0)


def test_large_n_mode_converges_on_the_population_value():
    import pandas as pd

    from helpers import replicate

    def simulate_at(rng, k):
        return rng.normal(2.0, 1.0, 100 * k)

    def analyse(cohorts):
        return pd.DataFrame({"rep": 0, "claim_id": "X-01", "item": "mean", "estimate": [c.mean() for c in cohorts]})

    wide = replicate.converge(simulate_at, analyse, seed=3, multipliers=(1, 100))
    assert list(wide.columns) == ["n x 1", "n x 100"]
    # SE of the mean is 0.1 at n = 100 and 0.01 at n = 10,000: 5 SE bounds
    assert abs(wide.iloc[0]["n x 100"] - 2.0) < 0.05
