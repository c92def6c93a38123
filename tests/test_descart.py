"""DESCAR-T (Di Blasi et al., Blood 2022): ledger, settings, simulator, the two analysis engines,
verdict power against full simulations with the effect removed, and the calibration."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import assumptions, calibrate, ledger, provenance, replicate, results, verdicts
from helpers.descart import analysis, calibration, model
from helpers.descart import settings as descart_settings
from helpers.kernels import exact
from helpers.params import ParameterError

LEDGER_REFS = list(ledger.frame("descart").pipe(lambda d: d.claim_id + "/" + d["item"]))


@pytest.fixture(scope="module")
def s():
    return descart_settings.load()


@pytest.fixture(scope="module")
def cohort(s):
    return model.simulate(np.random.default_rng(7), s)


@pytest.fixture(scope="module")
def single(cohort, s):
    return analysis.rederive(cohort, s, np.random.default_rng(0))


@pytest.fixture(scope="module")
def batch(cohort, s):
    draws = analysis.analyse([cohort], s)
    return draws.assign(ref=draws.claim_id + "/" + draws["item"]).set_index("ref")


# ---------------------------------------------------------------- ledger and settings
def test_ledger_loads_with_every_claim_and_keeps_the_malformed_token():
    df = ledger.frame("descart")
    assert sorted(df.claim_id.unique()) == [f"DES-{i:02d}" for i in range(1, 21)]
    ldh = ledger.lookup("descart", "DES-15/pfs2_uni_high_ldh")
    assert ldh.hi_printed == "4.0.6" and ldh.malformed == "hi"  # kept as printed, never repaired


def test_design_reads_only_inputs(monkeypatch):
    seen = []
    real = ledger.lookup

    def recording(paper, ref):
        seen.append(ref)
        return real(paper, ref)

    monkeypatch.setattr(ledger, "lookup", recording)
    d = descart_settings.design()
    assert seen and set(seen) <= set(descart_settings.INPUTS)
    assert d["groups"] == [54, 102, 82] and d["high_ldh"] == (72, 185)  # 72 = 38.9% implies 185


def test_inputs_are_ledger_items():
    assert set(descart_settings.INPUTS) <= set(LEDGER_REFS)
    assert "DES-01/infused" in descart_settings.INPUTS


def test_every_assumption_can_move_or_says_why_not():
    for name, a in assumptions.entries("descart").items():
        assert a.range is not None or a.alternatives or a.fixed, name


@pytest.mark.parametrize(("name", "refs"), [
    ("crp_unit_mg_l", {"DES-15/pfs2_uni_crp", "DES-16/os2_uni_crp"}),
    ("ferritin_unit_ug_l", {"DES-15/pfs2_uni_ferritin"}),
    ("prog_weibull_shape", {"DES-08/pfs2_event_6m", "DES-08/pfs2_event_12m"}),
    ("cytopenia_d30_axicel", {"DES-20/cytopenia_axicel_gt_tisacel", "DES-20/cytopenia_product_chi2_p"}),
    ("cytopenia_d30_tisacel", {"DES-20/cytopenia_axicel_gt_tisacel", "DES-20/cytopenia_product_chi2_p"}),
    ("ecog_known_share", {"DES-03/ecog_ge2_pct"}),
    ("crp_known_share", {"DES-17/pfs2_multi_high_ldh"}),
    ("ferritin_known_share", {"DES-17/pfs2_multi_high_ldh"}),
])  # fmt: skip
def test_an_assumption_worked_out_from_printed_numbers_declares_them(name, refs):
    entry = assumptions.entries("descart")[name]
    assert refs <= set(entry.derived_from)
    for ref in refs:
        assert provenance.role_of("descart", ref)[0] != "held-out", ref


def test_analysis_choices_are_assumptions_with_alternatives():
    entries = assumptions.entries("descart")
    assert entries["cox_ties"].value == "breslow" and entries["cox_ties"].alternatives == ["efron"]
    assert entries["multivariable_covariates"].alternatives == ["printed"]
    assert entries["salvage_reference"].alternatives == ["immunochemo"]


# ---------------------------------------------------------------- simulator
def test_failure_arrays_have_the_printed_sizes_and_group_counts(cohort, s):
    n = s["n_failed"]
    assert {a.size for k, a in cohort.items() if isinstance(a, np.ndarray) and not k.startswith(("reg_", "dor", "np_"))} == {n}
    assert cohort["reg_pfs"].size == s["n_infused"]
    assert np.bincount(cohort["group"]).tolist() == s["groups"] == [54, 102, 82]
    assert cohort["axicel"].sum() == s["failed_axicel"]
    assert cohort["rt_localized"].sum() == 12 and np.all(cohort["salvage"][cohort["rt_localized"]] == 3)


def test_pfs2_never_exceeds_os2_and_events_are_binary(cohort):
    assert np.all(cohort["pfs2"] <= cohort["os2"])
    assert np.all(cohort["pfs2"] > 0)
    for key in ("pfs2_event", "os2_event", "reg_pfs_event", "dor_event"):
        assert set(np.unique(cohort[key])) <= {0.0, 1.0}
    assert np.all(cohort["pfs2_event"] >= cohort["os2_event"])  # a death follows (or is) the PFS-2 event


def test_missing_values_follow_the_implied_denominators(cohort, s):
    count, known = s["high_ldh"]
    assert np.isfinite(cohort["high_ldh"]).sum() == known  # 185 of 238 known
    assert np.nansum(cohort["high_ldh"]) == count  # 72 high


def test_same_seed_same_cohort_other_seed_other_cohort(s):
    a = model.simulate(np.random.default_rng(3), s)
    b = model.simulate(np.random.default_rng(3), s)
    c = model.simulate(np.random.default_rng(4), s)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["os2"], c["os2"]) and a["analysis_seed"] != c["analysis_seed"]


def test_n_multiplier_comes_from_the_settings(s):
    big = model.simulate(np.random.default_rng(1), s.scaled(3))
    assert np.bincount(big["group"]).tolist() == [3 * g for g in s["groups"]]


def test_draw_then_assemble_is_simulate(s):
    a = model.simulate(np.random.default_rng(5), s)
    b = model.assemble(model.draw(np.random.default_rng(5), s), s)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_bad_inputs_raise_parameter_error(s):
    with pytest.raises(ParameterError, match="n_multiplier"):
        s.scaled(0)
    with pytest.raises(ParameterError, match="rng"):
        model.simulate(1, s)
    with pytest.raises(ParameterError, match="not_a_param"):
        s.replace(not_a_param=1.0)


# ---------------------------------------------------------------- rows, roles and draws per ledger item
@pytest.mark.parametrize("ref", LEDGER_REFS, ids=LEDGER_REFS)
def test_every_ledger_item_has_one_results_row_with_its_computed_role(ref, single, batch):
    row = single.set_index(single.claim_id + "/" + single["item"]).loc[ref]
    role = provenance.role_of("descart", ref)[0]
    assert row.role == role
    if ref in descart_settings.INPUTS or role == "input":
        assert role == "input" and not pd.isna(row.rederived)  # the input went in: shown, not judged
    elif ref in analysis.NOT_SIMULATED:
        assert pd.isna(row.rederived) and ref not in batch.index
    else:
        assert ref in batch.index, "every simulated item has replicate draws"


@pytest.mark.parametrize("ref", calibration.TARGETS, ids=calibration.TARGETS)
def test_calibration_target_is_a_printed_number_with_a_ci(ref):
    rec = ledger.lookup("descart", ref)
    assert np.isfinite(rec.value) and np.isfinite(rec.lo)
    role, used_by = provenance.role_of("descart", ref)
    assert role == "calibrated" and used_by.startswith("calibration target")


def test_repeats_of_used_numbers_inherit_their_role():
    # the abstract's D0-D30 OS median is the results' (same_as), a calibration target
    role, used_by = provenance.role_of("descart", "DES-12/os_median_d0_d30_abstract")
    assert role == "calibrated" and "same number as DES-11/os2_median_d0_d30" in used_by
    # PFS-2 prints OS-2's LDH HR and CI (a target); the known shares were also set from it
    assert provenance.role_of("descart", "DES-15/pfs2_uni_high_ldh")[0] == "calibrated"


# ---------------------------------------------------------------- the two engines agree
def _single_values(single: pd.DataFrame) -> pd.DataFrame:
    out = single.set_index(single.claim_id + "/" + single["item"])
    return out[out.role != "input"]


def test_rederive_and_analyse_agree_on_one_cohort(single, batch):
    rows = _single_values(single)
    # a multivariable model with a coefficient running to -inf (no event among a small class):
    # the other coefficients are limits that statsmodels (BFGS) and the kernel (Newton, stopped at
    # |log HR| > 20) approach from different stopping points: agreement to 1e-3, not 1e-5
    monotone = {ref.split("/")[0] for ref in batch.index[np.isinf(batch.estimate)] if "_multi_" in ref}
    checked = 0
    for ref, r in rows.iterrows():
        if ref not in batch.index:
            continue
        b = batch.loc[ref]
        if r.quantity == "P":
            a, k = r.rederived_p, b.p
        else:
            a, k = r.rederived, b.estimate
        if ref == "DES-20/cytopenia_salvage_fisher_p":
            # two Monte Carlo P values (scipy's tables vs the kernel's, 2,000 each): MC error
            assert abs(a - k) < 4 * math.sqrt(2 * a * (1 - a) / analysis.FISHER_RESAMPLES) + 1e-3, ref
        elif r.method.startswith("Cox"):
            # statsmodels PHReg and the kernel maximise the same partial likelihood: solver tolerance
            tol = 1e-3 if ref.split("/")[0] in monotone else 1e-5
            assert k == pytest.approx(a, rel=tol), ref
            if np.isfinite(a) and tol < 1e-3:
                assert b.lo == pytest.approx(r.rederived_lo, rel=1e-5) and b.p == pytest.approx(r.rederived_p, rel=1e-4, abs=1e-12)
        else:
            # the same KM step function, log-rank sums and tables: floating-point agreement
            assert k == pytest.approx(a, rel=1e-8, abs=1e-12), ref
        checked += 1
    assert checked == len(rows) - len(analysis.NOT_SIMULATED)  # every simulated, non-input item


def test_a_median_not_reached_stays_inf_in_both_engines(cohort, s):
    c = dict(cohort)
    c["os2_event"] = np.where(c["salvage"] == analysis.SALVAGE_INDEX["bispecific"], 0.0, c["os2_event"])
    one = analysis.rederive(c, s, np.random.default_rng(0), include=["DES-14/os2_median_bispecific"])
    many = analysis.analyse([c, c], s, include=["DES-14/os2_median_bispecific"])
    assert one.rederived.iloc[0] == math.inf and one.rederived_hi.iloc[0] == math.inf
    assert np.isposinf(many.estimate).all() and np.isposinf(many.hi).all()


def test_a_hazard_ratio_with_no_maximum_is_not_estimable_in_both_engines(cohort, s):
    # no PFS-2 event among bispecific patients: monotone likelihood, the paper's "NR"
    c = dict(cohort)
    c["pfs2_event"] = np.where(c["salvage"] == analysis.SALVAGE_INDEX["bispecific"], 0.0, c["pfs2_event"])
    ref = "DES-17/pfs2_multi_bispecific"
    one = analysis.rederive(c, s, np.random.default_rng(0), include=[ref])
    many = analysis.analyse([c], s, include=[ref])
    assert one.rederived.iloc[0] == math.inf and many.estimate.iloc[0] == math.inf
    assert np.isnan(many.lo.iloc[0])


def test_breslow_and_efron_coincide_without_ties(cohort, s):
    refs = ["DES-16/os2_uni_high_ldh", "DES-18/os2_multi_crp"]
    a = analysis.analyse([cohort], s, include=refs).estimate.to_numpy()
    b = analysis.analyse([cohort], s.replace(cox_ties="efron"), include=refs).estimate.to_numpy()
    np.testing.assert_array_equal(a, b)  # continuous times: Efron's tie correction is 0


def test_the_salvage_reference_and_covariate_set_change_what_they_should(cohort, s):
    base = analysis.analyse([cohort], s, include=["DES-16"]).set_index("item").estimate
    immuno = analysis.analyse([cohort], s.replace(salvage_reference="immunochemo"), include=["DES-16"]).set_index("item").estimate
    assert immuno["os2_uni_high_ldh"] == base["os2_uni_high_ldh"]
    assert immuno["os2_uni_lenalidomide"] != base["os2_uni_lenalidomide"]
    kept = analysis.complete_cases(cohort, s)["patients kept"]
    kept_printed = analysis.complete_cases(cohort, s.replace(multivariable_covariates="printed"))["patients kept"]
    assert (kept_printed > kept).all() and (kept < s["n_failed"]).all()


# ---------------------------------------------------------------- Fisher test of cytopenia by salvage class
def test_fisher_p_is_the_exact_kernel_with_the_cohorts_own_generator(cohort, s):
    ref = "DES-20/cytopenia_salvage_fisher_p"
    p = analysis.analyse([cohort], s, include=[ref]).p.iloc[0]
    yes, tot = analysis._fisher_table(cohort["cytopenia_d30"], cohort["salvage"])
    again = exact.fisher_2xk(yes[None], tot[None], [np.random.default_rng(cohort["analysis_seed"])])[0]
    assert p == again  # one generator per replicate: batching does not change a replicate's P
    table = np.vstack([yes, tot - yes])
    scipy_p = stats.fisher_exact(table, method=stats.MonteCarloMethod(n_resamples=20000, rng=np.random.default_rng(1))).pvalue
    assert abs(p - scipy_p) < 4 * math.sqrt(p * (1 - p) / analysis.FISHER_RESAMPLES) + 1e-3
    chi2_p = stats.chi2_contingency(table, correction=False)[1]
    assert p != pytest.approx(chi2_p, rel=1e-6)  # no longer the chi-squared stand-in


# ---------------------------------------------------------------- the power shortcut against full simulations
NULL_REPLICATES = 400


def _draws(settings, ref, seed):
    return replicate.run(lambda r: model.simulate(r, settings), lambda cs: analysis.analyse(cs, settings, include=[ref]),
                         seed=seed, replicates=NULL_REPLICATES, n_jobs=1, progress=False)  # fmt: skip


@pytest.mark.parametrize(("ref", "remove"), [
    # LDH acts directly (b_ldh) and through tumor burden (the loading): both removed, HR 1 exactly
    ("DES-16/os2_uni_high_ldh", {"b_ldh": 0.0, "burden_loading": 0.0}),
    # salvage classes are assigned independently of everything: every salvage effect removed
    ("DES-16/os2_uni_lenalidomide", {"b_lenalidomide": 0.0, "bispecific_vs_lenalidomide_log_hr": 0.0,
                                     "targeted_log_hr": 0.0, "radiotherapy_log_hr": 0.0,
                                     "immunochemo_log_hr": 0.0, "no_salvage_log_hr": 0.0}),
])  # fmt: skip
def test_power_shortcut_matches_a_full_simulation_with_the_effect_removed(ref, remove, s):
    model_draws = _draws(s, ref, seed=11)
    null_draws = _draws(s.replace(**remove), ref, seed=12)
    row = replicate.summarise(model_draws, [results.from_ledger(ref)]).iloc[0]
    lo, hi, half = verdicts.printed_interval(row.reported_printed, row.reported, "HR")
    hr_model, hr_null = model_draws.estimate.to_numpy(), null_draws.estimate.to_numpy()
    assert abs(np.median(np.log(hr_null))) < 0.05  # the effect is really gone
    full = float(np.mean(verdicts.flags(hr_model, hr_null - half, hr_null + half)))
    # two Monte Carlo estimates of NULL_REPLICATES draws each (and the band edges' own error)
    tol = 3.5 * math.sqrt(2 * max(full * (1 - full), 0.02) / NULL_REPLICATES) + 0.02
    assert row.check_power == pytest.approx(full, abs=tol)


def test_removing_b_ldh_alone_leaves_ldh_prognostic_through_tumor_burden(s):
    # why the test above removes the loading too: b_ldh = 0 keeps LDH a marker of tumor burden
    draws = _draws(s.replace(b_ldh=0.0), "DES-16/os2_uni_high_ldh", seed=13)
    assert np.median(draws.estimate) > 1.1


# ---------------------------------------------------------------- calibration
def test_descart_committed_calibration_is_current():
    fit = calibrate.load("descart")  # refuses a file made with other SETTINGS
    obj = calibration.Objective(descart_settings.load(calibrated=fit["params"]))
    assert obj(fit["params"]) == pytest.approx(fit["objective"], abs=1e-5)
    assert fit["converged"]


def test_descart_warm_refit_is_never_worse_than_its_start():
    fit = calibrate.load("descart")
    moved = descart_settings.load(overrides={"burden_loading": 0.7})
    again = calibration.calibrate(moved, start=fit["params"])
    at_start = calibration.Objective(moved)(fit["params"])
    assert again["objective"] <= at_start + 1e-9
    assert again["evaluations"] <= calibration.SETTINGS["warm_max_evaluations"] + 2
    assert set(again["params"]) == set(calibration.FREE)


def test_descart_calibration_reruns_exactly():
    # a minute of CPU: fixed seed, fixed start, deterministic optimiser, so the committed numbers
    # come back exactly (floating point pinned by the Makefile's NPY/OpenBLAS settings)
    fit = calibrate.load("descart")
    again = calibration.calibrate()
    assert again["params"] == fit["params"]
    assert again["objective"] == fit["objective"]
    assert again["joint"]["params"] == fit["joint"]["params"]


# ---------------------------------------------------------------- structure
def test_analysis_does_not_import_calibration():
    src = open(analysis.__file__, encoding="utf-8").read()
    assert not re.search(r"import .*calibration|from \.calibration|from \. import .*calibration", src)


def test_reasons_name_ledger_items_and_a_reason_class():
    for ref, why in analysis.REASONS.items():
        assert ref in LEDGER_REFS, ref
        assert why.split(" ", 1)[0] in ("model:", "infeasible:") or re.match(r"assumption \w+:", why), why
