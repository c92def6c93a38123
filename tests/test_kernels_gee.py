"""Batched logistic GEE (helpers.kernels.gee) against statsmodels GEE, the reference."""

import numpy as np
import pytest

from helpers.kernels import gee


def clustered(seed, n_groups=63, lesions=469, sigma=2.2, logor=0.9, prevalence=0.3, spread="dirichlet"):
    """Binary outcome and covariate in groups of unequal size with a normal random intercept
    (group sizes spread like PET lesion counts: 1 + Dirichlet-multinomial)."""
    rng = np.random.default_rng(seed)
    if spread == "dirichlet":
        sizes = 1 + rng.multinomial(lesions - n_groups, rng.dirichlet(np.ones(n_groups)))
    else:
        sizes = 1 + rng.poisson(lesions / n_groups - 1, n_groups)
    g = np.repeat(np.arange(n_groups), sizes)
    x = (rng.random(g.size) < prevalence).astype(float)
    eta = -3 + logor * x + sigma * rng.standard_normal(n_groups)[g]
    return (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(float), x, g


@pytest.mark.parametrize("working", gee.WORKING)
@pytest.mark.parametrize("seed", range(4))
def test_batched_gee_equals_statsmodels(working, seed):
    y, x, g = clustered(seed)
    ours = gee.gee_logistic(y, x, g, working=working).record()
    ref = gee.gee_statsmodels(y, x, g, working=working)
    # both solve the same estimating equations; statsmodels stops at a score norm of 1e-6,
    # this kernel at steps of 1e-10, so 1e-6 bounds the difference
    assert ours.log_or == pytest.approx(ref.log_or, abs=1e-6)
    assert ours.se == pytest.approx(ref.se, abs=1e-6)
    assert ours.alpha == pytest.approx(ref.alpha, abs=1e-6)


def test_rows_are_independent_data_sets_with_their_own_layout():
    sets = [clustered(s, n_groups=40, lesions=300, spread="poisson") for s in range(3)]
    n = min(len(y) for y, _, _ in sets)
    y, x, g = (np.stack([s[i][:n] for s in sets]) for i in range(3))
    g[1] = 1000 - g[1]  # labels need not be sorted or start at 0
    shuffle = np.random.default_rng(0).permutation(n)
    y[2], x[2], g[2] = y[2, shuffle], x[2, shuffle], g[2, shuffle]  # nor clusters contiguous
    fit = gee.gee_logistic(y, x, g)
    for i in range(3):
        ref = gee.gee_statsmodels(y[i], x[i], g[i])
        assert fit.beta[i, 1] == pytest.approx(ref.log_or, abs=1e-6)
        assert fit.se[i, 1] == pytest.approx(ref.se, abs=1e-6)


def test_working_correlation_above_one_is_carried_as_statsmodels_does():
    # strongly clustered, very unequal clusters: the moment estimate of alpha exceeds 1 (it is
    # not bounded); statsmodels goes on with it, and so must the kernel (a positive-definite
    # check on B would wrongly fail these fits: 5 of 3,000 Figura replicates)
    y, x, g = clustered(161)
    ours = gee.gee_logistic(y, x, g).record()
    ref = gee.gee_statsmodels(y, x, g)
    assert ref.alpha > 1
    assert ours.alpha == pytest.approx(ref.alpha, abs=1e-6)
    assert ours.log_or == pytest.approx(ref.log_or, abs=1e-6)
    assert ours.se == pytest.approx(ref.se, abs=1e-6)


def test_mask_equals_dropping_the_observations():
    y, x, g = clustered(3)
    keep = np.random.default_rng(1).random(y.size) < 0.8
    masked = gee.gee_logistic(y, x, g, mask=keep).record()
    dropped = gee.gee_logistic(y[keep], x[keep], g[keep]).record()
    assert masked.log_or == pytest.approx(dropped.log_or, abs=1e-9)
    assert masked.se == pytest.approx(dropped.se, abs=1e-9)


def test_start_does_not_change_the_solution():
    y, x, g = clustered(5)
    a = gee.gee_logistic(y, x, g)
    b = gee.gee_logistic(y, x, g, start=np.array([[-1.0, 2.0]]))
    assert b.beta == pytest.approx(a.beta, abs=1e-9) and b.se == pytest.approx(a.se, abs=1e-9)


def test_no_events_in_one_covariate_level_is_unconverged_not_an_error():
    y, x, g = clustered(2)
    y = np.where(x == 1, 0.0, y)  # separation: the log OR runs off to minus infinity
    fit = gee.gee_logistic(np.stack([y, clustered(2)[0]]), np.stack([x, x]), np.stack([g, g]))
    assert fit.converged.tolist() == [False, True]
    assert np.isnan(fit.beta[0]).all() and np.isfinite(fit.beta[1]).all()


def test_independence_gives_the_ordinary_logistic_estimate():
    import statsmodels.api as sm

    y, x, g = clustered(4)
    ind = gee.gee_logistic(y, x, g, working="independence").record()
    logit = sm.Logit(y, sm.add_constant(x)).fit(disp=0)
    assert ind.log_or == pytest.approx(logit.params[1], abs=1e-9) and ind.alpha == 0.0


def test_unknown_working_correlation_is_refused():
    y, x, g = clustered(0)
    with pytest.raises(ValueError, match="working='ar1'"):
        gee.gee_logistic(y, x, g, working="ar1")
    with pytest.raises(ValueError, match="working='ar1'"):
        gee.gee_statsmodels(y, x, g, working="ar1")
