"""Calibration of a spec paper (helpers.spec.calibration): a round trip recovers known parameters,
`python -m helpers.calibrate <paper>` writes and re-reads the fit, and the contract lookup hands
the generic modules to study.run, provenance and calibrate."""

import json

import numpy as np
import pytest
import spec_support
from scipy import special

from helpers import calibrate, contract, provenance, study
from helpers.spec import analysis, bind, calibration, model

TRUTH = {"resp_prob": 0.7, "pfs_cure": 0.2, "pfs_median": 4.0}
TRANSFORM = {"resp_prob": special.logit, "pfs_cure": special.logit, "pfs_median": np.log}
OBSERVED_MULTIPLIER = 40  # the "printed" study: 300 x 40 = 12,000 patients
CALIBRATION_MULTIPLIER = 20  # the calibration cohort: 6,000 patients


def _printed(value: float) -> str:
    return f"{value:.2f}"


@pytest.fixture
def toy(scratch_data, monkeypatch):
    return spec_support.register(scratch_data, monkeypatch)


def test_round_trip_recovers_known_parameters(scratch_data, monkeypatch):
    """Print the targets of one large cohort drawn at known parameters, calibrate, get them back.

    Tolerance: the fit solves "simulated = printed" (3 targets, 3 parameters), so the recovered
    parameters carry the sampling error of the printed cohort plus that of the calibration cohort
    (independent seeds). With residuals standardised by the printed CIs (the printed cohort's own
    SEs), the first has covariance (J'J)^-1 on the transformed scale (J: Jacobian of the residuals),
    the second (printed size / calibration size) times that. Each parameter must lie within 4 such
    combined SEs of the truth (a false alarm about once in 16,000 runs per parameter).
    """
    spec_support.register(scratch_data, monkeypatch)
    truth = bind("toy", "settings").load(calibrated=TRUTH)
    big = truth.scaled(OBSERVED_MULTIPLIER)
    draws = analysis.analyse([model.simulate(np.random.default_rng(99), big)], big,
                             include=["TOY-02/orr_pct", "TOY-03/pfs_median", "TOY-03/pfs_24m"])  # fmt: skip
    est = draws.set_index("item")
    ledger = (spec_support.TOY / "ledger.yaml").read_text(encoding="utf-8")
    for item, old in (("orr_pct", 'value: "70", lo: "64", hi: "75"'), ("pfs_median", 'value: "8.0", lo: "6.1", hi: "10.5"'),
                      ("pfs_24m", 'value: "35", lo: "29", hi: "41"')):  # fmt: skip
        r = est.loc[item]
        ledger = ledger.replace(old, f'value: "{_printed(r.estimate)}", lo: "{_printed(r.lo)}", hi: "{_printed(r.hi)}"')
    spec = (spec_support.TOY / "spec.yaml").read_text(encoding="utf-8").replace(
        "  n_multiplier: 10", f"  n_multiplier: {CALIBRATION_MULTIPLIER}\n  seed: 7")
    spec_support.register(scratch_data, monkeypatch, ledger_text=ledger, spec_text=spec)
    fit = calibration.calibrate("toy")
    assert fit["converged"] and fit["objective"] < 0.05, fit
    # combined SE of each parameter on its transformed scale (see the docstring)
    base = bind("toy", "settings").load(calibrated={})
    table = calibration.target_table("toy", calibration.targets("toy"))
    names = list(TRUTH)
    x = np.array([TRANSFORM[n](fit["params"][n]) for n in names])
    inverse = {"resp_prob": special.expit, "pfs_cure": special.expit, "pfs_median": np.exp}
    def res(v):
        return calibration.residuals({m: float(inverse[m](v[i])) for i, m in enumerate(names)}, base, table)

    h = 0.05  # central differences on the transformed scale, wider than the KM-median steps
    jac = np.column_stack([(res(x + h * e) - res(x - h * e)) / (2 * h) for e in np.eye(len(names))])
    cov = np.linalg.inv(jac.T @ jac) * (1 + OBSERVED_MULTIPLIER / CALIBRATION_MULTIPLIER)
    se = np.sqrt(np.diag(cov))
    truth_x = np.array([TRANSFORM[n](TRUTH[n]) for n in names])
    assert np.all(np.abs(x - truth_x) <= 4 * se), {"recovered": fit["params"], "truth": TRUTH, "se": se.tolist()}
    assert np.all(se < [0.15, 0.25, 0.15])  # the check is sharp: a wrong parameter would fail it


def test_calibrate_command_writes_a_fit_that_loads_and_reruns(toy, capsys):
    assert "toy" in calibrate.CALIBRATED_PAPERS
    calibrate.main(["toy", "--fits-only"])  # the point fit; posteriors: test_conditional.py
    assert "toy: objective" in capsys.readouterr().out
    fit = calibrate.load("toy")
    assert set(fit["params"]) == set(calibration.free("toy")) and fit["converged"]
    assert [f"{t['claim_id']}/{t['item']}" for t in fit["targets"]] == list(calibration.targets("toy"))
    # deterministic: the committed fitted values come back exactly from the committed parameters
    base = bind("toy", "settings").load(calibrated={})
    again = calibration.fitted_values(fit["params"], base, calibration.targets("toy"))
    assert [round(again[f"{t['claim_id']}/{t['item']}"], 6) for t in fit["targets"]] == [t["fitted"] for t in fit["targets"]]
    # a subset of targets from a warm start (a leave-one-out refit) fits only those
    sub = calibration.calibrate("toy", start=fit["params"], targets=["TOY-02/orr_pct"])
    assert [t["item"] for t in sub["targets"]] == ["orr_pct"] and abs(sub["targets"][0]["residual"]) < 0.05
    # the settings travel with the fit: changing the spec's calibration makes the committed fit stale
    spec = toy.read_text(encoding="utf-8").replace("  n_multiplier: 10", "  n_multiplier: 11")
    toy.write_text(spec, encoding="utf-8")
    with pytest.raises(calibrate.CalibrationError, match="stale"):
        calibrate.load("toy")


def test_contract_lookup_returns_the_generic_modules_bound_to_the_paper(toy):
    for name in ("settings", "model", "analysis", "figures", "calibration"):
        mod = study.module("toy", name)
        assert mod is provenance._module("toy", name) or mod.__name__ == provenance._module("toy", name).__name__
    assert study.module("toy", "settings").INPUTS == study.module("toy", "model").INPUTS
    assert study.module("toy", "calibration").TARGETS == calibration.targets("toy")
    assert study.has_calibration("toy") and contract.declares("toy", "calibration")
    with pytest.raises(study.ContractError, match="data/specs/toy.yaml"):
        study.module("toy", "kinetics")
    assert study.module("descart", "model").__name__ == "helpers.descart.model"  # packages unchanged


def test_design_reads_only_the_inputs(toy, monkeypatch):
    from helpers import ledger

    seen = []
    real = ledger.lookup
    monkeypatch.setattr(ledger, "lookup", lambda paper, ref: seen.append(ref) or real(paper, ref))
    design = study.module("toy", "settings").design()
    assert seen == list(study.module("toy", "settings").INPUTS) == list(design)


def test_roles_come_from_the_spec(toy):
    roles = provenance.roles("toy")
    assert roles["TOY-01/arm_a"][0] == "input" and roles["TOY-03/pfs_median"][0] == "calibrated"
    assert roles["TOY-03/os_median"][0] == "held-out"


def test_study_run_works_unchanged_for_a_spec_paper(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("CART_REPORTS_DIR", str(tmp_path))
    calibrate.main(["toy", "--fits-only"])  # the point fit; posteriors: test_conditional.py
    run = study.run("toy", seed=5, replicates=40, rng=np.random.default_rng(5), save_as="60_toy")
    table = run.table.set_index("item")
    assert table.loc["arm_a", "status"] == "input" and table.loc["pfs_median", "role"] == "calibrated"
    assert table.loc["os_median", "status"] in ("supported", "uninformative", "borderline", "contradicted")
    assert (tmp_path / "tables" / "results" / "60_toy.csv").exists()
    assert json.loads((calibrate.path_of("toy")).read_text())["converged"]


def test_sensitivity_refits_and_leave_one_out_work_for_a_spec_paper(toy):
    """The shared sweep and the leave-one-target-out refits call calibrate(settings, start, targets)."""
    from helpers import infeasibility, sensitivity

    calibrate.main(["toy", "--fits-only"])  # the point fit; posteriors: test_conditional.py
    start = calibrate.load("toy")["params"]
    settings, status, objective, _ = sensitivity._refit("toy", {"pfs_shape": 1.3}, start)
    assert status == "converged" and settings["pfs_shape"] == 1.3 and objective < 1.0
    conflicts = infeasibility.model_conflicts("toy")
    assert set(conflicts.numbers) >= set(calibration.targets("toy"))


def test_a_fit_that_leaves_a_target_inestimable_is_not_converged():
    # nastoupil with a complete response cutting the hazard to a fifth on top of the cure share:
    # no speed of progression gives a median PFS (it is never reached), whatever the optimiser says
    from helpers.spec.settings import load as load_spec_settings

    fit = calibration.calibrate("nastoupil", settings=load_spec_settings("nastoupil", overrides={"log_hr_cr_pfs": -1.5}, calibrated={}))
    residuals = {t["item"]: t["residual"] for t in fit["targets"]}
    assert residuals["pfs_median"] == calibration.PENALTY and not fit["converged"]


def test_a_looser_tolerance_stops_the_fit_sooner(scratch_data, monkeypatch):
    """`calibration.tolerance` reaches the optimiser (scipy's xtol and ftol): a loose one stops
    after fewer evaluations, near where the default polish ends (the objective stays under 1,
    i.e. every residual within one printed SE)."""
    spec_support.register(scratch_data, monkeypatch)
    tight = calibration.calibrate("toy")
    spec = (spec_support.TOY / "spec.yaml").read_text(encoding="utf-8").replace(
        "  n_multiplier: 10", "  n_multiplier: 10\n  tolerance: 0.05")
    spec_support.register(scratch_data, monkeypatch, spec_text=spec)
    loose = calibration.calibrate("toy")
    assert loose["evaluations"] < tight["evaluations"], (loose["evaluations"], tight["evaluations"])
    assert loose["objective"] < 1.0
