"""A study held outside data/ (``helpers.ledger.outside``) runs through the paper machinery —
ledger, assumptions, spec, provenance, settings, model, batched analysis, results rows — without
becoming a paper of the project (the real-data validation relies on it)."""

import shutil

import numpy as np
import pytest
import spec_support
import yaml

from helpers import ledger, paths, provenance, results
from helpers.spec import analysis, bind, model

CALIBRATED = {"resp_prob": 0.7, "pfs_cure": 0.2, "pfs_median": 4.0}


@pytest.fixture
def toy_folder(tmp_path):
    folder = tmp_path / "toy"
    shutil.copytree(spec_support.TOY, folder)
    return folder


def test_an_outside_study_runs_and_stays_outside(toy_folder):
    projects = ledger.PAPERS
    with ledger.outside("toy", toy_folder):
        assert ledger.is_paper("toy") and "toy" not in ledger.PAPERS and "toy" not in ledger.claims_index()
        assert ledger.prefix("toy") == "TOY" and ledger.paper_of("TOY-03") == "toy"
        settings = bind("toy", "settings").load(calibrated=CALIBRATED)
        cohort = model.simulate(np.random.default_rng(1), settings)
        draws = analysis.analyse([cohort], settings, include=["TOY-03"])
        assert set(draws.claim_id) == {"TOY-03"}
        roles = provenance.roles("toy")
        assert roles["TOY-02/orr_pct"][0] == "calibrated" and roles["TOY-01/arm_a"][0] == "input"
        assert roles["TOY-03/os_median"][0] == "held-out"
        row = results.from_ledger("TOY-03/pfs_median")
        assert row["paper"] == "toy" and row["reported"] == 8.0
    assert not ledger.is_paper("toy") and ledger.PAPERS == projects and "toy" not in paths.OUTSIDE
    with pytest.raises(ledger.LedgerError, match="unknown paper"):
        ledger.frame("toy")


def test_roles_follow_a_changed_spec(toy_folder):
    """Roles depend on the spec's targets: a rewritten spec (another split) changes them at once."""
    spec_file = toy_folder / "spec.yaml"
    with ledger.outside("toy", toy_folder):
        assert provenance.role_of("toy", "TOY-03/pfs_24m")[0] == "calibrated"
        data = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
        data["calibration"]["targets"] = ["TOY-02/orr_pct", "TOY-03/pfs_median", "TOY-03/os_median"]
        spec_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        assert provenance.role_of("toy", "TOY-03/pfs_24m")[0] == "held-out"
        assert provenance.role_of("toy", "TOY-03/os_median")[0] == "calibrated"


def test_a_project_paper_name_or_prefix_is_refused(toy_folder):
    with pytest.raises(ledger.LedgerError, match="paper of the project"):
        with ledger.outside("jain", toy_folder):
            pass
    text = (toy_folder / "ledger.yaml").read_text(encoding="utf-8").replace("TOY-", "DES-")
    (toy_folder / "ledger.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ledger.LedgerError, match="prefix DES is taken"):
        with ledger.outside("toy", toy_folder):
            pass
    assert "toy" not in paths.OUTSIDE


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(ledger.LedgerError, match="write the study's files first"):
        with ledger.outside("toy", tmp_path / "nowhere"):
            pass
