"""The posterior given the printed targets and the conditional bands (issue 18)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers import assumptions, conditional, contract, known_truth, ledger, paths, posterior

PAPERS = [p for p in ledger.PAPERS if conditional.has_targets(p)]
COVERAGE = paths.PROJ_ROOT / "docs" / "figures" / "conditional_coverage.csv"


@pytest.mark.parametrize("paper", conditional.papers())
def test_committed_posterior_is_current(paper):
    """The committed posterior was computed from today's settings, priors, targets, assumptions and
    point fit (the hash of its inputs), and its kept cohorts were drawn again exactly."""
    summary, draws = conditional.load(paper)  # raises when missing or stale
    assert summary["final"]["regenerated_targets_identical"]
    assert summary["final"]["draws"] == draws["rep"].nunique()
    gens = summary["generations"]
    assert all(0 < g["acceptance_rate"] <= 1 for g in gens) and summary["final"]["ess"] > 0
    assert {t["ref"] for t in summary["targets_predictive"]} == set(contract.module(paper, "calibration").TARGETS)


def test_stale_posterior_is_refused(monkeypatch):
    paper = conditional.papers()[0]
    monkeypatch.setattr(conditional, "inputs_hash", lambda p: "0" * 16)
    with pytest.raises(posterior.PosteriorError, match="stale"):
        conditional.load(paper)


@pytest.mark.parametrize("paper", [p for p in PAPERS if not contract.is_spec_paper(p)])
def test_every_free_parameter_has_a_prior_and_priors_are_not_assumptions(paper):
    free = contract.module(paper, "calibration").FREE
    priors = assumptions.priors(paper)
    assert set(free) <= set(priors)
    assert not set(priors) & set(assumptions.entries(paper))
    fit = posterior.problem(paper).settings.calibrated
    for k in free:  # the committed point fit lies inside its prior
        lo, hi = priors[k].range
        assert lo < fit[k] < hi, k


def test_a_target_the_cohort_cannot_estimate_is_far_but_not_infinitely():
    """A median not reached counts as the declared distance (so the tolerance schedule can start),
    never closer than the same row's estimable targets make it, and beyond any final tolerance."""
    z = np.array([[0.5, np.inf], [0.0, np.nan], [30.0, np.inf], [0.3, -0.4]])
    d = posterior.distance(z, unestimable=10.0)
    assert np.all(np.isfinite(d))
    assert d[1] == pytest.approx(10.0) and d[0] > 10.0 and d[2] > d[0]
    assert d[3] == pytest.approx(np.sqrt((0.09 + 0.16) / 2))


def test_target_scale_is_the_calibrations_residual_scale():
    """DESCAR-T's calibration weights each target by the SE its printed CI implies on the log
    scale; the posterior's tolerance uses the same SE, never below the printed rounding (which
    dominates only for the ferritin HR, 1.01 (1.01-1.02): a CI as narrow as its rounding)."""
    from helpers.descart import calibration

    mine = {t.ref: t for t in posterior.problem("descart").targets}
    for t in calibration.target_table():
        a, b = (float(x) for x in (t["reported"] - 0.005, t["reported"] + 0.005)) if "uni" in t["ref"] else \
            (t["reported"] - 0.05, t["reported"] + 0.05)  # fmt: skip
        rounding = math.log(b / a) / math.sqrt(12)
        # descart rounds z to 1.959964: relative differences of 1e-8
        assert mine[t["ref"]].se == pytest.approx(max(t["se_log"], rounding), rel=1e-6), t["ref"]


def test_target_scale_of_p_values_counts_and_rounding():
    assert posterior.target_scale("P", ".03") == ("z", 1.0)  # a test statistic has unit SD
    scale, se = posterior.target_scale("count", "36", n=63)
    assert scale == "log" and se == pytest.approx(math.sqrt((1 - 36 / 63) / 36))
    # a median printed without CI carries only its rounding: width / sqrt(12) on the log scale
    assert posterior.target_scale("median", "2.8")[1] == pytest.approx(math.log(2.85 / 2.75) / math.sqrt(12))
    with pytest.raises(ValueError, match="no residual scale"):
        posterior.target_scale("difference", None)


def test_cohort_seed_depends_on_seed_and_every_bit_of_the_parameters():
    theta = np.array([0.1, 2.5])
    assert posterior.cohort_seed(1, theta) == posterior.cohort_seed(1, theta.copy())
    assert posterior.cohort_seed(1, theta) != posterior.cohort_seed(2, theta)
    assert posterior.cohort_seed(1, theta) != posterior.cohort_seed(1, np.nextafter(theta, 1))


def test_regression_adjustment_removes_the_targets_linear_part():
    """y = 2 + 3 z + e with e ~ N(0, 0.1^2): adjusted to z = 0, the draws are 2 + e. Tolerances:
    mean within 4 SE (0.1 / sqrt(2000)), SD within 10% of 0.1 (its SE is about 1.6%)."""
    rng = np.random.default_rng(7)
    z = rng.normal(size=(2000, 1))
    y = 2 + 3 * z[:, 0] + rng.normal(0, 0.1, 2000)
    adj = conditional.adjust(y, z, "identity")
    assert abs(adj.mean() - 2) < 4 * 0.1 / math.sqrt(2000)
    assert adj.std() == pytest.approx(0.1, rel=0.1)
    # values not finite on their scale (a median not reached) stay as they are
    y2 = np.where(np.arange(2000) % 10 == 0, np.inf, np.exp(y / 4))
    out = conditional.adjust(y2, z, "log")
    assert np.isinf(out[::10]).all() and np.isfinite(out[1::10]).all()


def test_paper_problem_draws_are_the_analysis_of_the_particles_cohorts():
    """A particle's cohort is the model's at the particle's parameters; it is analysed with the
    committed settings, which is right because no analysis reads a free parameter."""
    prob = posterior.problem("jain")
    theta = np.array([[prob.settings[k] for k in prob.free]]) * 0.9
    seed = posterior.cohort_seed(3, theta[0])
    model, analysis = contract.module("jain", "model"), contract.module("jain", "analysis")
    s = prob.settings.with_calibrated(dict(zip(prob.free, theta[0], strict=True)))
    cohort = model.simulate(np.random.default_rng(seed), s)
    direct = analysis.analyse([cohort], s).reset_index(drop=True)
    mine = prob.draws(theta, [seed]).reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[["claim_id", "item", "estimate", "p"]], direct[["claim_id", "item", "estimate", "p"]])


def test_attach_without_a_posterior_adds_empty_columns(tmp_path, monkeypatch):
    table = pd.DataFrame({"claim_id": ["X-01"], "item": ["a"], "status": ["supported"]})
    monkeypatch.setattr(conditional, "summary_path", lambda paper: tmp_path / "none.json")
    out = conditional.attach("ventin", table)
    assert list(out.columns[-len(conditional.COLUMNS) :]) == conditional.COLUMNS
    assert out["cond_median"].isna().all() and out["status"].tolist() == ["supported"]


def test_no_posterior_for_a_paper_without_printed_targets():
    with pytest.raises(posterior.PosteriorError, match="nothing printed to condition on"):
        posterior.problem("ventin")


def test_known_truth_pipeline_on_a_few_papers():
    """The coverage study's pipeline end to end on three papers and a small shared table (its full
    run is `make validate-conditional`)."""
    rows = known_truth.study(3, simulations=4000, keep=100, n_jobs=1)
    assert set(rows["item"]) == {"s6", "s12"} and len(rows) == 6
    cov = known_truth.coverage(rows)
    assert set(cov["band"]) == {"conditional", "conditional_unadjusted", "independent"}
    # S(6) sits next to the median: given the median, its band is narrower than another study's
    s6 = cov[cov["item"] == "s6"].set_index("band")["mean_width"]
    assert s6["conditional"] < s6["independent"]


def test_a_shared_table_gives_each_paper_the_estimator_of_a_table_of_its_own():
    """Paper i has the same seed whatever the method: the same printed numbers; its posterior from
    the shared table and from a table of its own keep the same number of draws (the same share of
    the same prior). A table drawn under another shape is refused."""
    shared = known_truth.study(2, simulations=4000, keep=100, n_jobs=1).set_index(["paper", "item"])
    own = known_truth.study(2, simulations=4000, keep=100, shared=False, n_jobs=1).set_index(["paper", "item"])
    assert (shared["printed"] == own["printed"]).all() and (shared["draws"] == own["draws"]).all()
    assert set(own["method"]) == {"rejection, own table"} and set(shared["method"]) == {"rejection, shared table"}
    tokens, _ = known_truth.paper(np.random.default_rng(1), 8.0)
    exponential = known_truth.reference(np.random.default_rng(2), 1.0, simulations=100)
    with pytest.raises(ValueError, match="assumed shape 0.8"):
        known_truth.rejection(known_truth.Toy(tokens), exponential, keep=10)


def test_committed_coverage_study_meets_the_issue():
    """The committed known-truth study (`make validate-conditional`): with the true shape assumed,
    the conditional 95% intervals cover each held-out value 93-97% of the time over at least 200
    papers (the issue's window; at 1,000 papers about 3 Monte Carlo SEs of 0.7% either side of 95%)."""
    if not COVERAGE.exists():
        pytest.skip("the known-truth study has not been committed yet: run `make validate-conditional`")
    cov = pd.read_csv(COVERAGE)
    mine = cov[(cov["band"] == "conditional") & (cov["assumed"] == known_truth._label(known_truth.TRUE_SHAPE))]
    assert set(mine["method"]) >= {"rejection, shared table", "rejection, own table", "pyabc"}
    main = mine[mine["method"] == "rejection, shared table"]
    assert len(main) == 2 and main["papers"].min() >= 200
    assert main["coverage"].between(0.93, 0.97).all(), main


def test_committed_pyabc_bands_agree_with_the_rejection_bands():
    """On the same papers, the papers' ABC-SMC path (pyabc, 400 particles) and the rejection path
    (1,000 of 40,000 prior draws) give about the same conditional band: each end within 10% of the
    band's width on average (Monte Carlo alone: the SE of a normal's 2.5% quantile is about 3.4% of
    the 95% width from 400 draws and 2.1% from 1,000, so the ends differ by about 3% on average)."""
    path = COVERAGE.with_name(known_truth.AGREEMENT_TABLE)
    if not path.exists():
        pytest.skip("the known-truth study has not been committed yet: run `make validate-conditional`")
    agree = pd.read_csv(path)
    assert set(agree["method"]) == {"pyabc", "rejection, own table"}
    for r in agree.itertuples():
        assert max(r.mean_abs_diff_lo, r.mean_abs_diff_hi) < 0.1 * r.mean_width_against, r
    # pyabc on at least 250 of the same papers covers as rejection does: within 2 points (with the
    # true shape, a paper's two bands differ in about one paper in forty: 0.8 points at 250 papers)
    pyabc = agree[(agree["method"] == "pyabc") & (agree["assumed"] == known_truth._label(known_truth.TRUE_SHAPE))]
    assert len(pyabc) == 2 and pyabc["papers"].min() >= 250
    assert ((pyabc["coverage"] - pyabc["coverage_against"]).abs() <= 0.02).all(), pyabc


def test_posterior_is_reproducible_for_its_seed():
    """pyabc's proposals come from NumPy's global state, seeded for the run: the same seed gives the
    same posterior bit for bit, with the batched sampler as with pyabc's one-process sampler;
    another seed gives another; the caller's global state is untouched."""
    tokens, _ = known_truth.paper(np.random.default_rng(1), 8.0)
    toy = known_truth.Toy(tokens, shape=None)  # two free parameters: the kernel's covariance is used
    np.random.seed(5)  # noqa: NPY002 (a caller's global state, which fit must leave alone)
    state = np.random.get_state()  # noqa: NPY002

    def run(seed, backend):
        return posterior.fit(toy, seed=seed, population=30, budget=150, backend=backend, workers=1)

    first = run(11, "batched")
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # noqa: NPY002
    again = run(11, "single")
    assert np.array_equal(again.theta, first.theta) and np.array_equal(again.weights, first.weights)
    assert np.array_equal(again.seeds, first.seeds) and again.generations == first.generations
    assert not np.array_equal(run(12, "batched").theta, first.theta)


def test_batched_cohorts_do_not_depend_on_the_number_of_workers():
    """Each cohort's seed is a function of its parameters: a batch split over two processes gives
    the z-scores of one process, bit for bit (and those of the cohorts simulated one by one)."""
    from helpers import smc

    tokens, _ = known_truth.paper(np.random.default_rng(1), 8.0)
    model = smc.Simulator(known_truth.Toy(tokens), seed=3)
    theta = np.linspace(5, 11, 12)[:, None]
    proposals = [(t, posterior.cohort_seed(3, t)) for t in theta]
    ready = []
    for workers in (1, 2):
        model.fill(proposals, workers=workers, chunk=4)
        ready.append(model.ready)
    assert ready[0].keys() == ready[1].keys() and all(np.array_equal(ready[0][k], ready[1][k]) for k in ready[0])
    model.ready = {}
    one = [model({"median": t[0]})["z"] for t in theta]
    assert all(np.array_equal(z, ready[0][s]) for z, (_, s) in zip(one, proposals, strict=True))


def test_numpy_prior_and_kernel_are_pyabcs():
    """The prior's density is pyabc's product of uniform densities; the kernel's draws have the
    mixture's mean and covariance (weighted particles plus the kernel's covariance). Tolerance: 4
    Monte Carlo SEs of 20,000 draws."""
    import pyabc

    from helpers import smc

    bounds = {"a": (0.0, 2.0), "b": (-1.0, 3.0)}
    box, ref = smc.UniformBox(bounds), pyabc.Distribution(**{k: pyabc.RV("uniform", lo, hi - lo) for k, (lo, hi) in bounds.items()})
    for x in ({"a": 1.0, "b": 0.0}, {"a": 2.5, "b": 0.0}, {"a": 0.0, "b": 3.0}):
        assert box.pdf(pyabc.Parameter(x)) == pytest.approx(ref.pdf(pyabc.Parameter(x)), rel=1e-12)
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(50, 2)) * [1.0, 0.5] + [0.0, 1.0], columns=["a", "b"])
    w = rng.random(50)
    w /= w.sum()
    kernel = smc.NormalKernel()
    kernel.fit(X, w)
    with smc.seeded(4):
        draws = np.array([[p["a"], p["b"]] for p in (kernel.rvs() for _ in range(20_000))])
    mean = w @ X.to_numpy()
    cov = (X.to_numpy() - mean).T @ ((X.to_numpy() - mean) * w[:, None]) + kernel.cov
    se = np.sqrt(np.diag(cov) / len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * se)
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.all(np.abs(np.cov(draws.T) - cov) < 0.05 * scale)  # SE of a (co)variance from 20,000 draws: about 1%
    assert kernel.pdf(pyabc.Parameter({"a": 0.1, "b": 0.9})) > 0
    one, theirs = smc.OneModel(), pyabc.RV("randint", 0, 1)  # the model prior: same mass, same draws
    assert [one.pmf(m) for m in (0, 1)] == [theirs.pmf(m) for m in (0, 1)]
    with smc.seeded(5):
        mine = [one.rvs() for _ in range(3)], np.random.random()  # noqa: NPY002 (the state left after)
    with smc.seeded(5):
        assert mine == ([theirs.rvs() for _ in range(3)], np.random.random())  # noqa: NPY002


@pytest.mark.slow
def test_pyabc_runs_on_a_dask_cluster_of_two_workers():
    """The posterior's simulations through pyabc's own Dask sampler on a LocalCluster (2 workers).
    Slow (about 35 s on the shared 2-core machine, mostly starting the cluster): `make validate`."""
    distributed = pytest.importorskip("distributed")
    tokens, _ = known_truth.paper(np.random.default_rng(1), 8.0)
    toy = known_truth.Toy(tokens)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:  # fmt: skip
        f = posterior.fit(toy, population=20, budget=60, backend="dask", client=client)
    assert f.backend == "dask" and len(f.weights) == 20
    assert np.all((f.theta[:, 0] >= known_truth.MEDIAN_RANGE[0]) & (f.theta[:, 0] <= known_truth.MEDIAN_RANGE[1]))


def test_make_calibrate_gives_a_spec_variant_no_posterior_of_its_own(capsys):
    """`make calibrate` stopped on descart.survival (a variant is not a registered paper)."""
    from helpers import calibrate

    assert calibrate.main(["descart.survival", "--posterior-only"]) == 0
    assert "a variant of a registered paper, no posterior of its own" in capsys.readouterr().out
