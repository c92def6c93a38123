"""The interpolated KM median: hand-worked curves, continuity, and its place next to the R/SAS median."""

import numpy as np
import pytest

from helpers.kernels import km
from helpers.kernels.km_interpolated import km_interpolated_median


def test_uncensored_times_interpolate_between_the_two_events_around_one_half():
    # times 1..5 uncensored: S = .8, .6, .4, .2, 0 -> crosses 0.5 halfway between t = 2 and t = 3
    assert km_interpolated_median(np.arange(1.0, 6.0), np.ones(5))[0] == pytest.approx(2.5)
    # times 1..4: S = .75, .5 (exactly at 2), .25, 0 -> 2.0; R/SAS gives the midpoint 2.5
    assert km_interpolated_median(np.arange(1.0, 5.0), np.ones(4))[0] == pytest.approx(2.0)


def test_first_event_below_one_half_interpolates_from_time_zero():
    # 3 patients, the first two die at t = 4 together: S drops from 1 to 1/3 -> 0.5 at t = 3
    assert km_interpolated_median(np.array([4.0, 4.0, 9.0]), np.array([1.0, 1.0, 0.0]))[0] == pytest.approx(3.0)


def test_censoring_and_not_reached():
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    e = np.array([1, 0, 1, 0, 0, 0], float)  # S = 5/6, then 5/6 * 3/4 = 0.625: never 0.5
    assert km_interpolated_median(t, e)[0] == np.inf


def test_never_above_the_r_sas_median_and_continuous_in_the_times():
    rng = np.random.default_rng(0)
    t = rng.exponential(5.0, (200, 80))
    e = (rng.random((200, 80)) < 0.8).astype(float)
    smooth = km_interpolated_median(t, e)
    step = km.km_median(t, e)[0]
    ok = np.isfinite(step)
    assert (smooth[ok] <= step[ok] + 1e-12).all()
    # moving every time by a factor 1 + h moves the interpolated median by the same factor
    for h in (1e-6, 1e-3):
        np.testing.assert_allclose(km_interpolated_median(t * (1 + h), e), smooth * (1 + h), rtol=1e-12)


def test_mask_drops_patients_per_replicate():
    t = np.tile(np.arange(1.0, 7.0), (2, 1))
    e = np.ones_like(t)
    mask = np.ones_like(t, dtype=bool)
    mask[1, 3:] = False  # replicate 1: times 1, 2, 3 only -> S = 2/3, 1/3 -> 1.5
    np.testing.assert_allclose(km_interpolated_median(t, e, mask), [3.0, 1.5])  # S = 0.5 exactly at t = 3
