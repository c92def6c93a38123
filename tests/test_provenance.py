"""Roles from provenance (helpers.provenance): computed from what each declaration used, never typed."""

import pytest

from helpers import ledger, provenance


@pytest.fixture
def declare(monkeypatch):
    """Replace a paper's declared uses for one test (the ledgers stay the real ones)."""

    def _declare(uses):
        provenance._roles.cache_clear()
        monkeypatch.setattr(provenance, "declared_uses", lambda paper: uses)

    yield _declare
    provenance._roles.cache_clear()


def test_a_target_is_calibrated_and_an_unused_item_held_out(declare):
    declare([("DES-08/pfs2_median", "calibrated", "calibration target")])
    assert provenance.role_of("descart", "DES-08/pfs2_median") == ("calibrated", "calibration target")
    assert provenance.role_of("descart", "DES-09/os2_median")[0] == "held-out"


def test_a_number_used_to_set_an_assumption_is_not_held_out(declare):
    declare([("DES-15/pfs2_uni_ferritin", "calibrated", "sets assumption ferritin_unit_ug_l")])
    role, by = provenance.role_of("descart", "DES-15/pfs2_uni_ferritin")
    assert role == "calibrated" and "ferritin_unit_ug_l" in by


def test_identical_printed_estimate_inherits_the_role(declare):
    # the same HR and CI, 2.66 (1.74-4.06), is printed for high LDH on PFS-2 and on OS-2
    declare([("DES-16/os2_uni_high_ldh", "calibrated", "calibration target")])
    role, by = provenance.role_of("descart", "DES-15/pfs2_uni_high_ldh")
    assert role == "calibrated" and "same number as DES-16/os2_uni_high_ldh" in by


def test_same_as_inherits_in_both_directions(declare):
    declare([("DES-11/os2_median_d0_d30", "calibrated", "calibration target")])
    assert provenance.role_of("descart", "DES-12/os_median_d0_d30_abstract")[0] == "calibrated"


def test_a_claim_id_stands_for_all_its_items_and_input_wins(declare):
    declare([("DES-01", "input", "simulator input"), ("DES-01/followup", "calibrated", "calibration target")])
    roles = provenance.roles("descart")
    assert {r for r, (role, _) in roles.items() if r.startswith("DES-01/")} <= set(provenance.used_refs("descart"))
    assert roles["DES-01/followup"][0] == "input"


def test_a_use_of_an_unknown_item_is_an_error(declare):
    declare([("DES-08/pfs2_mediam", "calibrated", "calibration target")])
    with pytest.raises(provenance.ProvenanceError, match="DES-08/pfs2_mediam"):
        provenance.roles("descart")


def test_external_numbers_are_not_ledger_items(declare):
    declare([("zuma1_pfs_median", "calibrated", "calibration target")])
    assert provenance.used_refs("descart") == set()


@pytest.mark.parametrize("paper", ledger.PAPERS)
def test_no_held_out_item_appears_in_any_provenance(paper):
    """The paper's own declarations: every used item (and every repeat of one) is not held-out."""
    provenance._roles.cache_clear()
    roles = provenance.roles(paper)
    for ref, _role, by in provenance.declared_uses(paper):
        if not ref.startswith(ledger.PREFIX[paper] + "-"):
            continue
        for r in [x for x in roles if x == ref or x.startswith(ref + "/")]:
            assert roles[r][0] != "held-out", f"{r} is used ({by}) but labelled held-out"
