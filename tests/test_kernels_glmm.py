"""Random-intercept logistic model (helpers.kernels.glmm) and the Gauss–Hermite rule it uses."""

import math

import numpy as np
import pytest

from helpers.kernels import glmm, quadrature
from helpers.kernels.odds_ratio import two_by_two
from helpers.params import ParameterError


def _clustered_data(rng, n_groups, mean_size, sigma, logor=0.8):
    """Binary-covariate lesions in groups of unequal size with a normal random intercept."""
    g = np.repeat(np.arange(n_groups), 1 + rng.poisson(mean_size - 1, n_groups))
    x = rng.random(g.size) < 0.35
    eta = -1.2 + logor * x + sigma * rng.standard_normal(n_groups)[g]
    return (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(int), x.astype(int), g


@pytest.mark.parametrize("n", [5, 20, 40])
def test_gauss_hermite_rule_integrates_normal_moments(n):
    t, w = quadrature.gauss_hermite(n)
    assert w.sum() == pytest.approx(1.0, abs=1e-13)
    # exact for polynomials of degree <= 2n - 1: E Z^2 = 1, E Z^4 = 3
    assert (w * t**2).sum() == pytest.approx(1.0, abs=1e-12)
    assert (w * t**4).sum() == pytest.approx(3.0, abs=1e-11)
    assert (w * np.exp(t)).sum() == pytest.approx(math.exp(0.5), rel=1e-3 if n == 5 else 1e-12)


def test_gauss_hermite_rule_is_cached_read_only_and_refuses_bad_sizes():
    t, _ = quadrature.gauss_hermite(40)
    assert quadrature.gauss_hermite(40)[0] is t
    with pytest.raises(ValueError, match="read-only"):
        t[0] = 1.0
    with pytest.raises(ValueError, match="n=0"):
        quadrature.gauss_hermite(0)


def test_random_intercept_model_recovers_known_effect():
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(250), 6)
    x = rng.random(g.size) < 0.4
    eta = -1.0 + 0.8 * x + 1.2 * rng.standard_normal(250)[g]
    y = rng.random(g.size) < 1 / (1 + np.exp(-eta))
    fit = glmm.random_intercept_logistic(y, x, g)
    # 1,500 lesions: SE of the log OR and of sigma about 0.13; 3 SE allowed
    assert fit.odds_ratio.log_or == pytest.approx(0.8, abs=0.4)
    assert fit.sigma == pytest.approx(1.2, abs=0.4)
    finer = glmm.random_intercept_logistic(y, x, g, n_nodes=80)
    # quadrature error well below the sampling error (SE ~ 0.13)
    assert fit.odds_ratio.log_or == pytest.approx(finer.odds_ratio.log_or, abs=0.01)


def test_batched_mixed_fit_equals_single_fit():
    rng = np.random.default_rng(5)
    # different group counts and sizes in one batch: the flat layout must keep them apart
    sets = [_clustered_data(rng, n, m, s) for n, m, s in ((60, 7, 1.0), (90, 4, 0.9), (40, 10, 1.5), (120, 3, 1.2))]
    fit = glmm.random_intercept_logistic_batch(*glmm.stack(sets))
    assert fit.converged.all() and not fit.at_boundary.any()
    for i, (y, x, g) in enumerate(sets):
        ref = glmm.random_intercept_logistic(y, x, g)
        # same likelihood and nodes; the reference stops BFGS at a gradient norm of 1e-6 (about
        # 1e-6 / curvature ~ 1e-7 in the parameters) and takes its SE from a finite-difference
        # Hessian (h = 1e-4: error ~ h^2 relative), so 1e-4 and 1e-3 leave room for both
        assert fit.log_or[i] == pytest.approx(ref.odds_ratio.log_or, abs=1e-4)
        assert fit.se[i] == pytest.approx(ref.odds_ratio.se, rel=1e-3)
        assert fit.sigma[i] == pytest.approx(ref.sigma, abs=1e-3)
        assert fit.p[i] == pytest.approx(ref.odds_ratio.p, rel=1e-2, abs=1e-12)  # P amplifies SE error by z^2


def test_a_categorical_covariate_with_three_levels():
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(80), 1 + rng.poisson(4, 80))
    x = rng.integers(0, 3, g.size).astype(float)  # a dose-like code 0, 1, 2
    y = (rng.random(g.size) < 1 / (1 + np.exp(-(-1 + 0.5 * x + rng.standard_normal(80)[g])))).astype(int)
    fit = glmm.random_intercept_logistic_batch(*glmm.stack([(y, x, g)]))
    ref = glmm.random_intercept_logistic(y, x, g)
    assert fit.log_or[0] == pytest.approx(ref.odds_ratio.log_or, abs=1e-4)
    assert fit.se[0] == pytest.approx(ref.odds_ratio.se, rel=1e-3)


def test_stack_rows_equals_stack():
    rng = np.random.default_rng(4)
    g = np.sort(rng.integers(0, 30, (3, 200)), axis=1)[:, ::-1]  # labels in any order
    y, x = (rng.random((2, 3, 200)) < 0.4).astype(float)
    a = glmm.stack([(y[i], x[i], g[i]) for i in range(3)])
    b = glmm.stack_rows(y, x, g)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def test_batched_mixed_fit_handles_sigma_at_zero():
    rng = np.random.default_rng(2)
    # every patient has exactly 2 failures among 4 lesions: less clustering than independence,
    # so the likelihood rises all the way to sigma = 0 (the ordinary logistic model)
    g = np.repeat(np.arange(80), 4)
    y = np.tile([1, 1, 0, 0], 80)
    x = (rng.random(g.size) < 0.4).astype(int)
    clustered = _clustered_data(rng, 50, 6, 1.0)
    fit = glmm.random_intercept_logistic_batch(*glmm.stack([(y, x, g), clustered]))
    assert fit.converged.all() and fit.at_boundary.tolist() == [True, False]
    naive = two_by_two(y, x)
    # sigma held at 1e-4 moves the conditional OR by O(sigma^2) = 1e-8 from the sigma = 0 fit
    assert fit.log_or[0] == pytest.approx(naive.log_or[0], abs=1e-6)
    assert fit.se[0] == pytest.approx(naive.se[0], rel=1e-6)


def test_batched_mixed_fit_refuses_bad_layout_and_a_continuous_covariate():
    with pytest.raises(ParameterError, match="group_starts"):
        glmm.random_intercept_logistic_batch(np.zeros(4), np.zeros(4), np.array([1, 2]), np.array([0]))
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(10), 5)
    with pytest.raises(ParameterError, match="distinct values"):
        glmm.random_intercept_logistic_batch(*glmm.stack([(rng.random(50) < 0.5, rng.normal(size=50), g)]))
