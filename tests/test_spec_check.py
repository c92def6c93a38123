"""`make check-paper NAME=<paper>` (helpers.spec.check): the YAML checked and each printed number's role
and mapping listed before anything is simulated; a missing or stale fit named with its command."""

from helpers import provenance
from helpers.spec import check


def test_each_printed_number_gets_its_role_and_mapping():
    table = check.summary("nastoupil")
    assert table.loc["NAST-04/orr_pct", "role"] == "input"
    assert table.loc["NAST-04/cr_pct", ["role", "used by"]].tolist() == ["calibrated", "calibration target"]
    assert table.loc["NAST-05/os_median", ["role", "re-derived from"]].tolist() == ["held-out", "endpoint: os"]
    assert table.loc["NAST-03/nrm_pct", ["role", "re-derived from"]].tolist() == ["descriptive", "left out of items: (not-rederived)"]
    assert table.loc["NAST-05/os_median", "printed"] == "NR"


def test_the_calibration_state_names_the_command(scratch_data):
    assert check.calibration_state("nastoupil").startswith("calibration: committed and current")
    spec = scratch_data / "specs" / "nastoupil.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("start: 0.75", "start: 0.7"), encoding="utf-8")
    provenance._roles.cache_clear()
    state = check.calibration_state("nastoupil")
    assert "stale" in state and "python -m helpers.calibrate nastoupil" in state


def test_a_missing_spec_is_an_error_with_the_fix(capsys):
    assert check.main(["no_such_paper"]) == 2
    assert "make new-paper" in capsys.readouterr().err
    assert check.main(["descart.survival"]) == 0
    assert "calibration: committed and current" in capsys.readouterr().out
