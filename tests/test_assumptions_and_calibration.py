"""Assumed and calibrated parameter files: clear errors for missing, malformed or stale files."""

import json

import pytest

from helpers import assumptions, calibrate


def _write_assumed(data_dir, text):
    (data_dir / "assumed" / "demo.yaml").write_text(text, encoding="utf-8")


GOOD = "share:\n  value: 0.4\n  range: [0.3, 0.5]\n  why: bounded by published rates\n  source: assumption\n"


def test_assumptions_load_and_override(scratch_data):
    _write_assumed(scratch_data, GOOD)
    assert assumptions.load("demo") == {"share": 0.4}
    assert assumptions.load("demo", {"share": 0.35}) == {"share": 0.35}
    assert list(assumptions.table("demo").columns) == ["value", "unit", "range", "derived from", "why", "source"]


def test_unknown_override_names_the_known_ones(scratch_data):
    _write_assumed(scratch_data, GOOD)
    with pytest.raises(assumptions.AssumptionError, match=r"no assumption named 'shar'.*known: share"):
        assumptions.load("demo", {"shar": 0.3})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("share:\n  value: 0.4\n  source: assumption\n", r"assumption share, field why"),
        ("share:\n  value: 0.4\n  why: a reason here\n  source: x y\n  colour: red\n", r"field colour"),
        ("share:\n  value: 0.4\n  range: [0.5, 0.3]\n  why: a reason\n  source: assumption\n", r"low > high"),
        ("share: [unclosed\n", r"not valid YAML"),
    ],
)
def test_malformed_assumptions(scratch_data, text, match):
    _write_assumed(scratch_data, text)
    with pytest.raises(assumptions.AssumptionError, match=match):
        assumptions.entries("demo")


def test_missing_assumption_file(scratch_data):
    with pytest.raises(assumptions.AssumptionError, match=r"file not found.*git checkout"):
        assumptions.entries("nothing")


def test_missing_calibration_says_make_calibrate(scratch_data):
    (scratch_data / "calibrated" / "figura.json").unlink(missing_ok=True)
    with pytest.raises(calibrate.CalibrationError, match=r"missing: run `make calibrate`"):
        calibrate.load("figura")


def test_malformed_calibration(scratch_data):
    (scratch_data / "calibrated" / "figura.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(calibrate.CalibrationError, match="not valid JSON"):
        calibrate.load("figura")


@pytest.mark.parametrize("paper", calibrate.CALIBRATED_PAPERS)
def test_stale_calibration_is_refused(scratch_data, paper):
    path = scratch_data / "calibrated" / f"{paper}.json"
    if not path.exists():
        pytest.skip(f"{paper} has no committed calibration")
    fit = json.loads(path.read_text(encoding="utf-8"))
    fit["settings"] = {"changed": True}
    path.write_text(json.dumps(fit), encoding="utf-8")
    with pytest.raises(calibrate.CalibrationError, match="stale"):
        calibrate.load(paper)


def test_unknown_paper():
    with pytest.raises(calibrate.CalibrationError, match="choose one of"):
        calibrate.load("no_such_paper")
