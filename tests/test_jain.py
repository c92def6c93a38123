"""Jain et al. 2021: the calibration against its five printed P values, every ledger row through
the contract (settings, model, rederive, analyse), and the verdicts' power shortcut against a
full simulation with the effect removed."""

from __future__ import annotations

import ast
import json
import math
import re

import numpy as np
import pytest
from scipy import special

from helpers import assumptions, calibrate, ledger, paths, provenance, replicate, study, verdicts
from helpers.jain import analysis, calibration, model
from helpers.jain import settings as jain_settings
from helpers.params import ParameterError

LEDGER = ledger.frame("jain")
REFS = (LEDGER.claim_id + "/" + LEDGER["item"]).tolist()
QUANTITY = dict(zip(REFS, LEDGER.quantity, strict=True))
SEED = 20221208


@pytest.fixture(scope="module")
def settings():
    return jain_settings.load()


@pytest.fixture(scope="module")
def fit():
    return calibrate.load("jain")


@pytest.fixture(scope="module")
def small_run(settings):
    """The notebook's run at 200 replicates (the verdict columns need a band)."""
    return study.run("jain", seed=SEED, replicates=200, rng=np.random.default_rng(SEED), settings=settings)


# ------------------------------------------------------------------ settings and model
def test_jain_design_reads_only_the_inputs(monkeypatch):
    seen = []
    lookup = ledger.lookup

    def recording(paper, ref):
        seen.append(ref)
        return lookup(paper, ref)

    monkeypatch.setattr(ledger, "lookup", recording)
    design = jain_settings.design()
    assert design == {"n_patients": 105}
    assert seen and all(ref in jain_settings.INPUTS or ref.split("/")[0] in jain_settings.INPUTS for ref in seen)


def test_jain_inputs_are_visible_to_provenance():
    assert jain_settings.INPUTS == ("JAIN-01",)
    assert provenance.role_of("jain", "JAIN-01/patients")[0] == "input"


def test_simulated_subsets_have_the_assumed_sizes_and_are_nested(settings):
    cohort = model.simulate(np.random.default_rng(6), settings)
    assert len(cohort) == settings["n_patients"] == 105
    for marker, subset in model.SUBSET_OF.items():
        assert cohort[marker].notna().sum() == settings[subset], marker
    assert (cohort["ifn_score"].notna() | cohort["pdl1_pct"].isna()).all()  # IHC within biopsies
    assert (cohort["peak_cart"].notna() | cohort["mmdsc_pct"].isna()).all()  # M-MDSC within CAR T
    assert set(np.unique(cohort["durable"])) <= {0.0, 1.0}


def test_jain_same_seed_same_cohort(settings):
    a = model.simulate(np.random.default_rng(7), settings)
    b = model.simulate(np.random.default_rng(7), settings)
    assert a.equals(b)


def test_n_multiplier_scales_the_cohort_and_every_subset(settings):
    big = model.simulate(np.random.default_rng(8), settings.scaled(3))
    assert len(big) == 315 and big["pdl1_pct"].notna().sum() == 3 * settings["n_ihc"]


def test_durable_share_sets_the_share_of_dr(settings):
    big = model.simulate(np.random.default_rng(9), settings.replace(durable_share=0.3).scaled(200))
    assert big["durable"].mean() == pytest.approx(0.3, abs=4 * math.sqrt(0.3 * 0.7 / len(big)))  # 4 binomial SEs


def test_subset_scale_multiplies_every_assumed_subset():
    assumed = assumptions.load("jain")
    half = jain_settings.notebook(subset_scale=0.5)
    assert half["n_cart"] == round(assumed["n_cart"] / 2) and half["n_ihc"] == round(assumed["n_ihc"] / 2)
    assert jain_settings.notebook(subset_scale=5.0)["n_serum"] == 105  # never more than the cohort


@pytest.mark.parametrize("kwargs", [{"subset_scale": 0}, {"subset_scale": -1.0}, {"subset_scale": 6.0},
                                    {"durable_share": 1.5}, {"durable_share": 0.99}, {"durable_share": 0.0}])  # fmt: skip
def test_bad_notebook_parameters_are_refused(kwargs):
    with pytest.raises(ParameterError, match=next(iter(kwargs))):
        jain_settings.notebook(**kwargs)


def _notebook_defaults() -> dict:
    tree = ast.parse((paths.NOTEBOOKS / "30_jain.py").read_text(encoding="utf-8"))
    return {s.target.id: s.value.value for s in tree.body if isinstance(s, ast.AnnAssign)}


def test_notebook_durable_share_default_is_the_assumed_value():
    assert _notebook_defaults()["durable_share"] == assumptions.load("jain")["durable_share"]


def test_infeasible_coefficients_are_refused(settings):
    with pytest.raises(model.ModelError, match="ifn"):
        model.loadings({**settings, "burden_on_ifn": 1.2})


# ------------------------------------------------------------------ provenance of the assumptions
@pytest.mark.parametrize("name", list(assumptions.entries("jain")))
def test_an_assumption_whose_why_cites_a_claim_is_derived_from_it(name):
    entry = assumptions.entries("jain")[name]
    cited = set(re.findall(r"JAIN-\d\d", entry.why))
    derived = {ref.split("/")[0] for ref in entry.derived_from}
    assert cited <= derived, f"{name}: why cites {sorted(cited - derived)} but derived_from does not"


# ------------------------------------------------------------------ calibration
def test_split_auc_matches_a_large_simulation():
    rng = np.random.default_rng(5)
    r, t, n = 0.4, 0.3, 200_000
    s = rng.normal(size=n)
    x = r * s + np.sqrt(1 - r**2) * rng.normal(size=n)
    hi, lo = x[s > t][:3000], x[s <= t][:3000]
    from scipy.stats import mannwhitneyu

    mc = mannwhitneyu(hi, lo).statistic / (hi.size * lo.size)
    # Monte Carlo SE of an AUC from 3000 vs 3000 is about 0.005; allow 4 SE
    assert calibration.auc_split(r, t) == pytest.approx(mc, abs=0.02)
    assert calibration.auc_split(0.0, t) == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize(("r", "t"), [(0.05, 0.0), (0.3, 0.25), (0.6, -0.2), (0.95, 1.0)])
def test_binned_split_auc_equals_the_full_grid(r, t):
    hi, lo = calibration.split_grid(t)
    full = float(np.mean(special.ndtr(r * (hi[:, None] - lo[None, :]) / np.sqrt(2 * (1 - r**2)))))
    assert calibration.auc_split(r, t) == pytest.approx(full, abs=1e-7)  # the bound in split_differences


def test_jain_calibration_reruns_exactly(fit):
    fresh = json.loads(json.dumps(calibration.calibrate()))
    assert fresh["converged"] and fresh["settings"] == fit["settings"]
    for k, v in fit["params"].items():
        # deterministic (grid integrals, fixed start); 1e-10 allows BLAS summation order
        assert fresh["params"][k] == pytest.approx(v, rel=1e-10, abs=1e-12)


def test_jain_committed_calibration_matches_todays_assumptions(fit, settings):
    assert fit["assumed"] == json.loads(json.dumps(calibration.used_assumptions(settings))), \
        "run: python -m helpers.calibrate jain"  # fmt: skip
    assert set(fit["params"]) == set(calibration.FREE)


@pytest.mark.parametrize("ref", calibration.TARGETS, ids=calibration.TARGETS)
def test_calibration_hits_the_printed_p(fit, ref):
    target = next(t for t in fit["targets"] if f"{t['claim_id']}/{t['item']}" == ref)
    assert QUANTITY[ref] == "P"
    # five coefficients solve five equations: only the optimiser's tolerance remains
    assert abs(target["residual"]) < 1e-8
    assert target["fitted"] == pytest.approx(target["reported"], rel=1e-6)
    assert provenance.role_of("jain", ref)[0] == "calibrated"


def test_warm_start_and_leave_one_out_refits(fit):
    warm = calibration.calibrate(start=fit["params"])
    assert warm["converged"]
    for k, v in fit["params"].items():
        assert warm["params"][k] == pytest.approx(v, abs=1e-8)
    loo = calibration.calibrate(targets=calibration.TARGETS[1:])
    assert loo["converged"] and [f"{t['claim_id']}/{t['item']}" for t in loo["targets"]] == list(calibration.TARGETS[1:])
    with pytest.raises(calibration.CalibrationSetupError, match="not calibration targets"):
        calibration.calibrate(targets=["JAIN-06/peak_cart_dr_over_ndr"])


def test_welch_alternative_calibrates_to_the_same_printed_p(settings):
    welch = calibration.calibrate(settings=settings.with_calibrated({}).replace(two_group_test="welch_log"))
    assert welch["converged"]
    for t in welch["targets"]:
        assert t["fitted"] == pytest.approx(t["reported"], rel=1e-6) and t["effect_kind"] == "Welch t"


# ------------------------------------------------------------------ every ledger row
@pytest.mark.parametrize("ref", REFS, ids=REFS)
def test_every_ledger_item_is_rederived_or_says_why_not(small_run, ref):
    row = small_run.table.set_index(small_run.table.claim_id + "/" + small_run.table["item"]).loc[ref]
    draws = small_run.draws[(small_run.draws.claim_id + "/" + small_run.draws["item"]) == ref]
    quantity = QUANTITY[ref]
    if ref in analysis.NOT_MODELLED:
        assert row.status == "not-rederived" and draws.empty
        return
    if ref == analysis.COHORT_SIZE:
        assert row.status == "input" and row.rederived == 105
        return
    assert row.status in verdicts.JUDGED and len(draws) == 200
    if quantity == "P":  # judged by its percentile among replicate P values, effect for the winner's curse
        assert draws.p.notna().all() and draws.effect.notna().all()
        assert row.reported == float(ledger.lookup("jain", ref).p) and not math.isnan(row.exaggeration)
    if quantity == "qualitative":  # the claimed sign (and P, where the source calls it significant)
        assert row.reported == analysis.claimed_sign(ref) and draws.p.notna().all()
    if row.status == "contradicted":
        assert ref in analysis.REASONS and row.reason == analysis.REASONS[ref]
    assert ref not in calibration.TARGETS or quantity == "P"


def test_the_claim_stated_significant_is_judged_on_significance(small_run):
    row = small_run.table.set_index("item").loc["ifn_genes_ndr_vs_dr"]
    assert row.reported_p == verdicts.SIGNIFICANCE  # "significant: yes" in the ledger


@pytest.mark.parametrize("tests", [("mann_whitney", "spearman"), ("welch_log", "pearson_log")],
                         ids=["mann_whitney", "welch_log"])  # fmt: skip
def test_rederive_equals_analyse_on_one_cohort(settings, tests):
    s = settings.replace(two_group_test=tests[0], association_test=tests[1])
    cohort = model.simulate(np.random.default_rng(8), s)
    single = analysis.rederive(cohort, s, np.random.default_rng(9), bootstrap=200)
    batch = analysis.analyse([cohort], s)
    merged = single.merge(batch, on=["claim_id", "item"])
    assert len(merged) == len(REFS) - len(analysis.NOT_MODELLED) - 1  # the cohort size is not analysed
    # same data, same tests (scipy against the batched kernels): float round-off only
    np.testing.assert_allclose(merged.rederived.astype(float), merged.estimate, rtol=1e-9)
    judged_p = merged.rederived_p.notna()
    np.testing.assert_allclose(merged.rederived_p[judged_p].astype(float), merged.p[judged_p], rtol=1e-6)


# ------------------------------------------------------------------ the verdicts' power shortcut
@pytest.mark.parametrize(("ref", "coefficient"), [("JAIN-04/mhc2_ndr_vs_dr", "ifn_on_mhc2"),
                                                  ("JAIN-03/pdl1_ndr_vs_dr", "ifn_on_pdl1")],
                         ids=["JAIN-04/mhc2_ndr_vs_dr", "JAIN-03/pdl1_ndr_vs_dr"])  # fmt: skip
def test_p_check_power_shortcut_agrees_with_simulating_the_effect_removed(settings, ref, coefficient):
    """check_power assumes P uniform under no effect; simulate no effect (the calibrated path into
    the marker set to 0) and count how often the check would flag those P values."""
    reps = 1000

    def p_values(s, seed):
        d = replicate.run(lambda r: model.simulate(r, s), lambda c: analysis.analyse(c, s, include=[ref]),
                          seed=seed, replicates=reps, n_jobs=1, progress=False)  # fmt: skip
        return d.p.to_numpy(float)

    p_model = p_values(settings, 1)
    p_null = p_values(settings.replace(**{coefficient: 0.0}), 2)
    rec = ledger.lookup("jain", ref)
    lo, hi, half = verdicts.printed_interval(rec.p_printed, rec.p, "P")
    shortcut = verdicts.judge(p_model, lo, hi, "P", half_step=half).check_power
    full = float(np.mean(verdicts.flags(p_model, p_null - half, p_null + half)))
    assert 0.1 < full < 0.9  # neither trivially 0 nor 1
    # Monte Carlo error of the null share (3 SE), plus 0.03: the continuity-corrected Mann-Whitney
    # P is slightly conservative under no effect (seen: +0.027 at 2,000 replicates for both items)
    assert shortcut == pytest.approx(full, abs=3 * math.sqrt(full * (1 - full) / reps) + 0.03)


# ------------------------------------------------------------------ the 10x miss
def test_the_reason_of_the_10x_miss_quotes_todays_numbers(settings):
    table = analysis.fold_change_sensitivity(settings, sizes=[20, 90], shares=[settings["durable_share"]])
    predicted = table["predicted ratio"].iloc[:, 0]
    needed = table["log-SD for 10x"].iloc[:, 0]
    reason = analysis.REASONS["JAIN-06/peak_cart_dr_over_ndr"]
    assert reason.startswith("assumption peak_cart_log_sd:")
    assert f"{predicted.loc[90]:.1f}x" in reason and f"near {needed.loc[90]:.1f}" in reason
    assert needed.loc[20] == pytest.approx(2.0, abs=0.05)  # "a CAR T subset near 20 patients"
    assert needed.loc[90] > assumptions.entries("jain")["peak_cart_log_sd"].range[1]
    assert calibration.predicted_fold_changes(settings)["JAIN-06/peak_cart_dr_over_ndr"] == pytest.approx(
        predicted.loc[90], abs=0.01)  # fmt: skip
