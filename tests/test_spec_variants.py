"""Spec variants: a paper with a hand-built package can also have a declarative model of some of its
printed numbers (``data/specs/<paper>.<variant>.yaml``), with its own assumptions, fit and roles,
while the paper's own model, roles and table stay as they were (``helpers.contract``)."""

import numpy as np
import pytest

from helpers import calibrate, contract, ledger, paths, provenance, results, study
from helpers.spec import calibration, plan
from helpers.spec.schema import SpecError
from helpers.spec.settings import load as load_spec_settings

VARIANT = "descart.survival"
SPEC_MODELS = [k for k in calibrate.CALIBRATED_PAPERS if contract.is_variant(k) or contract.is_spec_paper(k)]


def test_a_variant_key_names_the_spec_and_its_paper_the_ledger():
    assert contract.paper_of(VARIANT) == "descart" and contract.is_variant(VARIANT)
    assert VARIANT in contract.variants("descart") and VARIANT not in ledger.PAPERS  # never in the scorecard
    assert contract.module("descart", "model").__name__ == "helpers.descart.model"  # the package still wins
    assert contract.module(VARIANT, "model").__name__ == f"helpers.spec[{VARIANT}].model"
    loaded = plan.load(VARIANT)
    assert (loaded.paper, loaded.key) == ("descart", VARIANT)


def test_a_variants_roles_come_from_its_own_declarations():
    hand, spec = provenance.roles("descart"), provenance.roles(VARIANT)
    assert set(hand) == set(spec)  # the same printed numbers
    # fitted by the hand-built model only: held out by the variant, which never used it
    assert hand["DES-16/os2_uni_high_ldh"][0] == "calibrated" and spec["DES-16/os2_uni_high_ldh"][0] == "held-out"
    # the hand-built shape came from both PFS-2 landmarks, the variant's durable share from one
    assert hand["DES-08/pfs2_event_6m"][0] == "calibrated" and spec["DES-08/pfs2_event_6m"][0] == "held-out"
    assert spec["DES-08/pfs2_event_12m"] == ("calibrated", "sets assumption pfs2_durable")
    assert spec["DES-02/fail_d0_d30"] == ("input", "simulator input")
    assert spec["DES-11/os2_median_d0_d30"] == ("calibrated", "calibration target")


def test_the_papers_own_roles_do_not_depend_on_its_variants(scratch_data):
    before = provenance.roles("descart")
    for path in (scratch_data / "specs" / f"{VARIANT}.yaml", scratch_data / "assumed" / f"{VARIANT}.yaml"):
        path.unlink()
    provenance._roles.cache_clear()
    assert provenance.roles("descart") == before


def test_a_variant_must_model_its_own_papers_numbers(scratch_data):
    path = scratch_data / "specs" / "descart.other.yaml"
    path.write_text((scratch_data / "specs" / f"{VARIANT}.yaml").read_text(encoding="utf-8")
                    .replace("paper: descart", "paper: figura"), encoding="utf-8")  # fmt: skip
    with pytest.raises(SpecError, match="differs from the file name. Fix: paper: descart"):
        plan.load("descart.other")


def test_a_variants_assumptions_are_its_own(scratch_data):
    path = scratch_data / "assumed" / f"{VARIANT}.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("pfs2_durable:", "pfs2_durable_renamed:"), encoding="utf-8")
    with pytest.raises(SpecError, match=rf"no entry 'pfs2_durable' in data/assumed/{VARIANT}.yaml"):
        plan.load(VARIANT)


@pytest.mark.parametrize("key", SPEC_MODELS)
def test_committed_spec_calibration_is_current(key):
    """The committed fit was made with the spec's current calibration settings and model (load
    refuses others), and its parameters give back its committed residuals: one evaluation of the
    objective at the committed parameters, on the same common random numbers."""
    fit = calibrate.load(key)
    assert fit["converged"]
    base = load_spec_settings(key, calibrated={})
    table = calibration.target_table(key, plan.load(key).targets)
    again = calibration.residuals(fit["params"], base, table)
    committed = [t["residual"] for t in fit["targets"]]
    assert again == pytest.approx(committed, abs=2e-6)  # the committed residuals are rounded to 1e-6


def test_a_variant_run_judges_the_papers_items_with_the_variants_roles():
    run = study.run(VARIANT, seed=5, replicates=30, rng=np.random.default_rng(5), claims=["DES-09"])
    assert set(run.table.paper) == {"descart"} and set(run.table.claim_id) == {"DES-09"}
    roles = dict(zip(run.table["item"], run.table.role, strict=True))
    assert roles == {"os2_median": "calibrated", "os2_surv_6m": "held-out", "os2_surv_12m": "held-out"}
    assert not (paths.results_dir() / f"{VARIANT}.csv").exists()  # nothing saved for the scorecard


def test_side_by_side_shows_each_models_role_band_and_status():
    hand = results.finalise(results.frame([
        results.row("DES-09", "os2_median", "median", "calibrated", reported=5.2, reported_printed="5.2"),
        results.row("DES-09", "os2_surv_6m", "landmark_survival", "held-out", reported=47.9, reported_printed="47.9"),
    ]))  # fmt: skip
    hand.loc[0, ["mc_lo", "mc_hi", "band_position"]] = [3.91, np.inf, "inside"]
    spec = hand.iloc[[0]].copy()
    spec.loc[0, ["mc_lo", "mc_hi", "role"]] = [4.26, 6.14, "held-out"]
    table = results.side_by_side({"hand-built": hand, "spec": spec})
    assert list(table.index) == ["DES-09/os2_median"]  # only the items both models judge
    row = table.loc["DES-09/os2_median"]
    assert row["printed"] == "5.2" and row["hand-built band"] == "3.9 to NR" and row["spec band"] == "4.3 to 6.1"
    assert (row["hand-built role"], row["spec role"]) == ("calibrated", "held-out")
