"""Ventin et al. 2023: kinetic solver, virtual cohort and the small analysis tools."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter

from helpers import calibrate, ledger
from helpers.params import ParameterError
from helpers.ventin import analysis, cohort, model, replication

GRID = np.arange(0.0, 366.0)


@pytest.fixture(scope="module")
def settings():
    return cohort.settings(calibrated=calibrate.load("ventin")["params"])


@pytest.mark.parametrize("r_b", [0.105, 0.19, 0.265])
@pytest.mark.parametrize("kc_scale", [0.3, 1.0, 3.0])
def test_rk4_matches_lsoda(r_b, kc_scale):
    p = {"r_B": r_b, "K_C": model.PUBLISHED["K_C"] * kc_scale}
    ref = model.solve_reference(p, t_eval=GRID)
    tr = model.solve(p, dt=cohort.SOLVER_DT)
    alive = tr.B[0] > 0
    # RK4 global error ~ dt^4: at dt = 1 day it measured < 1e-3 (C) and < 1.4e-3 (B) in log cells;
    # 2e-3 leaves room for rounding while still catching a wrong coefficient (errors >> 1e-2).
    assert np.abs(np.log(tr.C[0] / ref[1])).max() < 2e-3
    assert np.abs(np.log(tr.N[0] / ref[0])).max() < 2e-3
    assert np.abs(np.log(tr.B[0][alive] / ref[2][alive])).max() < 2e-3


def test_vectorised_solve_equals_per_patient_solves():
    rates = np.array([0.05, 0.19, 0.4])
    batch = model.solve({"r_B": rates})
    for i, r in enumerate(rates):
        one = model.solve({"r_B": r})
        np.testing.assert_array_equal(batch.C[i], one.C[0])  # same arithmetic, so exactly equal


def test_published_trajectory_is_sane():
    tr = model.solve({"r_B": 0.19})
    out = model.outcomes(tr)
    # CAR T expand about 80-fold to a peak in the first two weeks, then contract
    assert 7 <= out["peak_day"][0] <= 14
    assert 50 < out["peak_car_t"][0] / model.PUBLISHED["C0"] < 150
    assert tr.C[0, 90] < out["peak_car_t"][0] / 20
    # the three growth rates of the paper: slow is eradicated, faster relapse later or sooner
    slow, mid, fast = (model.outcomes(model.solve({"r_B": r})) for r in (0.105, 0.19, 0.265))
    assert slow["cured"][0] and not mid["cured"][0] and not fast["cured"][0]
    assert fast["progression_day"][0] < 180 < mid["progression_day"][0] < 365


def test_bad_kinetic_parameter_is_refused():
    with pytest.raises(ParameterError, match="unknown kinetic parameter"):
        model.solve({"r_b": 0.1})
    with pytest.raises(ParameterError, match="gamma_B"):
        model.solve({"gamma_B": -1.0})


def test_cohort_is_deterministic_given_the_seed(settings):
    a = cohort.simulate(np.random.default_rng(7), 60, settings)
    b = cohort.simulate(np.random.default_rng(7), 60, settings)
    c = cohort.simulate(np.random.default_rng(8), 60, settings)
    pd.testing.assert_frame_equal(a, b)
    assert not a.burden_cells.equals(c.burden_cells)


def test_debulking_only_changes_bulky_patients(settings):
    noise = cohort.draw_noise(np.random.default_rng(3), 200)
    factor = replication.debulk_factor(noise, settings)
    base = cohort.realise(noise, settings)
    assert set(np.unique(factor)) == {1.0, 1 - settings["debulk_fraction"]}
    assert np.all((factor < 1) == (base.burden_ml > settings["bulky_ml"]))


def test_burden_factor_out_of_range_is_refused(settings):
    noise = cohort.draw_noise(np.random.default_rng(3), 10)
    with pytest.raises(ParameterError, match="burden_factor"):
        cohort.realise(noise, settings, burden_factor=1.5)


def test_auc_known_cases():
    y = np.array([True, True, False, False])
    assert analysis.auc(np.array([4.0, 3.0, 2.0, 1.0]), y)["auc"] == 1.0
    assert analysis.auc(np.array([1.0, 2.0, 3.0, 4.0]), y)["auc"] == 0.0
    # pairs (pos, neg): (3,1) win, (3,2) win, (1.5,1) win, (1.5,2) loss -> 3/4
    assert analysis.auc(np.array([3.0, 1.5, 1.0, 2.0]), y)["auc"] == 0.75
    assert analysis.auc(np.array([1.0, 1.0, 1.0, 1.0]), y)["auc"] == 0.5  # all ties count one half


def test_auc_delong_se_matches_hanley_mcneil_order():
    rng = np.random.default_rng(11)
    y = rng.random(400) < 0.5
    score = rng.normal(size=400) + 1.0 * y
    res = analysis.auc(score, y)
    a, m, n = res["auc"], y.sum(), (~y).sum()
    q1, q2 = a / (2 - a), 2 * a**2 / (1 + a)
    hm = np.sqrt((a * (1 - a) + (m - 1) * (q1 - a**2) + (n - 1) * (q2 - a**2)) / (m * n))
    # Hanley-McNeil assumes exponential scores, so it only approximates DeLong: within 15%
    assert res["se"] == pytest.approx(hm, rel=0.15)


def test_paired_auc_difference_of_a_score_with_itself_is_zero():
    rng = np.random.default_rng(2)
    y = rng.random(50) < 0.4
    s = rng.normal(size=50)
    d = analysis.auc_difference(s, s, y)
    assert d["difference"] == 0.0 and d["lo"] == 0.0 and d["hi"] == 0.0


def test_logistic_matches_statsmodels():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 2))
    y = rng.random(300) < 1 / (1 + np.exp(-(0.3 + X @ [0.8, -0.5])))
    coef, se = analysis.logistic(X, y)
    fit = sm.Logit(y.astype(float), sm.add_constant(X)).fit(disp=0)
    np.testing.assert_allclose(coef, fit.params[1:], rtol=1e-6)  # same MLE, converged to 1e-10
    np.testing.assert_allclose(se, fit.bse[1:], rtol=1e-6)


def test_cox_binary_matches_lifelines():
    rng = np.random.default_rng(9)
    x = (rng.random(120) < 0.5).astype(float)
    t = rng.exponential(1 / np.exp(0.7 * x))
    e = t < 1.5
    t = np.minimum(t, 1.5)
    ours = analysis.cox_binary(t, e, x)
    ref = CoxPHFitter().fit(pd.DataFrame({"t": t, "e": e.astype(int), "x": x}), "t", "e").summary.loc["x"]
    # both Efron; lifelines stops Newton-Raphson earlier at its default precision (~1e-4, see test_kernels.py)
    assert ours["hr"] == pytest.approx(ref["exp(coef)"], rel=1e-4)
    assert ours["lo"] == pytest.approx(ref["exp(coef) lower 95%"], rel=1e-4)


def test_replicate_analyse_returns_every_ledger_item(settings):
    sim = replication.make_simulate(101)
    draws = replication.make_analyse(settings, 48)([sim(np.random.default_rng(i)) for i in range(2)])
    items = set(zip(draws.claim_id, draws.item, strict=True))
    ledger_items = set(zip(ledger.frame("ventin").claim_id, ledger.frame("ventin").item, strict=True))
    assert ledger_items <= items
    assert ("VEN-01", "external_dean_pfs_hr") in items


def test_calibration_hits_its_targets():
    fit = calibrate.load("ventin")
    for t in fit["targets"]:
        # the PFS target is met to the bisection tolerance of brentq on a finite cohort (~1 day)
        assert abs(t["residual"]) <= 0.05 * t["reported"], t["item"]


def test_dag_matches_the_simulated_causal_links(settings):
    from helpers.ventin import dag

    into_expansion = {a for a, b in dag.EDGES if b == "CAR T\nexpansion"}
    # the DAG draws an arrow into expansion exactly for the markers the cohort lets act on it
    acting = {m for m in ("il6", "ifn", "mdsc") if settings[f"expansion_per_{m}"] > 0}
    assert len(into_expansion) == len(acting) == 3
    assert "ferritin\n(bystander)" not in into_expansion
    assert "expansion_per_ferritin" not in settings
